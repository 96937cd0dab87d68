import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import * as net from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * What every real peer of these tests needs (Postfix, aiosmtpd, Dovecot …): a child process started
 * with a deadline for its greeting, stopped by its own PID (SIGTERM, then SIGKILL), never left behind
 * when the test process ends. See /work/shared/PEERS.md.
 */

/** How long a peer gets to exit after SIGTERM before it is killed. */
const STOP_DEADLINE = 5_000;

/** A child process this harness started. */
export interface PeerProcess {
  readonly pid: number;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** True until the process has exited (or failed to start). */
  running(): boolean;
  /** Resolves once the process has exited. */
  readonly exited: Promise<void>;
  /** SIGTERM, then SIGKILL after a deadline; resolves once the process has exited. Idempotent. */
  stop(): Promise<void>;
}

/** Starts `command` with stdout and stderr captured; it is killed if the test process exits first. */
export function spawnPeer(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): PeerProcess {
  const child: ChildProcess = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    ...(options.env !== undefined ? { env: options.env } : {}),
  });
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let spawnFailed = false;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (error) => {
      // Only a failed spawn ends here (kill() errors are not expected for our own child).
      spawnFailed = true;
      output += `${error.message}\n`;
      resolve();
    });
  });
  const running = (): boolean => !spawnFailed && child.exitCode === null && child.signalCode === null;
  const onProcessExit = (): void => {
    if (running()) child.kill('SIGKILL');
  };
  process.once('exit', onProcessExit);
  void exited.then(() => process.removeListener('exit', onProcessExit));

  let stopping: Promise<void> | undefined;
  return {
    pid: child.pid ?? -1,
    output: () => output,
    running,
    exited,
    stop: () => {
      stopping ??= (async () => {
        if (!running()) return;
        child.kill('SIGTERM');
        if (!(await settlesWithin(exited, STOP_DEADLINE))) {
          child.kill('SIGKILL');
          await exited;
        }
      })();
      return stopping;
    },
  };
}

/** True once `promise` has settled, false if it has not after `deadline` ms (whichever comes first). */
export async function settlesWithin(promise: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = await Promise.race([
    promise.then(
      () => true,
      () => true,
    ),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), deadline);
    }),
  ]);
  clearTimeout(timer);
  return settled;
}

/**
 * Waits until `127.0.0.1:port` greets with a line matching `greeting` (default SMTP's `220`; `* OK`
 * for IMAP, `+OK` for POP3), over TLS from the first byte when `tls` is set, trying again until
 * `deadline` (a `Date.now()` value); fails at once if `peer` exits.
 */
export async function waitForGreeting(
  peer: PeerProcess,
  port: number,
  options: { tls?: boolean; deadline: number; greeting?: RegExp },
): Promise<void> {
  const greeting = options.greeting ?? /^220[ -]/;
  for (;;) {
    if (!peer.running()) throw new Error(`the peer exited before greeting on 127.0.0.1:${port}`);
    const timeout = Math.max(100, options.deadline - Date.now());
    const line = await firstLine(port, options.tls ?? false, timeout, peer.exited).catch(() => undefined);
    if (line !== undefined && greeting.test(line)) return;
    if (Date.now() >= options.deadline) throw new Error(`no greeting on 127.0.0.1:${port} in time`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Connects, reads the first line, hangs up; gives up after `timeout` ms or once `giveUp` settles. */
function firstLine(
  port: number,
  useTls: boolean,
  timeout: number,
  giveUp: Promise<unknown>,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = useTls
      ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false })
      : net.connect({ host: '127.0.0.1', port });
    let text = '';
    const timer = setTimeout(() => finish(new Error('no greeting')), timeout);
    const finish = (error: Error | undefined, line?: string): void => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(line ?? '');
    };
    void giveUp.then(() => finish(new Error('the peer exited')));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n');
      if (end >= 0) finish(undefined, text.slice(0, end));
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new Error('closed before greeting')));
  });
}

/** Free loopback ports, found by binding port 0 (all held at once, so they differ). */
export async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((server) => (server.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

/** How a command run by {@link runCommand} ended. */
export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a command to its end with `input` on stdin, killed after `timeout` ms. Resolves its output
 * when it exits with 0; rejects with its exit status and output otherwise.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { input?: string | Uint8Array; timeout?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.env ? { env: options.env } : {}),
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const timeout = options.timeout ?? 20_000;
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on('error', () => {}); // the command may exit before reading all of stdin
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const result = {
        stdout: Buffer.concat(stdout).toString('utf8'),
        stderr: Buffer.concat(stderr).toString('utf8'),
      };
      if (code === 0) {
        resolve(result);
        return;
      }
      const why = signal === 'SIGKILL' ? `killed after ${timeout} ms` : `exit ${code ?? signal}`;
      reject(new Error(`${command} ${args.join(' ')} failed (${why}):\n${result.stderr}${result.stdout}`));
    });
    child.stdin.end(options.input ?? '');
  });
}

/** The repository's root. */
const root = fileURLToPath(new URL('../../../../', import.meta.url));

/**
 * How to run a TypeScript file of the repository from source in a child process: Node with tsx's loader and
 * the root tsconfig, whose `paths` map every `@postwire/*` import to its package's `src/`, so that no build
 * is needed. `undefined` when tsx (a devDependency of the root and of bench) cannot be found.
 */
export function tsxCommand(
  script: string,
): { command: string; args: string[]; env: NodeJS.ProcessEnv } | undefined {
  for (const manifest of ['bench/package.json', 'package.json']) {
    try {
      const loader = createRequire(join(root, manifest)).resolve('tsx');
      return {
        command: process.execPath,
        args: ['--import', pathToFileURL(loader).href, script],
        env: { ...process.env, TSX_TSCONFIG_PATH: join(root, 'tsconfig.json') },
      };
    } catch {
      // not resolvable from there: try the next place
    }
  }
  return undefined;
}

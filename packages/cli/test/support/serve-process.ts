import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsxCommand } from '../../../core/test/support/peer-process.js';

/**
 * The real `postwire serve` as a child process, for tests that point real mail clients at it. It runs
 * from source (`src/node/bin.ts`) through tsx's loader, with the root tsconfig's `paths` mapping every
 * `@postwire/*` import to its package's `src/`, so no build is needed; only when tsx cannot be found
 * (it is a devDependency of bench) does it fall back to the build in `dist/`. It is stopped by its PID
 * with SIGINT, as Ctrl-C would, and the test sees how it ended.
 */

const root = fileURLToPath(new URL('../../../../', import.meta.url));

/** The settings `postwire serve --json` prints on its one stdout line. */
export interface ServeSettings {
  readonly host: string;
  readonly hostname: string;
  readonly ports: {
    readonly smtp: number;
    readonly submission: number;
    readonly submissions: number;
    readonly imap: number;
    readonly imaps: number;
    readonly pop3: number;
    readonly pop3s: number;
    readonly autoconfig: number;
  };
  readonly users: { readonly name: string; readonly password: string }[];
  readonly catchAll?: string;
  readonly store: string;
  /** The PEM file of the self-signed certificate it generated (or was given). */
  readonly certificate: string;
  /** The URL of the Thunderbird autoconfiguration document. */
  readonly autoconfig: string;
}

/** How the process ended after {@link ServeProcess.stop}. */
export interface ServeExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Everything it wrote to stderr: the delivery log, then `stopping…`. */
  readonly stderr: string;
  /** How long it took from SIGINT to its exit, in ms. */
  readonly stopMs: number;
}

/** A running `postwire serve`. */
export interface ServeProcess {
  readonly pid: number;
  readonly settings: ServeSettings;
  /** How long from spawn to the settings line, in ms. */
  readonly startMs: number;
  /** Its stderr so far (one line per delivery or failure). */
  stderr(): string;
  /** Sends SIGINT to its PID and waits for it to exit (SIGKILL after `deadline` ms). Idempotent. */
  stop(deadline?: number): Promise<ServeExit>;
}

/** The command that runs `postwire`: Node with tsx's loader on the source, or the build. */
export function postwireCommand(): { command: string; args: string[]; env: NodeJS.ProcessEnv } {
  const fromSource = tsxCommand(join(root, 'packages/cli/src/node/bin.ts'));
  if (fromSource) return fromSource;
  const built = join(root, 'packages/cli/dist/node/bin.js');
  if (existsSync(built)) return { command: process.execPath, args: [built], env: process.env };
  throw new Error(
    'cannot run postwire: tsx (a devDependency of bench) is not installed and there is no build',
  );
}

/**
 * Starts `postwire serve --json …args` and resolves once it printed its settings; rejects (after
 * killing it) when it exits first or prints nothing within `deadline` ms.
 */
export async function startServe(args: readonly string[], deadline = 20_000): Promise<ServeProcess> {
  const { command, args: prefix, env } = postwireCommand();
  const started = Date.now();
  const child: ChildProcess = spawn(command, [...prefix, 'serve', '--json', ...args], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => {
      stderr += `${error.message}\n`;
      resolve({ code: null, signal: null });
    });
  });
  const running = () => child.exitCode === null && child.signalCode === null && child.pid !== undefined;
  const killOnExit = () => {
    if (running()) process.kill(child.pid!, 'SIGKILL');
  };
  process.once('exit', killOnExit);
  void exited.then(() => process.removeListener('exit', killOnExit));

  let settings: ServeSettings;
  try {
    settings = await new Promise<ServeSettings>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no settings within ${deadline} ms`)), deadline);
      const check = () => {
        const end = stdout.indexOf('\n');
        if (end < 0) return;
        clearTimeout(timer);
        child.stdout!.off('data', check);
        try {
          resolve(JSON.parse(stdout.slice(0, end)) as ServeSettings);
        } catch (error) {
          reject(error);
        }
      };
      child.stdout!.on('data', check);
      void exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`postwire serve exited (${code ?? signal}) before printing its settings`));
      });
    });
  } catch (error) {
    killOnExit();
    await exited;
    throw new Error(`${(error as Error).message}\n${stderr}${stdout}`);
  }
  const startMs = Date.now() - started;

  let stopping: Promise<ServeExit> | undefined;
  return {
    pid: child.pid!,
    settings,
    startMs,
    stderr: () => stderr,
    stop: (stopDeadline = 10_000) => {
      stopping ??= (async () => {
        const signalled = Date.now();
        if (running()) process.kill(child.pid!, 'SIGINT');
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<'late'>((resolve) => {
          timer = setTimeout(() => resolve('late'), stopDeadline);
        });
        if ((await Promise.race([exited, late])) === 'late') {
          stderr += `(still running ${stopDeadline} ms after SIGINT: killed)\n`;
          killOnExit();
        }
        clearTimeout(timer);
        const { code, signal } = await exited;
        return { code, signal, stderr, stopMs: Date.now() - signalled };
      })();
      return stopping;
    },
  };
}

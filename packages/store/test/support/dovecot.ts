import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { join } from 'node:path';
import {
  freePorts,
  type PeerProcess,
  spawnPeer,
  waitForGreeting,
} from '../../../core/test/support/peer-process.js';

/**
 * A real Dovecot (2.3, Debian's packages) as a test peer: it serves a Maildir that Postwire's store
 * reads and writes in the same test, so the two can be compared. See /work/shared/PEERS.md for the
 * traps this harness works around.
 */

const DOVECOT = '/usr/sbin/dovecot';
const DOVEADM = '/usr/bin/doveadm';

/** The uid/gid Dovecot stores mail as when the tests run as root (Dovecot refuses mail uid 0). */
export const MAIL_UID = 65534;
export const MAIL_GID = 65534;

/** How long Dovecot gets to greet after it was started. */
const START_DEADLINE = 10_000;
/** How long one `imap()` exchange or one `doveadm` run may take. */
const EXCHANGE_DEADLINE = 15_000;

/** True when Dovecot and doveadm are installed (`.ci/run` installs them on Debian). */
export function dovecotAvailable(): boolean {
  return existsSync(DOVECOT) && existsSync(DOVEADM);
}

const runningAsRoot = (): boolean => process.getuid?.() === 0;

export interface DovecotOptions {
  /** The directory holding one Maildir per user (`<mailRoot>/<user>`); created if missing. */
  readonly mailRoot: string;
  /** User names and their plain-text passwords. */
  readonly users: Record<string, string>;
}

export interface DovecotPeer {
  /** The PID of the `dovecot -F` master process this harness started. */
  readonly pid: number;
  readonly imapPort: number;
  readonly pop3Port: number;
  /** The throwaway `dovecot.conf` (inspect with `doveconf -n -c <configPath>`). */
  readonly configPath: string;
  /** Dovecot's log file; `readLog()` returns its text. */
  readonly logPath: string;
  readLog(): Promise<string>;
  /**
   * Runs `doveadm -c <configPath> …args` with `input` on stdin; resolves its stdout, rejects with its
   * exit code and stderr when it fails.
   */
  doveadm(args: string[], input?: Uint8Array | string): Promise<string>;
  /**
   * A raw IMAP exchange on 127.0.0.1: LOGIN, each command with its own tag, LOGOUT. Resolves the
   * whole transcript: server lines as sent (literals included as text), client lines prefixed with
   * `C: ` (the password masked). Rejects if the login fails or a reply does not come in time; a NO
   * or BAD to one of `commands` is left in the transcript for the test to check.
   */
  imap(user: string, password: string, commands: string[]): Promise<string>;
  /** Stops this Dovecot (SIGTERM, then SIGKILL), waits for it to exit, removes its config dir. */
  stop(): Promise<void>;
}

/**
 * Hands every file and directory under `root` (and `root` itself) to the mail uid/gid, so that
 * Dovecot's mail processes can read and write what a root test process wrote. Call it again after
 * the store under test has written into a Maildir that Dovecot should see. A no-op when not root
 * (Dovecot then runs mail as the current user).
 */
export async function prepareMaildirForDovecot(root: string): Promise<void> {
  if (!runningAsRoot()) return;
  const walk = async (path: string): Promise<void> => {
    const stat = await lstat(path);
    await chown(path, MAIL_UID, MAIL_GID);
    if (stat.isDirectory()) {
      for (const name of await readdir(path)) await walk(join(path, name));
    }
  };
  await walk(root);
}

/**
 * Starts a throwaway Dovecot serving IMAP and POP3 (no TLS) on free loopback ports, with
 * `mail_location = maildir:<mailRoot>/%u` (Maildir++, INBOX at the root of each user's directory).
 * The mail root is created if needed and handed to the mail uid; its parent directories must be
 * searchable by that uid (a directory from `mkdtemp` in `/tmp` is).
 */
export async function startDovecot(options: DovecotOptions): Promise<DovecotPeer> {
  for (const [user, password] of Object.entries(options.users)) {
    if (!/^[A-Za-z0-9._@-]+$/.test(user)) throw new Error(`unsupported user name for Dovecot: ${user}`);
    if (/[:\r\n]/.test(password)) throw new Error(`unsupported password for ${user} (no ':' or newlines)`);
  }
  await mkdir(options.mailRoot, { recursive: true });
  await prepareMaildirForDovecot(options.mailRoot);
  // Two processes may pick the same free port between our probe and Dovecot's bind: try again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (attempt >= 3 || !(error instanceof PortTakenError)) throw error;
    }
  }
}

class PortTakenError extends Error {}

async function startOnce(options: DovecotOptions): Promise<DovecotPeer> {
  // Short: the unix sockets in base_dir must fit in 108 bytes.
  const dir = await mkdtemp(join(existsSync('/tmp') ? '/tmp' : process.cwd(), 'pwdc-'));
  // mkdtemp makes 0700; Dovecot's auth process (its own user) must read the passwd-file.
  await chmod(dir, 0o755);
  const configPath = join(dir, 'dovecot.conf');
  const logPath = join(dir, 'dovecot.log');
  const passwdPath = join(dir, 'passwd');
  let dovecot: PeerProcess | undefined;
  try {
    const [imapPort, pop3Port] = (await freePorts(2)) as [number, number];
    await writeFile(
      passwdPath,
      Object.entries(options.users)
        .map(([user, password]) => `${user}:{PLAIN}${password}::::::\n`)
        .join(''),
      { mode: 0o644 },
    );
    await writeFile(
      configPath,
      dovecotConfig({ dir, logPath, passwdPath, mailRoot: options.mailRoot, imapPort, pop3Port }),
      { mode: 0o644 },
    );

    const started = spawnPeer(DOVECOT, ['-F', '-c', configPath]);
    dovecot = started;
    try {
      const deadline = Date.now() + START_DEADLINE;
      await waitForGreeting(started, imapPort, { deadline, greeting: /^\* OK/ });
      await waitForGreeting(started, pop3Port, { deadline, greeting: /^\+OK/ });
    } catch (error) {
      const log = await readFile(logPath, 'utf8').catch(() => '');
      const details = `${started.output()}${log}`.trim();
      const message = `${(error as Error).message}${details ? `\n${details}` : ''}`;
      if (/Address already in use/.test(details)) throw new PortTakenError(message);
      throw new Error(message);
    }

    let stopping: Promise<void> | undefined;
    const peer: DovecotPeer = {
      pid: started.pid,
      imapPort,
      pop3Port,
      configPath,
      logPath,
      readLog: () => readFile(logPath, 'utf8'),
      doveadm: (args, input) => runDoveadm(configPath, args, input),
      imap: (user, password, commands) => imapExchange(imapPort, user, password, commands),
      stop: () => {
        stopping ??= (async () => {
          await started.stop();
          await rm(dir, { recursive: true, force: true });
        })();
        return stopping;
      },
    };
    return peer;
  } catch (error) {
    await dovecot?.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** How a throwaway Dovecot's processes run, for whoever runs the tests. */
export interface DovecotProcessSettings {
  readonly root: boolean;
  /** The uid and gid mail is stored as. */
  readonly uid: number;
  readonly gid: number;
  /** The `default_internal_user` / `default_login_user` (/ `_group`) lines. */
  readonly users: readonly string[];
  /** `service` blocks that turn off chroot where Dovecot chroots by default (empty as root). */
  readonly noChroot: readonly string[];
}

/**
 * As root, the package's own users run the internal and login processes and mail is stored as
 * {@link MAIL_UID}; as anyone else, everything runs as the current user, and the services that chroot
 * by default must not (PEERS.md). Shared by every Dovecot harness of the tests.
 */
export function dovecotProcessSettings(): DovecotProcessSettings {
  const root = runningAsRoot();
  const id = (flag: string): string => execFileSync('id', [flag], { encoding: 'utf8' }).trim();
  return {
    root,
    uid: root ? MAIL_UID : process.getuid!(),
    gid: root ? MAIL_GID : process.getgid!(),
    users: root
      ? ['default_internal_user = dovecot', 'default_login_user = dovenull']
      : [
          `default_internal_user = ${id('-un')}`,
          `default_login_user = ${id('-un')}`,
          `default_internal_group = ${id('-gn')}`,
        ],
    noChroot: root ? [] : ['ipc', 'old-stats'].map((service) => `service ${service} {\n  chroot =\n}`),
  };
}

function dovecotConfig(c: {
  dir: string;
  logPath: string;
  passwdPath: string;
  mailRoot: string;
  imapPort: number;
  pop3Port: number;
}): string {
  const { root, uid, gid, users, noChroot } = dovecotProcessSettings();
  const name = c.dir.split('/').pop()!;
  return `${[
    `# Throwaway Dovecot for Postwire's store tests (packages/store/test/support/dovecot.ts).`,
    `instance_name = postwire-${name}`,
    `base_dir = ${c.dir}/run`,
    `state_dir = ${c.dir}/state`,
    `log_path = ${c.logPath}`,
    'listen = 127.0.0.1',
    'protocols = imap pop3',
    'ssl = no',
    'disable_plaintext_auth = no',
    'auth_mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256 apop',
    'auth_failure_delay = 0',
    ...users,
    // Dovecot refuses mail uids below first_valid_uid (default 500) and always uid 0.
    `first_valid_uid = ${Math.min(uid, 500)}`,
    `first_valid_gid = ${Math.min(gid, 1)}`,
    `mail_location = maildir:${c.mailRoot}/%u`,
    'passdb {',
    '  driver = passwd-file',
    `  args = scheme=PLAIN ${c.passwdPath}`,
    '}',
    'userdb {',
    '  driver = static',
    `  args = uid=${uid} gid=${gid} home=${c.mailRoot}/%u`,
    '}',
    'service imap-login {',
    `  inet_listener imap {\n    port = ${c.imapPort}\n  }`,
    '  inet_listener imaps {\n    port = 0\n  }',
    ...(root ? [] : ['  chroot =']),
    '}',
    'service pop3-login {',
    `  inet_listener pop3 {\n    port = ${c.pop3Port}\n  }`,
    '  inet_listener pop3s {\n    port = 0\n  }',
    ...(root ? [] : ['  chroot =']),
    '}',
    // Without this a failed login costs 2 s plus a growing per-IP penalty.
    'service anvil {',
    '  unix_listener anvil-auth-penalty {\n    mode = 0\n  }',
    ...(root ? [] : ['  chroot =']),
    '}',
    ...noChroot,
  ].join('\n')}\n`;
}

function runDoveadm(configPath: string, args: string[], input?: Uint8Array | string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOVEADM, ['-c', configPath, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), EXCHANGE_DEADLINE);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on('error', () => {}); // doveadm may exit before reading all of stdin
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const out = Buffer.concat(stdout).toString('utf8');
      if (code === 0) {
        resolve(out);
        return;
      }
      const err = Buffer.concat(stderr).toString('utf8').trim();
      const error = new Error(`doveadm ${args.join(' ')} failed (exit ${code ?? signal}): ${err}`);
      Object.assign(error, { exitCode: code, stderr: err, stdout: out });
      reject(error);
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

/** An IMAP quoted string. */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function imapExchange(port: number, user: string, password: string, commands: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const parts: Buffer[] = [];
    const add = (text: string | Buffer): void => {
      parts.push(typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
    };
    const transcript = (): string => Buffer.concat(parts).toString('utf8');
    let pending = Buffer.alloc(0);
    let literal = 0; // bytes of a literal still to come
    let atResponseStart = true; // false while a response line continues after a literal
    let greeted = false;
    let done = false;
    // The exchange is a queue of [tag, command line]; the first waits for the greeting.
    const steps: { tag: string; line: string; shown: string }[] = [
      { tag: 'a0', line: `a0 LOGIN ${quote(user)} ${quote(password)}`, shown: `a0 LOGIN ${quote(user)} ***` },
      ...commands.map((command, i) => ({ tag: `a${i + 1}`, line: `a${i + 1} ${command}`, shown: '' })),
      { tag: `a${commands.length + 1}`, line: `a${commands.length + 1} LOGOUT`, shown: '' },
    ];
    let step = -1;
    const timer = setTimeout(
      () => finish(new Error(`IMAP exchange timed out after ${EXCHANGE_DEADLINE} ms`)),
      EXCHANGE_DEADLINE,
    );
    const finish = (error?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(new Error(`${error.message}\n--- transcript ---\n${transcript()}`));
      else resolve(transcript());
    };
    const next = (): void => {
      step++;
      const current = steps[step];
      if (!current) {
        finish();
        return;
      }
      add(`C: ${current.shown || current.line}\r\n`);
      socket.write(`${current.line}\r\n`);
    };
    const onLine = (line: string, responseStart: boolean): void => {
      if (!greeted) {
        greeted = true;
        if (!line.startsWith('* OK')) finish(new Error(`unexpected greeting: ${line}`));
        else next();
        return;
      }
      const current = steps[step];
      if (!responseStart || !current || !line.startsWith(`${current.tag} `)) return;
      if (step === 0 && !/^a0 OK/i.test(line)) {
        finish(new Error(`login failed: ${line}`));
        return;
      }
      next();
    };
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (!done) {
        if (literal > 0) {
          const take = Math.min(literal, pending.length);
          if (take === 0) break;
          add(pending.subarray(0, take));
          pending = pending.subarray(take);
          literal -= take;
          continue;
        }
        const end = pending.indexOf('\r\n');
        if (end < 0) break;
        add(pending.subarray(0, end + 2));
        const line = pending.subarray(0, end).toString('utf8');
        pending = pending.subarray(end + 2);
        const responseStart = atResponseStart;
        const size = /\{(\d+)\}$/.exec(line);
        if (size) {
          literal = Number(size[1]);
          atResponseStart = false;
        } else {
          atResponseStart = true;
        }
        onLine(line, responseStart);
      }
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () => {
      if (step >= steps.length - 1 && !done) finish();
      else finish(new Error('connection closed before the exchange ended'));
    });
  });
}

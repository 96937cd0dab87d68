import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * What the real-client drivers (imaplib, curl, mbsync) share: where the IMAP server under test is, and
 * running a client process with a deadline. Any server can be the target: Postwire's IMAP server or a
 * real Dovecot (./dovecot-imap.ts) over the same Maildir.
 */

/** An IMAP server to point a real client at, and the account to log in with. */
export interface ImapEndpoint {
  readonly host: string;
  readonly port: number;
  /** `starttls`: upgrade a plain connection; `implicit`: IMAPS; `none` (the default): no TLS. */
  readonly tls?: 'starttls' | 'implicit' | 'none';
  readonly user: string;
  readonly password: string;
  /** The PEM CA certificate the client trusts for TLS (the system's roots when missing). */
  readonly ca?: string;
}

/** How a client process ended: its exit code (null when killed), its output, and whether it overran. */
export interface ProcessResult {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
  /** True when the deadline passed and the process was killed (SIGKILL, by its PID). */
  readonly timedOut: boolean;
}

/** The deadline a driver gives one client run unless told otherwise. */
export const CLIENT_DEADLINE = 15_000;

/**
 * Runs `file args…` with `input` on stdin; resolves when it exits. After `deadline` ms the process is
 * killed and the result says `timedOut`. Rejects only when it cannot be started.
 */
export function runProcess(
  file: string,
  args: readonly string[],
  options: { input?: string | Uint8Array; deadline?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, [...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.deadline ?? CLIENT_DEADLINE);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on('error', () => {}); // the client may exit before reading all of stdin
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout: Buffer.concat(stdout),
        stderr: Buffer.concat(stderr).toString('utf8'),
        timedOut,
      });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** True when `command` is on the PATH; otherwise prints that `what` is skipped and why. */
export function commandAvailable(command: string, what: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'pipe' });
    return true;
  } catch {
    console.warn(`skipping ${what}: ${command} is not installed`);
    return false;
  }
}

/**
 * Runs `body` with a fresh temporary directory holding `ca.pem` (when the endpoint has a CA), removed
 * afterwards. For clients that read the CA from a file.
 */
export async function withCaFile<T>(
  endpoint: ImapEndpoint,
  body: (dir: string, caFile: string | undefined) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'pw-imap-client-'));
  try {
    const caFile = endpoint.ca === undefined ? undefined : join(dir, 'ca.pem');
    if (caFile) await writeFile(caFile, endpoint.ca!);
    return await body(dir, caFile);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

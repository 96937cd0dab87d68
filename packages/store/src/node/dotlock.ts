import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { TimeoutError } from '@postwire/core';
import { removeFile } from './files.js';

/** Options of {@link acquireDotlock}. */
export interface DotlockOptions {
  /** How long to wait for the lock before giving up, in ms (default 30 s; 0 tries once). */
  readonly timeout?: number;
  /**
   * Age after which a lock is taken to be abandoned, in ms (default 120 s, as Dovecot's uidlist lock);
   * `Infinity` for a lock held as long as its process lives.
   */
  readonly stale?: number;
}

const HOST = hostname();
/** A breaker that died while breaking leaves its lock; after this long, another breaker may go ahead. */
const BREAKER_STALE = 10_000;

/**
 * Takes the dot-lock `<path>.lock` as Dovecot does: the lock file is written in full under a temporary
 * name and then linked into place, which fails if it exists, so a lock is never seen half-written. It
 * holds `<pid>:<host>`. A lock left by a dead process of this host, or older than `stale`, is broken,
 * one breaker at a time, and only if it is still the very file found abandoned.
 * @returns the function that releases the lock (it removes the lock only if it is still this one).
 * @throws TimeoutError when the lock stays taken for `timeout` ms.
 */
export async function acquireDotlock(
  path: string,
  options: DotlockOptions = {},
): Promise<() => Promise<void>> {
  const lockPath = `${path}.lock`;
  const deadline = Date.now() + (options.timeout ?? 30_000);
  const stale = options.stale ?? 120_000;
  for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
    const taken = await createLock(lockPath);
    if (taken !== undefined) {
      return async () => {
        const current = await fs.stat(lockPath, { bigint: true }).catch(() => undefined);
        if (current?.ino === taken) await removeFile(lockPath);
      };
    }
    const found = await inspect(lockPath, stale);
    if (found === 'released') continue;
    if (found !== 'held' && (await breakLock(lockPath, found, stale))) continue;
    if (Date.now() >= deadline) throw new TimeoutError(`waited too long for ${lockPath}`);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/** Creates the lock file with its content in one step; returns its inode, or `undefined` if it exists. */
async function createLock(lockPath: string): Promise<bigint | undefined> {
  const temporary = `${lockPath}.${randomUUID()}`;
  const handle = await fs.open(temporary, 'w');
  try {
    await handle.writeFile(`${process.pid}:${HOST}\n`);
    // The lock is the temporary file itself: it is linked once written, its inode read meanwhile, and
    // it is closed while the temporary name is removed.
    const [, stat] = await Promise.all([fs.link(temporary, lockPath), handle.stat({ bigint: true })]);
    return stat.ino;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return undefined;
    throw error;
  } finally {
    await Promise.all([handle.close(), removeFile(temporary)]);
  }
}

/** The lock's state: still held, released, or abandoned (then the inode of the abandoned file). */
async function inspect(lockPath: string, stale: number): Promise<'held' | 'released' | bigint> {
  try {
    const [text, stat] = await Promise.all([
      fs.readFile(lockPath, 'utf8'),
      fs.stat(lockPath, { bigint: true }),
    ]);
    if (Date.now() - Number(stat.mtimeMs) > stale) return stat.ino;
    // `<pid>:<host>`; a bare PID is taken to be of this host.
    const match = /^(\d+)(?::(.*))?$/.exec(text.trim());
    const dead =
      match !== null && (match[2] ?? HOST) === HOST && !isRunning(Number(match[1]), Number(stat.mtimeMs));
    return dead ? stat.ino : 'held';
  } catch {
    return 'released';
  }
}

/**
 * Removes an abandoned lock, holding the breaker lock `<lock>.break` so that breakers go one at a time,
 * and only if the lock is still the file judged abandoned (inode `abandoned`). True when it was removed.
 */
async function breakLock(lockPath: string, abandoned: bigint, stale: number): Promise<boolean> {
  const breakerPath = `${lockPath}.break`;
  let breaker = await createLock(breakerPath);
  if (breaker === undefined) {
    const stat = await fs.stat(breakerPath).catch(() => undefined);
    if (!stat || Date.now() - stat.mtimeMs < BREAKER_STALE) return false;
    await fs.rm(breakerPath, { force: true });
    breaker = await createLock(breakerPath);
    if (breaker === undefined) return false;
  }
  try {
    if ((await inspect(lockPath, stale)) !== abandoned) return false;
    await fs.rm(lockPath, { force: true });
    return true;
  } finally {
    const current = await fs.stat(breakerPath, { bigint: true }).catch(() => undefined);
    if (current?.ino === breaker) await fs.rm(breakerPath, { force: true });
  }
}

/**
 * True when a process with this PID runs on this host, and, for this process's own PID, when it ran
 * already at `since` (ms since the epoch): a lock written under this PID before this process started was
 * left by an earlier one, as a server restarted in a container gets the same PID each time.
 */
export function isRunning(pid: number, since = Date.now()): boolean {
  if (pid === process.pid) return since >= Date.now() - process.uptime() * 1000;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { TimeoutError } from '@postwire/core';

/** Options of {@link acquireDotlock}. */
export interface DotlockOptions {
  /** How long to wait for the lock before giving up, in ms (default 30 s). */
  readonly timeout?: number;
  /** Age after which a lock is taken to be abandoned, in ms (default 120 s, as Dovecot's uidlist lock). */
  readonly stale?: number;
}

const HOST = hostname();

/**
 * Takes the dot-lock `<path>.lock` as Dovecot does: the file is created exclusively and removed to
 * release the lock, so that Postwire processes and Dovecot exclude each other. The file holds
 * `<pid>:<host>`; a lock left by a dead process of this host, or older than `stale`, is broken.
 * @returns the function that releases the lock.
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
    try {
      await fs.writeFile(lockPath, `${process.pid}:${HOST}\n`, { flag: 'wx' });
      return async () => {
        await fs.rm(lockPath, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await lockState(lockPath, stale);
    if (holder === 'released') continue;
    if (holder === 'abandoned') {
      await fs.rm(lockPath, { force: true });
      continue;
    }
    if (Date.now() >= deadline) throw new TimeoutError(`waited too long for ${lockPath}`);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}

/** Whether the lock is still held, abandoned (stale, or its process is gone), or already released. */
async function lockState(lockPath: string, stale: number): Promise<'held' | 'abandoned' | 'released'> {
  try {
    const [text, stat] = await Promise.all([fs.readFile(lockPath, 'utf8'), fs.stat(lockPath)]);
    if (Date.now() - stat.mtimeMs > stale) return 'abandoned';
    const match = /^(\d+):(.*)$/.exec(text.trim());
    return match !== null && match[2] === HOST && !isRunning(Number(match[1])) ? 'abandoned' : 'held';
  } catch {
    return 'released';
  }
}

/** True when a process with this PID runs on this host. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

import { type BigIntStats, close, closeSync, promises as fs, open, read } from 'node:fs';
import { join } from 'node:path';
import { CrlfNormalizer, toCrlf } from '@postwire/mime';

/** Runs `task` on every item, at most `limit` at once. */
export async function forEachConcurrently<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** The size of a file with every bare LF counted as CRLF (as it is read). */
export async function crlfSize(path: string): Promise<number> {
  const bytes = await fs.readFile(path);
  let size = bytes.length;
  for (let lf = bytes.indexOf(0x0a); lf !== -1; lf = bytes.indexOf(0x0a, lf + 1)) {
    if (lf === 0 || bytes[lf - 1] !== 0x0d) size++;
  }
  return size;
}

/** How long a file may stay in `tmp/` before it is taken for an abandoned delivery (Maildir's rule). */
const TMP_LIFETIME = 36 * 60 * 60 * 1000;

/**
 * The name prefix of a directory moved into `tmp/` to be removed out of sight (a deleted mailbox): what a
 * process killed before removing it left is removed at the next open.
 */
export const DELETED_PREFIX = 'postwire-deleted-';

/**
 * Removes the files of deliveries that died (in `tmp/` for more than 36 hours) and the directories of
 * removals cut short ({@link DELETED_PREFIX}).
 */
export async function removeAbandonedFiles(tmp: string): Promise<void> {
  const now = Date.now();
  for (const name of await readDirectory(tmp)) {
    const path = join(tmp, name);
    const stat = await fs.stat(path).catch(() => undefined);
    if (stat?.isFile() && now - stat.mtimeMs > TMP_LIFETIME) await fs.rm(path, { force: true });
    // Another process may be removing it too: whatever it leaves, the next open removes.
    else if (stat?.isDirectory() && name.startsWith(DELETED_PREFIX))
      await fs.rm(path, { recursive: true, force: true }).catch(() => {});
  }
}

/** Removes a file that may be gone already: one `unlink`, where `fs.rm` looks at the path first. */
export async function removeFile(path: string): Promise<void> {
  try {
    await fs.unlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

export async function readDirectory(path: string): Promise<string[]> {
  try {
    return (await fs.readdir(path)).filter((name) => !name.startsWith('.'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Which file a path names: its inode and birth time (an inode number alone is soon reused). */
export function identity(stat: BigIntStats): string {
  return `${stat.ino}:${stat.birthtimeNs}`;
}

export async function identityOf(path: string): Promise<string> {
  return identity(await fs.stat(path, { bigint: true }));
}

/** What {@link readFrom} read of a file. */
export interface FileText {
  readonly text: string;
  /** The file's {@link identity}; none when it does not exist. */
  readonly identity?: string;
  /** The text is from the file's start, as it is not the file known or is shorter than the offset. */
  readonly replaced: boolean;
}

/**
 * The text of a file from `offset` on, or from its start when it was `replaced`: it is not the file
 * `known` (see {@link identity}), or it is shorter than `offset`. No identity when it does not exist.
 */
export async function readFrom(path: string, offset: number, known: string | undefined): Promise<FileText> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, 'r');
  } catch {
    return { text: '', replaced: known !== undefined };
  }
  try {
    const stat = await handle.stat({ bigint: true });
    const size = Number(stat.size);
    const replaced = identity(stat) !== known || size < offset;
    const from = replaced ? 0 : offset;
    if (size <= from) return { text: '', identity: identity(stat), replaced };
    const buffer = Buffer.alloc(size - from);
    await handle.read(buffer, 0, buffer.length, from);
    return { text: buffer.toString('utf8'), identity: identity(stat), replaced };
  } finally {
    // Not waited for: closing a file that was only read loses nothing, and the text is ready.
    handle.close().catch(() => {});
  }
}

/** Writes a file through a temporary file and a rename, so that readers see the old or the new whole. */
export async function writeAtomically(
  path: string,
  text: string,
  durable: boolean,
  mtime?: Date,
): Promise<void> {
  const temporary = await writeTemporary(path, text, durable, mtime);
  await fs.rename(temporary, path);
}

/**
 * Writes `text` to `path` whole, as {@link writeAtomically} does, unless `path` exists: then it is left as
 * it is (another process created it first) and the answer is false.
 */
export async function createAtomically(path: string, text: string, durable: boolean): Promise<boolean> {
  const temporary = await writeTemporary(path, text, durable);
  try {
    await fs.link(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await fs.rm(temporary, { force: true });
  }
}

/** Temporary files this process made, counted for their names: two writes at once each get their own. */
let temporaries = 0;

/** Writes `text` to a new file beside `path`, and returns its path. */
async function writeTemporary(path: string, text: string, durable: boolean, mtime?: Date): Promise<string> {
  temporaries = (temporaries + 1) % 1_000_000_000;
  const temporary = `${path}.${process.pid}.${Date.now()}.${temporaries}.tmp`;
  const handle = await fs.open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(text);
    if (mtime) await handle.utimes(mtime, mtime);
    if (durable) await handle.sync();
  } finally {
    await handle.close();
  }
  return temporary;
}

export async function appendDurably(path: string, text: string, durable: boolean): Promise<void> {
  const handle = await fs.open(path, 'a', 0o600);
  try {
    await handle.appendFile(text);
    if (durable) await handle.datasync();
  } finally {
    await handle.close();
  }
}

/** Flushes a directory's entries (a rename or a new file in it) to disk. */
export async function syncDirectory(path: string): Promise<void> {
  const handle = await fs.open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * A file read whole in one open, one read and one close, `size` being its expected size (or more): half
 * the work of `readFile`, which also stats the file, for the many small files of a first FETCH. A file
 * found larger is read again whole.
 */
export function readWholeFile(path: string, size: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    open(path, 'r', (openError, fd) => {
      if (openError) {
        reject(openError);
        return;
      }
      const buffer = Buffer.allocUnsafe(size + 1);
      read(fd, buffer, 0, buffer.length, 0, (readError, bytesRead) => {
        close(fd, () => {
          if (readError) reject(readError);
          else if (bytesRead <= size) resolve(buffer.subarray(0, bytesRead));
          else fs.readFile(path).then(resolve, reject);
        });
      });
    });
  });
}

/**
 * `[start, end)` of a message file in one piece, as {@link readFileRange} streams it (a file with bare LF
 * line endings is read whole and given CRLF, the range applying to that form, whose size is `size`): one
 * open, one read and one close, no stream. The file is looked up once more after `resync` if a flag change
 * renamed it meanwhile.
 */
export async function readFileBytes(
  pathOf: () => string,
  lfOnly: boolean,
  start: number,
  end: number,
  size: number,
  resync: () => Promise<void>,
): Promise<Uint8Array> {
  if (end <= start) return new Uint8Array(0);
  const readOnce = async () => {
    if (!lfOnly) return readRange(pathOf(), start, end - start);
    return toCrlf(await readWholeFile(pathOf(), size)).subarray(start, end);
  };
  try {
    return await readOnce();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    await resync();
    return readOnce();
  }
}

/**
 * `length` octets of a file from `start` (fewer at its end). The file is closed on this thread once read:
 * closing a file opened for reading does no I/O on a local file system, and a round trip to the thread
 * pool for it, once per message of a FETCH, costs more than the call.
 */
function readRange(path: string, start: number, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    open(path, 'r', (openError, fd) => {
      if (openError) {
        reject(openError);
        return;
      }
      // Not zero-filled: only the bytes read are ever handed on.
      const buffer = Buffer.allocUnsafe(length);
      const readFrom = (filled: number) => {
        read(fd, buffer, filled, length - filled, start + filled, (readError, bytesRead) => {
          if (!readError && bytesRead > 0 && filled + bytesRead < length) {
            readFrom(filled + bytesRead);
            return;
          }
          closeRead(fd);
          if (readError) reject(readError);
          else resolve(buffer.subarray(0, filled + bytesRead));
        });
      };
      readFrom(0);
    });
  });
}

/** Closes a file that was only read; a failure to close it loses nothing. */
function closeRead(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Everything was read already.
  }
}

/** A message range up to this size is read in one read (most messages: one open, one read, one close). */
const WHOLE_READ = 1024 * 1024;
/** The read size for a file with bare LF line endings, which is normalised as it streams. */
const READ_CHUNK = 64 * 1024;

/**
 * Streams `[start, end)` of a message file, read lazily with backpressure. A file stored with bare LF line
 * endings is read with CRLF, the range applying to that form. The file is looked up when reading starts,
 * and once more after `resync` if a flag change renamed it meanwhile.
 */
export function readFileRange(
  pathOf: () => string,
  lfOnly: boolean,
  start: number,
  end: number,
  resync: () => Promise<void>,
): ReadableStream<Uint8Array> {
  let handle: fs.FileHandle | undefined;
  let position = lfOnly ? 0 : start;
  /** Bytes of CRLF output before the current position, for an LF-only file. */
  let produced = 0;
  const normalizer = lfOnly ? new CrlfNormalizer() : undefined;
  const finish = async () => {
    await handle?.close();
    handle = undefined;
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!handle) {
        try {
          handle = await fs.open(pathOf(), 'r');
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
          await resync();
          handle = await fs.open(pathOf(), 'r');
        }
      }
      const wanted = lfOnly ? READ_CHUNK : Math.min(WHOLE_READ, end - position);
      if (wanted <= 0 || (lfOnly && produced >= end)) {
        await finish();
        controller.close();
        return;
      }
      // Not zero-filled: only the bytes read are ever handed on.
      const buffer = Buffer.allocUnsafe(wanted);
      const { bytesRead } = await handle.read(buffer, 0, wanted, position);
      if (bytesRead === 0) {
        await finish();
        controller.close();
        return;
      }
      position += bytesRead;
      let chunk: Uint8Array = buffer.subarray(0, bytesRead);
      if (normalizer) {
        const normalized = normalizer.normalize(chunk);
        const from = Math.max(0, start - produced);
        const to = Math.min(normalized.length, end - produced);
        produced += normalized.length;
        chunk = from < to ? normalized.subarray(from, to) : new Uint8Array(0);
      }
      if (chunk.length > 0) controller.enqueue(chunk);
      // A range read whole in one go: close at once rather than on the next pull.
      if (!lfOnly && position >= end) {
        await finish();
        controller.close();
      }
    },
    async cancel() {
      await finish();
    },
  });
}

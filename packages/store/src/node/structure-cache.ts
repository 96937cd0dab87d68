import { randomUUID } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import { join } from 'node:path';
import {
  decodeStructureRecord,
  encodeStructureRecord,
  isRecordId,
  STRUCTURE_CACHE_HEADER,
} from '../maildir/structure-record.js';
import type { MessageStructure } from '../types.js';
import { DELETED_PREFIX, identity } from './files.js';

/** A record's length is kept in the low bits of its slot, its offset above them. */
const LENGTH_BITS = 20;
const LENGTH_SCALE = 2 ** LENGTH_BITS;
/** Records longer than this (a message of thousands of parts) are not written: such a message is parsed each time. */
const MAX_RECORD = LENGTH_SCALE - 1;
/** Records from this offset on are not indexed (slots must stay exact in a double): 8 GB of records. */
const MAX_OFFSET = 2 ** (53 - LENGTH_BITS);
/** The first read size of a scan; it grows for a record longer than this. */
const SCAN_CHUNK = 256 * 1024;
/** Records this close together are read in one read, which covers at most MAX_READ octets. */
const READ_GAP = 16 * 1024;
const MAX_READ = 1024 * 1024;
/** A read that goes on from the last one (a FETCH walking through a mailbox) reads this much at least. */
const READ_AHEAD = 1024 * 1024;
/** Appends are written in pieces of whole records up to this size, each in one write. */
const WRITE_PIECE = 256 * 1024;
/** The file is closed when no read came for this long (ms). */
const IDLE_CLOSE = 1000;
/** Compaction starts when the records read outnumber the live messages this much. */
const COMPACT_SLACK = 256;
const LF = 0x0a;
const TAB = 0x09;

/** A record found in the file: where it is (`offset * LENGTH_SCALE + length`). */
type Slot = number;

/**
 * The structure cache of one Maildir folder: one file, `postwire-cache`, of records appended as messages
 * are first parsed (see `structure-record.ts`), and an index in memory of where each message's latest
 * record is: one number per message, no parsed structure. A batch of structures costs one read of the
 * stretch of file that holds them, whichever process wrote them.
 *
 * The file is read forward from where this process stopped, and only as far as a request needs; a line
 * not yet ended by its line feed (a write in progress, or torn by a crash) is not read, and a torn line
 * followed by later records fails to decode and is skipped, so its message is parsed again. Another
 * process's compaction replaces the file: this process keeps reading the records it knows from the file
 * it has open, and reads the new one from its start when it next misses a record. Several processes may
 * append at once: each append is one write per piece of whole records, with `O_APPEND`.
 */
export class StructureCache {
  readonly #path: () => string;
  readonly #scratch: () => string;
  #handle: fs.FileHandle | undefined;
  /** The file the slots are about (see `identity`). */
  #identity: string | undefined;
  #slots = new Map<string, Slot>();
  /** Octets of the file read through, in whole lines. */
  #scanned = 0;
  /** The file's size when last looked at: what is known to be there without asking again. */
  #size = 0;
  /** Records read, stale and duplicate ones included: the file is compacted when they outnumber the messages. */
  #records = 0;
  /** False for a file of another format: it is replaced at the next write. */
  #usable = true;
  #queue: Promise<unknown> = Promise.resolve();
  #idle: ReturnType<typeof setTimeout> | undefined;
  /** The octets of the last read, from `start` on: the next reads are often within them. */
  #window: { readonly start: number; readonly bytes: Buffer } | undefined;

  /**
   * @param path the file's path (it follows the folder when the mailbox is renamed).
   * @param scratch a directory for files to delete (the folder's `tmp/`).
   */
  constructor(path: () => string, scratch: () => string) {
    this.#path = path;
    this.#scratch = scratch;
  }

  /** The structures of the messages with these ids, in the same order; `undefined` for those not in the file. */
  read(ids: readonly string[]): Promise<(MessageStructure | undefined)[]> {
    return this.#exclusive(async () => {
      const results: (MessageStructure | undefined)[] = new Array(ids.length);
      if (await this.#current(false)) {
        const targets = new Map<string, number[]>();
        ids.forEach((id, index) => {
          if (this.#slots.has(id)) return;
          const indexes = targets.get(id);
          if (indexes) indexes.push(index);
          else targets.set(id, [index]);
        });
        // A record not indexed yet is further on in the file or, once that is read through, in a newer
        // file that another process's compaction put in its place: only then is the path looked at again.
        if (targets.size > 0) await this.#scan(targets, results);
        if (targets.size > 0) {
          const before = this.#identity;
          if ((await this.#current(true)) && this.#identity !== before) await this.#scan(targets, results);
        }
        const known: [id: string, index: number, slot: Slot][] = [];
        ids.forEach((id, index) => {
          const slot = this.#slots.get(id);
          if (results[index] === undefined && slot !== undefined) known.push([id, index, slot]);
        });
        await this.#readSlots(known, async (bytes, records) => {
          for (const [id, index, start, end] of records) results[index] = this.#decode(id, bytes, start, end);
        });
      }
      this.#touch();
      return results;
    });
  }

  /** Appends the records of newly parsed messages (without flushing them: the cache can be rebuilt). */
  write(entries: readonly (readonly [id: string, structure: MessageStructure])[]): Promise<void> {
    return this.#exclusive(async () => {
      const pieces: string[][] = [[]];
      let pieceSize = 0;
      for (const [id, structure] of entries) {
        const record = encodeStructureRecord(id, structure);
        const size = Buffer.byteLength(record);
        if (size > MAX_RECORD) continue;
        if (pieceSize + size > WRITE_PIECE && pieceSize > 0) {
          pieces.push([]);
          pieceSize = 0;
        }
        pieces[pieces.length - 1]!.push(record);
        pieceSize += size;
      }
      if (pieceSize === 0) return;
      if (!this.#usable) {
        await this.#replace(pieces.flat().join(''));
        return;
      }
      const handle = await this.#openToAppend();
      try {
        for (const piece of pieces) await writeWhole(handle, Buffer.from(piece.join('')));
      } finally {
        await handle.close();
      }
    });
  }

  /** True when the records read so far outnumber the `live` messages enough to rewrite the file without them. */
  wantsCompaction(live: number): boolean {
    return this.#records > 2 * live + COMPACT_SLACK;
  }

  /** Rewrites the file with the latest record of each message for which `isLive` holds. */
  compact(isLive: (id: string) => boolean): Promise<void> {
    return this.#exclusive(async () => {
      if (!(await this.#current(true))) return;
      await this.#scan(undefined, []);
      const live = [...this.#slots].filter(([id]) => isLive(id)).map(([id, slot]) => [id, 0, slot] as const);
      const path = this.#path();
      const temporary = `${path}.${process.pid}.${randomUUID()}.tmp`;
      const output = await fs.open(temporary, 'w', 0o600);
      const slots = new Map<string, Slot>();
      let position = 0;
      let written: string;
      try {
        const header = Buffer.from(STRUCTURE_CACHE_HEADER);
        await writeWhole(output, header);
        position = header.length;
        await this.#readSlots(live, async (bytes, records) => {
          for (const [id, , start, end] of records) {
            slots.set(id, position * LENGTH_SCALE + end - start);
            position += end - start;
          }
          await writeWhole(
            output,
            Buffer.concat(records.map(([, , start, end]) => bytes.subarray(start, end))),
          );
        });
        written = identity(await output.stat({ bigint: true }));
      } catch (error) {
        await output.close();
        await fs.rm(temporary, { force: true });
        throw error;
      }
      await output.close();
      await fs.rename(temporary, path);
      await this.#closeHandle();
      this.#identity = written;
      this.#slots = slots;
      this.#scanned = position;
      this.#size = position;
      this.#records = slots.size;
    });
  }

  /** Closes the file and drops the index (the folder closes). */
  close(): Promise<void> {
    return this.#exclusive(async () => {
      if (this.#idle) clearTimeout(this.#idle);
      this.#idle = undefined;
      await this.#closeHandle();
      this.#reset(undefined);
    });
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Opens the file if it is not open, starting over when it is another file than the slots are about;
   * with `latest`, first makes sure the open file is still the one at the path (else another process
   * replaced it, and newer records are in the new one). False when there is no usable file.
   */
  async #current(latest: boolean): Promise<boolean> {
    const path = this.#path();
    if (this.#handle && latest) {
      const stat = await fs.stat(path, { bigint: true }).catch(() => undefined);
      if (!stat || identity(stat) !== this.#identity) await this.#closeHandle();
    }
    if (!this.#handle) {
      let handle: fs.FileHandle;
      try {
        handle = await fs.open(path, 'r');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        this.#reset(undefined);
        return false;
      }
      const stat = await handle.stat({ bigint: true });
      if (stat.isDirectory()) {
        await handle.close();
        await this.#removeDirectory(path);
        this.#reset(undefined);
        return false;
      }
      this.#handle = handle;
      if (identity(stat) !== this.#identity) this.#reset(identity(stat));
    }
    return this.#usable;
  }

  /**
   * Reads the file on from where it was read up to, indexing each record, until every id of `targets`
   * is found (decoding those into `results`, at the indexes given), or, without targets, to its end. The
   * size last seen is read through first; the file's size is asked for only once that is not enough.
   */
  async #scan(targets: Map<string, number[]> | undefined, results: (MessageStructure | undefined)[]) {
    for (let fresh = false; ; fresh = true) {
      if (fresh) this.#size = Number((await this.#handle!.stat()).size);
      await this.#scanTo(this.#size, targets, results);
      if (fresh || !this.#usable || targets?.size === 0) return;
    }
  }

  /**
   * {@link #scan} up to `size`. Once the targets are found, the rest of the chunk in hand is indexed as
   * well (without decoding): the next requests of a FETCH walking through the mailbox find their records
   * indexed.
   */
  async #scanTo(
    size: number,
    targets: Map<string, number[]> | undefined,
    results: (MessageStructure | undefined)[],
  ): Promise<void> {
    let chunkSize = SCAN_CHUNK;
    while (this.#scanned < size && this.#usable && (targets === undefined || targets.size > 0)) {
      const chunk = await this.#bytes(this.#scanned, Math.min(size, this.#scanned + chunkSize));
      let start = 0;
      for (let lf = chunk.indexOf(LF); lf !== -1; lf = chunk.indexOf(LF, start)) {
        const id = this.#index(chunk, start, lf + 1, this.#scanned + start);
        const indexes = id === undefined ? undefined : targets?.get(id);
        if (indexes) {
          targets!.delete(id!);
          const structure = this.#decode(id!, chunk, start, lf + 1);
          for (const index of indexes) results[index] = structure;
        }
        start = lf + 1;
        if (!this.#usable) break;
      }
      this.#scanned += start;
      if (start === 0) {
        // No whole line in the chunk: the last line, still being written, or one longer than the chunk.
        if (chunk.length < chunkSize) break;
        // Too long for a record: passed over (what follows up to its line feed is no record either).
        if (chunkSize > MAX_RECORD) this.#scanned += chunk.length;
        else chunkSize *= 2;
      }
    }
  }

  /**
   * Takes in the line `chunk[start, end)` (with its line feed) found at `offset` in the file: the id of
   * the record it may be, if any.
   */
  #index(chunk: Buffer, start: number, end: number, offset: number): string | undefined {
    if (offset === 0) {
      this.#usable = chunk.toString('latin1', start, end) === STRUCTURE_CACHE_HEADER;
      return undefined;
    }
    const tab = chunk.indexOf(TAB, start);
    if (tab === -1 || tab >= end) return undefined;
    const id = chunk.toString('latin1', start, tab);
    if (!isRecordId(id)) return undefined;
    this.#records++;
    const length = end - start;
    if (length <= MAX_RECORD && offset < MAX_OFFSET) this.#slots.set(id, offset * LENGTH_SCALE + length);
    return id;
  }

  /**
   * Reads the records of `slots` in file order, several in one read when they lie close together, and
   * passes the octets of each read to `take` with where each record is in them (whole lines). A slot that
   * no longer holds its record is dropped.
   */
  async #readSlots(
    slots: readonly (readonly [id: string, index: number, slot: Slot])[],
    take: (
      bytes: Buffer,
      records: [id: string, index: number, start: number, end: number][],
    ) => Promise<void>,
  ): Promise<void> {
    const sorted = [...slots].sort((a, b) => a[2] - b[2]);
    for (let first = 0; first < sorted.length; ) {
      const start = Math.floor(sorted[first]![2] / LENGTH_SCALE);
      let end = start + (sorted[first]![2] % LENGTH_SCALE);
      let last = first + 1;
      for (; last < sorted.length; last++) {
        const offset = Math.floor(sorted[last]![2] / LENGTH_SCALE);
        const recordEnd = offset + (sorted[last]![2] % LENGTH_SCALE);
        if (offset - end > READ_GAP || recordEnd - start > MAX_READ) break;
        end = Math.max(end, recordEnd);
      }
      const buffer = await this.#bytes(start, end);
      const bytesRead = buffer.length;
      const records: [id: string, index: number, start: number, end: number][] = [];
      for (let next = first; next < last; next++) {
        const [id, index, slot] = sorted[next]!;
        const from = Math.floor(slot / LENGTH_SCALE) - start;
        const to = from + (slot % LENGTH_SCALE);
        // The record is where the slot says only if the line is whole and its id is the one looked for.
        if (to > bytesRead || buffer[to - 1] !== LF || !startsWithId(buffer, from, id)) {
          this.#slots.delete(id);
          continue;
        }
        records.push([id, index, from, to]);
      }
      if (records.length > 0) await take(buffer, records);
      first = last;
    }
  }

  /**
   * The file's octets `[start, end)` (fewer at its end): from the window of the last read when it holds
   * them, else read, with {@link READ_AHEAD} octets at least when the read goes on from the last one.
   */
  async #bytes(start: number, end: number): Promise<Buffer> {
    const window = this.#window;
    const windowEnd = window ? window.start + window.bytes.length : 0;
    if (window && start >= window.start && end <= windowEnd) {
      return window.bytes.subarray(start - window.start, end - window.start);
    }
    const onward = window !== undefined && start >= window.start && start <= windowEnd + READ_GAP;
    const bytes = Buffer.allocUnsafe(Math.max(end - start, onward ? READ_AHEAD : 0));
    const { bytesRead } = await this.#handle!.read(bytes, 0, bytes.length, start);
    this.#window = { start, bytes: bytes.subarray(0, bytesRead) };
    return bytes.subarray(0, Math.min(end - start, bytesRead));
  }

  /**
   * The structure in the record `bytes[start, end)` (its whole line), or `undefined` when it does not
   * decode (its slot is dropped).
   */
  #decode(id: string, bytes: Buffer, start: number, end: number): MessageStructure | undefined {
    try {
      return decodeStructureRecord(bytes.toString('utf8', start + id.length + 1, end - 1));
    } catch {
      this.#slots.delete(id);
      return undefined;
    }
  }

  /**
   * Opens the file to append to it, creating it first if need be: written whole under a temporary name
   * and linked into place, so that its first line is the header whoever appends at the same time.
   */
  async #openToAppend(): Promise<fs.FileHandle> {
    const path = this.#path();
    try {
      return await fs.open(path, constants.O_WRONLY | constants.O_APPEND);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const temporary = `${path}.${process.pid}.${randomUUID()}.tmp`;
    await fs.writeFile(temporary, STRUCTURE_CACHE_HEADER, { mode: 0o600 });
    try {
      await fs.link(temporary, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      await fs.rm(temporary, { force: true });
    }
    return fs.open(path, constants.O_WRONLY | constants.O_APPEND);
  }

  /** Replaces a file of another format with one holding `records`. */
  async #replace(records: string): Promise<void> {
    const path = this.#path();
    const temporary = `${path}.${process.pid}.${randomUUID()}.tmp`;
    await fs.writeFile(temporary, STRUCTURE_CACHE_HEADER + records, { mode: 0o600 });
    await fs.rename(temporary, path);
    await this.#closeHandle();
    this.#reset(undefined);
  }

  /** Removes a directory in the file's place (the per-message cache of earlier versions), out of sight first. */
  async #removeDirectory(path: string): Promise<void> {
    const trash = join(this.#scratch(), `${DELETED_PREFIX}${randomUUID()}`);
    try {
      await fs.rename(path, trash);
    } catch (error) {
      // Another process moved it first.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    await fs.rm(trash, { recursive: true, force: true });
  }

  #reset(fileIdentity: string | undefined): void {
    this.#identity = fileIdentity;
    this.#slots = new Map();
    this.#scanned = 0;
    this.#size = 0;
    this.#records = 0;
    this.#usable = true;
  }

  async #closeHandle(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    this.#window = undefined;
    await handle?.close();
  }

  /** Keeps the file open while reads come, and closes it once they stop. */
  #touch(): void {
    if (this.#idle) {
      this.#idle.refresh();
      return;
    }
    this.#idle = setTimeout(() => {
      this.#idle = undefined;
      void this.#exclusive(() => this.#closeHandle()).catch(() => {});
    }, IDLE_CLOSE);
    this.#idle.unref?.();
  }
}

/** True when `bytes` holds `id` then a tab from `at` on. */
function startsWithId(bytes: Buffer, at: number, id: string): boolean {
  for (let i = 0; i < id.length; i++) if (bytes[at + i] !== id.charCodeAt(i)) return false;
  return bytes[at + id.length] === TAB;
}

/** Writes all of `data` at the handle's position (its end, for a file opened to append). */
async function writeWhole(handle: fs.FileHandle, data: Buffer): Promise<void> {
  for (let offset = 0; offset < data.length; ) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

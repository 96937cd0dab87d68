import * as crypto from 'node:crypto';
import { type FSWatcher, promises as fs, watch } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { TimeoutError } from '@postwire/core';
import { toCrlf } from '@postwire/mime';
import { ChangeFeed } from '../change-feed.js';
import { MailboxInUseError, MailboxNotFoundError, StoreRefusedError } from '../errors.js';
import { applyFlags } from '../flags.js';
import { newMailboxId, nextUidValidity } from '../ids.js';
import { type IndexEntry, MailboxIndex, messageInfo } from '../mailbox-index.js';
import {
  baseOfName,
  compareDeliveryOrder,
  flagsOfLetters,
  lettersOfFlags,
  lettersOfName,
  maildirName,
  parseMaildirName,
  sizeInBase,
  unmappedLetters,
} from '../maildir/filename.js';
import {
  compactIndexLog,
  emptyLogState,
  expungeLine,
  flagsLine,
  type IndexLogState,
  type LoggedMessage,
  messageLine,
  replayIndexLog,
} from '../maildir/index-log.js';
import {
  keywordLetter,
  MAX_MAILDIR_KEYWORDS,
  parseKeywords,
  serializeKeywords,
} from '../maildir/keywords.js';
import {
  parseUidList,
  parseUidRecords,
  serializeUidList,
  type UidRecord,
  uidListHeader,
  uidRecordLine,
} from '../maildir/uidlist.js';
import { describeMessage } from '../structure.js';
import type {
  ByteRange,
  FlagChange,
  FlagOperation,
  MailboxChange,
  MailboxLock,
  MessageStructure,
  SetFlagsResult,
} from '../types.js';
import { acquireDotlock } from './dotlock.js';
import {
  appendDurably,
  createAtomically,
  crlfSize,
  type FileText,
  forEachConcurrently,
  identity,
  identityOf,
  readDirectory,
  readFileBytes,
  readFileRange,
  readFrom,
  readWholeFile,
  removeAbandonedFiles,
  syncDirectory,
  writeAtomically,
} from './files.js';
import { StructureCache } from './structure-cache.js';

const UIDLIST = 'dovecot-uidlist';
const KEYWORDS = 'dovecot-keywords';
const INDEX_LOG = 'postwire-index';
const CACHE = 'postwire-cache';
const MAILDROP_LOCK = 'postwire-maildrop';
/** Structures kept in memory, by message id, for a client that asks for one message's parts in turn. */
const RECENT_STRUCTURES = 64;
/** Messages parsed at once when their structures are not cached: each is in memory while it is parsed. */
const PARSE_CONCURRENCY = 8;
/** Parsed structures are appended to the cache this many at a time. */
const CACHE_WRITE_BATCH = 256;
/**
 * How long running, silent directory watchers stand for a look at the disk before a read (ms): reads
 * within it trust them; the first read after it looks at the stamps again (which also catches what
 * watchers cannot see, such as the folder renamed by another process).
 */
const WATCH_TRUST = 1000;
/** How many times a file that another program keeps renaming is looked for again before it is left to it. */
const RENAMED_FILE_ATTEMPTS = 3;

/**
 * A message's index entry with what the folder knows of it beside: where its file is, and what the index
 * log says of it (the entry is also the log's record of the message, so that a message costs one object).
 */
interface MaildirEntry extends IndexEntry, LoggedMessage {
  readonly base: string;
  dir: 'new' | 'cur';
  /** The flag letters of the file's name on disk. */
  nameLetters: string;
  /** The file has bare LF line endings (Dovecot stores mail so): it is read with CRLF. */
  readonly lfOnly: boolean;
}

/**
 * A new object for the index to keep as a message's entry, its fields always in one order so that all
 * entries share one shape.
 */
function newEntry(fields: Omit<MaildirEntry, 'uid' | 'modseq'> & { readonly uid?: number }) {
  return {
    uid: fields.uid,
    id: fields.id,
    flags: fields.flags,
    internalTime: fields.internalTime,
    size: fields.size,
    modseq: 0,
    base: fields.base,
    dir: fields.dir,
    nameLetters: fields.nameLetters,
    lfOnly: fields.lfOnly,
    loggedModseq: fields.loggedModseq,
    loggedLetters: fields.loggedLetters,
  };
}

/** A message file written to `tmp/`, ready to be delivered into a folder. */
export interface PreparedMessage {
  readonly tmpPath: string;
  readonly base: string;
  readonly flags: readonly string[];
  readonly internalDate: Date;
  /** Size with CRLF line endings. */
  readonly size: number;
}

/** Options every folder of a store shares. */
export interface FolderOptions {
  /** Flush files and directories to disk before an operation returns (default `true`). */
  readonly fsync: boolean;
  /** How often a folder with change-feed subscribers looks for other writers, in ms. */
  readonly pollInterval: number;
}

/** The stable id of a message: derived from its Maildir base name, which never changes. */
export function messageIdOfBase(base: string): string {
  return ownString(`M${sha256Base64url(base).slice(0, 24)}`);
}

/**
 * The SHA-256 digest of a text's UTF-8 bytes, in base64url: in one call where Node has `crypto.hash`
 * (20.12 on), twice as fast for a short text as a `Hash` object, which a folder opened makes per message.
 */
const sha256Base64url: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'base64url')
    : (text) => crypto.createHash('sha256').update(text).digest('base64url');

/** Where {@link ownString} copies through: one buffer, grown as needed, rather than a new one per copy. */
let copyBuffer = Buffer.allocUnsafe(1024);

/**
 * A copy of `s` in memory of its own. A slice or a concatenation keeps the strings it was made from
 * alive (a base name the whole directory entry it was cut from): a string kept for as long as a message
 * is in the index is copied first (through its UTF-8 bytes).
 */
function ownString(s: string): string {
  // At most 3 UTF-8 octets per UTF-16 unit.
  if (s.length * 3 > copyBuffer.length) copyBuffer = Buffer.allocUnsafe(s.length * 3);
  return copyBuffer.toString('utf8', 0, copyBuffer.write(s, 0, 'utf8'));
}

let deliveries = 0;
const HOST = hostname().replace(/[/:.]/g, '_');

/** A new unique base name, as Maildir asks: time, then what makes it unique on this host, then the host. */
export function newBase(): string {
  const now = Date.now();
  deliveries = (deliveries + 1) % 1_000_000_000;
  return `${Math.floor(now / 1000)}.M${(now % 1000) * 1000}P${process.pid}Q${deliveries}.${HOST}`;
}

/**
 * One Maildir folder, shared by every session of the process that opens it: its index in memory, kept in
 * step with the disk, where Dovecot or another Postwire process may write too. Operations run one at a
 * time; those that change the folder hold Dovecot's `dovecot-uidlist.lock` and first read what other
 * writers did.
 */
export class MaildirFolder {
  path: string;
  name: string;
  readonly feed = new ChangeFeed();
  readonly #options: FolderOptions;
  #index!: MailboxIndex<MaildirEntry>;
  /** The UID the uidlist gives each base of a message not in the index yet (not seen on disk yet). */
  readonly #listed = new Map<string, number>();
  #keywords: (string | undefined)[] = [];
  #headerExtensions = '';
  /** Records in the uidlist file, stale ones included: it is rewritten when they are many. */
  #uidRecords = 0;
  /** The uidlist read so far: which file (a rewrite replaces it) and the bytes consumed. */
  #uidlistIdentity: string | undefined;
  #uidlistOffset = 0;
  #log: IndexLogState = emptyLogState();
  #logOffset = 0;
  /** Which log file was read so far: another process's compaction replaces the file. */
  #logIdentity: string | undefined;
  /** What the disk looked like after the last refresh or change of this process. */
  #stamps: Stamps | undefined;
  /** When the stamps were last read (`performance.now()`). */
  #lookedAt = Number.NEGATIVE_INFINITY;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #cache: StructureCache;
  /** The latest structures handed out, by message id (the least recently used first). */
  readonly #recentStructures = new Map<string, MessageStructure>();
  /** `structure()` calls of this turn of the event loop, answered together by one `structures()`. */
  #structureRequests: StructureRequest[] = [];
  /** Followers of the change feed, and how to stop following for them. */
  #subscribers = 0;
  #stopFollowing: (() => void) | undefined;
  #onForeignChange: (() => void) | undefined;
  readonly #directoryWatchers: FSWatcher[] = [];
  /** The directory watchers run: their silence means no other writer touched the folder. */
  #watching = false;
  /** Names this process is adding or removing in `new/` and `cur/`: their events are its own. */
  readonly #ownNames = new Map<string, number>();
  /** An event no change of this process explains came since the last refresh. */
  #foreign = false;
  #maildropLocked = false;
  gone = false;

  private constructor(path: string, name: string, options: FolderOptions) {
    this.path = path;
    this.name = name;
    this.#options = options;
    this.#cache = new StructureCache(
      () => join(this.path, CACHE),
      () => join(this.path, 'tmp'),
    );
  }

  /** Opens a folder whose directories exist, reading its index from disk (creating the files it lacks). */
  static async open(path: string, name: string, options: FolderOptions): Promise<MaildirFolder> {
    const folder = new MaildirFolder(path, name, options);
    folder.#watchDirectories();
    await Promise.all([folder.#locked(async () => {}), removeAbandonedFiles(join(path, 'tmp'))]);
    return folder;
  }

  /**
   * Creates the directories and files of a new, empty folder. A uidlist another process wrote meanwhile is
   * kept: the folder it describes is the one both processes open.
   */
  static async create(path: string): Promise<void> {
    for (const dir of ['cur', 'new', 'tmp'])
      await fs.mkdir(join(path, dir), { recursive: true, mode: 0o700 });
    await fs.writeFile(join(path, 'maildirfolder'), '');
    const header = uidListHeader({
      uidValidity: nextUidValidity(),
      nextUid: 1,
      mailboxGuid: newMailboxId(),
      headerExtensions: '',
    });
    await createAtomically(join(path, UIDLIST), header, true);
  }

  get index(): MailboxIndex {
    return this.#index;
  }

  /**
   * Reads what other writers changed, unless nothing on disk changed since the last look; `force` reads the
   * directories even so (a change within the file system's timestamp granularity leaves no trace).
   */
  async sync(force = false): Promise<void> {
    await this.#exclusive(async () => {
      if (!force && (await this.#unchanged())) return;
      await this.#withLock(() => this.#refresh(force));
    });
  }

  /**
   * {@link sync} before a read (`messages()`, `status()`), without looking at the disk when the directory
   * watchers vouch that no other writer changed the folder: they run, none of their events since the last
   * look was another writer's, and that look is under {@link WATCH_TRUST} ms old. Events of changes made
   * before the call are taken in first, so a change another writer completed before it is seen.
   */
  async syncForRead(): Promise<void> {
    if (this.#watchersVouch()) {
      await afterPoll();
      if (this.#watchersVouch()) {
        // After the operation under way, as `sync` would be.
        await this.#exclusive(async () => {});
        return;
      }
    }
    await this.sync();
  }

  async deliver(messages: readonly PreparedMessage[]): Promise<IndexEntry[]> {
    return this.#locked(async () => {
      const delivered: IndexEntry[] = [];
      const dirs = new Set<'new' | 'cur'>();
      let uidLines = '';
      let logLines = '';
      const lettersOfMessages = this.#lettersOfAll(messages.map((message) => message.flags));
      const names = messages.map((message, position) =>
        message.flags.length > 0
          ? join('cur', maildirName(message.base, lettersOfMessages[position]!))
          : join('new', message.base),
      );
      await this.#moveIntoPlace(messages, names);
      for (const [position, message] of messages.entries()) {
        const letters = lettersOfMessages[position]!;
        const dir = message.flags.length > 0 ? 'cur' : 'new';
        dirs.add(dir);
        const entry = this.#index.add(
          newEntry({
            id: messageIdOfBase(message.base),
            flags: message.flags,
            internalTime: message.internalDate.getTime(),
            size: message.size,
            base: ownString(message.base),
            dir,
            nameLetters: letters,
            lfOnly: sizeInBase(message.base, ',S=') !== message.size,
            loggedModseq: 0,
            loggedLetters: letters,
          }),
        );
        entry.loggedModseq = entry.modseq;
        this.#track(entry);
        uidLines += uidRecordLine({ uid: entry.uid, base: message.base, extensions: '' });
        logLines += messageLine(entry.uid, entry);
        delivered.push(entry);
      }
      if (this.#options.fsync) await Promise.all([...dirs].map((dir) => syncDirectory(join(this.path, dir))));
      await this.#appendUidRecords(uidLines, messages.length);
      await this.#appendLog(logLines);
      for (const entry of delivered) this.feed.publish({ type: 'append', message: messageInfo(entry) });
      return delivered;
    });
  }

  /**
   * Renames the messages' files from `tmp/` to their names in the folder, all or none: when one rename
   * fails, those done are moved back to `tmp/` (RFC 9051 §6.4.7: a failed COPY leaves the target as it was).
   */
  async #moveIntoPlace(messages: readonly PreparedMessage[], names: readonly string[]): Promise<void> {
    let moved = 0;
    try {
      for (const [position, message] of messages.entries()) {
        const name = names[position]!;
        await fs.utimes(message.tmpPath, message.internalDate, message.internalDate);
        this.#expect(basename(name));
        await fs.rename(message.tmpPath, join(this.path, name)).catch((error) => {
          this.#unexpect(basename(name));
          throw error;
        });
        moved++;
      }
    } catch (error) {
      for (let position = 0; position < moved; position++) {
        const name = names[position]!;
        this.#expect(basename(name));
        await fs.rename(join(this.path, name), messages[position]!.tmpPath).catch(() => {
          this.#unexpect(basename(name));
        });
      }
      throw error;
    }
  }

  async setFlags(
    uids: readonly number[],
    operation: FlagOperation,
    flags: readonly string[],
    unchangedSince: number | undefined,
  ): Promise<SetFlagsResult> {
    return this.#locked(async () => {
      this.#lettersOfAll([flags]);
      const outcome = this.#index.setFlags(uids, operation, flags, unchangedSince);
      const changed: FlagChange[] = [];
      let logLines = '';
      for (let change of outcome.changed) {
        const entry = this.#index.get(change.uid)!;
        const lettersOf = (next: readonly string[]) =>
          lettersOfFlags(next, (keyword) => this.#letterOf(keyword), unmappedLetters(entry.nameLetters));
        let letters = lettersOf(change.flags);
        if (!(await this.#renameFile(entry, letters)) && (await this.#relocate(entry))) {
          // Another program changed the message's flags meanwhile: the operation applies to the ones it left.
          const theirs = flagsOfLetters(entry.nameLetters, (letter) => this.#keywordOf(letter));
          const merged = applyFlags(theirs, operation, flags) ?? theirs;
          this.#index.replaceFlags(entry, merged, change.modseq);
          change = { ...change, flags: [...merged] };
          letters = lettersOf(merged);
          await this.#renameFile(entry, letters);
        }
        changed.push(change);
        logLines += flagsLine(change.uid, change.modseq, letters);
        entry.loggedModseq = change.modseq;
        entry.loggedLetters = letters;
      }
      await this.#appendLog(logLines);
      for (const change of changed) this.feed.publish({ type: 'flags', ...change });
      return { changed, modified: outcome.modified };
    });
  }

  async expunge(uids: readonly number[]): Promise<number[]> {
    return this.#locked(async () => {
      const dirs = new Set<'new' | 'cur'>();
      for (const entry of this.#index.entries(uids)) {
        await this.#unlinkFile(entry);
        dirs.add(entry.dir);
      }
      if (this.#options.fsync) await Promise.all([...dirs].map((dir) => syncDirectory(join(this.path, dir))));
      const removed = this.#index.remove(uids);
      if (removed.uids.length > 0) {
        await this.#appendLog(expungeLine(removed.modseq));
        this.feed.publish({ type: 'expunge', ...removed });
      }
      return removed.uids;
    });
  }

  /**
   * Links (or copies) the given messages into files in `targetTmp`, ready for {@link deliver} into
   * another folder, each with the UID it has here; a base the target already holds gets a new one (and so
   * a new id). A message whose file is gone (expunged by another writer) is left out.
   */
  async prepareCopies(
    uids: readonly number[],
    targetTmp: string,
    taken: (base: string) => boolean,
  ): Promise<(PreparedMessage & { readonly sourceUid: number })[]> {
    return this.#exclusive(async () => {
      const prepared: (PreparedMessage & { readonly sourceUid: number })[] = [];
      for (const { uid } of this.#index.entries(uids)) {
        let entry = this.#index.get(uid);
        if (!entry) continue;
        const parsed = parseMaildirName(entry.base);
        const base = taken(entry.base)
          ? `${newBase()}${sizeSuffix(parsed.size, parsed.virtualSize)}`
          : entry.base;
        const tmpPath = join(targetTmp, base);
        if (!(await this.#linkFile(entry, tmpPath))) {
          // Another program renamed the file since the last look (Dovecot moving it to `cur/`, or changing
          // its flags), or removed it: the folder is read again, and the file taken where it is now.
          await this.#withLock(() => this.#refresh(true));
          entry = this.#index.get(uid);
          if (!entry || !(await this.#linkFile(entry, tmpPath))) continue;
        }
        prepared.push({
          sourceUid: uid,
          tmpPath,
          base,
          flags: entry.flags,
          internalDate: new Date(entry.internalTime),
          size: entry.size,
        });
      }
      return prepared;
    });
  }

  /** Links (or, across file systems, copies) a message's file to `path`; false when the file is not there. */
  async #linkFile(entry: MaildirEntry, path: string): Promise<boolean> {
    try {
      await fs.link(this.#pathOf(entry), path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      await fs.copyFile(this.#pathOf(entry), path);
    }
    return true;
  }

  /** True when a message with this base name is in the folder (its id is derived from the base). */
  holdsBase(base: string): boolean {
    return this.#listed.has(base) || this.#index.hasId(messageIdOfBase(base));
  }

  /** The message's bytes (CRLF line endings), whole or a range, in one piece. */
  async readBytes(uid: number, range: ByteRange = { start: 0 }): Promise<Uint8Array> {
    const { entry, start, end } = this.#bounds(uid, range);
    return readFileBytes(
      () => this.#pathOf(entry),
      entry.lfOnly,
      start,
      end,
      entry.size,
      () => this.sync(true),
    );
  }

  /** The message's bytes (CRLF line endings), whole or a range. */
  read(uid: number, range: ByteRange = { start: 0 }): ReadableStream<Uint8Array> {
    const { entry, start, end } = this.#bounds(uid, range);
    return readFileRange(
      () => this.#pathOf(entry),
      entry.lfOnly,
      start,
      end,
      () => this.sync(true),
    );
  }

  /** The message's entry and `range` cut to its size. */
  #bounds(uid: number, range: ByteRange): { entry: MaildirEntry; start: number; end: number } {
    const entry = this.#index.get(uid);
    if (!entry) throw new MailboxNotFoundError(this.name, `no message with UID ${uid}`);
    return {
      entry,
      start: Math.min(range.start, entry.size),
      end: Math.min(range.end ?? entry.size, entry.size),
    };
  }

  /**
   * A message's structure. The calls made in one turn of the event loop (as `Promise.all` over a batch of
   * messages makes them) are answered together, as one {@link structures} call.
   */
  structure(uid: number): Promise<MessageStructure> {
    return new Promise((resolve, reject) => {
      if (this.#structureRequests.push({ uid, resolve, reject }) === 1)
        queueMicrotask(() => this.#answerStructureRequests());
    });
  }

  /**
   * The structures of the given messages, in the order given, `undefined` for a UID not in the folder:
   * from the cache file, in as few reads as the records' places allow, or parsed (at most
   * {@link PARSE_CONCURRENCY} at a time) and then appended to it, {@link CACHE_WRITE_BATCH} in a write.
   */
  async structures(uids: readonly number[]): Promise<(MessageStructure | undefined)[]> {
    const results: (MessageStructure | undefined)[] = new Array(uids.length);
    const wanted: { index: number; entry: IndexEntry }[] = [];
    uids.forEach((uid, index) => {
      const entry = this.#index.get(uid);
      if (!entry) return;
      const recent = this.#recentStructures.get(entry.id);
      if (recent) results[index] = recent;
      else wanted.push({ index, entry });
    });
    if (wanted.length === 0) return results;
    // The cache only saves parsing: a cache that cannot be read or written leaves the messages parsed.
    const cached = await this.#cache.read(wanted.map(({ entry }) => entry.id)).catch(() => []);
    const missing = wanted.filter(({ index }, position) => {
      results[index] = cached[position];
      return cached[position] === undefined;
    });
    for (let from = 0; from < missing.length; from += CACHE_WRITE_BATCH) {
      const batch = missing.slice(from, from + CACHE_WRITE_BATCH);
      const parsed = await this.#parse(batch.map(({ entry }) => entry));
      const records: [string, MessageStructure][] = [];
      batch.forEach(({ index, entry }, position) => {
        const structure = parsed[position];
        results[index] = structure;
        if (structure) records.push([entry.id, structure]);
      });
      await this.#cache.write(records).catch(() => {});
    }
    if (wanted.length <= RECENT_STRUCTURES) {
      for (const { index, entry } of wanted) {
        const structure = results[index];
        if (!structure) continue;
        this.#recentStructures.delete(entry.id);
        this.#recentStructures.set(entry.id, structure);
        if (this.#recentStructures.size > RECENT_STRUCTURES)
          this.#recentStructures.delete(this.#recentStructures.keys().next().value!);
      }
    }
    return results;
  }

  #answerStructureRequests(): void {
    const requests = this.#structureRequests;
    this.#structureRequests = [];
    this.structures(requests.map((request) => request.uid)).then(
      (structures) =>
        requests.forEach((request, index) => {
          const structure = structures[index];
          if (structure) request.resolve(structure);
          else request.reject(new MailboxNotFoundError(this.name, `no message with UID ${request.uid}`));
        }),
      (error: unknown) => {
        for (const request of requests) request.reject(error);
      },
    );
  }

  /**
   * Parses messages, `undefined` for those whose file is gone. A file not found is looked for again
   * after reading the directories (another writer may have changed its flags, so its name).
   */
  async #parse(entries: readonly IndexEntry[]): Promise<(MessageStructure | undefined)[]> {
    const results: (MessageStructure | undefined)[] = new Array(entries.length);
    const parseAll = async (indexes: number[]) => {
      const vanished: number[] = [];
      await forEachConcurrently(indexes, PARSE_CONCURRENCY, async (index) => {
        const bytes = await this.#readMessage(entries[index]!.uid);
        if (bytes) results[index] = describeMessage(bytes);
        else vanished.push(index);
      });
      return vanished;
    };
    const vanished = await parseAll(entries.map((_, index) => index));
    if (vanished.length > 0) {
      await this.sync(true);
      await parseAll(vanished);
    }
    return results;
  }

  /** A message's bytes (CRLF line endings), read whole; `undefined` when the index or the disk lacks it. */
  async #readMessage(uid: number): Promise<Uint8Array | undefined> {
    const entry = this.#index.get(uid);
    if (!entry) return undefined;
    try {
      // The index's size is that with CRLF line endings: the file's, or more for a file with bare LFs.
      const bytes = await readWholeFile(this.#pathOf(entry), entry.size);
      return entry.lfOnly ? toCrlf(bytes) : bytes;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /**
   * Takes the maildrop lock of the folder at `path`, a dot-lock held while this process lives, shared with
   * other processes; resolves with the function that releases it.
   * @throws MailboxInUseError when a session of any process holds it.
   */
  static async takeMaildrop(path: string): Promise<() => Promise<void>> {
    try {
      return await acquireDotlock(join(path, MAILDROP_LOCK), { timeout: 0, stale: Number.POSITIVE_INFINITY });
    } catch (error) {
      throw error instanceof TimeoutError ? new MailboxInUseError() : error;
    }
  }

  /** Takes the maildrop lock for a session (see {@link takeMaildrop}). */
  async lockMaildrop(): Promise<MailboxLock> {
    if (this.#maildropLocked) throw new MailboxInUseError();
    this.#maildropLocked = true;
    let unlock: () => Promise<void>;
    try {
      unlock = await MaildirFolder.takeMaildrop(this.path);
    } catch (error) {
      this.#maildropLocked = false;
      throw error;
    }
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        this.#maildropLocked = false;
        await unlock();
      },
    };
  }

  /**
   * Starts looking for other writers while someone follows the change feed: file-system events when the
   * platform gives them, and a poll in any case. Returns the function that stops it.
   */
  watch(): () => void {
    if (this.#subscribers++ === 0) {
      let pending: ReturnType<typeof setTimeout> | undefined;
      this.#onForeignChange = () => {
        pending ??= setTimeout(() => {
          pending = undefined;
          this.sync().catch(() => {});
        }, 20);
      };
      const poll = setInterval(() => this.sync().catch(() => {}), this.#options.pollInterval);
      poll.unref?.();
      this.#stopFollowing = () => {
        clearInterval(poll);
        if (pending) clearTimeout(pending);
        this.#onForeignChange = undefined;
      };
    }
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      if (--this.#subscribers === 0) this.#stopFollowing?.();
    };
  }

  /**
   * Watches `new/` and `cur/` while the folder is open. An event for a name this process is not adding or
   * removing itself is another writer's change; without events (or after a watcher error), a change
   * within one clock tick of the last look is found by reading the directories again.
   */
  #watchDirectories(): void {
    try {
      for (const dir of ['new', 'cur']) {
        const watcher = watch(join(this.path, dir), { persistent: false }, (_event, name) =>
          this.#onEvent(name),
        );
        watcher.on('error', () => {
          this.#watching = false;
        });
        this.#directoryWatchers.push(watcher);
      }
      this.#watching = true;
    } catch {
      this.#unwatchDirectories();
    }
  }

  #unwatchDirectories(): void {
    this.#watching = false;
    for (const watcher of this.#directoryWatchers) watcher.close();
    this.#directoryWatchers.length = 0;
  }

  #onEvent(name: string | null): void {
    const own = name === null ? 0 : (this.#ownNames.get(name) ?? 0);
    if (own > 1) this.#ownNames.set(name!, own - 1);
    else if (own === 1) this.#ownNames.delete(name!);
    else {
      this.#foreign = true;
      this.#onForeignChange?.();
    }
  }

  /**
   * Notes that this process is about to add or remove these names in `new/` or `cur/`; nothing without
   * watchers, whose events alone take the names off again.
   */
  #expect(...names: string[]): void {
    if (!this.#watching) return;
    for (const name of names) this.#ownNames.set(name, (this.#ownNames.get(name) ?? 0) + 1);
  }

  /** Withdraws an expectation for a change that did not happen. */
  #unexpect(...names: string[]): void {
    if (!this.#watching) return;
    for (const name of names) this.#onEvent(name);
  }

  /** Stops looking for changes, ends the feed, and waits for the operation under way. */
  async close(): Promise<void> {
    this.#stopFollowing?.();
    this.#unwatchDirectories();
    this.feed.end();
    await this.#queue;
    await this.#cache.close();
  }

  /** Marks the folder deleted: its sessions are told, and its feed ends. */
  markGone(): void {
    if (this.gone) return;
    this.gone = true;
    this.#stopFollowing?.();
    this.#unwatchDirectories();
    this.feed.publish({ type: 'gone' });
    this.feed.end();
  }

  /** Runs `fn` alone among this folder's operations in the process. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => {});
    return run;
  }

  /** Runs `fn` alone, holding the uidlist lock, after reading what other writers did. */
  #locked<T>(fn: () => Promise<T>): Promise<T> {
    return this.#exclusive(() =>
      this.#withLock(async () => {
        if (!(await this.#unchanged())) await this.#refresh(false);
        const result = await fn();
        await this.#compact();
        return result;
      }),
    );
  }

  async #withLock<T>(fn: () => Promise<T>): Promise<T> {
    if (this.gone) throw new MailboxNotFoundError(this.name);
    let release: () => Promise<void>;
    try {
      release = await acquireDotlock(join(this.path, UIDLIST));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      // The folder's directory is gone: another program deleted the mailbox.
      this.markGone();
      throw new MailboxNotFoundError(this.name);
    }
    try {
      return await fn();
    } finally {
      this.#stamps = await this.#readStamps();
      await release();
    }
  }

  /** True when the watchers run, saw no other writer since the last look, and that look is recent. */
  #watchersVouch(): boolean {
    return (
      this.#watching &&
      !this.#foreign &&
      this.#stamps !== undefined &&
      performance.now() - this.#lookedAt < WATCH_TRUST
    );
  }

  /** True when nothing changed on disk since the last look, as far as the stamps and the watchers tell. */
  async #unchanged(): Promise<boolean> {
    return (
      this.#stamps !== undefined && this.#trustworthy() && sameStamps(await this.#readStamps(), this.#stamps)
    );
  }

  /**
   * Whether the last stamps can be compared: not if another writer's event came since, nor if they were
   * taken within a clock tick of a change and no watcher can vouch that nothing else happened in it.
   */
  #trustworthy(): boolean {
    if (this.#foreign) return false;
    return !this.#stamps?.recent || this.#watching;
  }

  /** What changes when another writer touches the folder: the directories, the uidlist, the log, the keywords. */
  async #readStamps(): Promise<Stamps> {
    this.#lookedAt = performance.now();
    const now = Date.now();
    let recent = false;
    const [newDir, curDir, uidlist, log, keywords] = await Promise.all(
      ['new', 'cur', UIDLIST, INDEX_LOG, KEYWORDS].map((entry) =>
        fs.stat(join(this.path, entry), { bigint: true }).then(
          (stat) => {
            if (now - Number(stat.mtimeMs) < SAME_TIMESTAMP_WINDOW) recent = true;
            return `${stat.mtimeNs}:${stat.size}:${identity(stat)}`;
          },
          () => '-',
        ),
      ),
    );
    return { new: newDir!, cur: curDir!, uidlist: uidlist!, log: log!, keywords: keywords!, recent };
  }

  /**
   * Brings the index in step with the disk (the uidlist lock is held), reading only what changed: the
   * uidlist and the log from where they were read up to, the directories whose timestamps moved. What it
   * reads is read at once, and the stamps are not looked at when there are none to compare with (a
   * folder's first look reads everything).
   */
  async #refresh(force: boolean): Promise<void> {
    const previous = force || !this.#trustworthy() ? undefined : this.#stamps;
    this.#foreign = false;
    const current = previous && (await this.#readStamps());
    const changed = (part: 'new' | 'cur' | 'keywords') => !previous || previous[part] !== current![part];
    let [log, uidlist, keywords, newNames, curNames] = await Promise.all([
      readFrom(join(this.path, INDEX_LOG), this.#logOffset, this.#logIdentity),
      readFrom(join(this.path, UIDLIST), this.#uidlistOffset, this.#uidlistIdentity),
      changed('keywords') ? this.#readKeywords() : undefined,
      changed('new') ? readDirectory(join(this.path, 'new')) : undefined,
      changed('cur') ? readDirectory(join(this.path, 'cur')) : undefined,
    ]);
    this.#applyLog(log);
    if (await this.#applyUidList(uidlist)) {
      // A new index: every file is taken in again, and the keywords with it.
      [keywords, newNames, curNames] = await Promise.all([
        keywords ?? this.#readKeywords(),
        newNames ?? readDirectory(join(this.path, 'new')),
        curNames ?? readDirectory(join(this.path, 'cur')),
      ]);
    }
    if (keywords !== undefined) this.#keywords = parseKeywords(keywords);
    if (this.#log.highestModseq > this.#index.highestModseq)
      this.#index.highestModseq = this.#log.highestModseq;

    const index = this.#index;
    const flagged: IndexEntry[] = [];
    const appended: IndexEntry[] = [];
    let logLines = '';
    /** Takes in the listings: the files of the index's messages found, and the UIDs of those not found. */
    const match = (listings: readonly (readonly ['new' | 'cur', readonly string[] | undefined])[]) => {
      const dirs: ('new' | 'cur')[] = [];
      const files = new Map<string, DiskFile>();
      for (const [dir, names] of listings) {
        if (names === undefined) continue;
        dirs.push(dir);
        for (const fileName of names)
          files.set(baseOfName(fileName), { dir, letters: lettersOfName(fileName) });
      }
      const missing: number[] = [];
      for (const entry of index.entries()) {
        if (!dirs.includes(entry.dir)) continue;
        const disk = files.get(entry.base);
        if (!disk) {
          missing.push(entry.uid);
          continue;
        }
        files.delete(entry.base);
        entry.dir = disk.dir;
        if (entry.nameLetters === disk.letters) continue;
        entry.nameLetters = disk.letters;
        const flags = flagsOfLetters(disk.letters, (letter) => this.#keywordOf(letter));
        if (sameFlags(flags, entry.flags)) continue;
        logLines += this.#flagsChanged(entry, flags, disk.letters);
        flagged.push(entry);
      }
      return { onDisk: files, vanished: missing };
    };
    let { onDisk, vanished } = match([
      ['new', newNames],
      ['cur', curNames],
    ]);
    if (vanished.length > 0) {
      // A file another program moved from new/ to cur/ (or renamed in cur/) while they were listed may be
      // in neither listing: before its message is taken for expunged, both are listed again, new/ first.
      const again = await readDirectory(join(this.path, 'new'));
      ({ onDisk, vanished } = match([
        ['new', again],
        ['cur', await readDirectory(join(this.path, 'cur'))],
      ]));
    }

    // Files the index lacks: those the uidlist numbers, then the others, numbered in delivery order.
    const listed: Adoption[] = [];
    const unlisted: string[] = [];
    for (const [base, disk] of onDisk) {
      const uid = this.#listed.get(base);
      if (uid === undefined) unlisted.push(base);
      else if (!index.get(uid)) listed.push({ uid, base, disk });
    }
    let newRecords = '';
    for (const base of unlisted.sort(compareDeliveryOrder)) {
      const uid = index.uidNext;
      listed.push({ uid, base, disk: onDisk.get(base)! });
      this.#listed.set(base, uid);
      index.uidNext = uid + 1;
      newRecords += uidRecordLine({ uid, base, extensions: '' });
    }
    for (const adoption of await this.#describe(listed.sort((a, b) => a.uid - b.uid))) {
      const { entry, line } = this.#adopt(adoption);
      logLines += line;
      appended.push(entry);
    }
    // Every file on disk is in the index now (other writers wait for the uidlist lock held here): what
    // the log still holds of other messages is of messages expunged before this process saw them.
    this.#log.messages.clear();
    const removed = index.remove(vanished);
    if (removed.uids.length > 0) {
      logLines += expungeLine(removed.modseq);
    }
    await this.#appendUidRecords(newRecords, unlisted.length);
    await this.#appendLog(logLines);
    await this.#compact();
    // Told only to those following the feed now (a folder's first look, of every message, has none).
    if (this.feed.active) this.#publishFound(flagged, appended, removed);
  }

  /**
   * Publishes what a refresh found, in MODSEQ order, as it happened, whatever order it was found in. The
   * entries are as the refresh left them: no other operation of the folder ran since.
   */
  #publishFound(
    flagged: IndexEntry[],
    appended: IndexEntry[],
    removed: ReturnType<MailboxIndex['remove']>,
  ): void {
    const changes: [number, MailboxChange][] = [];
    for (const entry of flagged) {
      changes.push([
        entry.modseq,
        { type: 'flags', uid: entry.uid, flags: [...entry.flags], modseq: entry.modseq },
      ]);
    }
    for (const entry of appended)
      changes.push([entry.modseq, { type: 'append', message: messageInfo(entry) }]);
    if (removed.uids.length > 0) changes.push([removed.modseq, { type: 'expunge', ...removed }]);
    for (const [, change] of changes.sort((a, b) => a[0] - b[0])) this.feed.publish(change);
  }

  /** `dovecot-keywords`, `''` when it cannot be read. */
  #readKeywords(): Promise<string> {
    return fs.readFile(join(this.path, KEYWORDS), 'utf8').catch(() => '');
  }

  /**
   * Takes in the index log read from where it was read up to (from its start if another process replaced
   * it).
   */
  #applyLog(log: FileText): void {
    if (log.replaced) {
      this.#log = emptyLogState();
      this.#logOffset = 0;
      this.#logIdentity = log.identity;
    }
    const consumed = log.text.lastIndexOf('\n') + 1;
    replayIndexLog(log.text.slice(0, consumed), this.#log, (uid) => this.#index?.get(uid));
    this.#logOffset += consumed;
  }

  /**
   * Takes in the uidlist's new records, or all of it when the file was replaced. A new UIDVALIDITY or
   * mailbox GUID (another mailbox under this name) makes the folder gone for its sessions and starts a new
   * index: then it returns true.
   */
  async #applyUidList(read: FileText): Promise<boolean> {
    const path = join(this.path, UIDLIST);
    let consumed = read.text.lastIndexOf('\n') + 1;
    if (read.identity !== undefined && !read.replaced) {
      const lines = read.text.slice(0, consumed).split('\n').slice(0, -1);
      for (const record of parseUidRecords(lines)) this.#listRecord(record);
      this.#uidRecords += lines.length;
      this.#uidlistOffset += consumed;
      return false;
    }
    // No uidlist (or an unreadable one) means a new mailbox: every file gets a new UID.
    const list = parseUidList(read.text) ?? {
      version: 3,
      uidValidity: nextUidValidity(),
      nextUid: 1,
      headerExtensions: '',
      records: [],
    };
    const kept =
      this.#index !== undefined &&
      this.#index.uidValidity === list.uidValidity &&
      (list.mailboxGuid === undefined || list.mailboxGuid === this.#index.mailboxId);
    const mailboxGuid = ownString(list.mailboxGuid ?? (kept ? this.#index.mailboxId : newMailboxId()));
    let identity = read.identity;
    if (list.mailboxGuid === undefined) {
      // A uidlist without a GUID gets one at once (as Dovecot does), so that the mailbox id holds from the
      // first look on, whichever program looks next.
      const text = serializeUidList({ ...list, mailboxGuid });
      await writeAtomically(path, text, this.#options.fsync);
      identity = await identityOf(path);
      consumed = Buffer.byteLength(text);
    }
    if (this.#index && !kept) this.markGone();
    if (!kept) {
      this.#index = new MailboxIndex(list.uidValidity, mailboxGuid, 1, this.#log.highestModseq);
    }
    this.#listed.clear();
    for (const record of list.records) this.#listRecord(record);
    this.#index.uidNext = Math.max(this.#index.uidNext, list.nextUid);
    this.#headerExtensions = list.headerExtensions;
    this.#uidRecords = list.records.length;
    this.#uidlistIdentity = identity;
    this.#uidlistOffset = consumed;
    return !kept;
  }

  #listRecord(record: UidRecord): void {
    if (this.#index.get(record.uid)?.base !== record.base) this.#listed.set(record.base, record.uid);
    if (record.uid >= this.#index.uidNext) this.#index.uidNext = record.uid + 1;
  }

  /**
   * What the index needs of files it lacks: from the log when it knows them, else from the file (its
   * time, and its size with CRLF line endings, counted when the name does not say), 64 files at a time.
   */
  async #describe(adoptions: Adoption[]): Promise<Adoption[]> {
    const unknown = adoptions.filter((adoption) => !this.#log.messages.has(adoption.uid));
    await forEachConcurrently(unknown, 64, async (adoption) => {
      const path = this.#pathOf({
        base: adoption.base,
        dir: adoption.disk.dir,
        nameLetters: adoption.disk.letters,
      });
      const stat = await fs.stat(path);
      adoption.internalDate = Math.floor(stat.mtimeMs);
      adoption.size = sizeInBase(adoption.base, ',W=') ?? (await crlfSize(path));
    });
    return adoptions;
  }

  /**
   * Takes a file found on disk into the index. A message the log knows keeps its MODSEQ, unless its flag
   * letters changed since (another program changed its flags): then it gets a new one.
   */
  #adopt({ uid, base, disk, internalDate, size }: Adoption): { entry: IndexEntry; line: string } {
    const flags = flagsOfLetters(disk.letters, (letter) => this.#keywordOf(letter));
    const logged = this.#log.messages.get(uid);
    const known = newEntry({
      uid,
      id: messageIdOfBase(base),
      flags,
      internalTime: logged?.internalTime ?? internalDate!,
      size: logged?.size ?? size!,
      base: ownString(base),
      dir: disk.dir,
      nameLetters: disk.letters,
      lfOnly: sizeInBase(base, ',S=') !== (logged?.size ?? size!),
      loggedModseq: logged?.loggedModseq ?? 0,
      loggedLetters: logged?.loggedLetters ?? disk.letters,
    });
    const entry = logged ? this.#index.add(known, logged.loggedModseq) : this.#index.add(known);
    this.#track(entry);
    if (logged)
      return {
        entry,
        line: logged.loggedLetters === disk.letters ? '' : this.#flagsChanged(entry, flags, disk.letters),
      };
    entry.loggedModseq = entry.modseq;
    return { entry, line: messageLine(uid, entry) };
  }

  /** Records flags found changed on disk: a new MODSEQ, unless the log already has this change. */
  #flagsChanged(entry: MaildirEntry, flags: readonly string[], letters: string): string {
    if (entry.loggedLetters === letters && entry.loggedModseq > entry.modseq) {
      this.#index.replaceFlags(entry, flags, entry.loggedModseq);
      return '';
    }
    this.#index.replaceFlags(entry, flags);
    entry.loggedModseq = entry.modseq;
    entry.loggedLetters = letters;
    return flagsLine(entry.uid, entry.modseq, letters);
  }

  /** Makes a new entry the log's record of its message; its base is no longer only listed. */
  #track(entry: MaildirEntry): void {
    this.#log.messages.delete(entry.uid);
    this.#listed.delete(entry.base);
  }

  #pathOf(file: Pick<MaildirEntry, 'base' | 'dir' | 'nameLetters'>): string {
    return file.dir === 'new'
      ? join(this.path, 'new', file.base)
      : join(this.path, 'cur', maildirName(file.base, file.nameLetters));
  }

  /**
   * Gives a message's file the name of these flag letters, in `cur/`; false when the file is not where the
   * entry says (another program renamed or removed it meanwhile).
   */
  async #renameFile(file: MaildirEntry, letters: string): Promise<boolean> {
    const from = this.#pathOf(file);
    const name = maildirName(file.base, letters);
    this.#expect(basename(from), name);
    try {
      await fs.rename(from, join(this.path, 'cur', name));
      file.dir = 'cur';
      file.nameLetters = letters;
      return true;
    } catch (error) {
      this.#unexpect(basename(from), name);
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      return false;
    }
  }

  /**
   * Removes a message's file, followed when another program renamed it meanwhile (Dovecot moving it to
   * `cur/`, or changing its flags): left behind, it would come back at the next refresh with a new UID.
   */
  async #unlinkFile(file: MaildirEntry): Promise<void> {
    for (let attempt = 0; attempt < RENAMED_FILE_ATTEMPTS; attempt++) {
      const path = this.#pathOf(file);
      this.#expect(basename(path));
      try {
        await fs.unlink(path);
        return;
      } catch (error) {
        this.#unexpect(basename(path));
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || !(await this.#relocate(file))) return;
      }
    }
  }

  /**
   * Finds a message's file by its base in `cur/` and `new/`, where another program may have moved it, and
   * points the entry at it; false when it is gone (expunged by another writer: the next refresh removes it).
   */
  async #relocate(file: MaildirEntry): Promise<boolean> {
    for (const dir of ['cur', 'new'] as const) {
      const name = (await readDirectory(join(this.path, dir))).find(
        (fileName) => baseOfName(fileName) === file.base,
      );
      if (name === undefined) continue;
      file.dir = dir;
      file.nameLetters = lettersOfName(name);
      return true;
    }
    return false;
  }

  #keywordOf(letter: string): string | undefined {
    return this.#keywords[letter.charCodeAt(0) - 0x61];
  }

  /** The letter of a keyword, given one (and written to `dovecot-keywords`) if it has none yet. */
  #letterOf(keyword: string): string {
    let index = this.#keywords.indexOf(keyword);
    if (index === -1) {
      index = this.#keywords.indexOf(undefined);
      if (index === -1) index = this.#keywords.length;
      if (index >= MAX_MAILDIR_KEYWORDS) {
        throw new StoreRefusedError(`a Maildir folder holds at most ${MAX_MAILDIR_KEYWORDS} keywords`);
      }
      this.#keywords[index] = keyword;
      this.#keywordsDirty = true;
    }
    return keywordLetter(index);
  }

  #keywordsDirty = false;

  /**
   * The flag letters of each list of flags, keywords given letters as needed: all or none, so that a
   * delivery past the folder's keywords is refused before anything of it is stored.
   */
  #lettersOfAll(flagLists: readonly (readonly string[])[]): string[] {
    const keywords = [...this.#keywords];
    const dirty = this.#keywordsDirty;
    try {
      return flagLists.map((flags) => lettersOfFlags(flags, (keyword) => this.#letterOf(keyword)));
    } catch (error) {
      this.#keywords = keywords;
      this.#keywordsDirty = dirty;
      throw error;
    }
  }

  async #appendUidRecords(lines: string, count: number): Promise<void> {
    if (!lines) return;
    await this.#saveKeywords();
    await appendDurably(join(this.path, UIDLIST), lines, this.#options.fsync);
    this.#uidRecords += count;
    this.#uidlistOffset += Buffer.byteLength(lines);
  }

  async #saveKeywords(): Promise<void> {
    if (!this.#keywordsDirty) return;
    this.#keywordsDirty = false;
    // Dovecot re-reads the file only when its mtime, in whole seconds, has grown: it must grow every time.
    const path = join(this.path, KEYWORDS);
    const previous = await fs.stat(path).then(
      (stat) => Math.floor(stat.mtimeMs / 1000),
      () => 0,
    );
    const mtime = new Date(Math.max(Date.now(), (previous + 1) * 1000));
    await writeAtomically(path, serializeKeywords(this.#keywords), this.#options.fsync, mtime);
  }

  /** Appends to the index log; not flushed: what it holds can be found again from the files if lost. */
  async #appendLog(lines: string): Promise<void> {
    await this.#saveKeywords();
    if (!lines) return;
    const path = join(this.path, INDEX_LOG);
    await appendDurably(path, lines, false);
    this.#logOffset += lines.length;
    this.#logIdentity ??= await identityOf(path);
    this.#log.lines += lines.split('\n').length - 1;
  }

  /** Rewrites the uidlist and the log without the records of expunged messages, once they are many. */
  async #compact(): Promise<void> {
    const count = this.#index.count;
    if (this.#uidRecords > 2 * count + 64) {
      // The records kept keep their extensions, which other programs read (Dovecot's POP3 UIDL, GUID …).
      const written = parseUidList(await fs.readFile(join(this.path, UIDLIST), 'utf8').catch(() => ''));
      const extensions = new Map(
        written?.records.map((record) => [`${record.uid} ${record.base}`, record.extensions]),
      );
      const records = this.#index.entries().map((entry) => ({
        uid: entry.uid,
        base: entry.base,
        extensions: extensions.get(`${entry.uid} ${entry.base}`) ?? '',
      }));
      const list = {
        version: 3,
        uidValidity: this.#index.uidValidity,
        nextUid: this.#index.uidNext,
        mailboxGuid: this.#index.mailboxId,
        headerExtensions: this.#headerExtensions,
        records,
      };
      const text = serializeUidList(list);
      await writeAtomically(join(this.path, UIDLIST), text, this.#options.fsync);
      this.#uidRecords = records.length;
      this.#uidlistOffset = Buffer.byteLength(text);
      this.#uidlistIdentity = await identityOf(join(this.path, UIDLIST));
    }
    if (this.#log.lines > 2 * count + 256) {
      const text = compactIndexLog(this.#index.highestModseq, [
        ...this.#index.entries().map((entry): [number, LoggedMessage] => [entry.uid, entry]),
        ...this.#log.messages,
      ]);
      await writeAtomically(join(this.path, INDEX_LOG), text, this.#options.fsync);
      this.#logOffset = Buffer.byteLength(text);
      this.#logIdentity = await identityOf(join(this.path, INDEX_LOG));
      this.#log.lines = count + this.#log.messages.size + 1;
    }
    if (this.#cache.wantsCompaction(count)) await this.#cache.compact((id) => this.#index.hasId(id));
  }
}

/**
 * File timestamps move in clock ticks of a few milliseconds: a stamp taken within this many ms of a
 * change may equal the stamp after another change in the same tick, and is not trusted.
 */
const SAME_TIMESTAMP_WINDOW = 20;

/** The stamps of what another writer changes; see `#readStamps`. */
interface Stamps {
  readonly new: string;
  readonly cur: string;
  readonly uidlist: string;
  readonly log: string;
  readonly keywords: string;
  /** Some of it changed within {@link SAME_TIMESTAMP_WINDOW} ms of the stamps being taken. */
  readonly recent: boolean;
}

/** True when the stamps show no change. */
function sameStamps(later: Stamps, earlier: Stamps): boolean {
  return (
    later.new === earlier.new &&
    later.cur === earlier.cur &&
    later.uidlist === earlier.uidlist &&
    later.log === earlier.log &&
    later.keywords === earlier.keywords
  );
}

/**
 * Resolves once the event loop has polled for I/O at least once: the file-system events of changes made
 * before the call have been delivered by then (an immediate set while the loop polls runs before the
 * next poll, so it takes two).
 */
function afterPoll(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}

/** A pending {@link MaildirFolder.structure} call. */
interface StructureRequest {
  readonly uid: number;
  resolve(structure: MessageStructure): void;
  reject(error: unknown): void;
}

/** Where a file is, and its flag letters, as a directory listing shows. */
interface DiskFile {
  readonly dir: 'new' | 'cur';
  readonly letters: string;
}

/** A file the index is about to take in, and what `#describe` found out about it. */
interface Adoption {
  readonly uid: number;
  readonly base: string;
  readonly disk: DiskFile;
  internalDate?: number;
  size?: number;
}

function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((flag) => b.includes(flag));
}

/** `,S=<size>,W=<virtual size>` as Dovecot writes them, for those known. */
export function sizeSuffix(size: number | undefined, virtualSize: number | undefined): string {
  return `${size !== undefined ? `,S=${size}` : ''}${virtualSize !== undefined ? `,W=${virtualSize}` : ''}`;
}

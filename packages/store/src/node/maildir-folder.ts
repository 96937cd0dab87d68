import { createHash } from 'node:crypto';
import { type FSWatcher, promises as fs, watch } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CrlfNormalizer } from '@postwire/mime';
import { ChangeFeed } from '../change-feed.js';
import { MailboxInUseError, MailboxNotFoundError, StoreRefusedError } from '../errors.js';
import { nextUidValidity } from '../ids.js';
import { type IndexEntry, MailboxIndex, messageInfo } from '../mailbox-index.js';
import {
  flagsOfLetters,
  lettersOfFlags,
  maildirName,
  parseMaildirName,
  unmappedLetters,
} from '../maildir/filename.js';
import {
  compactIndexLog,
  emptyLogState,
  expungeLine,
  flagsLine,
  type IndexLogState,
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
  newMailboxGuid,
  parseUidList,
  serializeUidList,
  type UidRecord,
  uidListHeader,
  uidRecordLine,
} from '../maildir/uidlist.js';
import { describeMessage } from '../structure.js';
import type { ByteRange, FlagOperation, MailboxLock, MessageStructure, SetFlagsResult } from '../types.js';
import { acquireDotlock, isRunning } from './dotlock.js';

const UIDLIST = 'dovecot-uidlist';
const KEYWORDS = 'dovecot-keywords';
const INDEX_LOG = 'postwire-index';
const CACHE = 'postwire-cache';
const MAILDROP_LOCK = 'postwire-maildrop.lock';

/** Where a message's file is. */
interface MessageFile {
  readonly base: string;
  dir: 'new' | 'cur';
  letters: string;
  /** The file has bare LF line endings (Dovecot stores mail so): it is read with CRLF. */
  readonly lfOnly: boolean;
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
  return `M${createHash('sha256').update(base).digest('base64url').slice(0, 24)}`;
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
  #index!: MailboxIndex;
  readonly #files = new Map<number, MessageFile>();
  readonly #uidOfBase = new Map<string, number>();
  #keywords: (string | undefined)[] = [];
  #headerExtensions = '';
  #uidRecords = 0;
  readonly #log: IndexLogState = emptyLogState();
  #logOffset = 0;
  #stamps = '';
  #queue: Promise<unknown> = Promise.resolve();
  readonly #structures = new Map<number, MessageStructure>();
  #watchers = 0;
  #stopWatching: (() => void) | undefined;
  #maildropLocked = false;
  gone = false;

  private constructor(path: string, name: string, options: FolderOptions) {
    this.path = path;
    this.name = name;
    this.#options = options;
  }

  /** Opens a folder whose directories exist, reading its index from disk (creating the files it lacks). */
  static async open(path: string, name: string, options: FolderOptions): Promise<MaildirFolder> {
    const folder = new MaildirFolder(path, name, options);
    await folder.#locked(async () => {});
    return folder;
  }

  /** Creates the directories and files of a new, empty folder. */
  static async create(path: string): Promise<void> {
    for (const dir of ['cur', 'new', 'tmp'])
      await fs.mkdir(join(path, dir), { recursive: true, mode: 0o700 });
    await fs.writeFile(join(path, 'maildirfolder'), '');
    await writeAtomically(join(path, UIDLIST), uidListHeader(nextUidValidity(), 1, newMailboxGuid()), true);
  }

  get index(): MailboxIndex {
    return this.#index;
  }

  /** Reads what other writers changed, unless nothing on disk changed since the last look. */
  async sync(force = false): Promise<void> {
    await this.#exclusive(async () => {
      if (!force && (await this.#readStamps()) === this.#stamps) return;
      await this.#withLock(() => this.#refresh());
    });
  }

  async deliver(messages: readonly PreparedMessage[]): Promise<IndexEntry[]> {
    return this.#locked(async () => {
      const delivered: IndexEntry[] = [];
      let uidLines = '';
      let logLines = '';
      for (const message of messages) {
        const letters = lettersOfFlags(message.flags, (keyword) => this.#letterOf(keyword));
        const name =
          message.flags.length > 0
            ? join('cur', maildirName(message.base, letters))
            : join('new', message.base);
        await fs.utimes(message.tmpPath, message.internalDate, message.internalDate);
        await fs.rename(message.tmpPath, join(this.path, name));
        const entry = this.#index.add({
          id: messageIdOfBase(message.base),
          flags: message.flags,
          internalDate: message.internalDate,
          size: message.size,
        });
        this.#track(entry.uid, {
          base: message.base,
          dir: message.flags.length > 0 ? 'cur' : 'new',
          letters,
          lfOnly: parseMaildirName(message.base).size !== message.size,
        });
        uidLines += uidRecordLine({ uid: entry.uid, base: message.base, extensions: '' });
        const logged = {
          modseq: entry.modseq,
          internalDate: message.internalDate.getTime(),
          size: message.size,
          letters,
        };
        this.#log.messages.set(entry.uid, logged);
        logLines += messageLine(entry.uid, logged);
        delivered.push(entry);
      }
      if (this.#options.fsync)
        await Promise.all([syncDirectory(join(this.path, 'new')), syncDirectory(join(this.path, 'cur'))]);
      await this.#appendUidRecords(uidLines, messages.length);
      await this.#appendLog(logLines);
      for (const entry of delivered) this.feed.publish({ type: 'append', message: messageInfo(entry) });
      return delivered;
    });
  }

  async setFlags(
    uids: readonly number[],
    operation: FlagOperation,
    flags: readonly string[],
    unchangedSince: number | undefined,
  ): Promise<SetFlagsResult> {
    return this.#locked(async () => {
      for (const flag of flags) if (!flag.startsWith('\\')) this.#letterOf(flag);
      const result = this.#index.setFlags(uids, operation, flags, unchangedSince);
      let logLines = '';
      for (const change of result.changed) {
        const file = this.#files.get(change.uid)!;
        const letters = lettersOfFlags(
          change.flags,
          (keyword) => this.#letterOf(keyword),
          unmappedLetters(file.letters),
        );
        await this.#renameFile(file, letters);
        logLines += flagsLine(change.uid, change.modseq, letters);
        const logged = this.#log.messages.get(change.uid)!;
        logged.modseq = change.modseq;
        logged.letters = letters;
      }
      await this.#appendLog(logLines);
      for (const change of result.changed) this.feed.publish({ type: 'flags', ...change });
      return result;
    });
  }

  async expunge(uids: readonly number[]): Promise<number[]> {
    return this.#locked(async () => {
      for (const entry of this.#index.entries(uids)) {
        const file = this.#files.get(entry.uid)!;
        await fs.rm(this.#pathOf(file), { force: true });
      }
      if (this.#options.fsync)
        await Promise.all([syncDirectory(join(this.path, 'new')), syncDirectory(join(this.path, 'cur'))]);
      const removed = this.#index.remove(uids);
      for (const uid of removed.uids) this.#forget(uid);
      if (removed.uids.length > 0) {
        await this.#appendLog(expungeLine(removed.modseq));
        this.feed.publish({ type: 'expunge', ...removed });
      }
      return removed.uids;
    });
  }

  /**
   * Links (or copies) the given messages into files in `targetTmp`, ready for {@link deliver} into
   * another folder; a base the target already holds gets a new one (and so a new id).
   */
  async prepareCopies(
    uids: readonly number[],
    targetTmp: string,
    taken: (base: string) => boolean,
  ): Promise<PreparedMessage[]> {
    return this.#exclusive(async () => {
      const prepared: PreparedMessage[] = [];
      for (const entry of this.#index.entries(uids)) {
        const file = this.#files.get(entry.uid)!;
        const parsed = parseMaildirName(file.base);
        const base = taken(file.base)
          ? `${newBase()}${sizeSuffix(parsed.size, parsed.virtualSize)}`
          : file.base;
        const tmpPath = join(targetTmp, base);
        try {
          await fs.link(this.#pathOf(file), tmpPath);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
          await fs.copyFile(this.#pathOf(file), tmpPath);
        }
        prepared.push({
          tmpPath,
          base,
          flags: entry.flags,
          internalDate: entry.internalDate,
          size: entry.size,
        });
      }
      return prepared;
    });
  }

  /** True when a message with this base name is in the folder. */
  holdsBase(base: string): boolean {
    return this.#uidOfBase.has(base);
  }

  /** The message's bytes (CRLF line endings), whole or a range. */
  read(uid: number, range: ByteRange = { start: 0 }): ReadableStream<Uint8Array> {
    const file = this.#files.get(uid);
    if (!file) throw new MailboxNotFoundError(this.name, `no message with UID ${uid}`);
    const size = this.#index.get(uid)!.size;
    const start = Math.min(range.start, size);
    const end = Math.min(range.end ?? size, size);
    return readFileRange(
      () => this.#pathOf(file),
      file.lfOnly,
      start,
      end,
      () => this.sync(true),
    );
  }

  async structure(uid: number): Promise<MessageStructure> {
    const cached = this.#structures.get(uid);
    if (cached) return cached;
    const entry = this.#index.get(uid);
    if (!entry) throw new MailboxNotFoundError(this.name, `no message with UID ${uid}`);
    const cachePath = join(this.path, CACHE, `${entry.id}.json`);
    let structure: MessageStructure;
    try {
      structure = JSON.parse(await fs.readFile(cachePath, 'utf8')) as MessageStructure;
    } catch {
      structure = describeMessage(await collect(this.read(uid)));
      await fs.mkdir(join(this.path, CACHE), { recursive: true });
      await writeAtomically(cachePath, JSON.stringify(structure), false);
    }
    if (this.#structures.size >= 1000) this.#structures.delete(this.#structures.keys().next().value!);
    this.#structures.set(uid, structure);
    return structure;
  }

  /** Takes the maildrop lock, shared with other processes through a lock file. */
  async lockMaildrop(): Promise<MailboxLock> {
    if (this.#maildropLocked) throw new MailboxInUseError();
    const path = join(this.path, MAILDROP_LOCK);
    try {
      await fs.writeFile(path, `${process.pid}`, { flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(await fs.readFile(path, 'utf8').catch(() => '0'));
      if (holder === process.pid || (holder > 0 && isRunning(holder))) throw new MailboxInUseError();
      await fs.writeFile(path, `${process.pid}`);
    }
    this.#maildropLocked = true;
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        this.#maildropLocked = false;
        await fs.rm(path, { force: true });
      },
    };
  }

  /**
   * Starts looking for other writers while someone follows the change feed: file-system events when the
   * platform gives them, and a poll in any case. Returns the function that stops it.
   */
  watch(): () => void {
    if (this.#watchers++ === 0) {
      let pending: ReturnType<typeof setTimeout> | undefined;
      const soon = () => {
        pending ??= setTimeout(() => {
          pending = undefined;
          this.sync(true).catch(() => {});
        }, 20);
      };
      const watchers: FSWatcher[] = [];
      for (const dir of ['new', 'cur']) {
        try {
          watchers.push(watch(join(this.path, dir), { persistent: false }, soon));
        } catch {
          // No file-system events here: the poll alone finds changes.
        }
      }
      const poll = setInterval(() => this.sync(true).catch(() => {}), this.#options.pollInterval);
      poll.unref?.();
      this.#stopWatching = () => {
        clearInterval(poll);
        if (pending) clearTimeout(pending);
        for (const watcher of watchers) watcher.close();
      };
    }
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      if (--this.#watchers === 0) this.#stopWatching?.();
    };
  }

  /** Marks the folder deleted: its sessions are told, and its feed ends. */
  markGone(): void {
    this.gone = true;
    this.#stopWatching?.();
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
        await this.#refresh();
        return fn();
      }),
    );
  }

  async #withLock<T>(fn: () => Promise<T>): Promise<T> {
    if (this.gone) throw new MailboxNotFoundError(this.name);
    const release = await acquireDotlock(join(this.path, UIDLIST));
    try {
      return await fn();
    } finally {
      this.#stamps = await this.#readStamps();
      await release();
    }
  }

  /** What changes when another writer touches the folder: the directories, the uidlist, the log, the keywords. */
  async #readStamps(): Promise<string> {
    const stamps = await Promise.all(
      ['new', 'cur', UIDLIST, INDEX_LOG, KEYWORDS].map((entry) =>
        fs.stat(join(this.path, entry), { bigint: true }).then(
          (stat) => `${stat.mtimeNs}:${stat.size}:${stat.ino}`,
          () => '-',
        ),
      ),
    );
    return stamps.join(' ');
  }

  /** Brings the index in step with the disk (the uidlist lock is held). */
  async #refresh(): Promise<void> {
    const [uidText, keywordText, logText, newNames, curNames] = await Promise.all([
      fs.readFile(join(this.path, UIDLIST), 'utf8').catch(() => ''),
      fs.readFile(join(this.path, KEYWORDS), 'utf8').catch(() => ''),
      readFrom(join(this.path, INDEX_LOG), this.#logOffset),
      readDirectory(join(this.path, 'new')),
      readDirectory(join(this.path, 'cur')),
    ]);
    this.#keywords = parseKeywords(keywordText);
    const consumed = logText.lastIndexOf('\n') + 1;
    replayIndexLog(logText.slice(0, consumed), this.#log);
    this.#logOffset += Buffer.byteLength(logText.slice(0, consumed));

    let list = parseUidList(uidText);
    if (!list) {
      // No uidlist (or an unreadable one): a new UIDVALIDITY, and every file gets a new UID.
      list = {
        version: 3,
        uidValidity: nextUidValidity(),
        nextUid: 1,
        headerExtensions: newMailboxGuid(),
        records: [],
      };
      await writeAtomically(join(this.path, UIDLIST), serializeUidList(list), this.#options.fsync);
      this.#index = new MailboxIndex(list.uidValidity, 1, this.#log.highestModseq);
      this.#files.clear();
      this.#uidOfBase.clear();
    }
    if (!this.#index || this.#index.uidValidity !== list.uidValidity) {
      if (this.#index) this.markGone();
      this.#index = new MailboxIndex(list.uidValidity, 1, this.#log.highestModseq);
    }
    if (this.#log.highestModseq > this.#index.highestModseq)
      this.#index.highestModseq = this.#log.highestModseq;
    this.#headerExtensions = list.headerExtensions;
    this.#uidRecords = list.records.length;

    const onDisk = new Map<string, { dir: 'new' | 'cur'; letters: string }>();
    for (const [dir, names] of [
      ['new', newNames],
      ['cur', curNames],
    ] as const) {
      for (const fileName of names) {
        const { base, letters } = parseMaildirName(fileName);
        onDisk.set(base, { dir, letters });
      }
    }
    const index = this.#index;
    let logLines = '';
    const added: IndexEntry[] = [];
    const flagged: IndexEntry[] = [];
    const listed = new Set<string>();
    for (const record of list.records) {
      listed.add(record.base);
      const disk = onDisk.get(record.base);
      if (!disk) continue;
      const known = index.get(record.uid);
      if (known) {
        const file = this.#files.get(record.uid)!;
        file.dir = disk.dir;
        if (file.letters === disk.letters) continue;
        file.letters = disk.letters;
        const flags = flagsOfLetters(disk.letters, (letter) => this.#keywordOf(letter));
        if (sameFlags(flags, known.flags)) continue;
        logLines += this.#flagsChanged(known, flags, disk.letters);
        flagged.push(known);
        continue;
      }
      if (this.#uidOfBase.has(record.base)) continue;
      const { entry, line } = await this.#adopt(record, disk);
      logLines += line;
      added.push(entry);
    }
    index.uidNext = Math.max(index.uidNext, list.nextUid);

    const vanished = index.entries().filter((entry) => !onDisk.has(this.#files.get(entry.uid)!.base));
    let newRecords = '';
    for (const [base, disk] of onDisk) {
      if (listed.has(base) || this.#uidOfBase.has(base)) continue;
      const record: UidRecord = { uid: index.uidNext, base, extensions: '' };
      newRecords += uidRecordLine(record);
      const { entry, line } = await this.#adopt(record, disk);
      logLines += line;
      added.push(entry);
    }
    const removed = index.remove(vanished.map((entry) => entry.uid));
    for (const uid of removed.uids) this.#forget(uid);
    if (removed.uids.length > 0) logLines += expungeLine(removed.modseq);
    await this.#appendUidRecords(newRecords, newRecords ? newRecords.split('\n').length - 1 : 0);
    await this.#appendLog(logLines);
    await this.#compact();
    for (const entry of added) this.feed.publish({ type: 'append', message: messageInfo(entry) });
    for (const entry of flagged)
      this.feed.publish({ type: 'flags', uid: entry.uid, flags: [...entry.flags], modseq: entry.modseq });
    if (removed.uids.length > 0) this.feed.publish({ type: 'expunge', ...removed });
  }

  /**
   * Takes a file found on disk into the index. A message the log knows keeps its MODSEQ, unless its flag
   * letters changed since (another program changed its flags): then it gets a new one.
   */
  async #adopt(
    record: UidRecord,
    disk: { dir: 'new' | 'cur'; letters: string },
  ): Promise<{ entry: IndexEntry; line: string }> {
    const parsed = parseMaildirName(record.base);
    const flags = flagsOfLetters(disk.letters, (letter) => this.#keywordOf(letter));
    const file: MessageFile = {
      base: record.base,
      dir: disk.dir,
      letters: disk.letters,
      lfOnly:
        parsed.size !== undefined && parsed.virtualSize !== undefined && parsed.size !== parsed.virtualSize,
    };
    const id = messageIdOfBase(record.base);
    const logged = this.#log.messages.get(record.uid);
    if (logged) {
      const entry = this.#index.add(
        { uid: record.uid, id, flags, internalDate: new Date(logged.internalDate), size: logged.size },
        logged.modseq,
      );
      this.#track(entry.uid, file);
      return {
        entry,
        line: logged.letters === disk.letters ? '' : this.#flagsChanged(entry, flags, disk.letters),
      };
    }
    const stat = await fs.stat(this.#pathOf(file));
    const size = parsed.virtualSize ?? parsed.size ?? stat.size;
    const internalDate = Math.floor(stat.mtimeMs);
    const entry = this.#index.add({ uid: record.uid, id, flags, internalDate: new Date(internalDate), size });
    const fresh = { modseq: entry.modseq, internalDate, size, letters: disk.letters };
    this.#log.messages.set(entry.uid, fresh);
    this.#track(entry.uid, file);
    return { entry, line: messageLine(entry.uid, fresh) };
  }

  /** Records flags found changed on disk: a new MODSEQ, unless the log already has this change. */
  #flagsChanged(entry: IndexEntry, flags: readonly string[], letters: string): string {
    const logged = this.#log.messages.get(entry.uid)!;
    if (logged.letters === letters && logged.modseq > entry.modseq) {
      this.#index.replaceFlags(entry, flags, logged.modseq);
      return '';
    }
    this.#index.replaceFlags(entry, flags);
    logged.modseq = entry.modseq;
    logged.letters = letters;
    return flagsLine(entry.uid, entry.modseq, letters);
  }

  #track(uid: number, file: MessageFile): void {
    this.#files.set(uid, file);
    this.#uidOfBase.set(file.base, uid);
  }

  #forget(uid: number): void {
    const file = this.#files.get(uid);
    if (file) this.#uidOfBase.delete(file.base);
    this.#files.delete(uid);
    this.#log.messages.delete(uid);
    this.#structures.delete(uid);
  }

  #pathOf(file: MessageFile): string {
    return file.dir === 'new'
      ? join(this.path, 'new', file.base)
      : join(this.path, 'cur', maildirName(file.base, file.letters));
  }

  async #renameFile(file: MessageFile, letters: string): Promise<void> {
    const from = this.#pathOf(file);
    const to = join(this.path, 'cur', maildirName(file.base, letters));
    try {
      await fs.rename(from, to);
      file.dir = 'cur';
      file.letters = letters;
    } catch (error) {
      // Expunged by another writer meanwhile: the next refresh removes it.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
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

  async #appendUidRecords(lines: string, count: number): Promise<void> {
    if (!lines) return;
    await this.#saveKeywords();
    await appendDurably(join(this.path, UIDLIST), lines, this.#options.fsync);
    this.#uidRecords += count;
  }

  async #saveKeywords(): Promise<void> {
    if (!this.#keywordsDirty) return;
    this.#keywordsDirty = false;
    await writeAtomically(join(this.path, KEYWORDS), serializeKeywords(this.#keywords), this.#options.fsync);
  }

  async #appendLog(lines: string): Promise<void> {
    await this.#saveKeywords();
    if (!lines) return;
    await appendDurably(join(this.path, INDEX_LOG), lines, this.#options.fsync);
    this.#logOffset += Buffer.byteLength(lines);
    this.#log.lines += lines.split('\n').length - 1;
  }

  /** Rewrites the uidlist and the log without the records of expunged messages, once they are many. */
  async #compact(): Promise<void> {
    const count = this.#index.count;
    if (this.#uidRecords > 2 * count + 64) {
      const records = this.#index
        .entries()
        .map((entry) => ({ uid: entry.uid, base: this.#files.get(entry.uid)!.base, extensions: '' }));
      const list = {
        version: 3,
        uidValidity: this.#index.uidValidity,
        nextUid: this.#index.uidNext,
        headerExtensions: this.#headerExtensions,
        records,
      };
      await writeAtomically(join(this.path, UIDLIST), serializeUidList(list), this.#options.fsync);
      this.#uidRecords = records.length;
    }
    if (this.#log.lines > 2 * count + 256) {
      const text = compactIndexLog(this.#index.highestModseq, this.#log.messages);
      await writeAtomically(join(this.path, INDEX_LOG), text, this.#options.fsync);
      this.#logOffset = Buffer.byteLength(text);
      this.#log.lines = this.#log.messages.size + 1;
    }
  }
}

function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((flag) => b.includes(flag));
}

/** `,S=<size>,W=<virtual size>` as Dovecot writes them, for those known. */
export function sizeSuffix(size: number | undefined, virtualSize: number | undefined): string {
  return `${size !== undefined ? `,S=${size}` : ''}${virtualSize !== undefined ? `,W=${virtualSize}` : ''}`;
}

async function readDirectory(path: string): Promise<string[]> {
  try {
    return (await fs.readdir(path)).filter((name) => !name.startsWith('.'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** The text of a file from `offset` on (`''` if it does not exist). */
async function readFrom(path: string, offset: number): Promise<string> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await handle.stat();
    if (size <= offset) return '';
    const buffer = Buffer.alloc(size - offset);
    await handle.read(buffer, 0, buffer.length, offset);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}

/** Writes a file through a temporary file and a rename, so that readers see the old or the new whole. */
export async function writeAtomically(path: string, text: string, durable: boolean): Promise<void> {
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
  const handle = await fs.open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(text);
    if (durable) await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temporary, path);
}

async function appendDurably(path: string, text: string, durable: boolean): Promise<void> {
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

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

const READ_CHUNK = 64 * 1024;

/**
 * Streams `[start, end)` of a message file, read lazily with backpressure. A file stored with bare LF line
 * endings is read with CRLF, the range applying to that form. The file is looked up when reading starts,
 * and once more after `resync` if a flag change renamed it meanwhile.
 */
function readFileRange(
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
      const wanted = lfOnly ? READ_CHUNK : Math.min(READ_CHUNK, end - position);
      if (wanted <= 0 || (lfOnly && produced >= end)) {
        await finish();
        controller.close();
        return;
      }
      const buffer = Buffer.alloc(wanted);
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
    },
    async cancel() {
      await finish();
    },
  });
}

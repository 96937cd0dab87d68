import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { CrlfNormalizer } from '@postwire/mime';
import { untilClosed } from '../change-feed.js';
import { MailboxExistsError, MailboxNotFoundError, StoreRefusedError } from '../errors.js';
import { canonicalFlags } from '../flags.js';
import { messageInfo } from '../mailbox-index.js';
import { mailboxListEntries } from '../mailbox-list.js';
import { folderOfMailbox, mailboxOfFolder } from '../maildir/folder-names.js';
import { parseSubscriptions, serializeSubscriptions } from '../maildir/subscriptions.js';
import { canonicalMailboxName, canonicalUserName, parentNames } from '../names.js';
import { assertWithinQuota, type QuotaLimits, quotaUsage } from '../quota.js';
import { sourceChunks } from '../source.js';
import type {
  AppendOptions,
  AppendResult,
  ByteRange,
  CopyResult,
  FlagOperation,
  Mailbox,
  MailboxChange,
  MailboxListEntry,
  MailboxLock,
  MailboxStatus,
  MailStore,
  MessageInfo,
  MessageSource,
  MessageStructure,
  QuotaUsage,
  SetFlagsOptions,
  SetFlagsResult,
  SpecialUse,
  UserMail,
} from '../types.js';
import { acquireDotlock } from './dotlock.js';
import { DELETED_PREFIX, writeAtomically } from './files.js';
import { type FolderOptions, MaildirFolder, newBase, sizeSuffix } from './maildir-folder.js';

/** Options of {@link createMaildirStore}. */
export interface MaildirStoreOptions {
  /** The directory that holds one Maildir per user (`<root>/<user>`), as Dovecot's `maildir:<root>/%u`. */
  readonly root: string;
  /** Per-user limits: octets over all mailboxes, and number of messages. */
  readonly quota?: QuotaLimits;
  /** Flush each delivery and change to disk before it is acknowledged (default `true`). */
  readonly fsync?: boolean;
  /** How often a mailbox that someone follows looks for changes by other programs, in ms (default 2000). */
  readonly pollInterval?: number;
}

/** Postwire's per-user file: the SPECIAL-USE attributes. */
const USER_FILE = 'postwire-mailboxes.json';
/** Dovecot's list of subscriptions, shared with it. */
const SUBSCRIPTIONS = 'subscriptions';

interface UserFile {
  subscriptions: string[];
  specialUse: Record<string, SpecialUse>;
}

/**
 * A store on Maildir++ folders laid out as Dovecot lays them out (`maildir:<root>/%u`), sharing Dovecot's
 * `dovecot-uidlist` and `dovecot-keywords`, so that Dovecot and Postwire can serve the same mail. Delivery
 * goes through `tmp/` and a rename, flushed to disk; a process killed at any point leaves no partial
 * message visible, and a message whose UID was not yet recorded gets one at the next look. A mailbox's id
 * is Dovecot's mailbox GUID, the `G` field of its `dovecot-uidlist`.
 *
 * The sessions of a user share one state in the process (each folder's index, watchers and change feed),
 * held while any of them has a `UserMail` not yet released or a `Mailbox` not yet closed, and dropped
 * with the last of them.
 */
export function createMaildirStore(options: MaildirStoreOptions): MailStore {
  const folderOptions: FolderOptions = {
    fsync: options.fsync ?? true,
    pollInterval: options.pollInterval ?? 2000,
  };
  const users = new Map<string, MaildirUser>();
  return {
    async user(name) {
      const canonical = canonicalUserName(name);
      let user = users.get(canonical);
      if (!user) {
        const created = new MaildirUser(
          canonical,
          join(options.root, canonical),
          options.quota ?? {},
          folderOptions,
          () => {
            if (users.get(canonical) === created) users.delete(canonical);
          },
        );
        users.set(canonical, created);
        user = created;
      }
      user.acquire();
      try {
        await user.ready;
      } catch (error) {
        await user.release();
        throw error;
      }
      return new MaildirUserMail(user);
    },
    async close() {
      const open = [...users.values()];
      users.clear();
      for (const user of open) await user.closeAll();
    },
  };
}

/**
 * Releases the share of a handle that was dropped without `release()` or `close()`, once it is collected,
 * so that a forgotten handle delays the release of its user's state but never keeps it for good.
 */
const unreleased = new FinalizationRegistry<MaildirUser>((user) => {
  user.release().catch(() => {});
});

/** A session's handle on a user's mail: the shared state, until released. */
class MaildirUserMail implements UserMail {
  readonly user: string;
  #shared: MaildirUser | undefined;

  constructor(shared: MaildirUser) {
    this.user = shared.user;
    this.#shared = shared;
    unreleased.register(this, shared, this);
  }

  async list(): Promise<MailboxListEntry[]> {
    return this.#use((shared) => shared.list());
  }

  async create(name: string, options?: { specialUse?: SpecialUse }): Promise<void> {
    return this.#use((shared) => shared.create(name, options));
  }

  async delete(name: string): Promise<void> {
    return this.#use((shared) => shared.delete(name));
  }

  async rename(from: string, to: string): Promise<void> {
    return this.#use((shared) => shared.rename(from, to));
  }

  async subscribe(name: string): Promise<void> {
    return this.#use((shared) => shared.subscribe(name));
  }

  async unsubscribe(name: string): Promise<void> {
    return this.#use((shared) => shared.unsubscribe(name));
  }

  async status(name: string): Promise<MailboxStatus> {
    return this.#use((shared) => shared.status(name));
  }

  async open(name: string): Promise<Mailbox> {
    return this.#use((shared) => shared.open(name));
  }

  async quota(): Promise<QuotaUsage> {
    return this.#use((shared) => shared.quota());
  }

  async release(): Promise<void> {
    const shared = this.#shared;
    if (!shared) return;
    this.#shared = undefined;
    unreleased.unregister(this);
    await shared.release();
  }

  /**
   * Runs `operation` on the shared state, counted as a handle until it settles: a handle dropped and
   * collected while its call is under way (`(await store.user(name)).open(mailbox)`) must not close
   * the folders the call is opening.
   */
  async #use<T>(operation: (shared: MaildirUser) => Promise<T>): Promise<T> {
    const shared = this.#shared;
    if (!shared) throw new StoreRefusedError(`this handle on ${this.user}'s mail was released`);
    shared.acquire();
    try {
      return await operation(shared);
    } finally {
      await shared.release();
    }
  }
}

/** One user's state in the process, shared by the handles of every session of that user. */
class MaildirUser {
  readonly user: string;
  /** Settles once the user's mail root exists. */
  readonly ready: Promise<void>;
  readonly #root: string;
  readonly #quota: QuotaLimits;
  readonly #options: FolderOptions;
  /** Called when the last handle goes: the store forgets this state. */
  readonly #onUnused: () => void;
  /** Open folders by mailbox name, shared by every session of this process. */
  readonly #folders = new Map<string, Promise<MaildirFolder>>();
  /** The `UserMail` handles not released and the `Mailbox` handles not closed. */
  #handles = 0;
  /** The last addition checked against the quota, which the next one waits for (see `#withinQuota`). */
  #quotaTurn: Promise<unknown> = Promise.resolve();

  constructor(user: string, root: string, quota: QuotaLimits, options: FolderOptions, onUnused: () => void) {
    this.user = user;
    this.#root = root;
    this.#quota = quota;
    this.#options = options;
    this.#onUnused = onUnused;
    this.ready = this.#init();
    this.ready.catch(() => {});
  }

  /** Counts a new handle. */
  acquire(): void {
    this.#handles++;
  }

  /** Uncounts a handle; with the last one, the state is dropped and its folders closed. */
  async release(): Promise<void> {
    if (--this.#handles > 0) return;
    this.#onUnused();
    await this.closeAll();
  }

  async #init(): Promise<void> {
    try {
      await fs.access(join(this.#root, 'dovecot-uidlist'));
    } catch {
      await MaildirFolder.create(this.#root);
      await fs.rm(join(this.#root, 'maildirfolder'), { force: true });
    }
  }

  async list(): Promise<MailboxListEntry[]> {
    const file = await this.#readUserFile();
    const names = ['INBOX', ...(await this.#folderNames())];
    return mailboxListEntries(
      new Map(names.map((name) => [name, file.specialUse[name]] as const)),
      file.subscriptions,
    );
  }

  async create(name: string, options: { specialUse?: SpecialUse } = {}): Promise<void> {
    const canonical = canonicalMailboxName(name);
    const path = this.#pathOf(canonical);
    if (canonical === 'INBOX' || (await exists(path))) throw new MailboxExistsError(canonical);
    for (const parent of parentNames(canonical)) {
      const parentPath = this.#pathOf(parent);
      if (!(await exists(parentPath))) await MaildirFolder.create(parentPath);
    }
    // `cur/` is made first, alone: of sessions or processes creating the mailbox at once, one makes it.
    await fs.mkdir(path, { recursive: true, mode: 0o700 });
    await fs.mkdir(join(path, 'cur'), { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'EEXIST' ? new MailboxExistsError(canonical) : error;
    });
    await MaildirFolder.create(path);
    if (options.specialUse) {
      const specialUse = options.specialUse;
      await this.#updateUserFile((file) => {
        file.specialUse[canonical] = specialUse;
      });
    }
  }

  async delete(name: string): Promise<void> {
    const canonical = canonicalMailboxName(name);
    if (canonical === 'INBOX') throw new StoreRefusedError('INBOX cannot be deleted');
    const path = this.#pathOf(canonical);
    if (!(await exists(path))) throw new MailboxNotFoundError(canonical);
    const folder = await this.#folders.get(canonical)?.catch(() => undefined);
    // Not while a session holds the maildrop lock; held through the rename, the lock goes with the folder.
    const unlock = await MaildirFolder.takeMaildrop(path);
    // Out of sight in one rename (into INBOX's tmp/, which every reader ignores), then removed.
    const trash = join(this.#root, 'tmp', `${DELETED_PREFIX}${randomUUID()}`);
    try {
      await fs.rename(path, trash);
    } finally {
      await unlock();
    }
    folder?.markGone();
    this.#folders.delete(canonical);
    // The mailbox is gone once out of sight: what cannot be removed now, the next open of INBOX removes.
    await fs.rm(trash, { recursive: true, force: true }).catch(() => {});
    await this.#updateUserFile((file) => {
      delete file.specialUse[canonical];
    });
  }

  async rename(from: string, to: string): Promise<void> {
    const source = canonicalMailboxName(from);
    const target = canonicalMailboxName(to);
    if (!(source === 'INBOX' || (await exists(this.#pathOf(source))))) throw new MailboxNotFoundError(source);
    if (target === 'INBOX' || (await exists(this.#pathOf(target)))) throw new MailboxExistsError(target);
    if (target.startsWith(`${source}/`)) throw new StoreRefusedError('a mailbox cannot move under itself');
    // INBOX's children stay where they are; another mailbox's move with it, onto names that must all be
    // free: a rename onto an existing folder would fail halfway, or replace an empty one.
    const moving =
      source === 'INBOX'
        ? []
        : [source, ...(await this.#folderNames()).filter((name) => name.startsWith(`${source}/`))];
    for (const name of moving) {
      const newName = target + name.slice(source.length);
      if (await exists(this.#pathOf(newName))) throw new MailboxExistsError(newName);
    }
    for (const parent of parentNames(target)) {
      if (!(await exists(this.#pathOf(parent)))) await MaildirFolder.create(this.#pathOf(parent));
    }
    if (source === 'INBOX') {
      // RFC 9051 §6.3.6: the messages move to a new mailbox (with a new id, RFC 8474 §4); INBOX stays,
      // empty, with its id.
      await this.create(target);
      const inbox = await this.#folder('INBOX');
      const uids = inbox.index.entries().map((entry) => entry.uid);
      // A move, not counted against the quota.
      await this.#copy(inbox, uids, target, false);
      await inbox.expunge(uids);
      return;
    }
    const renamed: [string, string][] = [];
    for (const name of moving) {
      const newName = target + name.slice(source.length);
      await fs.rename(this.#pathOf(name), this.#pathOf(newName));
      renamed.push([name, newName]);
    }
    for (const [oldName, newName] of renamed) {
      const folder = this.#folders.get(oldName);
      this.#folders.delete(oldName);
      if (folder) {
        this.#folders.set(newName, folder);
        folder.then(
          (open) => {
            open.name = newName;
            open.path = this.#pathOf(newName);
          },
          () => {},
        );
      }
    }
    await this.#updateUserFile((file) => {
      for (const [oldName, newName] of renamed) {
        const specialUse = file.specialUse[oldName];
        if (!specialUse) continue;
        delete file.specialUse[oldName];
        file.specialUse[newName] = specialUse;
      }
    });
  }

  async subscribe(name: string): Promise<void> {
    const canonical = canonicalMailboxName(name);
    await this.#updateUserFile((file) => {
      if (!file.subscriptions.includes(canonical)) file.subscriptions.push(canonical);
    });
  }

  async unsubscribe(name: string): Promise<void> {
    const canonical = canonicalMailboxName(name);
    await this.#updateUserFile((file) => {
      file.subscriptions = file.subscriptions.filter((subscription) => subscription !== canonical);
    });
  }

  async status(name: string): Promise<MailboxStatus> {
    const folder = await this.#folder(canonicalMailboxName(name));
    return folder.index.status();
  }

  async open(name: string): Promise<Mailbox> {
    const folder = await this.#folder(canonicalMailboxName(name));
    const mailbox = new MaildirMailbox(this, folder);
    unreleased.register(mailbox, this, mailbox);
    return mailbox;
  }

  async quota(): Promise<QuotaUsage> {
    const statuses: MailboxStatus[] = [];
    for (const name of ['INBOX', ...(await this.#folderNames())]) {
      // A directory that is not a mailbox (no `cur/`), or a mailbox deleted meanwhile, holds nothing.
      const status = await this.status(name).catch((error: unknown) => {
        if (error instanceof MailboxNotFoundError) return undefined;
        throw error;
      });
      if (status) statuses.push(status);
    }
    return quotaUsage(statuses, this.#quota);
  }

  /** Throws when adding `messages` messages of `size` octets in all would exceed the quota. */
  async checkQuota(size: number, messages: number): Promise<void> {
    await assertWithinQuota(() => this.quota(), this.#quota, size, messages);
  }

  /** Writes a message into a folder's `tmp/`, flushed, and delivers it. */
  async append(folder: MaildirFolder, source: MessageSource, options: AppendOptions): Promise<AppendResult> {
    const flags = canonicalFlags(options.flags ?? []);
    const base = newBase();
    // Each path is taken when used: a rename of the mailbox meanwhile moves the file with its folder.
    const inTmp = (name: string) => join(folder.path, 'tmp', name);
    /** The name the file takes once written, with its size. */
    let named: string | undefined;
    try {
      const size = await writeMessage(inTmp(base), source, this.#options.fsync);
      const finalBase = `${base}${sizeSuffix(size, size)}`;
      named = finalBase;
      return await this.#withinQuota(size, 1, async () => {
        const finalTmp = inTmp(finalBase);
        await fs.rename(inTmp(base), finalTmp);
        const [entry] = await folder.deliver([
          {
            tmpPath: finalTmp,
            base: finalBase,
            flags,
            internalDate: options.internalDate ?? new Date(),
            size,
          },
        ]);
        return {
          uid: entry!.uid,
          id: entry!.id,
          uidValidity: folder.index.uidValidity,
          modseq: entry!.modseq,
        };
      });
    } catch (error) {
      await fs.rm(inTmp(base), { force: true });
      if (named !== undefined) await fs.rm(inTmp(named), { force: true });
      throw error;
    }
  }

  /**
   * Copies messages of `folder` into the user's mailbox `target`; with `counted` (a COPY, not the first half
   * of a MOVE, which adds nothing), refused when they would pass the quota.
   */
  async copy(
    folder: MaildirFolder,
    uids: readonly number[],
    target: string,
    counted = true,
  ): Promise<CopyResult> {
    return this.#copy(folder, uids, canonicalMailboxName(target), counted);
  }

  async #copy(
    folder: MaildirFolder,
    uids: readonly number[],
    target: string,
    counted: boolean,
  ): Promise<CopyResult> {
    const destination = await this.#folder(target);
    const entries = folder.index.entries(uids);
    const copy = async (): Promise<CopyResult> => {
      const prepared = await folder.prepareCopies(
        entries.map((entry) => entry.uid),
        join(destination.path, 'tmp'),
        (base) => destination.holdsBase(base),
      );
      const delivered = await destination.deliver(prepared).catch(async (error: unknown) => {
        await Promise.all(prepared.map((message) => fs.rm(message.tmpPath, { force: true })));
        throw error;
      });
      return {
        uidValidity: destination.index.uidValidity,
        sourceUids: prepared.map((message) => message.sourceUid),
        targetUids: delivered.map((entry) => entry.uid),
      };
    };
    if (!counted) return copy();
    return this.#withinQuota(
      entries.reduce((sum, entry) => sum + entry.size, 0),
      entries.length,
      copy,
    );
  }

  /**
   * Runs `add`, which adds `messages` messages of `size` octets in all, once the quota has room for them:
   * with limits, one such addition at a time in the process, each checked after the one before it landed.
   */
  async #withinQuota<T>(size: number, messages: number, add: () => Promise<T>): Promise<T> {
    if (this.#quota.storage === undefined && this.#quota.messages === undefined) return add();
    const run = this.#quotaTurn.then(async () => {
      await this.checkQuota(size, messages);
      return add();
    });
    this.#quotaTurn = run.catch(() => {});
    return run;
  }

  /** Closes every folder this user opened: watchers stopped, feeds ended, operations under way finished. */
  async closeAll(): Promise<void> {
    const folders = [...this.#folders.values()];
    this.#folders.clear();
    for (const folder of folders) await (await folder.catch(() => undefined))?.close();
  }

  /**
   * The shared folder of a mailbox, opened once per process, in step with the disk: synced when it was
   * open already (opening it read the disk).
   */
  async #folder(name: string): Promise<MaildirFolder> {
    for (let open = this.#folders.get(name); open; open = this.#folders.get(name)) {
      const folder = await open.catch(() => undefined);
      if (folder && !folder.gone) {
        try {
          await folder.sync();
        } catch (error) {
          if (!folder.gone) throw error;
        }
        // Found deleted by another program: the mailbox may have been created again under its name.
        if (!folder.gone) return folder;
      }
      // The first of concurrent opens to see it gone replaces it; the others take the replacement.
      if (this.#folders.get(name) === open) {
        this.#folders.delete(name);
        break;
      }
    }
    // Registered before any wait, so that concurrent opens of the mailbox share the one folder.
    const opening = this.#openFolder(name);
    this.#folders.set(name, opening);
    opening.catch(() => {
      if (this.#folders.get(name) === opening) this.#folders.delete(name);
    });
    return opening;
  }

  async #openFolder(name: string): Promise<MaildirFolder> {
    const path = this.#pathOf(name);
    if (name !== 'INBOX' && !(await exists(join(path, 'cur')))) throw new MailboxNotFoundError(name);
    return MaildirFolder.open(path, name, this.#options);
  }

  #pathOf(name: string): string {
    return join(this.#root, folderOfMailbox(name));
  }

  /** The mailbox names of the folders on disk (INBOX not included). */
  async #folderNames(): Promise<string[]> {
    const names: string[] = [];
    for (const entry of await fs.readdir(this.#root, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const name = mailboxOfFolder(entry.name);
      if (!name) continue;
      try {
        if (canonicalMailboxName(name) === name) names.push(name);
      } catch {
        // A directory whose name is not a mailbox name Postwire allows: not listed.
      }
    }
    return names;
  }

  async #readUserFile(): Promise<UserFile> {
    const [json, subscriptions] = await Promise.all([
      fs.readFile(join(this.#root, USER_FILE), 'utf8').catch(() => '{}'),
      fs.readFile(join(this.#root, SUBSCRIPTIONS), 'utf8').catch(() => undefined),
    ]);
    let specialUse: Record<string, SpecialUse> = {};
    try {
      specialUse = (JSON.parse(json) as Partial<UserFile>).specialUse ?? {};
    } catch {
      // An unreadable file: no attributes.
    }
    return {
      subscriptions: subscriptions === undefined ? ['INBOX'] : parseSubscriptions(subscriptions),
      specialUse,
    };
  }

  /**
   * Changes the subscriptions and attributes under Dovecot's lock of its subscriptions file, so that
   * concurrent changes from several processes, Dovecot included, all land.
   */
  async #updateUserFile(change: (file: UserFile) => void): Promise<void> {
    const release = await acquireDotlock(join(this.#root, SUBSCRIPTIONS));
    try {
      const file = await this.#readUserFile();
      const subscriptionsBefore = serializeSubscriptions(file.subscriptions);
      const specialUseBefore = JSON.stringify(file.specialUse);
      change(file);
      const subscriptions = serializeSubscriptions(file.subscriptions);
      if (subscriptions !== subscriptionsBefore) {
        await writeAtomically(join(this.#root, SUBSCRIPTIONS), subscriptions, this.#options.fsync);
      }
      if (JSON.stringify(file.specialUse) !== specialUseBefore) {
        await writeAtomically(
          join(this.#root, USER_FILE),
          JSON.stringify({ specialUse: file.specialUse }),
          this.#options.fsync,
        );
      }
    } finally {
      await release();
    }
  }
}

class MaildirMailbox implements Mailbox {
  readonly #user: MaildirUser;
  readonly #folder: MaildirFolder;
  readonly #closed = new AbortController();

  /** Counts as a handle on `user`'s state until closed. */
  constructor(user: MaildirUser, folder: MaildirFolder) {
    this.#user = user;
    this.#folder = folder;
    user.acquire();
  }

  get name(): string {
    return this.#folder.name;
  }

  async status(): Promise<MailboxStatus> {
    await this.#live().syncForRead();
    return this.#folder.index.status();
  }

  async messages(uids?: readonly number[]): Promise<MessageInfo[]> {
    await this.#live().syncForRead();
    return this.#folder.index.entries(uids).map(messageInfo);
  }

  async append(source: MessageSource, options: AppendOptions = {}): Promise<AppendResult> {
    return this.#use((folder) => this.#user.append(folder, source, options));
  }

  read(uid: number, range?: ByteRange): ReadableStream<Uint8Array> {
    return this.#live().read(uid, range);
  }

  async readBytes(uid: number, range?: ByteRange): Promise<Uint8Array> {
    return this.#use((folder) => folder.readBytes(uid, range));
  }

  async structure(uid: number): Promise<MessageStructure> {
    return this.#use((folder) => folder.structure(uid));
  }

  async structures(uids: readonly number[]): Promise<(MessageStructure | undefined)[]> {
    return this.#use((folder) => folder.structures(uids));
  }

  async setFlags(
    uids: readonly number[],
    operation: FlagOperation,
    flags: readonly string[],
    options: SetFlagsOptions = {},
  ): Promise<SetFlagsResult> {
    return this.#use((folder) =>
      folder.setFlags(uids, operation, canonicalFlags(flags), options.unchangedSince),
    );
  }

  async copy(uids: readonly number[], target: string): Promise<CopyResult> {
    return this.#use((folder) => this.#user.copy(folder, uids, target));
  }

  /** A MOVE adds nothing to the user's usage: it is not refused for the quota. */
  async move(uids: readonly number[], target: string): Promise<CopyResult> {
    return this.#use(async (folder) => {
      const result = await this.#user.copy(folder, uids, target, false);
      await this.expunge(result.sourceUids);
      return result;
    });
  }

  async expunge(uids: readonly number[]): Promise<number[]> {
    return this.#use((folder) => folder.expunge(uids));
  }

  changes(options: { signal?: AbortSignal } = {}): AsyncIterable<MailboxChange> {
    return this.#follow(untilClosed(this.#closed.signal, options.signal));
  }

  /** The feed, as a generator of this mailbox's: a feed still followed keeps its mailbox from being collected. */
  async *#follow(signal: AbortSignal): AsyncGenerator<MailboxChange> {
    const stop = this.#folder.watch();
    try {
      yield* this.#folder.feed.subscribe(signal);
    } finally {
      stop();
    }
  }

  async sync(): Promise<void> {
    await this.#use((folder) => folder.sync());
  }

  async lock(): Promise<MailboxLock> {
    return this.#use((folder) => folder.lockMaildrop());
  }

  async close(): Promise<void> {
    if (this.#closed.signal.aborted) return;
    this.#closed.abort();
    unreleased.unregister(this);
    await this.#user.release();
  }

  #live(): MaildirFolder {
    if (this.#folder.gone) throw new MailboxNotFoundError(this.#folder.name);
    return this.#folder;
  }

  /**
   * Runs `operation` on the live folder, counted as a handle until it settles: a mailbox dropped and
   * collected while its call is under way (`(await mail.open(name)).append(message)`) must not release
   * the user's state under it.
   */
  async #use<T>(operation: (folder: MaildirFolder) => Promise<T>): Promise<T> {
    const folder = this.#live();
    this.#user.acquire();
    try {
      return await operation(folder);
    } finally {
      await this.#user.release();
    }
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Streams a message into a new file, every line ending written as CRLF, and flushes it; on failure the
 * caller removes the file.
 * @returns its size.
 */
async function writeMessage(path: string, source: MessageSource, durable: boolean): Promise<number> {
  const handle = await fs.open(path, 'wx', 0o600);
  const normalizer = new CrlfNormalizer();
  let size = 0;
  try {
    for await (const chunk of sourceChunks(source)) {
      const normalized = normalizer.normalize(chunk);
      await handle.write(normalized);
      size += normalized.length;
    }
    if (durable) await handle.sync();
  } finally {
    await handle.close();
  }
  return size;
}

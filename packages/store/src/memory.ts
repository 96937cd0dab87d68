import { concatBytes } from '@postwire/core';
import { ChangeFeed, untilClosed } from './change-feed.js';
import { MailboxExistsError, MailboxInUseError, MailboxNotFoundError, StoreRefusedError } from './errors.js';
import { canonicalFlags } from './flags.js';
import { newMailboxId, newMessageId, nextUidValidity } from './ids.js';
import { MailboxIndex, messageInfo } from './mailbox-index.js';
import { mailboxListEntries } from './mailbox-list.js';
import { canonicalMailboxName, canonicalUserName, parentNames } from './names.js';
import { assertRoomInQuota, type QuotaLimits, quotaUsage } from './quota.js';
import { sourceChunks, streamOf } from './source.js';
import { describeMessage } from './structure.js';
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
} from './types.js';

/** Options of {@link createMemoryStore}. */
export interface MemoryStoreOptions {
  /** Per-user limits: octets over all mailboxes, and number of messages. */
  readonly quota?: QuotaLimits;
}

/**
 * A store that keeps everything in memory: for tests and for an ephemeral dev server. Nothing survives
 * the process; several sessions in the process share one consistent view.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): MailStore {
  const users = new Map<string, MemoryUser>();
  return {
    async user(name) {
      const canonical = canonicalUserName(name);
      let user = users.get(canonical);
      if (!user) {
        user = new MemoryUser(canonical, options.quota ?? {});
        users.set(canonical, user);
      }
      return user;
    },
    async close() {
      for (const user of users.values()) user.closeAll();
      users.clear();
    },
  };
}

/** One mailbox's data, shared by every handle that opens it. */
interface MailboxData {
  name: string;
  readonly index: MailboxIndex;
  readonly bodies: Map<number, Uint8Array>;
  readonly structures: Map<number, MessageStructure>;
  readonly feed: ChangeFeed;
  specialUse: SpecialUse | undefined;
  locked: boolean;
}

function newMailbox(name: string, specialUse?: SpecialUse): MailboxData {
  return {
    name,
    index: new MailboxIndex(nextUidValidity(), newMailboxId()),
    bodies: new Map(),
    structures: new Map(),
    feed: new ChangeFeed(),
    specialUse,
    locked: false,
  };
}

class MemoryUser implements UserMail {
  readonly user: string;
  readonly #quota: QuotaLimits;
  readonly #mailboxes = new Map<string, MailboxData>([['INBOX', newMailbox('INBOX')]]);
  readonly #subscriptions = new Set<string>(['INBOX']);

  constructor(user: string, quota: QuotaLimits) {
    this.user = user;
    this.#quota = quota;
  }

  async list(): Promise<MailboxListEntry[]> {
    const mailboxes = new Map([...this.#mailboxes].map(([name, data]) => [name, data.specialUse] as const));
    return mailboxListEntries(mailboxes, this.#subscriptions);
  }

  async create(name: string, options: { specialUse?: SpecialUse } = {}): Promise<void> {
    const canonical = canonicalMailboxName(name);
    if (this.#mailboxes.has(canonical)) throw new MailboxExistsError(canonical);
    for (const parent of parentNames(canonical)) {
      if (!this.#mailboxes.has(parent)) this.#mailboxes.set(parent, newMailbox(parent));
    }
    this.#mailboxes.set(canonical, newMailbox(canonical, options.specialUse));
  }

  async delete(name: string): Promise<void> {
    const canonical = canonicalMailboxName(name);
    if (canonical === 'INBOX') throw new StoreRefusedError('INBOX cannot be deleted');
    const data = this.#data(canonical);
    if (data.locked) throw new MailboxInUseError();
    this.#mailboxes.delete(canonical);
    data.feed.publish({ type: 'gone' });
    data.feed.end();
  }

  async rename(from: string, to: string): Promise<void> {
    const source = canonicalMailboxName(from);
    const target = canonicalMailboxName(to);
    const data = this.#data(source);
    if (this.#mailboxes.has(target)) throw new MailboxExistsError(target);
    if (target.startsWith(`${source}/`)) throw new StoreRefusedError('a mailbox cannot move under itself');
    // INBOX's children stay where they are; another mailbox's move with it, onto names
    // that must all be free.
    const prefix = `${source}/`;
    const moving =
      source === 'INBOX'
        ? []
        : [...this.#mailboxes].filter(([name]) => name === source || name.startsWith(prefix));
    for (const [name] of moving) {
      const renamed = target + name.slice(source.length);
      if (this.#mailboxes.has(renamed)) throw new MailboxExistsError(renamed);
    }
    for (const parent of parentNames(target)) {
      if (!this.#mailboxes.has(parent)) this.#mailboxes.set(parent, newMailbox(parent));
    }
    if (source === 'INBOX') {
      // RFC 9051 §6.3.6: the messages move to a new mailbox (with a new id, RFC 8474 §4); INBOX stays,
      // empty, with its id.
      const moved = newMailbox(target);
      for (const entry of data.index.entries()) {
        const copy = moved.index.add({ ...entry, uid: undefined });
        moved.bodies.set(copy.uid, data.bodies.get(entry.uid)!);
      }
      this.#mailboxes.set(target, moved);
      this.#expungeAll(data);
      return;
    }
    for (const [name, child] of moving) {
      const renamed = target + name.slice(source.length);
      this.#mailboxes.delete(name);
      child.name = renamed;
      this.#mailboxes.set(renamed, child);
    }
  }

  async subscribe(name: string): Promise<void> {
    this.#subscriptions.add(canonicalMailboxName(name));
  }

  async unsubscribe(name: string): Promise<void> {
    this.#subscriptions.delete(canonicalMailboxName(name));
  }

  async status(name: string): Promise<MailboxStatus> {
    return this.#data(canonicalMailboxName(name)).index.status();
  }

  async open(name: string): Promise<Mailbox> {
    return new MemoryMailbox(this, this.#data(canonicalMailboxName(name)));
  }

  async quota(): Promise<QuotaUsage> {
    return this.#usage();
  }

  /** The memory store's users are their mail: nothing is dropped. */
  async release(): Promise<void> {}

  /**
   * Throws when adding `messages` messages of `size` octets in all would exceed the quota; at once, so that
   * the caller adds them before any concurrent addition is checked.
   */
  checkQuota(size: number, messages: number): void {
    if (this.#quota.storage === undefined && this.#quota.messages === undefined) return;
    assertRoomInQuota(this.#usage(), this.#quota, size, messages);
  }

  #usage(): QuotaUsage {
    return quotaUsage(
      [...this.#mailboxes.values()].map((data) => data.index.status()),
      this.#quota,
    );
  }

  /** The mailbox's data while it exists under its name. */
  data(name: string): MailboxData {
    return this.#data(canonicalMailboxName(name));
  }

  /** True while `data` is still the mailbox of its name (not deleted or replaced). */
  holds(data: MailboxData): boolean {
    return this.#mailboxes.get(data.name) === data;
  }

  closeAll(): void {
    for (const data of this.#mailboxes.values()) data.feed.end();
  }

  #data(canonical: string): MailboxData {
    const data = this.#mailboxes.get(canonical);
    if (!data) throw new MailboxNotFoundError(canonical);
    return data;
  }

  #expungeAll(data: MailboxData): void {
    const { uids, modseq } = data.index.remove(data.index.entries().map((entry) => entry.uid));
    for (const uid of uids) {
      data.bodies.delete(uid);
      data.structures.delete(uid);
    }
    if (uids.length > 0) data.feed.publish({ type: 'expunge', uids, modseq });
  }
}

class MemoryMailbox implements Mailbox {
  readonly #user: MemoryUser;
  readonly #data: MailboxData;
  /** Ends the change feeds of this handle when it closes. */
  readonly #closed = new AbortController();

  constructor(user: MemoryUser, data: MailboxData) {
    this.#user = user;
    this.#data = data;
  }

  get name(): string {
    return this.#data.name;
  }

  async status(): Promise<MailboxStatus> {
    return this.#live().index.status();
  }

  async messages(uids?: readonly number[]): Promise<MessageInfo[]> {
    return this.#live().index.entries(uids).map(messageInfo);
  }

  async append(source: MessageSource, options: AppendOptions = {}): Promise<AppendResult> {
    const data = this.#live();
    const flags = canonicalFlags(options.flags ?? []);
    const chunks: Uint8Array[] = [];
    for await (const chunk of sourceChunks(source)) chunks.push(chunk);
    const bytes = concatBytes(chunks);
    this.#user.checkQuota(bytes.length, 1);
    this.#live();
    const entry = data.index.add({
      id: newMessageId(),
      flags,
      internalTime: (options.internalDate ?? new Date()).getTime(),
      size: bytes.length,
    });
    data.bodies.set(entry.uid, bytes);
    data.feed.publish({ type: 'append', message: messageInfo(entry) });
    return { uid: entry.uid, id: entry.id, uidValidity: data.index.uidValidity, modseq: entry.modseq };
  }

  read(uid: number, range: ByteRange = { start: 0 }): ReadableStream<Uint8Array> {
    const bytes = this.#body(uid);
    return streamOf(bytes, range.start, range.end);
  }

  async readBytes(uid: number, range: ByteRange = { start: 0 }): Promise<Uint8Array> {
    const bytes = this.#body(uid);
    return bytes.subarray(
      Math.min(range.start, bytes.length),
      Math.min(range.end ?? bytes.length, bytes.length),
    );
  }

  async structure(uid: number): Promise<MessageStructure> {
    const data = this.#live();
    let structure = data.structures.get(uid);
    if (!structure) {
      structure = describeMessage(this.#body(uid));
      data.structures.set(uid, structure);
    }
    return structure;
  }

  async structures(uids: readonly number[]): Promise<(MessageStructure | undefined)[]> {
    const data = this.#live();
    return Promise.all(uids.map((uid) => (data.bodies.has(uid) ? this.structure(uid) : undefined)));
  }

  async setFlags(
    uids: readonly number[],
    operation: FlagOperation,
    flags: readonly string[],
    options: SetFlagsOptions = {},
  ): Promise<SetFlagsResult> {
    const data = this.#live();
    const result = data.index.setFlags(uids, operation, canonicalFlags(flags), options.unchangedSince);
    for (const change of result.changed) data.feed.publish({ type: 'flags', ...change });
    return result;
  }

  async copy(uids: readonly number[], target: string): Promise<CopyResult> {
    const entries = this.#live().index.entries(uids);
    this.#user.checkQuota(
      entries.reduce((sum, entry) => sum + entry.size, 0),
      entries.length,
    );
    return this.#copy(uids, target);
  }

  /** A MOVE adds nothing to the user's usage: it is not refused for the quota. */
  async move(uids: readonly number[], target: string): Promise<CopyResult> {
    const result = await this.#copy(uids, target);
    await this.expunge(result.sourceUids);
    return result;
  }

  #copy(uids: readonly number[], target: string): CopyResult {
    const data = this.#live();
    const destination = this.#user.data(target);
    const entries = data.index.entries(uids);
    const targetUids: number[] = [];
    for (const entry of entries) {
      const id = destination.index.hasId(entry.id) ? newMessageId() : entry.id;
      const copy = destination.index.add({ ...entry, id, uid: undefined });
      destination.bodies.set(copy.uid, data.bodies.get(entry.uid)!);
      targetUids.push(copy.uid);
      destination.feed.publish({ type: 'append', message: messageInfo(copy) });
    }
    return {
      uidValidity: destination.index.uidValidity,
      sourceUids: entries.map((entry) => entry.uid),
      targetUids,
    };
  }

  async expunge(uids: readonly number[]): Promise<number[]> {
    const data = this.#live();
    const removed = data.index.remove(uids);
    for (const uid of removed.uids) {
      data.bodies.delete(uid);
      data.structures.delete(uid);
    }
    if (removed.uids.length > 0) data.feed.publish({ type: 'expunge', ...removed });
    return removed.uids;
  }

  changes(options: { signal?: AbortSignal } = {}): AsyncIterable<MailboxChange> {
    return this.#data.feed.subscribe(untilClosed(this.#closed.signal, options.signal));
  }

  async sync(): Promise<void> {
    // Every writer of a memory store is in this process: changes are published as they happen.
  }

  async lock(): Promise<MailboxLock> {
    const data = this.#live();
    if (data.locked) throw new MailboxInUseError();
    data.locked = true;
    let released = false;
    return {
      async release() {
        if (released) return;
        released = true;
        data.locked = false;
      },
    };
  }

  async close(): Promise<void> {
    this.#closed.abort();
  }

  #live(): MailboxData {
    if (!this.#user.holds(this.#data)) throw new MailboxNotFoundError(this.#data.name);
    return this.#data;
  }

  #body(uid: number): Uint8Array {
    const bytes = this.#live().bodies.get(uid);
    if (!bytes) throw new MailboxNotFoundError(this.#data.name, `no message with UID ${uid}`);
    return bytes;
  }
}

import { applyFlags } from './flags.js';
import type { FlagChange, FlagOperation, MailboxStatus, MessageInfo, SetFlagsResult } from './types.js';

/**
 * A message's entry as the index keeps it; `MessageInfo` is its read-only view. Kept small, as every
 * open mailbox holds one per message: the internal date as a number and the flags as a shared frozen list.
 */
export interface IndexEntry {
  /** The message's UID. */
  uid: number;
  /** The message's stable id ({@link MessageInfo.id}). */
  id: string;
  /** System flags and keywords, as a shared frozen list. */
  flags: readonly string[];
  /** The internal date, in milliseconds since the epoch. */
  readonly internalTime: number;
  /** Size in octets. */
  readonly size: number;
  /** The MODSEQ of the message's latest change. */
  modseq: number;
}

/** What a new entry needs; the index assigns the UID (unless given) and the MODSEQ. */
export interface NewEntry {
  /** The message's stable id. */
  readonly id: string;
  /** System flags and keywords. */
  readonly flags: readonly string[];
  /** The internal date, in milliseconds since the epoch. */
  readonly internalTime: number;
  /** Size in octets. */
  readonly size: number;
  /** A UID that another writer already assigned (found on disk). */
  readonly uid?: number;
}

/** Distinct flag lists kept for sharing; past this many, a list is frozen on its own. */
const SHARED_FLAG_LISTS = 4096;
const sharedFlagLists = new Map<string, readonly string[]>();

/** A frozen list with the flags of `flags` in their order, the same object for every equal list. */
function sharedFlags(flags: readonly string[]): readonly string[] {
  // A space cannot be part of a flag, so the joined list names it exactly.
  const key = flags.join(' ');
  let shared = sharedFlagLists.get(key);
  if (!shared) {
    shared = Object.freeze([...flags]);
    if (sharedFlagLists.size < SHARED_FLAG_LISTS) sharedFlagLists.set(key, shared);
  }
  return shared;
}

/**
 * The index of one mailbox, in memory: entries in UID order, the counters of {@link MailboxStatus}
 * kept up to date, and MODSEQ assigned to each change (RFC 7162). Every backend keeps one; the Maildir
 * backend also persists it. Pure data: no I/O, no events. A backend may keep its own facts of a message
 * in its entry (type `E`), so that a message costs one object.
 */
export class MailboxIndex<E extends IndexEntry = IndexEntry> {
  /** The mailbox's UIDVALIDITY. */
  uidValidity: number;
  /** The mailbox's stable id ({@link MailboxStatus.mailboxId}). */
  readonly mailboxId: string;
  /** The UID the next message will get. */
  uidNext: number;
  /** The MODSEQ of the latest change. */
  highestModseq: number;
  readonly #entries: E[] = [];
  /**
   * How many messages carry each id (a copy of a message into its own mailbox needs a new one): made on
   * the first question, as most indexes are never asked.
   */
  #ids: Map<string, number> | undefined;
  #unseen = 0;
  #deleted = 0;
  #size = 0;

  constructor(uidValidity: number, mailboxId: string, uidNext = 1, highestModseq = 1) {
    this.uidValidity = uidValidity;
    this.mailboxId = mailboxId;
    this.uidNext = uidNext;
    this.highestModseq = highestModseq;
  }

  /** The number of messages. */
  get count(): number {
    return this.#entries.length;
  }

  /** The mailbox's counters, as {@link Mailbox.status} reports them. */
  status(): MailboxStatus {
    return {
      mailboxId: this.mailboxId,
      uidValidity: this.uidValidity,
      uidNext: this.uidNext,
      highestModseq: this.highestModseq,
      messages: this.#entries.length,
      unseen: this.#unseen,
      size: this.#size,
      deleted: this.#deleted,
    };
  }

  /** True when a message with this id is in the mailbox. */
  hasId(id: string): boolean {
    if (!this.#ids) {
      this.#ids = new Map();
      for (const entry of this.#entries) this.#countId(entry.id, 1);
    }
    return this.#ids.has(id);
  }

  /** The entry with this UID, if any. */
  get(uid: number): E | undefined {
    const entry = this.#entries[this.#insertionPoint(uid)];
    return entry?.uid === uid ? entry : undefined;
  }

  /** Every entry, or those with the given UIDs that exist, in ascending UID order. */
  entries(uids?: readonly number[]): E[] {
    if (!uids) return [...this.#entries];
    const found: E[] = [];
    for (const uid of new Set(uids)) {
      const entry = this.get(uid);
      if (entry) found.push(entry);
    }
    return found.sort((a, b) => a.uid - b.uid);
  }

  /**
   * Adds an entry with the next UID, or with the UID given (one another writer assigned), and a new MODSEQ
   * unless one is given. The index keeps `entry` itself, its UID, MODSEQ and flags set (to a shared frozen
   * list): pass an object made for it.
   */
  add(entry: NewEntry & Omit<E, keyof IndexEntry>, modseq = ++this.highestModseq): E {
    const uid = entry.uid ?? this.uidNext;
    if (this.get(uid)) throw new RangeError(`UID ${uid} is already in the mailbox`);
    if (uid >= this.uidNext) this.uidNext = uid + 1;
    if (modseq > this.highestModseq) this.highestModseq = modseq;
    const added = entry as unknown as { -readonly [K in keyof IndexEntry]: IndexEntry[K] } & E;
    added.uid = uid;
    added.flags = sharedFlags(entry.flags);
    added.modseq = modseq;
    const last = this.#entries[this.#entries.length - 1];
    if (!last || last.uid < uid) this.#entries.push(added);
    else this.#entries.splice(this.#insertionPoint(uid), 0, added);
    this.#count(added, 1);
    return added;
  }

  /**
   * Changes the flags of the given messages. One MODSEQ for the whole operation, given to each message
   * that changed; a message above `unchangedSince` is left alone and reported in `modified`.
   */
  setFlags(
    uids: readonly number[],
    operation: FlagOperation,
    flags: readonly string[],
    unchangedSince?: number,
  ): SetFlagsResult {
    const changed: FlagChange[] = [];
    const modified: number[] = [];
    let modseq = 0;
    for (const entry of this.entries(uids)) {
      if (unchangedSince !== undefined && entry.modseq > unchangedSince) {
        modified.push(entry.uid);
        continue;
      }
      const next = applyFlags(entry.flags, operation, flags);
      if (!next) continue;
      if (modseq === 0) modseq = ++this.highestModseq;
      this.replaceFlags(entry, next, modseq);
      changed.push({ uid: entry.uid, flags: [...next], modseq });
    }
    return { changed, modified };
  }

  /** Sets one entry's flags and MODSEQ (used when replaying changes found on disk). */
  replaceFlags(entry: E, flags: readonly string[], modseq = ++this.highestModseq): void {
    this.#count(entry, -1);
    entry.flags = sharedFlags(flags);
    entry.modseq = modseq;
    if (modseq > this.highestModseq) this.highestModseq = modseq;
    this.#count(entry, 1);
  }

  /** Removes the given messages; returns the UIDs removed (ascending) and the MODSEQ of the removal. */
  remove(uids: readonly number[]): {
    /** The UIDs removed, ascending. */
    uids: number[];
    /** The MODSEQ of the removal. */
    modseq: number;
  } {
    const gone = new Set(this.entries(uids).map((entry) => entry.uid));
    if (gone.size === 0) return { uids: [], modseq: this.highestModseq };
    const modseq = ++this.highestModseq;
    let kept = 0;
    for (const entry of this.#entries) {
      if (gone.has(entry.uid)) {
        this.#count(entry, -1);
      } else {
        this.#entries[kept++] = entry;
      }
    }
    this.#entries.length = kept;
    return { uids: [...gone].sort((a, b) => a - b), modseq };
  }

  /** Where an entry with this UID goes in the ordered entries. */
  #insertionPoint(uid: number): number {
    let low = 0;
    let high = this.#entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#entries[middle]!.uid < uid) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  #count(entry: IndexEntry, sign: 1 | -1): void {
    if (this.#ids) this.#countId(entry.id, sign);
    this.#size += sign * entry.size;
    if (!entry.flags.includes('\\Seen')) this.#unseen += sign;
    if (entry.flags.includes('\\Deleted')) this.#deleted += sign;
  }

  #countId(id: string, sign: 1 | -1): void {
    const ids = (this.#ids!.get(id) ?? 0) + sign;
    if (ids > 0) this.#ids!.set(id, ids);
    else this.#ids!.delete(id);
  }
}

/** A read-only copy of an entry, safe to hand out (its flag list is frozen and shared). */
export function messageInfo(entry: IndexEntry): MessageInfo {
  return {
    uid: entry.uid,
    id: entry.id,
    flags: entry.flags,
    internalDate: new Date(entry.internalTime),
    size: entry.size,
    modseq: entry.modseq,
  };
}

import type { SequenceSet } from '../protocol/sequence-set.js';

/**
 * One session's view of its selected mailbox: the UIDs in ascending order, so that sequence number `n` is
 * the `n`th UID (RFC 9051 §2.3.1.2), and which of them are `\Recent` in this session. Sequence sets are
 * resolved range by range, never expanded: the cost is that of the ranges and the messages they hold,
 * whatever numbers they name.
 */
export class MessageView {
  readonly #uids: number[];
  /**
   * The `\Recent` UIDs are those of the view from this one on (none when unset), except `#notRecent`.
   * New messages come at the top, so the recent ones are a run at the end of the view and exceptions are
   * rare: a session holds a number, not a set, however many of its messages are recent.
   */
  #recentFrom: number | undefined;
  /** The view's UIDs from `#recentFrom` on that are not `\Recent`, ascending; unset when there are none. */
  #notRecent: number[] | undefined;

  /** A view of these UIDs, in ascending order, of which `recent` are `\Recent`. */
  constructor(uids: readonly number[], recent: readonly number[] = []) {
    this.#uids = [...uids];
    if (recent.length === 0) return;
    const sorted = [...recent].sort((a, b) => a - b);
    const from = sorted[0]!;
    this.#recentFrom = from;
    const notRecent: number[] = [];
    for (let i = lowerBound(this.#uids, from), j = 0; i < this.#uids.length; i++) {
      const uid = this.#uids[i]!;
      while (j < sorted.length && sorted[j]! < uid) j++;
      if (sorted[j] !== uid) notRecent.push(uid);
    }
    if (notRecent.length > 0) this.#notRecent = notRecent;
  }

  /** The number of messages (EXISTS). */
  get count(): number {
    return this.#uids.length;
  }

  /** The number of `\Recent` messages (RECENT). */
  get recentCount(): number {
    const from = this.#recentFrom;
    if (from === undefined) return 0;
    return this.#uids.length - lowerBound(this.#uids, from) - (this.#notRecent?.length ?? 0);
  }

  /** Whether the view holds the message `uid` and it is `\Recent` in this session. */
  isRecent(uid: number): boolean {
    const from = this.#recentFrom;
    if (from === undefined || uid < from || includes(this.#notRecent, uid)) return false;
    return this.sequenceOf(uid) !== undefined;
  }

  /** Every UID, in sequence order. */
  get uids(): readonly number[] {
    return this.#uids;
  }

  /** The sequence number of `uid`, or `undefined` when the view does not hold it. */
  sequenceOf(uid: number): number | undefined {
    const index = lowerBound(this.#uids, uid);
    return this.#uids[index] === uid ? index + 1 : undefined;
  }

  /** Adds a message appended to the mailbox, `\Recent` in this session when `recent`; returns the new count. */
  add(uid: number, recent = false): number {
    const uids = this.#uids;
    const index = lowerBound(uids, uid);
    if (uids[index] === uid) return uids.length;
    uids.splice(index, 0, uid);
    const from = this.#recentFrom;
    if (recent && (from === undefined || uid < from)) {
      // The run now starts here: the messages between this one and the old start are not recent.
      const end = from === undefined ? uids.length : lowerBound(uids, from);
      if (index + 1 < end) this.#notRecent = [...uids.slice(index + 1, end), ...(this.#notRecent ?? [])];
      this.#recentFrom = uid;
    } else if (!recent && from !== undefined && uid >= from) {
      this.#notRecent ??= [];
      this.#notRecent.splice(lowerBound(this.#notRecent, uid), 0, uid);
    }
    return uids.length;
  }

  /** Removes an expunged message; returns the sequence number it had, for the untagged EXPUNGE. */
  remove(uid: number): number | undefined {
    const sequence = this.sequenceOf(uid);
    if (sequence === undefined) return undefined;
    this.#uids.splice(sequence - 1, 1);
    const notRecent = this.#notRecent;
    if (includes(notRecent, uid)) {
      notRecent!.splice(lowerBound(notRecent!, uid), 1);
      if (notRecent!.length === 0) this.#notRecent = undefined;
    }
    return sequence;
  }

  /**
   * The UIDs a set names, ascending: by UID (`*` the highest UID; numbers not in the view are skipped), or
   * by sequence number (`*` the last message). `undefined` when a sequence number is past the last message.
   */
  resolve(set: SequenceSet, byUid: boolean): number[] | undefined {
    const uids = this.#uids;
    const last = byUid ? (uids[uids.length - 1] ?? 0) : uids.length;
    const resolved: number[] = [];
    for (const range of set.resolve(last).ranges) {
      if (byUid) {
        for (let i = lowerBound(uids, range.start); i < uids.length && uids[i]! <= range.end; i++)
          resolved.push(uids[i]!);
      } else {
        if (range.end > uids.length) return undefined;
        for (let i = range.start - 1; i < range.end; i++) resolved.push(uids[i]!);
      }
    }
    return resolved;
  }
}

/** The index of the first of the ascending `uids` not below `uid`. */
function lowerBound(uids: readonly number[], uid: number): number {
  let low = 0;
  let high = uids.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (uids[middle]! < uid) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Whether the ascending `uids`, if any, hold `uid`. */
function includes(uids: readonly number[] | undefined, uid: number): boolean {
  return uids !== undefined && uids[lowerBound(uids, uid)] === uid;
}

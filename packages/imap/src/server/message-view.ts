import type { SequenceSet } from '../protocol/sequence-set.js';

/**
 * One session's view of its selected mailbox: the UIDs in ascending order, so that sequence number `n` is
 * the `n`th UID (RFC 9051 §2.3.1.2). Sequence sets are resolved range by range, never expanded: the cost
 * is that of the ranges and the messages they hold, whatever numbers they name.
 */
export class MessageView {
  readonly #uids: number[];

  /** A view of these UIDs, in ascending order. */
  constructor(uids: readonly number[]) {
    this.#uids = [...uids];
  }

  /** The number of messages (EXISTS). */
  get count(): number {
    return this.#uids.length;
  }

  /** Every UID, in sequence order. */
  get uids(): readonly number[] {
    return this.#uids;
  }

  /** The sequence number of `uid`, or `undefined` when the view does not hold it. */
  sequenceOf(uid: number): number | undefined {
    const index = this.#lowerBound(uid);
    return this.#uids[index] === uid ? index + 1 : undefined;
  }

  /** Adds a message appended to the mailbox; returns the new count. */
  add(uid: number): number {
    const index = this.#lowerBound(uid);
    if (this.#uids[index] !== uid) this.#uids.splice(index, 0, uid);
    return this.#uids.length;
  }

  /** Removes an expunged message; returns the sequence number it had, for the untagged EXPUNGE. */
  remove(uid: number): number | undefined {
    const sequence = this.sequenceOf(uid);
    if (sequence !== undefined) this.#uids.splice(sequence - 1, 1);
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
        for (let i = this.#lowerBound(range.start); i < uids.length && uids[i]! <= range.end; i++)
          resolved.push(uids[i]!);
      } else {
        if (range.end > uids.length) return undefined;
        for (let i = range.start - 1; i < range.end; i++) resolved.push(uids[i]!);
      }
    }
    return resolved;
  }

  #lowerBound(uid: number): number {
    let low = 0;
    let high = this.#uids.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.#uids[middle]! < uid) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

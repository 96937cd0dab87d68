import { InvalidArgumentError } from '@postwire/core';
import { ImapSyntaxError } from './errors.js';

/** The largest sequence number or UID (RFC 9051 `nz-number`). */
export const MAX_SEQUENCE_NUMBER = 4_294_967_295;

/** An inclusive range of numbers, `start ≤ end`. */
export interface NumberRange {
  /** The first number. */
  readonly start: number;
  /** The last number (`Infinity` for `*`). */
  readonly end: number;
}

const STAR = Number.POSITIVE_INFINITY;

/**
 * A sequence set (`1:*,3,5:7`) kept as merged ranges, never expanded: membership, counting and
 * iteration cost the number of ranges, whatever they cover. `*` (the largest number in use) stays
 * symbolic until {@link resolve} is given that number. {@link SequenceSet.saved} is SEARCHRES's `$`.
 */
export class SequenceSet {
  /** RFC 5182 `$`: the result saved by the last `SEARCH RETURN (SAVE)`. */
  static readonly saved: SequenceSet = new SequenceSet([], undefined, true);

  /** The concrete ranges, sorted and merged. */
  readonly ranges: readonly NumberRange[];
  /** The lowest `n` of the `n:*` ranges (`Infinity` for a lone `*`); `undefined` when `*` does not occur. */
  readonly starFrom: number | undefined;
  /** Whether this is `$`. */
  readonly isSaved: boolean;

  private constructor(ranges: readonly NumberRange[], starFrom: number | undefined, isSaved = false) {
    this.ranges = ranges;
    this.starFrom = starFrom;
    this.isSaved = isSaved;
  }

  /** A set from ranges (`end` may be `Infinity` for `*`), merged; numbers must be 1 to 2³²−1. */
  static of(ranges: readonly { readonly start: number; readonly end: number }[]): SequenceSet {
    const concrete: NumberRange[] = [];
    let starFrom: number | undefined;
    for (const range of ranges) {
      for (const value of [range.start, range.end]) {
        if (value !== STAR && (!Number.isInteger(value) || value < 1 || value > MAX_SEQUENCE_NUMBER))
          throw new InvalidArgumentError(`not a sequence number: ${value}`);
      }
      const low = Math.min(range.start, range.end);
      const high = Math.max(range.start, range.end);
      if (high === STAR) starFrom = Math.min(starFrom ?? STAR, low);
      else concrete.push({ start: low, end: high });
    }
    return new SequenceSet(merge(concrete), starFrom);
  }

  /** A set of the given numbers. */
  static from(values: Iterable<number>): SequenceSet {
    return SequenceSet.of(Array.from(values, (value) => ({ start: value, end: value })));
  }

  /**
   * Parses a `sequence-set` (or `$`). Refuses 0, numbers over 2³²−1, and empty elements.
   * @throws ImapSyntaxError with the text for `BAD`.
   */
  static parse(text: string, tag?: string): SequenceSet {
    if (text === '$') return SequenceSet.saved;
    const ranges: NumberRange[] = [];
    for (const element of text.split(',')) {
      const colon = element.indexOf(':');
      const start = sequenceNumber(colon === -1 ? element : element.slice(0, colon), tag);
      const end = colon === -1 ? start : sequenceNumber(element.slice(colon + 1), tag);
      ranges.push({ start, end });
    }
    return SequenceSet.of(ranges);
  }

  /** Whether the set is empty (never after parsing). */
  get isEmpty(): boolean {
    return !this.isSaved && this.ranges.length === 0 && this.starFrom === undefined;
  }

  /** Replaces `*` by `max` (the largest number in use), giving concrete merged ranges. */
  resolve(max: number): SequenceSet {
    if (this.isSaved) throw new InvalidArgumentError('the saved result ($) must be looked up, not resolved');
    if (this.starFrom === undefined) return this;
    if (max < 1) return new SequenceSet(this.ranges, undefined);
    const low = Math.min(this.starFrom, max);
    const high = Math.max(this.starFrom === STAR ? max : this.starFrom, max);
    return SequenceSet.of([...this.ranges, { start: low, end: Math.min(high, MAX_SEQUENCE_NUMBER) }]);
  }

  /** Whether `value` is in the set; `max` resolves `*`. */
  has(value: number, max?: number): boolean {
    const set = max === undefined ? this : this.resolve(max);
    let low = 0;
    let high = set.ranges.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const range = set.ranges[middle]!;
      if (value < range.start) high = middle - 1;
      else if (value > range.end) low = middle + 1;
      else return true;
    }
    return set.starFrom !== undefined && value >= set.starFrom;
  }

  /** How many numbers the set holds once `*` is `max`, without expanding it. */
  count(max: number): number {
    let total = 0;
    for (const range of this.resolve(max).ranges) total += range.end - range.start + 1;
    return total;
  }

  /** The numbers of the set in ascending order, once `*` is `max`, produced lazily. */
  *values(max: number): IterableIterator<number> {
    for (const range of this.resolve(max).ranges)
      for (let value = range.start; value <= range.end; value++) yield value;
  }

  /** The set's compact text (`1:3,5,7:*`). */
  toString(): string {
    if (this.isSaved) return '$';
    const parts = this.ranges.map((range) =>
      range.start === range.end ? String(range.start) : `${range.start}:${range.end}`,
    );
    if (this.starFrom !== undefined) parts.push(this.starFrom === STAR ? '*' : `${this.starFrom}:*`);
    if (parts.length === 0) throw new InvalidArgumentError('an empty sequence set cannot be written');
    return parts.join(',');
  }
}

function sequenceNumber(text: string, tag: string | undefined): number {
  if (text === '*') return STAR;
  if (!/^[1-9][0-9]{0,9}$/.test(text)) throw new ImapSyntaxError('Invalid sequence set', tag);
  const value = Number(text);
  if (value > MAX_SEQUENCE_NUMBER) throw new ImapSyntaxError('Invalid sequence set', tag);
  return value;
}

function merge(ranges: NumberRange[]): NumberRange[] {
  ranges.sort((a, b) => a.start - b.start);
  const merged: NumberRange[] = [];
  for (const range of ranges) {
    const last = merged[merged.length - 1];
    if (last && range.start <= last.end + 1) {
      if (range.end > last.end) merged[merged.length - 1] = { start: last.start, end: range.end };
    } else merged.push(range);
  }
  return merged;
}

import { InvalidArgumentError } from '@postwire/core';
import { ImapSyntaxError } from '../protocol/errors.js';
import { SequenceSet } from '../protocol/sequence-set.js';

/** Messages by sequence number or UID: `'1:*'`, `'2,4:7'`, one number, a list of numbers, or a {@link SequenceSet}. */
export type ImapRange = string | number | readonly number[] | SequenceSet;

/**
 * The sequence set of a range.
 * @throws InvalidArgumentError for an empty or malformed range, or a number outside 1 to 2³²−1.
 */
export function toSequenceSet(range: ImapRange): SequenceSet {
  if (range instanceof SequenceSet) return range;
  let set: SequenceSet;
  try {
    if (typeof range === 'string') set = SequenceSet.parse(range);
    else set = SequenceSet.from(typeof range === 'number' ? [range] : range);
  } catch (error) {
    if (error instanceof ImapSyntaxError)
      throw new InvalidArgumentError(`not a message range: ${JSON.stringify(range)}`);
    throw error;
  }
  if (set.isEmpty) throw new InvalidArgumentError('an empty message range');
  return set;
}

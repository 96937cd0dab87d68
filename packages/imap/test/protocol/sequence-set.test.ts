import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ImapSyntaxError } from '../../src/protocol/errors.js';
import { MAX_SEQUENCE_NUMBER, SequenceSet } from '../../src/protocol/sequence-set.js';

describe('SequenceSet', () => {
  it('parses, merges overlapping and adjacent ranges, and formats compactly', () => {
    expect(SequenceSet.parse('5:7,1:3,4,10,9').toString()).toBe('1:7,9:10');
    expect(SequenceSet.parse('7:5').toString()).toBe('5:7');
    expect(SequenceSet.parse('1:*,3,5:7').toString()).toBe('3,5:7,1:*');
    expect(SequenceSet.parse('*,4:*').toString()).toBe('4:*');
    expect(SequenceSet.parse('*').toString()).toBe('*');
    expect(SequenceSet.parse('$')).toBe(SequenceSet.saved);
    expect(SequenceSet.saved.toString()).toBe('$');
  });

  it('case 17: refuses 0 and numbers over 2³²−1, and keeps 10k repeated ranges small', () => {
    for (const text of ['0', '4294967296', '1:0', '', '1,,2', 'a', '1:', '01', '99999999999']) {
      expect(() => SequenceSet.parse(text, 't1'), text).toThrow(ImapSyntaxError);
    }
    const repeated = SequenceSet.parse(Array(10_000).fill('1:*').join(','));
    expect(repeated.ranges).toHaveLength(0);
    expect(repeated.toString()).toBe('1:*');
    const all = SequenceSet.parse('1:4294967295');
    expect(all.count(10)).toBe(MAX_SEQUENCE_NUMBER);
    expect(all.has(4_000_000_000)).toBe(true);
  });

  it('resolves * against the largest number in use', () => {
    expect(SequenceSet.parse('5:*').resolve(3).toString()).toBe('3:5');
    expect(SequenceSet.parse('*').resolve(9).toString()).toBe('9');
    expect(SequenceSet.parse('2,*').resolve(0).toString()).toBe('2');
    expect(SequenceSet.parse('1:*').has(50, 10)).toBe(false);
    expect(SequenceSet.parse('1:*').has(50)).toBe(true);
    expect([...SequenceSet.parse('2:3,*').values(6)]).toEqual([2, 3, 6]);
    expect(SequenceSet.parse('2:3,*').count(6)).toBe(3);
    expect(() => SequenceSet.saved.resolve(1)).toThrow();
    expect(SequenceSet.saved.isEmpty).toBe(false);
    expect(SequenceSet.from([]).isEmpty).toBe(true);
    expect(() => SequenceSet.from([]).toString()).toThrow();
    expect(() => SequenceSet.from([0])).toThrow();
  });

  it('agrees with a naive set on membership, and format→parse is the identity', () => {
    const range = fc.tuple(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 60 }));
    fc.assert(
      fc.property(fc.array(range, { minLength: 1, maxLength: 8 }), (pairs) => {
        const set = SequenceSet.of(pairs.map(([start, end]) => ({ start, end })));
        const naive = new Set(
          pairs.flatMap(([a, b]) =>
            Array.from({ length: Math.abs(a - b) + 1 }, (_, i) => Math.min(a, b) + i),
          ),
        );
        for (let value = 1; value <= 61; value++) expect(set.has(value)).toBe(naive.has(value));
        expect(set.count(100)).toBe(naive.size);
        expect([...set.values(100)]).toEqual([...naive].sort((a, b) => a - b));
        expect(SequenceSet.parse(set.toString())).toEqual(set);
      }),
    );
  });
});

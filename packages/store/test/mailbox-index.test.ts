import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MailboxIndex } from '../src/mailbox-index.js';

const entry = (id: string, flags: string[] = [], size = 10, uid?: number) => ({
  id,
  flags,
  internalTime: 0,
  size,
  ...(uid !== undefined ? { uid } : {}),
});

describe('MailboxIndex', () => {
  it('takes UIDs another writer assigned, in any order, and keeps entries in UID order', () => {
    const index = new MailboxIndex(1, 'mailbox');
    index.add(entry('a', [], 10, 5));
    index.add(entry('b', [], 10, 2));
    index.add(entry('c'));
    expect(index.entries().map((e) => e.uid)).toEqual([2, 5, 6]);
    expect(index.uidNext).toBe(7);
    expect(() => index.add(entry('d', [], 10, 5))).toThrow(RangeError);
  });

  it('keeps the object it is given, with flag lists shared and frozen, and finds entries by UID', () => {
    const index = new MailboxIndex(1, 'mailbox');
    const given = entry('a', ['\\Seen'], 10, 7);
    const kept = index.add(given);
    const other = index.add(entry('b', ['\\Seen'], 10, 3));
    expect(kept).toBe(given);
    expect(other.flags).toBe(kept.flags);
    expect(Object.isFrozen(kept.flags)).toBe(true);
    index.setFlags([3], 'add', ['Work']);
    expect(kept.flags).toEqual(['\\Seen']);
    expect(index.get(3)?.flags).toEqual(['\\Seen', 'Work']);
    expect(index.get(7)).toBe(kept);
    expect(index.get(5)).toBeUndefined();
    index.remove([3]);
    expect(index.get(3)).toBeUndefined();
    expect(index.hasId('b')).toBe(false);
    expect(index.hasId('a')).toBe(true);
  });

  it('keeps its counters equal to a recount after any sequence of operations', () => {
    const operation = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), seen: fc.boolean(), size: fc.nat(1000) }),
      fc.record({
        kind: fc.constant('flags' as const),
        uid: fc.integer({ min: 1, max: 20 }),
        op: fc.constantFrom('add' as const, 'remove' as const, 'replace' as const),
        flags: fc.subarray(['\\Seen', '\\Deleted', 'Work']),
      }),
      fc.record({ kind: fc.constant('remove' as const), uids: fc.array(fc.integer({ min: 1, max: 20 })) }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 40 }), (operations) => {
        const index = new MailboxIndex(1, 'mailbox');
        let lastModseq = index.highestModseq;
        for (const step of operations) {
          if (step.kind === 'add')
            index.add(entry(`m${index.uidNext}`, step.seen ? ['\\Seen'] : [], step.size));
          else if (step.kind === 'flags') index.setFlags([step.uid], step.op, step.flags);
          else index.remove(step.uids);
          expect(index.highestModseq).toBeGreaterThanOrEqual(lastModseq);
          lastModseq = index.highestModseq;
        }
        const all = index.entries();
        expect(index.status()).toEqual({
          mailboxId: 'mailbox',
          uidValidity: 1,
          uidNext: index.uidNext,
          highestModseq: index.highestModseq,
          messages: all.length,
          unseen: all.filter((e) => !e.flags.includes('\\Seen')).length,
          deleted: all.filter((e) => e.flags.includes('\\Deleted')).length,
          size: all.reduce((sum, e) => sum + e.size, 0),
        });
        for (const e of all) {
          expect(index.hasId(e.id)).toBe(true);
          expect(e.modseq).toBeLessThanOrEqual(index.highestModseq);
        }
      }),
    );
  });
});

import { describeMessage } from '@postwire/store';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { serializeResponse, type Thread } from '../../src/protocol/response.js';
import {
  isThreadAlgorithm,
  THREAD_ALGORITHMS,
  type ThreadAlgorithm,
  type ThreadCandidate,
  threadMessages,
} from '../../src/server/thread.js';
import { wire } from '../protocol/response-helpers.js';

interface Fields {
  readonly id?: string;
  readonly subject?: string;
  /** Day of January 2024 of the Date field; without it the internal date (1 January) is the sent date. */
  readonly day?: number;
  readonly references?: string;
  readonly inReplyTo?: string;
}

/** A candidate parsed from a message with these fields; its UID is 100 + sequence. */
function message(sequence: number, fields: Fields): ThreadCandidate {
  const headers = [
    fields.id === undefined ? undefined : `Message-ID: <${fields.id}>`,
    `Subject: ${fields.subject ?? `subject ${sequence}`}`,
    fields.day === undefined ? undefined : `Date: ${fields.day} Jan 2024 12:00:00 +0000`,
    fields.references === undefined ? undefined : `References: ${fields.references}`,
    fields.inReplyTo === undefined ? undefined : `In-Reply-To: ${fields.inReplyTo}`,
  ].filter((line) => line !== undefined);
  const bytes = new TextEncoder().encode(`${headers.join('\r\n')}\r\n\r\nbody\r\n`);
  return {
    sequence,
    info: {
      uid: 100 + sequence,
      id: `m${sequence}`,
      flags: [],
      internalDate: new Date('2024-01-01T00:00:00Z'),
      size: bytes.length,
      modseq: 1,
    },
    structure: describeMessage(bytes),
  };
}

/** Messages 1, 2, 3 … with these fields. */
function messages(...fields: Fields[]): ThreadCandidate[] {
  return fields.map((each, index) => message(index + 1, each));
}

/** The THREAD response line, without its CRLF. */
function written(threads: Thread[]): string {
  return new TextDecoder().decode(wire(serializeResponse({ type: 'THREAD', threads }))).trimEnd();
}

function thread(algorithm: ThreadAlgorithm, candidates: readonly ThreadCandidate[], uid = false): string {
  return written(threadMessages(algorithm, candidates, uid));
}

/** Every number of the threads, in the order written. */
function numbers(threads: readonly Thread[]): number[] {
  const found: number[] = [];
  const stack = [...threads].reverse();
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    found.push(...next.chain);
    stack.push(...[...next.children].reverse());
  }
  return found;
}

describe('THREAD_ALGORITHMS', () => {
  it('lists what the server implements', () => {
    expect(THREAD_ALGORITHMS).toEqual(['ORDEREDSUBJECT', 'REFERENCES']);
    expect(isThreadAlgorithm('REFERENCES')).toBe(true);
    expect(isThreadAlgorithm('REFS')).toBe(false);
  });
});

describe('ORDEREDSUBJECT', () => {
  it('makes the earliest message of each base subject the parent of the others', () => {
    const candidates = messages(
      { subject: 'Hello', day: 2 },
      { subject: 'Re: hello', day: 6 },
      { subject: 'other', day: 3 },
      { subject: 'RE: Hello', day: 4 },
      { subject: 'fwd: other', day: 7 },
      { subject: 'alone', day: 1 },
      { subject: '[list] Hello (fwd)', day: 5 },
    );
    expect(thread('ORDEREDSUBJECT', candidates)).toBe('* THREAD (6)(1 (4)(7)(2))(3 5)');
    expect(thread('ORDEREDSUBJECT', candidates, true)).toBe('* THREAD (106)(101 (104)(107)(102))(103 105)');
  });

  it('orders equal sent dates by sequence number', () => {
    const candidates = messages({ subject: 'b' }, { subject: 'a' }, { subject: 'Re: b' }, { subject: 'a' });
    expect(thread('ORDEREDSUBJECT', [...candidates].reverse())).toBe('* THREAD (1 3)(2 4)');
  });

  it('answers an empty THREAD for no messages', () => {
    expect(thread('ORDEREDSUBJECT', [])).toBe('* THREAD');
    expect(thread('REFERENCES', [])).toBe('* THREAD');
  });
});

describe('REFERENCES', () => {
  it('links replies by References, a single child continuing the chain', () => {
    const candidates = messages(
      { id: '1@x', subject: 'topic', day: 1 },
      { id: '2@x', references: '<1@x>', subject: 'Re: topic', day: 2 },
      { id: '3@x', references: '<1@x> <2@x>', subject: 'Re: topic', day: 3 },
      { id: '4@x', references: '<1@x>', subject: 'Re: topic', day: 4 },
      { id: '5@x', references: '<1@x> <4@x>', subject: 'Re: topic', day: 5 },
      { id: '6@x', references: '<1@x> <4@x> <5@x>', subject: 'Re: topic', day: 6 },
      { id: '7@x', references: '<1@x> <4@x> <5@x>', subject: 'Re: topic', day: 7 },
    );
    expect(thread('REFERENCES', candidates)).toBe('* THREAD (1 (2 3)(4 5 (6)(7)))');
  });

  it('uses the first In-Reply-To id without References, and ignores one not in angle brackets', () => {
    const candidates = messages(
      { id: 'a@x', day: 1 },
      { id: 'b@x', inReplyTo: '<a@x> <zzz@x>', day: 2 },
      { id: 'c@x', inReplyTo: 'your message of Monday', day: 3 },
      { id: 'd@x', inReplyTo: '<b@x>', references: 'junk', day: 4 },
    );
    expect(thread('REFERENCES', candidates)).toBe('* THREAD (1 2 4)(3)');
  });

  it('keeps a dummy for a missing parent of several messages, and drops it for one', () => {
    const candidates = messages(
      { id: 'a@x', references: '<gone@x>', subject: 'first', day: 2 },
      { id: 'b@x', references: '<gone@x>', subject: 'second', day: 1 },
      { id: 'c@x', references: '<lost@x> <also-lost@x>', subject: 'third', day: 3 },
      { id: 'd@x', references: '<lost@x> <other@x>', subject: 'fourth', day: 4 },
    );
    // `gone` has two children: a dummy at the top, sorted by its earliest child. `lost` is the parent of
    // two dummies with one child each: they go, and `lost` stays above c and d.
    expect(thread('REFERENCES', candidates)).toBe('* THREAD ((2)(1))((3)(4))');
  });

  it('trusts a message’s own References over the links other messages made for it', () => {
    const candidates = messages(
      { id: 'a@x', references: '<x@x> <b@x>', day: 3 },
      { id: 'b@x', day: 1 },
      { id: 'c@x', references: '<y@x>', day: 2 },
      { id: 'd@x', references: '<y@x> <c@x>', day: 4 },
      { id: 'e@x', references: '<z@x> <c@x>', day: 5 },
    );
    // b has no references, so it is a root however a refers to it; c keeps the parent y its own References
    // gave it, not the z of e's.
    expect(thread('REFERENCES', candidates)).toBe('* THREAD (2 1)(3 (4)(5))');
  });

  it('skips links that would close a loop', () => {
    const pair = messages(
      { id: 'a@x', references: '<b@x>', day: 1 },
      { id: 'b@x', references: '<a@x>', day: 2 },
    );
    expect(thread('REFERENCES', pair)).toBe('* THREAD (2 1)');
    const ring = messages(
      { id: 'a@x', references: '<c@x>', day: 1 },
      { id: 'b@x', references: '<a@x>', day: 2 },
      { id: 'c@x', references: '<b@x>', day: 3 },
      { id: 'd@x', references: '<d@x> <d@x>', day: 4 },
      { id: 'e@x', references: '<f@x> <e@x> <f@x>', day: 5 },
    );
    expect(thread('REFERENCES', ring)).toBe('* THREAD (3 1 2)(4)(5)');
  });

  it('gives duplicate Message-IDs to the first message only', () => {
    const candidates = messages(
      { id: 'same@x', subject: 'one', day: 1 },
      { id: 'same@x', subject: 'two', day: 2 },
      { id: 'r@x', references: '<same@x>', subject: 'three', day: 3 },
      { subject: 'four', day: 4 },
    );
    expect(thread('REFERENCES', candidates)).toBe('* THREAD (1 3)(2)(4)');
  });

  it('gathers roots with the same base subject', () => {
    const candidates = messages(
      { id: 'a@x', subject: 'Topic', day: 1 },
      { id: 'b@x', subject: 'Re: topic', references: '<gone@x>', day: 2 },
      { id: 'c@x', subject: 'News', day: 3 },
      { id: 'd@x', subject: 'news', day: 4 },
      { id: 'e@x', subject: 'Re: news', references: '<d@x>', day: 5 },
      { id: 'f@x', subject: 'dummies', references: '<p@x>', day: 6 },
      { id: 'g@x', subject: 'Re: dummies', references: '<p@x>', day: 7 },
      { id: 'h@x', subject: 'dummies', references: '<q@x>', day: 8 },
      { id: 'i@x', subject: 'dummies', references: '<q@x>', day: 9 },
      { id: 'j@x', subject: 'Re: late', day: 10 },
      { id: 'k@x', subject: 'late', day: 11 },
      { id: 'l@x', subject: '', day: 12 },
      { id: 'm@x', subject: '', day: 13 },
    );
    // A reply joins the thread of a non-reply (b under a, j under k); two non-replies share a new dummy
    // (c and d); two dummies merge (p's and q's children); empty subjects stay apart.
    expect(thread('REFERENCES', candidates)).toBe('* THREAD (1 2)((3)(4 5))((6)(7)(8)(9))(11 10)(12)(13)');
  });

  it('orders siblings by sent date, then sequence number, whatever the input order', () => {
    const candidates = messages(
      { id: 'root@x', day: 5 },
      { id: 'late@x', references: '<root@x>', day: 9 },
      { id: 'early@x', references: '<root@x>', day: 7 },
      { id: 'tie@x', references: '<root@x>', day: 7 },
      { id: 'first@x', day: 1 },
    );
    expect(thread('REFERENCES', [...candidates].reverse())).toBe('* THREAD (5)(1 (3)(4)(2))');
  });

  it('uses only the last 100 References ids', () => {
    const ids = Array.from({ length: 150 }, (_, index) => `<r${index}@x>`).join(' ');
    const candidates = messages({ id: 'r0@x', day: 1 }, { id: 'b@x', references: ids, day: 2 });
    expect(thread('REFERENCES', candidates)).toBe('* THREAD (1)(2)');
    const near = Array.from({ length: 100 }, (_, index) => `<r${index}@x>`).join(' ');
    expect(
      thread('REFERENCES', messages({ id: 'r0@x', day: 1 }, { id: 'b@x', references: near, day: 2 })),
    ).toBe('* THREAD (1 2)');
  });

  it('threads a chain 10,000 messages deep in either order without overflowing the stack', () => {
    const depth = 10_000;
    const chain = Array.from({ length: depth }, (_, index) =>
      message(index + 1, {
        id: `${index}@x`,
        subject: 'Re: deep',
        ...(index > 0 && { references: `<0@x> <${index - 1}@x>` }),
      }),
    );
    const started = performance.now();
    const forward = threadMessages('REFERENCES', chain, false);
    expect(forward).toHaveLength(1);
    expect(forward[0]!.chain).toEqual(Array.from({ length: depth }, (_, index) => index + 1));
    const backward = chain.map((candidate) => ({ ...candidate, sequence: depth + 1 - candidate.sequence }));
    const reversed = threadMessages('REFERENCES', backward, false);
    expect(reversed[0]!.chain).toEqual(Array.from({ length: depth }, (_, index) => depth - index));
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});

describe('every algorithm', () => {
  const ids = ['a@x', 'b@x', 'c@x', 'd@x', 'e@x', 'f@x'];
  const fields = fc.record({
    id: fc.option(fc.constantFrom(...ids), { nil: undefined }),
    subject: fc.constantFrom('x', 'Re: x', 'y', 'Fwd: y', '[l] x', ''),
    day: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
    references: fc.option(
      fc
        .array(fc.constantFrom(...ids, 'gone@x'), { maxLength: 5 })
        .map((refs) => refs.map((id) => `<${id}>`).join(' ')),
      { nil: undefined },
    ),
    inReplyTo: fc.option(
      fc.constantFrom(...ids).map((id) => `<${id}>`),
      { nil: undefined },
    ),
  });

  it('writes every message exactly once, in threads the response grammar accepts', () => {
    fc.assert(
      fc.property(
        fc.array(fields, { maxLength: 25 }),
        fc.constantFrom(...THREAD_ALGORITHMS),
        (list, algorithm) => {
          const candidates = messages(...list);
          const threads = threadMessages(algorithm, candidates, true);
          expect(numbers(threads).sort((a, b) => a - b)).toEqual(
            candidates.map((candidate) => candidate.info.uid),
          );
          const stack = [...threads];
          for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
            expect(next.children.length).not.toBe(1);
            stack.push(...next.children);
          }
          expect(() => written(threads)).not.toThrow();
        },
      ),
    );
  });
});

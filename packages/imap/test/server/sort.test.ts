import { describeMessage } from '@postwire/store';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  baseSubject,
  type SortCandidate,
  sortMessages,
  sortNeedsStructure,
  unsupportedSortKey,
} from '../../src/server/sort.js';

interface MessageOptions {
  readonly internalDate?: string;
  readonly size?: number;
}

/** A candidate whose structure is parsed from a message with these header lines; its UID is 100 + sequence. */
function message(sequence: number, headers: readonly string[], options: MessageOptions = {}): SortCandidate {
  const bytes = new TextEncoder().encode(`${headers.join('\r\n')}\r\n\r\nbody\r\n`);
  return {
    sequence,
    info: {
      uid: 100 + sequence,
      id: `m${sequence}`,
      flags: [],
      internalDate: new Date(options.internalDate ?? '2024-01-01T00:00:00Z'),
      size: options.size ?? bytes.length,
      modseq: 1,
    },
    structure: describeMessage(bytes),
  };
}

/** Candidates 1, 2, 3 … each with one header line (none for `undefined`). */
function withField(name: string, values: readonly (string | undefined)[]): SortCandidate[] {
  return values.map((value, index) => message(index + 1, value === undefined ? [] : [`${name}: ${value}`]));
}

describe('baseSubject', () => {
  it.each([
    ['Re: [list] Fwd: hello (fwd)', 'HELLO', true],
    ['[fwd: Re: x]', 'X', true],
    ['[Fwd: [fwd: hello]]', 'HELLO', true],
    ['hello', 'HELLO', false],
    ['  re:   RE:  hello \t  world  ', 'HELLO WORLD', true],
    ['Re[2]: hi', 'HI', true],
    ['Re : spaced colon', 'SPACED COLON', true],
    ['FW: forwarded', 'FORWARDED', true],
    ['[PATCH] fix', 'FIX', false],
    ['[PATCH]', '[PATCH]', false],
    ['[a][b]', '[B]', false],
    ['[a] [b] Re: [c]', '[C]', true],
    ['Fw: [list] Re: [x]', '[X]', true],
    ['[fwd: x] tail', 'TAIL', false],
    ['hello (fwd) (FWD) ', 'HELLO', true],
    ['Re:', '', true],
    ['', '', false],
    ['Fwd hello', 'FWD HELLO', false],
    ['Reply', 'REPLY', false],
    ['[unclosed hello', '[UNCLOSED HELLO', false],
    ['=?utf-8?q?Re=3A_caf=C3=A9?=', 'CAFé', true],
    ['=?iso-8859-1?b?W2xpc3RdIFJlOiB0ZXN0?= (fwd)', 'TEST', true],
    ['Re: long\r\n\tfolded subject', 'LONG FOLDED SUBJECT', true],
  ])('%j is %j', (subject, text, replyOrForward) => {
    expect(baseSubject(subject)).toEqual({ text, replyOrForward });
  });

  it('takes linear time on subjects made of brackets', () => {
    const started = performance.now();
    expect(baseSubject(`${'[x]'.repeat(30_000)}y`).text).toBe('Y');
    expect(baseSubject('['.repeat(50_000)).text).toBe('['.repeat(50_000));
    expect(baseSubject(`${'Re: [a] '.repeat(10_000)}z`).text).toBe('Z');
    expect(baseSubject(`${'[fwd: '.repeat(5_000)}z${']'.repeat(5_000)}`).text).toBe('Z');
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('unsupportedSortKey and sortNeedsStructure', () => {
  it('names the first criterion that is no sort key', () => {
    expect(unsupportedSortKey(['DATE', 'REVERSE DISPLAYFROM', 'SIZE'])).toBeUndefined();
    expect(unsupportedSortKey(['DATE', 'REVERSE FOO', 'BAR'])).toBe('REVERSE FOO');
    expect(unsupportedSortKey(['REVERSE'])).toBe('REVERSE');
    expect(unsupportedSortKey(['REVERSE REVERSE DATE'])).toBe('REVERSE REVERSE DATE');
  });

  it('asks for structures only for keys that read header fields', () => {
    expect(sortNeedsStructure(['ARRIVAL', 'REVERSE SIZE'])).toBe(false);
    expect(sortNeedsStructure(['SIZE', 'REVERSE DATE'])).toBe(true);
  });
});

describe('sortMessages', () => {
  const cases: [key: string, candidates: SortCandidate[], order: number[]][] = [
    [
      'ARRIVAL',
      [
        message(1, [], { internalDate: '2024-03-01T00:00:00Z' }),
        message(2, [], { internalDate: '2024-01-01T00:00:00Z' }),
        message(3, [], { internalDate: '2024-02-01T00:00:00Z' }),
      ],
      [2, 3, 1],
    ],
    [
      'SIZE',
      [message(1, [], { size: 30 }), message(2, [], { size: 10 }), message(3, [], { size: 20 })],
      [2, 3, 1],
    ],
    [
      'DATE',
      withField('Date', [
        'Mon, 1 Jan 2024 10:00:00 +0200',
        'Mon, 1 Jan 2024 09:30:00 +0000',
        'Mon, 1 Jan 2024 03:15:00 -0500',
      ]),
      [1, 3, 2],
    ],
    ['SUBJECT', withField('Subject', ['Re: beta', 'alpha', 'Fwd: Gamma', undefined]), [4, 2, 1, 3]],
    [
      'FROM',
      withField('From', ['Alice <carol@x.example>', 'bob@x.example', 'ALICE@x.example', undefined]),
      [4, 3, 2, 1],
    ],
    ['TO', withField('To', ['"Zed" <b@x.example>', 'a@x.example', 'undisclosed-recipients:;']), [2, 1, 3]],
    ['CC', withField('Cc', ['c@x.example, a@x.example', 'B@x.example', undefined]), [3, 2, 1]],
    [
      'DISPLAYFROM',
      withField('From', ['"Zed" <a@x.example>', 'b@x.example', '=?utf-8?q?Ann?= <z@x.example>', undefined]),
      [4, 3, 2, 1],
    ],
    [
      'DISPLAYTO',
      withField('To', ['Mallory <a@x.example>', 'Team: x@x.example;', 'bob@z.example']),
      [3, 1, 2],
    ],
  ];

  it.each(cases)('sorts by %s, and in reverse', (key, candidates, order) => {
    expect(sortMessages([key], candidates, false)).toEqual(order);
    expect(sortMessages([`REVERSE ${key}`], candidates, false)).toEqual([...order].reverse());
  });

  it('answers UIDs when asked', () => {
    const candidates = withField('Subject', ['b', 'a']);
    expect(sortMessages(['SUBJECT'], candidates, true)).toEqual([102, 101]);
  });

  it('breaks ties by ascending sequence number, REVERSE or not, whatever the input order', () => {
    const candidates = withField('Subject', ['Re: same', 'same', 'Fwd: same (fwd)']).reverse();
    expect(sortMessages(['SUBJECT'], candidates, false)).toEqual([1, 2, 3]);
    expect(sortMessages(['REVERSE SUBJECT'], candidates, false)).toEqual([1, 2, 3]);
  });

  it('uses later criteria for ties of earlier ones', () => {
    const candidates = [
      message(1, ['Subject: b', 'Date: Mon, 1 Jan 2024 10:00:00 +0000']),
      message(2, ['Subject: a', 'Date: Mon, 1 Jan 2024 10:00:00 +0000']),
      message(3, ['Subject: b', 'Date: Tue, 2 Jan 2024 10:00:00 +0000']),
      message(4, ['Subject: a', 'Date: Tue, 2 Jan 2024 10:00:00 +0000']),
    ];
    expect(sortMessages(['SUBJECT', 'REVERSE DATE'], candidates, false)).toEqual([4, 2, 3, 1]);
    expect(sortMessages(['REVERSE SUBJECT', 'DATE'], candidates, false)).toEqual([1, 3, 2, 4]);
  });

  it('falls back to the internal date when Date is missing or cannot be parsed', () => {
    const candidates = [
      message(1, ['Date: Wed, 3 Jan 2024 00:00:00 +0000']),
      message(2, [], { internalDate: '2024-01-04T00:00:00Z' }),
      message(3, ['Date: not a date'], { internalDate: '2024-01-02T00:00:00Z' }),
      message(4, ['Date: Mon, 1 Jan 2024 00:00:00 +0000'], { internalDate: '2024-01-05T00:00:00Z' }),
    ];
    expect(sortMessages(['DATE'], candidates, false)).toEqual([4, 3, 1, 2]);
  });

  it('sorts ARRIVAL and SIZE without structures', () => {
    const candidates = [message(1, [], { size: 5 }), message(2, [], { size: 1 })].map(
      ({ info, sequence }) => ({ info, sequence }),
    );
    expect(sortMessages(['SIZE', 'ARRIVAL'], candidates, false)).toEqual([2, 1]);
  });

  it('answers a permutation of the candidates, ordered by the key then by sequence', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.constantFrom('Re: a', 'a', 'b', 'Fwd: B')), {
          maxLength: 30,
        }),
        fc.boolean(),
        (rows, reverse) => {
          const candidates = rows.map(([size, subject], index) =>
            message(index + 1, [`Subject: ${subject}`], { size }),
          );
          const order = sortMessages([reverse ? 'REVERSE SIZE' : 'SIZE', 'SUBJECT'], candidates, false);
          expect([...order].sort((a, b) => a - b)).toEqual(candidates.map((candidate) => candidate.sequence));
          const key = (sequence: number): [number, string, number] => {
            const { info, structure } = candidates[sequence - 1]!;
            const size = reverse ? -info.size : info.size;
            return [size, baseSubject(structure!.envelope.subject ?? '').text, sequence];
          };
          for (let i = 1; i < order.length; i++) {
            const [a, b] = [key(order[i - 1]!), key(order[i]!)];
            expect(a[0] < b[0] || (a[0] === b[0] && (a[1] < b[1] || (a[1] === b[1] && a[2] < b[2])))).toBe(
              true,
            );
          }
        },
      ),
    );
  });
});

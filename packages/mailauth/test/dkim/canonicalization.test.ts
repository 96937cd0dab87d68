import { InvalidArgumentError } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DkimBodyCanonicalizer } from '../../src/dkim/body-canonicalizer.js';
import { canonicalizeHeader, type DkimCanonicalization } from '../../src/dkim/canonicalization.js';

const bytes = (text: string) => Uint8Array.from(text, (char) => char.charCodeAt(0));
const text = (data: Uint8Array) => String.fromCharCode(...data);

/** Canonicalizes `body` fed in the given chunk sizes (repeated), then the rest in one chunk. */
function canonicalizeBody(
  body: Uint8Array,
  algorithm: DkimCanonicalization,
  sizes: number[] = [body.length],
  limit?: number,
): { output: string; length: number } {
  const canonicalizer = new DkimBodyCanonicalizer(algorithm, limit === undefined ? {} : { limit });
  let output = '';
  let offset = 0;
  for (let i = 0; offset < body.length; i++) {
    const size = Math.max(1, sizes[i % sizes.length] ?? body.length);
    output += text(canonicalizer.update(body.subarray(offset, offset + size)));
    offset += size;
  }
  output += text(canonicalizer.end());
  return { output, length: canonicalizer.length };
}

/** RFC 6376 §3.4 applied to a whole body at once, as plainly as possible: the oracle. */
function referenceBody(body: string, algorithm: DkimCanonicalization): string {
  if (algorithm === 'relaxed') {
    // White space at the end of a line goes; after a last line without CRLF it is not at a line's end.
    const lines = body.split('\r\n');
    const last = lines.length - 1;
    lines.forEach((line, index) => {
      const reduced = line.replace(/[ \t]+/g, ' ');
      lines[index] = index < last ? reduced.replace(/ $/, '') : reduced;
    });
    const joined = lines.join('\r\n').replace(/(?:\r\n)+$/, '');
    return joined === '' ? '' : `${joined}\r\n`;
  }
  return `${body.replace(/(?:\r\n)+$/, '')}\r\n`;
}

/** RFC 6376 §3.4.5: the example message, with `<SP>`, `<HTAB>` and `<CRLF>` written out. */
const EXAMPLE_HEADERS: [string, string][] = [
  ['A', ' X'],
  ['B ', ' Y\t\r\n\tZ  '],
];
const EXAMPLE_BODY = bytes(' C \r\nD \t E\r\n\r\n\r\n');

describe('RFC 6376 §3.4.5 canonicalization examples', () => {
  it('example 1: relaxed header and body', () => {
    const header = EXAMPLE_HEADERS.map(
      ([name, value]) => `${canonicalizeHeader(name, value, 'relaxed')}\r\n`,
    );
    expect(header.join('')).toBe('a:X\r\nb:Y Z\r\n');
    expect(canonicalizeBody(EXAMPLE_BODY, 'relaxed').output).toBe(' C\r\nD E\r\n');
  });

  it('example 2: simple header and body', () => {
    const header = EXAMPLE_HEADERS.map(([name, value]) => `${canonicalizeHeader(name, value, 'simple')}\r\n`);
    expect(header.join('')).toBe('A: X\r\nB : Y\t\r\n\tZ  \r\n');
    expect(canonicalizeBody(EXAMPLE_BODY, 'simple').output).toBe(' C \r\nD \t E\r\n');
  });
});

describe('canonicalizeHeader', () => {
  it('relaxed: lower-cases the name only, and keeps other characters', () => {
    expect(canonicalizeHeader('Subject', ' Caf\u00e9\u00a0  Ünïcode \t', 'relaxed')).toBe(
      'subject:Caf\u00e9\u00a0 Ünïcode',
    );
    expect(canonicalizeHeader('X-Empty', ' \r\n\t ', 'relaxed')).toBe('x-empty:');
  });

  it('relaxed unfolds CRLF only: a bare CR or LF in the value is kept, as dkimpy does (RFC 6376 §3.4.2)', () => {
    expect(canonicalizeHeader('Subject', ' a\rb\nc\r\n\td ', 'relaxed')).toBe('subject:a\rb\nc d');
  });

  it('relaxed is idempotent on values as the header reader gives them (a CRLF only before SP or HTAB)', () => {
    const name = fc.stringMatching(/^[!-9;-~]{1,10}[ \t]{0,2}$/);
    const value = fc
      .array(fc.constantFrom(' ', '\t', '\r\n ', '\r', '\n', 'a', 'B', ':', '\u00e9'), { maxLength: 20 })
      .map((parts) => parts.join(''))
      .filter((joined) => !/\r\n(?![ \t])/.test(joined));
    fc.assert(
      fc.property(name, value, (fieldName, fieldValue) => {
        const once = canonicalizeHeader(fieldName, fieldValue, 'relaxed');
        const colon = once.indexOf(':');
        expect(canonicalizeHeader(once.slice(0, colon), once.slice(colon + 1), 'relaxed')).toBe(once);
      }),
    );
  });
});

describe('DkimBodyCanonicalizer', () => {
  it('ends the body with one CRLF, and an empty simple body is CRLF', () => {
    const cases: [string, string, string][] = [
      ['', '\r\n', ''],
      ['\r\n\r\n', '\r\n', ''],
      [' \t\r\n \r\n', ' \t\r\n \r\n', ''],
      ['abc', 'abc\r\n', 'abc\r\n'],
      ['abc \t', 'abc \t\r\n', 'abc \r\n'],
      ['abc\r\n \t', 'abc\r\n \t\r\n', 'abc\r\n \r\n'],
      ['\r\n\r\nabc\r\n\r\n', '\r\n\r\nabc\r\n', '\r\n\r\nabc\r\n'],
      ['a \r b\r', 'a \r b\r\r\n', 'a \r b\r\r\n'],
      ['a\nb \n', 'a\nb \n\r\n', 'a\nb \n\r\n'],
    ];
    for (const [body, simple, relaxed] of cases) {
      expect(canonicalizeBody(bytes(body), 'simple').output, JSON.stringify(body)).toBe(simple);
      expect(canonicalizeBody(bytes(body), 'relaxed').output, JSON.stringify(body)).toBe(relaxed);
    }
  });

  it('emits canonical bytes as soon as they are certain', () => {
    const canonicalizer = new DkimBodyCanonicalizer('relaxed');
    expect(text(canonicalizer.update(bytes('a  b \r\n\r\n')))).toBe('a b');
    expect(text(canonicalizer.update(bytes('\r')))).toBe('');
    expect(text(canonicalizer.update(bytes('\nc')))).toBe('\r\n\r\n\r\nc');
    expect(text(canonicalizer.end())).toBe('\r\n');
    expect(canonicalizer.length).toBe(12);
  });

  it('stops at the limit but goes on counting', () => {
    const body = bytes('Hello \r\n\r\n\r\nworld\r\n\r\n');
    expect(canonicalizeBody(body, 'simple', [3], 9)).toEqual({ output: 'Hello \r\n\r', length: 19 });
    expect(canonicalizeBody(body, 'relaxed', [1], 0)).toEqual({ output: '', length: 18 });
    expect(canonicalizeBody(bytes(''), 'simple', [1], 1)).toEqual({ output: '\r', length: 2 });
    expect(canonicalizeBody(body, 'relaxed', [100], 1000).output).toBe('Hello\r\n\r\n\r\nworld\r\n');
  });

  it('refuses a bad limit, and use after end', () => {
    expect(() => new DkimBodyCanonicalizer('simple', { limit: -1 })).toThrow(InvalidArgumentError);
    expect(() => new DkimBodyCanonicalizer('simple', { limit: 1.5 })).toThrow(InvalidArgumentError);
    const canonicalizer = new DkimBodyCanonicalizer('simple');
    canonicalizer.end();
    expect(() => canonicalizer.update(bytes('x'))).toThrow(InvalidArgumentError);
    expect(() => canonicalizer.end()).toThrow(InvalidArgumentError);
  });

  const body = fc
    .array(fc.constantFrom(0x20, 0x09, 0x0d, 0x0a, 0x41, 0x42, 0xe9, 0x00), { maxLength: 60 })
    .map((values) => Uint8Array.from(values));
  const algorithm = fc.constantFrom<DkimCanonicalization>('simple', 'relaxed');
  const sizes = fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 6 });

  it('gives the same bytes for any chunking, matching the whole-body definition', () => {
    fc.assert(
      fc.property(body, algorithm, sizes, (data, canonicalization, chunkSizes) => {
        const expected = referenceBody(text(data), canonicalization);
        expect(canonicalizeBody(data, canonicalization, chunkSizes)).toEqual({
          output: expected,
          length: expected.length,
        });
      }),
    );
  });

  it('emits exactly the first l= canonical bytes, for any chunking', () => {
    fc.assert(
      fc.property(body, algorithm, sizes, fc.nat(70), (data, canonicalization, chunkSizes, limit) => {
        const expected = referenceBody(text(data), canonicalization);
        expect(canonicalizeBody(data, canonicalization, chunkSizes, limit)).toEqual({
          output: expected.slice(0, limit),
          length: expected.length,
        });
      }),
    );
  });
});

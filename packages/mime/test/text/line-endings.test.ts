import { concatBytes, decodeLatin1 } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CrlfNormalizer, toCrlf } from '../../src/text/line-endings.js';
import { cuts, latin1, splitAt } from '../transfer/chunking.js';

const lineText = fc
  .array(fc.oneof(fc.constantFrom('\r', '\n', '\r\n', '\n\r', '\r\r\n'), fc.string({ maxLength: 5 })), {
    maxLength: 30,
  })
  .map((parts) => parts.join('').replace(/[^\x00-\xff]/g, '?'));

describe('toCrlf', () => {
  it('rewrites bare LF and bare CR as CRLF', () => {
    expect(decodeLatin1(toCrlf(latin1('a\nb\rc\r\nd\n\re\r')))).toBe('a\r\nb\r\nc\r\nd\r\n\r\ne\r\n');
  });

  it('returns the same array when every line ending is CRLF already', () => {
    for (const text of ['', 'plain', 'a\r\nb\r\n', '\r\n\r\n']) {
      const bytes = latin1(text);
      expect(toCrlf(bytes)).toBe(bytes);
    }
  });

  it('leaves no bare CR or LF, and changes nothing else', () => {
    fc.assert(
      fc.property(lineText, (text) => {
        const result = decodeLatin1(toCrlf(latin1(text)));
        expect(result).toBe(text.replace(/\r\n|\r|\n/g, '\r\n'));
      }),
    );
  });
});

describe('CrlfNormalizer', () => {
  it('joins a CR at the end of one chunk with an LF at the start of the next', () => {
    const normalizer = new CrlfNormalizer();
    const out = [latin1('a\r'), latin1('\nb\r'), new Uint8Array(0), latin1('c\r'), latin1('\r\n')].map(
      (chunk) => normalizer.normalize(chunk),
    );
    expect(decodeLatin1(concatBytes(out))).toBe('a\r\nb\r\nc\r\n\r\n');
  });

  it('returns a clean chunk as it is, and forgets a CR after reset()', () => {
    const normalizer = new CrlfNormalizer();
    const chunk = latin1('x\r\n');
    expect(normalizer.normalize(chunk)).toBe(chunk);
    normalizer.normalize(latin1('y\r'));
    normalizer.reset();
    expect(decodeLatin1(normalizer.normalize(latin1('\nz')))).toBe('\r\nz');
  });

  it('gives the same bytes as toCrlf for any chunking', () => {
    fc.assert(
      fc.property(lineText, cuts, (text, fractions) => {
        const bytes = latin1(text);
        const normalizer = new CrlfNormalizer();
        const out = concatBytes([
          new Uint8Array(0),
          ...splitAt(bytes, fractions).map((chunk) => normalizer.normalize(chunk)),
        ]);
        expect(out).toEqual(toCrlf(bytes));
      }),
    );
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeUtf7, encodeUtf7, Utf7Decoder } from '../../src/charset/utf7.js';

const ascii = (text: string): Uint8Array => Uint8Array.from(text, (char) => char.charCodeAt(0));

describe('UTF-7 (RFC 2152)', () => {
  it.each([
    ['A+ImIDkQ.', 'A≢Α.'],
    ['Hi Mom -+Jjo--!', 'Hi Mom -☺-!'],
    ['+ZeVnLIqe-', '日本語'],
    ['Item 3 is +AKM-1.', 'Item 3 is £1.'],
    ['+-', '+'],
    ['1 +- 1 = 2', '1 + 1 = 2'],
    ['+2DTdHg-', '𝄞'],
    ['A+ImIDkQ', 'A≢Α'],
  ])('RFC 2152 example %s decodes to %s', (encoded, text) => {
    expect(decodeUtf7(ascii(encoded))).toBe(text);
  });

  it.each([
    ['A≢Α.', 'A+ImIDkQ-.'],
    ['Hi Mom -☺-!', 'Hi Mom -+Jjo--+ACE-'],
    ['日本語', '+ZeVnLIqe-'],
    ['a+b', 'a+-b'],
  ])('encodes %s as %s', (text, encoded) => {
    expect(encodeUtf7(text)).toBe(encoded);
  });

  it('marks ill-formed input with U+FFFD', () => {
    const decoder = new Utf7Decoder();
    expect(decoder.decode(new Uint8Array([0x61, 0xe9]))).toBe('a\uFFFD');
    expect(decoder.invalid).toBe(true);
    expect(decodeUtf7(ascii('+AB-x'))).toBe('\uFFFDx');
    expect(decodeUtf7(ascii('+AGE!'))).toBe('a!');
  });

  it('a plus at the end of a chunk waits for the next one', () => {
    const decoder = new Utf7Decoder();
    expect(decoder.decode(ascii('1 +'))).toBe('1 ');
    expect(decoder.decode(ascii('- 1'))).toBe('+ 1');
    expect(decoder.end()).toBe('');
  });

  it('keeps a lone surrogate (UTF-16 units are encoded as they are)', () => {
    expect(decodeUtf7(ascii(encodeUtf7('a\uD800b')))).toBe('a\uD800b');
  });

  it('decodes long runs in one call', () => {
    const text = '日本語'.repeat(10_000);
    expect(decodeUtf7(ascii(encodeUtf7(text)))).toBe(text);
  });

  it('encode then decode is the identity, for any chunking (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme' })),
        fc.array(fc.nat(), { maxLength: 5 }),
        (text, cuts) => {
          const encoded = encodeUtf7(text);
          expect(encoded).toMatch(/^[\x20-\x7e\t\r\n]*$/);
          const data = ascii(encoded);
          const decoder = new Utf7Decoder();
          let decoded = '';
          let from = 0;
          for (const cut of [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b)) {
            decoded += decoder.decode(data.subarray(from, cut));
            from = cut;
          }
          decoded += decoder.decode(data.subarray(from)) + decoder.end();
          expect(decoded).toBe(text);
          expect(decoder.invalid).toBe(false);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

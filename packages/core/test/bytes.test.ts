import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bytesEqual,
  concatBytes,
  decodeBase64,
  decodeHex,
  decodeLatin1,
  decodeUtf8,
  decodeUtf8Strict,
  encodeBase64,
  encodeHex,
  encodeLatin1,
  startsWithKeyword,
  timingSafeEqual,
  utf8,
} from '../src/index.js';

describe('bytes', () => {
  it('property: base64 encode then decode is the identity, and matches Node', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100_000 }), (data) => {
        const text = encodeBase64(data);
        expect(text).toBe(Buffer.from(data).toString('base64'));
        expect(decodeBase64(text)).toEqual(data);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects base64 that is not strict', () => {
    for (const bad of ['aGVsb', 'aGVsb!!!!!', 'aGVs bG8=', 'aGVsbG8', '=', 'a===']) {
      expect(decodeBase64(bad)).toBeUndefined();
    }
    expect(decodeBase64('')).toEqual(new Uint8Array());
  });

  it('decodes UTF-8 leniently or strictly, and Latin-1 losslessly', () => {
    const invalid = new Uint8Array([0x61, 0xff, 0x62]);
    expect(decodeUtf8(invalid)).toBe('a\ufffdb');
    // A leading U+FEFF is protocol text like any other, not a byte-order mark to drop.
    expect(decodeUtf8(new Uint8Array([0xef, 0xbb, 0xbf, 0x78]))).toBe('\ufeffx');
    expect(decodeUtf8Strict(new Uint8Array([0xef, 0xbb, 0xbf, 0x78]))).toBe('\ufeffx');
    expect(decodeUtf8Strict(invalid)).toBeUndefined();
    expect(decodeUtf8Strict(utf8('Café ✉'))).toBe('Café ✉');
    expect(decodeLatin1(invalid)).toBe('a\u00ffb');
  });

  it('property: Latin-1 encode is the inverse of decode, for every byte', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(encodeLatin1(decodeLatin1(bytes))).toEqual(bytes);
      }),
    );
  });

  it('joins chunks, returning a lone chunk as is', () => {
    const one = utf8('abc');
    expect(concatBytes([one])).toBe(one);
    expect(decodeLatin1(concatBytes([one, utf8('de'), new Uint8Array()]))).toBe('abcde');
  });

  it('compares bytes, and compares secrets without an early exit', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (a, b) => {
        const same = Buffer.compare(a, b) === 0;
        expect(bytesEqual(a, b)).toBe(same);
        expect(timingSafeEqual(a, b)).toBe(same);
        expect(timingSafeEqual(a, a.slice())).toBe(true);
      }),
    );
    expect(timingSafeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 0]))).toBe(false);
  });
});

describe('hex', () => {
  it('property: encode then decode is the identity, and matches Node', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (data) => {
        const text = encodeHex(data);
        expect(text).toBe(Buffer.from(data).toString('hex'));
        expect(decodeHex(text)).toEqual(data);
        expect(decodeHex(text.toUpperCase())).toEqual(data);
      }),
    );
  });

  it('rejects odd lengths and non-hex digits', () => {
    expect(decodeHex('abc')).toBeUndefined();
    expect(decodeHex('zz')).toBeUndefined();
  });
});

describe('startsWithKeyword', () => {
  it('matches the keyword in any case when a space follows it', () => {
    expect(startsWithKeyword(utf8('AUTH PLAIN'), 'AUTH')).toBe(true);
    expect(startsWithKeyword(utf8('auth x'), 'AUTH')).toBe(true);
    expect(startsWithKeyword(utf8('AUTHX PLAIN'), 'AUTH')).toBe(false);
    expect(startsWithKeyword(utf8('AUTH'), 'AUTH')).toBe(false);
    expect(startsWithKeyword(utf8('AUT PLAIN'), 'AUTH')).toBe(false);
    expect(startsWithKeyword(utf8('MAIL FROM:<>'), 'AUTH')).toBe(false);
  });
});

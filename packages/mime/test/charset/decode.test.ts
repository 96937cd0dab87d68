import { decodeLatin1, decodeUtf8Strict, utf8 } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalCharset, createCharsetDecoder, decodeCharset } from '../../src/charset/decode.js';
import { firstInvalidUtf8 } from '../../src/charset/utf8-fallback.js';
import { latin1, splitAt } from '../support/chunks.js';

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);

/** Splits bytes at the given offsets, taken modulo the length + 1. */
function chunked(data: Uint8Array, cuts: number[]): Uint8Array[] {
  return splitAt(
    data,
    cuts.map((cut) => cut % (data.length + 1)),
  );
}

function streamDecode(data: Uint8Array, charset: string | undefined, cuts: number[]) {
  const decoder = createCharsetDecoder(charset);
  let text = '';
  for (const chunk of chunked(data, cuts)) text += decoder.decode(chunk);
  text += decoder.end();
  return { text, charset: decoder.charset, defect: decoder.defect };
}

describe('canonicalCharset: the alias table', () => {
  it.each([
    ['UTF-8', 'utf-8'],
    ['utf8', 'utf-8'],
    ['"utf-8"', 'utf-8'],
    [' Utf_8 ', 'utf-8'],
    ['us-ascii', 'us-ascii'],
    ['ASCII', 'us-ascii'],
    ['ANSI_X3.4-1968', 'us-ascii'],
    ['unicode-1-1-utf-7', 'utf-7'],
    ['UTF-7', 'utf-7'],
    ['latin1', 'windows-1252'],
    ['ISO-8859-1', 'windows-1252'],
    ['iso8859-1', 'windows-1252'],
    ['iso_8859_1', 'windows-1252'],
    ['ISO 8859-1', 'windows-1252'],
    ['iso-8859-2', 'iso-8859-2'],
    ['iso_8859-2:1987', 'iso-8859-2'],
    ['iso8859_15', 'iso-8859-15'],
    ['windows-1250', 'windows-1250'],
    ['cp1251', 'windows-1251'],
    ['win-1252', 'windows-1252'],
    ['x-cp1253', 'windows-1253'],
    ['ms-1254', 'windows-1254'],
    ['koi8-r', 'koi8-r'],
    ['KOI8-U', 'koi8-u'],
    ['gb2312', 'gbk'],
    ['GBK', 'gbk'],
    ['x-gbk', 'gbk'],
    ['cp936', 'gbk'],
    ['gb18030', 'gb18030'],
    ['big5', 'big5'],
    ['big5-hkscs', 'big5'],
    ['shift_jis', 'shift_jis'],
    ['sjis', 'shift_jis'],
    ['cp932', 'shift_jis'],
    ['ms932', 'shift_jis'],
    ['windows-31j', 'shift_jis'],
    ['euc-jp', 'euc-jp'],
    ['iso-2022-jp', 'iso-2022-jp'],
    ['euc-kr', 'euc-kr'],
    ['ks_c_5601-1987', 'euc-kr'],
    ['cp949', 'euc-kr'],
    ['tis-620', 'windows-874'],
    ['windows-874', 'windows-874'],
    ['utf-16', 'utf-16'],
    ['ISO-10646-UCS-2', 'utf-16'],
    ['utf-16le', 'utf-16le'],
    ['utf-16be', 'utf-16be'],
    ['x-mac-roman', 'macintosh'],
  ])('%s → %s', (label, canonical) => {
    expect(canonicalCharset(label)).toBe(canonical);
  });

  it.each(['', '   ', 'x-unknown', 'unknown-8bit', 'iso-2022-kr', 'utf-32', 'x-user-defined'])(
    '%j has no decoder',
    (label) => {
      expect(canonicalCharset(label)).toBeUndefined();
      expect(canonicalCharset(label)).toBeUndefined();
    },
  );
});

describe('decodeCharset', () => {
  it.each([
    ['windows-1251', bytes(0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2), 'Привет'],
    ['koi8-r', bytes(0xf0, 0xd2, 0xc9, 0xd7, 0xc5, 0xd4), 'Привет'],
    ['iso-8859-2', bytes(0xb1, 0xe6), 'ąć'],
    ['iso-8859-1', bytes(0x63, 0x61, 0x66, 0xe9), 'café'],
    ['gb2312', bytes(0xc4, 0xe3, 0xba, 0xc3), '你好'],
    ['big5', bytes(0xa7, 0x41, 0xa6, 0x6e), '你好'],
    ['shift_jis', bytes(0x93, 0xfa, 0x96, 0x7b), '日本'],
    ['euc-jp', bytes(0xc6, 0xfc, 0xcb, 0xdc), '日本'],
    ['iso-2022-jp', latin1('\x1b$BF|K\\\x1b(B'), '日本'],
    ['euc-kr', bytes(0xc7, 0xd1, 0xb1, 0xdb), '한글'],
    ['tis-620', bytes(0xca, 0xc7, 0xd1, 0xca), 'สวัส'],
    ['utf-7', latin1('Hi Mom -+Jjo--!'), 'Hi Mom -☺-!'],
    // Four-byte sequences: U+0080 and U+20000.
    ['gb18030', bytes(0x81, 0x30, 0x81, 0x30, 0x95, 0x32, 0x82, 0x36), '\u0080\u{20000}'],
  ])('%s', (charset, data, text) => {
    expect(decodeCharset(data, charset)).toEqual({ text, charset: canonicalCharset(charset) });
  });

  it('utf-16: a byte order mark decides, and without one the text is big-endian (RFC 2781 §4.3)', () => {
    expect(decodeCharset(bytes(0xfe, 0xff, 0x00, 0x41, 0x00, 0xe9), 'utf-16')).toEqual({
      text: 'Aé',
      charset: 'utf-16be',
    });
    expect(decodeCharset(bytes(0xff, 0xfe, 0x41, 0x00, 0xe9, 0x00), 'UTF-16')).toEqual({
      text: 'Aé',
      charset: 'utf-16le',
    });
    expect(decodeCharset(bytes(0x00, 0x41, 0x00, 0xe9), 'utf-16')).toEqual({
      text: 'Aé',
      charset: 'utf-16be',
    });
    expect(decodeCharset(bytes(0x00, 0x41, 0x00, 0xe9), 'iso-10646-ucs-2')).toEqual({
      text: 'Aé',
      charset: 'utf-16be',
    });
    expect(decodeCharset(bytes(), 'utf-16')).toEqual({ text: '', charset: 'utf-16be' });
  });

  it('reports U+FFFD from bytes invalid in the declared charset', () => {
    expect(decodeCharset(bytes(0x61, 0xff, 0x62), 'utf-8')).toEqual({
      text: 'a\uFFFDb',
      charset: 'utf-8',
      defect: 'invalid-bytes',
    });
    expect(decodeCharset(latin1('+AB-'), 'utf-7').defect).toBe('invalid-bytes');
  });

  it('fallback rule for an unknown charset: UTF-8 when valid, else windows-1252, and unknown-charset', () => {
    expect(decodeCharset(utf8('café'), 'x-unknown')).toEqual({
      text: 'café',
      charset: 'utf-8',
      defect: 'unknown-charset',
    });
    expect(decodeCharset(latin1('caf\xe9 \x93q\x94'), 'x-unknown')).toEqual({
      text: 'café “q”',
      charset: 'windows-1252',
      defect: 'unknown-charset',
    });
  });

  it('switches to windows-1252 at the first invalid UTF-8 sequence', () => {
    const data = new Uint8Array([...utf8('é '), 0xe9, ...utf8(' é')]);
    expect(decodeCharset(data, undefined).text).toBe('é é Ã©');
  });

  it('an undeclared charset uses the fallback rule without a defect', () => {
    expect(decodeCharset(utf8('naïve'), undefined)).toEqual({ text: 'naïve', charset: 'utf-8' });
    expect(decodeCharset(latin1('na\xefve'), '  ')).toEqual({ text: 'naïve', charset: 'windows-1252' });
  });

  it('us-ascii: ASCII as is; 8-bit bytes use the fallback rule and report invalid-bytes', () => {
    expect(decodeCharset(utf8('plain'), 'us-ascii')).toEqual({ text: 'plain', charset: 'us-ascii' });
    expect(decodeCharset(utf8('héllo'), 'ascii')).toEqual({
      text: 'héllo',
      charset: 'utf-8',
      defect: 'invalid-bytes',
    });
  });

  it('a truncated UTF-8 sequence at the end falls back to windows-1252', () => {
    expect(decodeCharset(bytes(0x61, 0xe2, 0x82), undefined)).toEqual({
      text: 'aâ‚',
      charset: 'windows-1252',
    });
  });
});

describe('firstInvalidUtf8', () => {
  it.each([
    [[0x61, 0x62], 2],
    [[0xc0, 0x80], 0],
    [[0x61, 0xe0, 0x80, 0x80], 1],
    [[0xed, 0xa0, 0x80], 0],
    [[0xf4, 0x90, 0x80, 0x80], 0],
    [[0xf0, 0x9f, 0x98, 0x80, 0x61], 5],
    [[0xe2, 0x82, 0x41], 0],
    [[0x61, 0xf0, 0x9f], 1],
  ])('%j → %i', (data, offset) => {
    expect(firstInvalidUtf8(new Uint8Array(data))).toBe(offset);
  });

  it('agrees with the strict UTF-8 decoder on any bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (data) => {
        const offset = firstInvalidUtf8(data);
        expect(offset === data.length).toBe(decodeUtf8Strict(data) !== undefined);
        expect(decodeUtf8Strict(data.subarray(0, offset))).toBeDefined();
      }),
      { numRuns: 2000 },
    );
  });
});

describe('createCharsetDecoder', () => {
  const charsets = [
    undefined,
    'utf-8',
    'x-unknown',
    'us-ascii',
    'utf-7',
    'shift_jis',
    'gb18030',
    'windows-1252',
    'utf-16le',
    'utf-16',
    'iso-2022-jp',
    'euc-jp',
    'big5',
    'euc-kr',
    'koi8-r',
  ];

  it('gives the same text, charset and defect as decodeCharset for any chunking (property)', () => {
    const data = fc.oneof(
      fc.uint8Array({ maxLength: 48 }),
      fc.string({ unit: 'binary', maxLength: 24 }).map(utf8),
      fc.string({ unit: 'binary-ascii', maxLength: 24 }).map(latin1),
      // Line feeds, escape sequences, lead bytes and byte order marks, where the multi-byte decoders keep state.
      fc
        .array(
          fc.oneof(
            fc.constantFrom(0x0a, 0x1b, 0x28, 0x24, 0x42, 0x4a, 0x81, 0x30, 0xa4, 0xfe, 0xff),
            fc.nat(255),
          ),
          {
            maxLength: 32,
          },
        )
        .map((values) => Uint8Array.from(values)),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...charsets),
        data,
        fc.array(fc.nat(), { maxLength: 8 }),
        (charset, input, cuts) => {
          const whole = decodeCharset(input, charset);
          const streamed = streamDecode(input, charset, cuts);
          expect(streamed.text).toBe(whole.text);
          expect(streamed.charset).toBe(whole.charset);
          expect(streamed.defect).toBe(whole.defect);
        },
      ),
      { numRuns: 6000 },
    );
  });

  it('holds a character split across chunks until it is complete', () => {
    const decoder = createCharsetDecoder('utf-8');
    expect(decoder.decode(bytes(0xe2, 0x82))).toBe('');
    expect(decoder.decode(bytes(0xac))).toBe('€');
    expect(decoder.end()).toBe('');
  });

  it('fallback: switches for the rest of the stream once invalid bytes appear', () => {
    const decoder = createCharsetDecoder(undefined);
    expect(decoder.decode(utf8('€ '))).toBe('€ ');
    expect(decoder.charset).toBe('utf-8');
    expect(decoder.decode(bytes(0xe2, 0x82))).toBe('');
    expect(decoder.decode(bytes(0x41, 0xe9))).toBe('â‚Aé');
    expect(decoder.charset).toBe('windows-1252');
    expect(decoder.decode(utf8('€'))).toBe('â‚¬');
    expect(decoder.end()).toBe('');
  });

  it('decodes a large body in chunks like one call', () => {
    const text = 'Grüße aus Köln, ☃ and 𝄞. '.repeat(5000);
    const data = utf8(text);
    const cuts = Array.from({ length: 200 }, (_, i) => i * 641 + 1);
    expect(streamDecode(data, 'utf-8', cuts).text).toBe(text);
    expect(streamDecode(data, undefined, cuts).text).toBe(text);
    expect(decodeLatin1(latin1('abc'))).toBe('abc');
  });
});

describe('a U+FFFD the message itself holds', () => {
  const text = 'before \uFFFD after \uFFFD';

  it('is content, not a decoding error, in one piece and in chunks split inside EF BF BD', () => {
    const bytes = utf8(text);
    expect(decodeCharset(bytes, 'utf-8')).toEqual({ text, charset: 'utf-8' });
    for (let cut = 1; cut < bytes.length; cut++) {
      const decoder = createCharsetDecoder('utf-8');
      const decoded =
        decoder.decode(bytes.subarray(0, cut)) + decoder.decode(bytes.subarray(cut)) + decoder.end();
      expect(decoded).toBe(text);
      expect(decoder.defect).toBeUndefined();
    }
  });

  it('still lets a real decoding error through as invalid-bytes', () => {
    const bytes = new Uint8Array([...utf8(text), 0xff]);
    expect(decodeCharset(bytes, 'utf-8').defect).toBe('invalid-bytes');
    const decoder = createCharsetDecoder('utf-8');
    decoder.decode(bytes);
    decoder.end();
    expect(decoder.defect).toBe('invalid-bytes');
  });
});

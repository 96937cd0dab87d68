import { decodeUtf8Strict, encodeBase64, InvalidArgumentError, utf8 } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEncodedWords, encodeEncodedWords, needsEncoding } from '../../src/header/encoded-word.js';

const text = (value: string, options?: Parameters<typeof decodeEncodedWords>[1]): string =>
  decodeEncodedWords(value, options).text;

describe('decodeEncodedWords', () => {
  it.each([
    ['=?utf-8?B?SGVsbG8gd29ybGQ=?=', 'Hello world'],
    ['=?UTF-8?b?SGVsbG8=?=', 'Hello'],
    ['=?iso-8859-1?q?caf=E9?=', 'café'],
    ['=?ISO-8859-1?Q?a_b=5Fc?=', 'a b_c'],
    ['=?utf-8*en?Q?hello?=', 'hello'],
    ['=?UTF-8*EN-us?B?w6k=?=', 'é'],
    ['Re: =?utf-8?q?caf=C3=A9?= ok', 'Re: café ok'],
    ['"=?utf-8?q?Jos=C3=A9?=" <j@x>', '"José" <j@x>'],
    ['a=?utf-8?q?b?=c', 'abc'],
    ['=?utf-8?B?SGVsbG8?=', 'Hello'],
    ['=?utf-8?B?SGVs bG8=?=', 'Hello'],
    ['=?utf-8?Q?a=ZZb=?=', 'a=ZZb='],
    ['=?utf-8?Q?=C3=A9t=C3=A9?=', 'été'],
    ['=?utf-8?Q?caf\u00e9?=', 'café'],
  ])('%s → %s', (input, output) => {
    expect(text(input)).toBe(output);
  });

  it('joins words separated only by whitespace, and keeps other text', () => {
    expect(text('=?utf-8?q?a?= =?utf-8?q?b?=')).toBe('ab');
    expect(text('=?utf-8?q?a?=\r\n =?iso-8859-1?q?b?=')).toBe('ab');
    expect(text('=?utf-8?q?a?= x =?utf-8?q?b?=')).toBe('a x b');
    expect(text(' =?utf-8?q?a?= ')).toBe(' a ');
  });

  it('decodes a character split across two words of the same charset', () => {
    expect(text('=?utf-8?B?4oI=?= =?utf-8?B?rA==?=')).toBe('€');
    expect(text('=?UTF-8?Q?=E2=82?=\r\n =?utf-8?Q?=AC?=')).toBe('€');
    expect(text('=?shift_jis?B?kw==?= =?sjis?B?+g==?=')).toBe('日');
    expect(decodeEncodedWords('=?utf-8?B?4oI=?= =?iso-8859-1?B?rA==?=').defects).toEqual(['invalid-bytes']);
  });

  it('leaves malformed words as written', () => {
    for (const input of [
      '=?utf-8?X?abc?=',
      '=?utf-8?Q?abc',
      '=?utf-8?Q?abc?x',
      '=??Q?abc?=',
      '=?utf 8?Q?abc?=',
      '=?utf-8?',
      '=?',
      '?=',
      `=?${'x'.repeat(100)}?Q?abc?=`,
    ]) {
      expect(decodeEncodedWords(input)).toEqual({ text: input, defects: [] });
    }
  });

  it('falls back for unknown charsets, and decodes UTF-7 words', () => {
    expect(decodeEncodedWords('=?x-unknown?q?caf=E9?=')).toEqual({
      text: 'café',
      defects: ['unknown-charset'],
    });
    expect(decodeEncodedWords('=?x-unknown?q?caf=C3=A9?=')).toEqual({
      text: 'café',
      defects: ['unknown-charset'],
    });
    expect(text('=?unicode-1-1-utf-7?Q?Hi_Mom_-+Jjo--!?=')).toBe('Hi Mom -☺-!');
  });

  it('reports stray base64 characters', () => {
    expect(decodeEncodedWords('=?utf-8?B?SGV*sbG8=?=')).toEqual({
      text: 'Hello',
      defects: ['invalid-base64'],
    });
    expect(decodeEncodedWords('=?utf-8?B?SGVsbG8gd?=')).toEqual({
      text: 'Hello ',
      defects: ['invalid-base64'],
    });
  });

  it('spaceAroundWords separates a word from text that touches it', () => {
    expect(text('[SPAM]=?utf-8?q?offer?=!', { spaceAroundWords: true })).toBe('[SPAM] offer !');
    expect(text('[SPAM] =?utf-8?q?offer?= !', { spaceAroundWords: true })).toBe('[SPAM] offer !');
  });

  it('case 39: words that decode to NUL, CR or LF are flagged and neutralised with U+FFFD', () => {
    expect(decodeEncodedWords('=?utf-8?q?a=0D=0ABcc:_x?=')).toEqual({
      text: 'a\uFFFD\uFFFDBcc: x',
      defects: ['control-characters'],
    });
    expect(decodeEncodedWords(`=?utf-8?B?${encodeBase64(utf8('a\0b\nc'))}?=`)).toEqual({
      text: 'a\uFFFDb\uFFFDc',
      defects: ['control-characters'],
    });
    expect(decodeEncodedWords('=?utf-7?q?+AA0ACg-?=').text).toBe('\uFFFD\uFFFD');
  });

  it('case 39: 100k adjacent base64 words stop at maxEncodedWords, in linear time', () => {
    const word = '=?utf-8?B?w6k=?=';
    const input = Array.from({ length: 100_000 }, () => word).join(' ');
    const limited = decodeEncodedWords(input);
    expect(limited.defects).toEqual(['limit-maxEncodedWords']);
    expect(limited.text.startsWith('é'.repeat(1000))).toBe(true);
    expect(limited.text.endsWith(` ${word}`)).toBe(true);
    expect(limited.text.length).toBe(1000 + 1 + (word.length + 1) * 99_000 - 1);
    const all = decodeEncodedWords(input, { maxEncodedWords: Number.POSITIVE_INFINITY });
    expect(all).toEqual({ text: 'é'.repeat(100_000), defects: [] });
  });

  it('case 39: 1 MB of =? and other hostile runs, in linear time', () => {
    for (const input of [
      '=?'.repeat(500_000),
      '=?utf-8?q?'.repeat(100_000),
      `=?utf-8?q?${'a'.repeat(1_000_000)}`,
      `=?${'a'.repeat(1_000_000)}`,
      `${'=?a?q?'.repeat(100_000)}?x`,
    ]) {
      expect(decodeEncodedWords(input)).toEqual({ text: input, defects: [] });
    }
    // `=?a?q?x?=` is a word (charset `a`, text `x`), and the next one starts one character later.
    const words = decodeEncodedWords('=?a?q?x?'.repeat(100_000));
    expect(words.defects).toEqual(['unknown-charset', 'limit-maxEncodedWords']);
    expect(words.text.startsWith('x?a?q?x?')).toBe(true);
  });

  it('case 39: an over-long word is still decoded', () => {
    const long = 'x'.repeat(100_000);
    expect(text(`=?utf-8?B?${encodeBase64(utf8(long))}?=`)).toBe(long);
  });
});

describe('needsEncoding', () => {
  it.each([
    ['plain text', false],
    ['tab\there', false],
    ['', false],
    ['café', true],
    ['a\r\nBcc: x', true],
    ['nul\0', true],
    ['looks =?like?= a word', true],
  ])('%j → %s', (input, expected) => {
    expect(needsEncoding(input)).toBe(expected);
  });
});

/** Every encoded word in the output. */
const wordsOf = (encoded: string): string[] => encoded.match(/=\?utf-8\?[BQ]\?[^?]*\?=/g) ?? [];

describe('encodeEncodedWords', () => {
  it('leaves text that needs no encoding alone', () => {
    expect(encodeEncodedWords('Hello world')).toBe('Hello world');
  });

  it('encodes only the words that need it, with the spaces between neighbours', () => {
    expect(encodeEncodedWords('Hello Wörld', { encoding: 'Q' })).toBe('Hello =?utf-8?Q?W=C3=B6rld?=');
    expect(encodeEncodedWords('Hello Wörld')).toBe('Hello =?utf-8?B?V8O2cmxk?=');
    expect(encodeEncodedWords('Grüße  aus Köln', { encoding: 'Q' })).toBe(
      '=?utf-8?Q?Gr=C3=BC=C3=9Fe?=  aus =?utf-8?Q?K=C3=B6ln?=',
    );
    expect(encodeEncodedWords('très   élevé', { encoding: 'Q' })).toBe(
      '=?utf-8?Q?tr=C3=A8s___=C3=A9lev=C3=A9?=',
    );
    expect(encodeEncodedWords('日本語', { encoding: 'B' })).toBe('=?utf-8?B?5pel5pys6Kqe?=');
    expect(encodeEncodedWords('日本語')).toBe('=?utf-8?B?5pel5pys6Kqe?=');
  });

  it('case 30: CR and LF never appear raw', () => {
    const encoded = encodeEncodedWords('x\r\nBcc: v@x');
    expect(encoded).not.toMatch(/[\r\n]/);
    expect(decodeEncodedWords(encoded).text).toBe('x\uFFFD\uFFFDBcc: v@x');
  });

  it('splits long runs into words of at most 75 characters, never inside a UTF-8 sequence', () => {
    for (const encoding of ['B', 'Q'] as const) {
      const input = 'Ünïcödé 😀 ✓ '.repeat(20).trim();
      const encoded = encodeEncodedWords(input, { encoding });
      const words = wordsOf(encoded);
      expect(words.length).toBeGreaterThan(3);
      expect(encoded).toBe(words.join(' '));
      for (const word of words) {
        expect(word.length).toBeLessThanOrEqual(75);
        expect(decodeUtf8Strict(utf8(decodeEncodedWords(word).text))).toBeDefined();
        expect(decodeEncodedWords(word).text).not.toContain('\uFFFD');
      }
      expect(decodeEncodedWords(encoded).text).toBe(input);
    }
  });

  it('honours maxLineLength, and refuses one too short for a word', () => {
    const words = wordsOf(encodeEncodedWords('é'.repeat(40), { maxLineLength: 40, encoding: 'Q' }));
    for (const word of words) expect(word.length).toBeLessThanOrEqual(39);
    expect(() => encodeEncodedWords('é', { maxLineLength: 20 })).toThrow(InvalidArgumentError);
  });

  it('encode then decode is the identity (property)', () => {
    const input = fc
      .oneof(
        fc.string({ unit: 'grapheme' }),
        fc.string({ unit: 'binary' }),
        fc.string({ unit: 'binary-ascii' }),
      )
      .filter((value) => !/[\0\r\n]/.test(value));
    fc.assert(
      fc.property(input, fc.constantFrom(undefined, 'B' as const, 'Q' as const), (value, encoding) => {
        const encoded = encodeEncodedWords(value, { encoding });
        expect(encoded).toMatch(/^[\t\x20-\x7e]*$/);
        expect(decodeEncodedWords(encoded)).toEqual({ text: value, defects: [] });
        for (const word of wordsOf(encoded)) expect(word.length).toBeLessThanOrEqual(75);
      }),
      { numRuns: 3000 },
    );
  });
});

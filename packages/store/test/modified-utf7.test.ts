import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidMailboxNameError } from '../src/errors.js';
import { decodeModifiedUtf7, encodeModifiedUtf7 } from '../src/modified-utf7.js';

function expectInvalidUtf7(encoded: string): void {
  expect(() => decodeModifiedUtf7(encoded), JSON.stringify(encoded)).toThrow(
    expect.objectContaining({ reason: 'invalid-utf7' }),
  );
  expect(() => decodeModifiedUtf7(encoded)).toThrow(InvalidMailboxNameError);
}

describe('modified UTF-7', () => {
  it('decodes and encodes the RFC 3501 §5.1.3 example', () => {
    expect(decodeModifiedUtf7('~peter/mail/&U,BTFw-/&ZeVnLIqe-')).toBe('~peter/mail/台北/日本語');
    expect(encodeModifiedUtf7('~peter/mail/台北/日本語')).toBe('~peter/mail/&U,BTFw-/&ZeVnLIqe-');
  });

  it('leaves printable US-ASCII other than & as it is', () => {
    const ascii = Array.from({ length: 0x5f }, (_, i) => String.fromCharCode(0x20 + i))
      .filter((char) => char !== '&')
      .join('');
    expect(encodeModifiedUtf7(ascii)).toBe(ascii);
    expect(decodeModifiedUtf7(ascii)).toBe(ascii);
    expect(encodeModifiedUtf7('')).toBe('');
    expect(decodeModifiedUtf7('')).toBe('');
  });

  it('encodes other characters as UTF-16 in modified BASE64, one sequence per run', () => {
    const pairs: [string, string][] = [
      ['Répertoire', 'R&AOk-pertoire'],
      ['éè', '&AOkA6A-'],
      ['😀', '&2D3eAA-'],
      ['\u0000', '&AAA-'],
      ['\u2028', '&ICg-'],
      ['é&è', '&AOk-&-&AOg-'],
      ['Tom & Jerry', 'Tom &- Jerry'],
    ];
    for (const [text, encoded] of pairs) {
      expect(encodeModifiedUtf7(text)).toBe(encoded);
      expect(decodeModifiedUtf7(encoded)).toBe(text);
    }
  });

  it('case 22: rejects &, &Jjo, &Jjo!, &AGE-, &U,BTFw-&ZeVnLIqe- and lone surrogates; &- round-trips to &', () => {
    for (const encoded of ['&', '&Jjo', '&Jjo!', '&AGE-', '&U,BTFw-&ZeVnLIqe-']) expectInvalidUtf7(encoded);
    // A lone high surrogate, a lone low one, a high one before a non-surrogate, and a reversed pair.
    for (const encoded of ['&2D0-', '&3gA-', '&2D0A6Q-', '&3gDYPQ-']) expectInvalidUtf7(encoded);
    expect(decodeModifiedUtf7('&-')).toBe('&');
    expect(encodeModifiedUtf7('&')).toBe('&-');
    expect(decodeModifiedUtf7('&-&-')).toBe('&&');
    expect(() => encodeModifiedUtf7('a\ud800b')).toThrow(
      expect.objectContaining({ reason: 'control-character' }),
    );
    expect(() => encodeModifiedUtf7('\udc00')).toThrow(InvalidMailboxNameError);
  });

  it('rejects characters outside the modified BASE64 alphabet inside a sequence', () => {
    for (const encoded of ['&Jjo!-', '&Jj/o-', '&AO=k-', '&AO k-', '&&-', '&AOk', '&AOk&-'])
      expectInvalidUtf7(encoded);
  });

  it('rejects printable US-ASCII written in BASE64, including an encoded &', () => {
    for (const encoded of ['&AGE-', '&ACY-', '&ACA-', '&AH4-', '&AGEA6Q-']) expectInvalidUtf7(encoded);
  });

  it('rejects non-zero leftover bits, an odd number of bytes and superfluous characters', () => {
    for (const encoded of ['&AOl-', '&AOn-', '&AA-', '&AOkA-', '&A-', '&AOkA6AA-'])
      expectInvalidUtf7(encoded);
  });

  it('rejects any raw character outside 0x20–0x7E', () => {
    for (const encoded of ['\u0000', 'a\tb', 'a\r\nb', '\u007f', 'é', 'a\u0080', '日本語', '&AOk-\u00e9']) {
      expectInvalidUtf7(encoded);
    }
  });

  it('accepts adjacent sequences only when separated by a literal character', () => {
    expect(decodeModifiedUtf7('&U,BTFw-/&ZeVnLIqe-')).toBe('台北/日本語');
    expect(decodeModifiedUtf7('&AOk-&-&AOg-')).toBe('é&è');
  });

  it('property: encoding then decoding is the identity, and the encoding is printable US-ASCII', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (text) => {
        const encoded = encodeModifiedUtf7(text);
        expect(encoded).toMatch(/^[\x20-\x7e]*$/);
        expect(decodeModifiedUtf7(encoded)).toBe(text);
        expect(encodeModifiedUtf7(decodeModifiedUtf7(encoded))).toBe(encoded);
      }),
      { numRuns: 500 },
    );
  });

  it('property: any input the decoder accepts is the encoding of what it decodes to', () => {
    const unit = fc.constantFrom(
      '&',
      '-',
      'A',
      'O',
      'k',
      'G',
      'E',
      '2',
      'D',
      '0',
      '3',
      'g',
      ',',
      '+',
      '/',
      'a',
      ' ',
    );
    let accepted = 0;
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 16 }), (encoded) => {
        let decoded: string;
        try {
          decoded = decodeModifiedUtf7(encoded);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidMailboxNameError);
          return;
        }
        accepted++;
        expect(encodeModifiedUtf7(decoded)).toBe(encoded);
      }),
      { numRuns: 2000 },
    );
    expect(accepted).toBeGreaterThan(0);
  });
});

import { InvalidArgumentError, ProtocolError } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeXtext, encodeXtext } from '../../src/protocol/xtext.js';

/** RFC 3461 §4 xtext as encodeXtext writes it: xchars other than `<` and `>`, and hexchars. */
const ENCODED_XTEXT = /^(?:[!-*,-;?-~]|\+[0-9A-F]{2})*$/;

describe('encodeXtext', () => {
  it('keeps xchars and encodes "+", "=", spaces and controls as upper-case hexchars', () => {
    expect(encodeXtext('')).toBe('');
    expect(encodeXtext('rfc822;Bob@Example.COM')).toBe('rfc822;Bob@Example.COM');
    expect(encodeXtext('a+b=c d')).toBe('a+2Bb+3Dc+20d');
    expect(encodeXtext('QQ314159')).toBe('QQ314159');
    expect(encodeXtext('\u0000\t\u007f')).toBe('+00+09+7F');
    expect(encodeXtext('!~')).toBe('!~');
  });

  it('encodes UTF-8 octet by octet', () => {
    expect(encodeXtext('é')).toBe('+C3+A9');
    expect(encodeXtext('用户')).toBe('+E7+94+A8+E6+88+B7');
    expect(encodeXtext('😀')).toBe('+F0+9F+98+80');
  });

  it('case 31: CR, LF, "<" and ">" in a DSN value cannot break the command', () => {
    const orcpt = encodeXtext('foo@psres.net> ORCPT=admin@admin.com\r\nRCPT TO:<v@x>');
    expect(orcpt).toBe('foo@psres.net+3E+20ORCPT+3Dadmin@admin.com+0D+0ARCPT+20TO:+3Cv@x+3E');
    expect(orcpt).toMatch(ENCODED_XTEXT);
    expect(orcpt).not.toMatch(/[\r\n <>=]/);
  });

  it('refuses a lone surrogate, which has no UTF-8 form', () => {
    expect(() => encodeXtext('a\ud800')).toThrow(InvalidArgumentError);
    expect(() => encodeXtext('\udc00b')).toThrow(InvalidArgumentError);
  });
});

describe('decodeXtext', () => {
  it('decodes xchars and hexchars', () => {
    expect(decodeXtext('')).toBe('');
    expect(decodeXtext('a+2Bb+3Dc+20d')).toBe('a+b=c d');
    expect(decodeXtext('rfc822;Bob@Example.COM')).toBe('rfc822;Bob@Example.COM');
    expect(decodeXtext('+C3+A9')).toBe('é');
    expect(decodeXtext('<a>')).toBe('<a>');
  });

  it('decodes a hexchar for any octet, even one that needed no encoding', () => {
    expect(decodeXtext('+41+42')).toBe('AB');
  });

  it('keeps a leading U+FEFF rather than dropping it as a byte order mark', () => {
    expect(decodeXtext('+EF+BB+BFa')).toBe('\ufeffa');
  });

  it('returns controls as they were encoded, for the caller to check', () => {
    expect(decodeXtext('a+0D+0Ab')).toBe('a\r\nb');
  });

  it('refuses a "+" without two upper-case hex digits', () => {
    for (const xtext of ['+', '+4', 'a+', '+4g', '+g4', '+4a', '+a4', '++41', '+ 41', '+-1']) {
      expect(() => decodeXtext(xtext), xtext).toThrow(ProtocolError);
    }
  });

  it('refuses characters outside 33–126, and "="', () => {
    for (const xtext of ['a b', 'a=b', '=', 'a\r\nb', '\t', '\u007f', 'é', '\u0000', 'a\ud800']) {
      expect(() => decodeXtext(xtext), JSON.stringify(xtext)).toThrow(ProtocolError);
    }
  });

  it('refuses octets that are not UTF-8', () => {
    for (const xtext of ['+FF', '+C3', '+C3+28', '+ED+A0+80', '+C0+AF', 'a+80']) {
      expect(() => decodeXtext(xtext), xtext).toThrow(ProtocolError);
    }
  });

  it('never quotes the refused text in its message', () => {
    expect(() => decodeXtext('secret\r\n')).toThrow(/^(?![\s\S]*secret)[\s\S]*offset 6/);
  });
});

describe('properties', () => {
  it('decode(encode(text)) is text, for any text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(decodeXtext(encodeXtext(text))).toBe(text);
      }),
      { numRuns: 2000 },
    );
  });

  it('encode writes only xchars and upper-case hexchars', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        expect(encodeXtext(text)).toMatch(ENCODED_XTEXT);
      }),
      { numRuns: 2000 },
    );
  });

  it('any xtext decodes, then encodes back to one that decodes the same', () => {
    const xchar = fc.constantFrom(...'!"#*,;<>?@AZaz~09'.split(''));
    const hexchar = fc
      .integer({ min: 0, max: 0x7f })
      .map((n) => `+${n.toString(16).toUpperCase().padStart(2, '0')}`);
    fc.assert(
      fc.property(fc.array(fc.oneof(xchar, hexchar)), (parts) => {
        const decoded = decodeXtext(parts.join(''));
        expect(decodeXtext(encodeXtext(decoded))).toBe(decoded);
      }),
    );
  });

  it('decode throws only ProtocolError, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary-ascii' }), (text) => {
        try {
          decodeXtext(text);
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
        }
      }),
    );
  });
});

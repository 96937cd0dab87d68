import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { saslprep } from '../src/index.js';

describe('saslprep (RFC 4013)', () => {
  it.each([
    ['I\u00ADX', 'IX', 'SOFT HYPHEN mapped to nothing'],
    ['user', 'user', 'no transformation'],
    ['USER', 'USER', 'case preserved'],
    ['\u00AA', 'a', 'output is NFKC, input in ISO 8859-1'],
    ['\u2168', 'IX', 'output is NFKC'],
  ])('RFC 4013 §3: %j → %j (%s)', (input, output) => {
    expect(saslprep(input)).toBe(output);
  });

  it('RFC 4013 §3: <U+0007> is an error (prohibited character)', () => {
    expect(() => saslprep('\u0007')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('RFC 4013 §3: <U+0627><U+0031> is an error (bidirectional check)', () => {
    expect(() => saslprep('\u06271')).toThrow(/bidirectional/);
  });

  it('maps non-ASCII spaces to SPACE and drops the mapped-to-nothing characters', () => {
    expect(saslprep('a\u00A0b\u3000c')).toBe('a b c');
    expect(saslprep('a\u200Db\uFE0Fc\u034F')).toBe('abc');
  });

  it.each([
    ['C.2.1 ASCII control', 'a\u007Fb'],
    ['C.2.2 non-ASCII control', 'a\u0085b'],
    ['C.3 private use', 'a\uE000b'],
    ['C.4 non-character', 'a\uFDD0b'],
    ['C.4 non-character (plane 1)', 'a\u{1FFFE}b'],
    ['C.5 lone surrogate', 'a\uD800b'],
    ['C.6 inappropriate for plain text', 'a\uFFFDb'],
    ['C.7 ideographic description', 'a\u2FF0b'],
    ['C.8 display property', 'a\u202Eb'],
    ['C.9 tagging', 'a\u{E0001}b'],
  ])('rejects %s', (_, input) => {
    expect(() => saslprep(input)).toThrow(/prohibited/);
  });

  it('applies the bidirectional rules of RFC 3454 §6', () => {
    expect(saslprep('\u0627\u0628')).toBe('\u0627\u0628');
    expect(saslprep('\u05D0 1 \u05D1')).toBe('\u05D0 1 \u05D1');
    expect(() => saslprep('\u0627a\u0628')).toThrow(/bidirectional/);
    expect(() => saslprep('1\u0627')).toThrow(/bidirectional/);
  });

  it('refuses unassigned code points only for stored strings', () => {
    expect(saslprep('a\u{50000}b')).toBe('a\u{50000}b');
    expect(() => saslprep('a\u{50000}b', { allowUnassigned: false })).toThrow(/unassigned/);
  });

  it('never puts the input in the error message', () => {
    expect(() => saslprep('secret\u0000pw')).toThrow(expect.not.objectContaining({ message: /secret/ }));
  });

  it('is idempotent on its output', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 30 }), (input) => {
        let prepared: string;
        try {
          prepared = saslprep(input);
        } catch {
          return;
        }
        expect(saslprep(prepared)).toBe(prepared);
      }),
    );
  });
});

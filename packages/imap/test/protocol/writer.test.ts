import { decodeLatin1, decodeUtf8Strict, utf8 } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseResponse, serializeResponse } from '../../src/protocol/response.js';
import { ImapWriter } from '../../src/protocol/writer.js';
import { frameAll, wire } from './response-helpers.js';

/**
 * The writer checks strings as JavaScript strings, without encoding them first: these properties hold it
 * to the form chosen by checking the UTF-8 octets (quoted when at most 1,024 octets without CR or LF that
 * are ASCII, or valid UTF-8 under UTF8=ACCEPT; else a literal), and to what a reader reads back.
 */

/** The wire form of a string as chosen from its UTF-8 octets. */
function byOctets(value: string, utf8Accept: boolean): string {
  const bytes = utf8(value);
  const quotable = bytes.length <= 1024 && !bytes.includes(0x0d) && !bytes.includes(0x0a);
  const ascii = bytes.every((byte) => byte < 0x80);
  const text = quotable && (ascii || utf8Accept) ? decodeUtf8Strict(bytes) : undefined;
  if (text === undefined) return `{${bytes.length}}\r\n${decodeLatin1(bytes)}`;
  return decodeLatin1(utf8(`"${text.replace(/[\\"]/g, '\\$&')}"`));
}

/** The characters that decide the form, and any other code unit (lone surrogates included). */
const unit = fc.oneof(
  fc.constantFrom('"', '\\', '\r', '\n', 'a', ' ', '~', '\x7f', 'é', '€', '😀', '\ud800', '\udfff'),
  fc.integer({ min: 1, max: 0xffff }).map((code) => String.fromCharCode(code)),
);
/** Strings without NUL, short or around the 1,024 octets where quoted strings end. */
const value = fc.oneof(
  fc.array(unit, { maxLength: 40 }).map((units) => units.join('')),
  fc
    .tuple(fc.integer({ min: 1000, max: 1030 }), fc.array(unit, { maxLength: 8 }))
    .map(([length, units]) => 'x'.repeat(length) + units.join('')),
);

function written(write: (writer: ImapWriter) => void, utf8Accept: boolean): string {
  const writer = new ImapWriter({ side: 'server', utf8: utf8Accept });
  write(writer);
  return decodeLatin1(wire(writer.finish()));
}

describe('ImapWriter', () => {
  it('writes a string quoted or as a literal just as its UTF-8 octets decide', () => {
    fc.assert(
      fc.property(value, fc.boolean(), (text, utf8Accept) => {
        expect(written((writer) => writer.string(text), utf8Accept)).toBe(byOctets(text, utf8Accept));
        expect(written((writer) => writer.string(utf8(text)), utf8Accept)).toBe(byOctets(text, utf8Accept));
      }),
      { numRuns: 2000 },
    );
  });

  it('reads every string back as written, through serialize and parse', () => {
    fc.assert(
      fc.property(value, fc.boolean(), (text, utf8Accept) => {
        const parts = serializeResponse(
          { type: 'ID', parameters: [['name', text]] },
          new ImapWriter({ side: 'server', utf8: utf8Accept }),
        );
        const [received] = frameAll(wire(parts));
        const response = parseResponse(received!.fragments, { lenient: false });
        // A lone surrogate has no UTF-8: it is sent, and read back, as U+FFFD.
        const wellFormed = new TextDecoder().decode(new TextEncoder().encode(text));
        expect(response).toEqual({ type: 'ID', parameters: [['name', wellFormed]] });
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses NUL in a string, as text or as octets', () => {
    const writer = new ImapWriter({ side: 'server' });
    expect(() => writer.string('a\0b')).toThrow('NUL');
    expect(() => writer.string(new Uint8Array([0x61, 0]))).toThrow('NUL');
  });

  it('writes an atom where every character is an ATOM-CHAR or one of those allowed there, else refuses', () => {
    const atomChar = /^[\x21\x23\x24\x26\x27\x2b-\x5b\x5e-\x7a\x7c-\x7e]$/;
    const text = fc
      .array(fc.constantFrom('a', 'Z', '0', '\\', '*', '%', ']', '[', '(', '"', ' ', '{', 'é', '^', '-'), {
        maxLength: 6,
      })
      .map((chars) => chars.join(''));
    const extra = fc.constantFrom('', '\\', '\\*', ']', '*%', '^-');
    fc.assert(
      fc.property(text, extra, (atom, allowed) => {
        const valid = atom !== '' && [...atom].every((char) => atomChar.test(char) || allowed.includes(char));
        const writer = new ImapWriter({ side: 'server' });
        if (valid) expect(written((w) => w.atom(atom, allowed), false)).toBe(atom);
        else expect(() => writer.atom(atom, allowed)).toThrow('not an atom');
      }),
    );
  });
});

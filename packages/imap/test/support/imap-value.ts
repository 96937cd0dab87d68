import { readableText } from './raw-imap.js';

/**
 * Just enough of the IMAP response grammar to compare two servers' answers by meaning where the bytes
 * may legitimately differ: a response read as a sequence of values (atoms, strings, NIL, lists), where
 * a quoted string and a literal with the same octets are the same string, and written back in one
 * canonical form.
 */

/** An atom (kept as sent), a string (quoted or literal, unescaped), NIL, or a parenthesised list. */
export type ImapValue = { readonly atom: string } | string | null | ImapValue[];

const SP = 0x20;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN = 0x28;
const CLOSE = 0x29;
const BRACE = 0x7b;
const TILDE = 0x7e;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const CR = 0x0d;

/**
 * Parses `text` (one response as a binary string, one character per octet, literals inline as
 * `{n}\r\n…`) from `start` to its end into values; strings stay binary strings.
 */
export function parseValues(text: string, start = 0): ImapValue[] {
  const bytes = Buffer.from(text, 'latin1');
  let position = start;

  const value = (): ImapValue => {
    const byte = bytes[position];
    if (byte === OPEN) return list();
    if (byte === QUOTE) return quoted();
    if (byte === BRACE) return literal();
    if (byte === TILDE && bytes[position + 1] === BRACE) {
      position++; // literal8 (RFC 3516): the same octets, compared as a string
      return literal();
    }
    const name = atom();
    return name.toUpperCase() === 'NIL' ? null : { atom: name };
  };
  const list = (): ImapValue[] => {
    position++; // (
    const items: ImapValue[] = [];
    for (;;) {
      const byte = bytes[position];
      if (byte === undefined) throw new Error(`unterminated list in ${text}`);
      if (byte === SP) position++;
      else if (byte === CLOSE) {
        position++;
        return items;
      } else items.push(value());
    }
  };
  const quoted = (): string => {
    position++; // "
    const out: number[] = [];
    for (;;) {
      const byte = bytes[position++];
      if (byte === undefined) throw new Error(`unterminated quoted string in ${text}`);
      if (byte === QUOTE) return Buffer.from(out).toString('latin1');
      out.push(byte === BACKSLASH ? bytes[position++]! : byte);
    }
  };
  const literal = (): string => {
    const close = bytes.indexOf('}\r\n', position);
    const size = Number(
      bytes
        .subarray(position + 1, close)
        .toString('latin1')
        .replace(/\+$/, ''),
    );
    const begin = close + 3;
    position = begin + size;
    return bytes.subarray(begin, position).toString('latin1');
  };
  /** An atom, including a bracketed part with spaces (`BODY[HEADER.FIELDS (A B)]<0>`). */
  const atom = (): string => {
    const begin = position;
    let depth = 0;
    for (;;) {
      const byte = bytes[position];
      if (byte === undefined || byte === CR) break;
      if (byte === OPEN_BRACKET) depth++;
      else if (byte === CLOSE_BRACKET) depth--;
      else if (depth === 0 && (byte === SP || byte === OPEN || byte === CLOSE)) break;
      position++;
    }
    if (position === begin) throw new Error(`unexpected byte ${bytes[position]} at ${position} in ${text}`);
    return bytes.subarray(begin, position).toString('latin1');
  };

  const values: ImapValue[] = [];
  while (position < bytes.length) {
    if (bytes[position] === SP) position++;
    else values.push(value());
  }
  return values;
}

/** True for an atom value. */
export function isAtom(value: ImapValue | undefined): value is { readonly atom: string } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The text of an atom or a string (NIL and lists give undefined). */
export function textOf(value: ImapValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (isAtom(value)) return value.atom;
  return undefined;
}

/**
 * The canonical form: atoms bare, strings as JSON strings (quoted or literal alike, as UTF-8 text where
 * they are that), NIL, lists.
 */
export function formatValue(value: ImapValue): string {
  if (value === null) return 'NIL';
  if (typeof value === 'string') return JSON.stringify(readableText(value));
  if (Array.isArray(value)) return `(${value.map(formatValue).join(' ')})`;
  return value.atom;
}

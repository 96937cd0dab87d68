import { CRLF, concatBytes, InvalidArgumentError } from '@postwire/core';
import type { MimePart } from '../parser/message-content.js';
import type { HeaderField } from '../parser/types.js';

/** A section of FETCH `BODY[<section>]` (RFC 3501 §6.4.5, RFC 9051 §6.4.5). */
export type Section =
  | {
      /** Part numbers (`[1, 2]` for `1.2`); empty for the whole message. */
      readonly part: readonly number[];
      /** What of the part: all of it (`null`), the header of a message, its text, or a MIME header. */
      readonly text: 'HEADER' | 'TEXT' | 'MIME' | null;
    }
  | {
      /** Part numbers (`[1, 2]` for `1.2`); empty for the whole message. */
      readonly part: readonly number[];
      /** The header fields listed, or all the others. */
      readonly text: 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT';
      /** The field names of the header list, as given. */
      readonly fields: readonly string[];
    };

/**
 * What a section holds, for the IMAP server to send: a byte range `[start, end)` of the stored message,
 * synthesised bytes (HEADER.FIELDS), or nothing (the part does not exist, or the section does not apply).
 */
export type SectionContent =
  | {
      /** A byte range of the stored message. */
      readonly kind: 'range';
      /** The first octet. */
      readonly start: number;
      /** The octet after the last. */
      readonly end: number;
    }
  | {
      /** Synthesised bytes. */
      readonly kind: 'bytes';
      /** The bytes. */
      readonly bytes: Uint8Array;
    }
  | {
      /** Nothing. */
      readonly kind: 'empty';
    };

const EMPTY: SectionContent = { kind: 'empty' };
/** The largest `nz-number` (RFC 9051: an unsigned 32-bit integer). */
const MAX_NUMBER = 4_294_967_295;

/**
 * Parses a section spec, the text between `BODY[` and `]`: `''`, `1.2`, `HEADER`, `TEXT`,
 * `HEADER.FIELDS (Subject From)`, `HEADER.FIELDS.NOT (…)`, and the same after part numbers, plus
 * `<part>.MIME`. Keywords are case-insensitive; header names are atoms or quoted strings (a literal must be
 * read by the caller and passed as a quoted string).
 * @throws InvalidArgumentError when the spec does not follow the grammar.
 */
export function parseSection(spec: string): Section {
  const part: number[] = [];
  let i = 0;
  while (isDigit(spec.charCodeAt(i))) {
    const start = i;
    while (isDigit(spec.charCodeAt(i))) i++;
    const number = Number(spec.slice(start, i));
    if (spec.charCodeAt(start) === 0x30 || number > MAX_NUMBER) invalid('part numbers are 1 to 4294967295');
    part.push(number);
    if (i === spec.length) return { part, text: null };
    if (spec.charCodeAt(i) !== 0x2e) invalid('a part number is followed by "."');
    i++;
  }
  if (i === spec.length) {
    if (part.length > 0) invalid('nothing after "."');
    return { part, text: null };
  }
  const space = spec.indexOf(' ', i);
  const keyword = asciiUpper(spec.slice(i, space === -1 ? spec.length : space));
  if (space === -1) {
    if (keyword === 'HEADER' || keyword === 'TEXT') return { part, text: keyword };
    if (keyword === 'MIME' && part.length > 0) return { part, text: keyword };
  } else if (keyword === 'HEADER.FIELDS' || keyword === 'HEADER.FIELDS.NOT') {
    return { part, text: keyword, fields: parseHeaderList(spec, space + 1) };
  }
  invalid(`unknown section text "${spec.slice(i, i + 40)}"`);
}

/**
 * Resolves a section against a message's MIME tree through the parser's byte offsets, without reading the
 * message: only HEADER.FIELDS needs data beyond offsets, and takes it from the parts' `headers`. Numbering
 * follows RFC 3501 §6.4.5: the parts of a multipart are 1, 2 …; a non-multipart message (the top one or an
 * embedded one) has only part 1, its body; numbers after a `message/rfc822` part go into its message.
 * - `''` is the whole message; `N` the raw body of part N (the whole embedded message for a
 *   `message/rfc822` part);
 * - `HEADER` and `TEXT` are the header block (blank line included) and body of the message, and `N.HEADER`,
 *   `N.TEXT` those of the message in part N, which must be a `message/rfc822` (or `message/global`) part;
 * - `N.MIME` is the header block of part N (for the top-level body, part 1 of a non-multipart message, that
 *   is the message's header);
 * - `HEADER.FIELDS` gives the message's fields of those names (ASCII case-insensitive) in order, each as
 *   written followed by CRLF, then the blank line CRLF; `HEADER.FIELDS.NOT` gives the other fields;
 * - a part that does not exist, or a message section of a part that holds no message, is `empty`.
 */
export function resolveSection(root: MimePart, section: Section): SectionContent {
  const numbers = section.part;
  let part: MimePart | undefined = root;
  for (let i = 0; i < numbers.length && part; i++) {
    part = i === 0 ? messagePart(root, numbers[i]!) : subpart(part, numbers[i]!);
  }
  if (!part) return EMPTY;
  if (section.text === null) {
    return numbers.length === 0 ? range(root.headerStart, root.end) : range(part.bodyStart, part.end);
  }
  if (section.text === 'MIME') return numbers.length === 0 ? EMPTY : range(part.headerStart, part.bodyStart);
  const message = numbers.length === 0 ? root : part.structure === 'message' ? part.message : undefined;
  if (!message) return EMPTY;
  if ('fields' in section) {
    const exclude = section.text === 'HEADER.FIELDS.NOT';
    return { kind: 'bytes', bytes: selectFields(message.headers, section.fields, exclude) };
  }
  return section.text === 'HEADER'
    ? range(message.headerStart, message.bodyStart)
    : range(message.bodyStart, message.end);
}

/**
 * The window of a partial fetch `<offset.count>` (RFC 3501 §6.4.5) within content of `length` octets, as
 * offsets into that content: empty when `offset` is at or past the end.
 * @throws InvalidArgumentError for a negative or non-integer argument.
 */
export function applyPartial(
  length: number,
  offset: number,
  count: number,
): {
  /** The first octet. */
  start: number;
  /** The octet after the last. */
  end: number;
} {
  for (const value of [length, offset, count]) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new InvalidArgumentError('a partial fetch takes non-negative integers');
    }
  }
  return { start: Math.min(offset, length), end: Math.min(offset + count, length) };
}

/** A section's content cut to the window `<offset.count>` (see {@link applyPartial}). */
export function partialSection(content: SectionContent, offset: number, count: number): SectionContent {
  switch (content.kind) {
    case 'range': {
      const { start, end } = applyPartial(content.end - content.start, offset, count);
      return range(content.start + start, content.start + end);
    }
    case 'bytes': {
      const { start, end } = applyPartial(content.bytes.length, offset, count);
      return { kind: 'bytes', bytes: content.bytes.subarray(start, end) };
    }
    case 'empty':
      applyPartial(0, offset, count);
      return EMPTY;
  }
}

/** Part `n` of a message whose root is `root`: a multipart's child, or the body (part 1) of any other. */
function messagePart(root: MimePart, n: number): MimePart | undefined {
  if (root.structure === 'multipart') return root.children[n - 1];
  return n === 1 ? root : undefined;
}

/** Part `n` inside `part`: a multipart's child, or part `n` of the message a `message/rfc822` part holds. */
function subpart(part: MimePart, n: number): MimePart | undefined {
  if (part.structure === 'multipart') return part.children[n - 1];
  if (part.structure === 'message' && part.message) return messagePart(part.message, n);
  return undefined;
}

function range(start: number, end: number): SectionContent {
  return { kind: 'range', start, end };
}

function selectFields(
  headers: readonly HeaderField[],
  names: readonly string[],
  exclude: boolean,
): Uint8Array {
  const wanted = new Set(names.map(asciiLower));
  const chunks: Uint8Array[] = [];
  for (const field of headers) {
    if (wanted.has(field.key) !== exclude) chunks.push(field.raw, CRLF);
  }
  chunks.push(CRLF);
  return concatBytes(chunks);
}

/** Reads `"(" astring *(SP astring) ")"` from `start` to the end of the spec. */
function parseHeaderList(spec: string, start: number): string[] {
  if (spec.charCodeAt(start) !== 0x28) invalid('a header list starts with "("');
  const names: string[] = [];
  let i = start + 1;
  for (;;) {
    let name: string;
    if (spec.charCodeAt(i) === 0x22) ({ name, end: i } = readQuoted(spec, i));
    else {
      const nameStart = i;
      while (i < spec.length && isAstringChar(spec.charCodeAt(i))) i++;
      if (i === nameStart) invalid('a header list holds field names');
      name = spec.slice(nameStart, i);
    }
    names.push(name);
    const next = spec.charCodeAt(i);
    if (next === 0x29 && i + 1 === spec.length) return names;
    if (next !== 0x20) invalid('field names are separated by one space and closed by ")"');
    i++;
  }
}

/** An IMAP quoted string: `\` escapes only `"` and `\`; no CR or LF. */
function readQuoted(spec: string, start: number): { name: string; end: number } {
  const pieces: string[] = [];
  let from = start + 1;
  for (let i = from; i < spec.length; i++) {
    const code = spec.charCodeAt(i);
    if (code === 0x22) {
      pieces.push(spec.slice(from, i));
      return { name: pieces.join(''), end: i + 1 };
    }
    if (code === 0x0d || code === 0x0a || code === 0) break;
    if (code === 0x5c) {
      const escaped = spec.charCodeAt(i + 1);
      if (escaped !== 0x22 && escaped !== 0x5c) break;
      pieces.push(spec.slice(from, i));
      from = ++i;
    }
  }
  invalid('malformed quoted string');
}

/** ASTRING-CHAR: CHAR except atom-specials, `]` allowed. */
function isAstringChar(code: number): boolean {
  if (code <= 0x20 || code >= 0x7f) return false;
  return (
    code !== 0x28 &&
    code !== 0x29 &&
    code !== 0x7b &&
    code !== 0x25 &&
    code !== 0x2a &&
    code !== 0x22 &&
    code !== 0x5c
  );
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

function asciiUpper(text: string): string {
  return text.replace(/[a-z]+/g, (letters) => letters.toUpperCase());
}

function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

function invalid(reason: string): never {
  throw new InvalidArgumentError(`invalid FETCH section: ${reason}`);
}

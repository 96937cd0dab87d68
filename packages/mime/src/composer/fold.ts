import { InvalidArgumentError } from '@postwire/core';

/** The column at which header lines are folded (RFC 5322 §2.1.1 recommends 78). */
export const FOLD_WIDTH = 78;
/** The hard limit of a line, without CRLF (RFC 5322 §2.1.1). */
export const MAX_LINE_LENGTH = 998;

/** Any character that would end or corrupt a header line: CR, LF and the other C0 controls but HTAB, and DEL. */
const UNSAFE_IN_HEADER = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/** Throws unless `value` can stand in a header without ending the line (case 30: no header injection). */
export function assertHeaderSafe(what: string, value: string): void {
  if (UNSAFE_IN_HEADER.test(value)) {
    throw new InvalidArgumentError(`${what} contains a line break or control character`);
  }
}

/** A field name: printable US-ASCII except the colon (RFC 5322 §2.2). */
const FIELD_NAME = /^[\u0021-\u0039\u003b-\u007e]+$/;

/** Throws unless `name` is a valid header field name. */
export function assertFieldName(name: string): void {
  if (!FIELD_NAME.test(name)) throw new InvalidArgumentError(`invalid header field name "${name}"`);
}

/**
 * Folds `Name: value` into lines of at most {@link FOLD_WIDTH} columns where possible, breaking
 * only before a space or tab that the value already holds (so unfolding gives the value back), and
 * preferring the space after a comma in address lists. Returns the field with CRLF line ends and a
 * final CRLF. A run without whitespace longer than the hard limit is refused.
 */
export function foldField(name: string, value: string): string {
  const line = `${name}: ${value}`;
  if (line.length <= FOLD_WIDTH) return `${line}\r\n`;
  const lines: string[] = [];
  let start = 0;
  while (line.length - start > FOLD_WIDTH) {
    const limit = start + FOLD_WIDTH;
    const lowest = lines.length === 0 ? name.length + 2 : start + 1;
    let cut = -1;
    for (let i = limit; i >= lowest; i--) {
      const c = line.charCodeAt(i);
      if (c === 0x20 || c === 0x09) {
        if (cut === -1) cut = i;
        if (line.charCodeAt(i - 1) === 0x2c) {
          cut = i;
          break;
        }
      }
    }
    if (cut === -1) {
      const next = nextWhitespace(line, limit);
      if (next === -1) break;
      cut = next;
    }
    lines.push(line.slice(start, cut));
    start = cut;
  }
  lines.push(line.slice(start));
  for (const folded of lines) {
    if (folded.length > MAX_LINE_LENGTH) {
      throw new InvalidArgumentError(`header ${name} has a word longer than ${MAX_LINE_LENGTH} characters`);
    }
  }
  return `${lines.join('\r\n')}\r\n`;
}

function nextWhitespace(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09) return i;
  }
  return -1;
}

import { CR, LF } from '@postwire/core';

/**
 * The lexical pieces shared by structured header fields (RFC 5322 §3.2.2–3.2.4): folding
 * whitespace, comments and quoted strings. Every scanner here is a single forward pass, and an
 * unterminated comment or quoted string simply runs to the end of the value.
 */

const SPACE = 0x20;
const TAB = 0x09;
const BACKSLASH = 0x5c;
const QUOTE = 0x22;
const OPEN = 0x28;
const CLOSE = 0x29;

/** True for SP, HTAB, CR and LF: whitespace once a field is unfolded (bare CR and LF included). */
export function isFoldingSpace(code: number): boolean {
  return code === SPACE || code === TAB || code === CR || code === LF;
}

/** The index after the comment that opens at `start` (nested comments and `\` escapes honoured). */
export function skipComment(value: string, start: number): number {
  let depth = 0;
  for (let i = start; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === BACKSLASH) i++;
    else if (code === OPEN) depth++;
    else if (code === CLOSE && --depth === 0) return i + 1;
  }
  return value.length;
}

/** The index after any folding whitespace and comments from `start`. */
export function skipCfws(value: string, start: number): number {
  let i = start;
  while (i < value.length) {
    const code = value.charCodeAt(i);
    if (isFoldingSpace(code)) i++;
    else if (code === OPEN) i = skipComment(value, i);
    else break;
  }
  return i;
}

/** A letter or digit: a backslash in a MIME parameter value before one escapes nothing. */
const LETTER_OR_DIGIT = /[0-9A-Za-z]/;

/**
 * Reads the quoted string that opens at `start`: `\` escapes are resolved, and line breaks are
 * removed (unfolding keeps the whitespace that follows them). `end` is the index after the closing quote.
 * With `parameterValue`, a backslash before a letter or digit stays as written: no generator escapes those,
 * but mailers write Windows paths unescaped (`filename="C:\dir\f.txt"`); Go's `mime` reads them so too.
 */
export function readQuotedString(
  value: string,
  start: number,
  parameterValue = false,
): { text: string; end: number } {
  const parts: string[] = [];
  let from = start + 1;
  for (let i = from; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === QUOTE) {
      parts.push(value.slice(from, i));
      return { text: parts.join(''), end: i + 1 };
    }
    if (code === BACKSLASH && parameterValue && LETTER_OR_DIGIT.test(value.charAt(i + 1))) continue;
    if (code === BACKSLASH || code === CR || code === LF) {
      parts.push(value.slice(from, i));
      from = i + 1;
      const next = value.charCodeAt(i + 1);
      if (code === BACKSLASH && next !== CR && next !== LF) i++;
    }
  }
  parts.push(value.slice(from));
  return { text: parts.join(''), end: value.length };
}

const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$/;

/** True for an RFC 2045 token: a media type half, a disposition type, a parameter name or plain value. */
export function isToken(text: string): boolean {
  return TOKEN.test(text);
}

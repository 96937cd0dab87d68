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
 * Folds `Name: value` into lines of at most {@link FOLD_WIDTH} columns where possible (RFC 5322 §2.2.3),
 * breaking only before a space or tab that the value already holds, so that unfolding gives the value back,
 * and preferring the space after a comma in address lists. It breaks only before the last white space of
 * a run, so no continuation line is white space alone; never inside a quoted string (unless its quotes
 * are unbalanced, or a line would otherwise pass the hard limit); never inside an encoded word, which holds
 * no white space. Returns the field with CRLF line ends and a final CRLF.
 * @throws InvalidArgumentError when the value holds a line break or control character, or when a line
 * would still be over {@link MAX_LINE_LENGTH} characters.
 */
export function foldField(name: string, value: string): string {
  assertHeaderSafe(`header ${name}`, value);
  const line = `${name}: ${value}`;
  if (line.length <= FOLD_WIDTH) return `${line}\r\n`;
  const { outside, all } = foldPoints(line, name.length + 2);
  const folded = foldAt(line, outside) ?? foldAt(line, all);
  if (!folded) {
    throw new InvalidArgumentError(`header ${name} has a word longer than ${MAX_LINE_LENGTH} characters`);
  }
  return `${folded.join('\r\n')}\r\n`;
}

function isWsp(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/**
 * Where `line` may fold: before a white space that ends its run (the next character is not white space),
 * after the field's first value character. `outside` leaves out those within a balanced quoted string.
 */
function foldPoints(line: string, valueStart: number): { outside: number[]; all: number[] } {
  const outside: number[] = [];
  const all: number[] = [];
  let quoted: number[] | undefined;
  for (let i = valueStart; i < line.length; i++) {
    const code = line.charCodeAt(i);
    if (quoted && code === 0x5c) {
      i++;
    } else if (code === 0x22) {
      quoted = quoted ? undefined : [];
    } else if (isWsp(code) && i > valueStart && i + 1 < line.length && !isWsp(line.charCodeAt(i + 1))) {
      all.push(i);
      (quoted ?? outside).push(i);
    }
  }
  // An unbalanced quote protects nothing: its white space is a fold point like any other.
  if (quoted) for (const point of quoted) outside.push(point);
  return { outside, all };
}

/** Folds `line` at some of `points` (ascending); `undefined` if a line would pass the hard limit. */
function foldAt(line: string, points: readonly number[]): string[] | undefined {
  const lines: string[] = [];
  let start = 0;
  let p = 0;
  while (line.length - start > FOLD_WIDTH) {
    const limit = start + FOLD_WIDTH;
    while (p < points.length && points[p]! <= start) p++;
    let cut = -1;
    let afterComma = -1;
    for (let q = p; q < points.length && points[q]! <= limit; q++) {
      cut = points[q]!;
      if (line.charCodeAt(cut - 1) === 0x2c) afterComma = cut;
    }
    if (afterComma !== -1) cut = afterComma;
    else if (cut === -1) {
      if (p === points.length) break;
      cut = points[p]!;
    }
    lines.push(line.slice(start, cut));
    start = cut;
  }
  lines.push(line.slice(start));
  return lines.every((folded) => folded.length <= MAX_LINE_LENGTH) ? lines : undefined;
}

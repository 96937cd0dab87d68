import { CR, LF } from '@postwire/core';

/** What a token of a structured address field is. */
export enum TokenKind {
  /** A run of atom characters (atext, UTF-8, and stray control characters). */
  Atom,
  /** A quoted-string; `text` is its content with quoted-pairs resolved and line breaks removed. */
  Quoted,
  /** A domain literal; `text` is as written, brackets included. */
  Literal,
  /** One of `< > @ , ; : .`; `text` is that character. */
  Special,
  /** A token that the reader decided to ignore. */
  Skipped,
}

/** A comment: its content, whitespace collapsed, nested comments kept with their parentheses. */
export interface Comment {
  text: string;
  /** The index in the token list of the token that follows it. */
  before: number;
}

/** The tokens of a field, comments apart. */
export interface Tokens {
  tokens: Token[];
  comments: Comment[];
}

/** One token of a structured field, with where it sits in the source. */
export interface Token {
  kind: TokenKind;
  text: string;
  start: number;
  end: number;
  /** True when whitespace or a comment comes right before it. */
  space: boolean;
}

const SP = 0x20;
const TAB = 0x09;

const ATOM = 0;
const WHITESPACE = 1;
const SPECIAL = 2;
const CONTROL = 3;
const OTHER = 4;

/** The class of each ASCII code unit. */
const classes = new Uint8Array(128);
for (let c = 0; c < 0x20; c++) classes[c] = CONTROL;
classes[0x7f] = CONTROL;
for (const c of [SP, TAB, CR, LF]) classes[c] = WHITESPACE;
for (const ch of '<>@,;:.') classes[ch.charCodeAt(0)] = SPECIAL;
for (const ch of '()[]\\"') classes[ch.charCodeAt(0)] = OTHER;

/**
 * Where a raw field body ends: at the first line break (CRLF, LF or a lone CR) that is not followed by a
 * space or a tab, which is the end of the field's last folded line; or at the end of the string.
 */
export function fieldEnd(value: string): number {
  let nextLf = value.indexOf('\n');
  let nextCr = value.indexOf('\r');
  for (;;) {
    if (nextLf === -1 && nextCr === -1) return value.length;
    const at = nextCr === -1 || (nextLf !== -1 && nextLf < nextCr) ? nextLf : nextCr;
    const after = value.charCodeAt(at) === CR && value.charCodeAt(at + 1) === LF ? at + 2 : at + 1;
    const next = value.charCodeAt(after);
    if (next !== SP && next !== TAB) return at;
    if (nextLf !== -1 && nextLf < after) nextLf = value.indexOf('\n', after);
    if (nextCr !== -1 && nextCr < after) nextCr = value.indexOf('\r', after);
  }
}

function isLineBreak(code: number): boolean {
  return code === CR || code === LF;
}

function isFoldingSpace(code: number): boolean {
  return code === SP || code === TAB || code === CR || code === LF;
}

/**
 * Splits `value.slice(0, end)` into tokens in one linear pass. Line breaks count as folding whitespace.
 * Problems are added to `defects`: unclosed quoted strings, comments and literals run to the end; a comment
 * nested deeper than `maxDepth` is skipped whole (its text is dropped, its parentheses still counted).
 */
export function tokenize(value: string, end: number, maxDepth: number, defects: Set<string>): Tokens {
  const tokens: Token[] = [];
  const comments: Comment[] = [];
  let space = false;
  let i = 0;
  while (i < end) {
    const code = value.charCodeAt(i);
    const kind = code < 0x80 ? classes[code] : ATOM;
    if (kind === WHITESPACE) {
      space = true;
      i++;
      continue;
    }
    if (kind === SPECIAL) {
      tokens.push({ kind: TokenKind.Special, text: value[i]!, start: i, end: i + 1, space });
      i++;
    } else if (kind === ATOM || kind === CONTROL) {
      const start = i;
      let control = kind === CONTROL;
      for (i++; i < end; i++) {
        const next = value.charCodeAt(i);
        if (next >= 0x80) continue;
        const nextKind = classes[next];
        if (nextKind === CONTROL) control = true;
        else if (nextKind !== ATOM) break;
      }
      if (control) defects.add('control-character');
      tokens.push({ kind: TokenKind.Atom, text: value.slice(start, i), start, end: i, space });
    } else if (code === 0x22) {
      i = readQuoted(value, i, end, tokens, space, defects);
    } else if (code === 0x28) {
      i = readComment(value, i, end, tokens.length, comments, maxDepth, defects);
      space = true;
      continue;
    } else if (code === 0x5b) {
      i = readLiteral(value, i, end, tokens, space, defects);
    } else {
      // A backslash outside quotes, or a closing bracket that opens nothing: readers disagree on these.
      defects.add(code === 0x5c ? 'ambiguous-address' : 'unbalanced-bracket');
      i++;
      continue;
    }
    space = false;
  }
  return { tokens, comments };
}

/** Skips a backslash at `at` and, when a line break follows it, that fold; returns the escaped character's index. */
function escapedIndex(value: string, at: number, end: number): number {
  let next = at + 1;
  if (next < end && isLineBreak(value.charCodeAt(next))) {
    while (next < end && isFoldingSpace(value.charCodeAt(next))) next++;
  }
  return next;
}

function readQuoted(
  value: string,
  open: number,
  end: number,
  tokens: Token[],
  space: boolean,
  defects: Set<string>,
): number {
  const close = value.indexOf('"', open + 1);
  if (close !== -1 && close < end) {
    const content = value.slice(open + 1, close);
    if (!/[\\\r\n]/.test(content)) {
      tokens.push({ kind: TokenKind.Quoted, text: content, start: open, end: close + 1, space });
      return close + 1;
    }
  }
  const pieces: string[] = [];
  let from = open + 1;
  let i = from;
  while (i < end) {
    const code = value.charCodeAt(i);
    if (code === 0x22) break;
    if (code === 0x5c) {
      pieces.push(value.slice(from, i));
      from = escapedIndex(value, i, end);
      i = from + 1;
    } else if (isLineBreak(code)) {
      pieces.push(value.slice(from, i));
      from = ++i;
    } else {
      i++;
    }
  }
  i = Math.min(i, end);
  pieces.push(value.slice(from, i));
  if (i >= end) defects.add('unclosed-quoted-string');
  tokens.push({
    kind: TokenKind.Quoted,
    text: pieces.join(''),
    start: open,
    end: Math.min(i + 1, end),
    space,
  });
  return i + 1;
}

function readComment(
  value: string,
  open: number,
  end: number,
  before: number,
  comments: Comment[],
  maxDepth: number,
  defects: Set<string>,
): number {
  const pieces: string[] = [];
  let from = open + 1;
  let i = from;
  let depth = 1;
  let tooDeep = false;
  while (i < end) {
    const code = value.charCodeAt(i);
    if (code === 0x5c) {
      pieces.push(value.slice(from, i));
      from = escapedIndex(value, i, end);
      i = from + 1;
      continue;
    }
    if (code === 0x28) {
      if (++depth > maxDepth && !tooDeep) {
        tooDeep = true;
        defects.add('limit-maxStructureDepth');
      }
    } else if (code === 0x29 && --depth === 0) {
      break;
    }
    i++;
  }
  i = Math.min(i, end);
  if (depth > 0) defects.add('unclosed-comment');
  let text = '';
  if (!tooDeep) {
    pieces.push(value.slice(from, i));
    text = pieces
      .join('')
      .replace(/[ \t\r\n]+/g, ' ')
      .trim();
  }
  if (text !== '') comments.push({ text, before });
  return i + 1;
}

function readLiteral(
  value: string,
  open: number,
  end: number,
  tokens: Token[],
  space: boolean,
  defects: Set<string>,
): number {
  let i = open + 1;
  while (i < end) {
    const code = value.charCodeAt(i);
    if (code === 0x5d) break;
    i += code === 0x5c ? 2 : 1;
  }
  if (i >= end) {
    defects.add('unclosed-domain-literal');
    i = end - 1;
  }
  const text = value.slice(open, i + 1).replace(/[\r\n]/g, '');
  tokens.push({ kind: TokenKind.Literal, text, start: open, end: i + 1, space });
  return i + 1;
}

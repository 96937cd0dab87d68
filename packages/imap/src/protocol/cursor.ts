import { decodeLatin1, decodeUtf8 } from '@postwire/core';
import { ImapSyntaxError } from './errors.js';
import type { Fragment, StreamedFragment } from './reader.js';

const SP = 0x20;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN = 0x28;
const CLOSE = 0x29;
const OPEN_BRACE = 0x7b;
const TILDE = 0x7e;
const MAX_NUMBER = 4_294_967_295;

/** `atom-specials` of RFC 9051 besides CTL and SP: `(`, `)`, `{`, `%`, `*`, `"`, `\`, `]`. */
function isAtomChar(byte: number): boolean {
  return (
    byte > SP &&
    byte < 0x7f &&
    byte !== OPEN &&
    byte !== CLOSE &&
    byte !== OPEN_BRACE &&
    byte !== 0x25 &&
    byte !== 0x2a &&
    byte !== QUOTE &&
    byte !== BACKSLASH &&
    byte !== 0x5d
  );
}

/** Which bytes a bare word may hold, besides ATOM-CHAR. */
export type WordKind = 'atom' | 'astring' | 'list-mailbox' | 'flag' | 'sequence';

const EXTRA: Record<WordKind, string> = {
  atom: '',
  astring: ']',
  'list-mailbox': ']%*',
  flag: '\\*',
  sequence: '*$',
};

/** Options of {@link ImapCursor}. */
export interface ImapCursorOptions {
  /** Nesting allowed for lists and recursive structures. */
  readonly maxDepth: number;
  /** Tolerate what real peers send: missing or doubled spaces, unknown escapes in quoted strings. */
  readonly lenient?: boolean;
}

/**
 * A cursor over one framed command or response (the fragments an {@link ImapReader} produced): the
 * grammar's primitives — atoms, numbers, quoted strings, literals, lists — each checked as it is read.
 * Every failure throws an {@link ImapSyntaxError} carrying {@link tag}.
 */
export class ImapCursor {
  /** The tag of the command being read, for errors; set it once it is known. */
  tag: string | undefined;
  readonly #fragments: readonly Fragment[];
  readonly #maxDepth: number;
  readonly #lenient: boolean;
  #index = 0;
  #pos = 0;
  #depth = 0;

  constructor(fragments: readonly Fragment[], options: ImapCursorOptions) {
    this.#fragments = fragments.length > 0 ? fragments : [new Uint8Array(0)];
    this.#maxDepth = options.maxDepth;
    this.#lenient = options.lenient ?? false;
  }

  /** Whether peer quirks are tolerated. */
  get lenient(): boolean {
    return this.#lenient;
  }

  get #line(): Uint8Array {
    const fragment = this.#fragments[this.#index];
    if (!(fragment instanceof Uint8Array)) return this.fail('Literal not expected here');
    return fragment;
  }

  /** Throws the syntax error `text`. */
  fail(text: string): never {
    throw new ImapSyntaxError(text, this.tag);
  }

  /** The next byte of the current line, `undefined` at its end. */
  peek(): number | undefined {
    return this.#line[this.#pos];
  }

  /** Whether everything was read. */
  atEnd(): boolean {
    return this.#index === this.#fragments.length - 1 && this.#pos >= this.#line.length;
  }

  /** Requires that everything was read. */
  end(): void {
    if (this.#lenient) return;
    if (!this.atEnd()) this.fail('Unexpected extra arguments');
  }

  /** Reads one SP (in lenient mode, any number, or none). */
  sp(): void {
    if (this.trySp() || this.#lenient) return;
    this.fail('Missing space');
  }

  /** Reads a SP if one is next. */
  trySp(): boolean {
    if (this.peek() !== SP) return false;
    this.#pos++;
    if (this.#lenient) while (this.peek() === SP) this.#pos++;
    return true;
  }

  /** Reads `byte` if it is next. */
  tryByte(byte: number): boolean {
    if (this.peek() !== byte) return false;
    this.#pos++;
    return true;
  }

  /** Requires `byte` next. */
  expect(byte: number, what: string): void {
    if (!this.tryByte(byte)) this.fail(`Expected ${what}`);
  }

  /** Reads a bare word of the given kind (an atom by default); fails on an empty one. */
  word(kind: WordKind = 'atom'): string {
    const line = this.#line;
    const extra = EXTRA[kind];
    const start = this.#pos;
    let end = start;
    while (end < line.length && (isAtomChar(line[end]!) || extra.includes(String.fromCharCode(line[end]!))))
      end++;
    if (end === start) this.fail(kind === 'atom' ? 'Expected an atom' : `Expected ${kind}`);
    this.#pos = end;
    return decodeLatin1(line.subarray(start, end));
  }

  /** Reads a word of ATOM-CHARs in upper case (a command name, a keyword). */
  keyword(): string {
    return this.word().toUpperCase();
  }

  /** The next atom in upper case without consuming it, or `''`. */
  peekKeyword(): string {
    const line = this.#line;
    let end = this.#pos;
    while (end < line.length && isAtomChar(line[end]!)) end++;
    return decodeLatin1(line.subarray(this.#pos, end)).toUpperCase();
  }

  /**
   * Reads `word` (upper-case ASCII, matched case-insensitively) when it comes next as a whole atom.
   * Compared byte by byte: `nil()` asks this before every `nstring`.
   */
  tryKeyword(word: string): boolean {
    const line = this.#line;
    const start = this.#pos;
    const end = start + word.length;
    if (end > line.length) return false;
    for (let i = 0; i < word.length; i++) {
      const byte = line[start + i]!;
      // Only ASCII letters change case: a-z (0x61–0x7a) read as A-Z.
      if ((byte >= 0x61 && byte <= 0x7a ? byte - 0x20 : byte) !== word.charCodeAt(i)) return false;
    }
    if (end < line.length && isAtomChar(line[end]!)) return false;
    this.#pos = end;
    return true;
  }

  /** Reads a `number` (0 to 2³²−1) or, with `max`, up to that bound (number64: 2⁵³−1 here). */
  number(max: number = MAX_NUMBER): number {
    const line = this.#line;
    const start = this.#pos;
    let end = start;
    while (end < line.length && line[end]! >= 0x30 && line[end]! <= 0x39) end++;
    if (end === start) this.fail('Expected a number');
    if (end - start > 19) this.fail('Number out of range');
    // Digit by digit: exact up to 2⁵³, and anything rounded beyond it is above every `max`.
    let value = 0;
    for (let i = start; i < end; i++) value = value * 10 + (line[i]! - 0x30);
    if (value > max) this.fail('Number out of range');
    this.#pos = end;
    return value;
  }

  /** Reads an `nz-number` (1 to 2³²−1). */
  nzNumber(): number {
    const value = this.number();
    if (value === 0) this.fail('Expected a non-zero number');
    return value;
  }

  /** Reads a `number64` (up to 2⁵³−1, the safe integers of JavaScript). */
  number64(): number {
    return this.number(Number.MAX_SAFE_INTEGER);
  }

  /** Reads `NIL` when it comes next. */
  nil(): boolean {
    return this.tryKeyword('NIL');
  }

  /** Reads a quoted string or a literal (a streamed literal gives its {@link StreamedFragment}). */
  stringValue(): Uint8Array | StreamedFragment {
    const next = this.peek();
    if (next === QUOTE) return this.#quoted();
    if (next === OPEN_BRACE || next === TILDE) return this.#literal();
    return this.fail('Expected a string');
  }

  /** Reads a quoted string or an in-memory literal as bytes. */
  bytes(): Uint8Array {
    const value = this.stringValue();
    if (!(value instanceof Uint8Array)) return this.fail('Literal not expected here');
    return value;
  }

  /** Reads a `string` as UTF-8 text. */
  string(): string {
    return decodeUtf8(this.bytes());
  }

  /** Reads an `astring`: an atom (with `]`), a quoted string or a literal. */
  astring(kind: WordKind = 'astring'): string {
    const next = this.peek();
    if (next === QUOTE || next === OPEN_BRACE) return this.string();
    return this.word(kind);
  }

  /** Reads an `nstring`: NIL or a string. */
  nstring(): string | null {
    return this.nil() ? null : this.string();
  }

  /** Reads a parenthesised list of items separated by SP; `item` reads one. */
  list<T>(item: () => T): T[] {
    this.expect(OPEN, '"("');
    const items: T[] = [];
    this.nested(() => {
      if (this.#lenient) while (this.peek() === SP) this.#pos++;
      while (!this.tryByte(CLOSE)) {
        if (items.length > 0) this.sp();
        if (this.#lenient && this.tryByte(CLOSE)) break;
        items.push(item());
      }
    });
    return items;
  }

  /**
   * Runs `read`; when it fails with a syntax error, puts the cursor back where it was and returns
   * `undefined` (for lenient reading of a value servers are known to garble).
   */
  attempt<T>(read: () => T): T | undefined {
    const index = this.#index;
    const pos = this.#pos;
    try {
      return read();
    } catch (error) {
      if (!(error instanceof ImapSyntaxError)) throw error;
      this.#index = index;
      this.#pos = pos;
      return undefined;
    }
  }

  /** Runs `read` one nesting level deeper, refusing to go past the depth limit. */
  nested<T>(read: () => T): T {
    if (this.#depth >= this.#maxDepth) this.fail('Too deeply nested');
    this.#depth++;
    try {
      return read();
    } finally {
      this.#depth--;
    }
  }

  /** The rest of the current line as text (`resp-text`), UTF-8 decoded. */
  rest(): string {
    const line = this.#line;
    const text = decodeUtf8(line.subarray(this.#pos));
    this.#pos = line.length;
    return text;
  }

  /** Reads raw bytes up to (not including) the first of `stops`, or the line end. */
  until(stops: string): string {
    const line = this.#line;
    const start = this.#pos;
    let end = start;
    while (end < line.length && !stops.includes(String.fromCharCode(line[end]!))) end++;
    this.#pos = end;
    return decodeLatin1(line.subarray(start, end));
  }

  /** A quoted string's content: a view of the line, or a copy without the backslashes when it has escapes. */
  #quoted(): Uint8Array {
    const line = this.#line;
    const start = this.#pos + 1;
    let i = start;
    let escapes = 0;
    for (;;) {
      if (i >= line.length) this.fail('Unterminated quoted string');
      const byte = line[i]!;
      // Most bytes are above `"` and not `\`: one test for them.
      if (byte > QUOTE && byte !== BACKSLASH) {
        i++;
        continue;
      }
      if (byte === QUOTE) break;
      if (byte === BACKSLASH) {
        const escaped = line[i + 1];
        if (escaped !== QUOTE && escaped !== BACKSLASH && !(this.#lenient && escaped !== undefined))
          this.fail('Invalid escape in quoted string');
        escapes++;
        i += 2;
        continue;
      }
      if (byte === 0 || byte === 0x0d || byte === 0x0a) this.fail('Invalid character in quoted string');
      i++;
    }
    this.#pos = i + 1;
    return escapes === 0 ? line.subarray(start, i) : withoutEscapes(line.subarray(start, i), escapes);
  }

  #literal(): Uint8Array | StreamedFragment {
    const line = this.#line;
    let i = this.#pos;
    if (line[i] === TILDE) i++;
    if (line[i] !== OPEN_BRACE) this.fail('Expected a literal');
    const close = line.indexOf(0x7d, i);
    if (close !== line.length - 1) this.fail('A literal must end the line');
    const literal = this.#fragments[this.#index + 1];
    const following = this.#fragments[this.#index + 2];
    if (!literal || literal instanceof Uint8Array || !(following instanceof Uint8Array))
      this.fail('Literal missing');
    this.#index += 2;
    this.#pos = 0;
    return literal.kind === 'literal' ? literal.data : literal;
  }
}

/** The content of a quoted string with its `escapes` backslashes dropped (each keeps the byte after it). */
function withoutEscapes(quoted: Uint8Array, escapes: number): Uint8Array {
  const out = new Uint8Array(quoted.length - escapes);
  let length = 0;
  for (let i = 0; i < quoted.length; i++) {
    if (quoted[i] === BACKSLASH) i++;
    out[length++] = quoted[i]!;
  }
  return out;
}

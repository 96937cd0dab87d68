import { resolveLimits } from '@postwire/core';
import { unregisteredPart } from './registry.js';
import {
  AUTHENTICATION_RESULTS_FIELD,
  type AuthenticationResult,
  type AuthenticationResults,
  type ResultProperty,
} from './types.js';

/** The parser's limits. */
export interface AuthenticationResultsLimits {
  /** Characters in the text handed to the parser, folds included (default 65,536). Longer text is refused. */
  maxLength: number;
}

/** The default limits. */
export const defaultAuthenticationResultsLimits: Readonly<AuthenticationResultsLimits> = Object.freeze({
  maxLength: 64 * 1024,
});

/** What {@link parseAuthenticationResults} gives: the field, or why it could not be read and where. */
export type ParsedAuthenticationResults =
  | {
      /** The field was read. */
      ok: true;
      /** The field. */
      value: AuthenticationResults;
    }
  | {
      /** The field could not be read. */
      ok: false;
      /** Why. */
      reason: string;
      /** Where in the field, as an offset into its text. */
      offset: number;
    };

const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const QUOTE = 0x22;
const OPEN = 0x28;
const CLOSE = 0x29;
const BACKSLASH = 0x5c;
const SEMICOLON = 0x3b;

/** The digits of a version, at most; more would not be an exact number. */
const MAX_VERSION_DIGITS = 9;

/** Why parsing stopped; thrown only within this module and caught by its entry points. */
class Malformed {
  constructor(
    readonly reason: string,
    readonly offset: number,
  ) {}
}

function isFoldingSpace(code: number): boolean {
  return code === SPACE || code === TAB || code === CR || code === LF;
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/** A letter, digit or hyphen: a character of a keyword. */
function isKeywordChar(code: number): boolean {
  return isDigit(code) || code === 0x2d || ((code | 0x20) >= 0x61 && (code | 0x20) <= 0x7a);
}

/**
 * A character of an unquoted value, read leniently: anything visible but `"`, `(`, `)`, `;` and `\`, so
 * that tokens, `local@domain`, IP literals and the `/` of a partial signature all read as one value.
 */
function isValueChar(code: number): boolean {
  if (code <= SPACE || code === 0x7f) return false;
  return code !== QUOTE && code !== OPEN && code !== CLOSE && code !== SEMICOLON && code !== BACKSLASH;
}

/** A single forward pass over the field; each method consumes what it reads or throws {@link Malformed}. */
class FieldReader {
  at: number;

  constructor(
    readonly text: string,
    start: number,
  ) {
    this.at = start;
  }

  atEnd(): boolean {
    return this.at >= this.text.length;
  }

  peek(): number {
    return this.text.charCodeAt(this.at);
  }

  fail(reason: string, offset = this.at): never {
    throw new Malformed(reason, offset);
  }

  /** Skips folding whitespace and comments (nested, with quoted-pairs). */
  skipCfws(): void {
    while (!this.atEnd()) {
      const code = this.peek();
      if (isFoldingSpace(code)) this.at++;
      else if (code === OPEN) this.skipComment();
      else return;
    }
  }

  /** Reads `c`, after which CFWS is skipped. */
  expect(c: string, what: string): void {
    if (this.text[this.at] !== c) this.fail(`expected "${c}" ${what}`);
    this.at++;
    this.skipCfws();
  }

  /** A keyword, lower-cased, and the CFWS after it. */
  keyword(what: string): string {
    const start = this.at;
    while (!this.atEnd() && isKeywordChar(this.peek())) this.at++;
    if (this.at === start) this.fail(`expected a ${what}`);
    const name = this.text.slice(start, this.at).toLowerCase();
    this.skipCfws();
    return name;
  }

  /** A number of 1 to {@link MAX_VERSION_DIGITS} digits, and the CFWS after it. */
  version(what: string): number {
    const start = this.at;
    while (!this.atEnd() && isDigit(this.peek())) this.at++;
    if (this.at === start) this.fail(`expected a ${what}`);
    if (this.at - start > MAX_VERSION_DIGITS) this.fail(`the ${what} is too long`, start);
    const version = Number(this.text.slice(start, this.at));
    this.skipCfws();
    return version;
  }

  /**
   * A quoted string or an unquoted value, and the CFWS after it. A quoted local part followed by `@` and a
   * domain (`"a b"@example.com`) is kept as written, quotes included. With `mayBeEmpty`, nothing before
   * `;` or the end is an empty value (Microsoft 365 writes `header.from=;`).
   */
  value(what: string, mayBeEmpty = false): string {
    let value: string;
    if (this.peek() === QUOTE) {
      const open = this.at;
      value = this.quotedString();
      if (this.peek() === 0x40) {
        this.unquoted();
        value = this.text.slice(open, this.at).replace(/[\r\n]/g, '');
      }
    } else {
      value = this.unquoted();
      if (value === '' && !(mayBeEmpty && (this.atEnd() || this.peek() === SEMICOLON)))
        this.fail(`expected the ${what}`);
    }
    this.skipCfws();
    return value;
  }

  private unquoted(): string {
    const start = this.at;
    while (!this.atEnd() && isValueChar(this.peek())) this.at++;
    return this.text.slice(start, this.at);
  }

  /** The content of the quoted string at the cursor: quoted-pairs resolved, line breaks removed. */
  private quotedString(): string {
    const open = this.at;
    const parts: string[] = [];
    let from = open + 1;
    for (let i = from; i < this.text.length; i++) {
      const code = this.text.charCodeAt(i);
      if (code === QUOTE) {
        parts.push(this.text.slice(from, i));
        this.at = i + 1;
        return parts.join('');
      }
      if (code === BACKSLASH || code === CR || code === LF) {
        parts.push(this.text.slice(from, i));
        from = i + 1;
        if (code === BACKSLASH) i++;
      }
    }
    return this.fail('unclosed quoted string', open);
  }

  private skipComment(): void {
    const open = this.at;
    let depth = 0;
    for (let i = open; i < this.text.length; i++) {
      const code = this.text.charCodeAt(i);
      if (code === BACKSLASH) i++;
      else if (code === OPEN) depth++;
      else if (code === CLOSE && --depth === 0) {
        this.at = i + 1;
        return;
      }
    }
    this.fail('unclosed comment', open);
  }
}

/**
 * Parses an Authentication-Results field (RFC 8601 §2.2), with or without its `Authentication-Results:`
 * name; folded or not. Lenient where consumers must be: comments wherever CFWS may stand, any line
 * breaks, names in any case (method, result, property type and property are lower-cased), results and
 * methods the registry does not know (kept, and flagged `unregistered`), quoted values, a `reason` among
 * the properties, empty or trailing `;`; and Microsoft 365's forms: no authserv-id (read as empty), a
 * property without type (`action=none`, read with an empty type), an empty property value (`header.from=;`),
 * a lone domain between results (skipped).
 * Never throws, and runs in linear time.
 */
export function parseAuthenticationResults(
  text: string,
  limits?: Partial<AuthenticationResultsLimits>,
): ParsedAuthenticationResults {
  const { maxLength } = resolveLimits(defaultAuthenticationResultsLimits, limits);
  if (text.length > maxLength) {
    return { ok: false, reason: `the field is longer than ${maxLength} characters`, offset: maxLength };
  }
  try {
    return { ok: true, value: readField(new FieldReader(text, valueStart(text))) };
  } catch (error) {
    if (error instanceof Malformed) return { ok: false, reason: error.reason, offset: error.offset };
    throw error;
  }
}

/**
 * Whether the field claims to come from the authentication service `authservId` (compared without regard
 * to case), so that a server can delete forged ones before adding its own (RFC 8601 §5). Only the
 * authserv-id is read: a field that is malformed after it still claims it. Never throws.
 */
export function isOwnAuthenticationResults(text: string, authservId: string): boolean {
  try {
    const reader = new FieldReader(text, valueStart(text));
    reader.skipCfws();
    return reader.value('authserv-id').toLowerCase() === authservId.toLowerCase();
  } catch (error) {
    if (error instanceof Malformed) return false;
    throw error;
  }
}

/** Where the value begins: after `Authentication-Results:` if the text starts with it, else at 0. */
function valueStart(text: string): number {
  const name = AUTHENTICATION_RESULTS_FIELD.length;
  if (text.slice(0, name).toLowerCase() !== AUTHENTICATION_RESULTS_FIELD.toLowerCase()) return 0;
  let at = name;
  while (text.charCodeAt(at) === SPACE || text.charCodeAt(at) === TAB) at++;
  return text.charCodeAt(at) === 0x3a ? at + 1 : 0;
}

function readField(reader: FieldReader): AuthenticationResults {
  reader.skipCfws();
  const field: AuthenticationResults = { authservId: '', results: [] };
  if (startsResult(reader)) {
    field.results.push(readResult(reader, reader.keyword('method')));
  } else {
    field.authservId = reader.value('authserv-id');
    if (isDigit(reader.peek())) field.version = reader.version('version');
    if (reader.atEnd()) reader.fail('expected ";" after the authserv-id');
  }
  while (!reader.atEnd()) {
    reader.expect(';', 'between results');
    if (reader.atEnd() || reader.peek() === SEMICOLON || skipLoneDomain(reader)) continue;
    const method = reader.keyword('method');
    if (method === 'none' && (reader.atEnd() || reader.peek() === SEMICOLON)) continue;
    field.results.push(readResult(reader, method));
  }
  return field;
}

/**
 * Whether a `method=` or `method/` is at the cursor where the authserv-id belongs: Microsoft 365 leaves
 * the authserv-id out, and an unquoted one cannot hold `=` or `/`. Does not move the cursor.
 */
function startsResult(reader: FieldReader): boolean {
  const start = reader.at;
  let code = reader.peek();
  while (!reader.atEnd() && isKeywordChar(code)) code = reader.text.charCodeAt(++reader.at);
  if (reader.at > start) reader.skipCfws();
  const found = reader.at > start && (reader.peek() === 0x3d || reader.peek() === 0x2f);
  reader.at = start;
  return found;
}

/**
 * Skips a `resinfo` that is only a domain name (`; contoso.com;`, written by older Microsoft 365 servers)
 * and says whether it did; else leaves the cursor where it was.
 */
function skipLoneDomain(reader: FieldReader): boolean {
  const start = reader.at;
  let dots = 0;
  for (let code = reader.peek(); !reader.atEnd(); code = reader.text.charCodeAt(++reader.at)) {
    if (code === 0x2e) dots++;
    else if (!isKeywordChar(code)) break;
  }
  if (dots > 0) reader.skipCfws();
  if (dots > 0 && (reader.atEnd() || reader.peek() === SEMICOLON)) return true;
  reader.at = start;
  return false;
}

/** The rest of a `resinfo` after its method name, up to the next `;` or the end. */
function readResult(reader: FieldReader, method: string): AuthenticationResult {
  let methodVersion: number | undefined;
  if (reader.peek() === 0x2f) {
    reader.expect('/', 'before the method version');
    methodVersion = reader.version('method version');
  }
  reader.expect('=', 'after the method');
  const result: AuthenticationResult = { method, result: reader.keyword('result'), properties: [] };
  if (methodVersion !== undefined) result.methodVersion = methodVersion;
  while (!reader.atEnd() && reader.peek() !== SEMICOLON) {
    const start = reader.at;
    const name = reader.keyword('property type');
    if (reader.peek() === 0x2e) {
      result.properties.push(readProperty(reader, name));
    } else if (name === 'reason' && reader.peek() === 0x3d) {
      if (result.reason !== undefined) reader.fail('a second reason', start);
      reader.expect('=', 'after reason');
      result.reason = reader.value('reason');
    } else if (reader.peek() === 0x3d) {
      reader.expect('=', 'after the property');
      result.properties.push({ type: '', property: name, value: reader.value('property value', true) });
    } else {
      reader.fail(`expected "." after the property type "${name}"`, start);
    }
  }
  const unregistered = unregisteredPart(result.method, result.result);
  if (unregistered) result.unregistered = unregistered;
  return result;
}

function readProperty(reader: FieldReader, type: string): ResultProperty {
  reader.expect('.', 'after the property type');
  const property = reader.keyword('property');
  reader.expect('=', 'after the property');
  return { type, property, value: reader.value('property value', true) };
}

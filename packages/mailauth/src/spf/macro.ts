import { parseIp4, parseIp6 } from './ip-address.js';

/** The macro letters of RFC 7208 §7.2; `c`, `r` and `t` are allowed only in explanations. */
export type SpfMacroLetter = 's' | 'l' | 'o' | 'd' | 'i' | 'p' | 'h' | 'c' | 'r' | 't' | 'v';

/** One piece of a macro-string (RFC 7208 §7.1). */
export type SpfMacroToken =
  /** Visible characters other than `%` (and SP in an explanation), as written. */
  | {
      /** Literal text. */
      readonly kind: 'literal';
      /** The text, as written. */
      readonly text: string;
    }
  /** `%%` (a `%`), `%_` (a SP) or `%-` (`%20`). */
  | {
      /** An escape. */
      readonly kind: 'escape';
      /** The escape, as written. */
      readonly sequence: '%%' | '%_' | '%-';
    }
  /** `%{…}`: a letter (upper case: URL-escaped), then its transformers and delimiters. */
  | {
      /** A macro. */
      readonly kind: 'macro';
      /** The macro letter, in lower case. */
      readonly letter: SpfMacroLetter;
      /** The letter was upper case: the expansion is URL-escaped (§7.3). */
      readonly urlEscape: boolean;
      /** The digit transformer: keep only this many parts, the rightmost ones; absent: all. */
      readonly rightmost?: number;
      /** The `r` transformer: reverse the parts. */
      readonly reverse: boolean;
      /** The characters that split the value into parts, as written; empty: `.`. */
      readonly delimiters: string;
    };

/** A parsed macro-string, or why it is malformed (a `permerror`). */
export type SpfMacroStringParse =
  | {
      /** The macro-string was read. */
      readonly ok: true;
      /** Its pieces, in order. */
      readonly tokens: readonly SpfMacroToken[];
    }
  | {
      /** The macro-string is malformed. */
      readonly ok: false;
      /** Why. */
      readonly reason: string;
    };

/** Options of {@link parseMacroString}. */
export interface SpfMacroStringOptions {
  /** Parse an `explain-string` (RFC 7208 §6.2): SP is then allowed as a literal. */
  explanation?: boolean;
}

const PERCENT = 0x25;
const MACRO = /^([slodiphcrtv])([0-9]*)(r?)([-.+,/_=]*)$/i;

/**
 * Parses a macro-string (RFC 7208 §7.1): visible ASCII characters, `%{…}` macros, and the escapes
 * `%%`, `%_` and `%-`; any other `%` sequence, a zero digit transformer or another character is
 * malformed. Never throws.
 */
export function parseMacroString(text: string, options: SpfMacroStringOptions = {}): SpfMacroStringParse {
  const tokens: SpfMacroToken[] = [];
  let i = 0;
  while (i < text.length) {
    if (text.charCodeAt(i) !== PERCENT) {
      const start = i;
      while (i < text.length && isLiteral(text.charCodeAt(i), options.explanation === true)) i++;
      if (i === start) return fail(`invalid character U+${hex(text.charCodeAt(i))}`);
      tokens.push({ kind: 'literal', text: text.slice(start, i) });
      continue;
    }
    const next = text[i + 1];
    if (next === '%' || next === '_' || next === '-') {
      tokens.push({ kind: 'escape', sequence: `%${next}` });
      i += 2;
      continue;
    }
    if (next !== '{') return fail(`invalid macro "${text.slice(i, i + 2)}"`);
    const close = text.indexOf('}', i + 2);
    if (close < 0) return fail(`unterminated macro "${text.slice(i, i + 12)}"`);
    const written = text.slice(i, close + 1);
    const parts = MACRO.exec(text.slice(i + 2, close));
    if (parts === null) return fail(`invalid macro "${written}"`);
    const [, letter = '', digits = '', reverse = '', delimiters = ''] = parts;
    if (digits !== '' && Number(digits) === 0) return fail(`zero digit transformer in macro "${written}"`);
    tokens.push({
      kind: 'macro',
      letter: letter.toLowerCase() as SpfMacroLetter,
      urlEscape: letter !== letter.toLowerCase(),
      ...(digits === '' ? {} : { rightmost: Number(digits) }),
      reverse: reverse !== '',
      delimiters,
    });
    i = close + 1;
  }
  return { ok: true, tokens };
}

/**
 * Parses a domain-spec (RFC 7208 §7.1): a macro-string that ends with a macro or escape, or with `.`
 * and a top label (letters, digits and inner hyphens, not all digits), optionally followed by `.`. The
 * macros `c`, `r` and `t`, allowed only in explanation text, are malformed here.
 */
export function parseDomainSpec(text: string): SpfMacroStringParse {
  const parsed = parseMacroString(text);
  if (!parsed.ok) return parsed;
  const explanationOnly = parsed.tokens.find(
    (token) => token.kind === 'macro' && EXPLANATION_ONLY.has(token.letter),
  );
  if (explanationOnly?.kind === 'macro') {
    return fail(`macro "${explanationOnly.letter}" is allowed only in explanations`);
  }
  const last = parsed.tokens.at(-1);
  if (last === undefined) return fail('empty domain-spec');
  if (last.kind === 'literal' && !endsWithTopLabel(last.text)) return fail(`invalid domain-spec "${text}"`);
  return parsed;
}

/** Writes tokens back as a macro-string; parsing it gives the same tokens. */
export function formatMacroString(tokens: readonly SpfMacroToken[]): string {
  let text = '';
  for (const token of tokens) {
    if (token.kind === 'literal') text += token.text;
    else if (token.kind === 'escape') text += token.sequence;
    else {
      const letter = token.urlEscape ? token.letter.toUpperCase() : token.letter;
      text += `%{${letter}${token.rightmost ?? ''}${token.reverse ? 'r' : ''}${token.delimiters}}`;
    }
  }
  return text;
}

/** The values the macros of RFC 7208 §7.2 expand to. */
export interface SpfMacroContext {
  /** `s`: the sender, `local-part@domain` (`postmaster@` and the HELO name when it had no local part). */
  readonly sender: string;
  /** `l`: the local part of the sender. */
  readonly localPart: string;
  /** `o`: the domain of the sender. */
  readonly senderDomain: string;
  /** `d`: the domain being checked. */
  readonly domain: string;
  /** `i`, `c`, `v`: the SMTP client's IP address, IPv4 dotted quad or IPv6. */
  readonly ip: string;
  /** `h`: the HELO/EHLO domain. */
  readonly helo: string;
  /** `p`: the validated domain name of the IP address (default `unknown`). */
  readonly validatedDomain?: string;
  /** `r`: the domain of the host performing the check (default `unknown`). */
  readonly receiver?: string;
  /** `t`: the current time, in seconds since the Unix epoch. */
  readonly timestamp?: number;
}

/** Options of {@link expandMacros}. */
export interface SpfExpandOptions {
  /** The string is an explanation (`exp=` TXT): `c`, `r` and `t` are allowed. */
  exp?: boolean;
}

/** An expanded macro-string, or why it cannot be expanded (a `permerror`). */
export type SpfMacroExpansion =
  | {
      /** The macro-string was expanded. */
      readonly ok: true;
      /** The expansion. */
      readonly value: string;
    }
  | {
      /** It cannot be expanded. */
      readonly ok: false;
      /** Why. */
      readonly reason: string;
    };

const EXPLANATION_ONLY: ReadonlySet<SpfMacroLetter> = new Set(['c', 'r', 't']);
const ESCAPES = { '%%': '%', '%_': ' ', '%-': '%20' } as const;
const UTF8 = new TextEncoder();

/**
 * Expands macros (RFC 7208 §7.3): each value is split at its delimiters (default `.`), reversed with
 * `r`, cut to its rightmost parts with a digit, and joined with `.`; an upper-case letter then
 * URL-escapes it. `i` is the dotted quad, or the 32 dotted nibbles of an IPv6 address. Never throws.
 */
export function expandMacros(
  tokens: readonly SpfMacroToken[],
  context: SpfMacroContext,
  options: SpfExpandOptions = {},
): SpfMacroExpansion {
  let value = '';
  for (const token of tokens) {
    if (token.kind === 'literal') value += token.text;
    else if (token.kind === 'escape') value += ESCAPES[token.sequence];
    else {
      if (EXPLANATION_ONLY.has(token.letter) && options.exp !== true) {
        return { ok: false, reason: `macro "${token.letter}" is allowed only in explanations` };
      }
      const raw = macroValue(token.letter, context);
      if (raw === undefined) return { ok: false, reason: `no value for macro "${token.letter}"` };
      const parts = splitAny(raw, token.delimiters === '' ? '.' : token.delimiters);
      if (token.reverse) parts.reverse();
      const kept = parts.slice(Math.max(0, parts.length - (token.rightmost ?? parts.length))).join('.');
      value += token.urlEscape ? urlEscape(kept) : kept;
    }
  }
  return { ok: true, value };
}

/**
 * Shortens an expanded domain name to 253 characters at most by removing labels from the left, each
 * with its dot (RFC 7208 §7.3); empty when even its last label is longer.
 */
export function truncateDomain(name: string): string {
  const start = name.length - 253;
  if (start <= 0) return name;
  const dot = name.indexOf('.', start - 1);
  return dot < 0 ? '' : name.slice(dot + 1);
}

function macroValue(letter: SpfMacroLetter, context: SpfMacroContext): string | undefined {
  switch (letter) {
    case 's':
      return context.sender;
    case 'l':
      return context.localPart;
    case 'o':
      return context.senderDomain;
    case 'd':
      return context.domain;
    case 'h':
      return context.helo;
    case 'p':
      return context.validatedDomain ?? 'unknown';
    case 'r':
      return context.receiver ?? 'unknown';
    case 't':
      return context.timestamp === undefined ? undefined : String(Math.trunc(context.timestamp));
    case 'c':
      return isIp(context.ip) ? context.ip : undefined;
    case 'v':
      if (parseIp4(context.ip) !== undefined) return 'in-addr';
      return parseIp6(context.ip) === undefined ? undefined : 'ip6';
    case 'i':
      return dottedIp(context.ip);
  }
}

/** The `i` form of an address: the dotted quad, or the 32 nibbles of an IPv6 address joined by dots. */
function dottedIp(ip: string): string | undefined {
  if (parseIp4(ip) !== undefined) return ip;
  const bytes = parseIp6(ip);
  if (bytes === undefined) return undefined;
  return Array.from(bytes, (byte) => `${(byte >> 4).toString(16)}.${(byte & 0xf).toString(16)}`).join('.');
}

function isIp(ip: string): boolean {
  return parseIp4(ip) !== undefined || parseIp6(ip) !== undefined;
}

function splitAny(value: string, delimiters: string): string[] {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    if (delimiters.includes(value[i]!)) {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));
  return parts;
}

/** Percent-encodes the UTF-8 bytes of everything but RFC 3986 `unreserved` characters. */
function urlEscape(value: string): string {
  let escaped = '';
  for (const byte of UTF8.encode(value)) {
    const char = String.fromCharCode(byte);
    escaped += /[A-Za-z0-9\-._~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return escaped;
}

/** Whether a character may stand for itself: `macro-literal` (%x21-24 / %x26-7E), or SP in an explanation. */
function isLiteral(code: number, explanation: boolean): boolean {
  return (code >= 0x21 && code <= 0x7e && code !== PERCENT) || (explanation && code === 0x20);
}

/** `.` and a top label at the end of a literal, optionally followed by `.` (RFC 7208 §7.1 `domain-end`). */
function endsWithTopLabel(text: string): boolean {
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  const dot = name.lastIndexOf('.');
  if (dot < 0) return false;
  const label = name.slice(dot + 1);
  if (!/^[A-Za-z0-9-]+$/.test(label)) return false;
  if (label.includes('-')) return !label.startsWith('-') && !label.endsWith('-');
  return /[A-Za-z]/.test(label);
}

function hex(code: number): string {
  return code.toString(16).toUpperCase().padStart(4, '0');
}

function fail(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}

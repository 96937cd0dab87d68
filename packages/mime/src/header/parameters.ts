import { concatBytes, InvalidArgumentError, utf8 } from '@postwire/core';
import { decodeCharset } from '../charset/decode.js';
import { defaultMimeLimits, type MimeLimits } from '../limits.js';
import { isFoldingSpace, isToken, readQuotedString, skipCfws, skipComment } from './cfws.js';
import { decodeEncodedWords } from './encoded-word.js';

/**
 * MIME parameters (RFC 2045 §5.1) with RFC 2231 continuations, charsets and languages, as in
 * Content-Type and Content-Disposition.
 *
 * Merge rule, the one answer to every conflict (catalogue case 38):
 * - a name in RFC 2231 form (`name*`, `name*0`, `name*0*` …) wins over the plain `name`
 *   (`ambiguous-parameter`); if the RFC 2231 form has no section 0 it yields nothing and the plain one stands;
 * - of duplicates (the same plain name, or the same section twice) the first wins (`duplicate-parameter`);
 * - sections are joined from 0 upwards and stop at the first missing number; later sections are
 *   dropped (`parameter-continuation-gap`), so `*99999999` never joins anything;
 * - parameters after the first `maxParameters` are not read (`limit-maxParameters`).
 *
 * Values: quoted strings are unquoted and unfolded; RFC 2231 extended sections are percent-decoded
 * in their charset; RFC 2047 encoded words in other values are decoded (common in filenames)
 * except in `boundary`, which is kept byte for byte (`encoded-word-boundary`). A boundary that is
 * given twice in any form is reported as `ambiguous-boundary`, and one longer than
 * `maxBoundaryLength` as `limit-maxBoundaryLength` (it is kept: the parser treats the part as opaque).
 */

/** The limits that apply to parameters; a whole `MimeLimits` object can be passed. */
export type ParameterOptions = Partial<
  Pick<MimeLimits, 'maxParameters' | 'maxBoundaryLength' | 'maxEncodedWords'>
>;

/** A header value of the form `value; name=value; …`. */
export interface ParameterizedValue {
  /** The value before the parameters as written, without comments and whitespace (`text/plain`, `attachment`). */
  value: string;
  /** Parameters by lower-cased name (a null-prototype object), values decoded. */
  parameters: Record<string, string>;
  /** RFC 2231 language tags by lower-cased parameter name, for the parameters that carry one. */
  languages: Record<string, string>;
  /** Defect codes, each once. */
  defects: string[];
}

/** One `name=value` as read, before merging. */
interface RawParameter {
  name: string;
  /** The RFC 2231 section number; `name*` counts as section 0. */
  section: number | undefined;
  /** RFC 2231 extended (`*` after the name or section): percent-encoded, with a charset in section 0. */
  extended: boolean;
  value: string;
}

/** Everything read under one name. */
interface ParameterGroup {
  plain: string | undefined;
  sections: Map<number, RawParameter>;
  repeated: boolean;
}

const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const SLASH = 0x2f;
const QUOTE = 0x22;
const OPEN = 0x28;
const RFC2231_SUFFIX = /^\*(?:(0|[1-9]\d{0,8})(\*)?)?$/;
const LANGUAGE_PREFIX = /^[A-Za-z0-9-]*'/;

/** Parses a parameterised header value. Never throws: malformed parts are skipped and reported. */
export function parseParameterizedValue(field: string, options: ParameterOptions = {}): ParameterizedValue {
  const defects = new Set<string>();
  const written = readWrittenParameters(
    field,
    options.maxParameters ?? defaultMimeLimits.maxParameters,
    defects,
  );
  const raw: RawParameter[] = [];
  for (const { name, value } of written.parameters) {
    const parameter = toRawParameter(name.toLowerCase(), value);
    if (parameter) raw.push(parameter);
    else defects.add('invalid-parameter');
  }
  const { parameters, languages } = mergeParameters(raw, options, defects);
  return { value: written.value, parameters, languages, defects: [...defects] };
}

/** One `name=value` of a parameterised field as written: the name in its case, a quoted value unquoted. */
export interface WrittenParameter {
  /** The parameter's name, in its case. */
  readonly name: string;
  /** The value, unquoted. */
  readonly value: string;
}

/**
 * Reads a parameterised field body without interpreting it: the leading value (`text/plain`,
 * `attachment`) and the parameters in order, at most `maxParameters`, in one linear pass. A missing
 * `;` between parameters is tolerated. Problems are added to `defects`; a parameter without a name,
 * or with an empty unquoted value, is skipped (`invalid-parameter`).
 */
export function readWrittenParameters(
  field: string,
  maxParameters: number,
  defects: Set<string>,
): {
  /** The leading value, such as `text/plain`. */
  value: string;
  /** The parameters, in order. */
  parameters: WrittenParameter[];
} {
  let i = skipCfws(field, 0);
  let end = scanToken(field, i, true);
  let value = field.slice(i, end);
  i = skipCfws(field, end);
  if (field.charCodeAt(i) === SLASH) {
    i = skipCfws(field, i + 1);
    end = scanToken(field, i, false);
    value += `/${field.slice(i, end)}`;
    i = skipCfws(field, end);
  }
  const parameters: WrittenParameter[] = [];
  let afterSemicolon = false;
  while (i < field.length) {
    if (field.charCodeAt(i) === SEMICOLON) {
      afterSemicolon = true;
      i = skipCfws(field, i + 1);
      continue;
    }
    if (parameters.length === maxParameters) {
      defects.add('limit-maxParameters');
      break;
    }
    if (!afterSemicolon) defects.add('missing-semicolon');
    afterSemicolon = false;
    const nameEnd = scanName(field, i);
    const name = field.slice(i, nameEnd);
    i = skipCfws(field, nameEnd);
    if (field.charCodeAt(i) !== EQUALS) {
      defects.add('invalid-parameter');
      i = skipToSemicolon(field, i);
      continue;
    }
    i = skipCfws(field, i + 1);
    let text: string;
    const quoted = field.charCodeAt(i) === QUOTE;
    if (quoted) ({ text, end: i } = readQuotedString(field, i, true));
    else {
      const valueEnd = scanUnquotedValue(field, i);
      text = field.slice(i, valueEnd);
      i = valueEnd;
    }
    i = skipCfws(field, i);
    if (name === '' || (!quoted && text === '')) defects.add('invalid-parameter');
    else parameters.push({ name, value: text });
  }
  return { value, parameters };
}

/** The end of a token: folding space, `;` and `(` end it, and `/` too in a media type's first half. */
function scanToken(field: string, start: number, slashEnds: boolean): number {
  let i = start;
  while (i < field.length) {
    const code = field.charCodeAt(i);
    if (isFoldingSpace(code) || code === SEMICOLON || code === OPEN || (slashEnds && code === SLASH)) break;
    i++;
  }
  return i;
}

function scanName(field: string, start: number): number {
  let i = start;
  while (i < field.length) {
    const code = field.charCodeAt(i);
    if (isFoldingSpace(code) || code === EQUALS || code === SEMICOLON || code === OPEN || code === QUOTE)
      break;
    i++;
  }
  return i;
}

/**
 * The end of an unquoted value: folding space, `;` and `(` end it, except that whitespace between
 * two encoded words does not (`name==?utf-8?B?…?= =?utf-8?B?…?=.pdf`, seen in the wild).
 */
function scanUnquotedValue(field: string, start: number): number {
  let i = start;
  for (;;) {
    while (i < field.length) {
      const code = field.charCodeAt(i);
      if (isFoldingSpace(code) || code === SEMICOLON || code === OPEN) break;
      i++;
    }
    if (i - start < 2 || !field.startsWith('?=', i - 2)) return i;
    let next = i;
    while (next < field.length && isFoldingSpace(field.charCodeAt(next))) next++;
    if (next === i || !field.startsWith('=?', next)) return i;
    i = next;
  }
}

/** Skips to the next `;` outside quoted strings and comments. */
function skipToSemicolon(field: string, start: number): number {
  let i = start;
  while (i < field.length) {
    const code = field.charCodeAt(i);
    if (code === SEMICOLON) return i;
    if (code === QUOTE) i = readQuotedString(field, i).end;
    else if (code === OPEN) i = skipComment(field, i);
    else i++;
  }
  return i;
}

function toRawParameter(name: string, value: string): RawParameter | undefined {
  const star = name.indexOf('*');
  if (star === -1) return { name, section: undefined, extended: false, value };
  const suffix = RFC2231_SUFFIX.exec(name.slice(star));
  if (star === 0 || !suffix) return undefined;
  const section = suffix[1] === undefined ? 0 : Number(suffix[1]);
  return {
    name: name.slice(0, star),
    section,
    extended: suffix[1] === undefined || suffix[2] !== undefined,
    value,
  };
}

function mergeParameters(
  raw: readonly RawParameter[],
  options: ParameterOptions,
  defects: Set<string>,
): { parameters: Record<string, string>; languages: Record<string, string> } {
  const groups = new Map<string, ParameterGroup>();
  for (const parameter of raw) {
    let group = groups.get(parameter.name);
    if (!group) {
      group = { plain: undefined, sections: new Map(), repeated: false };
      groups.set(parameter.name, group);
    }
    const taken =
      parameter.section === undefined ? group.plain !== undefined : group.sections.has(parameter.section);
    if (taken) {
      group.repeated = true;
      defects.add('duplicate-parameter');
    } else if (parameter.section === undefined) group.plain = parameter.value;
    else group.sections.set(parameter.section, parameter);
  }
  const parameters: Record<string, string> = Object.create(null);
  const languages: Record<string, string> = Object.create(null);
  for (const [name, group] of groups) {
    const joined = group.sections.size > 0 ? joinSections(group.sections, defects) : undefined;
    if (joined !== undefined && group.plain !== undefined) {
      group.repeated = true;
      defects.add('ambiguous-parameter');
    }
    if (joined?.language) languages[name] = joined.language;
    const text = joined?.text ?? group.plain;
    if (text === undefined) continue;
    const encodedWords = joined?.extended !== true && text.includes('=?');
    if (name === 'boundary') {
      if (group.repeated) defects.add('ambiguous-boundary');
      if (encodedWords) defects.add('encoded-word-boundary');
      if (text.length > (options.maxBoundaryLength ?? defaultMimeLimits.maxBoundaryLength)) {
        defects.add('limit-maxBoundaryLength');
      }
      parameters[name] = text;
    } else if (encodedWords) {
      const decoded = decodeEncodedWords(text, { maxEncodedWords: options.maxEncodedWords });
      for (const defect of decoded.defects) defects.add(defect);
      parameters[name] = decoded.text;
    } else parameters[name] = text;
  }
  return { parameters, languages };
}

/**
 * Joins RFC 2231 sections 0, 1, 2 … up to the first gap. Runs of extended sections are decoded
 * together in the charset of section 0; a section that repeats that charset prefix (some mailers
 * write it in every section) has it removed.
 */
function joinSections(
  sections: ReadonlyMap<number, RawParameter>,
  defects: Set<string>,
): { text: string; language: string; extended: boolean } | undefined {
  if (!sections.has(0)) {
    defects.add('parameter-continuation-gap');
    return undefined;
  }
  const parts: string[] = [];
  let pending: Uint8Array[] = [];
  let charset = '';
  let language = '';
  let extended = false;
  const flush = (): void => {
    if (pending.length === 0) return;
    const decoded = decodeCharset(concatBytes(pending), charset || undefined);
    if (decoded.defect) defects.add(decoded.defect);
    parts.push(decoded.text);
    pending = [];
  };
  let index = 0;
  for (let section = sections.get(0); section; section = sections.get(++index)) {
    if (!section.extended) {
      flush();
      parts.push(section.value);
      continue;
    }
    extended = true;
    let text = section.value;
    if (index === 0) {
      const first = text.indexOf("'");
      const second = first === -1 ? -1 : text.indexOf("'", first + 1);
      if (first === -1) defects.add('invalid-parameter');
      else {
        charset = text.slice(0, first);
        language = second === -1 ? '' : text.slice(first + 1, second);
        text = text.slice((second === -1 ? first : second) + 1);
      }
    } else if (
      charset !== '' &&
      text.slice(0, charset.length + 1).toLowerCase() === `${charset.toLowerCase()}'`
    ) {
      defects.add('repeated-parameter-charset');
      text = text.slice(charset.length + 1);
      const repeatedLanguage = LANGUAGE_PREFIX.exec(text);
      if (repeatedLanguage) text = text.slice(repeatedLanguage[0].length);
    }
    pending.push(percentDecode(text));
  }
  flush();
  if (index < sections.size) defects.add('parameter-continuation-gap');
  return { text: parts.join(''), language, extended };
}

/** `%XX` to a byte; a `%` without two hex digits stays as it is. Other characters are taken as UTF-8. */
function percentDecode(text: string): Uint8Array {
  const source = utf8(text);
  if (!text.includes('%')) return source;
  const out = new Uint8Array(source.length);
  let length = 0;
  for (let i = 0; i < source.length; i++) {
    const byte = source[i]!;
    const high = byte === 0x25 && i + 2 < source.length ? hexValue(source[i + 1]!) : -1;
    const low = high >= 0 ? hexValue(source[i + 2]!) : -1;
    if (low >= 0) {
      out[length++] = (high << 4) | low;
      i += 2;
    } else out[length++] = byte;
  }
  return out.subarray(0, length);
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}

/** RFC 2045 token characters: printable ASCII except space and tspecials. */
/** RFC 5987 attr-char: written as itself in an extended value; everything else is percent-encoded. */
const ATTR_CHAR = /[!#$&+\-.0-9A-Z^_`a-z|~]/;
const CONTROL = /[\x00-\x1f\x7f]/;
/** Longest section text, so that `; name*N*=section` still fits a 78-column line once folded. */
const SECTION_LENGTH = 76;

/**
 * Serializes one parameter for the composer, without the leading `; `: `name=token`,
 * `name="quoted"`, or RFC 2231 `name*=utf-8''%E2%82%AC` for non-ASCII values (and values holding
 * `=?`, which a reader would decode). Values too long for one line are split into RFC 2231
 * sections (`name*0=`, `name*0*=` …) joined by `; `, each short enough to fold into 78 columns,
 * never inside a `%XX` triple or a UTF-8 sequence. Throws `InvalidArgumentError` for a name that
 * is not a token and for control characters (CR and LF included) in the value.
 */
export function formatParameter(name: string, value: string): string {
  if (!isToken(name) || name.includes('*') || name.includes("'") || name.includes('%')) {
    throw new InvalidArgumentError(`invalid parameter name "${name}"`);
  }
  if (CONTROL.test(value)) throw new InvalidArgumentError(`control character in parameter "${name}"`);
  const ascii = /^[\x20-\x7e]*$/.test(value) && !value.includes('=?');
  if (ascii) {
    const single = isToken(value) ? `${name}=${value}` : `${name}=${quote(value)}`;
    if (single.length <= SECTION_LENGTH) return single;
    return splitSections(name, [...value].map(quotedChar), false);
  }
  const encoded = [...value].map(percentEncode);
  const single = `${name}*=utf-8''${encoded.join('')}`;
  if (single.length <= SECTION_LENGTH) return single;
  return splitSections(name, encoded, true);
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

function quotedChar(char: string): string {
  return char === '"' || char === '\\' ? `\\${char}` : char;
}

function percentEncode(char: string): string {
  if (ATTR_CHAR.test(char)) return char;
  let out = '';
  for (const byte of utf8(char)) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/** Splits encoded characters into numbered sections; each piece stays whole. */
function splitSections(name: string, pieces: readonly string[], extended: boolean): string {
  const sections: string[] = [];
  let current = extended ? "utf-8''" : '';
  const head = (): string => `${name}*${sections.length}${extended ? '*=' : '="'}`;
  const tail = extended ? '' : '"';
  for (const piece of pieces) {
    if (current !== '' && head().length + current.length + piece.length + tail.length > SECTION_LENGTH) {
      sections.push(head() + current + tail);
      current = '';
    }
    current += piece;
  }
  sections.push(head() + current + tail);
  return sections.join('; ');
}

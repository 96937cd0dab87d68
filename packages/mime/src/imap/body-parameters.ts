import { isFoldingSpace, readQuotedString, skipCfws, skipComment } from '../header/cfws.js';
import { defaultMimeLimits } from '../limits.js';

/** A body parameter of BODYSTRUCTURE: its name in upper case and its value as written, unquoted. */
export type BodyParameter = [name: string, value: string];

interface WrittenParameter {
  readonly name: string;
  readonly value: string;
}

/** The RFC 2231 sections of one parameter name. */
interface SectionGroup {
  readonly name: string;
  readonly sections: Section[];
}

interface Section {
  readonly index: number;
  readonly extended: boolean;
  readonly parameter: WrittenParameter;
}

const SEMICOLON = 0x3b;
const EQUALS = 0x3d;
const SLASH = 0x2f;
const QUOTE = 0x22;
const OPEN = 0x28;
const SECTION_SUFFIX = /^\*(?:(0|[1-9]\d{0,8})(\*)?)?$/;

/**
 * The parameters of a Content-Type or Content-Disposition field body for BODYSTRUCTURE, as Dovecot sends
 * them: values as written (quoted strings unquoted; RFC 2047 words and RFC 2231 charsets not decoded), so
 * that they stay ASCII for IMAP4rev1 clients. RFC 2231 continuations are joined, as RFC 2231 §3 asks of
 * IMAP servers: `name*0`, `name*1` … give `NAME`, and when any section is extended they give `NAME*` with
 * the value in extended form (`charset'language'%XX…`, plain sections `%`-escaped). Sections with a gap
 * or a repeated number are kept one by one. Parameters are read as the Content-Type parser reads them
 * (a missing `;` is tolerated), at most `maxParameters`, in one linear pass.
 */
export function readBodyParameters(
  fieldBody: string,
  maxParameters: number = defaultMimeLimits.maxParameters,
): BodyParameter[] {
  const written = readWrittenParameters(fieldBody, skipLeadingValue(fieldBody), maxParameters);
  const entries: (BodyParameter | SectionGroup)[] = [];
  const groups = new Map<string, SectionGroup>();
  for (const parameter of written) {
    const star = parameter.name.indexOf('*');
    const suffix = star > 0 ? SECTION_SUFFIX.exec(parameter.name.slice(star)) : null;
    if (!suffix) {
      entries.push([parameter.name.toUpperCase(), parameter.value]);
      continue;
    }
    const name = parameter.name.slice(0, star).toUpperCase();
    let group = groups.get(name);
    if (!group) {
      group = { name, sections: [] };
      groups.set(name, group);
      entries.push(group);
    }
    group.sections.push({
      index: suffix[1] === undefined ? 0 : Number(suffix[1]),
      extended: suffix[1] === undefined || suffix[2] !== undefined,
      parameter,
    });
  }
  const parameters: BodyParameter[] = [];
  for (const entry of entries) {
    if (Array.isArray(entry)) parameters.push(entry);
    else joinSections(entry, parameters);
  }
  return parameters;
}

function joinSections(group: SectionGroup, out: BodyParameter[]): void {
  const { sections } = group;
  const ordered: (Section | undefined)[] = new Array(sections.length);
  let complete = true;
  for (const section of sections) {
    if (section.index >= sections.length || ordered[section.index]) complete = false;
    else ordered[section.index] = section;
  }
  if (!complete) {
    for (const { parameter } of sections) out.push([parameter.name.toUpperCase(), parameter.value]);
    return;
  }
  const extended = sections.some((section) => section.extended);
  const pieces: string[] = extended && !ordered[0]!.extended ? ["''"] : [];
  for (const section of ordered as Section[]) {
    const value = section.parameter.value;
    pieces.push(extended && !section.extended ? value.replaceAll('%', '%25') : value);
  }
  out.push([extended ? `${group.name}*` : group.name, pieces.join('')]);
}

/** The index after the media type (`type/subtype`) or disposition type that opens a field body. */
function skipLeadingValue(field: string): number {
  let i = skipCfws(field, scanToken(field, skipCfws(field, 0), true));
  if (field.charCodeAt(i) === SLASH) i = skipCfws(field, scanToken(field, skipCfws(field, i + 1), false));
  return i;
}

function scanToken(field: string, start: number, slashEnds: boolean): number {
  let i = start;
  while (i < field.length) {
    const code = field.charCodeAt(i);
    if (isFoldingSpace(code) || code === SEMICOLON || code === OPEN || (slashEnds && code === SLASH)) break;
    i++;
  }
  return i;
}

function readWrittenParameters(field: string, start: number, max: number): WrittenParameter[] {
  const parameters: WrittenParameter[] = [];
  let i = start;
  while (i < field.length && parameters.length < max) {
    if (field.charCodeAt(i) === SEMICOLON) {
      i = skipCfws(field, i + 1);
      continue;
    }
    const nameEnd = scanName(field, i);
    const name = field.slice(i, nameEnd);
    i = skipCfws(field, nameEnd);
    if (field.charCodeAt(i) !== EQUALS) {
      i = skipToSemicolon(field, i);
      continue;
    }
    i = skipCfws(field, i + 1);
    const quoted = field.charCodeAt(i) === QUOTE;
    let value: string;
    if (quoted) ({ text: value, end: i } = readQuotedString(field, i));
    else {
      const valueEnd = scanUnquotedValue(field, i);
      value = field.slice(i, valueEnd);
      i = valueEnd;
    }
    i = skipCfws(field, i);
    if (name !== '' && (quoted || value !== '')) parameters.push({ name, value });
  }
  return parameters;
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

/** The end of an unquoted value; whitespace between two encoded words does not end it, as for the parser. */
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

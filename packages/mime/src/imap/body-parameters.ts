import { readWrittenParameters, type WrittenParameter } from '../header/parameters.js';
import { defaultMimeLimits } from '../limits.js';

/** A body parameter of BODYSTRUCTURE: its name in upper case and its value as written, unquoted. */
export type BodyParameter = [name: string, value: string];

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
  const written = readWrittenParameters(fieldBody, maxParameters, new Set()).parameters;
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

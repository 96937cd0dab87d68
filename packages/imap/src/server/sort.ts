import { decodeUnstructured, type EnvelopeAddress, parseDate } from '@postwire/mime';
import type { MessageInfo, MessageStructure } from '@postwire/store';

/** One message as SORT sees it. */
export interface SortCandidate {
  readonly info: MessageInfo;
  /** Its sequence number in the session's view: what breaks ties, and the number SORT answers without UID. */
  readonly sequence: number;
  /** Its structure, unless {@link sortNeedsStructure} said it is not needed. */
  readonly structure?: MessageStructure;
}

/** A subject reduced to what SORT and THREAD compare (RFC 5256 §2.1). */
export interface BaseSubject {
  /** The base subject, decoded, in upper case (i;ascii-casemap); `''` when nothing is left. */
  readonly text: string;
  /** Whether a `Re:`, `Fwd:`, `(fwd)` or `[fwd: …]` was removed: the message is a reply or a forward. */
  readonly replyOrForward: boolean;
}

type SortKey = 'ARRIVAL' | 'CC' | 'DATE' | 'FROM' | 'SIZE' | 'SUBJECT' | 'TO' | 'DISPLAYFROM' | 'DISPLAYTO';

interface Criterion {
  readonly key: SortKey;
  readonly reverse: boolean;
}

/** The keys of RFC 5256 §3, and DISPLAYFROM and DISPLAYTO of RFC 5957. */
const SORT_KEYS: ReadonlySet<string> = new Set<SortKey>([
  'ARRIVAL',
  'CC',
  'DATE',
  'FROM',
  'SIZE',
  'SUBJECT',
  'TO',
  'DISPLAYFROM',
  'DISPLAYTO',
]);

/**
 * The first criterion the server cannot sort by, or `undefined`. A criterion is a key in upper case, or
 * `REVERSE ` and a key, as the command parser gives them.
 */
export function unsupportedSortKey(criteria: readonly string[]): string | undefined {
  return criteria.find((criterion) => readCriterion(criterion) === undefined);
}

/** Whether the criteria read header fields (every key but ARRIVAL and SIZE), so that candidates need their structure. */
export function sortNeedsStructure(criteria: readonly string[]): boolean {
  return criteria.some((criterion) => {
    const key = readCriterion(criterion)?.key;
    return key !== 'ARRIVAL' && key !== 'SIZE';
  });
}

/**
 * The SORT answer (RFC 5256 §3, RFC 5957): the candidates' UIDs (with `uid`) or sequence numbers, ordered
 * by each criterion in turn, then by sequence number. REVERSE turns one key around, never the final tie
 * break. Criteria must have passed {@link unsupportedSortKey}. Strings compare as i;ascii-casemap: ASCII
 * letters in upper case, then by code point. Each candidate's keys are computed once.
 *
 * - ARRIVAL: the internal date. SIZE: the size in octets.
 * - DATE: the sent date, see {@link sentTime}.
 * - SUBJECT: the {@link baseSubject}.
 * - FROM, TO, CC: the mailbox (local part) of the field's first ENVELOPE address, a group's name when the
 *   field starts with a group; `''` without the field.
 * - DISPLAYFROM, DISPLAYTO: the decoded display name of the first address, else its `mailbox@host`.
 */
export function sortMessages(
  criteria: readonly string[],
  candidates: readonly SortCandidate[],
  uid: boolean,
): number[] {
  const keys = criteria.map((criterion) => readCriterion(criterion)!);
  const rows = candidates.map((candidate) => ({
    number: uid ? candidate.info.uid : candidate.sequence,
    sequence: candidate.sequence,
    values: keys.map(({ key }) => keyValue(key, candidate)),
  }));
  rows.sort((a, b) => {
    for (const [index, { reverse }] of keys.entries()) {
      const order = compareValues(a.values[index]!, b.values[index]!);
      if (order !== 0) return reverse ? -order : order;
    }
    return a.sequence - b.sequence;
  });
  return rows.map((row) => row.number);
}

/**
 * The sent date of RFC 5256 §2.2, in milliseconds since the epoch (so compared in UTC): the Date field's,
 * or the internal date when the field is missing or cannot be parsed.
 */
export function sentTime(info: MessageInfo, structure: MessageStructure): number {
  const field = structure.envelope.date;
  const parsed = field === null ? undefined : parseDate(field);
  return (parsed?.date ?? info.internalDate).getTime();
}

/**
 * The base subject of a Subject field as written (RFC 5256 §2.1): encoded words decoded, runs of
 * whitespace made one space, then, until nothing changes, trailing `(fwd)` and spaces removed, leading
 * `re:`, `fw:` and `fwd:` (each with optional `[blob]`s before it and one before its colon) and spaces
 * removed, leading `[blob]`s removed when text is left after them, and a `[fwd: …]` wrapper removed.
 * Linear in the subject's length.
 */
export function baseSubject(subject: string): BaseSubject {
  const text = asciiUpperCase(decodeUnstructured(subject).replace(/[\t ]+/g, ' '));
  let start = 0;
  let end = text.length;
  let replyOrForward = false;
  for (;;) {
    for (;;) {
      if (end > start && text[end - 1] === ' ') end--;
      else if (end - start >= 5 && text.startsWith('(FWD)', end - 5)) {
        end -= 5;
        replyOrForward = true;
      } else break;
    }
    for (;;) {
      if (start < end && text[start] === ' ') {
        start++;
        continue;
      }
      const blobs = readBlobs(text, start, end);
      const leaderEnd = readRefwd(text, blobs.end, end);
      if (leaderEnd !== undefined) {
        start = leaderEnd;
        replyOrForward = true;
        continue;
      }
      // Nothing but blobs can be removed now: all of them when text follows, else all but the last.
      if (blobs.count > 0) start = blobs.end < end ? blobs.end : blobs.last;
      break;
    }
    if (text.startsWith('[FWD:', start) && text[end - 1] === ']' && end - start >= 6) {
      start += 5;
      end -= 1;
      replyOrForward = true;
      continue;
    }
    return { text: text.slice(start, end), replyOrForward };
  }
}

/** The run of `subj-blob`s from `start`: where it ends, and where its last blob starts. */
function readBlobs(text: string, start: number, end: number): { end: number; last: number; count: number } {
  let position = start;
  let last = start;
  let count = 0;
  for (let next = readBlob(text, position, end); next !== undefined; next = readBlob(text, position, end)) {
    last = position;
    count++;
    position = next;
  }
  return { end: position, last, count };
}

/** The end of a `subj-blob` at `start` (`[`, text without brackets, `]`, spaces), or `undefined`. */
function readBlob(text: string, start: number, end: number): number | undefined {
  if (text[start] !== '[') return undefined;
  let close = start + 1;
  while (close < end && text[close] !== ']' && text[close] !== '[') close++;
  return close < end && text[close] === ']' ? skipSpaces(text, close + 1, end) : undefined;
}

/** The end of a `subj-refwd` at `start` (`RE`, `FW` or `FWD`, spaces, an optional blob, `:`), or `undefined`. */
function readRefwd(text: string, start: number, end: number): number | undefined {
  const word = ['FWD', 'FW', 'RE'].find((prefix) => text.startsWith(prefix, start));
  if (word === undefined) return undefined;
  let position = skipSpaces(text, start + word.length, end);
  position = readBlob(text, position, end) ?? position;
  return position < end && text[position] === ':' ? position + 1 : undefined;
}

function skipSpaces(text: string, position: number, end: number): number {
  while (position < end && text[position] === ' ') position++;
  return position;
}

function readCriterion(criterion: string): Criterion | undefined {
  const reverse = criterion.startsWith('REVERSE ');
  const key = reverse ? criterion.slice('REVERSE '.length) : criterion;
  return SORT_KEYS.has(key) ? { key: key as SortKey, reverse } : undefined;
}

function keyValue(key: SortKey, { info, structure }: SortCandidate): number | string {
  switch (key) {
    case 'ARRIVAL':
      return info.internalDate.getTime();
    case 'SIZE':
      return info.size;
    case 'DATE':
      return sentTime(info, structure!);
    case 'SUBJECT':
      return baseSubject(structure!.envelope.subject ?? '').text;
    case 'FROM':
      return addressMailbox(structure!.envelope.from);
    case 'TO':
      return addressMailbox(structure!.envelope.to);
    case 'CC':
      return addressMailbox(structure!.envelope.cc);
    case 'DISPLAYFROM':
      return displayAddress(structure!.envelope.from);
    case 'DISPLAYTO':
      return displayAddress(structure!.envelope.to);
  }
}

/** The first address's `addr-mailbox`; a group's name, as a phrase, is decoded. */
function addressMailbox(addresses: readonly EnvelopeAddress[] | null): string {
  const first = addresses?.[0];
  if (!first?.mailbox) return '';
  return asciiUpperCase(first.host === null ? decodeUnstructured(first.mailbox) : first.mailbox);
}

/** The first address as a reader sees it (RFC 5957 §3): its decoded display name, else its addr-spec. */
function displayAddress(addresses: readonly EnvelopeAddress[] | null): string {
  const first = addresses?.[0];
  if (!first) return '';
  const name = first.name === null ? '' : decodeUnstructured(first.name);
  if (name !== '') return asciiUpperCase(name);
  if (first.host === null) return addressMailbox(addresses);
  return asciiUpperCase(`${first.mailbox ?? ''}@${first.host}`);
}

function compareValues(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return compareText(String(a), String(b));
}

/** Code point order, which is also the order of the UTF-8 octets. */
function compareText(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** A UTF-16 unit's rank in code point order: surrogates (characters past U+FFFF) after U+E000–U+FFFF. */
function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit < 0xe000 ? unit + 0x2000 : unit - 0x800;
}

function asciiUpperCase(text: string): string {
  return text.replace(/[a-z]+/g, (letters) => letters.toUpperCase());
}

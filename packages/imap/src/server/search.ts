import { decodeUnstructured, parseDate } from '@postwire/mime';
import type { MessageInfo, MessageStructure } from '@postwire/store';
import type { SearchKey } from '../protocol/search-key.js';
import { foldCase, TextMatcher } from './text-matcher.js';

/** One message as a SEARCH sees it. */
export interface SearchCandidate {
  readonly info: MessageInfo;
  /** Its sequence number in the session's view. */
  readonly sequence: number;
  /** Its structure, when {@link searchNeedsStructure} asked for it. */
  readonly structure?: MessageStructure;
  /** For each of {@link searchTextTerms}, in order, whether the message holds it. */
  readonly text?: readonly boolean[];
}

/** A BODY or TEXT key's string: looked for in the body only, or in the whole message. */
export interface SearchTextTerm {
  readonly value: string;
  readonly body: boolean;
}

/**
 * What SEARCH keys are resolved against: the view's size and highest UID (for `*`), the time now, the
 * session's `\Recent` messages and its saved result `$` (RFC 5182), both as UIDs.
 */
export interface SearchContext {
  readonly count: number;
  readonly lastUid: number;
  readonly now: number;
  readonly recent: Pick<ReadonlySet<number>, 'has'>;
  readonly saved: ReadonlySet<number>;
  /** The keys' {@link searchTextTerms}. */
  readonly terms: readonly SearchTextTerm[];
}

const HEADER_KEYS: Readonly<Record<string, string>> = {
  FROM: 'from',
  TO: 'to',
  CC: 'cc',
  BCC: 'bcc',
  SUBJECT: 'subject',
};

/** The BODY and TEXT strings of the keys, each once, in the order {@link SearchCandidate.text} follows. */
export function searchTextTerms(keys: readonly SearchKey[]): SearchTextTerm[] {
  const terms: SearchTextTerm[] = [];
  const walk = (key: SearchKey): void => {
    if (key.key === 'NOT') walk(key.operand);
    else if (key.key === 'OR') {
      walk(key.left);
      walk(key.right);
    } else if (key.key === 'AND') key.keys.forEach(walk);
    else if (
      (key.key === 'BODY' || key.key === 'TEXT') &&
      termIndex(terms, key.value, key.key === 'BODY') === -1
    )
      terms.push({ value: key.value, body: key.key === 'BODY' });
  };
  keys.forEach(walk);
  return terms;
}

function termIndex(terms: readonly SearchTextTerm[], value: string, body: boolean): number {
  return terms.findIndex((term) => term.value === value && term.body === body);
}

/**
 * For each needle, whether the streamed octets hold it: decoded as UTF-8 and folded with {@link foldCase},
 * in the bounded memory of a {@link TextMatcher}. SEARCH reads a message this way when it has no structure.
 */
export async function streamContains(
  chunks: AsyncIterable<Uint8Array>,
  needles: readonly string[],
): Promise<boolean[]> {
  const matcher = new TextMatcher(needles);
  const decoder = new TextDecoder();
  for await (const chunk of chunks) {
    matcher.feed(decoder.decode(chunk, { stream: true }));
    if (matcher.done) return matcher.found;
  }
  matcher.feed(decoder.decode());
  matcher.end();
  return matcher.found;
}

/** Whether the keys read header fields (HEADER, FROM …, SENT*), so that candidates need their structure. */
export function searchNeedsStructure(keys: readonly SearchKey[]): boolean {
  return keys.some((key): boolean => {
    switch (key.key) {
      case 'NOT':
        return searchNeedsStructure([key.operand]);
      case 'OR':
        return searchNeedsStructure([key.left, key.right]);
      case 'AND':
        return searchNeedsStructure(key.keys);
      case 'HEADER':
      case 'SENTBEFORE':
      case 'SENTON':
      case 'SENTSINCE':
        return true;
      default:
        return key.key in HEADER_KEYS;
    }
  });
}

/** Whether a message matches every key (RFC 9051 §6.4.4). */
export function matchesSearch(
  keys: readonly SearchKey[],
  candidate: SearchCandidate,
  context: SearchContext,
): boolean {
  return keys.every((key) => matches(key, candidate, context));
}

function matches(key: SearchKey, candidate: SearchCandidate, context: SearchContext): boolean {
  const { info } = candidate;
  const flag = (name: string): boolean => info.flags.some((f) => f.toLowerCase() === name.toLowerCase());
  switch (key.key) {
    case 'ALL':
      return true;
    case 'OLD':
      return !context.recent.has(info.uid);
    case 'RECENT':
      return context.recent.has(info.uid);
    case 'NEW':
      return context.recent.has(info.uid) && !flag('\\Seen');
    case 'ANSWERED':
    case 'DELETED':
    case 'DRAFT':
    case 'FLAGGED':
    case 'SEEN':
      return flag(`\\${key.key}`);
    case 'UNANSWERED':
    case 'UNDELETED':
    case 'UNDRAFT':
    case 'UNFLAGGED':
    case 'UNSEEN':
      return !flag(`\\${key.key.slice(2)}`);
    case 'KEYWORD':
      return flag(key.flag);
    case 'UNKEYWORD':
      return !flag(key.flag);
    case 'LARGER':
      return info.size > key.size;
    case 'SMALLER':
      return info.size < key.size;
    case 'BEFORE':
      return info.internalDate.toISOString().slice(0, 10) < key.date;
    case 'ON':
      return info.internalDate.toISOString().slice(0, 10) === key.date;
    case 'SINCE':
      return info.internalDate.toISOString().slice(0, 10) >= key.date;
    case 'SENTBEFORE':
    case 'SENTON':
    case 'SENTSINCE': {
      const sent = sentDate(candidate.structure!);
      if (sent === undefined) return false;
      if (key.key === 'SENTBEFORE') return sent < key.date;
      return key.key === 'SENTON' ? sent === key.date : sent >= key.date;
    }
    case 'OLDER':
      return context.now - info.internalDate.getTime() >= key.seconds * 1000;
    case 'YOUNGER':
      return context.now - info.internalDate.getTime() <= key.seconds * 1000;
    case 'UID':
    case 'SEQUENCE':
      if (key.set.isSaved) return context.saved.has(info.uid);
      return key.key === 'UID'
        ? key.set.has(info.uid, context.lastUid)
        : key.set.has(candidate.sequence, context.count);
    case 'MODSEQ':
      return info.modseq >= key.modSeq;
    case 'EMAILID':
      return info.id === key.id;
    case 'HEADER':
      return headerContains(candidate.structure!, key.field.toLowerCase(), key.value);
    case 'NOT':
      return !matches(key.operand, candidate, context);
    case 'OR':
      return matches(key.left, candidate, context) || matches(key.right, candidate, context);
    case 'AND':
      return matchesSearch(key.keys, candidate, context);
    case 'BODY':
    case 'TEXT':
      return candidate.text![termIndex(context.terms, key.value, key.key === 'BODY')]!;
    case 'THREADID':
      // Every message's THREADID is NIL (RFC 8474 §5.2): no thread id names one.
      return false;
    default:
      return headerContains(candidate.structure!, HEADER_KEYS[key.key]!, key.value);
  }
}

/** Whether a field named `field` (lower case) holds `value`, case-folded, once unfolded and decoded. */
function headerContains(structure: MessageStructure, field: string, value: string): boolean {
  const needle = foldCase(value);
  return structure.headers.some(
    ([name, text]) => name.toLowerCase() === field && foldCase(decodeUnstructured(text)).includes(needle),
  );
}

/** The day of the Date field, `YYYY-MM-DD` in its own zone, or `undefined` without a valid one. */
function sentDate(structure: MessageStructure): string | undefined {
  const field = structure.headers.find(([name]) => name.toLowerCase() === 'date');
  const parsed = field && parseDate(field[1]);
  if (!parsed) return undefined;
  const pad = (value: number): string => String(value).padStart(2, '0');
  return `${parsed.year}-${pad(parsed.month)}-${pad(parsed.day)}`;
}

/** Whether the keys hold MODSEQ, so that the result carries the highest MODSEQ found (RFC 7162 §3.1.5). */
export function searchUsesModseq(keys: readonly SearchKey[]): boolean {
  return keys.some((key): boolean => {
    switch (key.key) {
      case 'MODSEQ':
        return true;
      case 'NOT':
        return searchUsesModseq([key.operand]);
      case 'OR':
        return searchUsesModseq([key.left, key.right]);
      case 'AND':
        return searchUsesModseq(key.keys);
      default:
        return false;
    }
  });
}

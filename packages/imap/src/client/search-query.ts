import { InvalidArgumentError } from '@postwire/core';
import type { DateSearchKeyName, SearchKey, TextSearchKeyName } from '../protocol/search-key.js';
import type { SequenceSet } from '../protocol/sequence-set.js';
import { type ImapRange, toSequenceSet } from './range.js';
import type { ImapClientSession } from './session.js';
import type { CallBounds } from './session-keeper.js';

/**
 * What to search for (RFC 9051 §6.4.4): every member given must match (AND); `or` and `not` nest.
 * Flags take `true` (set) or `false` (not set). Dates are `YYYY-MM-DD`, or a `Date` (its UTC day);
 * `before`/`on`/`since` compare the internal date, `sent…` the Date header. An empty query matches all.
 */
export interface ImapSearchQuery {
  /** Every message (ALL). */
  readonly all?: boolean;
  /** `\Seen`: `true` SEEN, `false` UNSEEN. */
  readonly seen?: boolean;
  /** `\Answered`: `true` ANSWERED, `false` UNANSWERED. */
  readonly answered?: boolean;
  /** `\Flagged`: `true` FLAGGED, `false` UNFLAGGED. */
  readonly flagged?: boolean;
  /** `\Deleted`: `true` DELETED, `false` UNDELETED. */
  readonly deleted?: boolean;
  /** `\Draft`: `true` DRAFT, `false` UNDRAFT. */
  readonly draft?: boolean;
  /** `true`: RECENT; `false`: OLD. */
  readonly recent?: boolean;
  /** Recent and not seen (NEW). */
  readonly new?: boolean;
  /** Keywords set (each one). */
  readonly keyword?: string | readonly string[];
  /** Keywords not set (each one). */
  readonly unkeyword?: string | readonly string[];
  /** In the From header field (FROM). */
  readonly from?: string;
  /** In the To header field (TO). */
  readonly to?: string;
  /** In the Cc header field (CC). */
  readonly cc?: string;
  /** In the Bcc header field (BCC). */
  readonly bcc?: string;
  /** In the Subject header field (SUBJECT). */
  readonly subject?: string;
  /** In the body. */
  readonly body?: string;
  /** In the header or the body. */
  readonly text?: string;
  /** Header fields containing the values (`''` matches every message that has the field). */
  readonly header?: Readonly<Record<string, string>>;
  /** Internal date before this day (BEFORE). */
  readonly before?: Date | string;
  /** Internal date on this day (ON). */
  readonly on?: Date | string;
  /** Internal date on or after this day (SINCE). */
  readonly since?: Date | string;
  /** Date header before this day (SENTBEFORE). */
  readonly sentBefore?: Date | string;
  /** Date header on this day (SENTON). */
  readonly sentOn?: Date | string;
  /** Date header on or after this day (SENTSINCE). */
  readonly sentSince?: Date | string;
  /** RFC822.SIZE above this many octets. */
  readonly larger?: number;
  /** RFC822.SIZE below this many octets. */
  readonly smaller?: number;
  /** Internal date more than this many seconds ago (WITHIN, RFC 5032). */
  readonly olderThan?: number;
  /** Internal date less than this many seconds ago (WITHIN). */
  readonly youngerThan?: number;
  /** UIDs. */
  readonly uid?: ImapRange;
  /** Sequence numbers. */
  readonly seq?: ImapRange;
  /** Mod-sequence at least this (CONDSTORE). */
  readonly modseq?: number;
  /** RFC 8474 OBJECTID. */
  readonly emailId?: string;
  /** RFC 8474 THREADID. */
  readonly threadId?: string;
  /** A query that must not match (NOT). */
  readonly not?: ImapSearchQuery;
  /** Any of these (at least two). */
  readonly or?: readonly ImapSearchQuery[];
}

/** The search keys of a query, and whether a string in it is not ASCII (and so needs CHARSET UTF-8). */
export function searchKeys(query: ImapSearchQuery): { keys: SearchKey[]; utf8: boolean } {
  const state = { utf8: false };
  const keys = collect(query, state);
  return { keys: keys.length > 0 ? keys : [{ key: 'ALL' }], utf8: state.utf8 };
}

const FLAGS: readonly (readonly [keyof ImapSearchQuery, SearchKey['key'], SearchKey['key']])[] = [
  ['seen', 'SEEN', 'UNSEEN'],
  ['answered', 'ANSWERED', 'UNANSWERED'],
  ['flagged', 'FLAGGED', 'UNFLAGGED'],
  ['deleted', 'DELETED', 'UNDELETED'],
  ['draft', 'DRAFT', 'UNDRAFT'],
  ['recent', 'RECENT', 'OLD'],
];
const TEXTS: readonly (readonly [keyof ImapSearchQuery, TextSearchKeyName])[] = [
  ['from', 'FROM'],
  ['to', 'TO'],
  ['cc', 'CC'],
  ['bcc', 'BCC'],
  ['subject', 'SUBJECT'],
  ['body', 'BODY'],
  ['text', 'TEXT'],
];
const DATES: readonly (readonly [keyof ImapSearchQuery, DateSearchKeyName])[] = [
  ['before', 'BEFORE'],
  ['on', 'ON'],
  ['since', 'SINCE'],
  ['sentBefore', 'SENTBEFORE'],
  ['sentOn', 'SENTON'],
  ['sentSince', 'SENTSINCE'],
];

function collect(query: ImapSearchQuery, state: { utf8: boolean }): SearchKey[] {
  const keys: SearchKey[] = [];
  const text = (value: string): string => {
    if (/[^\x00-\x7f]/.test(value)) state.utf8 = true;
    return value;
  };
  if (query.all) keys.push({ key: 'ALL' });
  for (const [name, set, unset] of FLAGS) {
    const value = query[name];
    if (value !== undefined) keys.push({ key: value ? set : unset } as SearchKey);
  }
  if (query.new) keys.push({ key: 'NEW' });
  for (const flag of list(query.keyword)) keys.push({ key: 'KEYWORD', flag });
  for (const flag of list(query.unkeyword)) keys.push({ key: 'UNKEYWORD', flag });
  for (const [name, key] of TEXTS) {
    const value = query[name];
    if (value !== undefined) keys.push({ key, value: text(value as string) });
  }
  for (const [field, value] of Object.entries(query.header ?? {}))
    keys.push({ key: 'HEADER', field: text(field), value: text(value) });
  for (const [name, key] of DATES) {
    const value = query[name];
    if (value !== undefined) keys.push({ key, date: day(value as Date | string) });
  }
  if (query.larger !== undefined) keys.push({ key: 'LARGER', size: query.larger });
  if (query.smaller !== undefined) keys.push({ key: 'SMALLER', size: query.smaller });
  if (query.olderThan !== undefined) keys.push({ key: 'OLDER', seconds: query.olderThan });
  if (query.youngerThan !== undefined) keys.push({ key: 'YOUNGER', seconds: query.youngerThan });
  if (query.uid !== undefined) keys.push({ key: 'UID', set: toSequenceSet(query.uid) });
  if (query.seq !== undefined) keys.push({ key: 'SEQUENCE', set: toSequenceSet(query.seq) });
  if (query.modseq !== undefined) keys.push({ key: 'MODSEQ', modSeq: query.modseq });
  if (query.emailId !== undefined) keys.push({ key: 'EMAILID', id: query.emailId });
  if (query.threadId !== undefined) keys.push({ key: 'THREADID', id: query.threadId });
  if (query.not) keys.push({ key: 'NOT', operand: single(collect(query.not, state)) });
  if (query.or) {
    if (query.or.length < 2) throw new InvalidArgumentError('"or" needs at least two queries');
    const operands = query.or.map((operand) => single(collect(operand, state)));
    keys.push(operands.reduceRight((right, left) => ({ key: 'OR', left, right })));
  }
  return keys;
}

/** Several keys as one (a parenthesised list), or ALL for none. */
function single(keys: SearchKey[]): SearchKey {
  if (keys.length === 0) return { key: 'ALL' };
  return keys.length === 1 ? keys[0]! : { key: 'AND', keys };
}

function list(value: string | readonly string[] | undefined): readonly string[] {
  if (value === undefined) return [];
  return typeof value === 'string' ? [value] : value;
}

/** `YYYY-MM-DD`: a `Date`'s UTC day, or the string as given (checked when written). */
function day(value: Date | string): string {
  if (typeof value === 'string') return value;
  if (Number.isNaN(value.getTime())) throw new InvalidArgumentError('an invalid Date in a search');
  return value.toISOString().slice(0, 10);
}

/**
 * Runs SEARCH (`RETURN (ALL)` when the server has ESEARCH) and collects what matched: the ESEARCH set as
 * sent, ranges kept, or the SEARCH response's numbers.
 */
export async function runSearch(
  session: ImapClientSession,
  search: { readonly uid: boolean; readonly charset?: string; readonly criteria: readonly SearchKey[] },
  call: CallBounds = {},
): Promise<SequenceSet | number[]> {
  const numbers: number[] = [];
  let all: SequenceSet | undefined;
  await session.run({
    command: {
      name: 'SEARCH',
      uid: search.uid,
      ...(search.charset !== undefined && { charset: search.charset }),
      ...(session.has('ESEARCH') && { return: ['ALL'] as const }),
      criteria: search.criteria,
    },
    ...call,
    handler: {
      untagged: (response) => {
        if (response.type === 'SEARCH') numbers.push(...response.numbers);
        else if (response.type === 'ESEARCH') all = response.all;
        else return false;
        return true;
      },
    },
  });
  return all ?? numbers;
}

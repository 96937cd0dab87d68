import { InvalidArgumentError } from '@postwire/core';
import type { ImapCursor } from './cursor.js';
import { SequenceSet } from './sequence-set.js';
import type { ImapWriter } from './writer.js';

/** Search keys that take no argument. */
export type FlagSearchKeyName =
  | 'ALL'
  | 'ANSWERED'
  | 'DELETED'
  | 'DRAFT'
  | 'FLAGGED'
  | 'NEW'
  | 'OLD'
  | 'RECENT'
  | 'SEEN'
  | 'UNANSWERED'
  | 'UNDELETED'
  | 'UNDRAFT'
  | 'UNFLAGGED'
  | 'UNSEEN';

/** Search keys that take a string. */
export type TextSearchKeyName = 'BCC' | 'BODY' | 'CC' | 'FROM' | 'SUBJECT' | 'TEXT' | 'TO';

/** Search keys that take a date (`YYYY-MM-DD` here, `1-Feb-1994` on the wire). */
export type DateSearchKeyName = 'BEFORE' | 'ON' | 'SINCE' | 'SENTBEFORE' | 'SENTON' | 'SENTSINCE';

/** A SEARCH key (RFC 9051 §6.4.4, RFC 7162 MODSEQ, RFC 5032 WITHIN, RFC 8474 EMAILID/THREADID). */
export type SearchKey =
  | {
      /** The key's name. */
      readonly key: FlagSearchKeyName;
    }
  | {
      /** The key's name. */
      readonly key: 'KEYWORD' | 'UNKEYWORD';
      /** The keyword. */
      readonly flag: string;
    }
  | {
      /** The key's name. */
      readonly key: TextSearchKeyName;
      /** The text to look for. */
      readonly value: string;
    }
  | {
      /** The key's name. */
      readonly key: 'HEADER';
      /** The header field's name. */
      readonly field: string;
      /** The text to look for in the field. */
      readonly value: string;
    }
  | {
      /** The key's name. */
      readonly key: DateSearchKeyName;
      /** The date, `YYYY-MM-DD`. */
      readonly date: string;
    }
  | {
      /** The key's name. */
      readonly key: 'LARGER' | 'SMALLER';
      /** The size in octets. */
      readonly size: number;
    }
  | {
      /** The key's name. */
      readonly key: 'OLDER' | 'YOUNGER';
      /** The interval in seconds (RFC 5032). */
      readonly seconds: number;
    }
  | {
      /** The key's name. */
      readonly key: 'UID' | 'SEQUENCE';
      /** The UIDs or message sequence numbers. */
      readonly set: SequenceSet;
    }
  | {
      /** The key's name. */
      readonly key: 'NOT';
      /** The key that must not match. */
      readonly operand: SearchKey;
    }
  | {
      /** The key's name. */
      readonly key: 'OR';
      /** The first alternative. */
      readonly left: SearchKey;
      /** The second alternative. */
      readonly right: SearchKey;
    }
  | {
      /** The key's name. */
      readonly key: 'AND';
      /** The keys that must all match (a parenthesised list). */
      readonly keys: readonly SearchKey[];
    }
  | {
      /** The key's name. */
      readonly key: 'MODSEQ';
      /** The lowest mod-sequence a matching message has (RFC 7162 §3.1.5). */
      readonly modSeq: number;
      /** The metadata item the mod-sequence is of, when given. */
      readonly entry?: {
        /** The entry's name, such as `/flags/\draft`. */
        readonly name: string;
        /** The entry's type: private, shared or either. */
        readonly type: 'priv' | 'shared' | 'all';
      };
    }
  | {
      /** The key's name. */
      readonly key: 'EMAILID' | 'THREADID';
      /** The object id (RFC 8474). */
      readonly id: string;
    };

const FLAG_KEYS = new Set([
  'ALL',
  'ANSWERED',
  'DELETED',
  'DRAFT',
  'FLAGGED',
  'NEW',
  'OLD',
  'RECENT',
  'SEEN',
  'UNANSWERED',
  'UNDELETED',
  'UNDRAFT',
  'UNFLAGGED',
  'UNSEEN',
]);
const TEXT_KEYS = new Set(['BCC', 'BODY', 'CC', 'FROM', 'SUBJECT', 'TEXT', 'TO']);
const DATE_KEYS = new Set(['BEFORE', 'ON', 'SINCE', 'SENTBEFORE', 'SENTON', 'SENTSINCE']);
const OTHER_KEYS = new Set([
  'KEYWORD',
  'UNKEYWORD',
  'HEADER',
  'LARGER',
  'SMALLER',
  'OLDER',
  'YOUNGER',
  'UID',
  'NOT',
  'OR',
  'MODSEQ',
  'EMAILID',
  'THREADID',
]);
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Reads search keys separated by SP up to the end of the command, or to `)` inside a list. */
export function readSearchKeys(cursor: ImapCursor): SearchKey[] {
  const keys = [readSearchKey(cursor)];
  while (cursor.peek() === 0x20) {
    cursor.sp();
    keys.push(readSearchKey(cursor));
  }
  return keys;
}

/** Reads one search key; nesting (NOT, OR, parentheses) counts against the cursor's depth limit. */
export function readSearchKey(cursor: ImapCursor): SearchKey {
  if (cursor.peek() === 0x28) return { key: 'AND', keys: cursor.list(() => readSearchKey(cursor)) };
  const next = cursor.peek();
  if (next !== undefined && ((next >= 0x30 && next <= 0x39) || next === 0x2a || next === 0x24))
    return { key: 'SEQUENCE', set: SequenceSet.parse(cursor.word('sequence'), cursor.tag) };
  const key = cursor.keyword();
  if (FLAG_KEYS.has(key)) return { key } as SearchKey;
  if (!TEXT_KEYS.has(key) && !DATE_KEYS.has(key) && !OTHER_KEYS.has(key))
    return cursor.fail(`Unknown search key ${key.slice(0, 40)}`);
  cursor.sp();
  if (TEXT_KEYS.has(key)) return { key, value: cursor.astring() } as SearchKey;
  if (DATE_KEYS.has(key)) return { key, date: readDate(cursor) } as SearchKey;
  switch (key) {
    case 'KEYWORD':
    case 'UNKEYWORD':
      return { key, flag: cursor.word() };
    case 'HEADER': {
      const field = cursor.astring();
      cursor.sp();
      return { key, field, value: cursor.astring() };
    }
    case 'LARGER':
    case 'SMALLER':
      return { key, size: cursor.number64() };
    case 'OLDER':
    case 'YOUNGER':
      return { key, seconds: cursor.nzNumber() };
    case 'UID':
      return { key, set: SequenceSet.parse(cursor.word('sequence'), cursor.tag) };
    case 'NOT':
      return cursor.nested(() => ({ key, operand: readSearchKey(cursor) }));
    case 'OR':
      return cursor.nested(() => {
        const left = readSearchKey(cursor);
        cursor.sp();
        return { key, left, right: readSearchKey(cursor) };
      });
    case 'MODSEQ': {
      if (cursor.peek() === 0x22) {
        const name = cursor.string();
        cursor.sp();
        const type = cursor.keyword().toLowerCase();
        if (type !== 'priv' && type !== 'shared' && type !== 'all')
          return cursor.fail('Invalid MODSEQ entry type');
        cursor.sp();
        return { key, modSeq: cursor.number64(), entry: { name, type } };
      }
      return { key, modSeq: cursor.number64() };
    }
    case 'EMAILID':
      return { key, id: cursor.word() };
    default:
      return { key: 'THREADID', id: cursor.word() };
  }
}

/** Reads an IMAP `date` (`1-Feb-1994`, optionally quoted) as `YYYY-MM-DD`. */
export function readDate(cursor: ImapCursor): string {
  const quoted = cursor.tryByte(0x22);
  const text = cursor.until(' )"');
  if (quoted) cursor.expect(0x22, 'closing quote');
  const match = /^(\d{1,2})-([A-Za-z]{3})-(\d{4})$/.exec(text);
  const month = match ? MONTHS.findIndex((m) => m.toLowerCase() === match[2]!.toLowerCase()) : -1;
  if (!match || month === -1 || Number(match[1]) < 1 || Number(match[1]) > 31)
    return cursor.fail('Invalid date');
  return `${match[3]}-${String(month + 1).padStart(2, '0')}-${match[1]!.padStart(2, '0')}`;
}

/** The wire form of a `YYYY-MM-DD` date (`1-Feb-1994`). */
export function formatDate(date: string): string {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const month = match ? MONTHS[Number(match[2]) - 1] : undefined;
  if (!match || !month || Number(match[3]) < 1 || Number(match[3]) > 31)
    throw new InvalidArgumentError(`not a YYYY-MM-DD date: ${date}`);
  return `${Number(match[3])}-${month}-${match[1]}`;
}

/** Writes search keys separated by SP. */
export function writeSearchKeys(writer: ImapWriter, keys: readonly SearchKey[]): void {
  if (keys.length === 0) throw new InvalidArgumentError('a search needs at least one key');
  keys.forEach((key, index) => {
    if (index > 0) writer.sp();
    writeSearchKey(writer, key);
  });
}

/** Writes one search key. */
export function writeSearchKey(writer: ImapWriter, key: SearchKey): void {
  switch (key.key) {
    case 'KEYWORD':
    case 'UNKEYWORD':
      writer.raw(key.key).sp().atom(key.flag);
      return;
    case 'HEADER':
      writer.raw('HEADER').sp().astring(key.field).sp().astring(key.value);
      return;
    case 'LARGER':
    case 'SMALLER':
      writer.raw(key.key).sp().number(key.size, Number.MAX_SAFE_INTEGER);
      return;
    case 'OLDER':
    case 'YOUNGER':
      writer.raw(key.key).sp().number(key.seconds);
      return;
    case 'UID':
      writer.raw('UID').sp().raw(key.set.toString());
      return;
    case 'SEQUENCE':
      writer.raw(key.set.toString());
      return;
    case 'NOT':
      writer.raw('NOT').sp();
      writeSearchKey(writer, key.operand);
      return;
    case 'OR':
      writer.raw('OR').sp();
      writeSearchKey(writer, key.left);
      writer.sp();
      writeSearchKey(writer, key.right);
      return;
    case 'AND':
      writer.list(key.keys, (inner) => writeSearchKey(writer, inner));
      return;
    case 'MODSEQ':
      writer.raw('MODSEQ').sp();
      if (key.entry) writer.string(key.entry.name).sp().raw(key.entry.type).sp();
      writer.number(key.modSeq, Number.MAX_SAFE_INTEGER);
      return;
    case 'EMAILID':
    case 'THREADID':
      writer.raw(key.key).sp().atom(key.id);
      return;
    default:
      if ('value' in key) writer.raw(key.key).sp().astring(key.value);
      else if ('date' in key) writer.raw(key.key).sp().raw(formatDate(key.date));
      else writer.raw(key.key);
  }
}

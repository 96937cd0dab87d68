import { InvalidArgumentError } from '@postwire/core';
import { parseSection, type Section } from '@postwire/mime';
import type { ImapCursor } from './cursor.js';
import type { ImapWriter } from './writer.js';

/** `<offset.count>` of a partial FETCH. */
export interface Partial {
  /** The first octet wanted. */
  readonly offset: number;
  /** The most octets wanted. */
  readonly count: number;
}

/** The FETCH items without arguments. */
export type SimpleFetchItemName =
  | 'FLAGS'
  | 'INTERNALDATE'
  | 'RFC822.SIZE'
  | 'ENVELOPE'
  | 'BODY'
  | 'BODYSTRUCTURE'
  | 'UID'
  | 'MODSEQ'
  | 'EMAILID'
  | 'THREADID'
  | 'RFC822'
  | 'RFC822.HEADER'
  | 'RFC822.TEXT';

/** One FETCH data item (RFC 9051 §6.4.5, RFC 3516 BINARY, RFC 7162 MODSEQ, RFC 8474 OBJECTID). */
export type FetchItem =
  | {
      /** The item's name. */
      readonly item: SimpleFetchItemName;
    }
  | {
      /** The item's name. */
      readonly item: 'BODY[]';
      /** The section wanted. */
      readonly section: Section;
      /** `BODY.PEEK[]`: `\Seen` is not set. */
      readonly peek: boolean;
      /** Only these octets of the section. */
      readonly partial?: Partial;
    }
  | {
      /** The item's name. */
      readonly item: 'BINARY[]';
      /** The part number (RFC 3516); empty for the whole message. */
      readonly part: readonly number[];
      /** `BINARY.PEEK[]`: `\Seen` is not set. */
      readonly peek: boolean;
      /** Only these octets of the decoded part. */
      readonly partial?: Partial;
    }
  | {
      /** The item's name. */
      readonly item: 'BINARY.SIZE';
      /** The part number (RFC 3516); empty for the whole message. */
      readonly part: readonly number[];
    };

const SIMPLE = new Set<string>([
  'FLAGS',
  'INTERNALDATE',
  'RFC822.SIZE',
  'ENVELOPE',
  'BODY',
  'BODYSTRUCTURE',
  'UID',
  'MODSEQ',
  'EMAILID',
  'THREADID',
  'RFC822',
  'RFC822.HEADER',
  'RFC822.TEXT',
]);

const MACROS: Record<string, SimpleFetchItemName[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

/** Reads FETCH's items: a macro (expanded), one item, or a parenthesised list. */
export function readFetchItems(cursor: ImapCursor): FetchItem[] {
  const macro = MACROS[cursor.peekKeyword()];
  if (macro) {
    cursor.keyword();
    return macro.map((item) => ({ item }));
  }
  if (cursor.peek() === 0x28) return cursor.list(() => readFetchItem(cursor));
  return [readFetchItem(cursor)];
}

/** Reads one FETCH item. */
export function readFetchItem(cursor: ImapCursor): FetchItem {
  const name = cursor.until(' ()[<').toUpperCase();
  if (cursor.peek() !== 0x5b) {
    if (SIMPLE.has(name)) return { item: name as SimpleFetchItemName };
    return cursor.fail(`Unknown FETCH item ${name.slice(0, 40)}`);
  }
  cursor.expect(0x5b, '"["');
  const spec = cursor.until(']');
  cursor.expect(0x5d, '"]"');
  const partial = readPartial(cursor, name !== 'BINARY.SIZE');
  if (name === 'BODY' || name === 'BODY.PEEK') {
    let section: Section;
    try {
      section = parseSection(spec);
    } catch (error) {
      return cursor.fail(`Invalid section: ${(error as Error).message}`);
    }
    return { item: 'BODY[]', section, peek: name === 'BODY.PEEK', ...(partial && { partial }) };
  }
  const part = readPart(cursor, spec);
  if (name === 'BINARY' || name === 'BINARY.PEEK')
    return { item: 'BINARY[]', part, peek: name === 'BINARY.PEEK', ...(partial && { partial }) };
  if (name === 'BINARY.SIZE') return { item: 'BINARY.SIZE', part };
  return cursor.fail(`Unknown FETCH item ${name.slice(0, 40)}`);
}

function readPart(cursor: ImapCursor, spec: string): number[] {
  if (spec === '') return [];
  if (!/^[1-9]\d{0,9}(?:\.[1-9]\d{0,9})*$/.test(spec)) return cursor.fail('Invalid part number');
  const part = spec.split('.').map(Number);
  if (part.some((n) => n > 4_294_967_295)) return cursor.fail('Invalid part number');
  return part;
}

function readPartial(cursor: ImapCursor, allowed: boolean): Partial | undefined {
  if (!allowed || !cursor.tryByte(0x3c)) return undefined;
  const offset = cursor.number();
  cursor.expect(0x2e, '"."');
  const count = cursor.nzNumber();
  cursor.expect(0x3e, '">"');
  return { offset, count };
}

/** The text of a section spec, as between `BODY[` and `]`. */
export function formatSection(section: Section): string {
  const part = section.part.join('.');
  if (section.text === null) return part;
  const prefix = part === '' ? '' : `${part}.`;
  if (section.text === 'HEADER.FIELDS' || section.text === 'HEADER.FIELDS.NOT') {
    for (const field of section.fields)
      if (!/^[\x21-\x39\x3b-\x7e]+$/.test(field) || /[()"\\{\]]/.test(field))
        throw new InvalidArgumentError(`not a header field name: ${JSON.stringify(field)}`);
    return `${prefix}${section.text} (${section.fields.join(' ')})`;
  }
  return `${prefix}${section.text}`;
}

/** The name of an item as the response echoes it (`BODY[1.TEXT]<0>`, `BINARY.SIZE[1]`, `UID`). */
export function fetchItemName(item: FetchItem, inResponse = false): string {
  switch (item.item) {
    case 'BODY[]': {
      const peek = item.peek && !inResponse ? '.PEEK' : '';
      const partial = item.partial
        ? inResponse
          ? `<${item.partial.offset}>`
          : `<${item.partial.offset}.${item.partial.count}>`
        : '';
      return `BODY${peek}[${formatSection(item.section)}]${partial}`;
    }
    case 'BINARY[]': {
      const peek = item.peek && !inResponse ? '.PEEK' : '';
      const partial = item.partial
        ? inResponse
          ? `<${item.partial.offset}>`
          : `<${item.partial.offset}.${item.partial.count}>`
        : '';
      return `BINARY${peek}[${partNumbers(item.part)}]${partial}`;
    }
    case 'BINARY.SIZE':
      return `BINARY.SIZE[${partNumbers(item.part)}]`;
    default:
      return item.item;
  }
}

function partNumbers(part: readonly number[]): string {
  for (const n of part)
    if (!Number.isInteger(n) || n < 1 || n > 4_294_967_295)
      throw new InvalidArgumentError('invalid part number');
  return part.join('.');
}

/** Writes FETCH's items as a list. */
export function writeFetchItems(writer: ImapWriter, items: readonly FetchItem[]): void {
  if (items.length === 0) throw new InvalidArgumentError('FETCH needs at least one item');
  writer.list(items, (item) => writer.raw(fetchItemName(item)));
}

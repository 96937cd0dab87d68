import { InvalidArgumentError } from '@postwire/core';
import { type BodyStructure, type Envelope, parseSection, type Section } from '@postwire/mime';
import type { ImapCursor } from './cursor.js';
import { formatSection } from './fetch-item.js';
import type { StreamedFragment } from './reader.js';
import {
  type ExtensionValue,
  readBodyStructure,
  readEnvelope,
  readExtensionValue,
  writeBodyStructure,
  writeEnvelope,
  writeExtensionValue,
} from './response-body.js';
import { readObjectId, writeObjectId } from './response-code.js';
import type { ImapWriter, LiteralSource } from './writer.js';

/**
 * The content of a FETCH body item: held bytes, a literal the reader streamed out (client side), a
 * source to stream (server side), or `null` for NIL.
 */
export type FetchContent = Uint8Array | StreamedFragment | LiteralSource | null;

/** One item of a FETCH response (RFC 9051 §7.5.2, RFC 3516, RFC 7162, RFC 8474). */
export type FetchAttribute =
  | {
      /** The item's name. */
      readonly item: 'FLAGS';
      /** The message's flags. */
      readonly flags: readonly string[];
    }
  /** The date-time as written, without quotes (`17-Jul-1996 02:44:25 -0700`). */
  | {
      /** The item's name. */
      readonly item: 'INTERNALDATE';
      /** The internal date, as written. */
      readonly date: string;
    }
  | {
      /** The item's name. */
      readonly item: 'RFC822.SIZE';
      /** The message's size in octets. */
      readonly size: number;
    }
  | {
      /** The item's name. */
      readonly item: 'ENVELOPE';
      /** The envelope (RFC 9051 §7.5.2). */
      readonly envelope: Envelope;
    }
  /** BODY is BODYSTRUCTURE without extension data. */
  | {
      /** The item's name. */
      readonly item: 'BODY' | 'BODYSTRUCTURE';
      /** The MIME structure. */
      readonly structure: BodyStructure;
    }
  | {
      /** The item's name. */
      readonly item: 'BODY[]';
      /** The section returned. */
      readonly section: Section;
      /** The first octet's offset, for a partial fetch (`<origin>`). */
      readonly origin?: number;
      /** The section's content. */
      readonly content: FetchContent;
    }
  | {
      /** The item's name. */
      readonly item: 'BINARY[]';
      /** The part number (RFC 3516); empty for the whole message. */
      readonly part: readonly number[];
      /** The first octet's offset, for a partial fetch (`<origin>`). */
      readonly origin?: number;
      /** The decoded content. */
      readonly content: FetchContent;
    }
  | {
      /** The item's name. */
      readonly item: 'BINARY.SIZE';
      /** The part number (RFC 3516); empty for the whole message. */
      readonly part: readonly number[];
      /** The decoded part's size in octets. */
      readonly size: number;
    }
  | {
      /** The item's name. */
      readonly item: 'RFC822' | 'RFC822.HEADER' | 'RFC822.TEXT';
      /** The message, its header or its text. */
      readonly content: FetchContent;
    }
  | {
      /** The item's name. */
      readonly item: 'UID';
      /** The UID of the message (RFC 9051 §2.3.1.1). */
      readonly uid: number;
    }
  | {
      /** The item's name. */
      readonly item: 'MODSEQ';
      /** The message's mod-sequence (RFC 7162). */
      readonly modSeq: number;
    }
  | {
      /** The item's name. */
      readonly item: 'EMAILID';
      /** The message's EMAILID (RFC 8474). */
      readonly id: string;
    }
  | {
      /** The item's name. */
      readonly item: 'THREADID';
      /** The message's THREADID (RFC 8474), or `null` for `NIL`. */
      readonly id: string | null;
    }
  /** An item of an extension (Gmail's `X-GM-MSGID`, `X-GM-LABELS` …): its name in upper case and its value. */
  | {
      /** The item's kind. */
      readonly item: 'OTHER';
      /** The item's name, upper-cased. */
      readonly name: string;
      /** The item's value. */
      readonly value: ExtensionValue;
    };

const DATE_TIME = /^[ \d]\d-[A-Za-z]{3}-\d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$/;
const PART = /^(?:[1-9]\d{0,9}(?:\.[1-9]\d{0,9})*)?$/;

/** Reads the parenthesised items of a FETCH response. */
export function readFetchAttributes(cursor: ImapCursor): FetchAttribute[] {
  const attributes: FetchAttribute[] = [];
  cursor.list(() => attributes.push(readFetchAttribute(cursor)));
  return attributes;
}

function readFetchAttribute(cursor: ImapCursor): FetchAttribute {
  const name = cursor.until(' ()[<').toUpperCase();
  if (name === '') cursor.fail('Expected a FETCH item');
  if (cursor.tryByte(0x5b)) return readSectionItem(cursor, name);
  cursor.sp();
  switch (name) {
    case 'FLAGS':
      return { item: name, flags: cursor.list(() => cursor.word('flag')) };
    case 'INTERNALDATE': {
      const date = cursor.string();
      if (!cursor.lenient && !DATE_TIME.test(date)) cursor.fail('Invalid date-time');
      return { item: name, date };
    }
    case 'RFC822.SIZE':
      return { item: name, size: cursor.number64() };
    case 'ENVELOPE':
      return orAsSent(cursor, name, () => ({ item: name, envelope: readEnvelope(cursor) }));
    case 'BODY':
    case 'BODYSTRUCTURE':
      return orAsSent(cursor, name, () => ({ item: name, structure: readBodyStructure(cursor) }));
    case 'RFC822':
    case 'RFC822.HEADER':
    case 'RFC822.TEXT':
      return { item: name, content: readContent(cursor) };
    case 'UID':
      return { item: name, uid: cursor.nzNumber() };
    case 'MODSEQ':
      // One beyond 2⁵³−1 (RFC 7162 allows 2⁶³−1) cannot be a number here.
      return orAsSent(cursor, name, () => ({ item: name, modSeq: readModSeq(cursor) }));
    case 'EMAILID':
      return { item: name, id: readObjectId(cursor) };
    case 'THREADID':
      return { item: name, id: cursor.nil() ? null : readObjectId(cursor) };
    default:
      return { item: 'OTHER', name, value: readExtensionValue(cursor) };
  }
}

/**
 * The item `read` reads or, lenient, when it cannot be read (a malformed ENVELOPE or BODYSTRUCTURE real
 * servers send), the item as sent, as an extension item: the rest of the response is still read.
 */
function orAsSent(cursor: ImapCursor, name: string, read: () => FetchAttribute): FetchAttribute {
  if (!cursor.lenient) return read();
  return cursor.attempt(read) ?? { item: 'OTHER', name, value: readExtensionValue(cursor) };
}

function readModSeq(cursor: ImapCursor): number {
  cursor.expect(0x28, '"("');
  const modSeq = cursor.number64();
  cursor.expect(0x29, '")"');
  return modSeq;
}

function readSectionItem(cursor: ImapCursor, name: string): FetchAttribute {
  const spec = cursor.until(']');
  cursor.expect(0x5d, '"]"');
  let origin: number | undefined;
  if (cursor.tryByte(0x3c)) {
    origin = cursor.number();
    cursor.expect(0x3e, '">"');
  }
  cursor.sp();
  const at = origin === undefined ? {} : { origin };
  if (name === 'BODY') {
    let section: Section;
    try {
      section = parseSection(spec);
    } catch (error) {
      return cursor.fail(`Invalid section: ${(error as Error).message}`);
    }
    return { item: 'BODY[]', section, ...at, content: readContent(cursor) };
  }
  if (!PART.test(spec)) cursor.fail('Invalid part number');
  const part = spec === '' ? [] : spec.split('.').map(Number);
  if (part.some((n) => n > 4_294_967_295)) cursor.fail('Invalid part number');
  if (name === 'BINARY') return { item: 'BINARY[]', part, ...at, content: readContent(cursor) };
  if (name === 'BINARY.SIZE' && origin === undefined)
    return { item: 'BINARY.SIZE', part, size: cursor.number64() };
  return cursor.fail(`Unknown FETCH item ${name.slice(0, 40)}`);
}

function readContent(cursor: ImapCursor): FetchContent {
  return cursor.nil() ? null : cursor.stringValue();
}

/** Writes the parenthesised items of a FETCH response; body content goes out as literals, streamed when given as a source. */
export function writeFetchAttributes(writer: ImapWriter, attributes: readonly FetchAttribute[]): void {
  if (attributes.length === 0) throw new InvalidArgumentError('a FETCH response needs an item');
  writer.raw('(');
  for (let i = 0; i < attributes.length; i++) {
    if (i > 0) writer.sp();
    writeFetchAttribute(writer, attributes[i]!);
  }
  writer.raw(')');
}

function writeFetchAttribute(writer: ImapWriter, attribute: FetchAttribute): void {
  switch (attribute.item) {
    case 'FLAGS': {
      const { flags } = attribute;
      writer.raw('FLAGS (');
      for (let i = 0; i < flags.length; i++) {
        if (i > 0) writer.sp();
        writer.atom(flags[i]!, '\\');
      }
      writer.raw(')');
      break;
    }
    case 'INTERNALDATE':
      if (!DATE_TIME.test(attribute.date)) throw new InvalidArgumentError('not an IMAP date-time');
      writer.raw(`INTERNALDATE "${attribute.date}"`);
      break;
    case 'RFC822.SIZE':
      writer.raw('RFC822.SIZE ').number(attribute.size, Number.MAX_SAFE_INTEGER);
      break;
    case 'ENVELOPE':
      writer.raw('ENVELOPE ');
      writeEnvelope(writer, attribute.envelope);
      break;
    case 'BODY':
    case 'BODYSTRUCTURE':
      writer.raw(`${attribute.item} `);
      writeBodyStructure(writer, attribute.structure);
      break;
    case 'BODY[]':
      writer.raw(`BODY[${formatSection(attribute.section)}]`);
      writeOrigin(writer, attribute.origin);
      writeContent(writer, attribute.content, false);
      break;
    case 'BINARY[]':
      writer.raw(`BINARY[${partNumbers(attribute.part)}]`);
      writeOrigin(writer, attribute.origin);
      writeContent(writer, attribute.content, true);
      break;
    case 'BINARY.SIZE':
      writer
        .raw(`BINARY.SIZE[${partNumbers(attribute.part)}] `)
        .number(attribute.size, Number.MAX_SAFE_INTEGER);
      break;
    case 'RFC822':
    case 'RFC822.HEADER':
    case 'RFC822.TEXT':
      writer.raw(`${attribute.item} `);
      writeContent(writer, attribute.content, false);
      break;
    case 'UID':
      if (attribute.uid < 1) throw new InvalidArgumentError('a UID is at least 1');
      writer.raw('UID ').number(attribute.uid);
      break;
    case 'MODSEQ':
      writer.raw('MODSEQ (').number(attribute.modSeq, Number.MAX_SAFE_INTEGER).raw(')');
      break;
    case 'EMAILID':
      writer.raw('EMAILID ');
      writeObjectId(writer, attribute.id);
      break;
    case 'THREADID':
      writer.raw('THREADID ');
      if (attribute.id === null) writer.raw('NIL');
      else writeObjectId(writer, attribute.id);
      break;
    case 'OTHER':
      writer.atom(attribute.name).sp();
      writeExtensionValue(writer, attribute.value);
      break;
  }
}

function writeOrigin(writer: ImapWriter, origin: number | undefined): void {
  if (origin !== undefined) writer.raw('<').number(origin).raw('>');
  writer.sp();
}

/** Body content is always a literal (literal8 for BINARY when it holds NUL, or when streamed). */
function writeContent(writer: ImapWriter, content: FetchContent, binary: boolean): void {
  if (content === null) writer.raw('NIL');
  else if (content instanceof Uint8Array) writer.literal(content, binary && content.includes(0));
  else if ('chunks' in content) writer.streamedLiteral(content, binary);
  else throw new InvalidArgumentError('a streamed fragment cannot be sent; pass a LiteralSource');
}

function partNumbers(part: readonly number[]): string {
  for (const n of part)
    if (!Number.isInteger(n) || n < 1 || n > 4_294_967_295)
      throw new InvalidArgumentError('invalid part number');
  return part.join('.');
}

import type { BodyStructure, Envelope, EnvelopeAddress } from '@postwire/mime';
import { bodyWithoutExtension } from '../structure.js';
import type { MessageStructure, PartOffsets } from '../types.js';

/**
 * The records of `postwire-cache`, the file beside each Maildir folder that holds the parsed structure of
 * its messages. The file starts with {@link STRUCTURE_CACHE_HEADER}; then one record per line, appended:
 *
 *     <message id> TAB <JSON: [envelope, body structure, part offsets]> TAB <JSON: header fields> LF
 *
 * JSON escapes every control character, so a record never holds a raw tab or line feed. The envelope and
 * the offsets are written as positional arrays (half the size of their objects, and quicker to read);
 * BODY is not written, being BODYSTRUCTURE without its extension data. The header fields, the largest
 * part and the least used (SEARCH HEADER, SORT, THREAD), are decoded when first read. A line that does
 * not read as a record (a write torn by a crash, with whatever was appended after it) is skipped: its
 * message is parsed again.
 */

/** The first line of the file: the format and its version. */
export const STRUCTURE_CACHE_HEADER = 'postwire-cache 1\n';

const MESSAGE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** True when `id` can be a message id (so that a line torn by a crash is not taken for a record). */
export function isRecordId(id: string): boolean {
  return MESSAGE_ID.test(id);
}

/** The record of a message's structure, with its line feed. */
export function encodeStructureRecord(id: string, structure: MessageStructure): string {
  const { envelope, bodyStructure, parts, headers } = structure;
  const fields = JSON.stringify([encodeEnvelope(envelope), bodyStructure, encodeOffsets(parts)]);
  return `${id}\t${fields}\t${JSON.stringify(headers)}\n`;
}

/**
 * The structure in a record: its text after the id and its tab, without the line feed. `headers` is an
 * enumerable property of its own that decodes the fields when first read, so the structure reads, spreads
 * and compares as plain data.
 * @throws SyntaxError or TypeError when the text is not a well-formed record.
 */
export function decodeStructureRecord(text: string): MessageStructure {
  const tab = text.indexOf('\t');
  // The header fields are one JSON array with no tab in it: a line that ends otherwise was torn.
  if (tab === -1 || text.indexOf('\t', tab + 1) !== -1 || text[tab + 1] !== '[' || !text.endsWith(']')) {
    throw new TypeError('not a structure record');
  }
  const fields: unknown = JSON.parse(text.slice(0, tab));
  if (!Array.isArray(fields) || fields.length !== 3) throw new TypeError('not a structure record');
  const bodyStructure = fields[1] as BodyStructure;
  let headers: MessageStructure['headers'] | undefined;
  return {
    envelope: decodeEnvelope(fields[0]),
    bodyStructure,
    body: bodyWithoutExtension(bodyStructure),
    parts: decodeOffsets(fields[2]),
    get headers() {
      headers ??= JSON.parse(text.slice(tab + 1)) as MessageStructure['headers'];
      return headers;
    },
  };
}

/** An address list as `[name, adl, mailbox, host]` quads. */
type AddressQuads = [string | null, string | null, string | null, string | null][] | null;

/**
 * `[date, subject, from, sender, replyTo, to, cc, bcc, inReplyTo, messageId]`; sender and reply-to are `0`
 * when they are From's list itself (the envelope's fallback), so that they are written once.
 */
function encodeEnvelope(envelope: Envelope): unknown[] {
  return [
    envelope.date,
    envelope.subject,
    quads(envelope.from),
    envelope.sender === envelope.from ? 0 : quads(envelope.sender),
    envelope.replyTo === envelope.from ? 0 : quads(envelope.replyTo),
    quads(envelope.to),
    quads(envelope.cc),
    quads(envelope.bcc),
    envelope.inReplyTo,
    envelope.messageId,
  ];
}

function decodeEnvelope(value: unknown): Envelope {
  if (!Array.isArray(value) || value.length !== 10) throw new TypeError('not an envelope');
  const from = addresses(value[2]);
  return {
    date: value[0],
    subject: value[1],
    from,
    sender: value[3] === 0 ? from : addresses(value[3]),
    replyTo: value[4] === 0 ? from : addresses(value[4]),
    to: addresses(value[5]),
    cc: addresses(value[6]),
    bcc: addresses(value[7]),
    inReplyTo: value[8],
    messageId: value[9],
  };
}

function quads(list: readonly EnvelopeAddress[] | null): AddressQuads {
  return list === null
    ? null
    : list.map((address) => [address.name, address.adl, address.mailbox, address.host]);
}

function addresses(value: unknown): EnvelopeAddress[] | null {
  if (value === null) return null;
  return (value as NonNullable<AddressQuads>).map((quad) => ({
    name: quad[0],
    adl: quad[1],
    mailbox: quad[2],
    host: quad[3],
  }));
}

/** The letter of each kind of part in the offsets' arrays. */
const STRUCTURE_LETTER = { leaf: 'l', multipart: 'm', message: 'r' } as const;
const STRUCTURE_OF_LETTER: Record<string, PartOffsets['structure']> = {
  l: 'leaf',
  m: 'multipart',
  r: 'message',
};

/** `[headerStart, bodyStart, end, letter]`, then the children's arrays (multipart) or the message's array. */
function encodeOffsets(part: PartOffsets): unknown[] {
  const encoded: unknown[] = [part.headerStart, part.bodyStart, part.end, STRUCTURE_LETTER[part.structure]];
  if (part.children) encoded.push(part.children.map(encodeOffsets));
  else if (part.message) encoded.push(encodeOffsets(part.message));
  return encoded;
}

function decodeOffsets(value: unknown): PartOffsets {
  const [headerStart, bodyStart, end, letter, inner] = value as [number, number, number, string, unknown];
  const structure = STRUCTURE_OF_LETTER[letter];
  if (structure === undefined) throw new TypeError('not part offsets');
  if (inner === undefined) return { headerStart, bodyStart, end, structure };
  if (structure === 'multipart')
    return { headerStart, bodyStart, end, structure, children: (inner as unknown[]).map(decodeOffsets) };
  return { headerStart, bodyStart, end, structure, message: decodeOffsets(inner) };
}

import type { BodyStructure, Envelope, EnvelopeAddress } from '@postwire/mime';
import { bodyWithoutExtension } from '../structure.js';
import type { MessageStructure, PartOffsets } from '../types.js';

/**
 * The records of `postwire-cache`, the file beside each Maildir folder that holds the parsed structure of
 * its messages. The file starts with {@link STRUCTURE_CACHE_HEADER}; then one record per line, appended:
 *
 *     <message id> TAB <JSON: envelope> TAB <JSON: [body structure, part offsets]> TAB <JSON: header fields> LF
 *
 * JSON escapes every control character, so a record never holds a raw tab, line feed or NUL. The envelope
 * and the offsets are written as positional arrays (half the size of their objects, and quicker to read);
 * BODY is not written, being BODYSTRUCTURE without its extension data. Only the envelope, which FETCH
 * ENVELOPE, SORT and THREAD read, is decoded with the record: the tree and the header fields are decoded
 * when first read. A line that does not read as a record (a write torn by a crash, with whatever was
 * appended after it, or zeros where a crash left the file longer than what was written) is skipped: its
 * message is parsed again.
 */

/** The first line of the file: the format and its version. */
export const STRUCTURE_CACHE_HEADER = 'postwire-cache 2\n';

const MESSAGE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** True when `id` can be a message id (so that a line torn by a crash is not taken for a record). */
export function isRecordId(id: string): boolean {
  return MESSAGE_ID.test(id);
}

/** The record of a message's structure, with its line feed. */
export function encodeStructureRecord(id: string, structure: MessageStructure): string {
  const { envelope, bodyStructure, parts, headers } = structure;
  const tree = JSON.stringify([bodyStructure, encodeOffsets(parts)]);
  return `${id}\t${JSON.stringify(encodeEnvelope(envelope))}\t${tree}\t${JSON.stringify(headers)}\n`;
}

/**
 * The structure in a record: its text after the id and its tab, without the line feed. The envelope is
 * decoded now; `bodyStructure`, `body`, `parts` and `headers` are enumerable properties of its own that
 * decode their field when first read, so the structure reads, spreads and compares as plain data.
 * @throws SyntaxError or TypeError when the text is not a whole record, or its envelope does not decode.
 */
export function decodeStructureRecord(text: string): MessageStructure {
  const first = text.indexOf('\t');
  const second = first === -1 ? -1 : text.indexOf('\t', first + 1);
  // Each field is one JSON array with no tab in it: a line with another tab, a field that is not
  // bracketed, or a NUL (never in JSON) was torn or zeroed.
  if (
    second === -1 ||
    text.indexOf('\t', second + 1) !== -1 ||
    !bracketed(text, 0, first) ||
    !bracketed(text, first + 1, second) ||
    !bracketed(text, second + 1, text.length) ||
    text.includes('\0')
  ) {
    throw new TypeError('not a structure record');
  }
  return new RecordStructure(decodeEnvelope(JSON.parse(text.slice(0, first))), text, first, second);
}

/**
 * A structure decoded from a record, its fields but the envelope decoded when first read. They are own
 * enumerable accessors, the same for every instance (so that instances share one shape, unlike objects
 * with accessors of their own closures, and cost no closure each).
 */
class RecordStructure implements MessageStructure {
  /** The accessors of the lazy fields (defined one by one: quicker than `Object.defineProperties`). */
  static readonly #fields: readonly (readonly [string, PropertyDescriptor])[] = [
    [
      'bodyStructure',
      lazyField(function (this: RecordStructure) {
        return this.#tree().bodyStructure;
      }),
    ],
    [
      'body',
      lazyField(function (this: RecordStructure) {
        this.#body ??= bodyWithoutExtension(this.#tree().bodyStructure);
        return this.#body;
      }),
    ],
    [
      'parts',
      lazyField(function (this: RecordStructure) {
        return this.#tree().parts;
      }),
    ],
    [
      'headers',
      lazyField(function (this: RecordStructure) {
        this.#headers ??= JSON.parse(this.#text.slice(this.#headersStart)) as MessageStructure['headers'];
        return this.#headers;
      }),
    ],
  ];

  readonly envelope: Envelope;
  declare readonly bodyStructure: BodyStructure;
  declare readonly body: BodyStructure;
  declare readonly parts: PartOffsets;
  declare readonly headers: MessageStructure['headers'];
  /** The record's text, and where its tree and header fields start in it. */
  readonly #text: string;
  readonly #treeStart: number;
  readonly #headersStart: number;
  #decoded: { bodyStructure: BodyStructure; parts: PartOffsets } | undefined;
  #body: BodyStructure | undefined;
  #headers: MessageStructure['headers'] | undefined;

  constructor(envelope: Envelope, text: string, first: number, second: number) {
    this.envelope = envelope;
    this.#text = text;
    this.#treeStart = first + 1;
    this.#headersStart = second + 1;
    for (const [name, field] of RecordStructure.#fields) Object.defineProperty(this, name, field);
  }

  #tree(): { bodyStructure: BodyStructure; parts: PartOffsets } {
    this.#decoded ??= decodeTreeField(JSON.parse(this.#text.slice(this.#treeStart, this.#headersStart - 1)));
    return this.#decoded;
  }
}

/** An own enumerable property read through `get`, like a data property of a plain object. */
function lazyField(get: () => unknown): PropertyDescriptor {
  return { enumerable: true, configurable: true, get };
}

/** True when `text[start, end)` starts and ends as a JSON array. */
function bracketed(text: string, start: number, end: number): boolean {
  return end - start >= 2 && text.charCodeAt(start) === 0x5b && text.charCodeAt(end - 1) === 0x5d;
}

function decodeTreeField(value: unknown): { bodyStructure: BodyStructure; parts: PartOffsets } {
  if (!Array.isArray(value) || value.length !== 2) throw new TypeError('not a structure record');
  return { bodyStructure: value[0] as BodyStructure, parts: decodeOffsets(value[1]) };
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

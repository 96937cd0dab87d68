import { concatBytes, utf8 } from '@postwire/core';
import { parseAddressList } from '../address/parse.js';
import type { Address } from '../address/types.js';
import type { Defect } from '../defects.js';
import { parseDate } from '../header/date.js';
import { parseMessageId, parseMessageIds } from '../header/message-id.js';
import { parseUnstructured } from '../header/unstructured.js';
import type { MimeLimits } from '../limits.js';
import { type DeliveryStatus, parseDeliveryStatus } from './delivery-status.js';
import { unfoldValue } from './header-value.js';
import { type MessageInput, toByteStream } from './input.js';
import { type Attachment, collectContent, type MimePart } from './message-content.js';
import { resolveMimeLimits } from './resolve-limits.js';
import { MimeParser } from './stream.js';
import type { HeaderField, MimeEvent, ParseOptions } from './types.js';

/** The Date field: its parsed instant, when it parses, and its text. */
export interface MessageDate {
  /** The instant, when the field parses. */
  readonly date: Date | undefined;
  /** The field body, unfolded and trimmed. */
  readonly text: string;
}

/** A whole message, parsed. */
export interface ParsedMessage {
  /** The top-level header fields in order (decode one with `headerValue`). */
  readonly headers: readonly HeaderField[];
  /** The mailboxes of every From field (several From fields add the `multiple-from` defect). */
  readonly from: Address[];
  /** The addresses of the Sender field. */
  readonly sender: Address[];
  /** The Reply-To addresses. */
  readonly replyTo: Address[];
  /** The To addresses. */
  readonly to: Address[];
  /** The Cc addresses. */
  readonly cc: Address[];
  /** The Bcc addresses. */
  readonly bcc: Address[];
  /** The Subject, decoded. */
  readonly subject: string | undefined;
  /** The Message-ID without angle brackets. */
  readonly messageId: string | undefined;
  /** The first message ID of In-Reply-To. */
  readonly inReplyTo: string | undefined;
  /** The message IDs of References. */
  readonly references: string[];
  /** The Date field. */
  readonly date: MessageDate | undefined;
  /** The plain-text body; see `collectContent` for how parts are chosen and joined. */
  readonly text: string | undefined;
  /** The HTML body. */
  readonly html: string | undefined;
  /** The files the message carries. */
  readonly attachments: Attachment[];
  /** The MIME tree: the root part. */
  readonly parts: MimePart;
  /** The fields of the first `message/delivery-status` part (RFC 3464), in a delivery report. */
  readonly deliveryStatus: DeliveryStatus | undefined;
  /** Everything the parser worked around. */
  readonly defects: Defect[];
}

/**
 * Parses a whole message from any input. A stream is read to its end first: the result holds every body
 * anyway, and parsing the joined bytes in one pass is the fastest. Use `parseMessageStream` to process
 * parts as they arrive in bounded memory.
 */
export async function parseMessage(input: MessageInput, options?: ParseOptions): Promise<ParsedMessage> {
  if (typeof input === 'string' || input instanceof Uint8Array) return parseMessageSync(input, options);
  const chunks: Uint8Array[] = [];
  for await (const chunk of toByteStream(input)) chunks.push(chunk);
  return parseMessageSync(chunks.length === 0 ? new Uint8Array(0) : concatBytes(chunks), options);
}

/** Parses a whole message held in memory (a string is encoded as UTF-8). Never throws on malformed input. */
export function parseMessageSync(input: Uint8Array | string, options: ParseOptions = {}): ParsedMessage {
  const bytes = typeof input === 'string' ? utf8(input) : input;
  const limits = resolveMimeLimits(options.limits);
  const parser = new MimeParser(options);
  const events = parser.push(bytes);
  for (const event of parser.end()) events.push(event);
  const defects: Defect[] = [];
  const bodies = new Map<MimePart, Uint8Array[]>();
  const root = buildTree(events, bodies, defects);

  const decoded = (part: MimePart): Uint8Array => {
    const chunks = bodies.get(part);
    return chunks ? concatBytes(chunks) : new Uint8Array(0);
  };
  const content = collectContent(
    root,
    { decoded, raw: (start, end) => bytes.subarray(start, end) },
    options,
    defects,
  );
  const headers = root.headers;
  const addresses = (key: string) => readAddresses(headers, key, limits, defects);
  const from = addresses('from');
  const sender = addresses('sender');
  flagAmbiguousFrom(headers, from, sender, defects);
  const dateField = first(headers, 'date');
  const statusPart = findPart(root, isDeliveryStatus);
  return {
    headers,
    from,
    sender,
    replyTo: addresses('reply-to'),
    to: addresses('to'),
    cc: addresses('cc'),
    bcc: addresses('bcc'),
    subject: readSubject(headers, limits, defects),
    messageId: mapField(headers, 'message-id', parseMessageId),
    inReplyTo: mapField(headers, 'in-reply-to', parseMessageId),
    references: mapField(headers, 'references', parseMessageIds) ?? [],
    date: dateField && { date: parseDate(dateField.value)?.date, text: unfoldValue(dateField.value) },
    text: content.text,
    html: content.html,
    attachments: content.attachments,
    parts: root,
    deliveryStatus: statusPart && parseDeliveryStatus(decoded(statusPart), limits),
    defects,
  };
}

function buildTree(
  events: readonly MimeEvent[],
  bodies: Map<MimePart, Uint8Array[]>,
  defects: Defect[],
): MimePart {
  const stack: MimePart[] = [];
  let root: MimePart | undefined;
  for (const event of events) {
    switch (event.type) {
      case 'part': {
        const { type: _, ...fields } = event;
        const part: MimePart = { ...fields, end: event.bodyStart, size: 0, children: [] };
        const parent = stack[stack.length - 1];
        if (!parent) root = part;
        else if (parent.structure === 'message') parent.message = part;
        else parent.children.push(part);
        stack.push(part);
        break;
      }
      case 'body': {
        const part = stack[stack.length - 1]!;
        const chunks = bodies.get(part);
        if (chunks) chunks.push(event.data);
        else bodies.set(part, [event.data]);
        break;
      }
      case 'part-end': {
        const part = stack.pop()!;
        part.end = event.end;
        part.size = event.size;
        if (event.lines !== undefined) part.lines = event.lines;
        break;
      }
      case 'defect':
        defects.push(event.defect);
        break;
    }
  }
  return root!;
}

function first(headers: readonly HeaderField[], key: string): HeaderField | undefined {
  for (const field of headers) if (field.key === key) return field;
  return undefined;
}

function mapField<T>(
  headers: readonly HeaderField[],
  key: string,
  read: (value: string) => T,
): T | undefined {
  const field = first(headers, key);
  return field ? read(field.value) : undefined;
}

/** The decoded Subject, within `maxEncodedWords`; what decoding found (control characters …) becomes defects. */
function readSubject(
  headers: readonly HeaderField[],
  limits: Readonly<MimeLimits>,
  defects: Defect[],
): string | undefined {
  const field = first(headers, 'subject');
  if (!field) return undefined;
  const decoded = parseUnstructured(field.value, { maxEncodedWords: limits.maxEncodedWords });
  for (const code of decoded.defects) defects.push({ code, message: `${field.name}: ${code}`, part: '' });
  return decoded.text;
}

function readAddresses(
  headers: readonly HeaderField[],
  key: string,
  limits: Readonly<MimeLimits>,
  defects: Defect[],
): Address[] {
  const options = { maxStructureDepth: limits.maxStructureDepth, maxEncodedWords: limits.maxEncodedWords };
  const addresses: Address[] = [];
  for (const field of headers) {
    if (field.key !== key) continue;
    const result = parseAddressList(field.value, options);
    for (const address of result.addresses) addresses.push(address);
    for (const code of result.defects) defects.push({ code, message: `${field.name}: ${code}`, part: '' });
  }
  return addresses;
}

/** Several From fields, or several From mailboxes without a Sender, leave the author ambiguous. */
function flagAmbiguousFrom(
  headers: readonly HeaderField[],
  from: Address[],
  sender: Address[],
  defects: Defect[],
) {
  let fields = 0;
  for (const field of headers) if (field.key === 'from') fields++;
  if (fields > 1) {
    defects.push({
      code: 'multiple-from',
      message: `${fields} From fields; every mailbox is kept`,
      part: '',
    });
  }
  let mailboxes = 0;
  for (const address of from) mailboxes += 'group' in address ? address.members.length : 1;
  if (mailboxes > 1 && sender.length === 0) {
    defects.push({ code: 'multiple-from-mailboxes', message: 'several authors and no Sender', part: '' });
  }
}

function isDeliveryStatus(part: MimePart): boolean {
  const type = part.contentType.mediaType;
  return (
    part.structure === 'leaf' &&
    (type === 'message/delivery-status' || type === 'message/global-delivery-status')
  );
}

function findPart(part: MimePart, test: (part: MimePart) => boolean): MimePart | undefined {
  if (test(part)) return part;
  if (part.message) return findPart(part.message, test);
  for (const child of part.children) {
    const found = findPart(child, test);
    if (found) return found;
  }
  return undefined;
}

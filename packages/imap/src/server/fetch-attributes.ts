import type { MessageInfo, MessageStructure } from '@postwire/store';
import { formatDateTime } from '../protocol/date-time.js';
import type { FetchItem } from '../protocol/fetch-item.js';
import type { FetchAttribute, FetchContent } from '../protocol/response-fetch.js';
import { binaryAttribute, DecodedParts } from './binary.js';
import { locateSection, type SectionLocation } from './fetch-section.js';
import type { ImapFetchResult, ImapHeaderFieldsRequest } from './store-bridge.js';

/** Whether an item needs the message's parsed structure (anything but flags, sizes and the whole message). */
export function needsStructure(item: FetchItem): boolean {
  if (item.item === 'BODY[]') return item.section.part.length > 0 || item.section.text !== null;
  if (item.item === 'BINARY[]' || item.item === 'BINARY.SIZE') return item.part.length > 0;
  return ['ENVELOPE', 'BODY', 'BODYSTRUCTURE', 'RFC822.HEADER', 'RFC822.TEXT'].includes(item.item);
}

/** Whether fetching an item sets `\Seen` (RFC 9051 §6.4.5: BODY[…] and BINARY[…] without PEEK, RFC822, RFC822.TEXT). */
export function setsSeen(item: FetchItem): boolean {
  return (
    ((item.item === 'BODY[]' || item.item === 'BINARY[]') && !item.peek) ||
    item.item === 'RFC822' ||
    item.item === 'RFC822.TEXT'
  );
}

/** Where each item of one message is, for the items that send content. */
function locate(
  item: FetchItem,
  message: MessageInfo,
  structure: MessageStructure | undefined,
): SectionLocation | undefined {
  switch (item.item) {
    case 'RFC822':
      return { kind: 'range', start: 0, end: message.size };
    case 'RFC822.HEADER':
      return { kind: 'range', start: 0, end: structure!.parts.bodyStart };
    case 'RFC822.TEXT':
      return { kind: 'range', start: structure!.parts.bodyStart, end: message.size };
    case 'BODY[]':
      return structure
        ? locateSection(structure.parts, item.section)
        : { kind: 'range', start: 0, end: message.size };
    default:
      return undefined;
  }
}

/** The header blocks a batch of messages needs read for HEADER.FIELDS, in the order {@link fetchAttributes} takes them. */
export function headerFieldRequests(
  items: readonly FetchItem[],
  result: ImapFetchResult,
): ImapHeaderFieldsRequest[] {
  const requests: ImapHeaderFieldsRequest[] = [];
  result.messages.forEach((message, index) => {
    for (const item of items) {
      const location = locate(item, message, result.structures?.[index]);
      if (location?.kind === 'fields') {
        const { start, end, fields, exclude } = location;
        requests.push({ uid: message.uid, start, end, fields, exclude });
      }
    }
  });
  return requests;
}

/**
 * The attributes of one FETCH response: the items in the order asked, then FLAGS when the fetch set `\Seen`
 * and FLAGS was not asked for. Content is streamed from the store; `fields` yields the HEADER.FIELDS blocks,
 * and `decoded` holds the parts of the batch's `binary` request (a BINARY item of a part whose encoding is
 * unknown is left out).
 */
export function fetchAttributes(
  items: readonly FetchItem[],
  result: ImapFetchResult,
  index: number,
  fields: Iterator<Uint8Array>,
  decoded: DecodedParts = new DecodedParts(),
): FetchAttribute[] {
  const message = result.messages[index]!;
  const structure = result.structures?.[index];
  const attributes: FetchAttribute[] = [];
  for (const item of items) {
    switch (item.item) {
      case 'FLAGS':
        attributes.push({ item: 'FLAGS', flags: message.flags });
        break;
      case 'UID':
        attributes.push({ item: 'UID', uid: message.uid });
        break;
      case 'INTERNALDATE':
        attributes.push({ item: 'INTERNALDATE', date: formatDateTime(message.internalDate) });
        break;
      case 'RFC822.SIZE':
        attributes.push({ item: 'RFC822.SIZE', size: message.size });
        break;
      case 'MODSEQ':
        attributes.push({ item: 'MODSEQ', modSeq: message.modseq });
        break;
      case 'EMAILID':
        attributes.push({ item: 'EMAILID', id: message.id });
        break;
      case 'THREADID':
        // RFC 8474 §5.2: NIL, the server keeps no thread ids.
        attributes.push({ item: 'THREADID', id: null });
        break;
      case 'ENVELOPE':
        attributes.push({ item: 'ENVELOPE', envelope: structure!.envelope });
        break;
      case 'BODY':
        attributes.push({ item: 'BODY', structure: structure!.body });
        break;
      case 'BODYSTRUCTURE':
        attributes.push({ item: 'BODYSTRUCTURE', structure: structure!.bodyStructure });
        break;
      case 'RFC822':
      case 'RFC822.HEADER':
      case 'RFC822.TEXT':
        attributes.push({
          item: item.item,
          content: content(locate(item, message, structure)!, result, message.uid, fields),
        });
        break;
      case 'BODY[]': {
        const location = locate(item, message, structure)!;
        const partial = item.partial;
        attributes.push({
          item: 'BODY[]',
          section: item.section,
          ...(partial ? { origin: partial.offset } : {}),
          content: content(location, result, message.uid, fields, partial),
        });
        break;
      }
      case 'BINARY[]':
      case 'BINARY.SIZE': {
        const attribute = binaryAttribute(item, result, index, decoded);
        if (attribute) attributes.push(attribute);
        break;
      }
    }
  }
  if (result.seen.includes(message.uid) && !items.some((item) => item.item === 'FLAGS'))
    attributes.push({ item: 'FLAGS', flags: message.flags });
  return attributes;
}

function content(
  location: SectionLocation,
  result: ImapFetchResult,
  uid: number,
  fields: Iterator<Uint8Array>,
  partial?: { readonly offset: number; readonly count: number },
): FetchContent {
  if (location.kind === 'empty') return new Uint8Array(0);
  if (location.kind === 'fields') {
    const bytes = fields.next().value as Uint8Array;
    return partial ? bytes.subarray(partial.offset, partial.offset + partial.count) : bytes;
  }
  let { start, end } = location;
  if (partial) {
    start = Math.min(start + partial.offset, end);
    end = Math.min(start + partial.count, end);
  }
  return result.content(uid, start, end);
}

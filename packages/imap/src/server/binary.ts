import { concatBytes } from '@postwire/core';
import { applyPartial, type BodyStructure, createTransferDecoder, toCrlf } from '@postwire/mime';
import type { MessageStructure, PartOffsets } from '@postwire/store';
import type { FetchItem } from '../protocol/fetch-item.js';
import type { FetchAttribute, FetchContent } from '../protocol/response-fetch.js';
import type { ImapFetchResult } from './store-bridge.js';

/**
 * Where the content of FETCH `BINARY[<part>]` is (RFC 3516, RFC 9051 §6.4.5), found from the stored
 * structure without reading the message:
 * - `decode`: a leaf part's body, to be sent without its Content-Transfer-Encoding, with CRLF line endings
 *   for `text/*` (RFC 3516 §4.2);
 * - `unknown`: a leaf part whose encoding cannot be removed (tagged `NO [UNKNOWN-CTE]`);
 * - `raw`: the whole message, a multipart or an embedded message, sent as it is. RFC 9051 lets clients ask
 *   BINARY of leaf parts only; the encoding of a composite part can only be 7bit, 8bit or binary
 *   (RFC 2045 §6.4), so these bytes are already the part without its encoding;
 * - `empty`: no such part (sent as empty, size 0, as BODY does).
 */
export type BinaryLocation =
  | {
      readonly kind: 'decode';
      readonly start: number;
      readonly end: number;
      readonly encoding: string;
      readonly text: boolean;
    }
  | { readonly kind: 'unknown'; readonly encoding: string }
  | { readonly kind: 'raw'; readonly start: number; readonly end: number }
  | { readonly kind: 'empty' };

/** One leaf part of a `binary` store request: the encoded body `[start, end)` of message `uid` and how to decode it. */
export interface ImapBinaryRequest {
  /** The UID of the message (RFC 9051 §2.3.1.1). */
  readonly uid: number;
  /** The offset of the encoded body's first octet. */
  readonly start: number;
  /** The offset just past the encoded body. */
  readonly end: number;
  /** The Content-Transfer-Encoding, as BODYSTRUCTURE gives it (`BASE64`, `QUOTED-PRINTABLE`, `7BIT` …). */
  readonly encoding: string;
  /** A `text/*` part: its line endings are made CRLF after decoding. */
  readonly text: boolean;
}

const EMPTY: BinaryLocation = { kind: 'empty' };

/** A part of the message tree: its offsets, and its BODYSTRUCTURE when the two trees agree. */
interface PartNode {
  readonly offsets: PartOffsets;
  readonly body: BodyStructure | undefined;
}

/**
 * Locates BINARY's `part` (`[]` for the whole message) in a message of `size` octets; `structure` is
 * needed for any other part.
 */
export function locateBinary(
  part: readonly number[],
  size: number,
  structure: MessageStructure | undefined,
): BinaryLocation {
  if (part.length === 0) return { kind: 'raw', start: 0, end: size };
  let node = messagePart({ offsets: structure!.parts, body: structure!.bodyStructure }, part[0]!);
  for (let i = 1; i < part.length && node; i++) node = subpart(node, part[i]!);
  if (!node) return EMPTY;
  const { offsets, body } = node;
  if (offsets.structure !== 'leaf') return { kind: 'raw', start: offsets.bodyStart, end: offsets.end };
  const encoding = body && body.kind !== 'multipart' ? body.encoding : '7BIT';
  if (!canDecode(encoding)) return { kind: 'unknown', encoding };
  return {
    kind: 'decode',
    start: offsets.bodyStart,
    end: offsets.end,
    encoding,
    text: body?.kind === 'text',
  };
}

/** Numbering of RFC 9051 §6.4.5: a non-multipart message has only part 1, its body. */
function messagePart(message: PartNode, n: number): PartNode | undefined {
  if (message.offsets.structure === 'multipart') return child(message, n);
  return n === 1 ? message : undefined;
}

function subpart(node: PartNode, n: number): PartNode | undefined {
  const { offsets, body } = node;
  if (offsets.structure === 'multipart') return child(node, n);
  if (offsets.structure === 'message' && offsets.message)
    return messagePart(
      { offsets: offsets.message, body: body?.kind === 'message' ? body.body : undefined },
      n,
    );
  return undefined;
}

function child(node: PartNode, n: number): PartNode | undefined {
  const offsets = node.offsets.children?.[n - 1];
  if (!offsets) return undefined;
  return { offsets, body: node.body?.kind === 'multipart' ? node.body.parts[n - 1] : undefined };
}

/** Whether the mime package can remove this Content-Transfer-Encoding. */
function canDecode(encoding: string): boolean {
  return !createTransferDecoder(encoding).defects.includes('unknown-transfer-encoding');
}

/** The BINARY location of an item of one message of a fetch result, for the BINARY items. */
function locateItem(item: FetchItem, result: ImapFetchResult, index: number): BinaryLocation | undefined {
  if (item.item !== 'BINARY[]' && item.item !== 'BINARY.SIZE') return undefined;
  return locateBinary(item.part, result.messages[index]!.size, result.structures?.[index]);
}

/**
 * The leaf parts a batch of messages needs decoded for its BINARY and BINARY.SIZE items: each part of
 * each message once, however many items name it. An empty list needs no `binary` request.
 */
export function binaryRequests(items: readonly FetchItem[], result: ImapFetchResult): ImapBinaryRequest[] {
  const requests: ImapBinaryRequest[] = [];
  const seen = new Set<string>();
  result.messages.forEach((message, index) => {
    for (const item of items) {
      const location = locateItem(item, result, index);
      if (location?.kind !== 'decode') continue;
      const key = partKey(message.uid, location.start);
      if (seen.has(key)) continue;
      seen.add(key);
      const { start, end, encoding, text } = location;
      requests.push({ uid: message.uid, start, end, encoding, text });
    }
  });
  return requests;
}

/**
 * Whether a BINARY or BINARY.SIZE item names a part of one of the messages whose Content-Transfer-Encoding
 * cannot be removed: the FETCH then ends in `NO [UNKNOWN-CTE]` (RFC 3516 §4.2), its other items sent.
 */
export function hasUnknownEncoding(items: readonly FetchItem[], result: ImapFetchResult): boolean {
  return result.messages.some((_, index) =>
    items.some((item) => locateItem(item, result, index)?.kind === 'unknown'),
  );
}

/**
 * Decodes one leaf part for a `binary` request from its encoded body's chunks. The result is held whole,
 * bounded by the encoded size: decoding never grows a body, and CRLF line endings at most double a text part.
 */
export async function decodePart(
  chunks: AsyncIterable<Uint8Array>,
  request: Pick<ImapBinaryRequest, 'encoding' | 'text'>,
): Promise<Uint8Array> {
  const decoder = createTransferDecoder(request.encoding);
  const decoded: Uint8Array[] = [];
  for await (const chunk of chunks) decoded.push(decoder.decode(chunk));
  decoded.push(decoder.end());
  const bytes = concatBytes(decoded);
  return request.text ? toCrlf(bytes) : bytes;
}

/** The decoded parts a `binary` request answered, found by message and part. */
export class DecodedParts {
  readonly #contents = new Map<string, Uint8Array>();

  /** Pairs each request with its answer, in order. */
  constructor(requests: readonly ImapBinaryRequest[] = [], contents: readonly Uint8Array[] = []) {
    requests.forEach((request, i) => {
      this.#contents.set(partKey(request.uid, request.start), contents[i]!);
    });
  }

  /** The decoded body of the part of message `uid` whose encoded body starts at `start`. */
  get(uid: number, start: number): Uint8Array | undefined {
    return this.#contents.get(partKey(uid, start));
  }
}

/** A leaf part is known by its message and where its body starts. */
function partKey(uid: number, start: number): string {
  return `${uid}:${start}`;
}

/**
 * The attribute of a BINARY or BINARY.SIZE item of one message, or `undefined` when the part's encoding
 * is unknown (the attribute is left out). BINARY carries no `<origin>` (RFC 9051 §9 `msg-att-static`).
 * @throws Error when a leaf part the item names is missing from `decoded`.
 */
export function binaryAttribute(
  item: Extract<FetchItem, { item: 'BINARY[]' | 'BINARY.SIZE' }>,
  result: ImapFetchResult,
  index: number,
  decoded: DecodedParts,
): FetchAttribute | undefined {
  const { uid } = result.messages[index]!;
  const location = locateItem(item, result, index)!;
  if (location.kind === 'unknown') return undefined;
  const bytes = location.kind === 'decode' ? decoded.get(uid, location.start) : undefined;
  if (location.kind === 'decode' && !bytes) throw new Error(`BINARY part of UID ${uid} was not decoded`);
  const size = bytes ? bytes.length : location.kind === 'raw' ? location.end - location.start : 0;
  if (item.item === 'BINARY.SIZE') return { item: 'BINARY.SIZE', part: item.part, size };
  const { start, end } = item.partial
    ? applyPartial(size, item.partial.offset, item.partial.count)
    : { start: 0, end: size };
  let content: FetchContent = new Uint8Array(0);
  if (bytes) content = bytes.subarray(start, end);
  else if (location.kind === 'raw' && end > start)
    content = result.content(uid, location.start + start, location.start + end);
  return { item: 'BINARY[]', part: item.part, content };
}

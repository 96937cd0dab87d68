import { concatBytes } from '@postwire/core';
import {
  type BodyStructure,
  createCharsetDecoder,
  createTransferDecoder,
  decodeUnstructured,
  parseHeaderBlock,
} from '@postwire/mime';
import type { MessageStructure, PartOffsets } from '@postwire/store';
import type { SearchTextTerm } from './search.js';
import { TextMatcher } from './text-matcher.js';

/** Reads octets `[start, end)` of the message being searched. */
export type MessageRangeReader = (start: number, end: number) => AsyncIterable<Uint8Array>;

/** A stretch of a message that SEARCH reads as text, in message order. */
type TextStretch =
  /** The top header fields, as the structure keeps them. */
  | { readonly kind: 'fields'; readonly fields: MessageStructure['headers'] }
  /** The header block of a part or of an embedded message, read from the message. */
  | { readonly kind: 'header'; readonly start: number; readonly end: number }
  /** A leaf part's body, read then decoded. */
  | {
      readonly kind: 'body';
      readonly start: number;
      readonly end: number;
      readonly encoding: string;
      readonly charset: string | undefined;
    };

/**
 * For each term, in order, whether the message holds it, as Dovecot reads a message: a BODY term is
 * looked for in the bodies of the `text/*` and `message/*` leaf parts, embedded messages' parts too, each
 * without its Content-Transfer-Encoding and turned from its charset into Unicode; a TEXT term in those and
 * in every header block (the message's, each part's and each embedded message's), each field as
 * `Name: value` with its encoded words decoded. Other parts (images, attachments) are not read. A match
 * never spans two header blocks or bodies. Parts are read one at a time, chunk by chunk, and reading
 * stops once every term is found.
 */
export async function searchMessageText(
  structure: MessageStructure,
  read: MessageRangeReader,
  terms: readonly SearchTextTerm[],
): Promise<boolean[]> {
  const text = new TextMatcher(terms.filter((term) => !term.body).map((term) => term.value));
  const body = new TextMatcher(terms.filter((term) => term.body).map((term) => term.value));
  for (const stretch of textStretches(structure)) {
    if (text.done && body.done) break;
    if (stretch.kind === 'body') await feedBody(stretch, read, [text, body]);
    else if (!text.done) {
      const fields = stretch.kind === 'fields' ? stretch.fields : await readFields(stretch, read);
      for (const [name, value] of fields) text.feed(`${name}: ${decodeUnstructured(value)}\r\n`);
      text.end();
    }
  }
  const inText = text.found;
  const inBody = body.found;
  return terms.map((term) => (term.body ? inBody : inText).shift()!);
}

function* textStretches(structure: MessageStructure): Generator<TextStretch> {
  yield { kind: 'fields', fields: structure.headers };
  yield* partStretches(structure.parts, structure.bodyStructure);
}

/**
 * The stretches inside a part whose header came before: a leaf's body, or the header and the inside of
 * each child or of the embedded message. `body` is the part's BODYSTRUCTURE, `undefined` where the two
 * trees disagree: such a leaf is read as it is written, as undeclared text.
 */
function* partStretches(offsets: PartOffsets, body: BodyStructure | undefined): Generator<TextStretch> {
  if (offsets.structure === 'multipart') {
    const parts = body?.kind === 'multipart' ? body.parts : [];
    for (const [index, child] of (offsets.children ?? []).entries()) {
      yield headerOf(child);
      yield* partStretches(child, parts[index]);
    }
  } else if (offsets.structure === 'message' && offsets.message) {
    yield headerOf(offsets.message);
    yield* partStretches(offsets.message, body?.kind === 'message' ? body.body : undefined);
  } else if (!body) {
    yield { kind: 'body', start: offsets.bodyStart, end: offsets.end, encoding: '7BIT', charset: undefined };
  } else if (body.kind !== 'multipart' && (body.type === 'TEXT' || body.type === 'MESSAGE')) {
    const charset = body.parameters?.find(([name]) => name === 'CHARSET')?.[1];
    const { bodyStart: start, end } = offsets;
    yield { kind: 'body', start, end, encoding: body.encoding, charset };
  }
}

function headerOf(offsets: PartOffsets): TextStretch {
  return { kind: 'header', start: offsets.headerStart, end: offsets.bodyStart };
}

/** The fields of a header block, read whole: the parser that built the structure bounded its size. */
async function readFields(
  stretch: Extract<TextStretch, { kind: 'header' }>,
  read: MessageRangeReader,
): Promise<[name: string, value: string][]> {
  if (stretch.end <= stretch.start) return [];
  const chunks: Uint8Array[] = [];
  for await (const chunk of read(stretch.start, stretch.end)) chunks.push(chunk);
  return parseHeaderBlock(concatBytes(chunks)).fields.map((field) => [field.name, field.value]);
}

/**
 * Decodes a body chunk by chunk into the matchers that are not done yet, and stops reading once they
 * all are. The charset decoders of the mime package fall back to UTF-8, then windows-1252 from the
 * first invalid byte, for an undeclared or unknown charset, and replace invalid bytes.
 */
async function feedBody(
  stretch: Extract<TextStretch, { kind: 'body' }>,
  read: MessageRangeReader,
  matchers: readonly TextMatcher[],
): Promise<void> {
  const open = matchers.filter((matcher) => !matcher.done);
  const transfer = createTransferDecoder(stretch.encoding);
  const charset = createCharsetDecoder(stretch.charset);
  const feed = (text: string): void => {
    for (const matcher of open) matcher.feed(text);
  };
  for await (const chunk of read(stretch.start, stretch.end)) {
    feed(charset.decode(transfer.decode(chunk)));
    if (open.every((matcher) => matcher.done)) return;
  }
  feed(charset.decode(transfer.end()));
  feed(charset.end());
  for (const matcher of open) matcher.end();
}

import { concatBytes, encodeHex, InvalidArgumentError, utf8 } from '@postwire/core';
import { formatAddressList } from '../address/format.js';
import { parseAddressList } from '../address/parse.js';
import type { Address, Mailbox } from '../address/types.js';
import { formatDate } from '../header/date.js';
import { encodeEncodedWords, needsEncoding } from '../header/encoded-word.js';
import { formatParameter } from '../header/parameters.js';
import { assertFieldName, assertHeaderSafe, foldField } from './fold.js';
import { chooseTransferEncoding, createBodyEncoder, type TransferEncoding } from './transfer-encoding.js';

/** One address, a list of them, or header text such as `"Ann" <ann@example.com>, bob@example.org`. */
export type AddressInput = string | Address | readonly (string | Address)[];

/** Bytes, text, or a stream of bytes. A stream can be read once, so a message built on one can be written once. */
export type ContentInput = Uint8Array | string | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/** A file to attach, or an inline image referenced from the HTML as `cid:<contentId>`. */
export interface AttachmentInput {
  content: ContentInput;
  filename?: string;
  /** Defaults from the file name's extension, else `application/octet-stream` (`text/plain` for string content). */
  contentType?: string;
  /** Defaults to `inline` when `contentId` is set and the message has HTML, else `attachment`. */
  disposition?: 'attachment' | 'inline';
  /** Makes the part referable as `cid:…` from the HTML (without angle brackets). */
  contentId?: string;
}

/** What {@link composeMessage} builds a message from. */
export interface ComposeOptions {
  from: AddressInput;
  sender?: AddressInput;
  to?: AddressInput;
  cc?: AddressInput;
  /** Recipients in the envelope only; written as a header only with `keepBcc`. */
  bcc?: AddressInput;
  replyTo?: AddressInput;
  subject?: string;
  text?: string;
  html?: string;
  attachments?: readonly AttachmentInput[];
  /** Extra header fields, in order. Structural MIME fields cannot be set this way. */
  headers?: Readonly<Record<string, string | readonly string[]>>;
  /** Default: now. */
  date?: Date;
  /** With or without angle brackets; default: a random id at the sender's domain. */
  messageId?: string;
  inReplyTo?: string;
  references?: string | readonly string[];
  /** Every hop announced 8BITMIME: text may go as `8bit`. */
  eightBit?: boolean;
  /** The path is SMTPUTF8: headers and addresses may carry raw UTF-8. */
  smtputf8?: boolean;
  /** Write the Bcc field (for a copy kept in a Sent folder). */
  keepBcc?: boolean;
}

/** A composed message: iterate it (or call `stream()` / `bytes()`) for its RFC 5322 bytes. */
export interface ComposedMessage extends AsyncIterable<Uint8Array> {
  /** The Message-ID, with angle brackets. */
  readonly messageId: string;
  /** The SMTP envelope: the sender's address and every recipient, Bcc included. */
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
  /** The message as a web stream. */
  stream(): ReadableStream<Uint8Array>;
  /** The whole message in memory. */
  bytes(): Promise<Uint8Array>;
}

const STRUCTURAL = new Set(['content-type', 'content-transfer-encoding', 'mime-version']);

interface Leaf {
  readonly kind: 'leaf';
  readonly fields: string[];
  readonly content: ContentInput;
  readonly encoding: TransferEncoding;
  readonly text: boolean;
}

interface Multipart {
  readonly kind: 'multipart';
  readonly fields: string[];
  readonly boundary: string;
  readonly children: readonly Node[];
}

type Node = Leaf | Multipart;

/**
 * Builds an RFC 5322 message: multipart/mixed, alternative and related chosen by what is given,
 * headers folded at 78 columns, encoded words and RFC 2231 parameters for non-ASCII (or raw UTF-8
 * with `smtputf8`), a transfer encoding per part, CRLF everywhere. Everything that could inject a
 * header (a CR or LF in a value, an address, a file name) throws `InvalidArgumentError` here, before
 * a byte is produced.
 */
export function composeMessage(options: ComposeOptions): ComposedMessage {
  const smtputf8 = options.smtputf8 ?? false;
  const from = addressesOf('from', options.from);
  if (from.length === 0) throw new InvalidArgumentError('a message needs a From address');
  const to = addressesOf('to', options.to);
  const cc = addressesOf('cc', options.cc);
  const bcc = addressesOf('bcc', options.bcc);
  const messageId =
    options.messageId === undefined ? generateMessageId(from) : bracketed('messageId', options.messageId);

  const fields: string[] = [foldField('Date', formatDate(options.date ?? new Date()))];
  const addressField = (name: string, list: readonly Address[]) => {
    if (list.length > 0) fields.push(foldField(name, formatAddressList([...list], { smtputf8 })));
  };
  addressField('From', from);
  addressField('Sender', addressesOf('sender', options.sender));
  addressField('To', to);
  addressField('Cc', cc);
  if (options.keepBcc) addressField('Bcc', bcc);
  addressField('Reply-To', addressesOf('replyTo', options.replyTo));
  if (options.subject !== undefined)
    fields.push(foldField('Subject', headerText('subject', options.subject, smtputf8)));
  fields.push(foldField('Message-ID', messageId));
  if (options.inReplyTo !== undefined)
    fields.push(foldField('In-Reply-To', bracketed('inReplyTo', options.inReplyTo)));
  if (options.references !== undefined) {
    const references =
      typeof options.references === 'string' ? options.references.split(/\s+/) : options.references;
    const ids = references.filter((id) => id !== '').map((id) => bracketed('references', id));
    if (ids.length > 0) fields.push(foldField('References', ids.join(' ')));
  }
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    assertFieldName(name);
    if (STRUCTURAL.has(name.toLowerCase())) throw new InvalidArgumentError(`${name} is set by the composer`);
    for (const one of typeof value === 'string' ? [value] : value) {
      fields.push(foldField(name, headerText(`header ${name}`, one, smtputf8)));
    }
  }
  fields.push('MIME-Version: 1.0\r\n');

  const root = buildTree(options);
  const head = utf8(fields.join(''));
  const envelope = {
    from: (from[0] as Mailbox).address,
    to: [...to, ...cc, ...bcc]
      .flatMap((address) => ('group' in address ? address.members : [address]))
      .map((m) => m.address),
  };

  const iterate = () => writeNode(root, head);
  return {
    messageId,
    envelope,
    [Symbol.asyncIterator]: iterate,
    stream: () => toReadableStream(iterate()),
    async bytes() {
      const chunks: Uint8Array[] = [];
      for await (const chunk of iterate()) chunks.push(chunk);
      return concatBytes(chunks);
    },
  };
}

function buildTree(options: ComposeOptions): Node {
  const eightBit = options.eightBit ?? false;
  const textLeaf = (subtype: string, body: string): Leaf => {
    const bytes = utf8(toCrlfText(body));
    const encoding = chooseTransferEncoding(bytes, { text: true, eightBit });
    return leaf([`Content-Type: text/${subtype}; charset=utf-8\r\n`], bytes, encoding, true);
  };
  const attachments = options.attachments ?? [];
  const hasHtml = options.html !== undefined;
  const isInline = (a: AttachmentInput) =>
    hasHtml && a.contentId !== undefined && (a.disposition ?? 'inline') === 'inline';
  const inline = attachments.filter(isInline).map((a) => attachmentLeaf(a, 'inline'));
  const regular = attachments
    .filter((a) => !isInline(a))
    .map((a) => attachmentLeaf(a, a.disposition ?? 'attachment'));

  const text = options.text === undefined ? undefined : textLeaf('plain', options.text);
  let html: Node | undefined = options.html === undefined ? undefined : textLeaf('html', options.html);
  if (html && inline.length > 0) html = multipart('related', [html, ...inline]);
  const body = text && html ? multipart('alternative', [text, html]) : (text ?? html);
  if (regular.length > 0) return multipart('mixed', body ? [body, ...regular] : regular);
  return body ?? textLeaf('plain', '');
}

function leaf(fields: string[], content: ContentInput, encoding: TransferEncoding, text: boolean): Leaf {
  return {
    kind: 'leaf',
    fields: [...fields, `Content-Transfer-Encoding: ${encoding}\r\n`],
    content,
    encoding,
    text,
  };
}

function multipart(subtype: string, children: Node[]): Multipart {
  const boundary = `=_pw_${encodeHex(crypto.getRandomValues(new Uint8Array(12)))}`;
  return {
    kind: 'multipart',
    fields: [`Content-Type: multipart/${subtype}; boundary="${boundary}"\r\n`],
    boundary,
    children,
  };
}

function attachmentLeaf(input: AttachmentInput, disposition: 'attachment' | 'inline'): Leaf {
  const { filename, contentId } = input;
  if (filename !== undefined) assertHeaderSafe('attachment filename', filename);
  const contentType = input.contentType ?? guessContentType(filename, typeof input.content === 'string');
  assertHeaderSafe('attachment contentType', contentType);
  if (!/^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/s.test(contentType)) {
    throw new InvalidArgumentError(`invalid attachment content type "${contentType}"`);
  }
  const nameParameter = filename === undefined ? '' : `; ${formatParameter('name', filename)}`;
  const fields = [foldField('Content-Type', `${contentType}${nameParameter}`)];
  const filenameParameter = filename === undefined ? '' : `; ${formatParameter('filename', filename)}`;
  fields.push(foldField('Content-Disposition', `${disposition}${filenameParameter}`));
  if (contentId !== undefined) fields.push(foldField('Content-ID', bracketed('contentId', contentId)));
  const content = typeof input.content === 'string' ? utf8(input.content) : input.content;
  const encoding =
    content instanceof Uint8Array
      ? chooseTransferEncoding(content, { text: false, eightBit: false })
      : 'base64';
  return leaf(fields, content, encoding, false);
}

async function* writeNode(node: Node, head?: Uint8Array): AsyncGenerator<Uint8Array> {
  if (head) yield head;
  yield utf8(`${node.fields.join('')}\r\n`);
  if (node.kind === 'multipart') {
    for (const [index, child] of node.children.entries()) {
      yield utf8(`${index === 0 ? '' : '\r\n'}--${node.boundary}\r\n`);
      yield* writeNode(child);
    }
    yield utf8(`\r\n--${node.boundary}--\r\n`);
    return;
  }
  const encoder = createBodyEncoder(node.encoding, node.text);
  for await (const chunk of chunksOf(node.content)) {
    const encoded = encoder.encode(chunk);
    if (encoded.length > 0) yield encoded;
  }
  const tail = encoder.end();
  if (tail.length > 0) yield tail;
}

function toReadableStream(chunks: AsyncGenerator<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await chunks.next();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    async cancel(reason) {
      await chunks.return(reason);
    },
  });
}

async function* chunksOf(content: ContentInput): AsyncGenerator<Uint8Array> {
  if (content instanceof Uint8Array) yield content;
  else if (typeof content === 'string') yield utf8(content);
  else yield* content as AsyncIterable<Uint8Array>;
}

function addressesOf(option: string, input: AddressInput | undefined): Address[] {
  if (input === undefined) return [];
  const list = typeof input === 'string' || !Array.isArray(input) ? [input as string | Address] : input;
  return list.flatMap((item) => {
    if (typeof item !== 'string') return [item];
    assertHeaderSafe(option, item);
    const { addresses, defects } = parseAddressList(item);
    if (addresses.length === 0 || defects.length > 0) {
      throw new InvalidArgumentError(`${option} is not a valid address list`);
    }
    return addresses;
  });
}

function headerText(what: string, value: string, smtputf8: boolean): string {
  assertHeaderSafe(what, value);
  return needsEncoding(value) && !smtputf8 ? encodeEncodedWords(value) : value;
}

/** A msg-id in angle brackets; refuses anything that could break the field. */
function bracketed(what: string, id: string): string {
  assertHeaderSafe(what, id);
  const bare = id.startsWith('<') && id.endsWith('>') ? id.slice(1, -1) : id;
  if (bare === '' || /[\s<>]/.test(bare)) throw new InvalidArgumentError(`${what} is not a valid message id`);
  return `<${bare}>`;
}

function generateMessageId(from: readonly Address[]): string {
  const first = from[0]!;
  const mailbox = 'group' in first ? first.members[0] : first;
  const domain = mailbox?.address.split('@')[1];
  const safeDomain = domain && /^[A-Za-z0-9.-]+$/.test(domain) ? domain : 'postwire.invalid';
  return `<${encodeHex(crypto.getRandomValues(new Uint8Array(16)))}@${safeDomain}>`;
}

function toCrlfText(text: string): string {
  return text.replace(/\r\n|\r|\n/g, '\r\n');
}

const TYPES_BY_EXTENSION: Readonly<Record<string, string>> = {
  txt: 'text/plain',
  html: 'text/html',
  htm: 'text/html',
  csv: 'text/csv',
  ics: 'text/calendar',
  pdf: 'application/pdf',
  zip: 'application/zip',
  json: 'application/json',
  xml: 'application/xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  svg: 'image/svg+xml',
};

function guessContentType(filename: string | undefined, isText: boolean): string {
  const extension = filename?.split('.').pop()?.toLowerCase();
  return (
    (extension && TYPES_BY_EXTENSION[extension]) ||
    (isText ? 'text/plain; charset=utf-8' : 'application/octet-stream')
  );
}

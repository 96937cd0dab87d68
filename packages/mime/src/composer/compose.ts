import { concatBytes, decodeLatin1, encodeHex, InvalidArgumentError, utf8 } from '@postwire/core';
import type { DkimSigner, DkimSignOptions } from '@postwire/mailauth';
import { formatAddressList } from '../address/format.js';
import { toAsciiDomain } from '../address/idn.js';
import { parseAddressList } from '../address/parse.js';
import type { Address, Mailbox } from '../address/types.js';
import { formatDate } from '../header/date.js';
import { encodeEncodedWords, needsEncoding } from '../header/encoded-word.js';
import { formatParameter } from '../header/parameters.js';
import { toCrlf } from '../text/line-endings.js';
import { dkimSigners, signedWriter } from './dkim.js';
import { assertFieldName, assertHeaderSafe, foldField } from './fold.js';
import {
  chooseTransferEncoding,
  createBodyEncoder,
  identityEncoding,
  type TransferEncoding,
} from './transfer-encoding.js';

/** One address, a list of them, or header text such as `"Ann" <ann@example.com>, bob@example.org`. */
export type AddressInput = string | Address | readonly (string | Address)[];

/** Bytes, text, or a stream of bytes. A stream can be read once, so a message built on one can be written once. */
export type ContentInput = Uint8Array | string | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/** A file to attach, or an inline image referenced from the HTML as `cid:<contentId>`. */
export interface AttachmentInput {
  /** The file's content. */
  content: ContentInput;
  /** The file name, in Content-Disposition (and Content-Type `name`). */
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
  /** One mailbox; several, or a group, need a `sender`. */
  from: AddressInput;
  /** One mailbox, the SMTP envelope's sender when given (RFC 5322 §3.6.2). */
  sender?: AddressInput;
  /** The To recipients. */
  to?: AddressInput;
  /** The Cc recipients. */
  cc?: AddressInput;
  /** Recipients in the envelope only; written as a header only with `keepBcc`. */
  bcc?: AddressInput;
  /** The Reply-To addresses. */
  replyTo?: AddressInput;
  /** The Subject, encoded when not ASCII. */
  subject?: string;
  /** The plain-text body. */
  text?: string;
  /** The HTML body. */
  html?: string;
  /** Files to attach, and inline images. */
  attachments?: readonly AttachmentInput[];
  /**
   * Extra header fields, in order. Structural MIME fields, and the fields the options above write (Bcc
   * included), cannot be set this way.
   */
  headers?: Readonly<Record<string, string | readonly string[]>>;
  /** Default: now. */
  date?: Date;
  /** With or without angle brackets; default: a random id at the sender's domain. */
  messageId?: string;
  /** The In-Reply-To message ID, with or without angle brackets. */
  inReplyTo?: string;
  /** The References message IDs, with or without angle brackets. */
  references?: string | readonly string[];
  /** Every hop announced 8BITMIME: text may go as `8bit` (default: the value of `smtputf8`). */
  eightBit?: boolean;
  /** The path is SMTPUTF8: headers and addresses may carry raw UTF-8. */
  smtputf8?: boolean;
  /** Write the Bcc field (for a copy kept in a Sent folder). */
  keepBcc?: boolean;
  /**
   * Sign the message with DKIM (RFC 6376, RFC 8463), one DKIM-Signature field per signer, placed first.
   * By default each signature covers From, To, Cc, Subject, Date, Message-ID, the MIME fields and the
   * other fields `@postwire/mailauth`'s `defaultDkimSignedHeaders` names, and over-signs them.
   *
   * A signature needs the whole message, so a signed message is not streamed: it is composed into
   * memory (attachments given as streams included) and signed before its first byte is given, once;
   * every later read gives the same bytes. An unusable signer or key makes that first read reject with
   * `InvalidArgumentError`, before any byte. Leave `eightBit` off for signed mail: RFC 6376 §5.3 asks
   * signers for 7-bit content, which no relay needs to convert (and so break the signature).
   */
  dkim?: DkimSigner | readonly DkimSigner[];
  /**
   * How {@link dkim} signs: the SHA-256 (`nodeSha256` from `@postwire/mailauth/node` is faster than the
   * portable default on Node), the clock for `t=` and `x=`, the largest header read.
   */
  dkimOptions?: DkimSignOptions;
}

/**
 * A composed message: iterate it (or call `stream()` / `bytes()`) for its RFC 5322 bytes, which start with
 * the DKIM-Signature fields when it was composed with `dkim`.
 */
export interface ComposedMessage extends AsyncIterable<Uint8Array> {
  /** The Message-ID, with angle brackets. */
  readonly messageId: string;
  /** The SMTP envelope: the sender's address and every recipient, Bcc included. */
  readonly envelope: {
    /** The envelope sender's address. */
    readonly from: string;
    /** Every recipient's address. */
    readonly to: readonly string[];
  };
  /** The message as a web stream. */
  stream(): ReadableStream<Uint8Array>;
  /** The whole message in memory. */
  bytes(): Promise<Uint8Array>;
}

const STRUCTURAL = new Set(['content-type', 'content-transfer-encoding', 'mime-version']);
/** Fields RFC 5322 §3.6 allows once, which the composer writes from its own options (Bcc only with `keepBcc`). */
const FROM_OPTIONS = new Set([
  'date',
  'from',
  'sender',
  'reply-to',
  'to',
  'cc',
  'bcc',
  'message-id',
  'in-reply-to',
  'references',
  'subject',
]);

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
 * a byte is produced. With `dkim`, the message is signed, and so held in memory: see
 * {@link ComposeOptions.dkim}.
 */
export function composeMessage(options: ComposeOptions): ComposedMessage {
  const smtputf8 = options.smtputf8 ?? false;
  const from = addressesOf('from', options.from, smtputf8);
  if (from.length === 0) throw new InvalidArgumentError('a message needs a From address');
  const sender = addressesOf('sender', options.sender, smtputf8);
  const to = addressesOf('to', options.to, smtputf8);
  const cc = addressesOf('cc', options.cc, smtputf8);
  const bcc = addressesOf('bcc', options.bcc, smtputf8);
  const returnPath = envelopeSender(from, sender);
  const messageId =
    options.messageId === undefined
      ? generateMessageId(returnPath)
      : bracketed('messageId', options.messageId, smtputf8);

  const fields: string[] = [foldField('Date', formatDate(options.date ?? new Date()))];
  const addressField = (name: string, list: readonly Address[]) => {
    if (list.length > 0) fields.push(foldField(name, formatAddressList([...list], { smtputf8 })));
  };
  addressField('From', from);
  addressField('Sender', sender);
  addressField('To', to);
  addressField('Cc', cc);
  if (options.keepBcc) addressField('Bcc', bcc);
  addressField('Reply-To', addressesOf('replyTo', options.replyTo, smtputf8));
  if (options.subject !== undefined)
    fields.push(foldField('Subject', headerText('subject', options.subject, smtputf8)));
  fields.push(foldField('Message-ID', messageId));
  if (options.inReplyTo !== undefined)
    fields.push(foldField('In-Reply-To', bracketed('inReplyTo', options.inReplyTo, smtputf8)));
  if (options.references !== undefined) {
    // msg-ids may be written next to each other without white space: `<a@x><b@y>`.
    const references =
      typeof options.references === 'string'
        ? options.references.split(/\s+|(?<=>)(?=<)/)
        : options.references;
    const ids = references.filter((id) => id !== '').map((id) => bracketed('references', id, smtputf8));
    if (ids.length > 0) fields.push(foldField('References', ids.join(' ')));
  }
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    assertFieldName(name);
    const key = name.toLowerCase();
    if (STRUCTURAL.has(key)) throw new InvalidArgumentError(`${name} is set by the composer`);
    if (FROM_OPTIONS.has(key)) throw new InvalidArgumentError(`${name} is set through its own option`);
    for (const one of typeof value === 'string' ? [value] : value) {
      fields.push(foldField(name, headerText(`header ${name}`, one, smtputf8)));
    }
  }
  fields.push('MIME-Version: 1.0\r\n');

  const root = buildTree(options, smtputf8);
  const head = utf8(fields.join(''));
  const envelope = {
    from: envelopeAddress(returnPath.address),
    to: mailboxesOf([...to, ...cc, ...bcc]).map((m) => envelopeAddress(m.address)),
  };

  const write = () => writeNode(root, head);
  const signers = dkimSigners(options.dkim);
  const iterate = signers.length === 0 ? write : signedWriter(write, signers, options.dkimOptions);
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

function buildTree(options: ComposeOptions, smtputf8: boolean): Node {
  // SMTPUTF8 requires 8BITMIME of the server (RFC 6531 §3.1), so a path that is SMTPUTF8 is 8-bit clean.
  const eightBit = options.eightBit ?? options.smtputf8 ?? false;
  const textLeaf = (subtype: string, body: string): Leaf => {
    const bytes = utf8(toCrlfText(body));
    const encoding = chooseTransferEncoding(bytes, { text: true, eightBit });
    return leaf([`Content-Type: text/${subtype}; charset=utf-8\r\n`], bytes, encoding, true);
  };
  const attachments = options.attachments ?? [];
  const hasHtml = options.html !== undefined;
  const isInline = (a: AttachmentInput) =>
    hasHtml && a.contentId !== undefined && (a.disposition ?? 'inline') === 'inline';
  const settings = { eightBit, smtputf8 };
  const inline = attachments.filter(isInline).map((a) => attachmentLeaf(a, 'inline', settings));
  const regular = attachments
    .filter((a) => !isInline(a))
    .map((a) => attachmentLeaf(a, a.disposition ?? 'attachment', settings));

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
  // Quoted-printable and base64 can never hold `=_`; a body sent as it is (7bit or 8bit) might hold a
  // boundary, however unlikely: draw again until none does (RFC 2046 §5.1.1).
  const raw = children.flatMap(passThroughBodies);
  let boundary: string;
  do boundary = `=_pw_${encodeHex(crypto.getRandomValues(new Uint8Array(12)))}`;
  while (raw.some((body) => body.includes(boundary)));
  return {
    kind: 'multipart',
    fields: [`Content-Type: multipart/${subtype}; boundary="${boundary}"\r\n`],
    boundary,
    children,
  };
}

/** The body of every leaf under `node` that goes out as it is (7bit or 8bit), as Latin-1 text. */
function passThroughBodies(node: Node): string[] {
  if (node.kind === 'multipart') return node.children.flatMap(passThroughBodies);
  if ((node.encoding === '7bit' || node.encoding === '8bit') && node.content instanceof Uint8Array) {
    return [decodeLatin1(node.content)];
  }
  return [];
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const QUOTED = '"(?:[\\t\\x20\\x21\\x23-\\x5b\\x5d-\\x7e]|\\\\[\\t\\x20-\\x7e])*"';
/**
 * `type/subtype` and `; name=value` parameters (RFC 2045 §5.1), ASCII only, quoted strings balanced, so
 * that the `name` parameter the composer appends stays a parameter of its own. Each piece can match in
 * one way only, so the test is linear (case 42).
 */
const CONTENT_TYPE = new RegExp(
  `^(${TOKEN})/(${TOKEN})(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|${QUOTED}))*[ \\t]*$`,
);

interface LeafSettings {
  readonly eightBit: boolean;
  readonly smtputf8: boolean;
}

function attachmentLeaf(
  input: AttachmentInput,
  disposition: 'attachment' | 'inline',
  settings: LeafSettings,
): Leaf {
  const { filename, contentId } = input;
  if (disposition !== 'attachment' && disposition !== 'inline') {
    throw new InvalidArgumentError('attachment disposition is "attachment" or "inline"');
  }
  if (filename !== undefined) assertHeaderSafe('attachment filename', filename);
  const isString = typeof input.content === 'string';
  const contentType = input.contentType ?? guessContentType(filename, isString);
  assertHeaderSafe('attachment contentType', contentType);
  const match = CONTENT_TYPE.exec(contentType);
  if (!match) throw new InvalidArgumentError(`invalid attachment content type "${contentType}"`);
  const type = match[1]!.toLowerCase();
  const mediaType = `${type}/${match[2]!.toLowerCase()}`;
  if (type === 'multipart') {
    throw new InvalidArgumentError('a multipart attachment needs a boundary the composer cannot give it');
  }
  // String content is sent as UTF-8: a text type must say so.
  const charset = isString && type === 'text' && !/;\s*charset=/i.test(contentType) ? '; charset=utf-8' : '';
  const nameParameter = filename === undefined ? '' : `; ${formatParameter('name', filename)}`;
  const fields = [foldField('Content-Type', `${contentType}${charset}${nameParameter}`)];
  const filenameParameter = filename === undefined ? '' : `; ${formatParameter('filename', filename)}`;
  fields.push(foldField('Content-Disposition', `${disposition}${filenameParameter}`));
  if (contentId !== undefined) {
    fields.push(foldField('Content-ID', bracketed('contentId', contentId, settings.smtputf8)));
  }
  let content = typeof input.content === 'string' ? utf8(input.content) : input.content;
  if (type === 'message' && mediaType !== 'message/global') {
    // RFC 2046 §5.2: an encapsulated message is never base64 or quoted-printable (message/global may be,
    // RFC 6532 §3.5), and only message/rfc822 may be 8bit.
    if (!(content instanceof Uint8Array)) {
      throw new InvalidArgumentError(`${mediaType} content must be given as bytes or text, not a stream`);
    }
    content = toCrlf(content);
    const eightBit = settings.eightBit && mediaType === 'message/rfc822';
    const encoding = identityEncoding(content, eightBit);
    if (encoding === undefined) {
      throw new InvalidArgumentError(
        `${mediaType} content must travel as ${eightBit ? '7bit or 8bit' : '7bit'}: send it as message/global or application/octet-stream`,
      );
    }
    return leaf(fields, content, encoding, false);
  }
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
  else if ('getReader' in content) {
    // Not every runtime makes a web stream async-iterable.
    const reader = content.getReader();
    try {
      for (let read = await reader.read(); !read.done; read = await reader.read()) yield read.value;
    } finally {
      reader.releaseLock();
    }
  } else yield* content;
}

/**
 * The addresses of an option. Strings are parsed; address objects are checked by formatting them, so that
 * an address that only reaches the envelope (Bcc) is held to the same rules as one written in a field.
 */
function addressesOf(option: string, input: AddressInput | undefined, smtputf8: boolean): Address[] {
  if (input === undefined) return [];
  const list = typeof input === 'string' || !Array.isArray(input) ? [input as string | Address] : input;
  const addresses = list.flatMap((item) => {
    if (typeof item !== 'string') return [item];
    assertHeaderSafe(option, item);
    const { addresses, defects } = parseAddressList(item);
    if (addresses.length === 0 || defects.length > 0) {
      throw new InvalidArgumentError(`${option} is not a valid address list`);
    }
    return addresses;
  });
  if (addresses.length > 0) formatAddressList(addresses, { smtputf8 });
  return addresses;
}

/**
 * An address as the SMTP envelope carries it: with an ASCII local part, the domain in its A-label form, so
 * that a server without SMTPUTF8 takes it (`ann@bücher.de` → `ann@xn--bcher-kva.de`); a UTF-8 local part
 * needs SMTPUTF8 anyway, and is kept as written.
 */
function envelopeAddress(address: string): string {
  const at = address.lastIndexOf('@');
  const local = address.slice(0, at);
  if (at < 0 || /[^\x00-\x7f]/.test(local)) return address;
  return `${local}@${toAsciiDomain(address.slice(at + 1))}`;
}

function mailboxesOf(addresses: readonly Address[]): Mailbox[] {
  return addresses.flatMap((address) => ('group' in address ? address.members : [address]));
}

/**
 * The mailbox that sends the message, which is also the SMTP envelope's sender: the Sender, which must be
 * one mailbox, else the one mailbox of From. RFC 5322 §3.6.2 asks for a Sender when From holds several
 * mailboxes (or, RFC 6854, a group).
 */
function envelopeSender(from: readonly Address[], sender: readonly Address[]): Mailbox {
  if (sender.length > 0) {
    const only = sender[0]!;
    if (sender.length > 1 || 'group' in only) throw new InvalidArgumentError('sender is a single mailbox');
    return only;
  }
  const only = from[0]!;
  if (from.length > 1 || 'group' in only) {
    throw new InvalidArgumentError('a From with several mailboxes or a group needs a sender');
  }
  return only;
}

function headerText(what: string, value: string, smtputf8: boolean): string {
  assertHeaderSafe(what, value);
  return needsEncoding(value) && !smtputf8 ? encodeEncodedWords(value) : value;
}

/**
 * What a msg-id (RFC 5322 §3.6.4) may hold between its angle brackets: atext, `.`, `@` and the brackets of a
 * domain literal. Not white space, `"`, `(`, `,`, `;`, `:` or `\\`, which a reader would take for the end
 * of the id or the start of a comment or quoted string; and non-ASCII only with SMTPUTF8 (RFC 6532 §3.2).
 */
const MSG_ID_ASCII = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@[\]-]+$/;
const MSG_ID_UTF8 = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@[\]\u0080-\u{10ffff}-]+$/u;

/** A msg-id in angle brackets; refuses anything that could break the field. */
function bracketed(what: string, id: string, smtputf8: boolean): string {
  assertHeaderSafe(what, id);
  const bare = id.startsWith('<') && id.endsWith('>') ? id.slice(1, -1) : id;
  if (!(smtputf8 ? MSG_ID_UTF8 : MSG_ID_ASCII).test(bare)) {
    throw new InvalidArgumentError(`${what} is not a valid message id`);
  }
  return `<${bare}>`;
}

/** A random msg-id at the sender's domain in A-labels, or at `postwire.invalid` when that is no host name. */
function generateMessageId(sender: Mailbox): string {
  const at = sender.address.lastIndexOf('@');
  const domain = at < 0 ? '' : asciiDomainOrEmpty(sender.address.slice(at + 1));
  const safeDomain = /^[A-Za-z0-9.-]+$/.test(domain) ? domain : 'postwire.invalid';
  return `<${encodeHex(crypto.getRandomValues(new Uint8Array(16)))}@${safeDomain}>`;
}

function asciiDomainOrEmpty(domain: string): string {
  try {
    return toAsciiDomain(domain);
  } catch {
    return '';
  }
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

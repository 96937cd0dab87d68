import { LF } from '@postwire/core';
import { isFoldingSpace, skipCfws } from '../header/cfws.js';
import type { MimePart } from '../parser/message-content.js';
import { type BodyParameter, readBodyParameters } from './body-parameters.js';
import { type Envelope, envelope } from './envelope.js';
import { firstField, rawFieldValue } from './header-fields.js';

/** A Content-Disposition in BODYSTRUCTURE: its type in upper case and its parameters. */
export interface BodyDisposition {
  /** The disposition type in upper case, such as `ATTACHMENT`. */
  readonly type: string;
  /** The Content-Disposition parameters. */
  readonly parameters: BodyParameter[] | null;
}

/** What every non-multipart body starts with (`body-fields` of RFC 3501 / RFC 9051). */
export interface BodyFields {
  /** The media type in upper case, such as `TEXT` (the style of the RFC examples; IMAP compares it case-insensitively). */
  readonly type: string;
  /** The subtype in upper case, such as `PLAIN`. */
  readonly subtype: string;
  /** The Content-Type parameters (see `readBodyParameters`); a `text/*` body without `charset` gets `CHARSET US-ASCII`. */
  readonly parameters: BodyParameter[] | null;
  /** The Content-ID as written, angle brackets included. */
  readonly id: string | null;
  /** The Content-Description as written (not decoded). */
  readonly description: string | null;
  /** The Content-Transfer-Encoding in upper case, `7BIT` when absent. */
  readonly encoding: string;
  /** Octets of the raw (still encoded) body. */
  readonly size: number;
}

/** The extension data of a non-multipart body, in BODYSTRUCTURE only. */
export interface SinglePartExtension {
  /** The Content-MD5 as written. */
  readonly md5: string | null;
  /** The Content-Disposition. */
  readonly disposition: BodyDisposition | null;
  /** The Content-Language tags: one as a string, several as a list. */
  readonly language: string | string[] | null;
  /** The Content-Location as written. */
  readonly location: string | null;
}

/** The extension data of a multipart body, in BODYSTRUCTURE only. */
export interface MultipartExtension {
  /** The Content-Type parameters, `BOUNDARY` among them. */
  readonly parameters: BodyParameter[] | null;
  /** The Content-Disposition. */
  readonly disposition: BodyDisposition | null;
  /** The Content-Language tags: one as a string, several as a list. */
  readonly language: string | string[] | null;
  /** The Content-Location as written. */
  readonly location: string | null;
}

/** `body-type-basic`: any body that is neither text, an embedded message, nor a multipart. */
export interface BasicBodyStructure extends BodyFields {
  /** A basic body. */
  readonly kind: 'basic';
  /** The extension data (BODYSTRUCTURE only). */
  readonly extension?: SinglePartExtension;
}

/** `body-type-text`: a `text/*` body and its line count. */
export interface TextBodyStructure extends BodyFields {
  /** A text body. */
  readonly kind: 'text';
  /** Lines in the raw body (a last line without line ending counts). */
  readonly lines: number;
  /** The extension data (BODYSTRUCTURE only). */
  readonly extension?: SinglePartExtension;
}

/** `body-type-msg`: a `message/rfc822` body (or `message/global`, RFC 9051) with its envelope and structure. */
export interface MessageBodyStructure extends BodyFields {
  /** An embedded message. */
  readonly kind: 'message';
  /** The embedded message's envelope. */
  readonly envelope: Envelope;
  /** The embedded message's structure. */
  readonly body: BodyStructure;
  /** Lines in the raw body: the whole embedded message. */
  readonly lines: number;
  /** The extension data (BODYSTRUCTURE only). */
  readonly extension?: SinglePartExtension;
}

/** `body-type-mpart`: the parts, then the subtype. */
export interface MultipartBodyStructure {
  /** A multipart. */
  readonly kind: 'multipart';
  /** The parts, in order. */
  readonly parts: BodyStructure[];
  /** The subtype in upper case, such as `MIXED`. */
  readonly subtype: string;
  /** The extension data (BODYSTRUCTURE only). */
  readonly extension?: MultipartExtension;
}

/**
 * The IMAP BODYSTRUCTURE of a part (RFC 3501 §7.4.2, RFC 9051 §7.5.2) as plain JSON-serialisable data,
 * `null` for NIL, one property per field of the grammar in grammar order; the IMAP server serialises it.
 */
export type BodyStructure =
  | BasicBodyStructure
  | TextBodyStructure
  | MessageBodyStructure
  | MultipartBodyStructure;

/** Options of {@link bodyStructure}. */
export interface BodyStructureOptions {
  /** Include the extension data (`extension`): BODYSTRUCTURE (default `true`); `false` gives BODY. */
  readonly extended?: boolean;
}

const COMMA = 0x2c;
const OPEN = 0x28;

/**
 * Describes a part (usually `parseMessageSync(bytes).parts`) for FETCH BODYSTRUCTURE or, with
 * `extended: false`, BODY; BODY is also BODYSTRUCTURE without its `extension` properties. `bytes` are the
 * message the part was parsed from: they give the line count of `message/rfc822` bodies, which the parser
 * counts for text parts only. Readings worth knowing:
 * - types, subtypes, parameter names, encodings and disposition types are upper-cased; values are kept
 *   as written;
 * - a part without Content-Type is `TEXT/PLAIN` with `CHARSET US-ASCII`, or `MESSAGE/RFC822` inside a
 *   `multipart/digest` (the parser's defaults);
 * - a multipart without any part (not allowed by the grammar) gets one empty `TEXT/PLAIN` part, and a
 *   multipart the parser kept opaque (no boundary) is a basic body;
 * - a `message/rfc822` or `message/global` body that the parser did not read as a message (transfer-encoded,
 *   or over a limit) still has the message form, with an all-NIL envelope and an empty `TEXT/PLAIN` body,
 *   because clients expect an envelope after `"MESSAGE" "RFC822"`.
 */
export function bodyStructure(
  part: MimePart,
  bytes: Uint8Array,
  options: BodyStructureOptions = {},
): BodyStructure {
  return describe(part, bytes, options.extended !== false);
}

function describe(part: MimePart, bytes: Uint8Array, extended: boolean): BodyStructure {
  const { contentType, headers } = part;
  if (part.structure === 'multipart') {
    const parts =
      part.children.length > 0
        ? part.children.map((child) => describe(child, bytes, extended))
        : [emptyText(extended)];
    const subtype = contentType.subtype.toUpperCase();
    if (!extended) return { kind: 'multipart', parts, subtype };
    const extension: MultipartExtension = { parameters: typeParameters(part), ...commonExtension(part) };
    return { kind: 'multipart', parts, subtype, extension };
  }
  const fields: BodyFields = {
    type: contentType.type.toUpperCase(),
    subtype: contentType.subtype.toUpperCase(),
    parameters: typeParameters(part),
    id: rawFieldValue(headers, 'content-id'),
    description: rawFieldValue(headers, 'content-description'),
    encoding: part.transferEncoding.toUpperCase(),
    size: part.size,
  };
  const extension: { extension?: SinglePartExtension } = extended
    ? { extension: { md5: rawFieldValue(headers, 'content-md5'), ...commonExtension(part) } }
    : {};
  if (contentType.mediaType === 'message/rfc822' || contentType.mediaType === 'message/global') {
    const embedded = part.structure === 'message' ? part.message : undefined;
    return {
      kind: 'message',
      ...fields,
      envelope: envelope(embedded?.headers ?? []),
      body: embedded ? describe(embedded, bytes, extended) : emptyText(extended),
      lines: countLines(bytes.subarray(part.bodyStart, part.end)),
      ...extension,
    };
  }
  if (contentType.type === 'text') return { kind: 'text', ...fields, lines: part.lines ?? 0, ...extension };
  return { kind: 'basic', ...fields, ...extension };
}

/** The empty `text/plain` body put in a multipart that has no part, as Dovecot does. */
function emptyText(extended: boolean): TextBodyStructure {
  const text: TextBodyStructure = {
    kind: 'text',
    type: 'TEXT',
    subtype: 'PLAIN',
    parameters: [['CHARSET', 'US-ASCII']],
    id: null,
    description: null,
    encoding: '7BIT',
    size: 0,
    lines: 0,
  };
  if (!extended) return text;
  return { ...text, extension: { md5: null, disposition: null, language: null, location: null } };
}

function typeParameters(part: MimePart): BodyParameter[] | null {
  const field = firstField(part.headers, 'content-type');
  const parameters = field ? readBodyParameters(field.value) : [];
  if (
    part.contentType.type === 'text' &&
    !parameters.some(([name]) => name === 'CHARSET' || name === 'CHARSET*')
  ) {
    parameters.push(['CHARSET', 'US-ASCII']);
  }
  return parameters.length > 0 ? parameters : null;
}

function commonExtension(part: MimePart): Omit<SinglePartExtension, 'md5'> {
  const { headers, disposition } = part;
  const dispositionField = firstField(headers, 'content-disposition');
  let bodyDisposition: BodyDisposition | null = null;
  if (disposition && dispositionField) {
    const parameters = readBodyParameters(dispositionField.value);
    bodyDisposition = {
      type: disposition.type.toUpperCase(),
      parameters: parameters.length > 0 ? parameters : null,
    };
  }
  const languageField = firstField(headers, 'content-language');
  return {
    disposition: bodyDisposition,
    language: languageField ? languageTags(languageField.value) : null,
    location: rawFieldValue(headers, 'content-location'),
  };
}

/** The comma-separated tags of a Content-Language field (RFC 3282), comments and whitespace removed. */
function languageTags(fieldBody: string): string | string[] | null {
  const tags: string[] = [];
  let i = skipCfws(fieldBody, 0);
  while (i < fieldBody.length) {
    const start = i;
    while (i < fieldBody.length && !isTagEnd(fieldBody.charCodeAt(i))) i++;
    if (i > start) tags.push(fieldBody.slice(start, i));
    i = skipCfws(fieldBody, i);
    if (fieldBody.charCodeAt(i) === COMMA || i === start) i = skipCfws(fieldBody, i + 1);
  }
  if (tags.length === 0) return null;
  return tags.length === 1 ? tags[0]! : tags;
}

function isTagEnd(code: number): boolean {
  return isFoldingSpace(code) || code === COMMA || code === OPEN;
}

/** Lines in a body: its line feeds, plus a last line without one. */
function countLines(body: Uint8Array): number {
  let lines = 0;
  for (let lf = body.indexOf(LF); lf !== -1; lf = body.indexOf(LF, lf + 1)) lines++;
  return body.length > 0 && body[body.length - 1] !== LF ? lines + 1 : lines;
}

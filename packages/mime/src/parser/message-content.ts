import { decodeCharset } from '../charset/decode.js';
import type { Defect } from '../defects.js';
import { parseMessageId } from '../header/message-id.js';
import { decodeFlowed } from '../text/flowed.js';
import type { PartEvent } from './types.js';

/** A node of a message's MIME tree: what its `part` event said, its end, and its children. */
export interface MimePart extends Omit<PartEvent, 'type'> {
  /** Absolute byte offset of the end of the body. */
  end: number;
  /** Bytes in the raw body. */
  size: number;
  /** Lines in the raw body, for `text/*` leaf parts. */
  lines?: number;
  /** The parts of a multipart, in order. */
  readonly children: MimePart[];
  /** The root of the embedded message of a `message/rfc822` or `message/global` part. */
  message?: MimePart;
}

/** A file carried by a message. */
export interface Attachment {
  /** Content-Disposition `filename`, else Content-Type `name`. */
  readonly filename: string | undefined;
  /** The media type in lower case, such as `image/png`. */
  readonly contentType: string;
  /** The Content-Disposition type, when given. */
  readonly disposition: 'attachment' | 'inline' | undefined;
  /** The Content-ID without its angle brackets. */
  readonly contentId: string | undefined;
  /** Bytes in `content`. */
  readonly size: number;
  /** The decoded content; the raw embedded message for a `message/rfc822` part. */
  readonly content: Uint8Array;
  /** The part's IMAP section number. */
  readonly path: string;
  /** The declared charset of a `text/*` part. */
  readonly charset: string | undefined;
  /** A resource of a `multipart/related` (an image its HTML refers to by `cid:`), not its root. */
  readonly related: boolean;
}

/** The body text of a message and its attachments. */
export interface MessageContent {
  /** The plain-text body. */
  text: string | undefined;
  /** The HTML body. */
  html: string | undefined;
  /** The attachments and inline resources. */
  attachments: Attachment[];
}

/** How `collectContent` reaches the bytes of a part. */
export interface ContentSource {
  /** The transfer-decoded body of a leaf part. */
  decoded(part: MimePart): Uint8Array;
  /** The raw bytes `[start, end)` of the message. */
  raw(start: number, end: number): Uint8Array;
}

interface Segment {
  readonly text?: string;
  readonly html?: string;
}

/**
 * Picks a message's body text and attachments, as mail clients show them:
 * - an inline `text/plain` or `text/html` leaf is body text, unless its disposition is `attachment` or it
 *   has a file name without an `inline` disposition; other leaves (`text/calendar` included) are
 *   attachments;
 * - in a `multipart/related`, the root (named by `start`, else the first part) is body text and the other
 *   parts are resources (`related` attachments);
 * - a `multipart/alternative` gives as `text` the last alternative made of plain text only (else the last
 *   that has any plain text) and as `html` the last that has HTML; other multiparts give their parts' text
 *   in order;
 * - body texts in order are joined by a line break into `text`, and into `html` when any has HTML, plain
 *   text then being escaped into a `<div>` that keeps its line breaks;
 * - a `message/rfc822` part with an `inline` disposition is read as part of the body (its texts and
 *   attachments join the message's), any other one is an attachment holding the raw message; with
 *   `rfc822Attachments` every one is an attachment;
 * - `format=flowed` plain text (RFC 3676) is unwrapped, honouring `delsp`.
 */
export function collectContent(
  root: MimePart,
  source: ContentSource,
  options: { rfc822Attachments?: boolean },
  defects: Defect[],
): MessageContent {
  const attachments: Attachment[] = [];

  const attach = (part: MimePart, content: Uint8Array, related: boolean): void => {
    const { contentType, disposition } = part;
    const type = disposition?.type;
    const idField = part.headers.find((field) => field.key === 'content-id');
    attachments.push({
      filename: disposition?.parameters.filename ?? contentType.parameters.name,
      contentType: contentType.mediaType,
      disposition: type === 'attachment' || type === 'inline' ? type : undefined,
      contentId: idField ? (parseMessageId(idField.value) ?? stripBrackets(idField.value)) : undefined,
      size: content.length,
      content,
      path: part.path,
      charset: contentType.type === 'text' ? contentType.parameters.charset : undefined,
      related,
    });
  };

  const readText = (part: MimePart): string => {
    const { contentType } = part;
    const decoded = decodeCharset(source.decoded(part), contentType.parameters.charset);
    if (decoded.defect) {
      defects.push({ code: decoded.defect, message: `body text in ${decoded.charset}`, part: part.path });
    }
    const format = contentType.parameters.format?.toLowerCase();
    if (contentType.subtype !== 'plain' || format !== 'flowed') return decoded.text;
    return decodeFlowed(decoded.text, { delSp: contentType.parameters.delsp?.toLowerCase() === 'yes' });
  };

  const visit = (part: MimePart, related: boolean): Segment[] => {
    if (part.structure === 'message') {
      if (!options.rfc822Attachments && part.disposition?.type === 'inline' && part.message) {
        return visit(part.message, false);
      }
      attach(part, source.raw(part.bodyStart, part.end), related);
      return [];
    }
    if (part.structure === 'multipart') {
      const subtype = part.contentType.subtype;
      const root = subtype === 'related' ? relatedRoot(part) : -1;
      const choices = part.children.map((child, index) =>
        visit(child, related || (subtype === 'related' && index !== root)),
      );
      if (subtype !== 'alternative') return choices.flat();
      const text = lastPlainText(choices) ?? lastWith(choices, 'text');
      const html = lastWith(choices, 'html');
      const segment: { text?: string; html?: string } = {};
      if (text) segment.text = joinText(text);
      if (html) segment.html = joinHtml(html);
      return text || html ? [segment] : [];
    }
    if (!related && isBodyText(part)) {
      const text = readText(part);
      return [part.contentType.subtype === 'html' ? { html: text } : { text }];
    }
    attach(part, source.decoded(part), related);
    return [];
  };

  const segments = visit(root, false);
  return {
    text: segments.some((segment) => segment.text !== undefined) ? joinText(segments) : undefined,
    html: segments.some((segment) => segment.html !== undefined) ? joinHtml(segments) : undefined,
    attachments,
  };
}

function isBodyText(part: MimePart): boolean {
  const { contentType, disposition } = part;
  if (contentType.type !== 'text' || (contentType.subtype !== 'plain' && contentType.subtype !== 'html')) {
    return false;
  }
  if (disposition?.type === 'attachment') return false;
  const named = disposition?.parameters.filename !== undefined || contentType.parameters.name !== undefined;
  return !named || disposition?.type === 'inline';
}

/**
 * The index of a `multipart/related` part's root (RFC 2387 §3.2): the child whose Content-ID the
 * `start` parameter names, else the first.
 */
function relatedRoot(part: MimePart): number {
  const start = part.contentType.parameters.start;
  if (start === undefined) return 0;
  const wanted = parseMessageId(start) ?? stripBrackets(start);
  const index = part.children.findIndex((child) => {
    const field = child.headers.find((header) => header.key === 'content-id');
    return field !== undefined && (parseMessageId(field.value) ?? stripBrackets(field.value)) === wanted;
  });
  return index === -1 ? 0 : index;
}

/** The last alternative that is plain text only: the text version of the message, whatever the others hold. */
function lastPlainText(choices: readonly Segment[][]): Segment[] | undefined {
  for (let i = choices.length - 1; i >= 0; i--) {
    const choice = choices[i]!;
    if (choice.length > 0 && choice.every((segment) => segment.html === undefined)) return choice;
  }
  return undefined;
}

function lastWith(choices: readonly Segment[][], kind: 'text' | 'html'): Segment[] | undefined {
  for (let i = choices.length - 1; i >= 0; i--) {
    if (choices[i]!.some((segment) => segment[kind] !== undefined)) return choices[i];
  }
  return undefined;
}

function joinText(segments: readonly Segment[]): string {
  const texts: string[] = [];
  for (const segment of segments) if (segment.text !== undefined) texts.push(segment.text);
  return texts.join('\n');
}

function joinHtml(segments: readonly Segment[]): string {
  const parts: string[] = [];
  for (const segment of segments) {
    if (segment.html !== undefined) parts.push(segment.html);
    else if (segment.text !== undefined) parts.push(textToHtml(segment.text));
  }
  return parts.join('\n');
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

function textToHtml(text: string): string {
  const escaped = text.replace(/[&<>"]/g, (char) => HTML_ESCAPES[char]!);
  return `<div style="white-space: pre-wrap">${escaped}</div>`;
}

function stripBrackets(value: string): string | undefined {
  const trimmed = value.trim().replace(/^<|>$/g, '');
  return trimmed || undefined;
}

import type { Defect } from '../defects.js';
import type { ContentDisposition, ContentType } from '../header/content-type.js';
import type { MimeLimits } from '../limits.js';

/** One header field of a header block, as written. */
export interface HeaderField {
  /** The field name as written, such as `Content-Type`. */
  readonly name: string;
  /** The field name in lower case, for lookups. */
  readonly key: string;
  /** The whole field from its first byte through its last folded line, without the final line ending. */
  readonly raw: Uint8Array;
  /** The field body after `:` exactly as written, folds kept; UTF-8 when valid (RFC 6532), else Latin-1. */
  readonly value: string;
}

/** Options of the MIME parsers. */
export interface ParseOptions {
  /** Overrides of the default limits (`defaultMimeLimits`). */
  readonly limits?: Partial<MimeLimits>;
  /** Decode the Content-Transfer-Encoding of body data (default `true`); `false` gives the raw bytes. */
  readonly decode?: boolean;
  /**
   * Make every `message/rfc822` part an attachment (default `false`: one with an `inline` disposition is
   * read as body, any other is an attachment). postal-mime's option of this name differs: by default it
   * reads a message part without a Content-Disposition as body.
   */
  readonly rfc822Attachments?: boolean;
}

/** How the parser reads a part's body. */
export type PartStructure = 'leaf' | 'multipart' | 'message';

/** A part's header block is complete. */
export interface PartEvent {
  /** A part's header is complete. */
  readonly type: 'part';
  /**
   * The part's IMAP section number (RFC 3501 §6.4.5): `''` for the message's root, `1`, `1.2` … for the
   * parts of multiparts. The root of an embedded message shares the path of its `message/rfc822` part, so
   * its multipart children are `<path>.1`, `<path>.2` … as in IMAP, and when that root (or the top-level
   * root) is not multipart, IMAP's section `<path>.1` (or `1`) is its body. One case differs from IMAP:
   * when the top-level root is itself `message/rfc822`, IMAP calls the embedded message `1` and its parts
   * `1.1`, `1.2` …, while these paths are `1`, `2` …; `resolveSection` and `bodyStructure` number by IMAP's rules.
   */
  readonly path: string;
  /** The part's header fields, in order. */
  readonly headers: readonly HeaderField[];
  /** The part's Content-Type (or its default). */
  readonly contentType: ContentType;
  /** The part's Content-Disposition, when given. */
  readonly disposition: ContentDisposition | undefined;
  /** The Content-Transfer-Encoding in lower case, `7bit` when absent. */
  readonly transferEncoding: string;
  /** How the body is read: data (`leaf`), child parts (`multipart`) or an embedded message (`message`). */
  readonly structure: PartStructure;
  /** Absolute byte offset of the header block. */
  readonly headerStart: number;
  /** Absolute byte offset of the body. */
  readonly bodyStart: number;
}

/** A piece of a leaf part's body. */
export interface BodyEvent {
  /** A piece of a body. */
  readonly type: 'body';
  /** The part's section number. */
  readonly path: string;
  /** Transfer-decoded bytes, or the raw bytes when `decode` is `false`. */
  readonly data: Uint8Array;
}

/** A part has ended. */
export interface PartEndEvent {
  /** A part has ended. */
  readonly type: 'part-end';
  /** The part's section number. */
  readonly path: string;
  /** Absolute byte offset of the end of the body (the line ending before a delimiter belongs to the delimiter). */
  readonly end: number;
  /** Bytes in the raw body: `end - bodyStart`. */
  readonly size: number;
  /** Lines in the raw body, for `text/*` leaf parts (IMAP BODYSTRUCTURE). */
  readonly lines?: number;
}

/** Something the parser worked around. */
export interface DefectEvent {
  /** A defect. */
  readonly type: 'defect';
  /** What was worked around. */
  readonly defect: Defect;
}

/** What the streaming parser reports, in input order. */
export type MimeEvent = PartEvent | BodyEvent | PartEndEvent | DefectEvent;

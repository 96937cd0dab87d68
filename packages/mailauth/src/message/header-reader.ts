import { CR, decodeLatin1, LF } from '@postwire/core';
import { trimEndSpaceTab } from './white-space.js';

/** A header field as DKIM and ARC hash it: its bytes as a Latin-1 string, one character per byte. */
export interface RawHeaderField {
  /** The name as written, up to the colon, white space before the colon kept. */
  readonly name: string;
  /** The name lower-cased and without trailing white space, for selecting fields. */
  readonly key: string;
  /** Everything after the colon, folds (CRLF) kept, without the field's last CRLF. */
  readonly value: string;
}

/** Reading a message's header ended: the fields, or the header was larger than allowed. */
export type HeaderReading =
  | { readonly ok: true; readonly fields: readonly RawHeaderField[] }
  | { readonly ok: false; readonly reason: string };

/** No blank line seen yet; at the start of a line; at the start of a line after a CR. */
enum Scan {
  InLine,
  LineStart,
  LineStartCr,
}

/**
 * Splits a message, fed in chunks of any size, into its header fields and its body. A field continues on
 * lines that start with SP or HTAB; a line without a colon is skipped. When the first line ends with a bare
 * LF the whole message is taken to use bare LFs, as files on disk do, and every bare LF becomes CRLF, in
 * the header and the body alike. The header is held (up to `maxHeaderBytes`); the body is passed on.
 */
export class MessageHeaderReader {
  readonly #maxHeaderBytes: number;
  readonly #headerChunks: Uint8Array[] = [];
  #headerBytes = 0;
  #scan = Scan.LineStart;
  /** Whether bare LFs are line ends to turn into CRLF; `undefined` until the first LF. */
  #lfOnly: boolean | undefined;
  /** The previous byte fed was a CR (for the LF conversion across chunks). */
  #afterCr = false;
  #reading: HeaderReading | undefined;

  constructor(maxHeaderBytes: number) {
    this.#maxHeaderBytes = maxHeaderBytes;
  }

  /** Whether the message ends its lines with bare LFs (known from its first line end). */
  get lfOnly(): boolean {
    return this.#lfOnly === true;
  }

  /** The header, once its end (or the message's end, or the size limit) was reached. */
  get header(): HeaderReading | undefined {
    return this.#reading;
  }

  /** Feeds a chunk; returns the body bytes in it, with line ends converted (empty while in the header). */
  push(chunk: Uint8Array): Uint8Array {
    if (this.#reading !== undefined) return this.#body(chunk);
    const end = this.#findHeaderEnd(chunk);
    const headerPart = end < 0 ? chunk : chunk.subarray(0, end);
    this.#headerBytes += headerPart.length;
    if (this.#headerBytes > this.#maxHeaderBytes) {
      this.#reading = { ok: false, reason: `the header is larger than ${this.#maxHeaderBytes} bytes` };
      this.#headerChunks.length = 0;
      return new Uint8Array(0);
    }
    this.#headerChunks.push(headerPart);
    if (end < 0) return new Uint8Array(0);
    this.#finishHeader();
    return this.#body(chunk.subarray(end));
  }

  /** Ends the message: a message without a blank line is all header. */
  end(): HeaderReading {
    if (this.#reading === undefined) this.#finishHeader();
    return this.#reading!;
  }

  /** Where the blank line that ends the header ends in `chunk`, or -1. */
  #findHeaderEnd(chunk: Uint8Array): number {
    let scan = this.#scan;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (byte === LF) {
        this.#lfOnly ??= !this.#afterCr;
        if (scan !== Scan.InLine) return i + 1;
        scan = Scan.LineStart;
      } else if (byte === CR) {
        scan = scan === Scan.LineStart ? Scan.LineStartCr : Scan.InLine;
      } else {
        scan = Scan.InLine;
      }
      this.#afterCr = byte === CR;
    }
    this.#scan = scan;
    return -1;
  }

  #finishHeader(): void {
    let text = '';
    for (const chunk of this.#headerChunks) text += decodeLatin1(chunk);
    this.#headerChunks.length = 0;
    if (this.#lfOnly === true) text = text.replace(/(?<!\r)\n/g, '\r\n');
    this.#reading = { ok: true, fields: splitFields(text) };
    this.#afterCr = false;
  }

  #body(chunk: Uint8Array): Uint8Array {
    if (this.#lfOnly !== true || chunk.length === 0) return chunk;
    let bareLfs = 0;
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] === LF && (i === 0 ? !this.#afterCr : chunk[i - 1] !== CR)) bareLfs++;
    }
    if (bareLfs === 0) {
      this.#afterCr = chunk[chunk.length - 1] === CR;
      return chunk;
    }
    const out = new Uint8Array(chunk.length + bareLfs);
    let at = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (byte === LF && !this.#afterCr) out[at++] = CR;
      out[at++] = byte;
      this.#afterCr = byte === CR;
    }
    return out;
  }
}

/** The fields of a header block's text (CRLF line ends, the blank line included or not). */
function splitFields(text: string): RawHeaderField[] {
  const fields: RawHeaderField[] = [];
  const lines = text.split('\r\n');
  for (let i = 0; i < lines.length; i++) {
    let field = lines[i]!;
    if (field === '' || field[0] === ' ' || field[0] === '\t') continue;
    while (i + 1 < lines.length && (lines[i + 1]![0] === ' ' || lines[i + 1]![0] === '\t'))
      field += `\r\n${lines[++i]}`;
    const colon = field.indexOf(':');
    if (colon <= 0) continue;
    const name = field.slice(0, colon);
    fields.push({ name, key: trimEndSpaceTab(name).toLowerCase(), value: field.slice(colon + 1) });
  }
  return fields;
}

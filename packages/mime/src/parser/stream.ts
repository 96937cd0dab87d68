import { CR, LF } from '@postwire/core';
import type { Defect } from '../defects.js';
import { type ContentType, parseContentDisposition, parseContentType } from '../header/content-type.js';
import type { MimeLimits } from '../limits.js';
import { createTransferDecoder, type TransferDecoder } from '../transfer/decoder.js';
import { BoundarySet, type DelimiterMatch } from './boundaries.js';
import { type HeaderBlock, parseHeaderBlock } from './header-block.js';
import { resolveMimeLimits } from './resolve-limits.js';
import type { HeaderField, MimeEvent, ParseOptions, PartStructure } from './types.js';

/** An open part: a leaf receiving body data, a multipart between its delimiters, or an embedded message. */
interface Frame {
  readonly path: string;
  readonly depth: number;
  readonly structure: PartStructure;
  readonly bodyStart: number;
  readonly decoder: TransferDecoder | undefined;
  readonly countLines: boolean;
  lines: number;
  lastByte: number;
  /** Multipart only: the boundary key, its subtype is `digest`, children seen, close delimiter seen. */
  readonly boundary: string;
  readonly digest: boolean;
  children: number;
  closed: boolean;
}

/** A part whose header block is still being read. */
interface PendingHeader {
  readonly path: string;
  readonly depth: number;
  readonly start: number;
  readonly digest: boolean;
  /** Absolute offset of the line where scanning resumes. */
  scan: number;
  /** Absolute offset up to which that line is known to hold no LF, so that no byte is searched twice. */
  searched: number;
}

interface Delimiter extends DelimiterMatch {
  /** Buffer index of the byte after the delimiter line. */
  readonly next: number;
  /** Buffer index of the delimiter line's line ending (its CR, or LF), or of the end of the input. */
  readonly lineEnding: number;
}

const DASH = 45;
const IDENTITY_ENCODINGS = new Set(['7bit', '8bit', 'binary']);

/**
 * A push-based streaming MIME structure parser (sans I/O): feed it bytes with `push`, call `end` at the end
 * of the input, and read the events each call returns, in input order: `part` when a part's header block is
 * complete, `body` with its transfer-decoded data, `part-end`, and `defect`. Any chunking of the input
 * gives the same events once adjacent `body` pieces of one part are joined.
 *
 * Multipart delimiters follow RFC 2046 §5.1.1 (the line ending before a delimiter belongs to it; transport
 * padding after it; bare LF accepted); an inner delimiter that matches several open multiparts belongs to
 * the innermost one, and an outer delimiter closes the parts inside it. `message/rfc822` and
 * `message/global` bodies are parsed as embedded messages. Bodies are scanned with `indexOf`, never byte by
 * byte, and handed to the transfer decoder as views of the input.
 */
export class MimeParser {
  readonly #limits: Readonly<MimeLimits>;
  readonly #decode: boolean;
  readonly #stack: Frame[] = [];
  readonly #boundaries = new BoundarySet();
  #events: MimeEvent[] = [];
  #pending: Uint8Array = new Uint8Array(0);
  /** The array `#pending` views when this parser owns it and may append into its free end. */
  #store: Uint8Array | undefined;
  #base = 0;
  #pos = 0;
  #regionStart = 0;
  #header: PendingHeader | undefined = { path: '', depth: 0, start: 0, digest: false, scan: 0, searched: 0 };
  #parts = 1;
  #partsExceeded = false;
  #ended = false;

  constructor(options: ParseOptions = {}) {
    this.#limits = resolveMimeLimits(options.limits);
    this.#decode = options.decode !== false;
  }

  /** Feeds the next bytes of the message; returns the events they complete. */
  push(chunk: Uint8Array): MimeEvent[] {
    if (this.#ended || chunk.length === 0) return [];
    this.#append(chunk);
    this.#run(false);
    this.#compact();
    return this.#takeEvents();
  }

  /** Ends the input: returns the remaining events, with every open part closed. */
  end(): MimeEvent[] {
    if (this.#ended) return [];
    this.#ended = true;
    this.#run(true);
    const end = this.#base + this.#pending.length;
    while (this.#stack.length > 0) this.#closeTop(end);
    this.#pending = new Uint8Array(0);
    this.#store = undefined;
    return this.#takeEvents();
  }

  #takeEvents(): MimeEvent[] {
    const events = this.#events;
    this.#events = [];
    return events;
  }

  #append(chunk: Uint8Array): void {
    const pending = this.#pending;
    if (pending.length === 0) {
      this.#pending = chunk;
      this.#store = undefined;
      return;
    }
    const length = pending.length + chunk.length;
    const store = this.#store;
    if (store && pending.buffer === store.buffer) {
      const used = pending.byteOffset - store.byteOffset + pending.length;
      if (used + chunk.length <= store.length) {
        store.set(chunk, used);
        this.#pending = store.subarray(used - pending.length, used + chunk.length);
        return;
      }
    }
    const grown = new Uint8Array(pending.length > chunk.length ? length * 2 : length);
    grown.set(pending);
    grown.set(chunk, pending.length);
    this.#store = grown;
    this.#pending = grown.subarray(0, length);
  }

  #compact(): void {
    const keep = this.#header ? this.#header.start : this.#pos;
    if (keep === this.#base) return;
    this.#pending = this.#pending.subarray(keep - this.#base);
    this.#base = keep;
  }

  #run(final: boolean): void {
    while (this.#header ? this.#scanHeader(this.#header, final) : this.#scanBody(final));
  }

  /** Looks for the end of a header block; returns true once the part is open. */
  #scanHeader(header: PendingHeader, final: boolean): boolean {
    const buf = this.#pending;
    const base = this.#base;
    const length = buf.length;
    const start = header.start - base;
    const maxSize = this.#limits.maxHeadersSize;
    let i = header.scan - base;
    for (;;) {
      if (i >= length) {
        if (final) return this.#openPart(header, length, length);
        header.scan = base + i;
        return false;
      }
      const byte = buf[i]!;
      if (byte === LF) return this.#openPart(header, i + 1, i + 1);
      if (byte === CR) {
        if (i + 1 < length) {
          if (buf[i + 1] === LF) return this.#openPart(header, i + 2, i + 2);
        } else if (!final) {
          header.scan = base + i;
          return false;
        }
      }
      if (byte === DASH && this.#boundaries.size > 0) {
        const delimiter = this.#delimiterAt(i, final);
        if (delimiter === 'more') {
          header.scan = base + i;
          return false;
        }
        if (delimiter) return this.#openPart(header, i, i);
      }
      const lf = buf.indexOf(LF, Math.max(i, header.searched - base));
      const lineEnd = lf === -1 ? length : lf + 1;
      if (lineEnd - start > maxSize) {
        this.#defect(
          'limit-maxHeadersSize',
          'the header block is too large; the rest is read as body',
          header.path,
        );
        const cut = i > start ? i : start + maxSize;
        return this.#openPart(header, cut, cut);
      }
      if (lf === -1) {
        if (final) return this.#openPart(header, length, length);
        header.scan = base + i;
        header.searched = base + length;
        return false;
      }
      i = lf + 1;
    }
  }

  /** Opens the part whose header block is `[start, blockEnd)`; its body begins at `bodyStart` at the latest. */
  #openPart(header: PendingHeader, blockEnd: number, bodyStart: number): true {
    const start = header.start - this.#base;
    const block: HeaderBlock = parseHeaderBlock(this.#pending.subarray(start, blockEnd), this.#limits);
    const bodyAt = this.#base + Math.min(start + block.bodyOffset, bodyStart);
    const path = header.path;
    for (const defect of block.defects)
      this.#events.push({ type: 'defect', defect: { ...defect, part: path } });
    this.#header = undefined;

    const fields = block.fields;
    const typeField = firstField(fields, 'content-type');
    const contentType = parseContentType(
      typeField?.value ?? (header.digest ? 'message/rfc822' : undefined),
      this.#limits,
    );
    if (typeField) for (const code of contentType.defects) this.#defect(code, `Content-Type: ${code}`, path);
    const dispositionField = firstField(fields, 'content-disposition');
    const disposition = dispositionField
      ? parseContentDisposition(dispositionField.value, this.#limits)
      : undefined;
    if (disposition)
      for (const code of disposition.defects) this.#defect(code, `Content-Disposition: ${code}`, path);
    const transferEncoding = readTransferEncoding(firstField(fields, 'content-transfer-encoding'));
    const boundary = contentType.type === 'multipart' ? this.#usableBoundary(contentType, header) : '';
    let structure: PartStructure = boundary ? 'multipart' : 'leaf';
    if (boundary && !IDENTITY_ENCODINGS.has(transferEncoding)) {
      this.#defect('encoded-multipart', `a multipart declares ${transferEncoding}; it is ignored`, path);
    }
    const mediaType = contentType.mediaType;
    if (
      (mediaType === 'message/rfc822' || mediaType === 'message/global') &&
      IDENTITY_ENCODINGS.has(transferEncoding) &&
      this.#roomToNest(header, 'an embedded message')
    ) {
      if (this.#parts < this.#limits.maxParts) structure = 'message';
      else this.#partsLimit();
    }

    this.#events.push({
      type: 'part',
      path,
      headers: fields,
      contentType,
      disposition,
      transferEncoding,
      structure,
      headerStart: header.start,
      bodyStart: bodyAt,
    });
    const leaf = structure === 'leaf';
    const frame: Frame = {
      path,
      depth: header.depth,
      structure,
      bodyStart: bodyAt,
      decoder: leaf && this.#decode ? createTransferDecoder(transferEncoding) : undefined,
      countLines: leaf && contentType.type === 'text',
      lines: 0,
      lastByte: -1,
      boundary,
      digest: structure === 'multipart' && contentType.subtype === 'digest',
      children: 0,
      closed: false,
    };
    if (structure === 'multipart') {
      if (this.#boundaries.overlaps(boundary)) {
        this.#defect('ambiguous-boundary', 'a boundary equals or prefixes an enclosing one', path);
      }
      const written = contentType.parameters.boundary!;
      this.#boundaries.add(boundary, this.#stack.length, written.endsWith(' ') || written.endsWith('\t'));
    }
    this.#stack.push(frame);
    this.#pos = bodyAt;
    this.#regionStart = bodyAt;
    if (structure === 'message') {
      this.#parts++;
      this.#header = {
        path,
        depth: header.depth + 1,
        start: bodyAt,
        digest: false,
        scan: bodyAt,
        searched: bodyAt,
      };
    }
    return true;
  }

  /** The boundary key of a multipart, or `''` when it must be read as an opaque leaf. */
  #usableBoundary(contentType: ContentType, header: PendingHeader): string {
    const boundary = contentType.parameters.boundary;
    if (!boundary) {
      this.#defect('missing-boundary', 'a multipart has no boundary; its body is kept opaque', header.path);
      return '';
    }
    // The Content-Type parser reports `limit-maxBoundaryLength` itself.
    if (boundary.length > this.#limits.maxBoundaryLength) return '';
    const key = BoundarySet.keyOf(boundary);
    if (key.length < boundary.length) {
      this.#defect(
        'boundary-whitespace',
        'a boundary ends in whitespace; it is matched without it',
        header.path,
      );
      if (key === '') return '';
    }
    return this.#roomToNest(header, 'a multipart') ? key : '';
  }

  #roomToNest(header: PendingHeader, what: string): boolean {
    if (header.depth < this.#limits.maxDepth) return true;
    this.#defect('limit-maxDepth', `${what} is nested too deep; its body is kept opaque`, header.path);
    return false;
  }

  #partsLimit(): void {
    if (this.#partsExceeded) return;
    this.#partsExceeded = true;
    this.#defect('limit-maxParts', 'too many parts; later delimiters are read as body', undefined);
  }

  /** Passes body data to the open part up to the next delimiter; returns true when one was found. */
  #scanBody(final: boolean): boolean {
    const buf = this.#pending;
    const length = buf.length;
    const from = this.#pos - this.#base;
    if (this.#boundaries.size === 0) {
      this.#emitBody(from, length);
      this.#pos = this.#base + length;
      return false;
    }
    let emitEnd = length;
    let search = from;
    for (;;) {
      const dash = buf.indexOf(DASH, search);
      if (dash === -1) break;
      search = dash + 2;
      if (dash + 1 >= length) {
        if (!final && this.#isLineStart(dash)) emitEnd = this.#lineEndingStart(dash, from);
        break;
      }
      if (buf[dash + 1] !== DASH || !this.#isLineStart(dash)) continue;
      const delimiter = this.#delimiterAt(dash, final);
      if (delimiter === 'more') {
        emitEnd = this.#lineEndingStart(dash, from);
        break;
      }
      if (!delimiter) continue;
      if (!delimiter.close && this.#parts >= this.#limits.maxParts) {
        this.#partsLimit();
        continue;
      }
      const bodyEnd = this.#lineEndingStart(dash, from);
      this.#emitBody(from, bodyEnd);
      this.#onDelimiter(delimiter, this.#base + bodyEnd);
      return true;
    }
    if (!final && length > from) {
      const last = buf[length - 1];
      if (last === CR) emitEnd = Math.min(emitEnd, length - 1);
      else if (last === LF) emitEnd = Math.min(emitEnd, this.#lineEndingStart(length, from));
    }
    this.#emitBody(from, emitEnd);
    this.#pos = this.#base + emitEnd;
    return false;
  }

  #isLineStart(index: number): boolean {
    return this.#base + index === this.#regionStart || (index > 0 && this.#pending[index - 1] === LF);
  }

  /** Where the line ending before the line starting at `index` begins (no earlier than `floor`). */
  #lineEndingStart(index: number, floor: number): number {
    const region = this.#regionStart - this.#base;
    if (index <= region || index <= floor) return index;
    const lf = index - 1;
    return lf - 1 >= floor && lf - 1 >= region && this.#pending[lf - 1] === CR ? lf - 1 : lf;
  }

  /** Matches the line at `index` (which starts with `--`) against the open boundaries. */
  #delimiterAt(index: number, final: boolean): Delimiter | undefined | 'more' {
    const buf = this.#pending;
    const window = this.#boundaries.maxLineLength;
    const limit = Math.min(buf.length, index + window);
    const lf = buf.subarray(index, limit).indexOf(LF);
    let lineEnd: number;
    let next: number;
    if (lf >= 0) {
      lineEnd = index + lf;
      next = lineEnd + 1;
    } else if (limit < index + window && final) {
      lineEnd = next = buf.length;
    } else {
      return limit < index + window ? 'more' : undefined;
    }
    const match = this.#boundaries.match(buf, index, lineEnd);
    const lineEnding =
      lineEnd > index && lineEnd < buf.length && buf[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
    return match && { ...match, next, lineEnding };
  }

  #onDelimiter(delimiter: Delimiter, bodyEnd: number): void {
    while (this.#stack.length - 1 > delimiter.owner) this.#closeTop(bodyEnd);
    const owner = this.#stack[delimiter.owner]!;
    if (delimiter.padded) this.#defect('boundary-padding', 'whitespace after a boundary', owner.path);
    if (delimiter.close) {
      // The close delimiter's line ending may be the CRLF of the enclosing multipart's next
      // delimiter (`--inner--` CRLF `--outer`): scanning resumes at it, so that it is not counted
      // in the inner multipart's body.
      const lineEnding = this.#base + delimiter.lineEnding;
      this.#pos = lineEnding;
      this.#regionStart = lineEnding;
      owner.closed = true;
      this.#boundaries.delete(owner.boundary, delimiter.owner);
      return;
    }
    const next = this.#base + delimiter.next;
    this.#pos = next;
    this.#regionStart = next;
    owner.children++;
    this.#parts++;
    const path = owner.path === '' ? `${owner.children}` : `${owner.path}.${owner.children}`;
    this.#header = {
      path,
      depth: owner.depth + 1,
      start: next,
      digest: owner.digest,
      scan: next,
      searched: next,
    };
  }

  #emitBody(from: number, to: number): void {
    if (to <= from) return;
    const frame = this.#stack[this.#stack.length - 1];
    if (frame?.structure !== 'leaf') return;
    const data = this.#pending.subarray(from, to);
    if (frame.countLines) {
      frame.lastByte = data[data.length - 1]!;
      if (frame.decoder?.lineFeeds === undefined) {
        for (let lf = data.indexOf(LF); lf !== -1; lf = data.indexOf(LF, lf + 1)) frame.lines++;
      }
    }
    if (!frame.decoder) {
      this.#events.push({ type: 'body', path: frame.path, data });
      return;
    }
    const decoded = frame.decoder.decode(data);
    if (decoded.length > 0) this.#events.push({ type: 'body', path: frame.path, data: decoded });
  }

  #closeTop(end: number): void {
    const frame = this.#stack.pop()!;
    const path = frame.path;
    if (frame.decoder) {
      if (frame.decoder.lineFeeds !== undefined) frame.lines = frame.decoder.lineFeeds;
      const rest = frame.decoder.end();
      if (rest.length > 0) this.#events.push({ type: 'body', path, data: rest });
      for (const code of frame.decoder.defects) this.#defect(code, `transfer decoding: ${code}`, path);
    }
    if (frame.structure === 'multipart') {
      if (frame.children === 0) this.#defect('no-parts', 'a multipart holds no delimiter', path);
      if (!frame.closed) {
        this.#defect('missing-end-boundary', 'a multipart has no close delimiter', path);
        this.#boundaries.delete(frame.boundary, this.#stack.length);
      }
    }
    const size = Math.max(0, end - frame.bodyStart);
    if (frame.countLines) {
      const lines = frame.lines + (size > 0 && frame.lastByte !== LF ? 1 : 0);
      this.#events.push({ type: 'part-end', path, end, size, lines });
    } else {
      this.#events.push({ type: 'part-end', path, end, size });
    }
  }

  #defect(code: string, message: string, part: string | undefined): void {
    const defect: Defect = part === undefined ? { code, message } : { code, message, part };
    this.#events.push({ type: 'defect', defect });
  }
}

function firstField(fields: readonly HeaderField[], key: string): HeaderField | undefined {
  for (const field of fields) if (field.key === key) return field;
  return undefined;
}

function readTransferEncoding(field: HeaderField | undefined): string {
  if (!field) return '7bit';
  const value = field.value.trim().toLowerCase();
  const end = value.search(/[\s(;]/);
  return (end === -1 ? value : value.slice(0, end)) || '7bit';
}

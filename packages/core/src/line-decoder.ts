import { CR, concatBytes, LF } from './bytes.js';
import { type BareLineEndingPolicy, DotStuffedDecoder } from './dot-stuffing.js';
import { BareLineEndingError, InvalidArgumentError, LineTooLongError } from './errors.js';

/**
 * How lines end: `crlf` requires CRLF and reports a stray CR or LF inside a line as an error;
 * `lenient` also accepts a bare LF as a line end (a CR before it is stripped) and keeps stray CRs.
 */
export type LineEndingMode = 'crlf' | 'lenient';

/** Options of {@link LineDecoder}. */
export interface LineDecoderOptions {
  /** Line-ending rules; default `crlf`. */
  mode?: LineEndingMode;
  /** The longest line accepted, in bytes without its line ending; default 8,192. */
  maxLineLength?: number;
}

/** A complete line, without its line ending. A view into the received bytes whenever it lay in one chunk. */
export interface LineEvent {
  /** A line. */
  readonly type: 'line';
  /** The line's bytes, without CRLF. */
  readonly line: Uint8Array;
}

/**
 * A piece of a counted byte run ({@link LineDecoder.readBytes}) or of a dot-stuffed block
 * ({@link LineDecoder.readDotBlock}), in arrival order, never buffered whole.
 */
export interface BytesEvent {
  /** Bytes of a run or block. */
  readonly type: 'bytes';
  /** The piece's bytes. */
  readonly data: Uint8Array;
  /** Bytes still to come in a counted run; `0` on its last piece. Always `-1` inside a dot-stuffed block. */
  readonly remaining: number;
}

/** The terminator of a dot-stuffed block was read; line decoding resumes. */
export interface BlockEndEvent {
  /** The end of a dot-stuffed block. */
  readonly type: 'block-end';
}

/**
 * A line (or a dot-stuffed block) broke a rule. A bad line has been discarded up to its line end
 * and decoding goes on with the next line, so the session stays in step.
 */
export interface DecodeErrorEvent {
  /** A broken rule. */
  readonly type: 'error';
  /** What was wrong. */
  readonly error: LineTooLongError | BareLineEndingError;
}

/** What {@link LineDecoder.next} returns. */
export type LineDecoderEvent = LineEvent | BytesEvent | BlockEndEvent | DecodeErrorEvent;

enum Mode {
  Lines,
  Count,
  Block,
}

/**
 * The sans-IO line decoder every protocol shares. Bytes go in with {@link push}, in any chunking;
 * events come out of {@link next} until it returns `undefined` (more bytes needed). Between two
 * events the caller may switch to a counted byte run (IMAP literals, SMTP BDAT) or a dot-stuffed
 * block (SMTP DATA, POP3 multi-line), which stream out as {@link BytesEvent}s.
 *
 * An over-long line is reported once, as soon as it passes the limit, and then discarded up to its
 * line end; memory stays bounded by the limit whatever the peer sends.
 */
export class LineDecoder {
  readonly #crlf: boolean;
  readonly #maxLineLength: number;
  #chunks: Uint8Array[] = [];
  #head = 0;
  #buffered = 0;
  /** The pieces of a line whose end has not arrived: none most of the time, so no array either. */
  #partial: Uint8Array[] | undefined;
  #partialLength = 0;
  #partialBareCr = false;
  #partialEndsWithCr = false;
  #discarding = false;
  #mode = Mode.Lines;
  #remaining = 0;
  #block: DotStuffedDecoder | undefined;
  /** Events of a dot-stuffed block decoded and not yet returned; made by the first block. */
  #blockQueue: LineDecoderEvent[] | undefined;

  constructor(options: LineDecoderOptions = {}) {
    this.#crlf = (options.mode ?? 'crlf') === 'crlf';
    this.#maxLineLength = options.maxLineLength ?? 8192;
    if (!Number.isInteger(this.#maxLineLength) || this.#maxLineLength < 1)
      throw new InvalidArgumentError('maxLineLength must be a positive integer');
  }

  /** Bytes received but not yet returned in an event (a partial line counts). */
  get buffered(): number {
    return this.#buffered + this.#partialLength;
  }

  /** Adds received bytes. The decoder keeps a reference: do not reuse the array afterwards. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /**
   * Streams the next `count` bytes out as {@link BytesEvent}s instead of decoding them as lines.
   * Call it between events, typically right after the line that announced the count.
   */
  readBytes(count: number): void {
    if (!Number.isSafeInteger(count) || count < 0)
      throw new InvalidArgumentError('byte count must be a safe integer ≥ 0');
    this.#assertLineMode();
    if (count === 0) return;
    this.#mode = Mode.Count;
    this.#remaining = count;
  }

  /**
   * Streams a dot-stuffed block out as unstuffed {@link BytesEvent}s, then a {@link BlockEndEvent}.
   * Only CRLF `.` CRLF ends it; stray CR and LF follow `bareLineEndings` (default `reject`, which
   * reports one error event and reads on to the true end).
   */
  readDotBlock(options: { bareLineEndings?: BareLineEndingPolicy; maxLineLength?: number } = {}): void {
    this.#assertLineMode();
    this.#mode = Mode.Block;
    this.#block = new DotStuffedDecoder(options);
  }

  /** Discards everything buffered and any mode switch: what a STARTTLS upgrade must do. */
  reset(): void {
    this.#chunks = [];
    this.#head = 0;
    this.#buffered = 0;
    this.#clearPartial();
    this.#discarding = false;
    this.#mode = Mode.Lines;
    this.#remaining = 0;
    this.#block = undefined;
    this.#blockQueue = undefined;
  }

  /** Returns the next event, or `undefined` when more bytes are needed. */
  next(): LineDecoderEvent | undefined {
    const queue = this.#blockQueue;
    if (queue !== undefined && queue.length > 0) return queue.shift();
    switch (this.#mode) {
      case Mode.Count:
        return this.#nextCounted();
      case Mode.Block:
        return this.#nextInBlock();
      default:
        return this.#nextLine();
    }
  }

  #assertLineMode(): void {
    if (this.#mode !== Mode.Lines)
      throw new InvalidArgumentError('the decoder is already reading a byte run or block');
  }

  #nextCounted(): BytesEvent | undefined {
    const chunk = this.#chunks[0];
    if (!chunk) return undefined;
    const take = Math.min(this.#remaining, chunk.length - this.#head);
    const data = chunk.subarray(this.#head, this.#head + take);
    this.#advance(take);
    this.#remaining -= take;
    if (this.#remaining === 0) this.#mode = Mode.Lines;
    return { type: 'bytes', data, remaining: this.#remaining };
  }

  #nextInBlock(): LineDecoderEvent | undefined {
    const block = this.#block!;
    this.#blockQueue ??= [];
    const queue = this.#blockQueue;
    while (this.#chunks.length > 0) {
      const chunk = this.#chunks[0]!;
      const result = block.decode(this.#head === 0 ? chunk : chunk.subarray(this.#head));
      this.#advance(result.consumed);
      result.data.forEach((data, index) => {
        if (index === result.errorIndex) queue.push({ type: 'error', error: result.error! });
        queue.push({ type: 'bytes', data, remaining: -1 });
      });
      if (result.error && result.errorIndex === result.data.length) {
        queue.push({ type: 'error', error: result.error });
      }
      if (result.done) {
        queue.push({ type: 'block-end' });
        this.#mode = Mode.Lines;
        this.#block = undefined;
      }
      const first = queue.shift();
      if (first) return first;
    }
    return undefined;
  }

  #nextLine(): LineEvent | DecodeErrorEvent | undefined {
    while (this.#chunks.length > 0) {
      const chunk = this.#chunks[0]!;
      const start = this.#head;
      const lf = chunk.indexOf(LF, start);
      if (lf === -1) {
        const overflow = this.#keepPartial(chunk.subarray(start));
        this.#advance(chunk.length - start);
        if (overflow) return overflow;
        continue;
      }
      if (this.#partialLength === 0 && !this.#discarding && lf > start && chunk[lf - 1] === CR) {
        const fast = this.#wholeLine(chunk, start, lf);
        if (fast) return fast;
        continue;
      }
      const crBefore = lf > start ? chunk[lf - 1] === CR : this.#partialEndsWithCr;
      const contentEnd = lf > start && crBefore ? lf - 1 : lf;
      const length = this.#partialLength + (contentEnd - start) - (lf === start && crBefore ? 1 : 0);
      let bareCr = this.#partialBareCr || (this.#partialEndsWithCr && lf > start);
      if (this.#crlf && crBefore && !bareCr && contentEnd > start) {
        // Stops at the CR before the LF at the latest, so the scan is linear.
        const cr = chunk.indexOf(CR, start);
        bareCr = cr !== -1 && cr < contentEnd;
      }
      this.#advance(lf + 1 - start);

      if (this.#discarding) {
        this.#discarding = false;
        this.#clearPartial();
        continue;
      }
      if (length > this.#maxLineLength) {
        this.#clearPartial();
        return { type: 'error', error: new LineTooLongError(this.#maxLineLength) };
      }
      if (this.#crlf && (bareCr || !crBefore)) {
        this.#clearPartial();
        return { type: 'error', error: new BareLineEndingError(bareCr ? 'CR' : 'LF') };
      }
      const partial = this.#partial;
      if (partial === undefined) return { type: 'line', line: chunk.subarray(start, contentEnd) };
      partial.push(chunk.subarray(start, contentEnd));
      const line = concatBytes(partial).subarray(0, length);
      this.#clearPartial();
      return { type: 'line', line };
    }
    return undefined;
  }

  /** The common case: a CRLF-ended line that lies whole in one chunk. */
  #wholeLine(chunk: Uint8Array, start: number, lf: number): LineEvent | DecodeErrorEvent {
    const contentEnd = lf - 1;
    this.#advance(lf + 1 - start);
    if (contentEnd - start > this.#maxLineLength) {
      return { type: 'error', error: new LineTooLongError(this.#maxLineLength) };
    }
    if (this.#crlf) {
      const cr = chunk.indexOf(CR, start);
      if (cr < contentEnd) return { type: 'error', error: new BareLineEndingError('CR') };
    }
    return { type: 'line', line: new Uint8Array(chunk.buffer, chunk.byteOffset + start, contentEnd - start) };
  }

  /** Holds bytes of a line whose end has not arrived; returns an error event when the line just became too long. */
  #keepPartial(piece: Uint8Array): DecodeErrorEvent | undefined {
    if (this.#discarding) return undefined;
    const cr = piece.indexOf(CR);
    if (this.#partialEndsWithCr || (cr !== -1 && cr < piece.length - 1)) this.#partialBareCr = true;
    this.#partialEndsWithCr = piece[piece.length - 1] === CR;
    this.#partial ??= [];
    this.#partial.push(piece);
    this.#partialLength += piece.length;
    if (this.#partialLength - (this.#partialEndsWithCr ? 1 : 0) > this.#maxLineLength) {
      this.#clearPartial();
      this.#discarding = true;
      return { type: 'error', error: new LineTooLongError(this.#maxLineLength) };
    }
    return undefined;
  }

  #clearPartial(): void {
    this.#partial = undefined;
    this.#partialLength = 0;
    this.#partialBareCr = false;
    this.#partialEndsWithCr = false;
  }

  #advance(count: number): void {
    this.#head += count;
    this.#buffered -= count;
    const chunk = this.#chunks[0];
    if (chunk && this.#head >= chunk.length) {
      this.#chunks.shift();
      this.#head = 0;
    }
  }
}

import { CR, CRLF, LF } from './bytes.js';
import { BareLineEndingError, LineTooLongError } from './errors.js';

const DOT = 0x2e;
const TERMINATOR = new Uint8Array([DOT, CR, LF]);
const CRLF_TERMINATOR = new Uint8Array([CR, LF, DOT, CR, LF]);
const CR_CRLF_TERMINATOR = new Uint8Array([CR, CR, LF, DOT, CR, LF]);
const crByte = new Uint8Array([CR]);
const lfByte = new Uint8Array([LF]);
/**
 * Chunks are scanned in pieces of at most this many bytes. A typed array's length is not known to fit
 * in 32 bits, and positions derived from it would make V8 compile the scanning loops on doubles, at
 * half the speed; a piece's length fits, and `length | 0` says so.
 */
const MAX_PIECE = 0x20000000;

/**
 * What a dot-stuffed block decoder does with a CR not followed by LF, or an LF not preceded by CR:
 * - `reject` (default): report a {@link BareLineEndingError}; the block is still read to its true end
 *   so that the session stays in step, and the caller refuses it.
 * - `normalize`: replace each stray CR or LF with CRLF in the output.
 * - `accept`: pass the stray byte through as content.
 *
 * Whatever the policy, only CRLF `.` CRLF ends a block, and only CRLF starts a line for unstuffing.
 */
export type BareLineEndingPolicy = 'reject' | 'normalize' | 'accept';

/** Options of {@link DotStuffedDecoder}. */
export interface DotStuffedDecoderOptions {
  /** What to do with a bare CR or LF in the content (default `reject`). */
  bareLineEndings?: BareLineEndingPolicy;
  /** Report a {@link LineTooLongError} (once) for a content line longer than this; default unlimited. */
  maxLineLength?: number;
}

/** The outcome of feeding one chunk to a {@link DotStuffedDecoder}. */
export interface DotDecodeResult {
  /** Unstuffed content, as views into the input wherever possible. */
  readonly data: Uint8Array[];
  /** True when the terminating CRLF `.` CRLF was found. */
  readonly done: boolean;
  /** How many bytes of the chunk were consumed; with `done`, the rest belongs to what follows the block. */
  readonly consumed: number;
  /** The first problem found in this chunk, if any (reported once per block). */
  readonly error?: BareLineEndingError | LineTooLongError;
  /** With `error`: how many entries of `data` come before the problem in the stream. */
  readonly errorIndex?: number;
}

enum State {
  /** In the middle of a line. */
  Text,
  /** At the start of a line (after CRLF, or at the start of the block). */
  LineStart,
  /** A `.` began the line. */
  Dot,
  /** A `.` then CR began the line. */
  DotCr,
  /** A CR was seen and its next byte is not yet known. */
  Cr,
}

/**
 * Streaming decoder for dot-stuffed blocks (SMTP DATA, POP3 multi-line responses). It removes the
 * stuffed dots and stops exactly at CRLF `.` CRLF, for any chunking of the input. The content it
 * yields includes the CRLF that ends the last line. An empty block is `.` CRLF at the start.
 */
export class DotStuffedDecoder {
  readonly #policy: BareLineEndingPolicy;
  readonly #maxLineLength: number;
  #state: State = State.LineStart;
  #lineLength = 0;
  #reported = false;
  #done = false;
  /** The problem found in the chunk being decoded, and how many pieces of its output come before it. */
  #error: BareLineEndingError | LineTooLongError | undefined;
  #errorIndex = 0;

  constructor(options: DotStuffedDecoderOptions = {}) {
    this.#policy = options.bareLineEndings ?? 'reject';
    this.#maxLineLength = options.maxLineLength ?? Number.POSITIVE_INFINITY;
  }

  /** True once the terminator has been seen. */
  get done(): boolean {
    return this.#done;
  }

  /** Decodes one chunk. After `done`, call {@link reset} before decoding another block. */
  decode(chunk: Uint8Array): DotDecodeResult {
    const data: Uint8Array[] = [];
    this.#error = undefined;
    let consumed = 0;
    do {
      const piece =
        consumed === 0 && chunk.length <= MAX_PIECE ? chunk : chunk.subarray(consumed, consumed + MAX_PIECE);
      consumed += this.#decodePiece(piece, data);
    } while (consumed < chunk.length && !this.#done);
    const error = this.#error;
    if (!error) return { data, done: this.#done, consumed };
    this.#error = undefined;
    return { data, done: this.#done, consumed, error, errorIndex: this.#errorIndex };
  }

  /** Prepares the decoder for a new block. */
  reset(): void {
    this.#state = State.LineStart;
    this.#lineLength = 0;
    this.#reported = false;
    this.#done = false;
  }

  /** Decodes a chunk of at most {@link MAX_PIECE} bytes into `data`; returns how many bytes it consumed. */
  #decodePiece(chunk: Uint8Array, data: Uint8Array[]): number {
    // `| 0` is exact here, and lets the compiler keep every position below in 32-bit integers.
    const length = chunk.length | 0;
    const max = this.#maxLineLength;
    const view = new DataView(chunk.buffer, chunk.byteOffset, length);
    let state = this.#state;
    let done = this.#done;
    // Kept input goes out in runs: `[runStart, pos)` is pending, and a byte that is dropped or replaced
    // cuts the run. The current line holds `lineLength` content bytes before `lineFrom`.
    let pos = 0;
    let runStart = 0;
    let lineLength = this.#lineLength;
    let lineFrom = 0;
    while (pos < length && !done) {
      if (state === State.Text) {
        const at = findLineByte(chunk, view, pos, length);
        if (lineLength + (at - lineFrom) > max && !this.#reported) {
          // Cut right before the first byte beyond the limit and report there.
          const limit = lineFrom + (max - lineLength);
          if (limit > runStart) {
            data.push(chunk.subarray(runStart, limit));
            runStart = limit;
          }
          this.#report(data, new LineTooLongError(max));
        }
        if (at === length) {
          pos = length;
        } else if (chunk[at] === CR && at + 1 === length) {
          // Whether this CR ends the line is known with the next chunk.
          if (at > runStart) data.push(chunk.subarray(runStart, at));
          lineLength += at - lineFrom;
          pos = runStart = lineFrom = length;
          state = State.Cr;
        } else if (chunk[at] === CR && chunk[at + 1] === LF) {
          pos = lineFrom = at + 2;
          lineLength = 0;
          if (pos === length) {
            state = State.LineStart;
          } else if (chunk[pos] === DOT) {
            if (pos > runStart) data.push(chunk.subarray(runStart, pos));
            pos = runStart = lineFrom = pos + 1;
            state = State.Dot;
          }
        } else {
          if (at > runStart) data.push(chunk.subarray(runStart, at));
          lineLength = this.#stray(data, chunk[at] === CR ? 'CR' : 'LF', lineLength + (at - lineFrom));
          pos = runStart = lineFrom = at + 1;
        }
        continue;
      }
      // At a line's start, after its leading dot, or after a CR held from the previous chunk; the
      // pending run is empty except at a line's start.
      const byte = chunk[pos];
      if (state === State.LineStart) {
        if (byte === DOT) {
          if (pos > runStart) data.push(chunk.subarray(runStart, pos));
          pos = runStart = lineFrom = pos + 1;
          state = State.Dot;
        } else {
          state = State.Text;
        }
      } else if (state === State.Dot) {
        if (byte === CR) {
          pos = runStart = lineFrom = pos + 1;
          state = State.DotCr;
        } else {
          state = State.Text;
        }
      } else if (byte === LF) {
        if (state === State.DotCr) {
          done = true;
        } else {
          data.push(CRLF);
          lineLength = 0;
          state = State.LineStart;
        }
        pos = runStart = lineFrom = pos + 1;
      } else {
        lineLength = this.#stray(data, 'CR', lineLength);
        state = State.Text;
      }
    }
    if (pos > runStart) data.push(chunk.subarray(runStart, pos));
    this.#state = state;
    this.#done = done;
    this.#lineLength = lineLength + (pos - lineFrom);
    return pos;
  }

  /** Records the block's first problem, placed after the pieces already in `data`. */
  #report(data: Uint8Array[], problem: BareLineEndingError | LineTooLongError): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#error = problem;
    this.#errorIndex = data.length;
  }

  /** Handles a stray CR or LF that follows `lineLength` content bytes of its line; returns the line's new length. */
  #stray(data: Uint8Array[], ending: 'CR' | 'LF', lineLength: number): number {
    if (this.#policy === 'normalize') {
      data.push(CRLF);
      return 0;
    }
    if (!this.#reported) {
      if (this.#policy === 'reject') {
        this.#report(data, new BareLineEndingError(ending));
      } else if (lineLength >= this.#maxLineLength) {
        this.#report(data, new LineTooLongError(this.#maxLineLength));
      }
    }
    data.push(ending === 'CR' ? crByte : lfByte);
    return lineLength + 1;
  }
}

/** Options of {@link DotStuffedEncoder}. */
export interface DotStuffedEncoderOptions {
  /**
   * Rewrite every stray CR or LF as CRLF before stuffing (default `true`). With `false` stray bytes
   * are sent as they are, which a receiver that treats bare LF as a line end may misread.
   */
  normalize?: boolean;
}

/**
 * Streaming encoder for dot-stuffed blocks: doubles a `.` at the start of every line, by default
 * turns stray CR and LF into CRLF first (so its output never holds a bare CR or LF), and ends the
 * block with CRLF `.` CRLF, adding the CRLF that ends the last line when the content lacks it.
 */
export class DotStuffedEncoder {
  readonly #normalize: boolean;
  #atLineStart = true;
  #pendingCr = false;

  constructor(options: DotStuffedEncoderOptions = {}) {
    this.#normalize = options.normalize ?? true;
  }

  /** Encodes one chunk of content; returns the pieces to write, as views into the input where possible. */
  encode(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (chunk.length <= MAX_PIECE) {
      this.#encodePiece(chunk, out);
    } else {
      for (let offset = 0; offset < chunk.length; offset += MAX_PIECE) {
        this.#encodePiece(chunk.subarray(offset, offset + MAX_PIECE), out);
      }
    }
    return out;
  }

  /** Ends the block: the CRLF the last line may lack, then `.` CRLF. */
  end(): Uint8Array {
    const pendingCr = this.#pendingCr;
    const atLineStart = this.#atLineStart;
    this.#pendingCr = false;
    this.#atLineStart = true;
    if (pendingCr) return this.#normalize ? CRLF_TERMINATOR : CR_CRLF_TERMINATOR;
    return atLineStart ? TERMINATOR : CRLF_TERMINATOR;
  }

  /** Encodes a chunk of at most {@link MAX_PIECE} bytes into `out`. */
  #encodePiece(chunk: Uint8Array, out: Uint8Array[]): void {
    // `| 0` is exact here, and lets the compiler keep every position below in 32-bit integers.
    const length = chunk.length | 0;
    if (length === 0) return;
    const normalize = this.#normalize;
    let atLineStart = this.#atLineStart;
    let pos = 0;
    if (this.#pendingCr) {
      this.#pendingCr = false;
      if (chunk[0] === LF) {
        out.push(CRLF);
        atLineStart = true;
        pos = 1;
      } else if (normalize) {
        out.push(CRLF);
        atLineStart = true;
      } else {
        out.push(crByte);
      }
    }
    const view = new DataView(chunk.buffer, chunk.byteOffset, length);
    // `[start, pos)` is the run of input not yet handed out.
    let start = pos;
    while (pos < length) {
      if (atLineStart) {
        atLineStart = false;
        // The run goes out up to and including the dot, and the next one starts at the same dot.
        if (chunk[pos] === DOT) {
          out.push(chunk.subarray(start, pos + 1));
          start = pos;
        }
      }
      const at = findLineByte(chunk, view, pos, length);
      if (at === length) {
        pos = length;
      } else if (chunk[at] === CR && at + 1 === length) {
        // Whether this CR is stray is known with the next chunk.
        if (at > start) out.push(chunk.subarray(start, at));
        this.#pendingCr = true;
        pos = start = length;
      } else if (chunk[at] === CR && chunk[at + 1] === LF) {
        pos = at + 2;
        atLineStart = true;
      } else if (normalize) {
        if (at > start) out.push(chunk.subarray(start, at));
        out.push(CRLF);
        atLineStart = true;
        pos = start = at + 1;
      } else {
        pos = at + 1;
      }
    }
    if (pos > start) out.push(chunk.subarray(start, pos));
    this.#atLineStart = atLineStart;
  }
}

/** 14 in every byte of a word. */
const FOURTEENS = 0x0e0e0e0e;
/** The high bit of every byte of a word. */
const HIGH_BITS = 0x80808080;

/**
 * The index of the first CR or LF in `bytes[from, end)`, or `end`. It reads eight bytes at a time
 * through `view` (over the same bytes), which is fast on any `Uint8Array`, where `indexOf` is fast on
 * a Node `Buffer` only. In a little-endian word, `(word - FOURTEENS) & ~word & HIGH_BITS` flags the
 * first byte below 14 exactly (a borrow only ever flags bytes after it), which is then checked for
 * CR or LF.
 */
function findLineByte(bytes: Uint8Array, view: DataView, from: number, end: number): number {
  let at = from;
  while (at + 8 <= end) {
    const low = view.getInt32(at, true);
    const high = view.getInt32(at + 4, true);
    const lowFound = (low - FOURTEENS) & ~low & HIGH_BITS;
    const highFound = (high - FOURTEENS) & ~high & HIGH_BITS;
    if ((lowFound | highFound) === 0) {
      at += 8;
      continue;
    }
    at += lowFound !== 0 ? firstFlagged(lowFound) : 4 + firstFlagged(highFound);
    const byte = bytes[at];
    if (byte === CR || byte === LF) return at;
    at++;
  }
  for (; at < end; at++) {
    const byte = bytes[at];
    if (byte === CR || byte === LF) return at;
  }
  return end;
}

/** The index of the lowest byte whose high bit is set in a word of such flags. */
function firstFlagged(flags: number): number {
  return (31 - Math.clz32(flags & -flags)) >>> 3;
}

import { CR, CRLF, LF } from './bytes.js';
import { BareLineEndingError, LineTooLongError } from './errors.js';

const DOT = 0x2e;
const TERMINATOR = new Uint8Array([DOT, CR, LF]);
const CRLF_TERMINATOR = new Uint8Array([CR, LF, DOT, CR, LF]);
const CR_CRLF_TERMINATOR = new Uint8Array([CR, CR, LF, DOT, CR, LF]);
const crByte = new Uint8Array([CR]);
const lfByte = new Uint8Array([LF]);
const dotByte = new Uint8Array([DOT]);

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
    let error: BareLineEndingError | LineTooLongError | undefined;
    let errorIndex = 0;
    // Text that follows on in the chunk is gathered as one run `[runStart, runEnd)` and goes out as one
    // piece when something else comes (a CRLF of its own, a stray byte, an error) or the chunk ends.
    let runStart = -1;
    let runEnd = -1;
    const flushRun = () => {
      if (runStart >= 0) data.push(chunk.subarray(runStart, runEnd));
      runStart = -1;
    };
    const emit = (piece: Uint8Array) => {
      flushRun();
      data.push(piece);
    };
    const report = (problem: BareLineEndingError | LineTooLongError) => {
      if (!this.#reported) {
        flushRun();
        this.#reported = true;
        error = problem;
        errorIndex = data.length;
      }
    };
    const stray = (ending: 'CR' | 'LF', byte: Uint8Array) => {
      if (this.#policy === 'normalize') {
        emit(CRLF);
        this.#lineLength = 0;
        return;
      }
      if (this.#policy === 'reject') report(new BareLineEndingError(ending));
      if (++this.#lineLength > this.#maxLineLength) report(new LineTooLongError(this.#maxLineLength));
      emit(byte);
    };
    /**
     * Emits `chunk[start, end)`, of which `[start, contentEnd)` counts toward the line length; a line
     * that passes the limit is reported right before its first byte beyond it.
     */
    const text = (start: number, end: number, contentEnd = end) => {
      if (end <= start) return;
      const room = this.#maxLineLength - this.#lineLength;
      this.#lineLength += contentEnd - start;
      if (this.#lineLength > this.#maxLineLength && !this.#reported) {
        if (room > 0) emit(chunk.subarray(start, start + room));
        report(new LineTooLongError(this.#maxLineLength));
        start += Math.max(room, 0);
      }
      if (runStart >= 0 && runEnd === start) {
        runEnd = end;
      } else {
        flushRun();
        runStart = start;
        runEnd = end;
      }
    };

    let pos = 0;
    const length = chunk.length;
    const scan = new ByteScanner(chunk);
    while (pos < length && !this.#done) {
      switch (this.#state) {
        case State.LineStart: {
          if (chunk[pos] === DOT) {
            this.#state = State.Dot;
            pos++;
          } else {
            this.#state = State.Text;
          }
          break;
        }
        case State.Dot: {
          if (chunk[pos] === CR) {
            this.#state = State.DotCr;
            pos++;
          } else {
            this.#state = State.Text;
          }
          break;
        }
        case State.DotCr: {
          if (chunk[pos] === LF) {
            this.#done = true;
            pos++;
          } else {
            stray('CR', crByte);
            this.#state = State.Text;
          }
          break;
        }
        case State.Cr: {
          if (chunk[pos] === LF) {
            emit(CRLF);
            this.#lineLength = 0;
            this.#state = State.LineStart;
            pos++;
          } else {
            stray('CR', crByte);
            this.#state = State.Text;
          }
          break;
        }
        case State.Text: {
          const cr = scan.nextCr(pos);
          const lf = scan.nextLf(pos);
          if (lf !== -1 && (cr === -1 || lf < cr)) {
            text(pos, lf);
            stray('LF', lfByte);
            pos = lf + 1;
          } else if (cr === -1) {
            text(pos, length);
            pos = length;
          } else if (cr + 1 < length) {
            if (chunk[cr + 1] === LF) {
              text(pos, cr + 2, cr);
              this.#lineLength = 0;
              this.#state = State.LineStart;
              pos = cr + 2;
            } else {
              text(pos, cr);
              stray('CR', crByte);
              pos = cr + 1;
            }
          } else {
            text(pos, cr);
            this.#state = State.Cr;
            pos = length;
          }
          break;
        }
      }
    }
    flushRun();
    const result = { data, done: this.#done, consumed: pos };
    return error ? { ...result, error, errorIndex } : result;
  }

  /** Prepares the decoder for a new block. */
  reset(): void {
    this.#state = State.LineStart;
    this.#lineLength = 0;
    this.#reported = false;
    this.#done = false;
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
    const length = chunk.length;
    if (length === 0) return out;
    let pos = 0;
    if (this.#pendingCr) {
      this.#pendingCr = false;
      if (chunk[0] === LF) {
        out.push(CRLF);
        this.#atLineStart = true;
        pos = 1;
      } else {
        this.#stray(out, crByte);
      }
    }
    let start = pos;
    const scan = new ByteScanner(chunk);
    while (pos < length) {
      if (this.#atLineStart) {
        this.#atLineStart = false;
        if (chunk[pos] === DOT) {
          if (pos > start) out.push(chunk.subarray(start, pos));
          out.push(dotByte);
          start = pos;
        }
      }
      const cr = scan.nextCr(pos);
      const lf = scan.nextLf(pos);
      if (lf !== -1 && (cr === -1 || lf < cr)) {
        if (lf > start) out.push(chunk.subarray(start, lf));
        this.#stray(out, lfByte);
        pos = start = lf + 1;
      } else if (cr === -1) {
        pos = length;
      } else if (cr + 1 === length) {
        if (cr > start) out.push(chunk.subarray(start, cr));
        this.#pendingCr = true;
        pos = start = length;
      } else if (chunk[cr + 1] === LF) {
        pos = cr + 2;
        this.#atLineStart = true;
      } else {
        if (cr > start) out.push(chunk.subarray(start, cr));
        this.#stray(out, crByte);
        pos = start = cr + 1;
      }
    }
    if (pos > start) out.push(chunk.subarray(start, pos));
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

  #stray(out: Uint8Array[], byte: Uint8Array): void {
    if (this.#normalize) {
      out.push(CRLF);
      this.#atLineStart = true;
    } else {
      out.push(byte);
    }
  }
}

/**
 * Finds the next CR and LF at or after a position, remembering earlier answers so that a chunk
 * full of one of them is still scanned in linear time.
 */
class ByteScanner {
  readonly #chunk: Uint8Array;
  #cr = -2;
  #lf = -2;

  constructor(chunk: Uint8Array) {
    this.#chunk = chunk;
  }

  nextCr(from: number): number {
    if (this.#cr !== -1 && this.#cr < from) this.#cr = this.#chunk.indexOf(CR, from);
    return this.#cr;
  }

  nextLf(from: number): number {
    if (this.#lf !== -1 && this.#lf < from) this.#lf = this.#chunk.indexOf(LF, from);
    return this.#lf;
  }
}

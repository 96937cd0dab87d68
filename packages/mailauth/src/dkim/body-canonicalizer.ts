import { InvalidArgumentError } from '@postwire/core';
import type { DkimCanonicalization } from './canonicalization.js';

const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const EMPTY = new Uint8Array(0);

/** Options of {@link DkimBodyCanonicalizer}. */
export interface DkimBodyCanonicalizerOptions {
  /** `l=`: how many canonical bytes to emit at most; the rest are counted (see `length`), not emitted. */
  limit?: number;
}

/**
 * Streaming canonicalizer of a message body (RFC 6376 §3.4.3, §3.4.4), fed chunks of any size; any
 * chunking gives the same bytes. Lines end with CRLF; a bare CR or LF is an ordinary byte. `simple`
 * removes the empty lines at the end and ends the body with CRLF (an empty body is one CRLF).
 * `relaxed` also turns each run of SP and HTAB into one SP, removes it at the end of a line, and
 * leaves an empty body empty. It holds back only a count of CRLFs (empty lines that may turn out to be
 * trailing) and whether a white space run or a CR is pending, so its memory stays constant.
 */
export class DkimBodyCanonicalizer {
  readonly #relaxed: boolean;
  readonly #limit: number;
  /** Canonical bytes produced so far, the limit not applied. */
  #length = 0;
  /** Line endings seen but not emitted: the last non-empty line's, then empty lines. */
  #pendingLineEnds = 0;
  /** A CR was the last byte, and whether an LF follows is not known yet. */
  #pendingCr = false;
  /** Relaxed: SP or HTAB seen since the last emitted byte of this line. */
  #pendingSpace = false;
  #ended = false;

  constructor(algorithm: DkimCanonicalization, options: DkimBodyCanonicalizerOptions = {}) {
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (limit !== Number.POSITIVE_INFINITY && !(Number.isSafeInteger(limit) && limit >= 0)) {
      throw new InvalidArgumentError(`the body length limit must be a non-negative integer: ${limit}`);
    }
    this.#relaxed = algorithm === 'relaxed';
    this.#limit = limit;
  }

  /** The length of the canonical body so far, the limit not applied; after {@link end}, the whole body's. */
  get length(): number {
    return this.#length;
  }

  /** Canonicalizes one chunk; returns the canonical bytes it completes, within the limit. */
  update(chunk: Uint8Array): Uint8Array {
    if (this.#ended) throw new InvalidArgumentError('the body canonicalizer has already ended');
    // Each input byte gives at most one output byte, besides what was held back before this chunk.
    const output = new Output(this.#capacity(chunk.length + 2 * this.#pendingLineEnds + 2));
    for (const byte of chunk) {
      if (this.#pendingCr) {
        this.#pendingCr = false;
        if (byte === LF) {
          this.#pendingLineEnds++;
          this.#pendingSpace = false;
          continue;
        }
        this.#emit(output, CR);
      }
      if (byte === CR) this.#pendingCr = true;
      else if (this.#relaxed && (byte === SPACE || byte === TAB)) this.#pendingSpace = true;
      else this.#emit(output, byte);
    }
    return output.bytes();
  }

  /** Ends the body: returns its last canonical bytes, within the limit. */
  end(): Uint8Array {
    if (this.#ended) throw new InvalidArgumentError('the body canonicalizer has already ended');
    this.#ended = true;
    // Held-back line ends, a space and a CR, then the last CRLF.
    const output = new Output(this.#capacity(2 * this.#pendingLineEnds + 4));
    if (this.#pendingCr) this.#emit(output, CR);
    // Trailing empty lines are dropped; the last line ends with CRLF; an empty body is CRLF in simple.
    if (this.#length > 0 || !this.#relaxed) {
      output.push(CR);
      output.push(LF);
      this.#length += 2;
    }
    return output.bytes();
  }

  /** Emits the line ends and the white space held back, then `byte`. */
  #emit(output: Output, byte: number): void {
    const lineEnds = this.#pendingLineEnds;
    if (lineEnds > 0) {
      output.pushLineEnds(lineEnds);
      this.#length += 2 * lineEnds;
      this.#pendingLineEnds = 0;
    }
    if (this.#pendingSpace) {
      output.push(SPACE);
      this.#length++;
      this.#pendingSpace = false;
    }
    output.push(byte);
    this.#length++;
  }

  /** The room needed for at most `bytes` more canonical bytes, within the limit. */
  #capacity(bytes: number): number {
    return Math.max(0, Math.min(bytes, this.#limit - this.#length));
  }
}

/** The bytes one call emits, sized to stop where the limit is reached: what does not fit is dropped. */
class Output {
  readonly #buffer: Uint8Array;
  #written = 0;

  constructor(capacity: number) {
    this.#buffer = capacity === 0 ? EMPTY : new Uint8Array(capacity);
  }

  push(byte: number): void {
    if (this.#written < this.#buffer.length) this.#buffer[this.#written++] = byte;
  }

  /** Pushes `count` CRLFs. */
  pushLineEnds(count: number): void {
    const room = Math.min(2 * count, this.#buffer.length - this.#written);
    for (let i = 0; i < room; i++) this.#buffer[this.#written++] = i % 2 === 0 ? CR : LF;
  }

  bytes(): Uint8Array {
    return this.#buffer.subarray(0, this.#written);
  }
}

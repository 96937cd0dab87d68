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
    // State in locals for the byte loop: held-back CRLFs, a CR whose LF is not known yet, a white space run.
    let lineEnds = this.#pendingLineEnds;
    let pendingCr = this.#pendingCr;
    let pendingSpace = this.#pendingSpace;
    const relaxed = this.#relaxed;
    const length = chunk.length;
    const clean = lineEnds === 0 && !pendingCr && !pendingSpace;
    const firstRunEnd = clean ? this.#runEnd(chunk, 0) : 0;
    // A chunk that comes out as it went in (most of a body, chunk after chunk) is not copied.
    if (firstRunEnd === length) return this.#within(chunk);
    // Each input byte gives at most one output byte, besides what was held back before this chunk.
    const out = new Uint8Array(length + 2 * lineEnds + 2);
    let written = 0;
    for (let i = 0; i < length; i++) {
      if (lineEnds === 0 && !pendingCr && !pendingSpace) {
        const end = i === 0 ? firstRunEnd : this.#runEnd(chunk, i);
        if (end > i) {
          out.set(chunk.subarray(i, end), written);
          written += end - i;
          i = end;
          if (i === length) break;
        }
      }
      const byte = chunk[i]!;
      if (pendingCr) {
        pendingCr = false;
        if (byte === LF) {
          lineEnds++;
          pendingSpace = false;
          continue;
        }
        // A bare CR is an ordinary byte.
        for (; lineEnds > 0; lineEnds--) {
          out[written++] = CR;
          out[written++] = LF;
        }
        if (pendingSpace) {
          out[written++] = SPACE;
          pendingSpace = false;
        }
        out[written++] = CR;
      }
      if (byte === CR) {
        pendingCr = true;
      } else if (relaxed && (byte === SPACE || byte === TAB)) {
        pendingSpace = true;
      } else {
        for (; lineEnds > 0; lineEnds--) {
          out[written++] = CR;
          out[written++] = LF;
        }
        if (pendingSpace) {
          out[written++] = SPACE;
          pendingSpace = false;
        }
        out[written++] = byte;
      }
    }
    this.#pendingLineEnds = lineEnds;
    this.#pendingCr = pendingCr;
    this.#pendingSpace = pendingSpace;
    return this.#within(out.subarray(0, written));
  }

  /** Ends the body: returns its last canonical bytes, within the limit. */
  end(): Uint8Array {
    if (this.#ended) throw new InvalidArgumentError('the body canonicalizer has already ended');
    this.#ended = true;
    // Trailing empty lines are dropped. A last line without its CRLF keeps its bytes: in relaxed, white space
    // there is not at the end of a line, so a run of it is one SP (as dkimpy reads RFC 6376 §3.4.4); a bare
    // CR stays a CR. The line ends held back before it are written first.
    const out: number[] = [];
    if (this.#pendingCr || this.#pendingSpace) {
      for (let i = 0; i < this.#pendingLineEnds; i++) out.push(CR, LF);
      if (this.#pendingSpace) out.push(SPACE);
      if (this.#pendingCr) out.push(CR);
    }
    // The last line ends with CRLF; an empty body is CRLF in simple and stays empty in relaxed.
    if (this.#length + out.length > 0 || !this.#relaxed) out.push(CR, LF);
    return this.#within(Uint8Array.from(out));
  }

  /**
   * Where the run of bytes from `start` that come out as they went in ends, with nothing held back before
   * it: it stops at a CR, except in a CRLF followed by a byte that starts a non-empty line (that CRLF is
   * emitted as it is); in relaxed, also at HTAB and at a SP that is not a lone one between two other bytes.
   */
  #runEnd(chunk: Uint8Array, start: number): number {
    const length = chunk.length;
    let end = start;
    if (this.#relaxed) {
      for (; end < length; end++) {
        const byte = chunk[end]!;
        if (byte === CR) {
          const next = chunk[end + 2];
          if (chunk[end + 1] !== LF || next === undefined || next === CR || next === SPACE || next === TAB)
            break;
          end++;
        } else if (byte === TAB) {
          break;
        } else if (byte === SPACE) {
          const next = chunk[end + 1];
          if (next === undefined || next === SPACE || next === TAB || next === CR) break;
        }
      }
      return end;
    }
    for (;;) {
      end = chunk.indexOf(CR, end);
      if (end < 0) return length;
      const next = chunk[end + 2];
      if (chunk[end + 1] !== LF || next === undefined || next === CR) return end;
      end += 2;
    }
  }

  /** Counts `canonical` into the length and returns the part of it within the limit. */
  #within(canonical: Uint8Array): Uint8Array {
    const room = this.#limit - this.#length;
    this.#length += canonical.length;
    if (room >= canonical.length) return canonical;
    return room > 0 ? canonical.subarray(0, room) : EMPTY;
  }
}

const LF = 0x0a;
const CR = 0x0d;
const EMPTY = new Uint8Array(0);

/**
 * Cuts a message, as it streams past, to what TOP sends (RFC 1939 §7): the header, the blank line that
 * ends it, and the first `lines` lines of the body. A line of nothing but CR counts as blank; a message
 * without a blank line is all header.
 */
export class TopFilter {
  #lines: number;
  #inHeader = true;
  /** True while the current header line has held nothing but CR so far. */
  #blank = true;
  #done = false;

  constructor(lines: number) {
    this.#lines = lines;
  }

  /** True once everything TOP sends has passed: further chunks are not needed. */
  get done(): boolean {
    return this.#done;
  }

  /** The part of the next chunk that TOP sends (a view into it). */
  push(chunk: Uint8Array): Uint8Array {
    if (this.#done) return EMPTY;
    let from = 0;
    for (;;) {
      const lf = chunk.indexOf(LF, from);
      if (lf === -1) {
        if (this.#inHeader && hasContent(chunk, from, chunk.length)) this.#blank = false;
        return chunk;
      }
      if (this.#inHeader) {
        const blank = this.#blank && !hasContent(chunk, from, lf);
        this.#blank = true;
        if (blank) {
          this.#inHeader = false;
          if (this.#lines === 0) return this.#finish(chunk, lf);
        }
      } else if (--this.#lines === 0) {
        return this.#finish(chunk, lf);
      }
      from = lf + 1;
    }
  }

  #finish(chunk: Uint8Array, lf: number): Uint8Array {
    this.#done = true;
    return chunk.subarray(0, lf + 1);
  }
}

/** True when `chunk[from, to)` holds a byte other than CR. */
function hasContent(chunk: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (chunk[i] !== CR) return true;
  return false;
}

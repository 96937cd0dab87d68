import { CR, LF } from '@postwire/core';

/**
 * Calls `bare` with the position of every CR not followed by LF and every LF not preceded by CR, in order,
 * scanning with `indexOf` so that clean text costs little more than a search.
 */
function forEachBareEnding(bytes: Uint8Array, bare: (position: number) => void): void {
  let cr = bytes.indexOf(CR);
  let lf = bytes.indexOf(LF);
  while (cr !== -1 || lf !== -1) {
    if (lf === -1 || (cr !== -1 && cr < lf)) {
      if (lf === cr + 1) lf = bytes.indexOf(LF, lf + 1);
      else bare(cr);
      cr = bytes.indexOf(CR, cr + 1);
    } else {
      bare(lf);
      lf = bytes.indexOf(LF, lf + 1);
    }
  }
}

/**
 * Rewrites every bare LF and bare CR as CRLF. Returns `bytes` itself when every line ending is already
 * CRLF; otherwise a new array.
 */
export function toCrlf(bytes: Uint8Array): Uint8Array {
  let count = 0;
  forEachBareEnding(bytes, () => {
    count++;
  });
  if (count === 0) return bytes;
  const out = new Uint8Array(bytes.length + count);
  let from = 0;
  let o = 0;
  forEachBareEnding(bytes, (position) => {
    out.set(bytes.subarray(from, position), o);
    o += position - from;
    out[o++] = CR;
    out[o++] = LF;
    from = position + 1;
  });
  out.set(bytes.subarray(from), o);
  return out;
}

/**
 * Streaming {@link toCrlf}: any chunking gives the same bytes as `toCrlf` of the whole, including a CR at
 * the end of one chunk and an LF at the start of the next. A chunk that needs no change is returned as it is.
 */
export class CrlfNormalizer {
  /** The previous chunk ended with a CR, already written as CRLF: an LF next belongs to it. */
  #afterCr = false;

  /** Normalises one chunk. */
  normalize(chunk: Uint8Array): Uint8Array {
    if (chunk.length === 0) return chunk;
    const input = this.#afterCr && chunk[0] === LF ? chunk.subarray(1) : chunk;
    this.#afterCr = chunk[chunk.length - 1] === CR;
    return toCrlf(input);
  }

  /** Forgets the last chunk, ready for another stream. */
  reset(): void {
    this.#afterCr = false;
  }
}

import { concatBytes } from '@postwire/core';
import fc from 'fast-check';

/** Cut points, as fractions of the input's length, so that any input can be cut by them. */
export const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 });

/** Splits `bytes` at the given fractions of its length (empty chunks included). */
export function splitAt(bytes: Uint8Array, fractions: readonly number[]): Uint8Array[] {
  const positions = fractions.map((fraction) => Math.floor(fraction * bytes.length)).sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const position of positions) {
    chunks.push(bytes.subarray(start, position));
    start = position;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

/** Splits `bytes` into chunks of one byte. */
export function bytewise(bytes: Uint8Array): Uint8Array[] {
  return Array.from(bytes, (_, index) => bytes.subarray(index, index + 1));
}

/** Something with the streaming shape of the transfer codecs. */
interface Streaming {
  end(): Uint8Array;
}

/** Runs a decoder or encoder over chunks and joins its output. */
export function run<T extends Streaming>(
  codec: T,
  step: (codec: T, chunk: Uint8Array) => Uint8Array,
  chunks: readonly Uint8Array[],
): Uint8Array {
  const out = chunks.map((chunk) => step(codec, chunk));
  out.push(codec.end());
  return concatBytes(out);
}

/** The bytes of a Latin-1 string. */
export function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

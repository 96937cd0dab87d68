import { concatBytes } from '@postwire/core';
import fc from 'fast-check';
import { splitAt as splitAtOffsets } from '../support/chunks.js';

export { latin1 } from '../support/chunks.js';

/** Cut points, as fractions of the input's length, so that any input can be cut by them. */
export const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 });

/** Splits `bytes` at the given fractions of its length. */
export function splitAt(bytes: Uint8Array, fractions: readonly number[]): Uint8Array[] {
  return splitAtOffsets(
    bytes,
    fractions.map((fraction) => Math.floor(fraction * bytes.length)),
  );
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

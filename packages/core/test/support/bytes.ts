/** Latin-1 bytes of a test string: one byte per character, so any byte value can be written. */
export function bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** Splits bytes at the given cut points (taken modulo the length), for chunking properties. */
export function splitAt(input: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  if (input.length === 0) return [input];
  const points = [...new Set(cuts.map((cut) => cut % input.length))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of points) {
    if (point > start) chunks.push(input.subarray(start, point));
    start = Math.max(start, point);
  }
  chunks.push(input.subarray(start));
  return chunks;
}

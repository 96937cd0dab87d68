import { concatBytes, decodeUtf8, decodeUtf8Strict } from '@postwire/core';
import { decodeWindows1252 } from './windows-1252.js';

/**
 * The rule for text whose charset is missing or unknown: UTF-8 up to the first byte sequence that
 * is not valid UTF-8, windows-1252 from that sequence on. When the text before the first invalid
 * byte is ASCII (the usual case for Latin-1 mail) this is exactly "UTF-8 if the bytes are valid
 * UTF-8, else windows-1252"; deciding per position lets a streaming decoder commit text before it
 * has seen the end, and gives the same text for any chunking.
 */

/** Decodes with the UTF-8-then-windows-1252 rule; `charset` is the last encoding used. */
export function decodeUtf8OrWindows1252(bytes: Uint8Array): { text: string; charset: string } {
  const text = decodeUtf8Strict(bytes);
  if (text !== undefined) return { text, charset: 'utf-8' };
  return { text: decodeFromInvalid(bytes), charset: 'windows-1252' };
}

/** The UTF-8 text before the first invalid sequence, then windows-1252 for the rest. */
function decodeFromInvalid(bytes: Uint8Array): string {
  const bad = firstInvalidUtf8(bytes);
  return decodeUtf8(bytes.subarray(0, bad)) + decodeWindows1252(bytes.subarray(bad));
}

/**
 * The offset where the first invalid UTF-8 sequence starts (a truncated sequence at the end
 * counts as invalid), or `bytes.length` when all of it is valid.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const length = bytes.length;
  let i = 0;
  while (i < length) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i++;
      continue;
    }
    const size = sequenceSize(lead);
    if (size === 0 || i + size > length) return i;
    const second = bytes[i + 1]!;
    const [low, high] = secondByteRange(lead);
    if (second < low || second > high) return i;
    for (let k = 2; k < size; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return i;
    i += size;
  }
  return length;
}

function sequenceSize(lead: number): number {
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/** The allowed range of the byte after a lead byte (RFC 3629 §4: no overlongs, no surrogates, ≤ U+10FFFF). */
function secondByteRange(lead: number): [number, number] {
  if (lead === 0xe0) return [0xa0, 0xbf];
  if (lead === 0xed) return [0x80, 0x9f];
  if (lead === 0xf0) return [0x90, 0xbf];
  if (lead === 0xf4) return [0x80, 0x8f];
  return [0x80, 0xbf];
}

/**
 * The bytes at the end of `bytes` that start a UTF-8 sequence not yet complete (at most three),
 * assuming everything before is valid.
 */
function incompleteTail(bytes: Uint8Array): Uint8Array {
  const end = bytes.length;
  let start = end;
  while (start > 0 && end - start < 3 && (bytes[start - 1]! & 0xc0) === 0x80) start--;
  if (start === 0) return bytes.subarray(end);
  const lead = bytes[start - 1]!;
  if (lead < 0xc0) return bytes.subarray(end);
  return sequenceSize(lead) > end - start + 1 ? bytes.slice(start - 1) : bytes.subarray(end);
}

/** The streaming form of the rule, fed chunk by chunk. */
export class Utf8OrWindows1252Decoder {
  /** The strict UTF-8 decoder while the text is still valid UTF-8; `undefined` once it switched. */
  private utf8: TextDecoder | undefined = new TextDecoder('utf-8', { fatal: true });
  /** An incomplete sequence at the end of what was fed so far, held inside `utf8`. */
  private tail: Uint8Array = new Uint8Array(0);

  /** `utf-8` until an invalid sequence is seen, then `windows-1252`. */
  get charset(): string {
    return this.utf8 ? 'utf-8' : 'windows-1252';
  }

  /** Decodes the next chunk. */
  decode(chunk: Uint8Array): string {
    if (!this.utf8) return decodeWindows1252(chunk);
    try {
      const text = this.utf8.decode(chunk, { stream: true });
      this.tail = incompleteTail(chunk.length >= 4 ? chunk : concatBytes([this.tail, chunk]));
      return text;
    } catch {
      return this.switchToWindows1252(concatBytes([this.tail, chunk]));
    }
  }

  /** Flushes what is held; a truncated sequence at the end is decoded as windows-1252. */
  end(): string {
    if (!this.utf8) return '';
    try {
      return this.utf8.decode();
    } catch {
      return this.switchToWindows1252(this.tail);
    }
  }

  private switchToWindows1252(pending: Uint8Array): string {
    this.utf8 = undefined;
    this.tail = new Uint8Array(0);
    return decodeFromInvalid(pending);
  }
}

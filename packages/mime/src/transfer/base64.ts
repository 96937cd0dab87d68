import { CR, InvalidArgumentError, LF } from '@postwire/core';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const PAD = 0x3d;

/** {@link SEXTETS} value of `=`. */
const PAD_CLASS = 64;
/** {@link SEXTETS} value of CR, LF, space, tab, form feed and vertical tab. */
const SPACE_CLASS = 65;
/** {@link SEXTETS} value of every other byte outside the alphabet. */
const INVALID_CLASS = 66;

/** Each byte's sextet, or one of the classes above. */
const SEXTETS = new Uint8Array(256).fill(INVALID_CLASS);
/**
 * The 12 bits of each pair of alphabet bytes, indexed by the pair read big-endian; `0xffff` for a pair
 * holding anything else. Two lookups decode a quantum, which is what makes the fast path fast.
 */
const PAIRS = new Uint16Array(65536).fill(0xffff);
for (let high = 0; high < 64; high++) {
  SEXTETS[ALPHABET.charCodeAt(high)] = high;
  for (let low = 0; low < 64; low++) {
    PAIRS[(ALPHABET.charCodeAt(high) << 8) | ALPHABET.charCodeAt(low)] = (high << 6) | low;
  }
}
SEXTETS[PAD] = PAD_CLASS;
for (const byte of [0x20, 0x09, CR, LF, 0x0b, 0x0c]) SEXTETS[byte] = SPACE_CLASS;
/** A CR LF pair read big-endian. */
const CRLF_PAIR = (CR << 8) | LF;

/**
 * Defect codes of {@link Base64Decoder}, each recorded at most once per decoder:
 * - `invalid-base64`: a byte outside the alphabet (other than white space) was skipped.
 * - `base64-data-after-padding`: data went on after `=` padding; it was decoded as a new quantum.
 * - `base64-misplaced-padding`: `=` where no padding can be (after a whole quantum, or after one character).
 * - `base64-missing-padding`: the data ended two or three characters into a quantum, unpadded; decoded.
 * - `base64-truncated`: a quantum held a single character, which cannot make a byte; it was dropped.
 */
export type Base64Defect =
  | 'invalid-base64'
  | 'base64-data-after-padding'
  | 'base64-misplaced-padding'
  | 'base64-missing-padding'
  | 'base64-truncated';

/**
 * Streaming, lenient decoder of a base64 body (RFC 2045 §6.8). Any chunking of the input gives the same
 * bytes. White space and line breaks are skipped; other bytes outside the alphabet are skipped with the
 * defect `invalid-base64`. Padding ends a quantum wherever it appears, and decoding goes on after it, as
 * most mail readers do: `aGVsbA==bG8=` decodes as `hell` then `lo`, with the defect
 * `base64-data-after-padding`. It never throws, and returns at most three bytes for every four it reads.
 */
export class Base64Decoder {
  /** The codes of the defects seen so far (see {@link Base64Defect}), each once. */
  readonly defects: Base64Defect[] = [];
  /** The sextets of the unfinished quantum, most significant first. */
  #bits = 0;
  /** How many sextets {@link #bits} holds (0–3). */
  #count = 0;
  /** True after padding, until the next character of the alphabet. */
  #padded = false;

  /** Decodes one chunk; returns the bytes it completes. */
  decode(chunk: Uint8Array): Uint8Array {
    const length = chunk.length;
    // One spare byte: the fast path writes each quantum's three bytes as four.
    const out = new Uint8Array(((this.#count + length) >>> 2) * 3 + 1);
    const input = new DataView(chunk.buffer, chunk.byteOffset, length);
    const output = new DataView(out.buffer);
    let bits = this.#bits;
    let count = this.#count;
    let o = 0;
    let pos = 0;
    while (pos < length) {
      if (count === 0 && !this.#padded) {
        // The fast path: whole quanta of four alphabet bytes, and CRLF or LF between lines.
        const last = length - 4;
        while (pos <= last) {
          const word = input.getUint32(pos);
          const high = PAIRS[word >>> 16]!;
          const low = PAIRS[word & 0xffff]!;
          if ((high | low) < 0x1000) {
            output.setUint32(o, (high << 20) | (low << 8));
            o += 3;
            pos += 4;
          } else if (word >>> 16 === CRLF_PAIR) {
            pos += 2;
          } else if (word >>> 24 === LF) {
            pos += 1;
          } else {
            break;
          }
        }
        if (pos >= length) break;
      }
      const sextet = SEXTETS[chunk[pos++]!]!;
      if (sextet < 64) {
        if (this.#padded) {
          this.#padded = false;
          this.#defect('base64-data-after-padding');
        }
        bits = (bits << 6) | sextet;
        if (++count === 4) {
          out[o] = bits >>> 16;
          out[o + 1] = bits >>> 8;
          out[o + 2] = bits;
          o += 3;
          bits = 0;
          count = 0;
        }
      } else if (sextet === PAD_CLASS) {
        if (count >= 2) {
          o = writePartial(out, o, bits, count);
          this.#padded = true;
        } else if (!this.#padded) {
          this.#defect(count === 1 ? 'base64-truncated' : 'base64-misplaced-padding');
          this.#padded = true;
        }
        bits = 0;
        count = 0;
      } else if (sextet === INVALID_CLASS) {
        this.#defect('invalid-base64');
      }
    }
    this.#bits = bits;
    this.#count = count;
    return out.subarray(0, o);
  }

  /** Ends the body: returns the bytes of an unpadded last quantum, and readies the decoder for a new body. */
  end(): Uint8Array {
    const count = this.#count;
    const out = new Uint8Array(count >= 2 ? count - 1 : 0);
    if (count >= 2) {
      writePartial(out, 0, this.#bits, count);
      this.#defect('base64-missing-padding');
    } else if (count === 1) {
      this.#defect('base64-truncated');
    }
    this.#bits = 0;
    this.#count = 0;
    this.#padded = false;
    return out;
  }

  #defect(code: Base64Defect): void {
    if (!this.defects.includes(code)) this.defects.push(code);
  }
}

/** Writes the one or two bytes of a quantum of two or three sextets; returns the new output position. */
function writePartial(out: Uint8Array, o: number, bits: number, count: number): number {
  if (count === 2) {
    out[o] = bits >>> 4;
    return o + 1;
  }
  out[o] = bits >>> 10;
  out[o + 1] = bits >>> 2;
  return o + 2;
}

const EMPTY = new Uint8Array(0);
const ENCODE = new Uint8Array(64);
for (let value = 0; value < 64; value++) ENCODE[value] = ALPHABET.charCodeAt(value);
/** The two characters of every 12-bit value, as one 16-bit unit in the platform's byte order. */
const ENCODE_PAIRS = new Uint16Array(4096);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
for (let value = 0; value < 4096; value++) {
  const first = ENCODE[value >>> 6]!;
  const second = ENCODE[value & 63]!;
  ENCODE_PAIRS[value] = LITTLE_ENDIAN ? first | (second << 8) : (first << 8) | second;
}

/** Options of {@link Base64Encoder}. */
export interface Base64EncoderOptions {
  /** Characters per line: a positive multiple of 4 (default 76, the RFC 2045 maximum), or 0 for one line. */
  lineLength?: number;
}

/**
 * Streaming encoder of a base64 body (RFC 2045 §6.8): lines of 76 characters (by default) separated by
 * CRLF, every line but the last holding whole quanta. The output does not end with a line break: the
 * CRLF before the next boundary, or at the end of the message, is the composer's to write.
 */
export class Base64Encoder {
  readonly #quantaPerLine: number;
  /** The 0–2 bytes waiting for a whole quantum. */
  readonly #carry = new Uint8Array(2);
  #carried = 0;
  /** Quanta written on the current line. */
  #column = 0;

  constructor(options: Base64EncoderOptions = {}) {
    const lineLength = options.lineLength ?? 76;
    if (!Number.isInteger(lineLength) || lineLength < 0 || lineLength % 4 !== 0) {
      throw new InvalidArgumentError(
        `base64 line length must be 0 or a positive multiple of 4: ${lineLength}`,
      );
    }
    this.#quantaPerLine = lineLength === 0 ? Number.POSITIVE_INFINITY : lineLength / 4;
  }

  /** Encodes one chunk; returns the characters of its whole quanta. */
  encode(chunk: Uint8Array): Uint8Array {
    return this.#encode(chunk, false);
  }

  /**
   * Ends the body, after an optional last chunk: returns the remaining characters, padded, and readies the
   * encoder for another body. `end(chunk)` is `encode(chunk)` followed by `end()`, in one array.
   */
  end(chunk: Uint8Array = EMPTY): Uint8Array {
    const out = this.#encode(chunk, true);
    this.#carried = 0;
    this.#column = 0;
    return out;
  }

  #encode(chunk: Uint8Array, final: boolean): Uint8Array {
    const carry = this.#carry;
    let carried = this.#carried;
    const length = chunk.length;
    const total = carried + length;
    if (!final && total < 3) {
      carry.set(chunk, carried);
      this.#carried = total;
      return EMPTY;
    }
    const whole = Math.floor(total / 3);
    const rest = total - whole * 3;
    const quanta = whole + (final && rest > 0 ? 1 : 0);
    const perLine = this.#quantaPerLine;
    const breaks = quanta === 0 ? 0 : Math.floor((this.#column + quanta - 1) / perLine);
    const out = new Uint8Array(quanta * 4 + breaks * 2);
    let column = this.#column;
    let o = 0;
    let i = 0;
    if (carried > 0 && whole > 0) {
      // The quantum begun in the previous chunk.
      i = 3 - carried;
      if (column === perLine) {
        out[o++] = CR;
        out[o++] = LF;
        column = 0;
      }
      o = writeQuantum(
        out,
        o,
        (carry[0]! << 16) | ((carried === 2 ? carry[1]! : chunk[0]!) << 8) | chunk[i - 1]!,
        4,
      );
      column++;
      carried = 0;
    }
    const wholeEnd = i + Math.floor((length - i) / 3) * 3;
    if (wholeEnd > i) {
      o = encodeQuanta(chunk, i, wholeEnd, out, o, column, perLine);
      column = ((column + (wholeEnd - i) / 3 - 1) % perLine) + 1;
    }
    if (rest > 0) {
      // One or two bytes left, after those carried from earlier chunks if no quantum was completed.
      const first = carried > 0 ? carry[0]! : chunk[wholeEnd]!;
      const second = rest === 1 ? 0 : carried > 1 ? carry[1]! : chunk[wholeEnd + 1 - carried]!;
      if (final) {
        if (column === perLine) {
          out[o++] = CR;
          out[o++] = LF;
          column = 0;
        }
        writeQuantum(out, o, (first << 16) | (second << 8), rest + 1);
        column++;
      } else {
        carry[0] = first;
        carry[1] = second;
      }
    }
    this.#carried = final ? 0 : rest;
    this.#column = column;
    return out;
  }
}

/**
 * Encodes the whole quanta of `chunk[from, to)` into `out` from `o`, starting a line whenever one is full;
 * returns the new position. Its own function, so that the engine optimises the loop on its own.
 */
function encodeQuanta(
  chunk: Uint8Array,
  from: number,
  to: number,
  out: Uint8Array,
  o: number,
  column: number,
  perLine: number,
): number {
  // Every quantum and line break is an even number of bytes and `out` starts a fresh buffer, so each
  // quantum starts at an even offset and its four characters are two 16-bit pairs.
  const pairs = new Uint16Array(out.buffer, out.byteOffset, out.length >>> 1);
  let i = from;
  while (i < to) {
    if (column === perLine) {
      out[o++] = CR;
      out[o++] = LF;
      column = 0;
    }
    const quanta = Math.min(perLine - column, (to - i) / 3);
    const stop = i + quanta * 3;
    let h = o >>> 1;
    for (; i < stop; i += 3) {
      const bits = (chunk[i]! << 16) | (chunk[i + 1]! << 8) | chunk[i + 2]!;
      pairs[h++] = ENCODE_PAIRS[bits >>> 12]!;
      pairs[h++] = ENCODE_PAIRS[bits & 0xfff]!;
    }
    o = h << 1;
    column += quanta;
  }
  return o;
}

/** Writes a quantum's four characters: the first `significant` are data, the rest padding. */
function writeQuantum(out: Uint8Array, o: number, bits: number, significant: number): number {
  out[o] = ENCODE[bits >>> 18]!;
  out[o + 1] = ENCODE[(bits >>> 12) & 63]!;
  out[o + 2] = significant > 2 ? ENCODE[(bits >>> 6) & 63]! : PAD;
  out[o + 3] = significant > 3 ? ENCODE[bits & 63]! : PAD;
  return o + 4;
}

/** Encodes a whole body as base64 lines of 76 characters separated by CRLF (no final line break). */
export function encodeBase64Body(bytes: Uint8Array, options?: Base64EncoderOptions): Uint8Array {
  return new Base64Encoder(options).end(bytes);
}

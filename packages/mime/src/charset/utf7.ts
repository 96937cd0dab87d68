import { encodeBase64 } from '@postwire/core';

/**
 * UTF-7 (RFC 2152): ASCII written as itself, everything else as modified base64 of UTF-16
 * between `+` and an optional `-`. Still met in old mail as `unicode-1-1-utf-7`.
 */

const PLUS = 0x2b;
const MINUS = 0x2d;
const REPLACEMENT = 0xfffd;
/** Characters flushed to a string at once, below the engine's argument-count limit. */
const FLUSH_AT = 8192;

/** Base64 digit values by byte, -1 for bytes outside the alphabet. */
const BASE64_VALUES = new Int8Array(128).fill(-1);
for (const [index, char] of [
  ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/',
].entries()) {
  BASE64_VALUES[char.charCodeAt(0)] = index;
}

/**
 * A streaming UTF-7 decoder: any chunking gives the same text. Bytes above 0x7F and base64 runs
 * that end with leftover bits are ill-formed; they become U+FFFD and set `invalid`.
 */
export class Utf7Decoder {
  /** True once ill-formed input was seen. */
  invalid = false;
  private inBase64 = false;
  /** Base64 digits seen in the current run, to tell `+-` (a literal plus) from a run. */
  private runDigits = 0;
  private bits = 0;
  private bitCount = 0;

  /** Decodes the next chunk. */
  decode(chunk: Uint8Array): string {
    const units: number[] = [];
    let text = '';
    for (const byte of chunk) {
      if (this.inBase64) {
        const value = byte < 0x80 ? BASE64_VALUES[byte]! : -1;
        if (value >= 0) {
          this.runDigits++;
          this.bits = ((this.bits << 6) | value) & 0xffffff;
          this.bitCount += 6;
          if (this.bitCount >= 16) {
            this.bitCount -= 16;
            units.push((this.bits >> this.bitCount) & 0xffff);
          }
          continue;
        }
        this.endRun(units);
        if (byte === MINUS) continue;
      }
      if (byte === PLUS) {
        this.inBase64 = true;
        this.runDigits = 0;
      } else if (byte < 0x80) {
        units.push(byte);
      } else {
        this.invalid = true;
        units.push(REPLACEMENT);
      }
      if (units.length >= FLUSH_AT) text += String.fromCharCode(...units.splice(0));
    }
    return text + String.fromCharCode(...units);
  }

  /** Ends the input: an open base64 run is closed. */
  end(): string {
    if (!this.inBase64) return '';
    const units: number[] = [];
    this.endRun(units);
    return String.fromCharCode(...units);
  }

  private endRun(units: number[]): void {
    if (this.runDigits === 0) units.push(PLUS);
    else if (this.bitCount >= 6 || (this.bits & ((1 << this.bitCount) - 1)) !== 0) {
      this.invalid = true;
      units.push(REPLACEMENT);
    }
    this.inBase64 = false;
    this.bits = 0;
    this.bitCount = 0;
  }
}

/** Decodes UTF-7 bytes; ill-formed input gives U+FFFD. */
export function decodeUtf7(bytes: Uint8Array): string {
  const decoder = new Utf7Decoder();
  return decoder.decode(bytes) + decoder.end();
}

/** RFC 2152 Set D plus space, tab, CR and LF: the characters written as themselves. */
const DIRECT = /[A-Za-z0-9'(),\-./:? \t\r\n]/;

/**
 * Encodes text as UTF-7, writing only Set D characters directly (the optional Set O characters
 * are base64-encoded, which every decoder reads) and closing each base64 run with `-`.
 */
export function encodeUtf7(text: string): string {
  const parts: string[] = [];
  let runStart = -1;
  for (let i = 0; i <= text.length; i++) {
    const char = text[i];
    const direct = char === undefined || char === '+' || DIRECT.test(char);
    if (!direct) {
      if (runStart < 0) runStart = i;
      continue;
    }
    if (runStart >= 0) {
      parts.push(`+${base64OfUtf16(text.slice(runStart, i))}-`);
      runStart = -1;
    }
    if (char !== undefined) parts.push(char === '+' ? '+-' : char);
  }
  return parts.join('');
}

function base64OfUtf16(run: string): string {
  const bytes = new Uint8Array(run.length * 2);
  for (let i = 0; i < run.length; i++) {
    const unit = run.charCodeAt(i);
    bytes[i * 2] = unit >> 8;
    bytes[i * 2 + 1] = unit & 0xff;
  }
  return encodeBase64(bytes).replace(/=+$/, '');
}

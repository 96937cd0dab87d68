import { concatBytes, encodeBase64, InvalidArgumentError, utf8 } from '@postwire/core';
import { canonicalCharset, decodeCharset } from '../charset/decode.js';
import { defaultMimeLimits } from '../limits.js';

/**
 * RFC 2047 encoded words: `=?charset?B|Q?text?=`, with the RFC 2231 §5 language suffix
 * (`=?utf-8*en?Q?…?=`).
 *
 * Decoding is lenient in the ways real mail needs: words are recognised anywhere (inside quoted
 * strings, touching other text), the encoded text may hold spaces and folds, Q accepts a stray `=`,
 * B accepts missing padding and stray characters. Words separated only by whitespace are joined,
 * and the bytes of neighbouring words in the same charset are decoded together, so a character
 * split across two words comes out whole. Decoding is one forward pass: linear in the input
 * whatever it holds.
 */

/** Options of `decodeEncodedWords`. */
export interface DecodeEncodedWordsOptions {
  /** Words decoded at most (default `defaultMimeLimits.maxEncodedWords`); later ones stay as written. */
  maxEncodedWords?: number;
  /**
   * Put a space between an encoded word and text that touches it without whitespace, as a reader
   * expects for `[SPAM]=?utf-8?…?=` (default false; `decodeUnstructured` turns it on).
   */
  spaceAroundWords?: boolean;
}

/** Decoded text and what was wrong with it. */
export interface DecodedWords {
  /** The decoded text. */
  text: string;
  /**
   * Defect codes: `control-characters` (a word decoded to NUL, CR or LF; each became U+FFFD),
   * `unknown-charset`, `invalid-bytes`, `invalid-base64`, `limit-maxEncodedWords`.
   */
  defects: string[];
}

/** One encoded word found in the text, already decoded to bytes. */
interface Word {
  /** The canonical charset, or the lower-cased name when there is no decoder for it. */
  charset: string;
  bytes: Uint8Array;
  /** The index after the closing `?=`. */
  end: number;
}

/** A run of neighbouring words waiting to be decoded together. */
interface Run {
  charset: string;
  chunks: Uint8Array[];
}

const CONTROL_CHARACTER = /[\0\r\n]/;
const CONTROL_CHARACTERS = /[\0\r\n]/g;
const MAX_CHARSET_LENGTH = 64;

/**
 * Decodes the RFC 2047 encoded words in a header value; text outside words is kept as written.
 * NUL, CR and LF produced by a word are replaced by U+FFFD (never by a space, so the tampering
 * stays visible) and reported as `control-characters`.
 */
export function decodeEncodedWords(value: string, options: DecodeEncodedWordsOptions = {}): DecodedWords {
  if (!value.includes('=?')) return { text: value, defects: [] };
  const maxWords = options.maxEncodedWords ?? defaultMimeLimits.maxEncodedWords;
  const spaced = options.spaceAroundWords ?? false;
  const defects = new Set<string>();
  const parts: string[] = [];
  let run: Run | undefined;
  let copied = 0;
  let count = 0;
  let search = 0;

  const flush = (): void => {
    if (!run) return;
    parts.push(decodeRun(run, defects));
    run = undefined;
  };

  for (;;) {
    const start = value.indexOf('=?', search);
    if (start === -1) break;
    // A word past the limit is only looked at, so its defects are not reported.
    const word = readWord(value, start, count === maxWords ? new Set() : defects);
    if (word === null) break;
    if (word === undefined) {
      search = start + 2;
      continue;
    }
    if (count === maxWords) {
      defects.add('limit-maxEncodedWords');
      break;
    }
    count++;
    const between = value.slice(copied, start);
    if (run && isBlank(between)) {
      if (run.charset === word.charset) run.chunks.push(word.bytes);
      else {
        flush();
        run = { charset: word.charset, chunks: [word.bytes] };
      }
    } else {
      const touchesRun = run !== undefined && between !== '' && !isBlank(between[0]!);
      flush();
      if (spaced && touchesRun) parts.push(' ');
      parts.push(between);
      if (spaced && between !== '' && !isBlank(between[between.length - 1]!)) parts.push(' ');
      run = { charset: word.charset, chunks: [word.bytes] };
    }
    copied = word.end;
    search = word.end;
  }
  const rest = value.slice(copied);
  const touchesRun = run !== undefined && rest !== '' && !isBlank(rest[0]!);
  flush();
  if (spaced && touchesRun) parts.push(' ');
  parts.push(rest);
  return { text: parts.join(''), defects: [...defects] };
}

function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code !== 0x20 && code !== 0x09 && code !== 0x0d && code !== 0x0a) return false;
  }
  return true;
}

/**
 * Reads the encoded word that starts at `start` (at `=?`). `undefined`: not a word there.
 * `null`: no word can end anywhere after `start` (no `?` left), so scanning can stop.
 */
function readWord(value: string, start: number, defects: Set<string>): Word | undefined | null {
  const charsetEnd = value.indexOf('?', start + 2);
  if (charsetEnd === -1) return null;
  const name = value.slice(start + 2, charsetEnd);
  if (!isCharsetName(name)) return undefined;
  const encoding = value[charsetEnd + 1];
  if (
    value[charsetEnd + 2] !== '?' ||
    (encoding !== 'B' && encoding !== 'b' && encoding !== 'Q' && encoding !== 'q')
  ) {
    return undefined;
  }
  const textEnd = value.indexOf('?', charsetEnd + 3);
  if (textEnd === -1) return null;
  if (value[textEnd + 1] !== '=') return undefined;
  const text = value.slice(charsetEnd + 3, textEnd);
  const bytes = encoding === 'B' || encoding === 'b' ? decodeB(text, defects) : decodeQ(text);
  const star = name.indexOf('*');
  const label = star === -1 ? name : name.slice(0, star);
  return { charset: canonicalCharset(label) ?? label.toLowerCase(), bytes, end: textEnd + 2 };
}

/** A charset (with an optional `*language`): printable ASCII without space or RFC 2047 especials that end it. */
function isCharsetName(name: string): boolean {
  if (name.length === 0 || name.length > MAX_CHARSET_LENGTH) return false;
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code <= 0x20 || code >= 0x7f || code === 0x3d /* = */ || code === 0x22 /* " */) return false;
  }
  return true;
}

function decodeRun(run: Run, defects: Set<string>): string {
  const decoded = decodeCharset(concatBytes(run.chunks), run.charset);
  if (decoded.defect) defects.add(decoded.defect);
  if (!CONTROL_CHARACTER.test(decoded.text)) return decoded.text;
  defects.add('control-characters');
  return decoded.text.replace(CONTROL_CHARACTERS, '\uFFFD');
}

const BASE64_STRAY = /[^A-Za-z0-9+/]/;
const BASE64_STRAYS = /[^A-Za-z0-9+/]/g;
const BASE64_INVALID = /[^A-Za-z0-9+/=\s]/;

/** Forgiving base64: whitespace, missing padding and stray characters are ignored. */
function decodeB(text: string, defects: Set<string>): Uint8Array {
  let clean = text;
  if (BASE64_INVALID.test(text)) defects.add('invalid-base64');
  if (BASE64_STRAY.test(text)) clean = text.replace(BASE64_STRAYS, '');
  if (clean.length % 4 === 1) {
    defects.add('invalid-base64');
    clean = clean.slice(0, -1);
  }
  const binary = atob(clean);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Q decoding (RFC 2047 §4.2): `_` is a space, `=XX` a byte, a `=` without two hex digits stays as
 * it is, and a line break with the whitespace after it (a fold inside the word) disappears.
 */
function decodeQ(text: string): Uint8Array {
  const source = utf8(text);
  const out = new Uint8Array(source.length);
  let length = 0;
  for (let i = 0; i < source.length; i++) {
    const byte = source[i]!;
    if (byte === 0x5f) out[length++] = 0x20;
    else if (byte === 0x3d && i + 2 < source.length && isHex(source[i + 1]!) && isHex(source[i + 2]!)) {
      out[length++] = (hexValue(source[i + 1]!) << 4) | hexValue(source[i + 2]!);
      i += 2;
    } else if (byte === 0x0d || byte === 0x0a) {
      while (i + 1 < source.length && isWhitespaceByte(source[i + 1]!)) i++;
    } else out[length++] = byte;
  }
  return out.subarray(0, length);
}

function isWhitespaceByte(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0a;
}

function isHex(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || ((byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x66);
}

function hexValue(byte: number): number {
  return byte <= 0x39 ? byte - 0x30 : (byte | 0x20) - 0x57;
}

/** Options of `encodeEncodedWords`. */
export interface EncodeEncodedWordsOptions {
  /** `B` (base64) or `Q`; by default whichever is shorter for each run of words. */
  encoding?: 'B' | 'Q';
  /** The charset of the words; only UTF-8 is written. */
  charset?: 'utf-8';
  /** The line length the words are meant to fit once folded (default 76): each word is shorter by one. */
  maxLineLength?: number;
}

/** Printable ASCII and tab, the characters a header may carry as they are. */
const PLAIN_TEXT = /^[\t\x20-\x7e]*$/;

/**
 * True when `text` cannot go into an unstructured header as it is: it holds non-ASCII characters,
 * controls (CR and LF included), or `=?`, which a reader would take for an encoded word.
 */
export function needsEncoding(text: string): boolean {
  return !PLAIN_TEXT.test(text) || text.includes('=?');
}

/** RFC 2047 §5(3): the characters Q may write as themselves anywhere, phrases included. */
const Q_LITERAL = /[A-Za-z0-9!*+\-/]/;
const WORD_PREFIX = '=?utf-8?X?';
const WORD_OVERHEAD = WORD_PREFIX.length + 2;
/** RFC 2047 §2: an encoded word is at most 75 characters. */
const MAX_WORD_LENGTH = 75;

/**
 * Encodes the words of `text` that need it (see `needsEncoding`) as UTF-8 encoded words, leaving
 * the others as they are. Neighbouring words that need encoding go into one run with the spaces
 * between them, so `decodeEncodedWords` gives back `text` exactly (NUL, CR and LF aside, which it
 * flags). A run longer than one word is split at character boundaries (never inside a UTF-8
 * sequence or a surrogate pair) into words of at most 75 characters separated by one space,
 * where the composer may fold.
 */
export function encodeEncodedWords(text: string, options: EncodeEncodedWordsOptions = {}): string {
  if (!needsEncoding(text)) return text;
  const maxWord = Math.min(MAX_WORD_LENGTH, (options.maxLineLength ?? 76) - 1);
  if (maxWord - WORD_OVERHEAD < 12)
    throw new InvalidArgumentError('maxLineLength is too small for an encoded word');
  // Words at even indices, the whitespace between them at odd ones.
  const pieces = text.split(/([\t ]+)/);
  const encodes = (index: number): boolean => index % 2 === 0 && needsEncoding(pieces[index]!);
  const out: string[] = [];
  for (let i = 0; i < pieces.length; i++) {
    if (!encodes(i)) {
      out.push(pieces[i]!);
      continue;
    }
    let last = i;
    while (last + 2 < pieces.length && encodes(last + 2)) last += 2;
    out.push(encodeRun(pieces.slice(i, last + 1).join(''), maxWord, options.encoding));
    i = last;
  }
  return out.join('');
}

function encodeRun(run: string, maxWord: number, encoding: 'B' | 'Q' | undefined): string {
  const chars = [...run].map((char) => ({ char, bytes: utf8(char) }));
  const qSize = chars.reduce((sum, { char, bytes }) => sum + qLength(char, bytes), 0);
  const byteCount = chars.reduce((sum, { bytes }) => sum + bytes.length, 0);
  const useQ = encoding === 'Q' || (encoding === undefined && qSize <= Math.ceil(byteCount / 3) * 4);
  const budget = maxWord - WORD_OVERHEAD;
  const words: string[] = [];
  let segment: Uint8Array[] = [];
  let used = 0;
  let encoded = '';
  const emit = (): void => {
    if (segment.length === 0) return;
    words.push(useQ ? `=?utf-8?Q?${encoded}?=` : `=?utf-8?B?${encodeBase64(concatBytes(segment))}?=`);
    segment = [];
    used = 0;
    encoded = '';
  };
  for (const { char, bytes } of chars) {
    const size = useQ ? qLength(char, bytes) : bytes.length;
    const limit = useQ ? budget : Math.floor(budget / 4) * 3;
    if (used + size > limit) emit();
    segment.push(bytes);
    used += size;
    if (useQ) encoded += qEncode(char, bytes);
  }
  emit();
  return words.join(' ');
}

function qLength(char: string, bytes: Uint8Array): number {
  return char === ' ' || Q_LITERAL.test(char) ? 1 : bytes.length * 3;
}

function qEncode(char: string, bytes: Uint8Array): string {
  if (char === ' ') return '_';
  if (Q_LITERAL.test(char)) return char;
  let out = '';
  for (const byte of bytes) out += `=${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

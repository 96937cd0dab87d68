import { concatBytes, LF } from '@postwire/core';
import { canonicalCharset } from './labels.js';
import { decodeUtf7, Utf7Decoder } from './utf7.js';
import { decodeUtf8OrWindows1252, Utf8OrWindows1252Decoder } from './utf8-fallback.js';
import { decodeWindows1252 } from './windows-1252.js';

export { canonicalCharset } from './labels.js';

/** Why decoded text may not be what the sender meant. */
export type CharsetDefect = 'unknown-charset' | 'invalid-bytes';

/** Text decoded from bytes, with the charset that was really used. */
export interface DecodedText {
  /** The decoded text. */
  text: string;
  /** The canonical name of the charset used (see `canonicalCharset`); for unknown ones, the fallback's. */
  charset: string;
  /**
   * `unknown-charset`: no decoder exists for the declared name, the fallback rule was used.
   * `invalid-bytes`: the bytes are not valid in the declared charset (U+FFFD appears in the
   * text), or bytes above 0x7F were declared `us-ascii`.
   */
  defect?: CharsetDefect;
}

/** A streaming decoder for body text: any chunking gives the same text as `decodeCharset`. */
export interface CharsetDecoder {
  /** Decodes the next chunk; bytes of a character split across chunks are held until complete. */
  decode(chunk: Uint8Array): string;
  /** Flushes what is held. */
  end(): string;
  /** The charset used so far (it can change once under the fallback rule, see `decodeCharset`). */
  readonly charset: string;
  /** Set once the text so far shows a defect. */
  readonly defect?: CharsetDefect;
}

const REPLACEMENT = '\uFFFD';
const NON_ASCII = /[^\x00-\x7f]/;

/** Non-streaming decoders, one per encoding (they hold no state between `decode` calls). */
const decoders = new Map<string, TextDecoder>();

function decoderFor(encoding: string): TextDecoder {
  let decoder = decoders.get(encoding);
  if (!decoder) {
    decoder = new TextDecoder(encoding);
    decoders.set(encoding, decoder);
  }
  return decoder;
}

/**
 * Decodes bytes in a charset named as in mail. `undefined` or an empty name means "not declared".
 *
 * Fallback rule, for an undeclared or unknown charset (and for `us-ascii` text that holds bytes
 * above 0x7F): UTF-8 up to the first invalid UTF-8 sequence, windows-1252 from there on, which for
 * Latin-1 mail means "UTF-8 if the bytes are valid UTF-8, else windows-1252". An unknown name
 * reports `unknown-charset`; an undeclared one reports nothing.
 */
export function decodeCharset(bytes: Uint8Array, charset: string | undefined): DecodedText {
  const declared = charset?.trim() ? charset : undefined;
  const canonical = declared === undefined ? undefined : canonicalCharset(declared);
  if (canonical === undefined) {
    const decoded = decodeUtf8OrWindows1252(bytes);
    return declared === undefined ? decoded : { ...decoded, defect: 'unknown-charset' };
  }
  if (canonical === 'us-ascii') {
    const decoded = decodeUtf8OrWindows1252(bytes);
    return NON_ASCII.test(decoded.text)
      ? { ...decoded, defect: 'invalid-bytes' }
      : { text: decoded.text, charset: 'us-ascii' };
  }
  const used = canonical === 'utf-16' ? utf16ByteOrder(bytes) : canonical;
  const text =
    used === 'utf-7'
      ? decodeUtf7(bytes)
      : used === 'windows-1252'
        ? decodeWindows1252(bytes)
        : decoderFor(used).decode(bytes);
  return hasDecodingErrors(text, used, bytes)
    ? { text, charset: used, defect: 'invalid-bytes' }
    : { text, charset: used };
}

/** The byte order of `utf-16` text from its first two bytes: little-endian after FF FE, else big-endian. */
function utf16ByteOrder(start: Uint8Array): 'utf-16le' | 'utf-16be' {
  return start[0] === 0xff && start[1] === 0xfe ? 'utf-16le' : 'utf-16be';
}

/** The UTF-8 encoding of U+FFFD, EF BF BD, counted where the match ends at or after `from`. */
function encodedReplacements(bytes: Uint8Array, from = 0): number {
  let count = 0;
  for (let i = bytes.indexOf(0xef, Math.max(0, from - 2)); i !== -1; i = bytes.indexOf(0xef, i + 1)) {
    if (bytes[i + 1] === 0xbf && bytes[i + 2] === 0xbd) count++;
  }
  return count;
}

function replacementsIn(text: string): number {
  let count = 0;
  for (let i = text.indexOf(REPLACEMENT); i !== -1; i = text.indexOf(REPLACEMENT, i + 1)) count++;
  return count;
}

/**
 * True when decoding replaced bytes with U+FFFD. In UTF-8 a U+FFFD that the message itself holds
 * (as EF BF BD) is content, not an error, so the replacements are counted against those.
 */
function hasDecodingErrors(text: string, charset: string, bytes: Uint8Array, from = 0): boolean {
  if (!text.includes(REPLACEMENT)) return false;
  return charset !== 'utf-8' || replacementsIn(text) !== encodedReplacements(bytes, from);
}

/**
 * A streaming decoder for a charset named as in mail, with the same rules and defects as
 * `decodeCharset` (it uses `TextDecoder` with `stream: true`, and our own UTF-7 decoder).
 */
export function createCharsetDecoder(charset: string | undefined): CharsetDecoder {
  const declared = charset?.trim() ? charset : undefined;
  const canonical = declared === undefined ? undefined : canonicalCharset(declared);
  if (canonical === undefined)
    return new FallbackCharsetDecoder(declared === undefined ? undefined : 'unknown-charset');
  if (canonical === 'us-ascii') return new AsciiCharsetDecoder();
  if (canonical === 'utf-7') return new Utf7CharsetDecoder();
  if (canonical === 'windows-1252') return new Windows1252CharsetDecoder();
  if (canonical === 'utf-16') return new Utf16CharsetDecoder();
  return LINE_SPLIT.has(canonical)
    ? new LineSplitCharsetDecoder(canonical)
    : new NativeCharsetDecoder(canonical);
}

/**
 * Multi-byte charsets that Node 20's streaming `TextDecoder` can throw on (an ICU bug seen with
 * gb18030, euc-jp and iso-2022-jp even without `fatal`). They are decoded in whole-line pieces
 * instead: a line feed is never part of a multi-byte character in them, so cutting after one gives
 * the same text as decoding everything at once.
 */
const LINE_SPLIT: ReadonlySet<string> = new Set([
  'gbk',
  'gb18030',
  'big5',
  'shift_jis',
  'euc-jp',
  'euc-kr',
  'iso-2022-jp',
]);

class FallbackCharsetDecoder implements CharsetDecoder {
  private readonly inner = new Utf8OrWindows1252Decoder();

  constructor(readonly defect: CharsetDefect | undefined) {}

  get charset(): string {
    return this.inner.charset;
  }

  decode(chunk: Uint8Array): string {
    return this.inner.decode(chunk);
  }

  end(): string {
    return this.inner.end();
  }
}

class AsciiCharsetDecoder implements CharsetDecoder {
  private readonly inner = new Utf8OrWindows1252Decoder();
  defect: CharsetDefect | undefined;

  get charset(): string {
    return this.defect ? this.inner.charset : 'us-ascii';
  }

  decode(chunk: Uint8Array): string {
    return this.check(this.inner.decode(chunk));
  }

  end(): string {
    return this.check(this.inner.end());
  }

  private check(text: string): string {
    if (!this.defect && NON_ASCII.test(text)) this.defect = 'invalid-bytes';
    return text;
  }
}

class Utf7CharsetDecoder implements CharsetDecoder {
  private readonly inner = new Utf7Decoder();
  readonly charset = 'utf-7';

  get defect(): CharsetDefect | undefined {
    return this.inner.invalid ? 'invalid-bytes' : undefined;
  }

  decode(chunk: Uint8Array): string {
    return this.inner.decode(chunk);
  }

  end(): string {
    return this.inner.end();
  }
}

class Windows1252CharsetDecoder implements CharsetDecoder {
  readonly charset = 'windows-1252';

  decode(chunk: Uint8Array): string {
    return decodeWindows1252(chunk);
  }

  end(): string {
    return '';
  }
}

class NativeCharsetDecoder implements CharsetDecoder {
  private readonly inner: TextDecoder;
  /** The last two bytes already decoded: an EF BF BD may straddle two chunks. */
  private tail: Uint8Array = new Uint8Array(0);
  defect: CharsetDefect | undefined;

  constructor(readonly charset: string) {
    this.inner = new TextDecoder(charset);
  }

  decode(chunk: Uint8Array): string {
    const text = this.inner.decode(chunk, { stream: true });
    if (!this.defect && text.includes(REPLACEMENT)) {
      const window = concatBytes([this.tail, chunk]);
      if (hasDecodingErrors(text, this.charset, window, this.tail.length)) this.defect = 'invalid-bytes';
    }
    this.tail = chunk.length >= 2 ? chunk.subarray(-2) : concatBytes([this.tail, chunk]).slice(-2);
    return text;
  }

  end(): string {
    const text = this.inner.decode();
    if (!this.defect && text.includes(REPLACEMENT)) this.defect = 'invalid-bytes';
    return text;
  }
}

/** `utf-16`: holds the first two bytes until they tell the byte order, then decodes natively. */
class Utf16CharsetDecoder implements CharsetDecoder {
  private inner: NativeCharsetDecoder | undefined;
  /** The first byte, while it is alone. */
  private held: Uint8Array = new Uint8Array(0);

  get charset(): string {
    return this.inner?.charset ?? 'utf-16be';
  }

  get defect(): CharsetDefect | undefined {
    return this.inner?.defect;
  }

  decode(chunk: Uint8Array): string {
    if (this.inner) return this.inner.decode(chunk);
    const start = concatBytes([this.held, chunk]);
    this.held = start.length < 2 ? start : new Uint8Array(0);
    return start.length < 2 ? '' : this.decoderFor(start).decode(start);
  }

  end(): string {
    const inner = this.inner ?? this.decoderFor(this.held);
    const text = inner.decode(this.held) + inner.end();
    this.held = new Uint8Array(0);
    return text;
  }

  private decoderFor(start: Uint8Array): NativeCharsetDecoder {
    this.inner = new NativeCharsetDecoder(utf16ByteOrder(start));
    return this.inner;
  }
}

const ESC = 0x1b;

class LineSplitCharsetDecoder implements CharsetDecoder {
  private readonly inner: TextDecoder;
  private pending: Uint8Array[] = [];
  /** iso-2022-jp only: whether the last escape sequence fed so far selects ASCII (its initial state). */
  private ascii = true;
  defect: CharsetDefect | undefined;

  constructor(readonly charset: string) {
    this.inner = new TextDecoder(charset);
  }

  decode(chunk: Uint8Array): string {
    const cut = this.safeCut(chunk);
    if (cut === 0) {
      this.pending.push(chunk.slice());
      return '';
    }
    const text = this.inner.decode(concatBytes([...this.pending, chunk.subarray(0, cut)]));
    this.pending = cut < chunk.length ? [chunk.slice(cut)] : [];
    return this.check(text);
  }

  end(): string {
    const rest = this.pending;
    this.pending = [];
    return rest.length === 0 ? '' : this.check(this.inner.decode(concatBytes(rest)));
  }

  /**
   * The index after the chunk's last line feed, or 0. In iso-2022-jp a line feed is a safe cut only
   * in the ASCII state (the one a fresh decoder starts in), that is after `ESC ( B`.
   */
  private safeCut(chunk: Uint8Array): number {
    const lineFeed = chunk.lastIndexOf(LF);
    if (this.charset !== 'iso-2022-jp') return lineFeed + 1;
    const escapeBefore = chunk.lastIndexOf(ESC, lineFeed);
    const asciiAtLineFeed = escapeBefore === -1 ? this.ascii : selectsAscii(chunk, escapeBefore);
    const lastEscape = chunk.lastIndexOf(ESC);
    if (lastEscape !== -1) this.ascii = selectsAscii(chunk, lastEscape);
    return lineFeed !== -1 && asciiAtLineFeed ? lineFeed + 1 : 0;
  }

  private check(text: string): string {
    if (!this.defect && text.includes(REPLACEMENT)) this.defect = 'invalid-bytes';
    return text;
  }
}

/** True when the escape sequence at `index` is `ESC ( B` (switch to ASCII). */
function selectsAscii(bytes: Uint8Array, index: number): boolean {
  return bytes[index + 1] === 0x28 && bytes[index + 2] === 0x42;
}

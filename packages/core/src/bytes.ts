/** Carriage return. */
export const CR = 0x0d;
/** Line feed. */
export const LF = 0x0a;
/** The two bytes of a protocol line ending. */
export const CRLF: Uint8Array = new Uint8Array([CR, LF]);

const utf8Encoder = new TextEncoder();
// `ignoreBOM` keeps a leading U+FEFF: protocol text is what the peer sent, and a BOM is not a byte-order
// mark there (a mailbox name starting with one must be seen, and refused, not silently shortened).
const utf8Decoder = new TextDecoder('utf-8', { ignoreBOM: true });
const strictUtf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const latin1Decoder = new TextDecoder('latin1');
/**
 * WHATWG maps the `latin1` label to windows-1252, which turns 0x80–0x9F into other characters;
 * Node's decoder maps every byte to itself. Use the fast decoder only where it is one to one.
 */
const latin1DecoderIsExact = latin1Decoder.decode(new Uint8Array([0x80, 0x9f])) === '\u0080\u009f';

/** Encodes a string as UTF-8. */
export function utf8(text: string): Uint8Array {
  return utf8Encoder.encode(text);
}

/** Decodes UTF-8, replacing invalid sequences with U+FFFD; a leading U+FEFF is kept. */
export function decodeUtf8(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
}

/** Decodes UTF-8 (a leading U+FEFF kept), or returns `undefined` when the bytes are not valid UTF-8. */
export function decodeUtf8Strict(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8Decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Decodes bytes one to one into code points U+0000–U+00FF. Lossless for any byte string,
 * which makes it the right view of protocol lines before their charset is known.
 */
export function decodeLatin1(bytes: Uint8Array): string {
  if (latin1DecoderIsExact) return latin1Decoder.decode(bytes);
  let text = '';
  const step = 0x2000;
  for (let i = 0; i < bytes.length; i += step) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + step) as unknown as number[]);
  }
  return text;
}

/**
 * Encodes a string of code points U+0000–U+00FF as one byte each: the inverse of {@link decodeLatin1}.
 * Each code unit's low byte is kept, so text outside that range must not be passed.
 */
export function encodeLatin1(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** Joins byte chunks into one array. Returns the only chunk itself when there is just one. */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let total = 0;
  for (const chunk of chunks) total += chunk.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Encodes bytes as standard base64 (RFC 4648 §4) with padding. */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = '';
  const step = 0x8000;
  for (let i = 0; i < bytes.length; i += step) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + step) as unknown as number[]);
  }
  return btoa(binary);
}

const BASE64_PATTERN = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Decodes strict standard base64 (padding required, no whitespace), or returns `undefined`
 * when the text is not valid base64.
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (!BASE64_PATTERN.test(text)) return undefined;
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

const HEX_DIGITS = /^[0-9a-fA-F]*$/;

/** Encodes bytes as lower-case hexadecimal. */
export function encodeHex(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += byte.toString(16).padStart(2, '0');
  return text;
}

/** Decodes hexadecimal (either case), or returns `undefined` when the text is not an even run of hex digits. */
export function decodeHex(text: string): Uint8Array | undefined {
  if (text.length % 2 !== 0 || !HEX_DIGITS.test(text)) return undefined;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(text.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** True when `a` and `b` hold the same bytes. Not constant-time: use `timingSafeEqual` for secrets. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Compares two byte strings in time that depends only on their lengths, never on where they differ.
 * Callers compare fixed-length digests, so the length itself reveals nothing secret.
 */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  const length = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/**
 * True when a line starts with `keyword` (ASCII letters, matched in any case) and a space: a cheap look
 * at a command's verb before the line is decoded, such as `AUTH`, whose line may be as long as a SASL
 * response.
 */
export function startsWithKeyword(line: Uint8Array, keyword: string): boolean {
  if (line.length <= keyword.length || line[keyword.length] !== 0x20) return false;
  for (let i = 0; i < keyword.length; i++) {
    if ((line[i]! | 0x20) !== (keyword.charCodeAt(i) | 0x20)) return false;
  }
  return true;
}

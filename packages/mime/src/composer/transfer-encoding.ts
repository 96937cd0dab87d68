import { Base64Encoder } from '../transfer/base64.js';
import { QuotedPrintableEncoder } from '../transfer/quoted-printable.js';
import { MAX_LINE_LENGTH } from './fold.js';

/** The transfer encodings the composer writes. */
export type TransferEncoding = '7bit' | '8bit' | 'quoted-printable' | 'base64';

/** What the path to the recipient allows: 8-bit bodies only when every hop says 8BITMIME. */
export interface EncodingPolicy {
  /** The body is text (its line breaks are CRLF already). */
  readonly text: boolean;
  /** The transport announced 8BITMIME. */
  readonly eightBit: boolean;
}

/**
 * Picks the lightest encoding that carries `body` intact: `7bit` for short-lined ASCII, `8bit` for
 * short-lined text when the path is 8-bit clean, quoted-printable for text that is mostly ASCII,
 * and base64 for everything else.
 */
export function chooseTransferEncoding(body: Uint8Array, policy: EncodingPolicy): TransferEncoding {
  if (!policy.text) return isSevenBitLines(body) ? '7bit' : 'base64';
  let eightBitBytes = 0;
  let controlBytes = 0;
  let longestLine = 0;
  let lineStart = 0;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i]!;
    if (byte >= 0x80) eightBitBytes++;
    else if (byte === 0x0a) {
      longestLine = Math.max(longestLine, i - lineStart - 1);
      lineStart = i + 1;
    } else if (byte === 0 || (byte < 0x20 && byte !== 0x09 && byte !== 0x0d)) controlBytes++;
  }
  longestLine = Math.max(longestLine, body.length - lineStart);
  if (controlBytes === 0 && longestLine <= MAX_LINE_LENGTH) {
    if (eightBitBytes === 0) return '7bit';
    if (policy.eightBit) return '8bit';
  }
  return eightBitBytes + controlBytes <= body.length / 3 ? 'quoted-printable' : 'base64';
}

/**
 * True when `body` is ASCII text in CRLF lines of at most 998 bytes, so that it can travel as it is.
 * Stops at the first byte that rules it out, which for binary data is one of the first few.
 */
function isSevenBitLines(body: Uint8Array): boolean {
  let lineStart = 0;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i]!;
    if (byte >= 0x20 && byte < 0x7f) continue;
    if (byte === 0x0d) {
      if (body[i + 1] !== 0x0a || i - lineStart > MAX_LINE_LENGTH) return false;
      lineStart = ++i + 1;
    } else if (byte !== 0x09) return false;
  }
  return body.length - lineStart <= MAX_LINE_LENGTH;
}

/**
 * The identity encoding an encapsulated message can travel in (RFC 2046 §5.2.1, RFC 2045 §2.7–2.8): `7bit`
 * for CRLF lines of at most 998 bytes without NUL or 8-bit bytes, `8bit` when 8-bit bytes are allowed
 * too, else `undefined`. Other control characters are allowed, as ISO-2022-JP text needs ESC.
 */
export function identityEncoding(body: Uint8Array, eightBitAllowed: boolean): '7bit' | '8bit' | undefined {
  let eightBit = false;
  let lineStart = 0;
  for (let i = 0; i < body.length; i++) {
    const byte = body[i]!;
    if (byte === 0x0d) {
      if (body[i + 1] !== 0x0a || i - lineStart > MAX_LINE_LENGTH) return undefined;
      lineStart = ++i + 1;
    } else if (byte === 0 || byte === 0x0a) return undefined;
    else if (byte >= 0x80) {
      if (!eightBitAllowed) return undefined;
      eightBit = true;
    }
  }
  if (body.length - lineStart > MAX_LINE_LENGTH) return undefined;
  return eightBit ? '8bit' : '7bit';
}

/** A streaming encoder for one part's body in the chosen transfer encoding. */
export interface BodyEncoder {
  encode(chunk: Uint8Array): Uint8Array;
  end(): Uint8Array;
}

const EMPTY = new Uint8Array(0);

/**
 * The encoder for `encoding`. 7bit and 8bit bodies pass through as they are; the delimiter that
 * follows a body brings its own CRLF.
 */
export function createBodyEncoder(encoding: TransferEncoding, text: boolean): BodyEncoder {
  if (encoding === 'base64') return new Base64Encoder();
  if (encoding === 'quoted-printable') return new QuotedPrintableEncoder({ binary: !text });
  return { encode: (chunk) => chunk, end: () => EMPTY };
}

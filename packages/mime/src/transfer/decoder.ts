import { Base64Decoder } from './base64.js';
import { QuotedPrintableDecoder } from './quoted-printable.js';
import { UuDecoder } from './uuencode.js';

/** A streaming decoder of one body's Content-Transfer-Encoding. */
export interface TransferDecoder {
  /** Decodes one chunk; returns the bytes it settles. */
  decode(chunk: Uint8Array): Uint8Array;
  /** Ends the body; returns the last bytes. */
  end(): Uint8Array;
  /** Codes of the defects seen so far, each once (`unknown-transfer-encoding` for an unknown encoding). */
  readonly defects: readonly string[];
  /**
   * Line feeds in the encoded input since the body began, for a decoder that finds every one anyway
   * (quoted-printable): the parser then counts a text part's lines without a scan of its own.
   */
  readonly lineFeeds?: number;
}

const EMPTY = new Uint8Array(0);

/** The decoder of `7bit`, `8bit` and `binary`: returns its input as it is. */
class IdentityDecoder implements TransferDecoder {
  readonly defects: string[];

  constructor(defects: string[] = []) {
    this.defects = defects;
  }

  decode(chunk: Uint8Array): Uint8Array {
    return chunk;
  }

  end(): Uint8Array {
    return EMPTY;
  }
}

/**
 * The decoder for a Content-Transfer-Encoding value (case-insensitive, surrounding white space ignored):
 * `base64`, `quoted-printable`, `x-uuencode` (also `uuencode`, `x-uue`, `uue`), and the identity for
 * `7bit`, `8bit`, `binary` or no value. An unknown value gets the identity with the defect
 * `unknown-transfer-encoding`, so the body is kept as it came.
 */
export function createTransferDecoder(encoding: string | undefined): TransferDecoder {
  switch (encoding?.trim().toLowerCase() ?? '') {
    case 'base64':
      return new Base64Decoder();
    case 'quoted-printable':
      return new QuotedPrintableDecoder();
    case 'x-uuencode':
    case 'uuencode':
    case 'x-uue':
    case 'uue':
      return new UuDecoder();
    case '':
    case '7bit':
    case '8bit':
    case 'binary':
      return new IdentityDecoder();
    default:
      return new IdentityDecoder(['unknown-transfer-encoding']);
  }
}

import { InvalidMailboxNameError } from './errors.js';

/** RFC 3501 §5.1.3's modified BASE64 alphabet: `,` stands where BASE64 has `/`. */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';
const SHIFT = '&';
const UNSHIFT = '-';

function isPrintableAscii(code: number): boolean {
  return code >= 0x20 && code <= 0x7e;
}

function invalid(message: string): InvalidMailboxNameError {
  return new InvalidMailboxNameError('invalid-utf7', `invalid modified UTF-7: ${message}`);
}

/** Modified BASE64 of UTF-16 code units, big-endian and without padding. */
function encodeUnits(units: readonly number[]): string {
  let out = '';
  let bits = 0;
  let bitCount = 0;
  for (const unit of units) {
    bits = (bits << 16) | unit;
    bitCount += 16;
    while (bitCount >= 6) {
      bitCount -= 6;
      out += ALPHABET[(bits >> bitCount) & 0x3f];
    }
    bits &= (1 << bitCount) - 1;
  }
  if (bitCount > 0) out += ALPHABET[(bits << (6 - bitCount)) & 0x3f];
  return out;
}

/** The UTF-16 code units of one modified BASE64 run, which must be exactly what the encoder writes. */
function decodeUnits(run: string): number[] {
  const units: number[] = [];
  let bits = 0;
  let bitCount = 0;
  for (const char of run) {
    const value = ALPHABET.indexOf(char);
    if (value < 0) throw invalid(`${JSON.stringify(char)} is not modified BASE64`);
    bits = (bits << 6) | value;
    bitCount += 6;
    if (bitCount >= 16) {
      bitCount -= 16;
      units.push((bits >> bitCount) & 0xffff);
      bits &= (1 << bitCount) - 1;
    }
  }
  // An encoder pads the last unit with fewer than six zero bits; anything else is an odd byte
  // count, a superfluous character or non-zero padding.
  if (bitCount >= 6) throw invalid('an odd number of bytes or a superfluous character');
  if (bits !== 0) throw invalid('non-zero bits after the last character');
  return units;
}

/**
 * Encodes a mailbox name in IMAP's modified UTF-7 (RFC 3501 §5.1.3): printable US-ASCII stands for
 * itself, `&` becomes `&-`, and every other run of characters is UTF-16 in modified BASE64 between `&`
 * and `-`.
 * @throws InvalidMailboxNameError (`control-character`) for a lone surrogate, which has no encoding.
 */
export function encodeModifiedUtf7(name: string): string {
  let out = '';
  let pending: number[] = [];
  const flush = (): void => {
    if (pending.length === 0) return;
    out += SHIFT + encodeUnits(pending) + UNSHIFT;
    pending = [];
  };
  for (const char of name) {
    const code = char.charCodeAt(0);
    if (isPrintableAscii(code)) {
      flush();
      out += char === SHIFT ? SHIFT + UNSHIFT : char;
    } else if (code >= 0xd800 && code <= 0xdfff && char.length === 1) {
      throw new InvalidMailboxNameError('control-character', 'a lone surrogate cannot be encoded');
    } else {
      for (let i = 0; i < char.length; i++) pending.push(char.charCodeAt(i));
    }
  }
  flush();
  return out;
}

/**
 * Decodes IMAP's modified UTF-7 (RFC 3501 §5.1.3), accepting only the one form that
 * {@link encodeModifiedUtf7} writes, so that every name has one spelling.
 * @throws InvalidMailboxNameError (`invalid-utf7`) for a character outside 0x20–0x7E, an unterminated
 *   or malformed `&…-` sequence, printable US-ASCII written in BASE64, two adjacent encoded sequences,
 *   non-zero padding bits, an odd number of bytes or a lone surrogate.
 */
export function decodeModifiedUtf7(encoded: string): string {
  let out = '';
  let previousWasEncoded = false;
  let i = 0;
  while (i < encoded.length) {
    const code = encoded.charCodeAt(i);
    if (!isPrintableAscii(code)) throw invalid(`character U+${code.toString(16).padStart(4, '0')}`);
    if (encoded[i] !== SHIFT) {
      out += encoded[i];
      previousWasEncoded = false;
      i++;
      continue;
    }
    const end = encoded.indexOf(UNSHIFT, i + 1);
    if (end < 0) throw invalid('"&" without a closing "-"');
    const run = encoded.slice(i + 1, end);
    i = end + 1;
    if (run === '') {
      out += SHIFT;
      previousWasEncoded = false;
      continue;
    }
    if (previousWasEncoded) throw invalid('two adjacent encoded sequences');
    out += decodeRun(run);
    previousWasEncoded = true;
  }
  return out;
}

/** One `&…-` sequence's text, checked for lone surrogates and characters that must be literal. */
function decodeRun(run: string): string {
  const units = decodeUnits(run);
  let out = '';
  for (let k = 0; k < units.length; k++) {
    const unit = units[k]!;
    if (isPrintableAscii(unit)) throw invalid('printable US-ASCII in an encoded sequence');
    if (unit >= 0xdc00 && unit <= 0xdfff) throw invalid('a lone low surrogate');
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const low = units[k + 1];
      if (low === undefined || low < 0xdc00 || low > 0xdfff) throw invalid('a lone high surrogate');
      out += String.fromCharCode(unit, low);
      k++;
    } else {
      out += String.fromCharCode(unit);
    }
  }
  return out;
}

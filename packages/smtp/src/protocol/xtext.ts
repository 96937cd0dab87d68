import { InvalidArgumentError, ProtocolError, utf8 } from '@postwire/core';

const HEX_DIGITS = '0123456789ABCDEF';
const PLUS = 0x2b;
const EQUALS = 0x3d;
const LESS_THAN = 0x3c;
const GREATER_THAN = 0x3e;
/** Keeps a leading U+FEFF, which the default decoder would drop as a byte order mark. */
const strictUtf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const LONE_SURROGATE = /\p{Cs}/u;

/** True for an xchar: `!` to `~` other than `+` and `=`. */
function isXchar(byte: number): boolean {
  return byte >= 0x21 && byte <= 0x7e && byte !== PLUS && byte !== EQUALS;
}

/** The value of an upper-case hexadecimal digit, or -1. */
function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  return -1;
}

/**
 * Encodes text as RFC 3461 §4 xtext (the ENVID and ORCPT values): every UTF-8 octet outside `!`–`~`,
 * and `+` and `=`, becomes `+` and two upper-case hexadecimal digits, so no value can break the
 * command with CR, LF, a space or `=`. `<` and `>` are encoded too: xtext allows them bare, but servers
 * that look for the path by its brackets would misread them (catalogue case 31).
 * @throws InvalidArgumentError when the text holds a lone surrogate (it has no UTF-8 form).
 */
export function encodeXtext(text: string): string {
  if (LONE_SURROGATE.test(text))
    throw new InvalidArgumentError('xtext input is not well-formed Unicode text');
  let xtext = '';
  for (const byte of utf8(text)) {
    const keptAsIs = isXchar(byte) && byte !== LESS_THAN && byte !== GREATER_THAN;
    xtext += keptAsIs ? String.fromCharCode(byte) : `+${HEX_DIGITS[byte >> 4]}${HEX_DIGITS[byte & 0x0f]}`;
  }
  return xtext;
}

/**
 * Decodes RFC 3461 §4 xtext; the octets must be UTF-8. The result may hold any character, controls
 * included: check it before copying it anywhere (a DSN header, a log line).
 * Throws ProtocolError on malformed xtext (`+` not followed by two upper-case hex digits, chars outside
 * 33–126, `=`), or when the octets are not UTF-8.
 */
export function decodeXtext(xtext: string): string {
  const bytes = new Uint8Array(xtext.length);
  let length = 0;
  for (let i = 0; i < xtext.length; i++) {
    const code = xtext.charCodeAt(i);
    if (code === PLUS) {
      const high = hexValue(xtext.charCodeAt(i + 1));
      const low = hexValue(xtext.charCodeAt(i + 2));
      if (high < 0 || low < 0) {
        throw new ProtocolError(`xtext "+" at offset ${i} is not followed by two upper-case hex digits`);
      }
      bytes[length++] = (high << 4) | low;
      i += 2;
    } else if (isXchar(code)) {
      bytes[length++] = code;
    } else {
      throw new ProtocolError(`xtext holds a character that must be encoded, at offset ${i}`);
    }
  }
  try {
    return strictUtf8Decoder.decode(bytes.subarray(0, length));
  } catch {
    throw new ProtocolError('xtext does not decode to UTF-8 text');
  }
}

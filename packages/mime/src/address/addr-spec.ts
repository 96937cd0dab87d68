/** ASCII `atext` of RFC 5322 §3.2.3: letters, digits and ``!#$%&'*+-/=?^_`{|}~``. */
const atext = new Uint8Array(128);
for (const ch of "!#$%&'*+-/=?^_`{|}~") atext[ch.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) atext[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) {
  atext[c] = 1;
  atext[c + 0x20] = 1;
}

/** True for an `atext` code unit; with `utf8`, every non-ASCII code unit counts too (RFC 6532). */
export function isAtext(code: number, utf8: boolean): boolean {
  return code < 0x80 ? atext[code] === 1 : utf8;
}

/** True when `text` is a `dot-atom-text`: atext runs joined by single dots. */
export function isDotAtom(text: string, utf8: boolean): boolean {
  if (text.length === 0) return false;
  let previousDot = true;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x2e) {
      if (previousDot) return false;
      previousDot = true;
    } else if (isAtext(code, utf8)) {
      previousDot = false;
    } else {
      return false;
    }
  }
  return !previousDot;
}

/** Quotes `text` as an RFC 5322 quoted-string, escaping `"` and `\`. */
export function quoteString(text: string): string {
  return `"${text.replace(/["\\]/g, '\\$&')}"`;
}

/**
 * Builds the addr-spec `local@domain`, quoting the local part only where RFC 5322 needs it
 * (`john.doe@example.com`, `"john doe"@example.com`). Non-ASCII stays as it is (RFC 6532).
 */
export function formatAddrSpec(local: string, domain: string): string {
  return `${isDotAtom(local, true) ? local : quoteString(local)}@${domain}`;
}

import { InvalidArgumentError } from '@postwire/core';
import { decodePunycode } from './punycode.js';

/** Characters that would make the URL parser read a host other than the one given. */
const NOT_IN_HOST = /[/\\?#@:[\]%\s]/;

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}

/**
 * The ASCII (A-label) form of a domain, by the WHATWG URL host parser, which applies UTS #46 as browsers
 * do: `Bücher.de` → `xn--bcher-kva.de`, the ideographic full stop `。` becomes `.`, a Cyrillic `а` gives a
 * different A-label than the Latin `a`, and a ZWJ outside the contexts that RFC 5892 allows is refused.
 * An ASCII domain or a domain literal (`[1.2.3.4]`) is returned unchanged.
 * @throws InvalidArgumentError when the domain is not a valid internationalised domain name.
 */
export function toAsciiDomain(domain: string): string {
  if (domain.startsWith('[') || isAscii(domain)) return domain;
  if (NOT_IN_HOST.test(domain)) throw new InvalidArgumentError(`invalid domain "${domain}"`);
  try {
    return new URL(`http://${domain}`).hostname;
  } catch {
    throw new InvalidArgumentError(`invalid internationalised domain "${domain}"`);
  }
}

/**
 * The Unicode form of a domain, for display: each `xn--` label that decodes to a valid U-label whose
 * ASCII form is that same label is shown decoded; any other label is kept as written.
 */
export function toUnicodeDomain(domain: string): string {
  if (!/(^|\.)xn--/i.test(domain)) return domain;
  return domain
    .split('.')
    .map((label) => {
      if (!/^xn--/i.test(label)) return label;
      const lower = label.toLowerCase();
      const decoded = decodePunycode(lower.slice(4));
      if (decoded === undefined || isAscii(decoded)) return label;
      try {
        return toAsciiDomain(decoded) === lower ? decoded : label;
      } catch {
        return label;
      }
    })
    .join('.');
}

import { trimFoldingSpace } from '../message/white-space.js';

// The value syntaxes shared by DKIM-Signature tags and key record tags (RFC 6376 §2, §3.5, §3.6.1).

/** `value` without its SP, HTAB, CR and LF: a base64 value as its folding is undone. */
export function removeFoldingSpace(value: string): string {
  return value.replace(/[ \t\r\n]+/g, '');
}

/** Whether `value` (folding removed) is whole base64 quanta, with `=` padding at the end only. */
export function isBase64(value: string): boolean {
  return value.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(value);
}

/**
 * The items of a `:`-separated list, folding space around each removed; `undefined` when an item is
 * empty or holds white space.
 */
export function splitColonList(value: string): string[] | undefined {
  const items = value.split(':').map(trimFoldingSpace);
  return items.every((item) => /^[\x21-\x39\x3b-\x7e]+$/.test(item)) ? items : undefined;
}

/** Whether `name` is a domain name of letters, digits and inner hyphens, with at least `minLabels` labels. */
export function isDomainName(name: string, minLabels: number): boolean {
  const labels = name.split('.');
  return (
    labels.length >= minLabels &&
    labels.every((label) => label.length <= 63 && /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/.test(label))
  );
}

/**
 * Decodes dkim-quoted-printable (RFC 6376 §2.11): `=XX` is the byte XX, folding space is removed, and
 * the bytes are read as UTF-8. Returns `undefined` for an `=` not followed by two hex digits.
 */
export function decodeDkimQuotedPrintable(value: string): string | undefined {
  const text = removeFoldingSpace(value);
  if (!/^(?:[^=]|=[0-9A-Fa-f]{2})*$/.test(text)) return undefined;
  if (!text.includes('=')) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '=') {
      bytes.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(text.charCodeAt(i));
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** Whether `name` is `domain` or a subdomain of it, ignoring case. */
export function isSameOrSubdomain(name: string, domain: string): boolean {
  const lowerName = name.toLowerCase();
  const lowerDomain = domain.toLowerCase();
  return lowerName === lowerDomain || lowerName.endsWith(`.${lowerDomain}`);
}

import { InvalidArgumentError } from '@postwire/core';
import { encodeEncodedWords, needsEncoding } from '../header/encoded-word.js';
import { formatAddrSpec, isAtext, quoteString } from './addr-spec.js';
import { toAsciiDomain, toUnicodeDomain } from './idn.js';
import { type Token, TokenKind, tokenize } from './tokenize.js';
import type { Address, Mailbox } from './types.js';

/** Options of {@link formatAddress}. */
export interface AddressFormatOptions {
  /**
   * The message may carry raw UTF-8 (RFC 6531/6532): display names stay as they are, non-ASCII local parts
   * are allowed and IDN domains are written as U-labels. Otherwise names are encoded (RFC 2047), domains
   * are converted to A-labels, and a non-ASCII local part is refused.
   */
  smtputf8?: boolean;
}

/** Line breaks, other control characters, line separators and lone surrogates: never in a header. */
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|\p{Cs}/u;

/** A domain literal of printable ASCII dtext (RFC 5322 §3.4.1). */
const DOMAIN_LITERAL = /^\[[\x21-\x5a\x5e-\x7e]*\]$/;

function isAscii(text: string): boolean {
  return !/[^\x00-\x7f]/.test(text);
}

function checkText(text: string, what: string): void {
  if (FORBIDDEN.test(text)) throw new InvalidArgumentError(`${what} contains a control character`);
}

/** True when `text` is atoms joined by single spaces, so that it can stand unquoted as a phrase. */
function isAtomPhrase(text: string, utf8: boolean): boolean {
  let previousSpace = true;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x20) {
      if (previousSpace) return false;
      previousSpace = true;
    } else if (isAtext(code, utf8)) {
      previousSpace = false;
    } else {
      return false;
    }
  }
  return !previousSpace;
}

/**
 * A display name as a phrase: atoms when they suffice, else a quoted-string; and where some of its words
 * must be encoded (non-ASCII without SMTPUTF8, or text a reader would take for an encoded word), those runs
 * of words become encoded words and the rest stays atoms or quoted-strings, spaced so that a reader gets
 * back the same text.
 */
function formatPhrase(text: string, utf8: boolean): string {
  checkText(text, 'display name');
  const pieces = text.split(/( +)/);
  const mustEncode = (index: number): boolean => {
    const word = pieces[index]!;
    return index % 2 === 0 && (utf8 ? word.includes('=?') : needsEncoding(word));
  };
  if (!pieces.some((_, index) => mustEncode(index))) return plainPhrase(text, utf8);
  // Encoded runs and the plain text between them; each plain part gives one space to each encoded
  // neighbour, as a reader puts one space between an encoded word and the next token.
  const out: string[] = [];
  let plainStart = 0;
  for (let i = 0; i < pieces.length; i += 2) {
    if (!mustEncode(i)) continue;
    let last = i;
    while (last + 2 < pieces.length && mustEncode(last + 2)) last += 2;
    const plain = pieces.slice(plainStart, i).join('');
    if (plainStart > 0 || plain !== '') out.push(plainPhrase(plain.slice(plainStart > 0 ? 1 : 0, -1), utf8));
    out.push(encodeEncodedWords(pieces.slice(i, last + 1).join('')));
    plainStart = last + 1;
    i = last;
  }
  const tail = pieces.slice(plainStart).join('');
  if (tail !== '') out.push(plainPhrase(tail.slice(1), utf8));
  return out.join(' ');
}

/** Text without encoded words as atoms, or as a quoted-string when atoms would not read back the same. */
function plainPhrase(text: string, utf8: boolean): string {
  return isAtomPhrase(text, utf8) ? text : quoteString(text);
}

function isSpecial(token: Token, char: string): boolean {
  return token.kind === TokenKind.Special && token.text === char;
}

/** Splits an addr-spec (`local@domain`, the local part possibly quoted) without obsolete syntax. */
function splitAddrSpec(address: string): { local: string; domain: string } {
  const defects = new Set<string>();
  const { tokens, comments } = tokenize(address, address.length, 1, defects);
  const at = tokens.findIndex((token) => isSpecial(token, '@'));
  const valid =
    defects.size === 0 &&
    comments.length === 0 &&
    at > 0 &&
    at < tokens.length - 1 &&
    tokens.every((token, i) => {
      if (token.space) return false;
      if (i < at)
        return token.kind === TokenKind.Atom || token.kind === TokenKind.Quoted || isSpecial(token, '.');
      if (i === at) return true;
      return (
        token.kind === TokenKind.Atom ||
        isSpecial(token, '.') ||
        (token.kind === TokenKind.Literal && i === at + 1 && i === tokens.length - 1)
      );
    });
  if (!valid) throw new InvalidArgumentError(`"${address}" is not an addr-spec`);
  const local = tokens
    .slice(0, at)
    .map((token) => token.text)
    .join('');
  return { local, domain: address.slice(tokens[at]!.end) };
}

function formatDomain(domain: string, utf8: boolean): string {
  if (domain.startsWith('[')) {
    if (!DOMAIN_LITERAL.test(domain)) throw new InvalidArgumentError(`invalid domain literal "${domain}"`);
    return domain;
  }
  const labels = domain.split('.');
  if (labels.some((label) => label === '')) throw new InvalidArgumentError(`invalid domain "${domain}"`);
  if (isAscii(domain)) return domain;
  const ascii = toAsciiDomain(domain);
  return utf8 ? toUnicodeDomain(ascii) : ascii;
}

function formatMailbox(mailbox: Mailbox, utf8: boolean): string {
  checkText(mailbox.address, 'address');
  if (mailbox.address === '') throw new InvalidArgumentError('a mailbox needs an address');
  const { local, domain } = splitAddrSpec(mailbox.address);
  if (!utf8 && !isAscii(local)) throw new InvalidArgumentError('a non-ASCII local part needs SMTPUTF8');
  const spec = formatAddrSpec(local, formatDomain(domain, utf8));
  return mailbox.name === '' ? spec : `${formatPhrase(mailbox.name, utf8)} <${spec}>`;
}

/**
 * Formats a mailbox (`Name <local@domain>`, or the bare addr-spec without a name) or a group
 * (`Name: a@x, b@y;`) for a header field. Reads `name`, `address` and `members`; `local`, `domain` and
 * `comment` are ignored. The output reads back as the same addresses with {@link parseAddressList}.
 * @throws InvalidArgumentError for a control character (CR, LF …) in a name or address, an address that
 *   is not an addr-spec, a mailbox without an address, a group without a name, an invalid IDN, or a
 *   non-ASCII local part without `smtputf8`.
 */
export function formatAddress(address: Address, options?: AddressFormatOptions): string {
  const utf8 = options?.smtputf8 === true;
  if (!('group' in address)) return formatMailbox(address, utf8);
  if (address.group === '') throw new InvalidArgumentError('a group needs a display name');
  const members = address.members.map((member) => formatMailbox(member, utf8)).join(', ');
  return `${formatPhrase(address.group, utf8)}:${members === '' ? '' : ` ${members}`};`;
}

/** Formats addresses as an address-list, separated by `, ` (see {@link formatAddress}). */
export function formatAddressList(addresses: readonly Address[], options?: AddressFormatOptions): string {
  return addresses.map((address) => formatAddress(address, options)).join(', ');
}

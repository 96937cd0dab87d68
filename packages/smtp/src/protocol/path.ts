import { InvalidArgumentError, ProtocolError } from '@postwire/core';

/**
 * RFC 5321 §4.5.3.1.3: the longest path, in octets, counting the angle brackets and any source route.
 * It also bounds the domain below the 255 octets of §4.5.3.1.2, so no separate domain check is needed.
 */
const MAX_PATH_OCTETS = 256;

/**
 * A mailbox of an SMTP path. `address` is `localPart@domain`, the local part quoted only where RFC 5321
 * needs it; for the special `<Postmaster>` recipient, domain is '' and address is 'Postmaster'.
 * `localPart` holds the local part without its quotes and escapes; `domain` is kept in the case it was
 * written in, and an address literal keeps its brackets (`[192.0.2.1]`).
 */
export interface SmtpMailbox {
  /** The local part, without quotes and escapes. */
  readonly localPart: string;
  /** The domain, in the case written; an address literal keeps its brackets. */
  readonly domain: string;
  /** `localPart@domain`, quoted where RFC 5321 needs it. */
  readonly address: string;
}

/** How a path is read or written. */
export interface PathOptions {
  /** UTF-8 allowed in local part and domain (the transaction is SMTPUTF8). */
  readonly smtputf8?: boolean;
}

/**
 * Why a path was refused: `syntax` (outside the RFC 5321 grammar), `too-long` (over a §4.5.3.1 size
 * limit), or `utf8-not-allowed` (it would be valid, but holds non-ASCII and the transaction is not
 * SMTPUTF8).
 */
export type SmtpPathErrorReason = 'syntax' | 'too-long' | 'utf8-not-allowed';

/**
 * A path the peer sent was refused, with the reply a server should give: `501` and `5.1.7` (sender) or
 * `5.1.3` (recipient) for bad syntax and for a path over a size limit, as Postfix answers and RFC 5321
 * §4.5.3.1.10 suggests ("501 Path too long"); `553 5.6.7` for non-ASCII without SMTPUTF8 (RFC 6531
 * §3.5). The message never quotes the refused text, so it can go into a reply or a log as it is.
 */
export class SmtpPathError extends ProtocolError {
  /** What is wrong with the path. */
  readonly reason: SmtpPathErrorReason;
  /** The suggested SMTP reply code. */
  readonly replyCode: number;
  /** The suggested enhanced status code (RFC 3463). */
  readonly enhancedCode: string;

  constructor(reason: SmtpPathErrorReason, path: 'reverse-path' | 'forward-path', message: string) {
    super(message);
    this.reason = reason;
    if (reason === 'utf8-not-allowed') {
      this.replyCode = 553;
      this.enhancedCode = '5.6.7';
    } else {
      this.replyCode = 501;
      this.enhancedCode = path === 'reverse-path' ? '5.1.7' : '5.1.3';
    }
  }
}

/** A rule a path or mailbox broke; turned into the error its public entry point throws. */
class Refusal extends Error {
  readonly reason: SmtpPathErrorReason;

  constructor(reason: SmtpPathErrorReason, message: string) {
    super(message);
    this.reason = reason;
  }
}

function refuse(reason: SmtpPathErrorReason, message: string): never {
  throw new Refusal(reason, message);
}

/** The one recipient that has no domain (RFC 5321 §4.1.1.3). */
const POSTMASTER: SmtpMailbox = Object.freeze({ localPart: 'Postmaster', domain: '', address: 'Postmaster' });
/** ASCII-only case-insensitive match: no non-ASCII letter folds onto it. */
const POSTMASTER_NAME = /^postmaster$/i;

/**
 * What no part of a path may hold, whatever the options: C0 controls (CR and LF among them), DEL, C1
 * controls, the Unicode line and paragraph separators, lone surrogates (the text is not Unicode), and
 * U+FFFD (the mark a lenient decoder leaves where the bytes were not UTF-8).
 */
const FORBIDDEN_CHARACTER = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufffd\p{Cs}]/u;
const NON_ASCII = /[^\u0000-\u007f]/;
/** RFC 5321 Dot-string, with RFC 6531's UTF8-non-ascii counted as atext. */
const DOT_STRING =
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uffff-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\uffff-]+)*$/;
/** The characters of a sub-domain: letters, digits, hyphens, and RFC 6531's U-label characters. */
const LABEL_CHARACTERS = /^[A-Za-z0-9\u0080-\uffff-]+$/;
/** Ldh-str, the syntax of an address literal's Standardized-tag. */
const LDH_STRING = /^[A-Za-z0-9-]*[A-Za-z0-9]$/;
const SNUM = '(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])';
/** IPv4-address-literal, without leading zeros (which some readers take for octal). */
const IPV4 = new RegExp(`^${SNUM}(?:\\.${SNUM}){3}$`);
const IPV6_HEX = /^[0-9A-Fa-f]{1,4}$/;
/** dcontent: printable ASCII other than `[`, `\` and `]`. */
const DCONTENT = /^[!-Z^-~]+$/;
/** Characters that IDNA (UTS #46) reads as a label separator: a domain holding one means two things. */
const DOT_EQUIVALENT = /[\u3002\uff0e\uff61]/;
/** Characters that IDNA drops or refuses (soft hyphen, zero-width joiners and spaces, variation selectors …). */
const DEFAULT_IGNORABLE = /\p{Default_Ignorable_Code_Point}/u;

/** The length of text in UTF-8, as it goes on the wire. */
function octetLength(text: string): number {
  let length = 0;
  for (const character of text) {
    const code = character.codePointAt(0)!;
    length += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return length;
}

function checkCharacters(text: string): void {
  const found = FORBIDDEN_CHARACTER.exec(text);
  if (found !== null) {
    const code = found[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    refuse('syntax', `character U+${code} is not allowed in a path`);
  }
}

/** The local part as it is written in a path: as a Dot-string, or else as a Quoted-string. */
function writeLocalPart(localPart: string): string {
  return DOT_STRING.test(localPart) ? localPart : `"${localPart.replace(/["\\]/g, '\\$&')}"`;
}

function isIPv6(text: string): boolean {
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  // An IPv4 tail stands for the last two groups.
  if (tail.includes('.')) {
    if (!IPV4.test(tail)) return false;
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return false;
  let groups = 0;
  for (const half of halves) {
    if (half === '') continue;
    for (const group of half.split(':')) {
      if (!IPV6_HEX.test(group)) return false;
      groups++;
    }
  }
  return halves.length === 2 ? groups <= 7 : groups === 8;
}

/** Checks an address-literal (RFC 5321 §4.1.3), brackets included. */
function checkAddressLiteral(literal: string): void {
  if (!literal.endsWith(']')) refuse('syntax', 'an address literal must end with "]"');
  const body = literal.slice(1, -1);
  const colon = body.indexOf(':');
  if (colon < 0) {
    if (!IPV4.test(body)) refuse('syntax', 'the address literal is not an IPv4 address');
    return;
  }
  const tag = body.slice(0, colon);
  const content = body.slice(colon + 1);
  if (tag.toLowerCase() === 'ipv6') {
    if (!isIPv6(content)) refuse('syntax', 'the address literal is not an IPv6 address');
  } else if (!LDH_STRING.test(tag) || !DCONTENT.test(content)) {
    refuse('syntax', 'the address literal is malformed');
  }
}

/**
 * Checks a non-ASCII domain against IDNA as far as web-standard APIs reach: no character that UTS #46
 * would map to a dot or drop, each label already in the form IDNA maps it to (NFKC; upper case is
 * allowed, as it is for ASCII), and a host the WHATWG URL parser accepts (UTS #46 validity, which also
 * refuses a last label that reads as a number). What passes is a domain that resolvers read as the one
 * name it shows (catalogue case 35).
 */
function checkInternationalDomain(domain: string): void {
  if (DOT_EQUIVALENT.test(domain)) refuse('syntax', 'the domain holds a character that IDNA reads as a dot');
  if (DEFAULT_IGNORABLE.test(domain)) refuse('syntax', 'the domain holds an invisible character');
  const lowerCase = domain.toLowerCase();
  if (lowerCase.normalize('NFKC') !== lowerCase) refuse('syntax', 'the domain is not in IDNA normal form');
  if (!URL.canParse(`http://${domain}/`)) {
    refuse('syntax', 'the domain is not a valid internationalised name');
  }
}

/** Checks a Domain (RFC 5321 §4.1.2), with U-labels (RFC 6531 §3.3) where they appear. */
function checkDomainName(domain: string): void {
  for (const label of domain.split('.')) {
    if (label === '') refuse('syntax', 'the domain has an empty label');
    if (!LABEL_CHARACTERS.test(label)) {
      refuse('syntax', 'the domain holds a character outside letters, digits and "-"');
    }
    if (label.startsWith('-') || label.endsWith('-')) {
      refuse('syntax', 'a domain label starts or ends with "-"');
    }
  }
  if (NON_ASCII.test(domain)) checkInternationalDomain(domain);
}

/**
 * Builds a mailbox from its decoded parts, checking the domain. The local part's 64 octets of RFC 5321
 * §4.5.3.1.1 are not enforced, as Postfix does not: SRS and VERP senders exceed them, and the path limit
 * still bounds the whole.
 */
function buildMailbox(localPart: string, domain: string): SmtpMailbox {
  if (localPart === '') refuse('syntax', 'the local part is empty');
  const writtenLocalPart = writeLocalPart(localPart);
  if (domain.startsWith('[')) checkAddressLiteral(domain);
  else checkDomainName(domain);
  return { localPart, domain, address: `${writtenLocalPart}@${domain}` };
}

/** Reads a Quoted-string at the start of text; returns its content and the index after the closing quote. */
function readQuotedString(text: string): { content: string; end: number } {
  let content = '';
  for (let i = 1; i < text.length; i++) {
    const character = text[i]!;
    if (character === '"') return { content, end: i + 1 };
    if (character === '\\') {
      // quoted-pairSMTP: a backslash and one printable ASCII character or space.
      const escaped = text.charCodeAt(++i);
      if (!(escaped >= 0x20 && escaped <= 0x7e)) refuse('syntax', 'a backslash must escape printable ASCII');
      content += text[i];
    } else {
      content += character;
    }
  }
  return refuse('syntax', 'the quoted local part is not closed');
}

/** Reads a Mailbox (`Local-part "@" ( Domain / address-literal )`) that spans all of text. */
function readMailbox(text: string): SmtpMailbox {
  if (text.startsWith('"')) {
    const { content, end } = readQuotedString(text);
    if (text[end] !== '@') refuse('syntax', 'the quoted local part must be followed by "@"');
    return buildMailbox(content, text.slice(end + 1));
  }
  const at = text.indexOf('@');
  if (at < 0) refuse('syntax', 'the mailbox has no "@"');
  const localPart = text.slice(0, at);
  if (localPart !== '' && !DOT_STRING.test(localPart)) {
    refuse('syntax', 'the local part is neither a dot-string nor quoted');
  }
  return buildMailbox(localPart, text.slice(at + 1));
}

/** Skips an A-d-l source route (`@a,@b:`), checking its domains; returns the Mailbox after it. */
function skipSourceRoute(text: string): string {
  if (!text.startsWith('@')) return text;
  const colon = text.indexOf(':');
  if (colon < 0) refuse('syntax', 'the local part is empty');
  for (const atDomain of text.slice(0, colon).split(',')) {
    if (!atDomain.startsWith('@')) refuse('syntax', 'each source route domain must start with "@"');
    checkDomainName(atDomain.slice(1));
  }
  return text.slice(colon + 1);
}

function parsePath(
  text: string,
  path: 'reverse-path' | 'forward-path',
  options: PathOptions,
): SmtpMailbox | null {
  try {
    // The length check comes first and bounds the work: a UTF-16 code unit is at least one octet.
    if (text.length > MAX_PATH_OCTETS || octetLength(text) > MAX_PATH_OCTETS) {
      refuse('too-long', `the path is longer than ${MAX_PATH_OCTETS} octets`);
    }
    checkCharacters(text);
    if (!text.startsWith('<') || !text.endsWith('>')) {
      refuse('syntax', 'a path must be enclosed in "<" and ">"');
    }
    const inner = text.slice(1, -1);
    if (inner === '') {
      if (path === 'reverse-path') return null;
      refuse('syntax', 'a forward-path cannot be empty');
    }
    if (path === 'forward-path' && POSTMASTER_NAME.test(inner)) return POSTMASTER;
    const mailbox = readMailbox(skipSourceRoute(inner));
    if (options.smtputf8 !== true && NON_ASCII.test(text)) {
      refuse('utf8-not-allowed', 'non-ASCII addresses need SMTPUTF8');
    }
    return mailbox;
  } catch (error) {
    if (error instanceof Refusal) throw new SmtpPathError(error.reason, path, error.message);
    throw error;
  }
}

/**
 * Parses a Reverse-path as written after `MAIL FROM:`: `<>` gives null. A source route (`<@a,@b:x@y>`)
 * is accepted and dropped (RFC 5321 §4.1.2/Appendix C). Throws SmtpPathError.
 *
 * The grammar is RFC 5321 §4.1.2 (extended by RFC 6531 §3.3 when `smtputf8` is set), with these
 * choices where the RFCs leave room or real MTAs differ:
 * - Lenient: a quoted local part that needs no quotes (`"john"@x`) or escapes that are not needed
 *   (`"j\ohn"@x`) is read, and `address` is written without them.
 * - Lenient: an IPv6 literal may use `::` for a single zero group, as RFC 4291 text and inet_pton allow
 *   (RFC 5321 asks for at least two); the `IPv6:` tag is read in any case, as ABNF strings are.
 * - Lenient: a General-address-literal with an unregistered tag is read as its grammar allows.
 * - Strict: nothing around the brackets, no empty local part (not even `""`), no empty, leading,
 *   trailing or doubled dots, no `_` in domains, no IPv4 octet with a leading zero; nowhere a control
 *   (CR and LF included, escaped or not), DEL, U+2028/U+2029, U+FFFD or a lone surrogate; the path at
 *   most 256 octets as received (the local part's own 64-octet limit is not enforced: SRS and VERP
 *   senders pass it).
 * - A non-ASCII domain must be one that IDNA resolves to the name it shows (catalogue case 35).
 */
export function parseReversePath(text: string, options: PathOptions = {}): SmtpMailbox | null {
  return parsePath(text, 'reverse-path', options);
}

/**
 * Parses a Forward-path as written after `RCPT TO:`; `<Postmaster>` (any case) is allowed. Throws
 * SmtpPathError. The grammar and its leniencies are those of {@link parseReversePath}; a source route
 * is dropped here too (RFC 5321 Appendix C), and `<>` is refused.
 */
export function parseForwardPath(text: string, options: PathOptions = {}): SmtpMailbox {
  return parsePath(text, 'forward-path', options)!;
}

/**
 * The path for a mailbox that is valid, refusing what a server could read in more than one way: `<` and
 * `>` anywhere, even where quotes would make them legal, since servers that split on them exist
 * (catalogue case 31).
 */
function writePath(mailbox: SmtpMailbox, options: PathOptions): string {
  if (/[<>]/.test(mailbox.address)) refuse('syntax', 'a mailbox may not hold "<" or ">"');
  if (options.smtputf8 !== true && NON_ASCII.test(mailbox.address)) {
    refuse('utf8-not-allowed', 'a non-ASCII address needs SMTPUTF8');
  }
  const path = `<${mailbox.address}>`;
  if (octetLength(path) > MAX_PATH_OCTETS) {
    refuse('too-long', `the path is longer than ${MAX_PATH_OCTETS} octets`);
  }
  return path;
}

function refusalsAsInvalidArgument<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof Refusal) throw new InvalidArgumentError(error.message);
    throw error;
  }
}

/**
 * Writes a path with its angle brackets: `<>` for null. Throws InvalidArgumentError for a mailbox that
 * cannot be written as a valid path (CR, LF, `<`, `>`, controls, over-long parts, non-ASCII without
 * smtputf8) — the client refuses it before anything is sent (case 31).
 *
 * The path is built from `localPart` and `domain`, quoting the local part only where needed; `address`
 * is not read. A mailbox with domain '' is allowed only for Postmaster, written `<Postmaster>`. A
 * non-ASCII domain is not converted to its A-label form: without SMTPUTF8 it is refused.
 */
export function formatPath(mailbox: SmtpMailbox | null, options: PathOptions = {}): string {
  if (mailbox === null) return '<>';
  return refusalsAsInvalidArgument(() => {
    const { localPart, domain } = mailbox;
    checkCharacters(localPart);
    checkCharacters(domain);
    const valid =
      domain === '' && POSTMASTER_NAME.test(localPart) ? POSTMASTER : buildMailbox(localPart, domain);
    return writePath(valid, options);
  });
}

/**
 * Builds an SmtpMailbox from an address string `local@domain` given by an application (validating it
 * like formatPath). The string is an RFC 5321 Mailbox: a local part that is not a dot-string must be
 * quoted (`"john doe"@example.com`). `Postmaster` alone (any case) gives the Postmaster recipient.
 * Throws InvalidArgumentError.
 */
export function mailboxFromAddress(address: string, options: PathOptions = {}): SmtpMailbox {
  return refusalsAsInvalidArgument(() => {
    checkCharacters(address);
    const mailbox = POSTMASTER_NAME.test(address) ? POSTMASTER : readMailbox(address);
    writePath(mailbox, options);
    return mailbox;
  });
}

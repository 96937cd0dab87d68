import { InvalidArgumentError, LimitExceededError } from '@postwire/core';
import { isPositive, type SmtpReply } from './reply.js';

/** The EHLO keywords this package understands, each with the RFC that defines it. */
export const SmtpExtension = {
  /** RFC 1870: the largest message accepted, in octets (`0` or no value: no fixed limit); `SIZE=` on MAIL. */
  Size: 'SIZE',
  /** RFC 4954: SASL mechanisms for AUTH; `AUTH=` on MAIL. */
  Auth: 'AUTH',
  /** RFC 2920: commands may be sent in groups without waiting for each reply. */
  Pipelining: 'PIPELINING',
  /** RFC 6152: `BODY=8BITMIME` on MAIL. */
  EightBitMime: '8BITMIME',
  /** RFC 3030: `BODY=BINARYMIME` on MAIL, sent with BDAT only. */
  BinaryMime: 'BINARYMIME',
  /** RFC 3030: the BDAT command. */
  Chunking: 'CHUNKING',
  /** RFC 6531: UTF-8 addresses and headers; `SMTPUTF8` on MAIL. */
  SmtpUtf8: 'SMTPUTF8',
  /** RFC 3461: delivery status notifications; `RET=`, `ENVID=` on MAIL, `NOTIFY=`, `ORCPT=` on RCPT. */
  Dsn: 'DSN',
  /** RFC 3207: the STARTTLS command. */
  StartTls: 'STARTTLS',
  /** RFC 2034: every later reply carries an RFC 3463 enhanced status code. */
  EnhancedStatusCodes: 'ENHANCEDSTATUSCODES',
  /** RFC 8689: `REQUIRETLS` on MAIL. */
  RequireTls: 'REQUIRETLS',
  /** RFC 9422: `RCPTMAX=`, `MAILMAX=`, `RCPTDOMAINMAX=` limits for this session. */
  Limits: 'LIMITS',
} as const;

/** The limits a server announces with LIMITS (RFC 9422), each 1–999,999 when present. */
export interface EhloLimits {
  /** RCPTMAX: recipients per transaction. */
  readonly rcptMax?: number;
  /** MAILMAX: transactions per session. */
  readonly mailMax?: number;
  /** RCPTDOMAINMAX: distinct recipient domains per transaction. */
  readonly rcptDomainMax?: number;
}

/** What an EHLO (or LHLO) reply announces. Keyword names upper-cased; unknown keywords kept with their parameters. */
export interface SmtpCapabilities {
  /** The server's name, from the first line. */
  readonly domain: string;
  /** The rest of the first line, `''` when there is none. */
  readonly greeting: string;
  /** Every keyword with its parameters as sent (`AUTH=X` read as `AUTH X`; a keyword sent twice has its parameters merged). */
  readonly keywords: ReadonlyMap<string, readonly string[]>;
  /** SIZE: the largest message accepted, in octets; `0` = no fixed limit; absent when SIZE is not announced. */
  readonly size?: number;
  /** The SASL mechanisms of AUTH, upper-cased, each once. */
  readonly auth: readonly string[];
  /** PIPELINING (RFC 2920). */
  readonly pipelining: boolean;
  /** 8BITMIME (RFC 6152). */
  readonly eightBitMime: boolean;
  /** BINARYMIME announced together with CHUNKING, which it needs. */
  readonly binaryMime: boolean;
  /** CHUNKING: BDAT (RFC 3030). */
  readonly chunking: boolean;
  /** SMTPUTF8 (RFC 6531). */
  readonly smtputf8: boolean;
  /** DSN (RFC 3461). */
  readonly dsn: boolean;
  /** STARTTLS (RFC 3207). */
  readonly startTls: boolean;
  /** ENHANCEDSTATUSCODES (RFC 2034). */
  readonly enhancedStatusCodes: boolean;
  /** REQUIRETLS (RFC 8689). */
  readonly requireTls: boolean;
  /** Present when LIMITS is announced; malformed and unknown limits are left out (RFC 9422 §3). */
  readonly limits?: EhloLimits;
}

/** An ehlo-keyword (RFC 5321 §4.1.1.1). */
const EHLO_KEYWORD = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
/** An ehlo-param, and the server's name in the first line: printable US-ASCII but SP. */
const EHLO_PARAM = /^[\x21-\x7e]+$/;
const WHITESPACE = /[ \t]+/;
/** A registered LIMITS value (RFC 9422 §4): 1 to 6 digits without a leading zero. */
const LIMIT_VALUE = /^[1-9]\d{0,5}$/;
/** The most distinct keywords read from one reply: as many as the lines a client accepts by default. */
const MAX_EHLO_KEYWORDS = 100;

/**
 * Reads the capabilities from a positive EHLO or LHLO reply, leniently: keywords in any case, tabs or
 * several spaces between words, trailing spaces, the pre-standard `AUTH=LOGIN PLAIN` form, `SIZE`
 * without a number (as `0`).
 * @throws InvalidArgumentError when the reply is not positive.
 * @throws LimitExceededError (`ehloKeywords`) beyond 100 distinct keywords.
 */
export function parseEhloReply(reply: SmtpReply): SmtpCapabilities {
  if (!isPositive(reply)) throw new InvalidArgumentError(`a ${reply.code} reply announces no capabilities`);
  const [first = '', ...rest] = reply.lines;
  const head = first.trim();
  const gap = head.search(WHITESPACE);
  const domain = gap === -1 ? head : head.slice(0, gap);
  const greeting = gap === -1 ? '' : head.slice(gap).trimStart();
  const keywords = new Map<string, string[]>();
  for (const line of rest) {
    const [word = '', ...params] = line.trim().split(WHITESPACE);
    if (!word) continue;
    const equals = word.indexOf('=');
    if (equals > 0 && word.length > equals + 1) params.unshift(word.slice(equals + 1));
    const keyword = (equals > 0 ? word.slice(0, equals) : word).toUpperCase();
    const known = keywords.get(keyword);
    if (known) {
      for (const param of params) if (!known.includes(param)) known.push(param);
    } else {
      if (keywords.size === MAX_EHLO_KEYWORDS) {
        throw new LimitExceededError(
          'ehloKeywords',
          MAX_EHLO_KEYWORDS,
          `an EHLO reply announces more than ${MAX_EHLO_KEYWORDS} keywords`,
        );
      }
      keywords.set(keyword, params);
    }
  }
  const sizeParam = keywords.get(SmtpExtension.Size)?.[0];
  const limitParams = keywords.get(SmtpExtension.Limits);
  return {
    domain,
    greeting,
    keywords,
    ...(keywords.has(SmtpExtension.Size) && { size: parseSize(sizeParam) }),
    auth: [...new Set(keywords.get(SmtpExtension.Auth)?.map((mechanism) => mechanism.toUpperCase()))],
    pipelining: keywords.has(SmtpExtension.Pipelining),
    eightBitMime: keywords.has(SmtpExtension.EightBitMime),
    binaryMime: keywords.has(SmtpExtension.BinaryMime) && keywords.has(SmtpExtension.Chunking),
    chunking: keywords.has(SmtpExtension.Chunking),
    smtputf8: keywords.has(SmtpExtension.SmtpUtf8),
    dsn: keywords.has(SmtpExtension.Dsn),
    startTls: keywords.has(SmtpExtension.StartTls),
    enhancedStatusCodes: keywords.has(SmtpExtension.EnhancedStatusCodes),
    requireTls: keywords.has(SmtpExtension.RequireTls),
    ...(limitParams && { limits: parseLimits(limitParams) }),
  };
}

/** A SIZE value (RFC 1870 §4: up to 20 digits); one that is missing, malformed or beyond exact integers means no fixed limit. */
function parseSize(param: string | undefined): number {
  const size = param !== undefined && /^\d{1,20}$/.test(param) ? Number(param) : 0;
  return Number.isSafeInteger(size) ? size : 0;
}

function parseLimits(params: readonly string[]): EhloLimits {
  const limits: { -readonly [K in keyof EhloLimits]: EhloLimits[K] } = {};
  for (const param of params) {
    const [name = '', value = '', extra] = param.split('=');
    if (extra !== undefined || !LIMIT_VALUE.test(value)) continue;
    switch (name.toUpperCase()) {
      case 'RCPTMAX':
        limits.rcptMax = Number(value);
        break;
      case 'MAILMAX':
        limits.mailMax = Number(value);
        break;
      case 'RCPTDOMAINMAX':
        limits.rcptDomainMax = Number(value);
        break;
    }
  }
  return limits;
}

/**
 * The EHLO reply a server sends for these extensions (first line `domain greeting`, then one keyword
 * per line, upper-cased). `serializeReply` checks the greeting and the line lengths.
 * @throws InvalidArgumentError for a domain or parameter that is not printable US-ASCII without
 * spaces, a keyword outside the ehlo-keyword grammar, or the same keyword twice.
 */
export function ehloReply(
  domain: string,
  greeting: string,
  keywords: ReadonlyMap<string, readonly string[]> | Iterable<readonly [string, readonly string[]]>,
): SmtpReply {
  if (!EHLO_PARAM.test(domain))
    throw new InvalidArgumentError('the server name is printable US-ASCII without spaces');
  const lines = [greeting === '' ? domain : `${domain} ${greeting}`];
  const seen = new Set<string>();
  for (const [name, params] of keywords) {
    const keyword = name.toUpperCase();
    if (!EHLO_KEYWORD.test(keyword))
      throw new InvalidArgumentError(`${JSON.stringify(name)} is not an EHLO keyword`);
    if (seen.has(keyword)) throw new InvalidArgumentError(`EHLO keyword ${keyword} given twice`);
    seen.add(keyword);
    for (const param of params) {
      if (!EHLO_PARAM.test(param)) {
        throw new InvalidArgumentError(`${JSON.stringify(param)} is not a parameter of ${keyword}`);
      }
    }
    lines.push([keyword, ...params].join(' '));
  }
  return { code: 250, lines };
}

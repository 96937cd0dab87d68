import { decodeUtf8Strict, encodeLatin1 } from '@postwire/core';
import { type ArcVerification, arcAuthenticationResult, verifyArc } from './arc/verify.js';
import {
  formatAuthenticationResults,
  formatAuthenticationResultsField,
} from './authentication-results/format.js';
import type {
  AuthenticationResult,
  AuthenticationResults,
  ResultProperty,
} from './authentication-results/types.js';
import type { Sha256Factory } from './crypto/sha256.js';
import {
  type DkimVerification,
  defaultDkimVerifyLimits,
  dkimAuthenticationResult,
  verifyDkim,
} from './dkim/verify.js';
import { checkDmarc, type DmarcCheck } from './dmarc/check.js';
import type { DnsResolver } from './dns/resolver.js';
import { MessageHeaderReader, type RawHeaderField } from './message/header-reader.js';
import { type MessageSource, messageChunks } from './message/input.js';
import { checkSpf, type SpfCheck } from './spf/check-host.js';

/** Options of {@link authenticateMessage}: how the message arrived over SMTP, and where to look things up. */
export interface AuthenticateMessageOptions {
  /** Where SPF, DKIM key and DMARC records are looked up. */
  resolver: DnsResolver;
  /** The SMTP client's IP address. */
  ip: string;
  /** The name the client gave in HELO or EHLO. */
  helo: string;
  /** The RFC5321.MailFrom address without angle brackets; `''` for the null reverse-path `<>`. */
  mailFrom: string;
  /** The authentication service identifier of the field written, usually the receiving host's name. */
  authservId: string;
  /** The SPF result found at MAIL FROM for these `ip`, `helo` and `mailFrom`: used, not looked up again. */
  spf?: SpfCheck;
  /**
   * The user an SMTP client authenticated as (RFC 4954): the field then says `auth=pass smtp.auth=<user>`
   * (RFC 8601 §2.7.4), and SPF is neither checked nor used, as the client's address says nothing about the
   * sender's domain on submission. DMARC then rests on DKIM alone.
   */
  authenticatedUser?: string;
  /** The SHA-256 for DKIM and ARC (default: the portable one; `nodeSha256` of `./node` is faster). */
  sha256?: Sha256Factory;
  /** The clock for DKIM `x=` and SPF's `%{t}`, in milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
  /** A number in [0, 1) for DMARC `pct=` sampling (default `Math.random`). */
  random?: () => number;
}

/** What {@link authenticateMessage} found, and the Authentication-Results field that says so. */
export interface MessageAuthentication {
  /** The SPF result of the MAIL FROM identity (of HELO for `<>`); absent for an authenticated client. */
  spf?: SpfCheck;
  /** One verification per DKIM-Signature field, top to bottom; empty for an unsigned message. */
  dkim: DkimVerification[];
  /** The DMARC verdict for the RFC5322.From domain. */
  dmarc: DmarcCheck;
  /** The ARC chain's validation (RFC 8617 §5.2): `none` for a message without ARC sets. */
  arc: ArcVerification;
  /** The results as a value, in the order written: auth, spf, dkim…, arc, dmarc. */
  authenticationResults: AuthenticationResults;
  /** The whole `Authentication-Results: …` field, folded, with its final CRLF: ready to prepend. */
  field: string;
}

/** The From domain, or why there is no single one. */
type AuthorDomain =
  | { readonly ok: true; readonly domain: string }
  | { readonly ok: false; readonly reason: string };

/** A C0 control but HTAB, or DEL: never written into the field. */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]+/g;

/**
 * Authenticates a received message: SPF for the envelope (unless given, or the client authenticated), DKIM
 * for each signature, the ARC chain (reported with `smtp.remote-ip`, RFC 8617 §10.1), and DMARC for the
 * RFC5322.From domain from SPF and DKIM; and writes the Authentication-Results field (RFC 8601) that
 * reports them. The message is read once, as a stream: DKIM and ARC read the same pass, and the From field
 * is taken from it too. No From field, several From fields, or From mailboxes of more than one domain (or
 * of none) give DMARC `permerror` (RFC 7489 §6.6.1). Never throws for anything the message or the DNS holds.
 * @throws InvalidArgumentError when `authservId` is empty or holds a line break or control character.
 */
export async function authenticateMessage(
  message: MessageSource,
  options: AuthenticateMessageOptions,
): Promise<MessageAuthentication> {
  const { resolver, authservId } = options;
  // Checked before any lookup: a caller's mistake, not the message's.
  formatAuthenticationResults({ authservId, results: [] });
  const now = options.now === undefined ? {} : { now: options.now };
  const spf =
    options.authenticatedUser !== undefined
      ? undefined
      : (options.spf ??
        checkSpf({
          ip: options.ip,
          sender: options.mailFrom,
          helo: options.helo,
          resolver,
          receiver: authservId,
          ...now,
        }));

  const header = new MessageHeaderReader(defaultDkimVerifyLimits.maxHeaderBytes);
  const [dkimReading, arcReading] = shareReading(message, 2, (chunk) => {
    if (header.header === undefined) header.push(chunk);
  });
  const sha256 = options.sha256 === undefined ? {} : { sha256: options.sha256 };
  const [spfCheck, dkim, arc] = await Promise.all([
    spf,
    verifyDkim(dkimReading!, { resolver, ...now, ...sha256 }),
    verifyArc(arcReading!, { resolver, ...sha256 }),
  ]);
  const reading = header.header ?? header.end();
  const author = reading.ok ? authorDomain(reading.fields) : { ok: false as const, reason: reading.reason };

  const dmarc: DmarcCheck = author.ok
    ? await checkDmarc({
        resolver,
        fromDomain: author.domain,
        ...(spfCheck === undefined ? {} : { spf: { result: spfCheck.result, domain: spfCheck.domain } }),
        dkim: dkim.flatMap((each) =>
          each.signature === undefined ? [] : [{ result: each.result, domain: each.signature.domain }],
        ),
        ...(options.random === undefined ? {} : { random: options.random }),
      })
    : {
        result: 'permerror',
        reason: author.reason,
        fromDomain: '',
        spfAligned: false,
        dkimAligned: false,
        sampledOut: false,
        disposition: 'none',
      };

  const results: AuthenticationResult[] = [];
  if (options.authenticatedUser !== undefined) {
    results.push(result('auth', 'pass', [property('smtp', 'auth', options.authenticatedUser)]));
  }
  if (spfCheck !== undefined) results.push(spfResult(spfCheck));
  if (dkim.length === 0) results.push(result('dkim', 'none', []));
  for (const verification of dkim) results.push(dkimAuthenticationResult(verification));
  results.push(arcAuthenticationResult(arc, options.ip));
  results.push(dmarcResult(dmarc));

  const authenticationResults: AuthenticationResults = { authservId, results: results.map(writable) };
  return {
    ...(spfCheck === undefined ? {} : { spf: spfCheck }),
    dkim,
    dmarc,
    arc,
    authenticationResults,
    field: formatAuthenticationResultsField(authenticationResults, { fold: true }),
  };
}

/**
 * One pass over `source` shared by `count` readers: each chunk is read from the source once, shown to
 * `observe`, and handed to every reader still reading. A reader that stops early (ARC without ARC sets
 * stops after the header) takes no more chunks; the source is closed once none reads.
 */
function shareReading(
  source: MessageSource,
  count: number,
  observe: (chunk: Uint8Array) => void,
): AsyncIterable<Uint8Array>[] {
  const iterator = messageChunks(source)[Symbol.asyncIterator]();
  const queues = Array.from({ length: count }, (): Uint8Array[] | undefined => []);
  let ended = false;
  let pulling: Promise<void> | undefined;
  const pull = async () => {
    try {
      const next = await iterator.next();
      if (next.done) {
        ended = true;
        return;
      }
      observe(next.value);
      for (const queue of queues) queue?.push(next.value);
    } finally {
      pulling = undefined;
    }
  };
  const reader = async function* (index: number): AsyncGenerator<Uint8Array> {
    const queue = queues[index]!;
    try {
      for (;;) {
        while (queue.length === 0) {
          if (ended) return;
          pulling ??= pull();
          await pulling;
        }
        yield queue.shift()!;
      }
    } finally {
      queues[index] = undefined;
      if (!ended && queues.every((each) => each === undefined)) {
        ended = true;
        await iterator.return?.();
      }
    }
  };
  return queues.map((_, index) => reader(index));
}

function result(
  method: string,
  outcome: string,
  properties: ResultProperty[],
  reason?: string,
): AuthenticationResult {
  return { method, result: outcome, properties, ...(reason === undefined ? {} : { reason }) };
}

function property(type: string, name: string, value: string): ResultProperty {
  return { type, property: name, value };
}

/** `spf=` with the identity checked: `smtp.mailfrom`, or `smtp.helo` for `<>` (RFC 8601 §2.7.2). */
function spfResult(check: SpfCheck): AuthenticationResult {
  const identity =
    check.identity === 'mailfrom'
      ? property('smtp', 'mailfrom', check.sender)
      : property('smtp', 'helo', check.domain);
  return result('spf', check.result, [identity], check.reason);
}

/**
 * `dmarc=` with `header.from` (RFC 7489 §11.2); with a policy record, its `p=` as `polrec.p` and, when
 * it was found at a parent domain, that domain as `polrec.domain` (both DMARCbis), and the disposition
 * DMARC asks for this message as `policy.evaluated-disposition` (as Authentication-Milter and Fastmail
 * write it, where OpenDMARC writes the comment `(p=… dis=…)`): what is applied is the receiver's choice,
 * made later.
 */
function dmarcResult(check: DmarcCheck): AuthenticationResult {
  const properties: ResultProperty[] = [];
  if (check.fromDomain !== '') properties.push(property('header', 'from', check.fromDomain));
  if (check.record !== undefined) {
    properties.push(property('polrec', 'p', check.record.policy));
    if (check.policyDomain !== undefined && check.policyDomain !== check.fromDomain) {
      properties.push(property('polrec', 'domain', check.policyDomain));
    }
    if (check.result === 'pass' || check.result === 'fail') {
      properties.push(property('policy', 'evaluated-disposition', check.disposition));
    }
  }
  return result('dmarc', check.result, properties, check.reason);
}

/** A result whose reason and values hold no control characters, which could not be written. */
function writable(entry: AuthenticationResult): AuthenticationResult {
  return {
    ...entry,
    ...(entry.reason === undefined ? {} : { reason: entry.reason.replace(CONTROL, ' ') }),
    properties: entry.properties.map((each) => ({ ...each, value: each.value.replace(CONTROL, ' ') })),
  };
}

/**
 * The RFC5322.From domain: exactly one From field, whose mailboxes (one, or several of the same domain)
 * each have a domain (RFC 7489 §6.6.1). A domain of U-labels is turned into A-labels.
 */
function authorDomain(fields: readonly RawHeaderField[]): AuthorDomain {
  const from = fields.filter((field) => field.key === 'from');
  if (from.length !== 1) {
    return { ok: false, reason: from.length === 0 ? 'no From field' : `${from.length} From fields` };
  }
  const raw = from[0]!.value;
  const value = /[^\x00-\x7f]/.test(raw) ? (decodeUtf8Strict(encodeLatin1(raw)) ?? raw) : raw;
  const mailboxes = mailboxDomains(value);
  if (mailboxes.length === 0) return { ok: false, reason: 'no mailbox in the From field' };
  if (mailboxes.some((domain) => domain === undefined)) {
    return { ok: false, reason: 'a From mailbox has no domain' };
  }
  const domains = new Set(mailboxes.map((domain) => aLabels(domain!).toLowerCase()));
  if (domains.size > 1) return { ok: false, reason: 'the From mailboxes are of more than one domain' };
  return { ok: true, domain: [...domains][0]! };
}

/** A domain with U-labels as A-labels (IDNA, through the WHATWG URL host parser); others as they are. */
function aLabels(domain: string): string {
  if (!/[^\x00-\x7f]/.test(domain) || !/^[\p{L}\p{M}\p{N}.-]+$/u.test(domain)) return domain;
  try {
    return new URL(`http://${domain}/`).hostname;
  } catch {
    return domain;
  }
}

/** A lexical token of an address list: a special, or a word (atom, quoted string, domain literal). */
type Token = { readonly special: string } | { readonly word: string };

/**
 * The domain of each mailbox of a From field's value (`undefined` for one without `@domain`), read as
 * RFC 5322 §3.4 (with its obsolete forms) leniently: comments are skipped; display names, groups and
 * source routes are set aside; the domain is what follows the last `@` of the address.
 */
function mailboxDomains(value: string): (string | undefined)[] {
  const domains: (string | undefined)[] = [];
  let mailbox: Token[] = [];
  /** Inside `<…>`; after it, where only a comma or the group's end may follow. */
  let angle: 'in' | 'after' | undefined;
  const end = () => {
    if (mailbox.length > 0) domains.push(domainOf(mailbox));
    mailbox = [];
    angle = undefined;
  };
  for (const token of tokens(value)) {
    const special = 'special' in token ? token.special : undefined;
    if (angle === 'in') {
      if (special === '>') angle = 'after';
      // The end of an obsolete source route (`<@a,@b:local@domain>`): the address follows.
      else if (special === ':') mailbox = [];
      else if (special !== ',') mailbox.push(token);
    } else if (special === ',' || special === ';') {
      end();
    } else if (special === '<') {
      // What came before was the display name.
      angle = 'in';
      mailbox = [];
    } else if (special === ':') {
      // A group's display name ends: its mailboxes follow.
      mailbox = [];
    } else if (angle === undefined) {
      mailbox.push(token);
    }
  }
  end();
  return domains;
}

/** The domain after the last `@` of a mailbox's tokens, or `undefined` when there is none. */
function domainOf(mailbox: readonly Token[]): string | undefined {
  let at = -1;
  mailbox.forEach((token, index) => {
    if ('special' in token && token.special === '@') at = index;
  });
  const domain = mailbox
    .slice(at + 1)
    .map((token) => ('word' in token ? token.word : token.special))
    .join('');
  return at < 0 || domain === '' ? undefined : domain;
}

const SPECIALS = '<>,;:@.';

/** The tokens of an address list; comments and folding white space are dropped. */
function* tokens(value: string): Generator<Token> {
  for (let i = 0; i < value.length; ) {
    const c = value[i]!;
    if (c === '(') {
      i = afterComment(value, i);
    } else if (c === '"' || c === '[') {
      const close = c === '"' ? '"' : ']';
      let j = i + 1;
      while (j < value.length && value[j] !== close) j += value[j] === '\\' ? 2 : 1;
      yield { word: value.slice(i, j + 1) };
      i = j + 1;
    } else if (SPECIALS.includes(c)) {
      yield { special: c };
      i++;
    } else if (/[ \t\r\n]/.test(c)) {
      i++;
    } else {
      let j = i;
      while (j < value.length && !/[ \t\r\n()"[<>,;:@.]/.test(value[j]!)) j++;
      yield { word: value.slice(i, j) };
      i = j;
    }
  }
}

/** Where a comment (nested, with quoted-pairs) opening at `start` ends; the end of `value` if it does not. */
function afterComment(value: string, start: number): number {
  let depth = 0;
  for (let i = start; i < value.length; i++) {
    const c = value[i];
    if (c === '\\') i++;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i + 1;
  }
  return value.length;
}

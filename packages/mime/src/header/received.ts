import { readQuotedString, skipComment } from './cfws.js';
import { type ParsedDate, parseDate } from './date.js';

/**
 * A Received trace field (RFC 5321 §4.4), read leniently: each server writes its own dialect, so
 * this takes what it can recognise and ignores the rest. Host names are as written; IP addresses
 * lose their brackets, `IPv6:` prefix, port and zone index, and IPv6 addresses are written in
 * their canonical form.
 */
export interface Received {
  /** The name the client gave after `from` (an IP address for `from [192.0.2.1]`). */
  from?: string;
  /** The client's IP address as the receiving server saw it (from the comment after `from`). */
  fromIp?: string;
  /** The client's reverse DNS name as the receiving server saw it. */
  fromIpRev?: string;
  /** The HELO/EHLO/LHLO argument, when the trace shows it. */
  helo?: string;
  /** The greeting command, when the trace shows it. */
  heloCommand?: 'HELO' | 'EHLO' | 'LHLO';
  /** The client's user, from `ident=`, `IDENT:` or `user@host` in the `from` comments. */
  ident?: string;
  /** The receiving server. */
  by?: string;
  /** The `via` link. */
  via?: string;
  /**
   * The `with` protocol, upper-cased (`SMTP`, `ESMTP`, `ESMTPS`, `ESMTPSA`, `LMTP`, `HTTP`, `IMAP`,
   * `POP3` …), or `Local` for local delivery; only recognised protocols are given.
   */
  with?: string;
  /** The receiving server's queue id. */
  id?: string;
  /** The recipient in `for`, when it is an address. */
  for?: string;
  /** The TLS version in the `TLSv1_3` style (`SSLv3` for SSL), when a comment tells it. */
  tlsVersion?: string;
  /** The TLS cipher suite, when a comment tells it. */
  tlsCipher?: string;
  /** The date after the last `;`. */
  date?: ParsedDate;
}

type Token = { kind: 'word' | 'comment'; text: string } | { kind: 'semicolon'; end: number };

const KEYWORDS = new Set(['from', 'by', 'via', 'with', 'id', 'for']);
const PROTOCOLS = new Set([
  'SMTP',
  'ESMTP',
  'ESMTPA',
  'ESMTPS',
  'ESMTPSA',
  'LMTP',
  'LMTPA',
  'LMTPS',
  'LMTPSA',
  'UTF8SMTP',
  'UTF8SMTPA',
  'UTF8SMTPS',
  'UTF8SMTPSA',
  'HTTP',
  'HTTPS',
  'IMAP',
  'POP3',
]);
/** Names mailers write for a protocol we know under another name. */
const PROTOCOL_ALIASES: ReadonlyMap<string, string> = new Map([
  ['ESMTP-TLS', 'ESMTPS'],
  ['BSMTP', 'SMTP'],
  ['SMTPSVC', 'SMTP'],
  ['HTTPREST', 'HTTP'],
]);
const TLS_VERSION = /^(TLS|SSL)v?-?(\d)(?:[._](\d))?$/i;
const CIPHER = /^[A-Z0-9]+(?:[-_][A-Z0-9]+){2,}$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const MAX_TOKENS = 1000;

/** Parses a Received field value; never throws, and missing parts are simply absent. */
export function parseReceived(value: string): Received {
  const tokens = tokenize(value);
  const received: Received = {};
  let inFrom = false;
  let fromSeen = false;
  let lastSemicolon = -1;
  for (let k = 0; k < tokens.length; k++) {
    const token = tokens[k]!;
    if (token.kind === 'semicolon') {
      lastSemicolon = token.end;
      inFrom = false;
      continue;
    }
    if (token.kind === 'comment') {
      if (/tls|ssl|cipher/i.test(token.text)) readTls(token.text, received);
      if (inFrom) readFromComment(token.text, received);
      continue;
    }
    const keyword = token.text.toLowerCase();
    if (!KEYWORDS.has(keyword)) {
      if (inFrom && token.text.startsWith('[')) received.fromIp ??= ipAddress(token.text);
      continue;
    }
    inFrom = keyword === 'from' && !fromSeen;
    if (keyword === 'from') fromSeen = true;
    const next = tokens[k + 1];
    if (next?.kind !== 'word' || KEYWORDS.has(next.text.toLowerCase())) continue;
    k++;
    readClause(keyword, next.text, tokens, k, received);
  }
  if (lastSemicolon !== -1) {
    const date = parseDate(value.slice(lastSemicolon));
    if (date) received.date = date;
  }
  return received;
}

/**
 * Words, comments and semicolons. `[…]`, `<…>` and quoted strings stay inside one word; a value
 * that starts with a `(from …)` comment (some relays write the whole from clause so) is opened.
 */
function tokenize(value: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < value.length && tokens.length < MAX_TOKENS) {
    const char = value[i]!;
    if (char === ' ' || char === '\t' || char === '\r' || char === '\n' || char === ',') i++;
    else if (char === ';') tokens.push({ kind: 'semicolon', end: ++i });
    else if (char === '(') {
      const end = skipComment(value, i);
      const text = value.slice(i + 1, value[end - 1] === ')' ? end - 1 : end);
      if (tokens.length === 0 && /^from\s/i.test(text)) tokens.push(...tokenize(text));
      else tokens.push({ kind: 'comment', text });
      i = end;
    } else {
      const start = i;
      while (i < value.length && !/[ \t\r\n,;(]/.test(value[i]!)) {
        const close = value[i] === '[' ? ']' : value[i] === '<' ? '>' : undefined;
        if (value[i] === '"') i = readQuotedString(value, i).end;
        else if (close) {
          const end = value.indexOf(close, i + 1);
          i = end === -1 ? value.length : end + 1;
        } else i++;
      }
      tokens.push({ kind: 'word', text: value.slice(start, i) });
    }
  }
  return tokens;
}

function readClause(
  keyword: string,
  text: string,
  tokens: readonly Token[],
  index: number,
  received: Received,
): void {
  switch (keyword) {
    case 'from':
      received.from ??= host(text);
      break;
    case 'by':
      received.by ??= host(text);
      break;
    case 'via':
      received.via ??= text;
      break;
    case 'id':
      received.id ??= stripAngles(text).split('/')[0] || undefined;
      break;
    case 'for': {
      const address = stripAngles(text);
      if (address.includes('@')) received.for ??= address;
      break;
    }
    default:
      readWith(tokens, index, received);
  }
}

/**
 * The protocol of `with`: the word itself (`esmtps`, `local-esmtp`, `ESMTP/TLS/<cipher>`), or the
 * first known protocol in the next two words (`Microsoft SMTP Server`, `[XMail 1.20 ESMTP Server]`).
 */
function readWith(tokens: readonly Token[], index: number, received: Received): void {
  if (received.with !== undefined) return;
  const first = tokens[index] as { text: string };
  const parts = first.text.split('/');
  for (const part of parts.slice(1)) if (CIPHER.test(part)) received.tlsCipher ??= part;
  const word = parts[0]!.toUpperCase();
  if (word === 'LOCAL') {
    received.with = 'Local';
    return;
  }
  const direct = protocol(word.startsWith('LOCAL-') ? word.slice(6) : word);
  if (direct) {
    received.with = direct;
    return;
  }
  for (let k = index; k < index + 3; k++) {
    const token = tokens[k];
    if (token?.kind !== 'word' || (k > index && KEYWORDS.has(token.text.toLowerCase()))) return;
    for (const part of token.text.split(/[\s/[\]]+/)) {
      const known = protocol(part.toUpperCase());
      if (known) {
        received.with = known;
        return;
      }
    }
  }
}

function protocol(word: string): string | undefined {
  const name = PROTOCOL_ALIASES.get(word) ?? word;
  return PROTOCOLS.has(name) ? name : undefined;
}

/**
 * The comments after `from`: `(HELO name)`, `(name [ip])`, `([ip] helo=name ident=user)`,
 * `(user@host)`, `(IDENT:user@host [ip])`, `(ip)` …
 */
function readFromComment(text: string, received: Received): void {
  const parts = tokenize(text).flatMap((token) => (token.kind === 'word' ? [token.text] : []));
  for (let k = 0; k < parts.length; k++) {
    const part = parts[k]!;
    const command = part.toUpperCase();
    if (command === 'HELO' || command === 'EHLO' || command === 'LHLO') {
      received.heloCommand ??= command;
      const argument = parts[k + 1];
      if (argument !== undefined) {
        received.helo ??= host(argument);
        k++;
      }
    } else if (/^helo=/i.test(part)) {
      received.heloCommand ??= 'HELO';
      received.helo ??= host(part.slice(5));
    } else if (/^ident[=:]/i.test(part)) received.ident ??= identity(part.slice(6));
    else if (part.includes('@')) {
      const literal = /^(.+)@\[([^\]]*)\]$/.exec(part);
      if (literal) {
        received.ident ??= literal[1];
        received.fromIp ??= ipAddress(literal[2]!);
      } else received.ident ??= identity(part);
    } else {
      const bracket = part.indexOf('[');
      const ip = ipAddress(bracket === -1 ? part : part.slice(bracket));
      if (ip) received.fromIp ??= ip;
      // The first word may be the reverse DNS name: `(name [ip])`, `(name[ip])`, `(name)`.
      const name = stripAngles(bracket === -1 ? part : part.slice(0, bracket));
      if (k === 0 && (bracket !== -1 || !ip) && name.includes('.') && !ipAddress(name))
        received.fromIpRev ??= name;
    }
  }
}

/** TLS details in a comment: `(using TLSv1.3 with cipher X)`, `(version=TLS1_2, cipher=X)`, `(TLS-1.0:X:256)` … */
function readTls(text: string, received: Received): void {
  const parts = text.split(/[\s,=:/()]+/);
  for (let k = 0; k < parts.length; k++) {
    const part = parts[k]!;
    const version = TLS_VERSION.exec(part);
    if (version) {
      const ssl = version[1]!.toUpperCase() === 'SSL';
      received.tlsVersion ??= ssl ? `SSLv${version[2]}` : `TLSv${version[2]}_${version[3] ?? '0'}`;
    } else if (part.toLowerCase() === 'cipher' && CIPHER.test(parts[k + 1] ?? ''))
      received.tlsCipher ??= parts[k + 1];
    else if (CIPHER.test(part) && !/^(TLS|SSL)v?\d/i.test(part)) received.tlsCipher ??= part;
  }
}

/** A host as written, or an IP address in canonical form; brackets, angles and a `/suffix` removed. */
function host(text: string): string | undefined {
  const ip = ipAddress(text);
  if (ip) return ip;
  const close = text.indexOf(']');
  const inner = text.startsWith('[') ? text.slice(1, close === -1 ? undefined : close) : text;
  return stripAngles(inner).split('/')[0] || undefined;
}

function identity(text: string): string | undefined {
  return stripAngles(text.replace(/^\[|\]$/g, '')).split('/')[0] || undefined;
}

function stripAngles(text: string): string {
  return text.startsWith('<') && text.endsWith('>') ? text.slice(1, -1) : text;
}

/**
 * The IP address in `text` (`1.2.3.4`, `[1.2.3.4]`, `[1.2.3.4]:25`, `1.2.3.4:25`, `[IPv6:::1]`,
 * `[(1.2.3.4)]`, `fe80::1%6`), or `undefined`.
 */
function ipAddress(text: string): string | undefined {
  let address = text;
  if (address.startsWith('[')) {
    const close = address.indexOf(']');
    address = address.slice(1, close === -1 ? undefined : close);
  }
  address = address.replace(/^\(|\)$/g, '').replace(/^ipv6:/i, '');
  const v4 = /^([\d.]+):\d+$/.exec(address);
  if (v4) address = v4[1]!;
  if (IPV4.test(address))
    return address.split('.').every((octet) => Number(octet) <= 255) ? address : undefined;
  if (!address.includes(':') || !/^[0-9A-Fa-f:.%a-z0-9]+$/.test(address)) return undefined;
  const withoutZone = address.split('%')[0]!;
  try {
    const hostname = new URL(`http://[${withoutZone}]/`).hostname.slice(1, -1);
    return withoutZone.includes('.') ? withoutZone : hostname;
  } catch {
    return undefined;
  }
}

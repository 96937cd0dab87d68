import { SmtpCommandError } from '../protocol/command.js';

/**
 * What XCLIENT (Postfix `XCLIENT_README`) said about the client, merged over the session's XCLIENT
 * commands. An attribute XCLIENT did not name is absent (the connection's own value stands); `null`
 * stands for `[UNAVAILABLE]`.
 */
export interface SmtpXclient {
  /** NAME: the client's host name, or `[TEMPUNAVAIL]` when its lookup failed for now. */
  readonly name?: string | null;
  /** ADDR: the client's IP address (IPv6 without the `IPV6:` prefix). */
  readonly address?: string | null;
  /** PORT: the client's TCP port. */
  readonly port?: number | null;
  /** PROTO: how the client greeted, which names the protocol in the `Received:` header. */
  readonly protocol?: 'SMTP' | 'ESMTP' | null;
  /** HELO: the name the client gave in HELO or EHLO. */
  readonly helo?: string | null;
  /** LOGIN: the user the client authenticated as; the session takes it as authenticated. */
  readonly login?: string | null;
  /** DESTADDR: the server address the client connected to. */
  readonly destinationAddress?: string | null;
  /** DESTPORT: the server port the client connected to. */
  readonly destinationPort?: number | null;
}

/**
 * What XFORWARD (Postfix `XFORWARD_README`) said about the up-stream hop, for the next transaction
 * only. An attribute not given (or given as `[UNAVAILABLE]`) is unknown: none is ever filled in from the
 * session's own client.
 */
export interface SmtpXforward {
  /** NAME: the up-stream client's host name (not necessarily a DNS name). */
  readonly name?: string;
  /** ADDR: the up-stream client's address (not necessarily an IP address). */
  readonly address?: string;
  /** PORT: the up-stream client's TCP port. */
  readonly port?: number;
  /** PROTO: the protocol the up-stream host received the message with. */
  readonly protocol?: string;
  /** HELO: the name the up-stream client announced itself with. */
  readonly helo?: string;
  /** IDENT: the up-stream host's identifier for the message, for logs. */
  readonly ident?: string;
  /** SOURCE: `LOCAL` when the message originated at the up-stream host, `REMOTE` otherwise. */
  readonly source?: 'LOCAL' | 'REMOTE';
}

/** The XCLIENT attributes this server takes, in the order its EHLO keyword lists them. */
export const XCLIENT_ATTRIBUTES = ['NAME', 'ADDR', 'PORT', 'PROTO', 'HELO', 'LOGIN', 'DESTADDR', 'DESTPORT'];

/** The XFORWARD attributes this server takes, in the order its EHLO keyword lists them. */
export const XFORWARD_ATTRIBUTES = ['NAME', 'ADDR', 'PORT', 'PROTO', 'HELO', 'IDENT', 'SOURCE'];

/**
 * A value safe to log and to write in a `Received:` header: at most 255 printable US-ASCII characters,
 * none of them a space or a character that would open a comment, a quoted string or an angle address.
 */
const SAFE_VALUE = /^[!#-'*-;=?-[\]-~]{1,255}$/;
const HOST_NAME =
  /^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function bad(attribute: string): SmtpCommandError {
  return new SmtpCommandError(501, '5.5.4', `Bad ${attribute} syntax`);
}

/** `[UNAVAILABLE]` in any case (Postfix note 2). */
function unavailable(value: string): boolean {
  return value.toUpperCase() === '[UNAVAILABLE]';
}

function safe(attribute: string, value: string): string {
  if (!SAFE_VALUE.test(value)) throw bad(attribute);
  return value;
}

function port(attribute: string, value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65_535) throw bad(attribute);
  return Number(value);
}

function hostName(value: string): string {
  if (value.length > 255 || !HOST_NAME.test(value)) throw bad('NAME');
  return value;
}

/** An IPv4 address, or an IPv6 one after `IPV6:` (any case), returned without the prefix. */
function ipAddress(attribute: string, value: string): string {
  if (IPV4.test(value)) return value;
  if (value.slice(0, 5).toUpperCase() !== 'IPV6:') throw bad(attribute);
  const address = value.slice(5);
  // The WHATWG URL parser is the IPv6 grammar every runtime ships.
  if (!/^[0-9A-Fa-f:.]+$/.test(address) || !URL.canParse(`http://[${address}]/`)) throw bad(attribute);
  return address.toLowerCase();
}

/**
 * Reads the attributes of one XCLIENT command (names upper-cased, values xtext-decoded, as
 * `parseCommand` gives them).
 * @throws SmtpCommandError `501 5.5.4` for an unknown attribute or a malformed value.
 */
export function parseXclient(attributes: ReadonlyMap<string, string>): SmtpXclient {
  const result: { -readonly [K in keyof SmtpXclient]: SmtpXclient[K] } = {};
  for (const [name, value] of attributes) {
    const gone = unavailable(value);
    switch (name) {
      case 'NAME':
        result.name = gone
          ? null
          : value.toUpperCase() === '[TEMPUNAVAIL]'
            ? '[TEMPUNAVAIL]'
            : hostName(value);
        break;
      case 'ADDR':
        result.address = gone ? null : ipAddress(name, value);
        break;
      case 'DESTADDR':
        result.destinationAddress = gone ? null : ipAddress(name, value);
        break;
      case 'PORT':
        result.port = gone ? null : port(name, value);
        break;
      case 'DESTPORT':
        result.destinationPort = gone ? null : port(name, value);
        break;
      case 'PROTO': {
        const protocol = value.toUpperCase();
        if (!gone && protocol !== 'SMTP' && protocol !== 'ESMTP') throw bad(name);
        result.protocol = gone ? null : (protocol as 'SMTP' | 'ESMTP');
        break;
      }
      case 'HELO':
        result.helo = gone ? null : safe(name, value);
        break;
      case 'LOGIN':
        result.login = gone ? null : safe(name, value);
        break;
      default:
        throw new SmtpCommandError(501, '5.5.4', `Bad XCLIENT attribute name: ${name}`);
    }
  }
  return result;
}

/**
 * Applies one XFORWARD command to the attributes so far (Postfix: the first command of a transaction
 * starts from all unknown; `[UNAVAILABLE]` erases an attribute; one not named keeps its value).
 * @throws SmtpCommandError `501 5.5.4` for an unknown attribute or a malformed value.
 */
export function applyXforward(current: SmtpXforward, attributes: ReadonlyMap<string, string>): SmtpXforward {
  const result: { -readonly [K in keyof SmtpXforward]: SmtpXforward[K] } = { ...current };
  for (const [name, value] of attributes) {
    const key = XFORWARD_KEYS[name];
    if (key === undefined) throw new SmtpCommandError(501, '5.5.4', `Bad XFORWARD attribute name: ${name}`);
    if (unavailable(value)) {
      delete result[key];
      continue;
    }
    switch (key) {
      case 'port':
        result.port = port(name, value);
        break;
      case 'source': {
        const source = value.toUpperCase();
        if (source !== 'LOCAL' && source !== 'REMOTE') throw bad(name);
        result.source = source;
        break;
      }
      case 'address':
        result.address = safe(name, value.slice(0, 5).toUpperCase() === 'IPV6:' ? value.slice(5) : value);
        break;
      case 'protocol':
        if (value.length > 64) throw bad(name);
        result.protocol = safe(name, value);
        break;
      default:
        result[key] = safe(name, value);
    }
  }
  return result;
}

const XFORWARD_KEYS: Record<string, keyof SmtpXforward> = {
  NAME: 'name',
  ADDR: 'address',
  PORT: 'port',
  PROTO: 'protocol',
  HELO: 'helo',
  IDENT: 'ident',
  SOURCE: 'source',
};

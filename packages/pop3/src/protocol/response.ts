import { InvalidArgumentError, ProtocolError, utf8 } from '@postwire/core';

/** Extended response codes (RFC 2449 §8, RFC 3206, RFC 6856): why a command failed, for programs. */
export const Pop3ResponseCode = {
  /** The maildrop is locked by another session. */
  InUse: 'IN-USE',
  /** Logged in again before the server's LOGIN-DELAY passed. */
  LoginDelay: 'LOGIN-DELAY',
  /** A temporary problem of the server: try again later. */
  SysTemp: 'SYS/TEMP',
  /** A lasting problem of the server. */
  SysPerm: 'SYS/PERM',
  /** The credentials were refused (RFC 3206). */
  Auth: 'AUTH',
  /** A UTF-8 user name or password before UTF8 (RFC 6856). */
  Utf8: 'UTF8',
} as const;

/** A status line: `+OK` or `-ERR`, an optional `[CODE]` (RFC 2449), and text. */
export interface Pop3Status {
  /** `+OK` (true) or `-ERR` (false). */
  readonly ok: boolean;
  /** The extended response code, without its brackets (`IN-USE`, `SYS/TEMP` …). */
  readonly code?: string;
  /** The human-readable text after the code. */
  readonly text: string;
}

const STATUS = /^(\+OK|-ERR)(?: (.*))?$/i;
const CODE = /^\[([A-Za-z0-9-]+(?:\/[A-Za-z0-9-]+)*)\](?: (.*))?$/;

/**
 * Parses a status line (without its CRLF), as the client reads it. `+OK` and `-ERR` are matched in any
 * case, as servers differ; anything else is a protocol error.
 * @throws ProtocolError for a line that is neither.
 */
export function parsePop3Status(line: string): Pop3Status {
  const match = STATUS.exec(line);
  if (!match) throw new ProtocolError(`not a POP3 status line: ${JSON.stringify(line.slice(0, 64))}`);
  const ok = match[1]!.toUpperCase() === '+OK';
  const text = match[2] ?? '';
  const code = CODE.exec(text);
  return code ? { ok, code: code[1]!.toUpperCase(), text: code[2] ?? '' } : { ok, text };
}

/**
 * Writes a status line with its CRLF, as the server sends it.
 * @throws InvalidArgumentError for text with CR, LF or NUL (it would forge further responses), or a
 * malformed code.
 */
export function serializePop3Status(status: Pop3Status): Uint8Array {
  if (/[\r\n\0]/.test(status.text))
    throw new InvalidArgumentError('a POP3 response cannot hold CR, LF or NUL');
  if (status.code !== undefined && !/^[A-Z0-9-]+(?:\/[A-Z0-9-]+)*$/.test(status.code)) {
    throw new InvalidArgumentError(`${JSON.stringify(status.code)} is not a response code`);
  }
  const text =
    status.code === undefined ? status.text : `[${status.code}]${status.text ? ` ${status.text}` : ''}`;
  return utf8(`${status.ok ? '+OK' : '-ERR'}${text ? ` ${text}` : ''}\r\n`);
}

/** True for a SASL continuation line (`+ ` and base64, or a bare `+`; RFC 5034 §4). */
export function isPop3Continuation(line: string): boolean {
  return line === '+' || line.startsWith('+ ');
}

/** A line of a LIST response: a message's number and size in octets. */
export interface Pop3ScanListing {
  /** The message number. */
  readonly message: number;
  /** Its size in octets. */
  readonly size: number;
}

/** A line of a UIDL response: a message's number and unique id. */
export interface Pop3UniqueIdListing {
  /** The message number. */
  readonly message: number;
  /** Its unique id. */
  readonly uid: string;
}

/** RFC 1939 §7: a unique id is 1 to 70 characters from 0x21 to 0x7E (catalogue case 27). */
export const POP3_UNIQUE_ID = /^[\x21-\x7e]{1,70}$/;

/**
 * Parses `msg size` (a LIST line, or the text after `+OK` of `LIST n`).
 * @throws ProtocolError when it is not two numbers.
 */
export function parseScanListing(line: string): Pop3ScanListing {
  const match = /^([1-9][0-9]{0,9}) ([0-9]{1,15})(?: .*)?$/.exec(line);
  if (!match) throw new ProtocolError(`malformed scan listing ${JSON.stringify(line.slice(0, 64))}`);
  return { message: Number(match[1]), size: Number(match[2]) };
}

/**
 * Parses `msg uid` (a UIDL line, or the text after `+OK` of `UIDL n`), refusing a unique id that breaks
 * RFC 1939's rules (catalogue case 27).
 * @throws ProtocolError for a malformed line or unique id.
 */
export function parseUniqueIdListing(line: string): Pop3UniqueIdListing {
  const match = /^([1-9][0-9]{0,9}) (\S+)$/.exec(line);
  if (!match || !POP3_UNIQUE_ID.test(match[2]!)) {
    throw new ProtocolError(`malformed unique-id listing ${JSON.stringify(line.slice(0, 80))}`);
  }
  return { message: Number(match[1]), uid: match[2]! };
}

/**
 * Writes a whole multi-line response, as the server sends it: the status line, each line dot-stuffed
 * (a leading `.` doubled), and the closing `.` line, all with CRLF (RFC 1939 §3).
 * @throws InvalidArgumentError for a status or line with CR, LF or NUL.
 */
export function serializePop3MultiLine(status: Pop3Status, lines: readonly string[]): Uint8Array {
  let body = '';
  for (const line of lines) {
    if (/[\r\n\0]/.test(line))
      throw new InvalidArgumentError('a POP3 response line cannot hold CR, LF or NUL');
    body += line.startsWith('.') ? `.${line}\r\n` : `${line}\r\n`;
  }
  const head = serializePop3Status(status);
  const tail = utf8(`${body}.\r\n`);
  const out = new Uint8Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}

/** Writes `msg size`: a LIST line, or the text after `+OK` of `LIST n`. */
export function formatScanListing(listing: Pop3ScanListing): string {
  return `${listing.message} ${listing.size}`;
}

/**
 * Writes `msg uid`: a UIDL line, or the text after `+OK` of `UIDL n`.
 * @throws InvalidArgumentError for a unique id that breaks RFC 1939's rules (case 27).
 */
export function formatUniqueIdListing(listing: Pop3UniqueIdListing): string {
  if (!POP3_UNIQUE_ID.test(listing.uid)) {
    throw new InvalidArgumentError('a POP3 unique id is 1 to 70 characters from 0x21 to 0x7E');
  }
  return `${listing.message} ${listing.uid}`;
}

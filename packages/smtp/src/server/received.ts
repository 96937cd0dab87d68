import { utf8 } from '@postwire/core';
import { formatDate } from '@postwire/mime';

/** What the `Received:` header of a message records about how it arrived. */
export interface ReceivedFields {
  /** The name the client gave in HELO, EHLO or LHLO. */
  readonly clientName: string;
  /** The client's IP address, when known. */
  readonly remoteAddress?: string;
  /** The client's host name, when known (XCLIENT NAME); the comment shows the HELO name otherwise. */
  readonly remoteName?: string;
  /** The server's name. */
  readonly hostname: string;
  /** The message came over LMTP. */
  readonly lmtp: boolean;
  /** The client used EHLO or LHLO (not HELO). */
  readonly extended: boolean;
  /** The connection is on TLS (`S` in the `with` protocol). */
  readonly secure: boolean;
  /** The client authenticated (`A` in the `with` protocol). */
  readonly authenticated: boolean;
  /** The transaction is SMTPUTF8. */
  readonly utf8: boolean;
  /** The one recipient, written in the `for` clause (left out for several, so as not to disclose them). */
  readonly recipient?: string;
  /** An id for this transaction, for logs. */
  readonly id: string;
  /** When the message was received. */
  readonly date: Date;
}

/**
 * The `with` protocol of RFC 3848 and RFC 6531: `SMTP` or `ESMTP` (`LMTP`), with `S` for TLS and `A`
 * for an authenticated client, and the `UTF8` prefix for an SMTPUTF8 transaction.
 */
export function receivedProtocol(
  fields: Pick<ReceivedFields, 'lmtp' | 'extended' | 'secure' | 'authenticated' | 'utf8'>,
): string {
  const base = fields.lmtp ? 'LMTP' : fields.utf8 ? 'SMTP' : fields.extended ? 'ESMTP' : 'SMTP';
  const suffix = `${fields.secure ? 'S' : ''}${fields.authenticated ? 'A' : ''}`;
  return `${fields.utf8 ? 'UTF8' : ''}${base}${suffix}`;
}

/** The address as an address literal: `[192.0.2.1]` or `[IPv6:2001:db8::1]`. */
function addressLiteral(address: string): string {
  return address.includes(':') ? `[IPv6:${address}]` : `[${address}]`;
}

/** Text safe inside a header comment: no parentheses or backslashes to unbalance it. */
function commentText(text: string): string {
  return text.replace(/[()\\]/g, '?');
}

/**
 * The `Received:` header a server prepends to each message it accepts (RFC 5321 §4.4), folded, with
 * its CRLF: `from <helo> (<name> [address]) by <host> (Postwire) with <protocol> id <id> [for <rcpt>];
 * <date>`.
 */
export function receivedHeader(fields: ReceivedFields): Uint8Array {
  const name = commentText(fields.remoteName ?? fields.clientName);
  const client = fields.remoteAddress
    ? `${fields.clientName} (${name} ${addressLiteral(fields.remoteAddress)})`
    : fields.remoteName
      ? `${fields.clientName} (${name})`
      : fields.clientName;
  const recipient = fields.recipient ? `\r\n\tfor <${fields.recipient}>` : '';
  return utf8(
    `Received: from ${client}\r\n\tby ${fields.hostname} (Postwire) with ${receivedProtocol(fields)} id ${fields.id}` +
      `${recipient}; ${formatDate(fields.date)}\r\n`,
  );
}

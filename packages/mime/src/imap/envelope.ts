import { parseAddressList } from '../address/parse.js';
import type { Address, Mailbox } from '../address/types.js';
import type { HeaderField } from '../parser/types.js';
import { rawFieldValue } from './header-fields.js';

/**
 * One address of an IMAP envelope (RFC 3501 §7.4.2, RFC 9051 §7.5.2): `(name adl mailbox host)`, `null`
 * for NIL. A group is written as a start marker (`mailbox` is the group's name, `host` is `null`), its
 * members, and an end marker (all four `null`).
 */
export interface EnvelopeAddress {
  /** The display name as written, quoting removed and encoded words kept; `null` when there is none. */
  readonly name: string | null;
  /** The source route (`adl`); always `null`: the address parser drops obsolete routes. */
  readonly adl: string | null;
  /** The local part, unquoted; `MISSING_MAILBOX` when the mailbox has none (the group name in a start marker). */
  readonly mailbox: string | null;
  /** The domain as written; `MISSING_DOMAIN` when the mailbox has none (`null` only in group markers). */
  readonly host: string | null;
}

/**
 * The ENVELOPE of a message (RFC 3501 §7.4.2, RFC 9051 §7.5.2), as plain data: `null` stands for NIL,
 * and an address list with no address is `null`.
 */
export interface Envelope {
  /** The Date field as written (unfolded, trimmed). */
  readonly date: string | null;
  /** The Subject field as written: encoded words are not decoded, as IMAP servers send it. */
  readonly subject: string | null;
  /** The From addresses. */
  readonly from: readonly EnvelopeAddress[] | null;
  /** The Sender addresses, else those of From. */
  readonly sender: readonly EnvelopeAddress[] | null;
  /** The Reply-To addresses, else those of From. */
  readonly replyTo: readonly EnvelopeAddress[] | null;
  /** The To addresses. */
  readonly to: readonly EnvelopeAddress[] | null;
  /** The Cc addresses. */
  readonly cc: readonly EnvelopeAddress[] | null;
  /** The Bcc addresses. */
  readonly bcc: readonly EnvelopeAddress[] | null;
  /** The In-Reply-To field as written (unfolded, trimmed). */
  readonly inReplyTo: string | null;
  /** The Message-ID field as written (unfolded, trimmed), angle brackets included. */
  readonly messageId: string | null;
}

/** The `mailbox` of an address that has no local part, as Dovecot writes it. */
export const MISSING_MAILBOX = 'MISSING_MAILBOX';
/** The `host` of an address that has no domain: NIL would make it read as a group marker. */
export const MISSING_DOMAIN = 'MISSING_DOMAIN';

/**
 * Builds the ENVELOPE of a message from its top-level header fields (or those of an embedded message).
 * The first Date, Subject, In-Reply-To and Message-ID fields are taken as written; the addresses of every
 * From (To, Cc …) field are joined, as `parseMessage` does. Sender and Reply-To fall back to From when
 * they are absent or hold no address. A mailbox without a display name takes the text of its comment as
 * name (`a@b (Name)`), as Dovecot does.
 */
export function envelope(headers: readonly HeaderField[]): Envelope {
  const from = addressField(headers, 'from');
  return {
    date: rawFieldValue(headers, 'date'),
    subject: rawFieldValue(headers, 'subject'),
    from,
    sender: addressField(headers, 'sender') ?? from,
    replyTo: addressField(headers, 'reply-to') ?? from,
    to: addressField(headers, 'to'),
    cc: addressField(headers, 'cc'),
    bcc: addressField(headers, 'bcc'),
    inReplyTo: rawFieldValue(headers, 'in-reply-to'),
    messageId: rawFieldValue(headers, 'message-id'),
  };
}

function addressField(headers: readonly HeaderField[], key: string): EnvelopeAddress[] | null {
  const addresses: EnvelopeAddress[] = [];
  for (const field of headers) {
    if (field.key !== key) continue;
    const { addresses: parsed } = parseAddressList(field.value, { decodeEncodedWords: false });
    for (const address of parsed) addEnvelopeAddress(addresses, address);
  }
  return addresses.length > 0 ? addresses : null;
}

function addEnvelopeAddress(out: EnvelopeAddress[], address: Address): void {
  if (!('group' in address)) {
    out.push(mailboxAddress(address));
    return;
  }
  out.push({ name: null, adl: null, mailbox: address.group, host: null });
  for (const member of address.members) out.push(mailboxAddress(member));
  out.push({ name: null, adl: null, mailbox: null, host: null });
}

function mailboxAddress(mailbox: Mailbox): EnvelopeAddress {
  return {
    name: mailbox.name === '' ? null : mailbox.name,
    adl: null,
    mailbox: mailbox.local === undefined ? MISSING_MAILBOX : mailbox.local,
    host: mailbox.domain === undefined ? MISSING_DOMAIN : mailbox.domain,
  };
}

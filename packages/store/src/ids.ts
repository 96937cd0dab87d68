const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * A new stable message id: `M` and 24 base32 characters (120 random bits). It fits IMAP OBJECTID's
 * EMAILID (RFC 8474) and POP3 UIDL (RFC 1939: 1–70 characters in 0x21–0x7E).
 */
export function newMessageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(15));
  let id = 'M';
  for (let i = 0; i < bytes.length; i += 5) {
    // Five bytes are eight base32 characters.
    let bits = 0n;
    for (let j = 0; j < 5; j++) bits = (bits << 8n) | BigInt(bytes[i + j]!);
    for (let shift = 35n; shift >= 0n; shift -= 5n) id += ALPHABET[Number((bits >> shift) & 31n)];
  }
  return id;
}

/**
 * A new mailbox id: 32 lowercase hex digits (128 random bits), the form of Dovecot's mailbox GUID. It fits
 * IMAP OBJECTID's MAILBOXID (RFC 8474 §4: 1–255 characters of `A-Za-z0-9_-`).
 */
export function newMailboxId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/**
 * A UIDVALIDITY for a new mailbox: the current time in seconds, and always above the last one this
 * process gave, so that a mailbox deleted and re-created in the same second still gets a new value.
 */
export function nextUidValidity(): number {
  lastUidValidity = Math.max(lastUidValidity + 1, Math.floor(Date.now() / 1000));
  return lastUidValidity;
}

let lastUidValidity = 0;

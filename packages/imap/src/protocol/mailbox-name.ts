import { decodeModifiedUtf7, encodeModifiedUtf7 } from '@postwire/store';
import { ImapSyntaxError } from './errors.js';

/**
 * The mailbox name a peer wrote, as text: modified UTF-7 decoded (RFC 3501 §5.1.3), or taken as is
 * under UTF8=ACCEPT (RFC 6855). `INBOX` is case-insensitive and comes back in upper case.
 * @throws ImapSyntaxError for malformed modified UTF-7 (case 22).
 */
export function decodeMailboxName(wire: string, utf8Accept: boolean, tag?: string): string {
  if (wire.toUpperCase() === 'INBOX') return 'INBOX';
  if (utf8Accept) return wire;
  try {
    return decodeModifiedUtf7(wire);
  } catch {
    throw new ImapSyntaxError('Invalid modified UTF-7 in mailbox name', tag);
  }
}

/** The wire form of a mailbox name: modified UTF-7, or UTF-8 as is under UTF8=ACCEPT. */
export function encodeMailboxName(name: string, utf8Accept: boolean): string {
  return utf8Accept ? name : encodeModifiedUtf7(name);
}

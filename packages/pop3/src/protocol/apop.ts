import { encodeHex, utf8 } from '@postwire/core';
import { md5 } from '@postwire/sasl';

/** The `<…>` timestamp of a greeting: no spaces or angle brackets inside (RFC 1939 §7, an RFC 822 msg-id). */
const TIMESTAMP = /<[\x21-\x3b\x3d\x3f-\x7e]{1,250}>/;

/**
 * The APOP challenge of a greeting's text (RFC 1939 §7): the `<…>` timestamp, brackets included, or
 * `undefined` when the server did not send one (and so does not offer APOP).
 */
export function parseApopTimestamp(greeting: string): string | undefined {
  return TIMESTAMP.exec(greeting)?.[0];
}

/** The APOP digest: MD5 of the timestamp followed by the shared secret, in lower-case hex (RFC 1939 §7). */
export function apopDigest(timestamp: string, secret: string): string {
  return encodeHex(md5(utf8(timestamp + secret)));
}

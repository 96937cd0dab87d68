import { encodeHex, timingSafeEqual, utf8 } from '@postwire/core';
import { apopDigest } from '../protocol/apop.js';

/**
 * A fresh APOP challenge for a greeting, `<random.time@hostname>` (RFC 1939 §7): unique for each
 * connection, so that a digest seen once can never be replayed.
 */
export function apopChallenge(hostname: string): string {
  const random = encodeHex(crypto.getRandomValues(new Uint8Array(12)));
  return `<${random}.${Date.now()}@${hostname}>`;
}

/**
 * Checks an APOP digest in constant time (catalogue case 43). A user without a secret (`undefined`) is
 * checked against a random one, so that an unknown user takes as long as a wrong digest and never
 * passes.
 */
export function verifyApopDigest(challenge: string, secret: string | undefined, digest: string): boolean {
  const expected = apopDigest(challenge, secret ?? encodeHex(crypto.getRandomValues(new Uint8Array(16))));
  const match = timingSafeEqual(utf8(expected), utf8(digest.toLowerCase()));
  return match && secret !== undefined;
}

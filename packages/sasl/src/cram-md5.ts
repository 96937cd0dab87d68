import { decodeHex, decodeUtf8Strict, encodeHex, ProtocolError, timingSafeEqual, utf8 } from '@postwire/core';
import type { Decoys } from './decoy.js';
import { isSafeName } from './identity-text.js';
import { hmacMd5 } from './md5.js';
import type { ClientMechanism, SaslConnectionContext, ServerMechanism } from './mechanism.js';
import { challenge, EMPTY, failure, success } from './steps.js';
import { randomBytes } from './web-crypto.js';

/** What the CRAM-MD5 server needs. */
export interface CramMd5ServerOptions {
  lookupPassword(username: string, context: SaslConnectionContext): Promise<string | undefined>;
  decoys: Decoys;
  /** Makes the challenge, a message-id such as `<1896.697170952@host>`. */
  generateChallenge: () => string;
}

/** The digest in a response: 32 lower-case hex digits (RFC 2195 §2). */
const DIGEST = /^[0-9a-f]{32}$/;

/** A fresh CRAM-MD5 challenge: `<random.time@hostname>`. */
export function cramMd5Challenge(hostname: string): string {
  return `<${encodeHex(randomBytes(8))}.${Date.now()}@${hostname}>`;
}

/**
 * The CRAM-MD5 server mechanism (RFC 2195). The digest is compared in constant time, and an
 * unknown user's response is compared against a decoy password, derived for every attempt.
 */
export function cramMd5Server(options: CramMd5ServerOptions): ServerMechanism {
  return {
    name: 'CRAM-MD5',
    start: (context) => {
      let sent: Uint8Array | undefined;
      return async (response) => {
        if (sent === undefined) {
          if (response !== undefined) return failure('malformed');
          sent = utf8(options.generateChallenge());
          return challenge(sent);
        }
        const text = decodeUtf8Strict(response ?? EMPTY) ?? '';
        const space = text.lastIndexOf(' ');
        const username = text.slice(0, space);
        const hex = text.slice(space + 1);
        if (space <= 0 || !isSafeName(username) || !DIGEST.test(hex)) return failure('malformed');
        const [stored, decoy] = await Promise.all([
          options.lookupPassword(username, context),
          options.decoys.password(username),
        ]);
        const match = timingSafeEqual(hmacMd5(utf8(stored ?? decoy), sent), decodeHex(hex)!);
        return match && stored !== undefined ? success(username) : failure('invalid-credentials', username);
      };
    },
  };
}

/** The CRAM-MD5 client mechanism (RFC 2195). */
export function cramMd5Client(username: string, password: string): ClientMechanism {
  return {
    name: 'CRAM-MD5',
    start: () => {
      let answered = false;
      return {
        initialResponse: undefined,
        respond: async (serverChallenge) => {
          if (answered) throw new ProtocolError('unexpected CRAM-MD5 challenge');
          answered = true;
          return utf8(`${username} ${encodeHex(hmacMd5(utf8(password), serverChallenge))}`);
        },
      };
    },
  };
}

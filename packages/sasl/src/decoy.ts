import { encodeBase64, utf8 } from '@postwire/core';
import type { ScramMechanismName, ScramStoredCredentials } from './scram-credentials.js';
import { hmac, type ScramHash } from './web-crypto.js';

/**
 * Stand-in secrets for users that do not exist, derived from a server secret, so that an unknown
 * user costs the same work and gets the same answers as a wrong password. They are stable per name,
 * so a SCRAM salt does not change from one attempt to the next and betray the user as unknown.
 */
export class Decoys {
  readonly #secret: Uint8Array;

  constructor(secret: Uint8Array) {
    this.#secret = secret;
  }

  /** A password no one knows, stable for `username`. */
  async password(username: string): Promise<string> {
    return encodeBase64(await this.#derive('SHA-256', 'password', username));
  }

  /** A 16-byte salt, stable for `username` and `mechanism`. */
  async salt(username: string, mechanism: ScramMechanismName): Promise<Uint8Array> {
    return (await this.#derive('SHA-256', `salt ${mechanism}`, username)).subarray(0, 16);
  }

  /** SCRAM credentials no password matches, shaped like real ones. */
  async scramCredentials(
    username: string,
    mechanism: ScramMechanismName,
    hash: ScramHash,
    iterations: number,
  ): Promise<ScramStoredCredentials> {
    return {
      salt: await this.salt(username, mechanism),
      iterations,
      storedKey: await this.#derive(hash, `stored-key ${mechanism}`, username),
      serverKey: await this.#derive(hash, `server-key ${mechanism}`, username),
    };
  }

  #derive(hash: ScramHash, purpose: string, username: string): Promise<Uint8Array> {
    return hmac(hash, this.#secret, utf8(`${purpose}\u0000${username}`));
  }
}

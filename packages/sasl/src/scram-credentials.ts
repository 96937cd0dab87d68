import { InvalidArgumentError, utf8 } from '@postwire/core';
import { saslprep } from './saslprep.js';
import { digest, hmac, pbkdf2, randomBytes, type ScramHash } from './web-crypto.js';

/** The two SCRAM families; each also has a `-PLUS` variant that uses the same credentials. */
export type ScramMechanismName = 'SCRAM-SHA-1' | 'SCRAM-SHA-256';

/**
 * What a server stores for SCRAM instead of the password (RFC 5802 §3): knowing these does not let
 * anyone log in with PLAIN, and `storedKey` alone does not let anyone pass SCRAM.
 */
export interface ScramStoredCredentials {
  /** The salt for PBKDF2, sent to the client in the first challenge. */
  readonly salt: Uint8Array;
  /** PBKDF2 iterations; at least 4096 (RFC 7677 §4). */
  readonly iterations: number;
  /** H(ClientKey). */
  readonly storedKey: Uint8Array;
  /** HMAC(SaltedPassword, "Server Key"). */
  readonly serverKey: Uint8Array;
}

/** Options of {@link deriveScramCredentials}. */
export interface DeriveScramOptions {
  /** The salt; 16 random bytes when omitted. */
  salt?: Uint8Array;
  /** PBKDF2 iterations, default 4096 (the minimum RFC 7677 allows). */
  iterations?: number;
}

/** The iteration count RFC 7677 §4 sets as the minimum, and the default here. */
export const DEFAULT_SCRAM_ITERATIONS = 4096;

/** The Web Crypto hash behind a SCRAM mechanism name (with or without `-PLUS`). */
export function scramHashOf(mechanism: string): ScramHash {
  return mechanism.startsWith('SCRAM-SHA-256') ? 'SHA-256' : 'SHA-1';
}

/**
 * Derives the credentials a server stores for SCRAM from a password: SASLprep, then PBKDF2 (Hi),
 * then the client and server keys. Throws {@link InvalidArgumentError} when SASLprep refuses the password.
 */
export async function deriveScramCredentials(
  password: string,
  hash: ScramHash,
  options: DeriveScramOptions = {},
): Promise<ScramStoredCredentials> {
  const salt = options.salt ?? randomBytes(16);
  const iterations = options.iterations ?? DEFAULT_SCRAM_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < 1) {
    throw new InvalidArgumentError('SCRAM iterations must be a positive integer');
  }
  const salted = await saltedPassword(hash, password, salt, iterations);
  const keys = await scramKeys(hash, salted);
  return { salt, iterations, storedKey: keys.storedKey, serverKey: keys.serverKey };
}

/** SaltedPassword := Hi(Normalize(password), salt, i) (RFC 5802 §3). */
export function saltedPassword(
  hash: ScramHash,
  password: string,
  salt: Uint8Array,
  iterations: number,
): Promise<Uint8Array> {
  return pbkdf2(hash, utf8(saslprep(password)), salt, iterations);
}

/** ClientKey, StoredKey and ServerKey from a SaltedPassword (RFC 5802 §3). */
export async function scramKeys(
  hash: ScramHash,
  salted: Uint8Array,
): Promise<{ clientKey: Uint8Array; storedKey: Uint8Array; serverKey: Uint8Array }> {
  const clientKey = await hmac(hash, salted, utf8('Client Key'));
  const serverKey = await hmac(hash, salted, utf8('Server Key'));
  return { clientKey, storedKey: await digest(hash, clientKey), serverKey };
}

/** The hash functions SCRAM is defined for here (RFC 5802, RFC 7677), by their Web Crypto names. */
export type ScramHash = 'SHA-1' | 'SHA-256';

/** Web Crypto accepts only views over a plain `ArrayBuffer`; every byte array here is one. */
function source(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes as Uint8Array<ArrayBuffer>;
}

/** Hashes `data` with `hash`. */
export async function digest(hash: ScramHash, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest(hash, source(data)));
}

/** Computes HMAC-`hash` of `data` under `key` (the key must not be empty). */
export async function hmac(hash: ScramHash, key: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const hmacKey = await crypto.subtle.importKey('raw', source(key), { name: 'HMAC', hash }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', hmacKey, source(data)));
}

/** PBKDF2 with HMAC-`hash`, one block long: exactly SCRAM's Hi() (RFC 5802 §2.2). */
export async function pbkdf2(
  hash: ScramHash,
  password: Uint8Array,
  salt: Uint8Array,
  iterations: number,
): Promise<Uint8Array> {
  const baseKey = await crypto.subtle.importKey('raw', source(password), 'PBKDF2', false, ['deriveBits']);
  const bits = hash === 'SHA-1' ? 160 : 256;
  const params = { name: 'PBKDF2', hash, salt: source(salt), iterations };
  return new Uint8Array(await crypto.subtle.deriveBits(params, baseKey, bits));
}

/** Returns `length` cryptographically random bytes. */
export function randomBytes(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}

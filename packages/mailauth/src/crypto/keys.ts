import { decodeBase64 } from '@postwire/core';
import type { DkimKeyType } from '../dkim/key-record.js';

/** A public key ready to verify with, and its size in bits (RSA only). */
export interface ImportedPublicKey {
  readonly key: CryptoKey;
  readonly bits?: number;
}

/** A key, or why it could not be read. */
export type KeyImport<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

/** The Web Crypto algorithm of each DKIM key type. */
const webCryptoAlgorithms = {
  rsa: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  ed25519: { name: 'Ed25519' },
} as const satisfies Record<DkimKeyType, RsaHashedImportParams | Algorithm>;

/** AlgorithmIdentifier for rsaEncryption (1.2.840.113549.1.1.1) with NULL parameters. */
const RSA_ALGORITHM_ID = [
  0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];
/** The PKCS #8 prefix of an Ed25519 private key (RFC 8410 §7) before its 32-byte seed. */
const ED25519_PKCS8_PREFIX = [
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
/** How many imported keys of each kind are kept: verifiers see the same few keys again and again. */
const CACHED_KEYS = 256;
const publicKeys = new Map<string, Promise<KeyImport<ImportedPublicKey>>>();
const privateKeys = new Map<string, Promise<KeyImport<CryptoKey>>>();
const PEM = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/;

/**
 * Imports the `p=` value of a DKIM key record for verifying: for `rsa`, a SubjectPublicKeyInfo or a bare
 * RSAPublicKey (RFC 6376 §3.6.1 allows both in practice); for `ed25519`, the 32 bytes of the key (RFC 8463).
 */
export function importDkimPublicKey(
  publicKey: string,
  keyType: DkimKeyType,
): Promise<KeyImport<ImportedPublicKey>> {
  return remember(publicKeys, `${keyType}:${publicKey}`, () => importPublicKey(publicKey, keyType));
}

async function importPublicKey(
  publicKey: string,
  keyType: DkimKeyType,
): Promise<KeyImport<ImportedPublicKey>> {
  const der = decodeBase64(publicKey);
  if (der === undefined) return { ok: false, reason: 'the public key is not base64' };
  if (keyType === 'ed25519') {
    if (der.length !== 32) return { ok: false, reason: `an Ed25519 key is 32 bytes, not ${der.length}` };
    return attempt(
      async () => ({ key: await importKey('raw', der, 'ed25519', 'verify') }),
      'Ed25519 public key',
    );
  }
  const spki = await attempt(() => importKey('spki', der, 'rsa', 'verify'), 'RSA public key');
  const imported = spki.ok
    ? spki
    : await attempt(() => importKey('spki', wrapRsaPublicKey(der), 'rsa', 'verify'), 'RSA public key');
  if (!imported.ok) return imported;
  const bits = (imported.value.algorithm as RsaHashedKeyAlgorithm).modulusLength;
  return { ok: true, value: { key: imported.value, bits } };
}

/**
 * Imports a private key for signing: a `CryptoKey` is taken as it is; text may be a PEM `PRIVATE KEY`
 * (PKCS #8, RSA or Ed25519) or `RSA PRIVATE KEY` (PKCS #1), or for Ed25519 the base64 of the 32-byte
 * seed, as dkimpy's `dknewkey` writes it.
 */
export async function importDkimPrivateKey(
  privateKey: CryptoKey | string,
  keyType: DkimKeyType,
): Promise<KeyImport<CryptoKey>> {
  if (typeof privateKey === 'string') {
    return remember(privateKeys, `${keyType}:${privateKey}`, () => importPrivateKeyText(privateKey, keyType));
  }
  const expected = webCryptoAlgorithms[keyType].name;
  return privateKey.algorithm.name === expected && privateKey.usages.includes('sign')
    ? { ok: true, value: privateKey }
    : { ok: false, reason: `the key is not a ${expected} signing key` };
}

async function importPrivateKeyText(privateKey: string, keyType: DkimKeyType): Promise<KeyImport<CryptoKey>> {
  const pem = PEM.exec(privateKey);
  const der = decodeBase64((pem?.[2] ?? privateKey).replace(/\s+/g, ''));
  if (der === undefined) return { ok: false, reason: 'the private key is neither PEM nor base64' };
  let pkcs8 = der;
  if (pem?.[1] === 'RSA PRIVATE KEY') pkcs8 = wrapRsaPrivateKey(der);
  else if (pem === null && keyType === 'ed25519' && der.length === 32) {
    pkcs8 = Uint8Array.from([...ED25519_PKCS8_PREFIX, ...der]);
  } else if (pem !== null && pem[1] !== 'PRIVATE KEY') {
    return { ok: false, reason: `unsupported PEM type "${pem[1]}"` };
  }
  return attempt(() => importKey('pkcs8', pkcs8, keyType, 'sign'), 'private key');
}

/** Signs `data` with a key of `keyType` (RSASSA-PKCS1-v1_5 over SHA-256, or Ed25519). */
export async function signBytes(keyType: DkimKeyType, key: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign(webCryptoAlgorithms[keyType], key, source(data)));
}

/** Whether `signature` is a signature of `data` under `key`; false too when Web Crypto refuses the input. */
export async function verifyBytes(
  keyType: DkimKeyType,
  key: CryptoKey,
  signature: Uint8Array,
  data: Uint8Array,
): Promise<boolean> {
  try {
    return await crypto.subtle.verify(webCryptoAlgorithms[keyType], key, source(signature), source(data));
  } catch {
    return false;
  }
}

function importKey(
  format: 'raw' | 'spki' | 'pkcs8',
  der: Uint8Array,
  keyType: DkimKeyType,
  usage: KeyUsage,
): Promise<CryptoKey> {
  return crypto.subtle.importKey(format, source(der), webCryptoAlgorithms[keyType], false, [usage]);
}

/** Web Crypto accepts only views over a plain `ArrayBuffer`; every byte array here is one. */
function source(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes as Uint8Array<ArrayBuffer>;
}

async function attempt<T>(run: () => Promise<T>, what: string): Promise<KeyImport<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    return { ok: false, reason: `invalid ${what}: ${(error as Error).message}` };
  }
}

/** A SubjectPublicKeyInfo around a PKCS #1 RSAPublicKey. */
function wrapRsaPublicKey(rsaPublicKey: Uint8Array): Uint8Array {
  return der(0x30, [...RSA_ALGORITHM_ID, ...der(0x03, [0x00, ...rsaPublicKey])]);
}

/** A PKCS #8 PrivateKeyInfo around a PKCS #1 RSAPrivateKey. */
function wrapRsaPrivateKey(rsaPrivateKey: Uint8Array): Uint8Array {
  return der(0x30, [0x02, 0x01, 0x00, ...RSA_ALGORITHM_ID, ...der(0x04, [...rsaPrivateKey])]);
}

/** A DER element: its tag, its length (short or long form), its content. */
function der(tag: number, content: readonly number[]): Uint8Array {
  const length = content.length;
  const lengthBytes: number[] = [];
  if (length < 0x80) lengthBytes.push(length);
  else {
    for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) lengthBytes.unshift(rest % 256);
    lengthBytes.unshift(0x80 | lengthBytes.length);
  }
  return Uint8Array.from([tag, ...lengthBytes, ...content]);
}

/**
 * The import of `key` from `cache`, or a new one made by `run` and kept, dropping the least recently used
 * entry beyond {@link CACHED_KEYS}. The key text is the cache key, so a changed key record is a new entry.
 */
function remember<T>(cache: Map<string, Promise<T>>, key: string, run: () => Promise<T>): Promise<T> {
  let imported = cache.get(key);
  if (imported === undefined) {
    imported = run();
    if (cache.size >= CACHED_KEYS) cache.delete(cache.keys().next().value!);
  } else {
    cache.delete(key);
  }
  cache.set(key, imported);
  return imported;
}

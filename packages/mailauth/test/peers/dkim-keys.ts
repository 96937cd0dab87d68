import { runToolOk } from './tool-process.js';

/**
 * DKIM keys made by the `openssl` command (OpenSSL 3, Debian's), not by Node's crypto: a third
 * party's keys for cross-checking Postwire's signer and verifier against dkimpy and OpenDKIM.
 */

/** The key kinds {@link opensslDkimKey} makes. */
export type DkimKeyKind = 'rsa1024' | 'rsa2048' | 'ed25519';

/** A key pair, in every form the tools and Postwire take. Shaped like `test/dkim/keys.ts`'s `TestKey`. */
export interface OpensslDkimKey {
  readonly keyType: 'rsa' | 'ed25519';
  /** 1024 or 2048 for RSA, 256 for Ed25519. */
  readonly bits: number;
  /** The private key as PKCS #8 PEM (`-----BEGIN PRIVATE KEY-----`), what `openssl genpkey` writes. */
  readonly privatePem: string;
  /**
   * The key record's `p=` value: base64 of the SubjectPublicKeyInfo DER for RSA (RFC 6376 §3.6.1),
   * of the raw 32-byte public key for Ed25519 (RFC 8463 §4).
   */
  readonly publicValue: string;
  /** The whole key record: `v=DKIM1; k=rsa; p=…` (or `k=ed25519`). */
  readonly record: string;
  /** Ed25519 only: the base64 of the 32-byte private seed (dkimpy's form of an Ed25519 private key). */
  readonly ed25519Seed?: string;
}

/**
 * Makes a fresh key with `openssl genpkey` and derives the public forms with `openssl pkey`:
 * `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048` (or `-algorithm ed25519`), then
 * `openssl pkey -pubout -outform DER` for `p=` and `openssl pkey -outform DER` for the Ed25519 seed
 * (the last 32 bytes of the PKCS #8 DER, as the last 32 bytes of the SPKI DER are the public key).
 */
export async function opensslDkimKey(kind: DkimKeyKind): Promise<OpensslDkimKey> {
  const genpkey =
    kind === 'ed25519'
      ? ['genpkey', '-algorithm', 'ed25519']
      : ['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${kind === 'rsa1024' ? 1024 : 2048}`];
  const privatePem = (await runToolOk('openssl', genpkey)).toString('ascii');
  const spki = await runToolOk('openssl', ['pkey', '-pubout', '-outform', 'DER'], { input: privatePem });
  if (kind !== 'ed25519') {
    const publicValue = spki.toString('base64');
    return {
      keyType: 'rsa',
      bits: kind === 'rsa1024' ? 1024 : 2048,
      privatePem,
      publicValue,
      record: `v=DKIM1; k=rsa; p=${publicValue}`,
    };
  }
  const pkcs8 = await runToolOk('openssl', ['pkey', '-outform', 'DER'], { input: privatePem });
  const publicValue = spki.subarray(-32).toString('base64');
  return {
    keyType: 'ed25519',
    bits: 256,
    privatePem,
    publicValue,
    record: `v=DKIM1; k=ed25519; p=${publicValue}`,
    ed25519Seed: pkcs8.subarray(-32).toString('base64'),
  };
}

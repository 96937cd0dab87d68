import { encodeBase64 } from '@postwire/core';
import { createSha256, type Sha256Factory } from '../crypto/sha256.js';
import type { MessageSource } from '../message/input.js';
import type { DkimCanonicalization } from './canonicalization.js';
import { DkimBodyHashes, signedHeaderBytes } from './hashing.js';
import type { DkimAlgorithm } from './signature.js';
import {
  completeField,
  foldTags,
  headersToSign,
  inLineEndsOf,
  prepareSigner,
  readForSigning,
} from './signing.js';

export { defaultDkimOverSignedHeaders, defaultDkimSignedHeaders } from './signing.js';

/** One signature to add: who signs, with which key, and how. */
export interface DkimSigner {
  /** `d=`: the signing domain. */
  domain: string;
  /** `s=`: the selector; the public key is published at `<selector>._domainkey.<domain>`. */
  selector: string;
  /**
   * The private key: a Web Crypto signing key, a PEM `PRIVATE KEY` or `RSA PRIVATE KEY`, or for Ed25519
   * the base64 of the 32-byte seed.
   */
  privateKey: CryptoKey | string;
  /** `a=` (default `rsa-sha256`; `ed25519-sha256` for an Ed25519 `CryptoKey`). */
  algorithm?: Exclude<DkimAlgorithm, 'rsa-sha1'>;
  /** `c=`, header then body (default `relaxed/relaxed`). */
  canonicalization?: `${DkimCanonicalization}/${DkimCanonicalization}`;
  /** The fields to sign, when present (default {@link defaultDkimSignedHeaders}); From is always signed. */
  headers?: readonly string[];
  /** The fields to over-sign (default {@link defaultDkimOverSignedHeaders}); `[]` for none. */
  overSign?: readonly string[];
  /** `i=`: the identity (AUID), in `d=`'s domain or a subdomain of it. */
  identity?: string;
  /** Put `l=`, the body's length, in the signature (default false: RFC 6376 §8.2 explains the risk). */
  bodyLength?: boolean;
  /** `x=`: seconds from now until the signature expires; absent: no expiry. */
  expiresIn?: number;
}

/** Options of {@link signDkim}. */
export interface DkimSignOptions {
  /** The SHA-256 for body and Ed25519 header hashes (default: {@link createSha256}). */
  sha256?: Sha256Factory;
  /** The clock for `t=` and `x=`, in milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
  /** The most header bytes read (default 1 MiB). */
  maxHeaderBytes?: number;
}

const DKIM_SIGNATURE = 'DKIM-Signature';

/**
 * Signs a message with one or more DKIM signatures (RFC 6376 §5, RFC 8463), reading it once as a stream.
 * Returns the DKIM-Signature fields, each ending with CRLF (LF for a message whose lines end with bare LFs),
 * in the order of `signers`: prepend them to the message as they are. Throws `InvalidArgumentError` for an unusable signer or key, or a header larger
 * than allowed.
 */
export async function signDkim(
  message: MessageSource,
  signers: DkimSigner | readonly DkimSigner[],
  options: DkimSignOptions = {},
): Promise<string> {
  const list = Array.isArray(signers) ? (signers as readonly DkimSigner[]) : [signers as DkimSigner];
  const sha256 = options.sha256 ?? createSha256;
  const prepared = await Promise.all(list.map(prepareSigner));
  const bodyHashes = new DkimBodyHashes(sha256);
  for (const signer of prepared) bodyHashes.request(signer.bodyCanonicalization);
  const read = await readForSigning(message, bodyHashes, options.maxHeaderBytes);
  const headerFields = read.fields;
  const now = Math.floor((options.now ?? Date.now)() / 1000);

  let fields = '';
  for (const signer of prepared) {
    const signedHeaders = headersToSign(headerFields, signer);
    const body = bodyHashes.result(signer.bodyCanonicalization);
    const tags: [string, string][] = [
      ['v', '1'],
      ['a', signer.algorithm],
      ['c', `${signer.headerCanonicalization}/${signer.bodyCanonicalization}`],
      ['d', signer.domain],
      ['s', signer.selector],
    ];
    if (signer.identity !== undefined) tags.push(['i', signer.identity]);
    tags.push(['t', String(now)]);
    if (signer.expiresIn !== undefined) tags.push(['x', String(now + signer.expiresIn)]);
    if (signer.bodyLength) tags.push(['l', String(body.length)]);
    tags.push(['h', signedHeaders.join(':')]);
    const unsigned = foldTags(DKIM_SIGNATURE, tags, encodeBase64(body.digest));
    const data = signedHeaderBytes(
      headerFields,
      signedHeaders,
      signer.headerCanonicalization,
      DKIM_SIGNATURE,
      unsigned,
    );
    fields += await completeField(DKIM_SIGNATURE, unsigned, signer, data, sha256);
  }
  return inLineEndsOf(read, fields);
}

import { encodeLatin1 } from '@postwire/core';
import type { Sha256Factory, StreamingHash } from '../crypto/sha256.js';
import type { RawHeaderField } from '../message/header-reader.js';
import { DkimBodyCanonicalizer } from './body-canonicalizer.js';
import { canonicalizeHeader, type DkimCanonicalization } from './canonicalization.js';

/** The body hashes one pass over a body computes: one per canonicalization and `l=` asked for. */
export class DkimBodyHashes {
  readonly #sha256: Sha256Factory;
  readonly #hashes = new Map<string, { canonicalizer: DkimBodyCanonicalizer; hash: StreamingHash }>();
  #digests: Map<string, { digest: Uint8Array; length: number }> | undefined;

  constructor(sha256: Sha256Factory) {
    this.#sha256 = sha256;
  }

  /** Asks for the hash of the body canonicalized with `algorithm`, cut at `limit` bytes when given. */
  request(algorithm: DkimCanonicalization, limit?: number): void {
    const key = hashKey(algorithm, limit);
    if (this.#hashes.has(key)) return;
    const options = limit === undefined ? {} : { limit };
    this.#hashes.set(key, {
      canonicalizer: new DkimBodyCanonicalizer(algorithm, options),
      hash: this.#sha256(),
    });
  }

  /** Feeds body bytes to every hash asked for. */
  update(chunk: Uint8Array): void {
    for (const { canonicalizer, hash } of this.#hashes.values()) {
      const canonical = canonicalizer.update(chunk);
      if (canonical.length > 0) hash.update(canonical);
    }
  }

  /** Ends the body. */
  end(): void {
    this.#digests = new Map();
    for (const [key, { canonicalizer, hash }] of this.#hashes) {
      const canonical = canonicalizer.end();
      if (canonical.length > 0) hash.update(canonical);
      this.#digests.set(key, { digest: hash.digest(), length: canonicalizer.length });
    }
  }

  /** The digest asked for with `request`, and the whole canonical body's length; after `end`. */
  result(algorithm: DkimCanonicalization, limit?: number): { digest: Uint8Array; length: number } {
    const result = this.#digests?.get(hashKey(algorithm, limit));
    if (result === undefined) throw new TypeError('body hash not requested, or the body has not ended');
    return result;
  }
}

function hashKey(algorithm: DkimCanonicalization, limit: number | undefined): string {
  return `${algorithm}/${limit ?? ''}`;
}

/**
 * The bytes a DKIM (or ARC) signature signs, before its own field (RFC 6376 §5.4.2): for each name of
 * `signedHeaders`, the last instance not used yet, canonicalized and ended with CRLF (none left: nothing),
 * then the signature's own field, canonicalized, without a CRLF. `ownValue` is that field's value with its
 * `b=` value already removed.
 */
export function signedHeaderBytes(
  fields: readonly RawHeaderField[],
  signedHeaders: readonly string[],
  algorithm: DkimCanonicalization,
  ownName: string,
  ownValue: string,
): Uint8Array {
  // Each name's instances, top to bottom; the bottom one not used yet is taken (one pass over the fields,
  // so that a long h= of names the message lacks costs no more than a short one).
  const instances = new Map<string, RawHeaderField[]>();
  for (const field of fields) {
    const list = instances.get(field.key);
    if (list === undefined) instances.set(field.key, [field]);
    else list.push(field);
  }
  let text = '';
  for (const name of signedHeaders) {
    const field = instances.get(name)?.pop();
    if (field !== undefined) text += `${canonicalizeHeader(field.name, field.value, algorithm)}\r\n`;
  }
  text += canonicalizeHeader(ownName, ownValue, algorithm);
  return encodeLatin1(text);
}

import { encodeBase64 } from '@postwire/core';
import type { AuthenticationResult } from '../authentication-results/types.js';
import { createSha256, type Sha256Factory } from '../crypto/sha256.js';
import type { DnsResolver } from '../dns/resolver.js';
import { MessageHeaderReader, type RawHeaderField } from '../message/header-reader.js';
import { type MessageSource, messageChunks } from '../message/input.js';
import { DkimBodyHashes, signedHeaderBytes } from './hashing.js';
import { checkKey, type KeyLookup, lookupKey, verifySignedData } from './key-lookup.js';
import type { DkimKeyRecord } from './key-record.js';
import { type DkimSignature, dkimAlgorithms, parseDkimSignature, stripSignatureValue } from './signature.js';

/** The results of one DKIM signature (RFC 8601 §2.7.1). */
export type DkimResult = 'pass' | 'fail' | 'neutral' | 'policy' | 'temperror' | 'permerror';

/** What checking one DKIM-Signature field gave. */
export interface DkimVerification {
  /**
   * `pass`; `fail` when a hash or the signature does not match; `policy` for what this verifier does not
   * accept (`rsa-sha1`, a key shorter than `minKeyBits`); `permerror` for a malformed signature, a missing,
   * malformed or revoked key, or an expired signature; `temperror` when DNS failed; `neutral` for a
   * signature beyond `maxSignatures`, not checked.
   */
  readonly result: DkimResult;
  /** Why, for every result but `pass`. */
  readonly reason?: string;
  /** The field's value as received. */
  readonly field: string;
  /** The checked tags; absent when the field is malformed. */
  readonly signature?: DkimSignature;
  /** The key record used, when one was found. */
  readonly key?: DkimKeyRecord;
  /** The RSA key's size in bits. */
  readonly keyBits?: number;
}

/** Limits of {@link verifyDkim}. */
export interface DkimVerifyLimits {
  /** Signatures checked per message; the ones after are `neutral` (default 8). */
  maxSignatures: number;
  /** The most header bytes read (default 1 MiB); a larger header gives one `permerror` with no field. */
  maxHeaderBytes: number;
}

/** The default {@link DkimVerifyLimits}. */
export const defaultDkimVerifyLimits: Readonly<DkimVerifyLimits> = Object.freeze({
  maxSignatures: 8,
  maxHeaderBytes: 1024 * 1024,
});

/** Options of {@link verifyDkim}. */
export interface DkimVerifyOptions {
  /** Where key records are looked up. */
  resolver: DnsResolver;
  /** The SHA-256 for body and Ed25519 header hashes (default: {@link createSha256}). */
  sha256?: Sha256Factory;
  /** The clock for `x=`, in milliseconds since the epoch (default `Date.now`). */
  now?: () => number;
  /** The shortest RSA key accepted, in bits (default 1024, RFC 8301 §3.2). */
  minKeyBits?: number;
  /** Limits other than the defaults. */
  limits?: Partial<DkimVerifyLimits>;
}

interface PendingCheck {
  readonly field: string;
  readonly ownName: string;
  readonly signature: DkimSignature;
  readonly key: Promise<KeyLookup>;
}

const DKIM_SIGNATURE = 'dkim-signature';

/**
 * Verifies every DKIM-Signature field of a message (RFC 6376 §6, RFC 8463, RFC 8301), top to bottom. The
 * message is read once, as a stream, and each body hash is computed in constant memory; key records are
 * looked up while the body is read. Never throws for anything the message or the DNS holds.
 */
export async function verifyDkim(
  message: MessageSource,
  options: DkimVerifyOptions,
): Promise<DkimVerification[]> {
  const limits = { ...defaultDkimVerifyLimits, ...options.limits };
  const reader = new MessageHeaderReader(limits.maxHeaderBytes);
  const bodyHashes = new DkimBodyHashes(options.sha256 ?? createSha256);
  const keys = new Map<string, Promise<KeyLookup>>();
  let checks: (PendingCheck | DkimVerification)[] | undefined;
  const start = (fields: readonly RawHeaderField[]) => {
    checks = fields
      .filter((field) => field.key === DKIM_SIGNATURE)
      .map((field, index) => {
        if (index >= limits.maxSignatures) {
          return outcome(field.value, 'neutral', `more than ${limits.maxSignatures} signatures: not checked`);
        }
        const parsed = parseDkimSignature(field.value);
        if (!parsed.ok) return outcome(field.value, 'permerror', parsed.reason);
        const { signature } = parsed;
        bodyHashes.request(signature.bodyCanonicalization, signature.bodyLength);
        const name = `${signature.selector}._domainkey.${signature.domain}`;
        let key = keys.get(name.toLowerCase());
        if (key === undefined) {
          key = lookupKey(options.resolver, name);
          keys.set(name.toLowerCase(), key);
        }
        return { field: field.value, ownName: field.name, signature, key };
      });
  };

  for await (const chunk of messageChunks(message)) {
    const body = reader.push(chunk);
    if (checks === undefined && reader.header?.ok === true) start(reader.header.fields);
    if (reader.header?.ok === false) break;
    if (body.length > 0) bodyHashes.update(body);
  }
  const header = reader.end();
  if (!header.ok) return [outcome('', 'permerror', header.reason)];
  if (checks === undefined) start(header.fields);
  bodyHashes.end();
  return Promise.all(
    checks!.map((check) =>
      'result' in check ? check : finishCheck(check, header.fields, bodyHashes, options),
    ),
  );
}

/** The checks that need the key and the hashes, in the order RFC 6376 §6.1 gives. */
async function finishCheck(
  check: PendingCheck,
  fields: readonly RawHeaderField[],
  bodyHashes: DkimBodyHashes,
  options: DkimVerifyOptions,
): Promise<DkimVerification> {
  const { field, signature } = check;
  const fail = (result: DkimResult, reason: string, more: Partial<DkimVerification> = {}) => ({
    ...outcome(field, result, reason),
    signature,
    ...more,
  });
  if (dkimAlgorithms[signature.algorithm].refused)
    return fail('policy', `${signature.algorithm} is not accepted (RFC 8301)`);
  const now = Math.floor((options.now ?? Date.now)() / 1000);
  if (signature.expiration !== undefined && signature.expiration < now)
    return fail('permerror', 'signature expired');

  const key = await checkKey(await check.key, signature.algorithm, options.minKeyBits ?? 1024, signature);
  const found = {
    ...(key.record === undefined ? {} : { key: key.record }),
    ...(key.bits === undefined ? {} : { keyBits: key.bits }),
  };
  if (!key.ok) return fail(key.result, key.reason, found);

  const body = bodyHashes.result(signature.bodyCanonicalization, signature.bodyLength);
  if (signature.bodyLength !== undefined && signature.bodyLength > body.length) {
    return fail('fail', 'l= is longer than the body', found);
  }
  if (encodeBase64(body.digest) !== signature.bodyHash)
    return fail('fail', 'body hash did not verify', found);

  const signed = signedHeaderBytes(
    fields,
    signature.signedHeaders,
    signature.headerCanonicalization,
    check.ownName,
    stripSignatureValue(field),
  );
  const verified = await verifySignedData(key, signature.signature, signed, options.sha256 ?? createSha256);
  if (!verified) return fail('fail', 'signature did not verify', found);
  return { result: 'pass', field, signature, ...found };
}

function outcome(field: string, result: DkimResult, reason: string): DkimVerification {
  return { result, reason, field };
}

/**
 * The Authentication-Results entry of a verification (RFC 8601 §2.7.1): `dkim=<result>` with `header.d`,
 * `header.i`, `header.s`, `header.a` and the first 8 characters of `header.b` (RFC 6008), and the reason.
 */
export function dkimAuthenticationResult(verification: DkimVerification): AuthenticationResult {
  const { signature } = verification;
  const properties =
    signature === undefined
      ? []
      : [
          { type: 'header', property: 'd', value: signature.domain },
          { type: 'header', property: 'i', value: signature.identity },
          { type: 'header', property: 's', value: signature.selector },
          { type: 'header', property: 'a', value: signature.algorithm },
          { type: 'header', property: 'b', value: signature.signature.slice(0, 8) },
        ];
  return {
    method: 'dkim',
    result: verification.result,
    properties,
    ...(verification.reason === undefined ? {} : { reason: verification.reason }),
  };
}

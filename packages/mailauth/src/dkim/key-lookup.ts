import { decodeBase64 } from '@postwire/core';
import { importDkimPublicKey, verifyBytes } from '../crypto/keys.js';
import { type Sha256Factory, sha256Digest } from '../crypto/sha256.js';
import { type DnsResolver, joinTxt, lookupDns } from '../dns/resolver.js';
import { type DkimKeyRecord, parseDkimKeyRecord } from './key-record.js';
import { type DkimAlgorithm, dkimAlgorithms } from './signature.js';

/** A key record found, or the result a signature gets without one. */
export type KeyLookup =
  | { readonly ok: true; readonly record: DkimKeyRecord }
  | { readonly ok: false; readonly result: 'temperror' | 'permerror'; readonly reason: string };

/** A key ready to verify with, or why a signature made with it cannot pass. */
export type KeyCheck =
  | { readonly ok: true; readonly record: DkimKeyRecord; readonly key: CryptoKey; readonly bits?: number }
  | {
      readonly ok: false;
      readonly result: 'temperror' | 'permerror' | 'policy';
      readonly reason: string;
      readonly record?: DkimKeyRecord;
      readonly bits?: number;
    };

/**
 * Looks up the key record at `name` (`<selector>._domainkey.<domain>`): the first of its TXT records that
 * parses. A DNS failure is a `temperror`; no record, or none usable, a `permerror`.
 */
export async function lookupKey(resolver: DnsResolver, name: string): Promise<KeyLookup> {
  const answer = await lookupDns(resolver, 'txt', name);
  if (answer.status === 'error') return { ok: false, result: 'temperror', reason: answer.reason };
  const texts = answer.status === 'found' ? joinTxt(answer.records) : [];
  if (texts.length === 0) return { ok: false, result: 'permerror', reason: `no key record at ${name}` };
  const parsed = texts.map(parseDkimKeyRecord);
  const record = parsed.find((entry) => entry.ok);
  if (record?.ok) return { ok: true, record: record.record };
  const first = parsed[0] as { reason: string };
  return { ok: false, result: 'permerror', reason: `invalid key record at ${name}: ${first.reason}` };
}

/**
 * Checks a key record against a signature's algorithm (RFC 6376 §6.1.2): not revoked, the key type and an
 * allowed hash, `t=s` when an identity in a subdomain is given, an importable key, and an RSA key of at
 * least `minKeyBits` (`policy` otherwise, RFC 8301 §3.2).
 */
export async function checkKey(
  lookup: KeyLookup,
  algorithmName: DkimAlgorithm,
  minKeyBits: number,
  identity?: { readonly identity: string; readonly domain: string },
): Promise<KeyCheck> {
  if (!lookup.ok) return lookup;
  const { record } = lookup;
  const algorithm = dkimAlgorithms[algorithmName];
  const refuse = (reason: string) => ({ ok: false, result: 'permerror', reason, record }) as const;
  if (record.revoked) return refuse('key revoked');
  if (record.keyType !== algorithm.keyType) {
    return refuse(`key type "${record.keyType}" does not match algorithm "${algorithmName}"`);
  }
  if (record.hashAlgorithms !== undefined && !record.hashAlgorithms.includes(algorithm.hash)) {
    return refuse(`the key does not allow ${algorithm.hash}`);
  }
  if (record.noSubdomains && identity !== undefined) {
    const identityDomain = identity.identity.slice(identity.identity.lastIndexOf('@') + 1);
    if (identityDomain.toLowerCase() !== identity.domain.toLowerCase()) {
      return refuse('the key (t=s) does not allow an identity in a subdomain');
    }
  }
  const imported = await importDkimPublicKey(record.publicKey, record.keyType);
  if (!imported.ok) return refuse(imported.reason);
  const { key, bits } = imported.value;
  if (bits !== undefined && bits < minKeyBits) {
    return { ok: false, result: 'policy', reason: `${bits}-bit key is too short`, record, bits };
  }
  return { ok: true, record, key, ...(bits === undefined ? {} : { bits }) };
}

/**
 * Whether `signature` (base64) signs `data` under a checked key: RSASSA-PKCS1-v1_5 over SHA-256 of the
 * data, or Ed25519 over the SHA-256 of the data (RFC 8463 §3).
 */
export async function verifySignedData(
  check: Extract<KeyCheck, { ok: true }>,
  signature: string,
  data: Uint8Array,
  sha256: Sha256Factory,
): Promise<boolean> {
  const signed = check.record.keyType === 'ed25519' ? sha256Digest(sha256, data) : data;
  return verifyBytes(check.record.keyType, check.key, decodeBase64(signature)!, signed);
}

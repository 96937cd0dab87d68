import { encodeBase64, encodeLatin1 } from '@postwire/core';
import type { AuthenticationResult } from '../authentication-results/types.js';
import { createSha256, type Sha256Factory } from '../crypto/sha256.js';
import { canonicalizeHeader } from '../dkim/canonicalization.js';
import { DkimBodyHashes, signedHeaderBytes } from '../dkim/hashing.js';
import { checkKey, type KeyLookup, lookupKey, verifySignedData } from '../dkim/key-lookup.js';
import { dkimAlgorithms, stripSignatureValue } from '../dkim/signature.js';
import type { DnsResolver } from '../dns/resolver.js';
import { MessageHeaderReader, type RawHeaderField } from '../message/header-reader.js';
import { type MessageSource, messageChunks } from '../message/input.js';
import {
  ARC_FIELDS,
  type ArcMessageSignature,
  type ArcSeal,
  arcAuthenticationResultsInstance,
  parseArcMessageSignature,
  parseArcSeal,
} from './headers.js';

/** An ARC chain's verdict (RFC 8617 §5.2): `none` without ARC sets. */
export type ArcResult = 'none' | 'pass' | 'fail';

/** One ARC set of a chain: its three fields as received, and the two signatures read. */
export interface ArcSet {
  /** The set's instance. */
  readonly instance: number;
  /** The ARC-Authentication-Results field. */
  readonly authenticationResults: RawHeaderField;
  /** The ARC-Message-Signature field. */
  readonly messageSignatureField: RawHeaderField;
  /** The ARC-Seal field. */
  readonly sealField: RawHeaderField;
  /** The ARC-Message-Signature, read. */
  readonly messageSignature: ArcMessageSignature;
  /** The ARC-Seal, read. */
  readonly seal: ArcSeal;
}

/** What {@link verifyArc} found. */
export interface ArcVerification {
  /** The chain's verdict. */
  readonly result: ArcResult;
  /** Why, for `fail`. */
  readonly reason?: string;
  /** The highest instance in the chain (0 without one): a new set gets this plus one. */
  readonly instance: number;
  /** The chain's sets by instance, when their fields could be read. */
  readonly sets: readonly ArcSet[];
}

/** Options of {@link verifyArc}. */
export interface ArcVerifyOptions {
  /** Answers the DNS lookups of the sealers' keys. */
  resolver: DnsResolver;
  /** The SHA-256 for body and Ed25519 hashes (default: {@link createSha256}). */
  sha256?: Sha256Factory;
  /** The shortest RSA key accepted, in bits (default 1024). */
  minKeyBits?: number;
  /** The most header bytes read (default 1 MiB). */
  maxHeaderBytes?: number;
}

type Plan =
  | { readonly final: ArcVerification }
  | { readonly sets: ArcSet[]; readonly keys: Map<string, Promise<KeyLookup>> };

/**
 * Validates a message's ARC chain (RFC 8617 §5.2): every instance from 1 to the highest has exactly one
 * set, the newest seal does not say `cv=fail`, the first says `cv=none` and the others `cv=pass`, the newest
 * ARC-Message-Signature verifies (as a DKIM signature does), and every ARC-Seal verifies over the sets up
 * to its own. The message is read once, as a stream. Never throws; DNS failures make the chain `fail`.
 */
export async function verifyArc(message: MessageSource, options: ArcVerifyOptions): Promise<ArcVerification> {
  const sha256 = options.sha256 ?? createSha256;
  const reader = new MessageHeaderReader(options.maxHeaderBytes ?? 1024 * 1024);
  const bodyHashes = new DkimBodyHashes(sha256);
  let plan: Plan | undefined;
  for await (const chunk of messageChunks(message)) {
    const body = reader.push(chunk);
    if (reader.header?.ok === false) break;
    if (plan === undefined && reader.header?.ok === true)
      plan = planChain(reader.header.fields, bodyHashes, options);
    if (plan !== undefined && 'final' in plan) break;
    if (body.length > 0) bodyHashes.update(body);
  }
  const header = reader.header ?? reader.end();
  if (!header.ok) return { result: 'fail', reason: header.reason, instance: 0, sets: [] };
  plan ??= planChain(header.fields, bodyHashes, options);
  if ('final' in plan) return plan.final;
  bodyHashes.end();
  return finishChain(plan.sets, plan.keys, header.fields, bodyHashes, options.minKeyBits ?? 1024, sha256);
}

/** Reads the chain's structure (§5.2 steps 1–4) and starts the key lookups and the newest body hash. */
function planChain(
  fields: readonly RawHeaderField[],
  bodyHashes: DkimBodyHashes,
  options: ArcVerifyOptions,
): Plan {
  const byInstance = new Map<number, Partial<Record<'aar' | 'ams' | 'as', RawHeaderField>>>();
  const parsedSeals = new Map<number, ArcSeal>();
  const parsedSignatures = new Map<number, ArcMessageSignature>();
  let highest = 0;
  for (const field of fields) {
    let instance: number | undefined;
    let slot: 'aar' | 'ams' | 'as';
    if (field.key === ARC_FIELDS.authenticationResults) {
      slot = 'aar';
      instance = arcAuthenticationResultsInstance(field.value);
      if (instance === undefined) return stop('malformed ARC-Authentication-Results instance', highest);
    } else if (field.key === ARC_FIELDS.messageSignature) {
      slot = 'ams';
      const parsed = parseArcMessageSignature(field.value);
      if (!parsed.ok) return stop(parsed.reason, highest);
      instance = parsed.value.instance;
      parsedSignatures.set(instance, parsed.value);
    } else if (field.key === ARC_FIELDS.seal) {
      slot = 'as';
      const parsed = parseArcSeal(field.value);
      if (!parsed.ok) return stop(parsed.reason, highest);
      instance = parsed.value.instance;
      parsedSeals.set(instance, parsed.value);
    } else {
      continue;
    }
    const set = byInstance.get(instance) ?? {};
    if (set[slot] !== undefined)
      return stop(`more than one ${field.name.trim()} with i=${instance}`, instance);
    set[slot] = field;
    byInstance.set(instance, set);
    highest = Math.max(highest, instance);
  }
  if (highest === 0) return { final: { result: 'none', instance: 0, sets: [] } };
  const sets: ArcSet[] = [];
  for (let instance = 1; instance <= highest; instance++) {
    const set = byInstance.get(instance);
    if (set?.aar === undefined || set.ams === undefined || set.as === undefined) {
      return stop(`ARC set ${instance} is incomplete`, highest);
    }
    sets.push({
      instance,
      authenticationResults: set.aar,
      messageSignatureField: set.ams,
      sealField: set.as,
      messageSignature: parsedSignatures.get(instance)!,
      seal: parsedSeals.get(instance)!,
    });
  }
  const newest = sets[highest - 1]!;
  if (newest.seal.chainValidation === 'fail')
    return stop(`ARC-Seal i=${highest} says cv=fail`, highest, sets);
  for (const set of sets) {
    const expected = set.instance === 1 ? 'none' : 'pass';
    if (set.seal.chainValidation !== expected) {
      return stop(
        `ARC-Seal i=${set.instance} has cv=${set.seal.chainValidation}, not ${expected}`,
        highest,
        sets,
      );
    }
  }
  const signature = newest.messageSignature.signature;
  if (signature.signedHeaders.includes(ARC_FIELDS.seal)) {
    return stop('the newest ARC-Message-Signature signs ARC-Seal', highest, sets);
  }
  bodyHashes.request(signature.bodyCanonicalization, signature.bodyLength);
  const keys = new Map<string, Promise<KeyLookup>>();
  for (const { domain, selector } of [signature, ...sets.map((set) => set.seal)]) {
    const name = `${selector}._domainkey.${domain}`.toLowerCase();
    if (!keys.has(name)) keys.set(name, lookupKey(options.resolver, name));
  }
  return { sets, keys };
}

/** Verifies the newest ARC-Message-Signature and every ARC-Seal (§5.2 steps 5–7). */
async function finishChain(
  sets: readonly ArcSet[],
  keys: ReadonlyMap<string, Promise<KeyLookup>>,
  fields: readonly RawHeaderField[],
  bodyHashes: DkimBodyHashes,
  minKeyBits: number,
  sha256: Sha256Factory,
): Promise<ArcVerification> {
  const instance = sets.length;
  const keyOf = (domain: string, selector: string) =>
    keys.get(`${selector}._domainkey.${domain}`.toLowerCase())!;
  const newest = sets[instance - 1]!;
  const signature = newest.messageSignature.signature;
  const where = `ARC-Message-Signature i=${instance}`;
  if (dkimAlgorithms[signature.algorithm].refused)
    return failed(`${where}: ${signature.algorithm} is not accepted`, instance, sets);
  const key = await checkKey(
    await keyOf(signature.domain, signature.selector),
    signature.algorithm,
    minKeyBits,
  );
  if (!key.ok) return failed(`${where}: ${key.reason}`, instance, sets);
  const body = bodyHashes.result(signature.bodyCanonicalization, signature.bodyLength);
  if (encodeBase64(body.digest) !== signature.bodyHash)
    return failed(`${where}: body hash did not verify`, instance, sets);
  const signed = signedHeaderBytes(
    fields,
    signature.signedHeaders,
    signature.headerCanonicalization,
    newest.messageSignatureField.name,
    stripSignatureValue(newest.messageSignatureField.value),
  );
  if (!(await verifySignedData(key, signature.signature, signed, sha256))) {
    return failed(`${where}: signature did not verify`, instance, sets);
  }
  for (let index = instance - 1; index >= 0; index--) {
    const { seal } = sets[index]!;
    const sealWhere = `ARC-Seal i=${seal.instance}`;
    if (dkimAlgorithms[seal.algorithm].refused)
      return failed(`${sealWhere}: ${seal.algorithm} is not accepted`, instance, sets);
    const sealKey = await checkKey(await keyOf(seal.domain, seal.selector), seal.algorithm, minKeyBits);
    if (!sealKey.ok) return failed(`${sealWhere}: ${sealKey.reason}`, instance, sets);
    if (!(await verifySignedData(sealKey, seal.signature, sealedBytes(sets, index + 1), sha256))) {
      return failed(`${sealWhere}: signature did not verify`, instance, sets);
    }
  }
  return { result: 'pass', instance, sets };
}

/**
 * What the ARC-Seal of instance `upto` signs (RFC 8617 §5.1.1): the sets 1 to `upto` in order, each as
 * ARC-Authentication-Results, ARC-Message-Signature, ARC-Seal, canonicalized `relaxed` and ended with
 * CRLF, but the last seal, whose `b=` value is removed and which has no CRLF.
 */
export function sealedBytes(
  sets: readonly Pick<ArcSet, 'authenticationResults' | 'messageSignatureField' | 'sealField'>[],
  upto: number,
): Uint8Array {
  let text = '';
  for (let index = 0; index < upto; index++) {
    const set = sets[index]!;
    for (const field of [set.authenticationResults, set.messageSignatureField]) {
      text += `${canonicalizeHeader(field.name, field.value, 'relaxed')}\r\n`;
    }
    const seal = set.sealField;
    text +=
      index === upto - 1
        ? canonicalizeHeader(seal.name, stripSignatureValue(seal.value), 'relaxed')
        : `${canonicalizeHeader(seal.name, seal.value, 'relaxed')}\r\n`;
  }
  return encodeLatin1(text);
}

function stop(reason: string, instance: number, sets: readonly ArcSet[] = []): Plan {
  return { final: failed(reason, instance, sets) };
}

function failed(reason: string, instance: number, sets: readonly ArcSet[] = []): ArcVerification {
  return { result: 'fail', reason, instance, sets };
}

/**
 * The Authentication-Results entry of a chain's verdict (RFC 8617 §10.1): `arc=<result>`, with
 * `smtp.remote-ip` when the client's address is given, and the reason.
 */
export function arcAuthenticationResult(
  verification: ArcVerification,
  remoteIp?: string,
): AuthenticationResult {
  return {
    method: 'arc',
    result: verification.result,
    properties: remoteIp === undefined ? [] : [{ type: 'smtp', property: 'remote-ip', value: remoteIp }],
    ...(verification.reason === undefined ? {} : { reason: verification.reason }),
  };
}

import { parseTagList } from './tag-list.js';
import { isBase64, removeFoldingSpace, splitColonList } from './tag-values.js';

/** The key types of `k=`: `rsa` (RFC 6376 §3.6.1) and `ed25519` (RFC 8463 §4). */
export type DkimKeyType = 'rsa' | 'ed25519';

/** A DKIM key record's tags, checked and with their defaults applied (RFC 6376 §3.6.1). */
export interface DkimKeyRecord {
  /** `k=`: the key type (default `rsa`). */
  readonly keyType: DkimKeyType;
  /**
   * `p=`: the public key, base64 with its folding removed: an RSA SubjectPublicKeyInfo (or RSAPublicKey),
   * or the 32 bytes of an Ed25519 key (RFC 8463 §4). Empty when the key is revoked.
   */
  readonly publicKey: string;
  /** Whether `p=` is empty: the key was revoked, and signatures made with it fail. */
  readonly revoked: boolean;
  /** `h=`: the hashes signatures may use with this key (`sha256` …), unknown names kept; absent: any. */
  readonly hashAlgorithms?: readonly string[];
  /** `t=y`: the domain is testing DKIM; a failure must not be treated differently from no signature. */
  readonly testing: boolean;
  /** `t=s`: the domain of `i=` must be exactly `d=`, not a subdomain of it. */
  readonly noSubdomains: boolean;
  /** `n=`: notes for humans, as written. */
  readonly notes?: string;
  /** Every tag as written, unknown ones included, in order. */
  readonly tags: ReadonlyMap<string, string>;
}

/** A checked key record, or why it cannot be used (a `permerror`). */
export type DkimKeyRecordParse =
  | {
      /** The record can be used. */
      readonly ok: true;
      /** The record's tags. */
      readonly record: DkimKeyRecord;
    }
  | {
      /** The record cannot be used. */
      readonly ok: false;
      /** Why. */
      readonly reason: string;
    };

const KEY_TYPES: readonly string[] = ['rsa', 'ed25519'] satisfies DkimKeyType[];

/**
 * Parses and checks a DKIM key record: the TXT record at `selector._domainkey.domain`, its strings
 * joined. `v=DKIM1` is optional but must come first; `p=` is required (empty: revoked); `k=` must be
 * a known key type; `s=`, when present, must offer `email` or `*`. Unknown tags, hash names and flags
 * are ignored. Never throws: an unusable record gives a reason.
 */
export function parseDkimKeyRecord(text: string): DkimKeyRecordParse {
  const parsed = parseTagList(text);
  if (!parsed.ok) return parsed;
  const { tags } = parsed;
  const version = tags.get('v');
  if (version !== undefined) {
    if (tags.keys().next().value !== 'v') return fail('tag "v" is not the first tag');
    if (version !== 'DKIM1') return fail(`unsupported version "${version}"`);
  }

  const keyType = tags.get('k') ?? 'rsa';
  if (!KEY_TYPES.includes(keyType)) return fail(`unsupported key type "${keyType}"`);

  const rawKey = tags.get('p');
  if (rawKey === undefined) return fail('missing tag "p"');
  const publicKey = removeFoldingSpace(rawKey);
  if (!isBase64(publicKey)) return fail('invalid base64 in tag "p"');

  const hashAlgorithms = readList(tags.get('h'));
  if (hashAlgorithms === null) return fail('invalid list in tag "h"');
  const serviceTypes = readList(tags.get('s'));
  if (serviceTypes === null) return fail('invalid list in tag "s"');
  if (serviceTypes !== undefined && !serviceTypes.includes('email') && !serviceTypes.includes('*')) {
    return fail('the key is not for email');
  }
  const flags = readList(tags.get('t'));
  if (flags === null) return fail('invalid list in tag "t"');

  const notes = tags.get('n');
  return {
    ok: true,
    record: {
      keyType: keyType as DkimKeyType,
      publicKey,
      revoked: publicKey === '',
      testing: flags?.includes('y') ?? false,
      noSubdomains: flags?.includes('s') ?? false,
      tags,
      ...(hashAlgorithms === undefined ? {} : { hashAlgorithms }),
      ...(notes === undefined ? {} : { notes }),
    },
  };
}

/** The items of an optional `:`-separated tag value: `undefined` when absent, `null` when malformed. */
function readList(value: string | undefined): string[] | undefined | null {
  if (value === undefined) return undefined;
  return splitColonList(value) ?? null;
}

function fail(reason: string): DkimKeyRecordParse {
  return { ok: false, reason };
}

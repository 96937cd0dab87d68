import type { DkimCanonicalization } from './canonicalization.js';
import type { DkimKeyType } from './key-record.js';
import { parseTagList } from './tag-list.js';
import {
  decodeDkimQuotedPrintable,
  isBase64,
  isDomainName,
  isSameOrSubdomain,
  removeFoldingSpace,
  splitColonList,
} from './tag-values.js';

/** The signing algorithms of `a=`, each with the key type it needs (`k=` of the key record) and its hash. */
export const dkimAlgorithms = {
  /** RFC 6376 §3.3.2: RSASSA-PKCS1-v1_5 over SHA-256. */
  'rsa-sha256': { keyType: 'rsa', hash: 'sha256', refused: false },
  /** RFC 8463 §3: Ed25519 (PureEdDSA) over the SHA-256 hash. */
  'ed25519-sha256': { keyType: 'ed25519', hash: 'sha256', refused: false },
  /** RFC 6376 §3.3.1, refused by RFC 8301 §3.1: verifiers must not consider it valid. */
  'rsa-sha1': { keyType: 'rsa', hash: 'sha1', refused: true },
} as const satisfies Record<string, { keyType: DkimKeyType; hash: string; refused: boolean }>;

/** One of the algorithms of {@link dkimAlgorithms}. */
export type DkimAlgorithm = keyof typeof dkimAlgorithms;

/** A DKIM-Signature field's tags, checked and with their defaults applied (RFC 6376 §3.5). */
export interface DkimSignature {
  /** `a=`: the signing algorithm; see {@link dkimAlgorithms} for whether it is refused. */
  readonly algorithm: DkimAlgorithm;
  /** `b=`: the signature, base64 with its folding removed. */
  readonly signature: string;
  /** `bh=`: the hash of the canonical body, base64 with its folding removed. */
  readonly bodyHash: string;
  /** The first half of `c=` (default `simple`). */
  readonly headerCanonicalization: DkimCanonicalization;
  /** The second half of `c=` (default `simple`, also when `c=` names only the header's). */
  readonly bodyCanonicalization: DkimCanonicalization;
  /** `d=`: the signing domain (SDID), as written. */
  readonly domain: string;
  /** `h=`: the names of the signed header fields, lower-cased, in order, repeats kept; includes `from`. */
  readonly signedHeaders: readonly string[];
  /** `i=` decoded (AUID), default `@` and the domain; its domain is the signing domain or under it. */
  readonly identity: string;
  /** `l=`: how many bytes of the canonical body are signed; absent when all are. */
  readonly bodyLength?: number;
  /** `s=`: the selector, as written. */
  readonly selector: string;
  /** `t=`: when it was signed, in seconds since the Unix epoch. */
  readonly timestamp?: number;
  /** `x=`: when it expires, in seconds since the Unix epoch; after `timestamp` (RFC 6376 §3.5). */
  readonly expiration?: number;
  /** `z=` decoded: the header fields as they were signed, each `name:value`, for diagnostics. */
  readonly copiedHeaders?: readonly string[];
  /** Every tag as written, unknown ones included, in order. */
  readonly tags: ReadonlyMap<string, string>;
}

/** A checked DKIM-Signature, or why it is malformed (a `permerror`). */
export type DkimSignatureParse =
  | {
      /** The signature was read. */
      readonly ok: true;
      /** The signature's tags. */
      readonly signature: DkimSignature;
    }
  | {
      /** The signature is malformed. */
      readonly ok: false;
      /** Why. */
      readonly reason: string;
    };

const REQUIRED_TAGS = ['v', 'a', 'b', 'bh', 'd', 'h', 's'] as const;
const CANONICALIZATION = /^(simple|relaxed)(?:\/(simple|relaxed))?$/;
const TIME = /^[0-9]{1,12}$/;
const BODY_LENGTH = /^[0-9]{1,76}$/;

/**
 * Parses and checks a DKIM-Signature field's value (everything after the colon, folding included).
 * Required: `v=1`, `a=`, `b=`, `bh=`, `d=`, `h=` naming From, `s=`. Checked: `i=` in `d=`'s domain,
 * `q=` offering `dns/txt`, `x=` after `t=`, base64 and numbers well formed. Unknown tags are kept
 * in `tags` and otherwise ignored. Never throws: a malformed value gives a reason.
 */
export function parseDkimSignature(value: string): DkimSignatureParse {
  const parsed = parseTagList(value);
  return parsed.ok ? checkDkimSignatureTags(parsed.tags) : parsed;
}

/**
 * Checks the tags of a DKIM-Signature, as {@link parseDkimSignature} does after reading the tag list; ARC
 * uses it for ARC-Message-Signature tags, with `v=1` in place of the instance tag.
 */
export function checkDkimSignatureTags(tags: ReadonlyMap<string, string>): DkimSignatureParse {
  const tag = (name: string): string | undefined => tags.get(name);
  for (const name of REQUIRED_TAGS) {
    if (!tags.has(name)) return fail(`missing tag "${name}"`);
  }
  if (tag('v') !== '1') return fail(`unsupported version "${tag('v')}"`);

  const algorithm = tag('a')!;
  if (!Object.hasOwn(dkimAlgorithms, algorithm)) return fail(`unsupported algorithm "${algorithm}"`);

  const signature = removeFoldingSpace(tag('b')!);
  const bodyHash = removeFoldingSpace(tag('bh')!);
  if (signature === '' || !isBase64(signature)) return fail('invalid base64 in tag "b"');
  if (bodyHash === '' || !isBase64(bodyHash)) return fail('invalid base64 in tag "bh"');

  const canonicalization = CANONICALIZATION.exec(tag('c') ?? 'simple');
  if (canonicalization === null) return fail(`unsupported canonicalization "${tag('c')}"`);

  const domain = tag('d')!;
  if (!isDomainName(domain, 2)) return fail(`invalid domain "${domain}"`);
  const selector = tag('s')!;
  if (!isDomainName(selector, 1)) return fail(`invalid selector "${selector}"`);

  const signedHeaders = splitColonList(tag('h')!)?.map((name) => name.toLowerCase());
  if (signedHeaders === undefined) return fail('invalid header field list in tag "h"');
  if (!signedHeaders.includes('from')) return fail('tag "h" does not include From');

  const identity = tag('i') === undefined ? `@${domain}` : decodeDkimQuotedPrintable(tag('i')!);
  if (identity === undefined) return fail('invalid quoted-printable in tag "i"');
  const identityDomain = identity.slice(identity.lastIndexOf('@') + 1);
  if (!identity.includes('@') || !isDomainName(identityDomain, 2)) return fail('invalid identity in tag "i"');
  if (!isSameOrSubdomain(identityDomain, domain)) {
    return fail(`identity "${identity}" is not in the signing domain "${domain}"`);
  }

  const queryMethods = tag('q') === undefined ? ['dns/txt'] : splitColonList(tag('q')!);
  if (!queryMethods?.includes('dns/txt')) return fail('no supported query method in tag "q"');

  const bodyLength = readNumber(tag('l'), BODY_LENGTH);
  const timestamp = readNumber(tag('t'), TIME);
  const expiration = readNumber(tag('x'), TIME);
  if (Number.isNaN(bodyLength)) return fail('invalid body length in tag "l"');
  if (Number.isNaN(timestamp)) return fail('invalid timestamp in tag "t"');
  if (Number.isNaN(expiration)) return fail('invalid expiration in tag "x"');
  if (timestamp !== undefined && expiration !== undefined && expiration <= timestamp) {
    return fail('expiration "x" is not after timestamp "t"');
  }

  const copiedHeaders = tag('z')?.split('|').map(decodeDkimQuotedPrintable);
  if (copiedHeaders?.includes(undefined)) return fail('invalid quoted-printable in tag "z"');

  return {
    ok: true,
    signature: {
      algorithm: algorithm as DkimAlgorithm,
      signature,
      bodyHash,
      headerCanonicalization: canonicalization[1] as DkimCanonicalization,
      bodyCanonicalization: (canonicalization[2] ?? 'simple') as DkimCanonicalization,
      domain,
      signedHeaders,
      identity,
      selector,
      tags,
      ...(bodyLength === undefined ? {} : { bodyLength }),
      ...(timestamp === undefined ? {} : { timestamp }),
      ...(expiration === undefined ? {} : { expiration }),
      ...(copiedHeaders === undefined ? {} : { copiedHeaders: copiedHeaders as string[] }),
    },
  };
}

/**
 * A DKIM-Signature field's value with the value of its `b=` tag, and the white space around that
 * value, removed (RFC 6376 §3.7): what is hashed, after header canonicalization, in place of the
 * field. Every other byte is kept as it was; a value without a `b=` tag is returned unchanged.
 */
export function stripSignatureValue(value: string): string {
  let start = 0;
  while (start <= value.length) {
    const semicolon = value.indexOf(';', start);
    const end = semicolon < 0 ? value.length : semicolon;
    const name = /^[ \t\r\n]*b[ \t\r\n]*=/.exec(value.slice(start, end));
    if (name !== null) return value.slice(0, start + name[0].length) + value.slice(end);
    start = end + 1;
  }
  return value;
}

/** The number in `value`, `undefined` without one, `NaN` when it does not match or is not exact. */
function readNumber(value: string | undefined, pattern: RegExp): number | undefined {
  if (value === undefined) return undefined;
  const number = pattern.test(value) ? Number(value) : Number.NaN;
  return Number.isSafeInteger(number) ? number : Number.NaN;
}

function fail(reason: string): DkimSignatureParse {
  return { ok: false, reason };
}

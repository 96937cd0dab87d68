import {
  checkDkimSignatureTags,
  type DkimAlgorithm,
  type DkimSignature,
  dkimAlgorithms,
} from '../dkim/signature.js';
import { parseTagList } from '../dkim/tag-list.js';
import { isBase64, isDomainName, removeFoldingSpace } from '../dkim/tag-values.js';

/** The names of the three fields of an ARC set (RFC 8617 §4.1), lower-cased. */
export const ARC_FIELDS = {
  seal: 'arc-seal',
  messageSignature: 'arc-message-signature',
  authenticationResults: 'arc-authentication-results',
} as const;

/** The highest instance number an ARC set may have (RFC 8617 §4.2.1). */
export const MAX_ARC_INSTANCE = 50;

/** `cv=`: the chain validation status a sealer found (RFC 8617 §4.1.3). */
export type ArcChainValidation = 'none' | 'pass' | 'fail';

/** An ARC-Seal field's tags, checked (RFC 8617 §4.1.3). */
export interface ArcSeal {
  /** `i=`: the instance, 1 to 50. */
  readonly instance: number;
  /** `cv=`: the chain validation status the sealer found. */
  readonly chainValidation: ArcChainValidation;
  /** `a=`: the signing algorithm. */
  readonly algorithm: DkimAlgorithm;
  /** `b=`, folding removed. */
  readonly signature: string;
  /** `d=`: the sealer's domain. */
  readonly domain: string;
  /** `s=`: the selector of the sealer's key. */
  readonly selector: string;
  /** `t=`, when present. */
  readonly timestamp?: number;
}

/** An ARC-Message-Signature: its instance, and its other tags read as a DKIM signature's (RFC 8617 §4.1.2). */
export interface ArcMessageSignature {
  /** `i=`: the instance, 1 to 50. */
  readonly instance: number;
  /** The other tags, read as a DKIM signature's. */
  readonly signature: DkimSignature;
}

/** A parsed ARC field, or why it is malformed. */
export type ArcParse<T> =
  | {
      /** The field was read. */
      readonly ok: true;
      /** The field's tags. */
      readonly value: T;
    }
  | {
      /** The field is malformed. */
      readonly ok: false;
      /** Why. */
      readonly reason: string;
    };

const INSTANCE = /^[0-9]{1,2}$/;
const CHAIN_VALIDATION = ['none', 'pass', 'fail'];

/** Parses an ARC-Seal field's value: `i`, `cv`, `a`, `b`, `d` and `s` required, `h` refused (RFC 8617 §4.1.3). */
export function parseArcSeal(value: string): ArcParse<ArcSeal> {
  const parsed = parseTagList(value);
  if (!parsed.ok) return parsed;
  const { tags } = parsed;
  for (const name of ['i', 'cv', 'a', 'b', 'd', 's']) {
    if (!tags.has(name)) return { ok: false, reason: `ARC-Seal: missing tag "${name}"` };
  }
  if (tags.has('h')) return { ok: false, reason: 'ARC-Seal: tag "h" is not allowed' };
  const instance = readInstance(tags.get('i')!);
  if (instance === undefined) return { ok: false, reason: `ARC-Seal: invalid instance "${tags.get('i')}"` };
  const chainValidation = tags.get('cv')!.toLowerCase();
  if (!CHAIN_VALIDATION.includes(chainValidation)) {
    return { ok: false, reason: `ARC-Seal: invalid cv "${tags.get('cv')}"` };
  }
  const algorithm = tags.get('a')!;
  if (!Object.hasOwn(dkimAlgorithms, algorithm))
    return { ok: false, reason: `ARC-Seal: unsupported algorithm "${algorithm}"` };
  const signature = removeFoldingSpace(tags.get('b')!);
  if (signature === '' || !isBase64(signature))
    return { ok: false, reason: 'ARC-Seal: invalid base64 in tag "b"' };
  const domain = tags.get('d')!;
  const selector = tags.get('s')!;
  if (!isDomainName(domain, 2) || !isDomainName(selector, 1)) {
    return { ok: false, reason: 'ARC-Seal: invalid domain or selector' };
  }
  const time = tags.get('t');
  if (time !== undefined && !/^[0-9]{1,12}$/.test(time))
    return { ok: false, reason: 'ARC-Seal: invalid timestamp' };
  return {
    ok: true,
    value: {
      instance,
      chainValidation: chainValidation as ArcChainValidation,
      algorithm: algorithm as DkimAlgorithm,
      signature,
      domain,
      selector,
      ...(time === undefined ? {} : { timestamp: Number(time) }),
    },
  };
}

/**
 * Parses an ARC-Message-Signature field's value: `i=` is the instance; the other tags are checked as a
 * DKIM-Signature's (without `v=`, and with the default identity `@d`).
 */
export function parseArcMessageSignature(value: string): ArcParse<ArcMessageSignature> {
  const parsed = parseTagList(value);
  if (!parsed.ok) return parsed;
  const instanceText = parsed.tags.get('i');
  const instance = instanceText === undefined ? undefined : readInstance(instanceText);
  if (instance === undefined)
    return { ok: false, reason: `ARC-Message-Signature: invalid instance "${instanceText}"` };
  const tags = new Map([['v', '1']]);
  for (const [name, text] of parsed.tags) if (name !== 'i' && name !== 'v') tags.set(name, text);
  const checked = checkDkimSignatureTags(tags);
  if (!checked.ok) return { ok: false, reason: `ARC-Message-Signature: ${checked.reason}` };
  return { ok: true, value: { instance, signature: checked.signature } };
}

/** The instance of an ARC-Authentication-Results value: its leading `i=N;` (RFC 8617 §4.1.1). */
export function arcAuthenticationResultsInstance(value: string): number | undefined {
  const match = /^[ \t\r\n]*i[ \t\r\n]*=[ \t\r\n]*([0-9]{1,2})[ \t\r\n]*;/.exec(value);
  return match === null ? undefined : readInstance(match[1]!);
}

function readInstance(text: string): number | undefined {
  const trimmed = removeFoldingSpace(text);
  if (!INSTANCE.test(trimmed)) return undefined;
  const instance = Number(trimmed);
  return instance >= 1 && instance <= MAX_ARC_INSTANCE ? instance : undefined;
}

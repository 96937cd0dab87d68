import { parseTagList } from '../dkim/tag-list.js';
import { splitColonList } from '../dkim/tag-values.js';
import { type DmarcReportUri, parseReportUris } from './report-uri.js';

/** A Domain Owner Assessment Policy: what to do with mail that fails DMARC (RFC 7489 §6.3). */
export type DmarcPolicy = 'none' | 'quarantine' | 'reject';

/** Identifier alignment mode of `adkim=`/`aspf=` (RFC 7489 §3.1): `r` relaxed, `s` strict. */
export type DmarcAlignmentMode = 'relaxed' | 'strict';

/** A failure reporting option of `fo=` (RFC 7489 §6.3). */
export type DmarcFailureOption = '0' | '1' | 'd' | 's';

/** The `psd=` flag (DMARCbis): `y` a public suffix domain, `n` not one and its own Organizational Domain, `u` unknown. */
export type DmarcPublicSuffixFlag = 'y' | 'n' | 'u';

/** A DMARC policy record's tags, checked and with their defaults applied (RFC 7489 §6.3, DMARCbis). */
export interface DmarcRecord {
  /** `p=`: the policy for the domain itself; `none` when read by the §6.6.3 rule (see `policyDefaulted`). */
  readonly policy: DmarcPolicy;
  /** `sp=`: the policy for existing subdomains; absent: `p=` applies. */
  readonly subdomainPolicy?: DmarcPolicy;
  /** `np=` (DMARCbis): the policy for non-existent subdomains; absent: `sp=`, then `p=` applies. */
  readonly nonExistentPolicy?: DmarcPolicy;
  /**
   * Whether `p=` was missing or invalid, or `sp=`/`np=` invalid, and the record is read as `p=none`
   * because `rua=` holds a valid URI (RFC 7489 §6.6.3).
   */
  readonly policyDefaulted: boolean;
  /** `pct=`: the percentage of failing mail the policy applies to, 0–100 (default 100). */
  readonly percent: number;
  /** `adkim=`: DKIM alignment mode (default relaxed). */
  readonly dkimAlignment: DmarcAlignmentMode;
  /** `aspf=`: SPF alignment mode (default relaxed). */
  readonly spfAlignment: DmarcAlignmentMode;
  /** `fo=`: failure reporting options, without repeats (default `0`). */
  readonly failureOptions: readonly DmarcFailureOption[];
  /** `rf=`: failure report formats, lower-cased (default `afrf`). */
  readonly reportFormats: readonly string[];
  /** `ri=`: the requested aggregate report interval in seconds (default 86400). */
  readonly reportInterval: number;
  /** `rua=`: where to send aggregate reports; the valid URIs only. */
  readonly aggregateReportUris: readonly DmarcReportUri[];
  /** `ruf=`: where to send failure reports; the valid URIs only. */
  readonly failureReportUris: readonly DmarcReportUri[];
  /** `t=y` (DMARCbis): the Domain Owner is testing and asks that the policy not be applied. */
  readonly testing: boolean;
  /** `psd=` (DMARCbis, default `u`). */
  readonly publicSuffix: DmarcPublicSuffixFlag;
  /**
   * Tags whose value was invalid and was replaced by its default, or, for `rua`/`ruf`, that held an
   * invalid URI that was dropped (RFC 7489 §6.3: syntax errors are discarded). Lower-cased, in order.
   */
  readonly invalidTags: readonly string[];
  /** Every tag as written, names lower-cased, unknown ones included, in order. */
  readonly tags: ReadonlyMap<string, string>;
}

/** A checked DMARC record, or why the text is not one to apply. */
export type DmarcRecordParse =
  | {
      /** The record applies. */
      readonly ok: true;
      /** The record's tags. */
      readonly record: DmarcRecord;
    }
  | {
      /** The text is not a record to apply. */
      readonly ok: false;
      /** Why. */
      readonly reason: string;
    };

const POLICIES: readonly string[] = ['none', 'quarantine', 'reject'] satisfies DmarcPolicy[];
const FAILURE_OPTIONS: readonly string[] = ['0', '1', 'd', 's'] satisfies DmarcFailureOption[];

/**
 * Parses a DMARC policy record: the TXT record at `_dmarc.<domain>`, its strings joined. It is a tag
 * list (as in DKIM) whose first tag must be `v=DMARC1` (value case-sensitive). Tag names and the
 * keyword values of `p`, `sp`, `np`, `adkim`, `aspf`, `fo`, `rf`, `t` and `psd` are case-insensitive.
 * An invalid value of another known tag is replaced by its default and listed in `invalidTags`;
 * unknown tags are ignored.
 *
 * A missing or invalid `p=`, or an invalid `sp=` or `np=`, makes the record unusable, unless `rua=`
 * holds at least one valid URI: then the record is read as `p=none` with no `sp=`/`np=`
 * (RFC 7489 §6.6.3) and `policyDefaulted` is set. Never throws: an unusable record gives a reason.
 */
export function parseDmarcRecord(text: string): DmarcRecordParse {
  const parsed = parseTagList(text);
  if (!parsed.ok) return parsed;
  const tags = new Map<string, string>();
  for (const [name, value] of parsed.tags) {
    const lower = name.toLowerCase();
    if (tags.has(lower)) return fail(`duplicate tag "${lower}"`);
    tags.set(lower, value);
  }
  if (tags.keys().next().value !== 'v') return fail('tag "v" is not the first tag');
  const version = tags.get('v')!;
  if (version !== 'DMARC1') return fail(`unsupported version "${version}"`);

  const invalidTags: string[] = [];
  const read = <T>(name: string, fallback: T, check: (value: string) => T | undefined): T => {
    const value = tags.get(name);
    if (value === undefined) return fallback;
    const checked = check(value);
    if (checked !== undefined) return checked;
    invalidTags.push(name);
    return fallback;
  };
  const readUris = (name: string): readonly DmarcReportUri[] => {
    const value = tags.get(name);
    if (value === undefined) return [];
    const { uris, dropped } = parseReportUris(value);
    if (dropped) invalidTags.push(name);
    return uris;
  };

  const policy = read('p', undefined, readPolicy);
  const subdomainPolicy = read('sp', undefined, readPolicy);
  const nonExistentPolicy = read('np', undefined, readPolicy);
  const percent = read('pct', 100, (value) => readInteger(value, 100));
  const dkimAlignment = read('adkim', 'relaxed', readAlignment);
  const spfAlignment = read('aspf', 'relaxed', readAlignment);
  const failureOptions = read<readonly DmarcFailureOption[]>('fo', ['0'], readFailureOptions);
  const reportFormats = read<readonly string[]>('rf', ['afrf'], readReportFormats);
  const reportInterval = read('ri', 86400, (value) => readInteger(value, 0xffffffff));
  const testing = read('t', false, (value) => {
    const lower = value.toLowerCase();
    return lower === 'y' ? true : lower === 'n' ? false : undefined;
  });
  const publicSuffix = read<DmarcPublicSuffixFlag>('psd', 'u', (value) => {
    const lower = value.toLowerCase();
    return lower === 'y' || lower === 'n' || lower === 'u' ? lower : undefined;
  });
  const aggregateReportUris = readUris('rua');
  const failureReportUris = readUris('ruf');

  const policyInvalid = ['p', 'sp', 'np'].some((name) => invalidTags.includes(name));
  const policyDefaulted = policy === undefined || policyInvalid;
  if (policyDefaulted && aggregateReportUris.length === 0) {
    if (invalidTags.includes('p')) return fail(`invalid value for tag "p" and no valid "rua" URI`);
    if (policy === undefined) return fail('missing tag "p" and no valid "rua" URI');
    const name = invalidTags.find((tag) => tag === 'sp' || tag === 'np');
    return fail(`invalid value for tag "${name}" and no valid "rua" URI`);
  }

  return {
    ok: true,
    record: {
      policy: policyDefaulted ? 'none' : policy,
      ...(policyDefaulted || subdomainPolicy === undefined ? {} : { subdomainPolicy }),
      ...(policyDefaulted || nonExistentPolicy === undefined ? {} : { nonExistentPolicy }),
      policyDefaulted,
      percent,
      dkimAlignment,
      spfAlignment,
      failureOptions,
      reportFormats,
      reportInterval,
      aggregateReportUris,
      failureReportUris,
      testing,
      publicSuffix,
      invalidTags,
      tags,
    },
  };
}

function readPolicy(value: string): DmarcPolicy | undefined {
  const lower = value.toLowerCase();
  return POLICIES.includes(lower) ? (lower as DmarcPolicy) : undefined;
}

function readAlignment(value: string): DmarcAlignmentMode | undefined {
  const lower = value.toLowerCase();
  return lower === 'r' ? 'relaxed' : lower === 's' ? 'strict' : undefined;
}

/** A decimal integer from 0 to `max`, or `undefined`. */
function readInteger(value: string, max: number): number | undefined {
  if (!/^[0-9]{1,10}$/.test(value)) return undefined;
  const number = Number(value);
  return number <= max ? number : undefined;
}

function readFailureOptions(value: string): DmarcFailureOption[] | undefined {
  const items = splitColonList(value.toLowerCase());
  if (items === undefined || !items.every((item) => FAILURE_OPTIONS.includes(item))) return undefined;
  return [...new Set(items)] as DmarcFailureOption[];
}

/** `Keyword *(":" Keyword)`, a Keyword being an RFC 5321 ldh-str. */
function readReportFormats(value: string): string[] | undefined {
  const items = splitColonList(value.toLowerCase());
  if (items === undefined || !items.every((item) => /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(item))) {
    return undefined;
  }
  return items;
}

function fail(reason: string): DmarcRecordParse {
  return { ok: false, reason };
}

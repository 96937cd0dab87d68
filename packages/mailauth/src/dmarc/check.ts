import { isDomainName } from '../dkim/tag-values.js';
import { type DnsResolver, joinTxt, lookupDns } from '../dns/resolver.js';
import { normalizeDomain } from './domain-name.js';
import { type DmarcPublicSuffixFlag, type DmarcRecord, parseDmarcRecord } from './record.js';
import { type DmarcAuthResult, type DmarcEvaluation, dmarcResult } from './result.js';
import { dmarcLookupNames, organizationalDomain } from './tree-walk.js';

/** Options of {@link checkDmarc}. */
export interface DmarcCheckOptions {
  /** Where DMARC records (and, for `np=`, the From domain's A, AAAA and MX records) are looked up. */
  resolver: DnsResolver;
  /** The RFC5322.From domain (A-labels). */
  fromDomain: string;
  /** The SPF result for the RFC5321.MailFrom identity, with the domain it checked. */
  spf?: DmarcAuthResult;
  /** One result per DKIM signature, each with its `d=`. */
  dkim?: readonly DmarcAuthResult[];
  /** A number in [0, 1) for `pct=` sampling (default `Math.random`). */
  random?: () => number;
}

/** What {@link checkDmarc} found: the verdict, the record that gave it, and the disposition. */
export interface DmarcCheck extends Omit<DmarcEvaluation, 'result'> {
  /**
   * `pass`, `fail`, `none` (no policy record applies), `temperror` (DNS failed before a verdict could be
   * reached) or `permerror` (the From domain is not a domain name).
   */
  readonly result: DmarcEvaluation['result'] | 'temperror' | 'permerror';
  /** Why, for `none`, `temperror` and `permerror`. */
  readonly reason?: string;
  /** The From domain, lower-cased. */
  readonly fromDomain: string;
  /** The policy record applied. */
  readonly record?: DmarcRecord;
  /** Where the record was found: the From domain, or a parent found by the tree walk. */
  readonly policyDomain?: string;
}

type RecordLookup =
  | { readonly status: 'record'; readonly record: DmarcRecord }
  | { readonly status: 'none' }
  | { readonly status: 'error'; readonly reason: string };

/**
 * Checks DMARC for a message (RFC 7489 §6.6, DMARCbis): policy discovery by the DNS tree walk from the
 * From domain, the Organizational Domains of the From domain and of each passing identifier by the same
 * walk (no public suffix list), identifier alignment, and the policy and disposition to apply, with
 * `sp=`, `np=` (the From domain's existence is asked only when `np=` could apply), `pct=` and `t=`.
 * Each DMARC name is queried once per check. Never throws.
 */
export async function checkDmarc(options: DmarcCheckOptions): Promise<DmarcCheck> {
  const fromDomain = normalizeDomain(options.fromDomain);
  const empty = {
    spfAligned: false,
    dkimAligned: false,
    sampledOut: false,
    disposition: 'none',
    fromDomain,
  } as const;
  if (!isDomainName(fromDomain, 1)) {
    return {
      ...empty,
      result: 'permerror',
      reason: `the From domain "${options.fromDomain}" is not a domain name`,
    };
  }
  const lookups = new Map<string, Promise<RecordLookup>>();
  const lookup = (name: string) => {
    let answer = lookups.get(name);
    if (answer === undefined) {
      answer = readRecord(options.resolver, name);
      lookups.set(name, answer);
    }
    return answer;
  };

  let found: { record: DmarcRecord; name: string } | undefined;
  for (const name of dmarcLookupNames(fromDomain)) {
    const answer = await lookup(name);
    if (answer.status === 'error') return { ...empty, result: 'temperror', reason: answer.reason };
    if (answer.status === 'record') {
      found = { record: answer.record, name };
      break;
    }
  }
  if (found === undefined) return { ...empty, result: 'none', reason: `no DMARC record for ${fromDomain}` };
  const { record } = found;
  const policyDomain = found.name.slice('_dmarc.'.length);

  const dkim = options.dkim ?? [];
  const passing = [...(options.spf ? [options.spf] : []), ...dkim].filter(
    (auth) => auth.result.toLowerCase() === 'pass',
  );
  // Organizational Domains matter only for relaxed alignment of a passing identifier of another domain.
  const others = passing
    .map((auth) => normalizeDomain(auth.domain))
    .filter((domain) => domain !== fromDomain);
  const relaxed = record.spfAlignment === 'relaxed' || record.dkimAlignment === 'relaxed';
  const domains = new Set(others.length > 0 && relaxed ? [fromDomain, ...others] : []);
  const orgDomains = new Map<string, string>();
  try {
    await Promise.all(
      [...domains].map(async (domain) => {
        orgDomains.set(domain, await walkOrganizationalDomain(domain, lookup));
      }),
    );
  } catch (error) {
    return { ...empty, result: 'temperror', reason: (error as Error).message, record, policyDomain };
  }

  let fromDomainExists = true;
  if (policyDomain !== fromDomain && record.nonExistentPolicy !== undefined) {
    const exists = await domainExists(options.resolver, fromDomain);
    if (typeof exists === 'string')
      return { ...empty, result: 'temperror', reason: exists, record, policyDomain };
    fromDomainExists = exists;
  }
  const evaluation = dmarcResult({
    fromDomain,
    ...(options.spf === undefined ? {} : { spf: options.spf }),
    dkim,
    record,
    policyDomain,
    fromDomainExists,
    orgDomainOf: (domain) => orgDomains.get(normalizeDomain(domain)) ?? normalizeDomain(domain),
    ...(options.random === undefined ? {} : { random: options.random }),
  });
  return { ...evaluation, fromDomain, record, policyDomain };
}

/** The DMARC record at `name`: exactly one TXT record starting with `v=DMARC1` that parses (RFC 7489 §6.6.3). */
async function readRecord(resolver: DnsResolver, name: string): Promise<RecordLookup> {
  const answer = await lookupDns(resolver, 'txt', name);
  if (answer.status === 'error') return answer;
  if (answer.status === 'nxdomain') return { status: 'none' };
  const texts = joinTxt(answer.records).filter((text) => /^v=DMARC1[ \t]*(?:;|$)/.test(text));
  if (texts.length !== 1) return { status: 'none' };
  const parsed = parseDmarcRecord(texts[0]!);
  return parsed.ok ? { status: 'record', record: parsed.record } : { status: 'none' };
}

/** The Organizational Domain of `domain` by the DMARCbis tree walk; throws when a lookup failed. */
async function walkOrganizationalDomain(
  domain: string,
  lookup: (name: string) => Promise<RecordLookup>,
): Promise<string> {
  const names = dmarcLookupNames(domain);
  const answers = await Promise.all(names.map(lookup));
  const found = new Map<string, DmarcPublicSuffixFlag>();
  for (const [index, answer] of answers.entries()) {
    if (answer.status === 'error') throw new Error(answer.reason);
    if (answer.status === 'record') found.set(names[index]!, answer.record.publicSuffix);
  }
  return organizationalDomain(domain, found);
}

/**
 * Whether `domain` exists for `np=` (DMARCbis): false only when its A, AAAA and MX lookups all give
 * NXDOMAIN; the reason when one failed.
 */
async function domainExists(resolver: DnsResolver, domain: string): Promise<boolean | string> {
  const answers = await Promise.all([
    lookupDns(resolver, 'a', domain),
    lookupDns(resolver, 'aaaa', domain),
    lookupDns(resolver, 'mx', domain),
  ]);
  const failed = answers.find((answer) => answer.status === 'error');
  if (failed?.status === 'error') return failed.reason;
  return !answers.every((answer) => answer.status === 'nxdomain');
}

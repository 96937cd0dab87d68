import { normalizeDomain } from './domain-name.js';
import type { DmarcPublicSuffixFlag } from './record.js';

/** The most DNS queries one tree walk makes (DMARCbis DNS Tree Walk). */
const MAX_QUERIES = 8;

/**
 * The names to query for DMARC records, in order, for the DMARCbis DNS Tree Walk from `domain`:
 * `_dmarc.<domain>` first, then its parents up to and including the top-level domain. A domain of
 * eight or more labels is shortened to its seven rightmost labels after the first query, so there are
 * at most eight queries. The walk stops early, as the caller queries, at a single valid record with
 * `psd=y` or `psd=n`. `domain` is an A-label name, case and a trailing dot ignored; an empty name or
 * one with an empty label gives no names.
 */
export function dmarcLookupNames(domain: string): string[] {
  const labels = labelsOf(domain);
  if (labels === undefined) return [];
  const names = [`_dmarc.${labels.join('.')}`];
  for (let count = Math.min(labels.length - 1, MAX_QUERIES - 1); count >= 1; count--)
    names.push(`_dmarc.${labels.slice(-count).join('.')}`);
  return names;
}

/**
 * The Organizational Domain of `domain` (DMARCbis, Identifier Alignment Evaluation), found with the
 * DNS Tree Walk instead of a public suffix list. `recordsFound` maps each name of
 * {@link dmarcLookupNames} that held exactly one valid DMARC record to that record's `psd=` flag
 * (names are compared case-insensitively; others are ignored). Going from the longest name to the
 * shortest: a record with `psd=n` makes its domain the Organizational Domain; a record with `psd=y`
 * makes the domain one label below it the Organizational Domain (at the first name, `psd=y` ends the
 * walk, so that domain is its own); otherwise it is the domain of the shortest name with a record.
 * With no records, `domain` is its own Organizational Domain. Returns the name lower-cased, without
 * a trailing dot.
 */
export function organizationalDomain(
  domain: string,
  recordsFound: ReadonlyMap<string, DmarcPublicSuffixFlag>,
): string {
  const labels = labelsOf(domain);
  if (labels === undefined) return normalizeDomain(domain);
  const found = new Map<string, DmarcPublicSuffixFlag>();
  for (const [name, flag] of recordsFound) found.set(normalizeDomain(name), flag);
  const names = dmarcLookupNames(domain);
  let shortest: string | undefined;
  for (const [index, name] of names.entries()) {
    const flag = found.get(name);
    if (flag === undefined) continue;
    const own = name.slice('_dmarc.'.length);
    if (flag === 'n' || (flag === 'y' && index === 0)) return own;
    if (flag === 'y') return labels.slice(-(own.split('.').length + 1)).join('.');
    shortest = own;
  }
  return shortest ?? labels.join('.');
}

/** The labels of a normalized `domain`, or `undefined` when it is empty or has an empty label. */
function labelsOf(domain: string): string[] | undefined {
  const labels = normalizeDomain(domain).split('.');
  return labels.every((label) => label !== '') ? labels : undefined;
}

import { normalizeDomain } from './domain-name.js';
import type { DmarcAlignmentMode } from './record.js';

/**
 * Whether an authenticated domain (SPF's RFC5321.MailFrom domain or a DKIM `d=`) is aligned with the
 * RFC5322.From domain (RFC 7489 §3.1): in strict mode when they are the same name, in relaxed mode
 * when they also have the same Organizational Domain, as `orgDomainOf` gives it (for instance
 * {@link organizationalDomain} over a tree walk's answers). Case and a trailing dot are ignored; an
 * empty domain is never aligned.
 */
export function isAligned(
  authenticated: string,
  fromDomain: string,
  mode: DmarcAlignmentMode,
  orgDomainOf: (domain: string) => string,
): boolean {
  const a = normalizeDomain(authenticated);
  const b = normalizeDomain(fromDomain);
  if (a === '' || b === '') return false;
  if (a === b) return true;
  return mode === 'relaxed' && normalizeDomain(orgDomainOf(a)) === normalizeDomain(orgDomainOf(b));
}

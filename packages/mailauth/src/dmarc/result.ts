import { isAligned } from './alignment.js';
import { normalizeDomain } from './domain-name.js';
import type { DmarcAlignmentMode, DmarcPolicy, DmarcRecord } from './record.js';

/** An SPF or DKIM result with the domain it authenticated; only `pass` counts for DMARC. */
export interface DmarcAuthResult {
  /** The method's result (`pass`, `fail`, `softfail`, `temperror` …). */
  readonly result: string;
  /** SPF: the RFC5321.MailFrom domain checked; DKIM: the signature's `d=`. */
  readonly domain: string;
}

/** What {@link dmarcResult} needs: the author domain, the underlying results and the discovered record. */
export interface DmarcInput {
  /** The RFC5322.From domain (A-labels). */
  readonly fromDomain: string;
  /** The SPF result for the RFC5321.MailFrom identity, if SPF was checked. */
  readonly spf?: DmarcAuthResult;
  /** One result per DKIM signature checked. */
  readonly dkim: readonly DmarcAuthResult[];
  /** The policy record found by policy discovery; absent: DMARC does not apply. */
  readonly record?: DmarcRecord;
  /** The domain where `record` was found (default `fromDomain`); a parent of it means `sp`/`np` apply. */
  readonly policyDomain?: string;
  /** Whether the From domain exists in the DNS (default true); `false` selects `np` (DMARCbis). */
  readonly fromDomainExists?: boolean;
  /** The Organizational Domain of a domain, for relaxed alignment. */
  readonly orgDomainOf: (domain: string) => string;
  /** A number in [0, 1) for `pct=` sampling (default `Math.random`). */
  readonly random?: () => number;
}

/** The DMARC verdict for a message and what to do with it. */
export interface DmarcEvaluation {
  /** `pass` when an aligned identifier passed, `fail` when none did, `none` when no record applies. */
  readonly result: 'pass' | 'fail' | 'none';
  /** Whether SPF passed with a domain aligned per `aspf=`. */
  readonly spfAligned: boolean;
  /** Whether a DKIM signature passed with a domain aligned per `adkim=`. */
  readonly dkimAligned: boolean;
  /** The tag the policy came from: `p` for the domain itself, `sp`/`np` for a subdomain. */
  readonly policyTag?: 'p' | 'sp' | 'np';
  /** The Domain Owner's policy for this From domain, as `policyTag` gives it. */
  readonly policy?: DmarcPolicy;
  /** Whether a failing message was left out of the `pct=` sample and got the next milder policy. */
  readonly sampledOut: boolean;
  /**
   * What the Domain Owner asks for this message: `none` on pass, with no record, or with `t=y`;
   * otherwise `policy`, one step milder (reject → quarantine → none) when sampled out (RFC 7489 §6.6.4).
   */
  readonly disposition: DmarcPolicy;
}

const MILDER: Readonly<Record<DmarcPolicy, DmarcPolicy>> = {
  reject: 'quarantine',
  quarantine: 'none',
  none: 'none',
};

/**
 * Evaluates DMARC for a message (RFC 7489 §6.6, with DMARCbis `np=` and `t=`): it passes when SPF or
 * a DKIM signature passed for a domain aligned with the From domain. The policy is `p=` when the
 * record was found at the From domain; for a subdomain (§6.6.2), `sp=` (or `np=` when the From domain
 * does not exist, then `sp=`), falling back to `p=`. A failing message gets that policy unless `t=y`
 * or it is sampled out by `pct=` (with `random`). Alignment only: DNS is the caller's.
 */
export function dmarcResult(input: DmarcInput): DmarcEvaluation {
  const { fromDomain, spf, dkim, record, orgDomainOf } = input;
  if (record === undefined) {
    return { result: 'none', spfAligned: false, dkimAligned: false, sampledOut: false, disposition: 'none' };
  }
  const aligned = (auth: DmarcAuthResult, mode: DmarcAlignmentMode) =>
    auth.result.toLowerCase() === 'pass' && isAligned(auth.domain, fromDomain, mode, orgDomainOf);
  const spfAligned = spf !== undefined && aligned(spf, record.spfAlignment);
  const dkimAligned = dkim.some((signature) => aligned(signature, record.dkimAlignment));
  const { policyTag, policy } = choosePolicy(
    record,
    normalizeDomain(input.policyDomain ?? fromDomain) !== normalizeDomain(fromDomain),
    input.fromDomainExists ?? true,
  );
  const pass = spfAligned || dkimAligned;
  if (pass || record.testing || policy === 'none') {
    return {
      result: pass ? 'pass' : 'fail',
      spfAligned,
      dkimAligned,
      policyTag,
      policy,
      sampledOut: false,
      disposition: 'none',
    };
  }
  const random = input.random ?? Math.random;
  const sampledOut = record.percent < 100 && random() * 100 >= record.percent;
  return {
    result: 'fail',
    spfAligned,
    dkimAligned,
    policyTag,
    policy,
    sampledOut,
    disposition: sampledOut ? MILDER[policy] : policy,
  };
}

/** The policy for the From domain: `p` for the domain itself, else `np`/`sp` as they apply, else `p`. */
function choosePolicy(
  record: DmarcRecord,
  isSubdomain: boolean,
  exists: boolean,
): { policyTag: 'p' | 'sp' | 'np'; policy: DmarcPolicy } {
  if (isSubdomain && !exists && record.nonExistentPolicy !== undefined) {
    return { policyTag: 'np', policy: record.nonExistentPolicy };
  }
  if (isSubdomain && record.subdomainPolicy !== undefined) {
    return { policyTag: 'sp', policy: record.subdomainPolicy };
  }
  return { policyTag: 'p', policy: record.policy };
}

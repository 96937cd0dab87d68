import { describe, expect, it, vi } from 'vitest';
import {
  type DmarcInput,
  dmarcResult,
  organizationalDomain,
  parseDmarcRecord,
} from '../../src/dmarc/index.js';

const record = (text: string) => {
  const parsed = parseDmarcRecord(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.record;
};
const orgDomainOf = (domain: string) => organizationalDomain(domain, new Map([['_dmarc.example.com', 'u']]));
const base = { fromDomain: 'example.com', dkim: [], orgDomainOf } satisfies DmarcInput;
const fails = { ...base, spf: { result: 'pass', domain: 'attacker.example' } };

describe('dmarcResult', () => {
  it('is none, with no disposition, without a record', () => {
    expect(dmarcResult(base)).toEqual({
      result: 'none',
      spfAligned: false,
      dkimAligned: false,
      sampledOut: false,
      disposition: 'none',
    });
  });

  it('passes with aligned SPF or DKIM, as RFC 7489 §B.3.1 (relaxed SPF mail.example.com, DKIM example.com)', () => {
    const policy = record('v=DMARC1; p=reject; aspf=r; rua=mailto:dmarc-feedback@example.com');
    expect(
      dmarcResult({
        ...base,
        record: policy,
        spf: { result: 'pass', domain: 'mail.example.com' },
        dkim: [{ result: 'pass', domain: 'example.com' }],
      }),
    ).toEqual({
      result: 'pass',
      spfAligned: true,
      dkimAligned: true,
      policyTag: 'p',
      policy: 'reject',
      sampledOut: false,
      disposition: 'none',
    });
  });

  it('fails when the passing identifiers are not aligned, or the aligned ones did not pass', () => {
    const strict = record('v=DMARC1; p=reject; adkim=s; aspf=s');
    const evaluation = dmarcResult({
      ...base,
      record: strict,
      spf: { result: 'pass', domain: 'mail.example.com' },
      dkim: [
        { result: 'fail', domain: 'example.com' },
        { result: 'pass', domain: 'sub.example.com' },
        { result: 'pass', domain: 'other.example' },
      ],
    });
    expect(evaluation).toMatchObject({
      result: 'fail',
      spfAligned: false,
      dkimAligned: false,
      disposition: 'reject',
    });
    expect(
      dmarcResult({ ...base, record: strict, dkim: [{ result: 'PASS', domain: 'Example.com.' }] }).result,
    ).toBe('pass');
  });

  it('chooses p, sp or np by where the record was found and whether the From domain exists', () => {
    const all = record('v=DMARC1; p=reject; sp=quarantine; np=none');
    const spOnly = record('v=DMARC1; p=reject; sp=quarantine');
    const pOnly = record('v=DMARC1; p=quarantine');
    const sub = { ...fails, fromDomain: 'mail.example.com', policyDomain: 'example.com' };
    const cases: [DmarcInput, string, string][] = [
      [{ ...fails, record: all }, 'p', 'reject'],
      [{ ...fails, record: all, policyDomain: 'EXAMPLE.COM.' }, 'p', 'reject'],
      [{ ...sub, record: all }, 'sp', 'quarantine'],
      [{ ...sub, record: all, fromDomainExists: false }, 'np', 'none'],
      [{ ...sub, record: spOnly, fromDomainExists: false }, 'sp', 'quarantine'],
      [{ ...sub, record: pOnly, fromDomainExists: false }, 'p', 'quarantine'],
      [{ ...sub, record: pOnly }, 'p', 'quarantine'],
      [{ ...fails, record: all, fromDomainExists: false }, 'p', 'reject'],
    ];
    for (const [input, policyTag, policy] of cases) {
      expect(dmarcResult(input)).toMatchObject({ result: 'fail', policyTag, policy, disposition: policy });
    }
  });

  it('samples failing mail with pct=, giving the next milder policy when sampled out', () => {
    const at = (text: string, value: number) =>
      dmarcResult({ ...fails, record: record(text), random: () => value });
    expect(at('v=DMARC1; p=reject; pct=25', 0.2)).toMatchObject({ sampledOut: false, disposition: 'reject' });
    expect(at('v=DMARC1; p=reject; pct=25', 0.25)).toMatchObject({
      sampledOut: true,
      disposition: 'quarantine',
    });
    expect(at('v=DMARC1; p=quarantine; pct=25', 0.9)).toMatchObject({
      sampledOut: true,
      disposition: 'none',
    });
    expect(at('v=DMARC1; p=reject; pct=0', 0)).toMatchObject({ sampledOut: true, disposition: 'quarantine' });
    const random = vi.fn(() => 0.99);
    expect(dmarcResult({ ...fails, record: record('v=DMARC1; p=reject'), random })).toMatchObject({
      disposition: 'reject',
    });
    expect(random).not.toHaveBeenCalled();
  });

  it('applies no policy under t=y or p=none, and does not sample then', () => {
    const random = vi.fn(() => 0);
    for (const text of ['v=DMARC1; p=reject; t=y', 'v=DMARC1; p=none; pct=50']) {
      expect(dmarcResult({ ...fails, record: record(text), random })).toMatchObject({
        result: 'fail',
        sampledOut: false,
        disposition: 'none',
      });
    }
    expect(random).not.toHaveBeenCalled();
  });
});

import { checkDmarc, type DnsResolver } from '@postwire/mailauth';
import { describe, expect, it } from 'vitest';

type Zone = Record<string, { txt?: string[]; a?: string[] } | 'fail'>;

/** Answers from `zone`; a name absent from it does not exist; `'fail'` throws as a timeout does. Counts queries. */
function resolver(zone: Zone): DnsResolver & { queries: string[] } {
  const queries: string[] = [];
  const answer =
    (type: 'txt' | 'a' | 'aaaa' | 'mx') =>
    async (name: string): Promise<never[] | null> => {
      queries.push(`${type} ${name}`);
      const entry = zone[name];
      if (entry === 'fail') throw new Error(`${type} ${name} timed out`);
      if (entry === undefined) return null;
      if (type === 'txt') return (entry.txt ?? []).map((text) => [text]) as never[];
      if (type === 'a') return (entry.a ?? []) as never[];
      return [];
    };
  return {
    queries,
    txt: answer('txt'),
    a: answer('a'),
    aaaa: answer('aaaa'),
    mx: answer('mx'),
    ptr: answer('a'),
  };
}

const pass = (domain: string) => ({ result: 'pass', domain });
const fail = (domain: string) => ({ result: 'fail', domain });

describe('checkDmarc', () => {
  it('passes on an aligned DKIM or SPF pass and fails with the policy otherwise', async () => {
    const zone: Zone = { '_dmarc.example.com': { txt: ['v=DMARC1; p=reject; rua=mailto:d@example.com'] } };
    const dkim = await checkDmarc({
      resolver: resolver(zone),
      fromDomain: 'Example.COM.',
      dkim: [pass('example.com')],
    });
    expect(dkim).toMatchObject({
      result: 'pass',
      dkimAligned: true,
      spfAligned: false,
      disposition: 'none',
      fromDomain: 'example.com',
      policyDomain: 'example.com',
      policyTag: 'p',
    });
    const failing = await checkDmarc({
      resolver: resolver(zone),
      fromDomain: 'example.com',
      spf: fail('example.com'),
      dkim: [pass('other.example')],
    });
    expect(failing).toMatchObject({ result: 'fail', policy: 'reject', disposition: 'reject' });
  });

  it('aligns a subdomain in relaxed mode through the tree walk, and not in strict mode', async () => {
    const zone: Zone = {
      '_dmarc.example.com': { txt: ['v=DMARC1; p=quarantine'] },
      '_dmarc.mail.example.com': {},
    };
    const relaxed = await checkDmarc({
      resolver: resolver(zone),
      fromDomain: 'example.com',
      spf: pass('bounce.mail.example.com'),
    });
    expect(relaxed).toMatchObject({ result: 'pass', spfAligned: true });
    const strictZone: Zone = { '_dmarc.example.com': { txt: ['v=DMARC1; p=quarantine; aspf=s; adkim=s'] } };
    const strict = await checkDmarc({
      resolver: resolver(strictZone),
      fromDomain: 'example.com',
      spf: pass('mail.example.com'),
      dkim: [pass('mail.example.com')],
    });
    expect(strict).toMatchObject({ result: 'fail', disposition: 'quarantine' });
  });

  it('finds the policy of a parent by the tree walk and applies sp= and np=', async () => {
    const zone: Zone = {
      '_dmarc.example.com': { txt: ['v=DMARC1; p=reject; sp=quarantine; np=none'] },
      'a.b.example.com': { a: ['192.0.2.1'] },
    };
    const dns = resolver(zone);
    const existing = await checkDmarc({ resolver: dns, fromDomain: 'a.b.example.com', dkim: [] });
    expect(existing).toMatchObject({
      result: 'fail',
      policyDomain: 'example.com',
      policyTag: 'sp',
      disposition: 'quarantine',
    });
    expect(dns.queries.filter((query) => query.startsWith('txt'))).toEqual([
      'txt _dmarc.a.b.example.com',
      'txt _dmarc.b.example.com',
      'txt _dmarc.example.com',
    ]);
    const missing = await checkDmarc({ resolver: resolver(zone), fromDomain: 'nope.example.com', dkim: [] });
    expect(missing).toMatchObject({ result: 'fail', policyTag: 'np', policy: 'none', disposition: 'none' });
  });

  it('takes only a single v=DMARC1 record, and reports none without one', async () => {
    const two: Zone = { '_dmarc.example.com': { txt: ['v=DMARC1; p=reject', 'v=DMARC1; p=none'] } };
    expect(await checkDmarc({ resolver: resolver(two), fromDomain: 'example.com' })).toMatchObject({
      result: 'none',
      reason: 'no DMARC record for example.com',
      disposition: 'none',
    });
    const other: Zone = { '_dmarc.example.com': { txt: ['v=spf1 -all', 'v=DMARC1; p=reject'] } };
    expect((await checkDmarc({ resolver: resolver(other), fromDomain: 'example.com' })).result).toBe('fail');
    const broken: Zone = { '_dmarc.example.com': { txt: ['v=DMARC1; p=bogus'] } };
    expect((await checkDmarc({ resolver: resolver(broken), fromDomain: 'example.com' })).result).toBe('none');
  });

  it('samples with pct= and honours t=y', async () => {
    const zone: Zone = { '_dmarc.example.com': { txt: ['v=DMARC1; p=reject; pct=50'] } };
    const sampledOut = await checkDmarc({
      resolver: resolver(zone),
      fromDomain: 'example.com',
      random: () => 0.9,
    });
    expect(sampledOut).toMatchObject({ result: 'fail', sampledOut: true, disposition: 'quarantine' });
    const testing: Zone = { '_dmarc.example.com': { txt: ['v=DMARC1; p=reject; t=y'] } };
    expect(await checkDmarc({ resolver: resolver(testing), fromDomain: 'example.com' })).toMatchObject({
      result: 'fail',
      disposition: 'none',
    });
  });

  it('gives temperror when a lookup fails, permerror for a From domain that is no domain', async () => {
    const down: Zone = { '_dmarc.example.com': 'fail' };
    expect(await checkDmarc({ resolver: resolver(down), fromDomain: 'example.com' })).toMatchObject({
      result: 'temperror',
      reason: 'DNS TXT lookup of _dmarc.example.com failed: txt _dmarc.example.com timed out',
    });
    const walkDown: Zone = { '_dmarc.example.com': { txt: ['v=DMARC1; p=reject'] }, '_dmarc.com': 'fail' };
    expect(
      await checkDmarc({
        resolver: resolver(walkDown),
        fromDomain: 'example.com',
        dkim: [pass('mail.example.com')],
      }),
    ).toMatchObject({ result: 'temperror', policyDomain: 'example.com' });
    const npDown: Zone = {
      '_dmarc.example.com': { txt: ['v=DMARC1; p=reject; np=reject'] },
      'x.example.com': 'fail',
    };
    expect(await checkDmarc({ resolver: resolver(npDown), fromDomain: 'x.example.com' })).toMatchObject({
      result: 'temperror',
    });
    expect(await checkDmarc({ resolver: resolver({}), fromDomain: 'not a domain' })).toMatchObject({
      result: 'permerror',
      disposition: 'none',
    });
  });

  it('asks no more than needed: no tree walk when the passing identifier is the From domain', async () => {
    const dns = resolver({ '_dmarc.example.com': { txt: ['v=DMARC1; p=reject'] } });
    await checkDmarc({
      resolver: dns,
      fromDomain: 'example.com',
      spf: pass('example.com'),
      dkim: [pass('example.com')],
    });
    expect(dns.queries).toEqual(['txt _dmarc.example.com']);
  });
});

import { type DnsResolver, joinTxt, lookupDns } from '@postwire/mailauth';
import { describe, expect, it } from 'vitest';

function resolver(txt: DnsResolver['txt']): DnsResolver {
  const none = async () => null;
  return { txt, a: none, aaaa: none, mx: none, ptr: none };
}

describe('lookupDns', () => {
  it('tells records, no records, no name and failures apart, never throwing', async () => {
    expect(
      await lookupDns(
        resolver(async () => [['a', 'b']]),
        'txt',
        'x.example',
      ),
    ).toEqual({
      status: 'found',
      records: [['a', 'b']],
    });
    expect(
      await lookupDns(
        resolver(async () => []),
        'txt',
        'x.example',
      ),
    ).toEqual({ status: 'found', records: [] });
    expect(
      await lookupDns(
        resolver(async () => null),
        'txt',
        'x.example',
      ),
    ).toEqual({ status: 'nxdomain' });
    const timeout = Object.assign(new Error('queryTxt ETIMEOUT x.example'), { code: 'ETIMEOUT' });
    expect(
      await lookupDns(
        resolver(async () => Promise.reject(timeout)),
        'txt',
        'x.example',
      ),
    ).toEqual({
      status: 'error',
      reason: 'DNS TXT lookup of x.example failed: queryTxt ETIMEOUT x.example',
    });
    const coded = Object.assign(new Error('server failure'), { code: 'ESERVFAIL' });
    expect(
      await lookupDns(
        resolver(async () => Promise.reject(coded)),
        'txt',
        'x.example',
      ),
    ).toMatchObject({
      reason: 'DNS TXT lookup of x.example failed: ESERVFAIL: server failure',
    });
    expect(
      await lookupDns(
        resolver(async () => Promise.reject('down')),
        'txt',
        'x.example',
      ),
    ).toMatchObject({
      reason: 'DNS TXT lookup of x.example failed: down',
    });
    const broken = resolver(async () => 'text' as never);
    expect(await lookupDns(broken, 'txt', 'x.example')).toEqual({
      status: 'error',
      reason: 'the resolver gave no list for txt x.example',
    });
  });

  it('joins the strings of each TXT record', () => {
    expect(joinTxt([['v=spf1 ', 'ip4:192.0.2.1 -all'], ['other']])).toEqual([
      'v=spf1 ip4:192.0.2.1 -all',
      'other',
    ]);
  });
});

import * as dgram from 'node:dgram';
import { joinTxt } from '@postwire/mailauth';
import { createNodeDnsResolver } from '@postwire/mailauth/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts } from '../../../core/test/support/peer-process.js';
import { type DnsServer, dnsmasqAvailable, reverseName, startDnsServer } from '../peers/dns-server.js';
import { dnsmasqZoneOptions } from '../peers/dnsmasq-zone.js';

/**
 * The real lookup path: `createNodeDnsResolver` (node:dns, c-ares) asking a real dnsmasq on loopback
 * for each record type the checks use, and telling NXDOMAIN (`null`) from NODATA (`[]`) from a server
 * that does not answer (thrown).
 */

const hasDnsmasq = dnsmasqAvailable();
if (!hasDnsmasq)
  console.warn('skipping the DNS interop tests: dnsmasq (Debian dnsmasq-base) is not installed');

/** 600 bytes: three character-strings (255 + 255 + 90), an answer too big for 512-byte UDP. */
const LONG = `v=DKIM1; k=rsa; p=${'A'.repeat(582)}`;
/** 1,500 bytes: too long for a dnsmasq config line, so the harness passes it on the command line. */
const VERY_LONG = `v=spf1 ${'ip4:192.0.2.1 '.repeat(106)}-all`;
/** Every character dnsmasq's config syntax treats specially. */
const ESCAPES = 'quote " backslash \\ \\t comma , semicolon ; hash # end';

let dns: DnsServer;
beforeAll(async () => {
  if (!hasDnsmasq) return;
  dns = await startDnsServer({
    txt: {
      'example.test': ['v=spf1 ip4:192.0.2.1 -all'],
      'multi.example.test': [['v=spf1 ', 'ip4:192.0.2.2 ', '-all']],
      'long.example.test': [LONG],
      'very-long.example.test': [VERY_LONG],
      'two.example.test': ['first', 'second'],
      'escapes.example.test': [ESCAPES],
      'Upper.Example.Test.': ['case'],
      'sel._domainkey.example.test': ['v=DKIM1; p='],
    },
    a: { 'mail.example.test': ['192.0.2.10', '192.0.2.11'] },
    aaaa: { 'mail.example.test': ['2001:db8::10'] },
    mx: {
      'example.test': [
        { exchange: 'mail.example.test', priority: 10 },
        { exchange: 'backup.example.test', priority: 20 },
      ],
    },
    ptr: { '192.0.2.10': ['mail.example.test'], '2001:db8::10': ['mail.example.test'] },
  });
});
afterAll(async () => {
  await dns?.stop();
});

describe.skipIf(!hasDnsmasq)('createNodeDnsResolver against dnsmasq', () => {
  const resolver = () => createNodeDnsResolver({ servers: dns.servers, timeout: 1_000, tries: 2 });

  it('reads a TXT record', async () => {
    expect(await resolver().txt('example.test')).toEqual([['v=spf1 ip4:192.0.2.1 -all']]);
  });

  it('keeps the character-strings of a TXT record apart, for the checks to join', async () => {
    const records = await resolver().txt('multi.example.test');
    expect(records).toEqual([['v=spf1 ', 'ip4:192.0.2.2 ', '-all']]);
    expect(joinTxt(records!)).toEqual(['v=spf1 ip4:192.0.2.2 -all']);
  });

  it('reads a 600-byte TXT record as 255-byte strings (the answer comes over TCP)', async () => {
    const records = await resolver().txt('long.example.test');
    expect(records?.map((strings) => strings.map((string) => string.length))).toEqual([[255, 255, 90]]);
    expect(joinTxt(records!)).toEqual([LONG]);
  });

  it('reads a 1,500-byte TXT record', async () => {
    expect(joinTxt((await resolver().txt('very-long.example.test'))!)).toEqual([VERY_LONG]);
  });

  it('reads every TXT record of a name', async () => {
    expect(joinTxt((await resolver().txt('two.example.test'))!).sort()).toEqual(['first', 'second']);
  });

  it('serves quotes, backslashes, commas, semicolons and hashes as written', async () => {
    expect(joinTxt((await resolver().txt('escapes.example.test'))!)).toEqual([ESCAPES]);
  });

  it('matches names without regard to case', async () => {
    expect(await resolver().txt('upper.example.TEST')).toEqual([['case']]);
  });

  it('reads A and AAAA records', async () => {
    expect([...(await resolver().a('mail.example.test'))!].sort()).toEqual(['192.0.2.10', '192.0.2.11']);
    expect(await resolver().aaaa('mail.example.test')).toEqual(['2001:db8::10']);
  });

  it('reads MX records', async () => {
    const records = [...(await resolver().mx('example.test'))!].sort((a, b) => a.priority - b.priority);
    expect(records).toEqual([
      { exchange: 'mail.example.test', priority: 10 },
      { exchange: 'backup.example.test', priority: 20 },
    ]);
  });

  it('reads PTR records of IPv4 and IPv6 addresses', async () => {
    expect(reverseName('192.0.2.10')).toBe('10.2.0.192.in-addr.arpa');
    expect(await resolver().ptr(reverseName('192.0.2.10'))).toEqual(['mail.example.test']);
    expect(reverseName('2001:db8::10')).toBe(`0.1.0.0.${'0.'.repeat(20)}8.b.d.0.1.0.0.2.ip6.arpa`);
    expect(await resolver().ptr(reverseName('2001:db8::10'))).toEqual(['mail.example.test']);
  });

  it('gives null for a name that does not exist (NXDOMAIN), in or out of the zone', async () => {
    expect(await resolver().txt('nope.example.test')).toBeNull();
    expect(await resolver().a('nope.example.test')).toBeNull();
    expect(await resolver().mx('backup.example.test')).toBeNull(); // only an MX target, no records
    expect(await resolver().txt('_dmarc.elsewhere.invalid')).toBeNull();
    expect(await resolver().ptr(reverseName('198.51.100.7'))).toBeNull();
  });

  it('gives [] for a name that exists without records of the type asked (NODATA)', async () => {
    expect(await resolver().txt('mail.example.test')).toEqual([]);
    expect(await resolver().a('example.test')).toEqual([]);
    expect(await resolver().aaaa('sel._domainkey.example.test')).toEqual([]);
    expect(await resolver().mx('mail.example.test')).toEqual([]);
    // An empty non-terminal: only sel._domainkey.example.test has records.
    expect(await resolver().txt('_domainkey.example.test')).toEqual([]);
  });
});

describe('createNodeDnsResolver with a server that does not answer', () => {
  it('throws within its timeout when the port is closed', async () => {
    const [closed] = await freePorts(1);
    const resolver = createNodeDnsResolver({ servers: [`127.0.0.1:${closed}`], timeout: 300, tries: 1 });
    const started = Date.now();
    await expect(resolver.txt('example.test')).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('throws ETIMEOUT within its timeout when the server stays silent', async () => {
    const silent = dgram.createSocket('udp4');
    const port = await new Promise<number>((resolve) =>
      silent.bind(0, '127.0.0.1', () => resolve(silent.address().port)),
    );
    try {
      const resolver = createNodeDnsResolver({ servers: [`127.0.0.1:${port}`], timeout: 300, tries: 2 });
      const started = Date.now();
      await expect(resolver.a('example.test')).rejects.toMatchObject({ code: 'ETIMEOUT' });
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(250);
      expect(elapsed).toBeLessThan(3_000);
    } finally {
      silent.close();
    }
  });
});

describe('the zone as dnsmasq options', () => {
  it('quotes TXT strings in the config file, and puts a record too long for a config line on the command line', () => {
    const { lines, args } = dnsmasqZoneOptions({
      txt: { 'a.test.': [['x"y', 'back\\slash']], 'b.test': ['z'.repeat(1_100)] },
    });
    expect(lines).toEqual(['txt-record=a.test,"x\\"y","back\\\\slash"']);
    expect(args).toEqual([
      `--txt-record=b.test,${'z'.repeat(255)},${'z'.repeat(255)},${'z'.repeat(255)},${'z'.repeat(255)},${'z'.repeat(80)}`,
    ]);
  });

  it('refuses what dnsmasq cannot serve', () => {
    expect(() => dnsmasqZoneOptions({ txt: { 'a.test': [`${'z'.repeat(1_100)},`] } })).toThrow(/comma/);
    expect(() => dnsmasqZoneOptions({ txt: { 'a.test': ['tab\there'] } })).toThrow(/control characters/);
    expect(() => dnsmasqZoneOptions({ txt: { 'a.test': [['z'.repeat(256)]] } })).toThrow(/over 255 bytes/);
    expect(() => dnsmasqZoneOptions({ a: { 'a.test': ['2001:db8::1'] } })).toThrow(/not an IPv4 address/);
    expect(() => dnsmasqZoneOptions({ a: { 'a,b.test': ['192.0.2.1'] } })).toThrow(/unusable DNS name/);
  });
});

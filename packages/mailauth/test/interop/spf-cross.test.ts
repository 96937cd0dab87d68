import { checkSpf, type DnsResolver, type SpfResult } from '@postwire/mailauth';
import { createNodeDnsResolver } from '@postwire/mailauth/node';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type DnsServer, type DnsZone, dnsmasqAvailable, startDnsServer } from '../peers/dns-server.js';
import { pyspfAvailable, pyspfCheck } from '../peers/python-tools.js';

/**
 * Postwire's SPF (RFC 7208) against pyspf 2.0.14 on the same records: one dnsmasq serves the zone
 * below, Postwire asks it through `createNodeDnsResolver`, pyspf through dnspython. Each case states
 * Postwire's result; where pyspf legitimately differs the case keeps both values and says why.
 * (dnsmasq answers every name, so DNS failures, temperror, are not tried here.)
 */

const hasDnsmasq = dnsmasqAvailable() || skipping('dnsmasq (Debian dnsmasq-base)');
const hasPyspf = pyspfAvailable() || skipping('pyspf (Debian python3-spf, python3-dnspython)');

function skipping(what: string): false {
  console.warn(`skipping the SPF cross-checks with pyspf: ${what} is not installed`);
  return false;
}

/** `a:h1.spf.test a:h2.spf.test …`: `count` DNS-querying terms, each on a name that has an A record. */
function aTerms(count: number): string {
  return Array.from({ length: count }, (_, i) => `a:h${i + 1}.spf.test`).join(' ');
}

const ZONE: DnsZone = {
  txt: {
    'ip4.spf.test': ['v=spf1 ip4:192.0.2.0/24 -all'],
    'ip6.spf.test': ['v=spf1 ip6:2001:db8:1::/48 -all'],
    'a.spf.test': ['v=spf1 a a:mail.spf.test/28 -all'],
    'a6.spf.test': ['v=spf1 a:mail.spf.test/32//64 -all'],
    'mx.spf.test': ['v=spf1 mx -all'],
    'inc.spf.test': ['v=spf1 include:inc1.spf.test ~all'],
    'inc1.spf.test': ['v=spf1 include:inc2.spf.test -all'],
    'inc2.spf.test': ['v=spf1 ip4:203.0.113.128/25 -all'],
    'redir.spf.test': ['v=spf1 redirect=ip4.spf.test'],
    'allredir.spf.test': ['v=spf1 -all redirect=ip4.spf.test'],
    'exists.spf.test': ['v=spf1 exists:%{ir}.%{l1r-}._spf.%{d} -all'],
    'ptr.spf.test': ['v=spf1 ptr -all'],
    'soft.spf.test': ['v=spf1 ip4:192.0.2.1 ~all'],
    'neutral.spf.test': ['v=spf1 ip4:192.0.2.1 ?all'],
    'default.spf.test': ['v=spf1 ip4:192.0.2.1'],
    'empty.spf.test': ['v=spf1'],
    'split.spf.test': [['v=spf1 ip4:198.51.100.1', ' ip4:192.0.2.0/24', ' -all']],
    'norecord.spf.test': ['google-site-verification=abc', 'v=spf10 ip4:192.0.2.0/24 -all'],
    'nodata.spf.test': ['not an SPF record'],
    'two.spf.test': ['v=spf1 ip4:192.0.2.0/24 -all', 'v=spf1 -all'],
    'badip.spf.test': ['v=spf1 ip4:192.0.2.300 -all'],
    'badcidr.spf.test': ['v=spf1 ip4:192.0.2.0/33 -all'],
    'unknown.spf.test': ['v=spf1 ip4:192.0.2.0/24 foo:bar -all'],
    'badmacro.spf.test': ['v=spf1 ip4:198.51.100.1 a:%{z}.spf.test -all'],
    'limit10.spf.test': [`v=spf1 ${aTerms(10)} -all`],
    'limit11.spf.test': [`v=spf1 ${aTerms(11)} -all`],
    'void2.spf.test': ['v=spf1 a:nx1.spf.test a:nodata.spf.test ip4:192.0.2.0/24 -all'],
    'void3.spf.test': ['v=spf1 a:nx1.spf.test a:nodata.spf.test a:nx3.spf.test ip4:192.0.2.0/24 -all'],
    'mxvoid.spf.test': ['v=spf1 mx ip4:192.0.2.0/24 -all'],
    'ptrvoid.spf.test': ['v=spf1 ptr ip4:192.0.2.0/24 -all'],
    'loop.spf.test': ['v=spf1 include:loop.spf.test -all'],
    'missinginc.spf.test': ['v=spf1 include:missing.spf.test -all'],
    'incnone.spf.test': ['v=spf1 include:nodata.spf.test -all'],
    'incerr.spf.test': ['v=spf1 ip4:198.51.100.1 include:badip.spf.test ip4:192.0.2.0/24 -all'],
    'redirnx.spf.test': ['v=spf1 redirect=missing.spf.test'],
    'exp.spf.test': ['v=spf1 ip4:192.0.2.1 -all exp=explain.spf.test'],
    'explain.spf.test': ["%{i} is not one of %{d}'s designated mail servers (sender %{s})"],
    'badexp.spf.test': ['v=spf1 -all exp=missing.spf.test'],
    'helo.spf.test': ['v=spf1 ip4:192.0.2.99 -all'],
    'upper.spf.test': ['V=SPF1 ip4:192.0.2.0/24 -all'],
  },
  a: {
    'a.spf.test': ['192.0.2.10'],
    'mail.spf.test': ['198.51.100.16'],
    'mx1.spf.test': ['203.0.113.10'],
    'mx2.spf.test': ['203.0.113.20'],
    '55.2.0.192.alice._spf.exists.spf.test': ['127.0.0.2'],
    'host.ptr.spf.test': ['192.0.2.77'],
    'evil.other.test': ['192.0.2.78'],
    'fake.ptr.spf.test': ['192.0.2.80'],
    ...Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`h${i + 1}.spf.test`, [`10.0.0.${i + 1}`]])),
  },
  aaaa: {
    'a.spf.test': ['2001:db8::10'],
    'mail.spf.test': ['2001:db8:5::1'],
    'mx2.spf.test': ['2001:db8:2::20'],
    'host6.ptr.spf.test': ['2001:db8:7::77'],
  },
  mx: {
    'mx.spf.test': [
      { exchange: 'mx1.spf.test', priority: 10 },
      { exchange: 'mx2.spf.test', priority: 20 },
    ],
    // Three exchanges with no address records: one term for RFC 7208, three void lookups for pyspf.
    'mxvoid.spf.test': [
      { exchange: 'nxa1.spf.test', priority: 10 },
      { exchange: 'nxa2.spf.test', priority: 20 },
      { exchange: 'nxa3.spf.test', priority: 30 },
    ],
  },
  ptr: {
    '192.0.2.77': ['host.ptr.spf.test'],
    '192.0.2.78': ['evil.other.test'],
    // Claims a name in ptr.spf.test whose address is another one: not validated (RFC 7208 §5.5).
    '192.0.2.79': ['fake.ptr.spf.test'],
    '2001:db8:7::77': ['host6.ptr.spf.test'],
    // Three names, none with an address: one term for RFC 7208, three void lookups for pyspf.
    '192.0.2.81': ['nxa1.ptrvoid.spf.test', 'nxa2.ptrvoid.spf.test', 'nxa3.ptrvoid.spf.test'],
  },
};

interface SpfCase {
  readonly name: string;
  readonly ip: string;
  readonly sender: string;
  /** Default `client.example.org` (not looked up unless the sender is empty). */
  readonly helo?: string;
  /** Postwire's result, and pyspf's unless {@link pyspf} says otherwise. */
  readonly result: SpfResult;
  /** pyspf's result where it legitimately differs; the comment on the case says why. */
  readonly pyspf?: SpfResult;
  /** The expanded exp= explanation both give on `fail`. */
  readonly explanation?: string;
  /** pyspf's explanation where it differs from {@link explanation}. */
  readonly pyspfExplanation?: string;
}

const CASES: readonly SpfCase[] = [
  { name: 'ip4 CIDR match', ip: '192.0.2.55', sender: 'alice@ip4.spf.test', result: 'pass' },
  { name: 'ip4 CIDR no match, -all', ip: '198.51.100.1', sender: 'alice@ip4.spf.test', result: 'fail' },
  { name: 'ip6 CIDR match', ip: '2001:db8:1::25', sender: 'alice@ip6.spf.test', result: 'pass' },
  { name: 'ip6 CIDR no match', ip: '2001:db8:2::1', sender: 'alice@ip6.spf.test', result: 'fail' },
  { name: 'IPv6 client, ip4-only record', ip: '2001:db8::1', sender: 'alice@ip4.spf.test', result: 'fail' },
  { name: 'IPv4-mapped IPv6 client', ip: '::ffff:192.0.2.55', sender: 'alice@ip4.spf.test', result: 'pass' },
  { name: 'a (the domain itself)', ip: '192.0.2.10', sender: 'alice@a.spf.test', result: 'pass' },
  { name: 'a:name/28', ip: '198.51.100.20', sender: 'alice@a.spf.test', result: 'pass' },
  { name: 'a, IPv6 client (AAAA)', ip: '2001:db8::10', sender: 'alice@a.spf.test', result: 'pass' },
  { name: 'a:name/32//64, IPv6 client', ip: '2001:db8:5::abcd', sender: 'alice@a6.spf.test', result: 'pass' },
  { name: 'a:name/32//64, other IPv6 /64', ip: '2001:db8:6::1', sender: 'alice@a6.spf.test', result: 'fail' },
  { name: 'mx (second exchange)', ip: '203.0.113.20', sender: 'alice@mx.spf.test', result: 'pass' },
  { name: 'mx, IPv6 client', ip: '2001:db8:2::20', sender: 'alice@mx.spf.test', result: 'pass' },
  { name: 'mx no match', ip: '203.0.113.99', sender: 'alice@mx.spf.test', result: 'fail' },
  { name: 'include chain, two deep', ip: '203.0.113.200', sender: 'alice@inc.spf.test', result: 'pass' },
  // An include whose record fails does not match (RFC 7208 §5.2): the outer ~all decides.
  { name: 'include chain, no match', ip: '192.0.2.1', sender: 'alice@inc.spf.test', result: 'softfail' },
  { name: 'redirect, match', ip: '192.0.2.55', sender: 'alice@redir.spf.test', result: 'pass' },
  { name: 'redirect, no match', ip: '198.51.100.1', sender: 'alice@redir.spf.test', result: 'fail' },
  // RFC 7208 §6.1: redirect is ignored when the record has an all.
  { name: 'all before redirect', ip: '192.0.2.55', sender: 'alice@allredir.spf.test', result: 'fail' },
  // exists:%{ir}.%{l1r-}._spf.%{d} → 55.2.0.192.alice._spf.exists.spf.test (RFC 7208 §7.3)
  { name: 'exists with macros', ip: '192.0.2.55', sender: 'alice-news@exists.spf.test', result: 'pass' },
  { name: 'exists, name absent', ip: '192.0.2.55', sender: 'bob@exists.spf.test', result: 'fail' },
  { name: 'ptr, validated name', ip: '192.0.2.77', sender: 'alice@ptr.spf.test', result: 'pass' },
  { name: 'ptr, name in another domain', ip: '192.0.2.78', sender: 'alice@ptr.spf.test', result: 'fail' },
  { name: 'ptr, name not validated', ip: '192.0.2.79', sender: 'alice@ptr.spf.test', result: 'fail' },
  { name: 'ptr, IPv6 client', ip: '2001:db8:7::77', sender: 'alice@ptr.spf.test', result: 'pass' },
  { name: '~all', ip: '198.51.100.1', sender: 'alice@soft.spf.test', result: 'softfail' },
  { name: '?all', ip: '198.51.100.1', sender: 'alice@neutral.spf.test', result: 'neutral' },
  {
    name: 'no all, nothing matches',
    ip: '198.51.100.1',
    sender: 'alice@default.spf.test',
    result: 'neutral',
  },
  { name: 'v=spf1 and nothing else', ip: '198.51.100.1', sender: 'alice@empty.spf.test', result: 'neutral' },
  { name: 'record in three strings', ip: '192.0.2.55', sender: 'alice@split.spf.test', result: 'pass' },
  { name: 'TXT records, none SPF', ip: '192.0.2.55', sender: 'alice@norecord.spf.test', result: 'none' },
  { name: 'domain does not exist', ip: '192.0.2.55', sender: 'alice@nowhere.spf.test', result: 'none' },
  { name: 'two SPF records', ip: '192.0.2.55', sender: 'alice@two.spf.test', result: 'permerror' },
  { name: 'ip4 address out of range', ip: '192.0.2.55', sender: 'alice@badip.spf.test', result: 'permerror' },
  { name: 'ip4 prefix /33', ip: '192.0.2.55', sender: 'alice@badcidr.spf.test', result: 'permerror' },
  // RFC 7208 §4.6: a syntax error anywhere is a permerror, even after a directive that matches.
  {
    name: 'unknown mechanism after a match',
    ip: '192.0.2.55',
    sender: 'alice@unknown.spf.test',
    result: 'permerror',
  },
  { name: 'unknown macro letter', ip: '192.0.2.55', sender: 'alice@badmacro.spf.test', result: 'permerror' },
  { name: '10 DNS-querying terms', ip: '192.0.2.55', sender: 'alice@limit10.spf.test', result: 'fail' },
  { name: '11 DNS-querying terms', ip: '192.0.2.55', sender: 'alice@limit11.spf.test', result: 'permerror' },
  // NXDOMAIN and NODATA are both void lookups (RFC 7208 §4.6.4); two are allowed.
  { name: 'two void lookups', ip: '192.0.2.55', sender: 'alice@void2.spf.test', result: 'pass' },
  { name: 'three void lookups', ip: '192.0.2.55', sender: 'alice@void3.spf.test', result: 'permerror' },
  {
    // RFC 7208 §4.6.4 limits the *terms* whose lookups come back empty: the mx term found MX records,
    // so it is not void, and the address lookups of its exchanges count against the 10-name limit
    // only. pyspf counts every empty lookup, the three exchanges' A lookups too, and gives up.
    // Postwire is right.
    name: 'mx with three exchanges without addresses',
    ip: '192.0.2.55',
    sender: 'alice@mxvoid.spf.test',
    result: 'pass',
    pyspf: 'permerror',
  },
  {
    // The same for ptr: its PTR lookup found names, so the term is not void; pyspf counts the three
    // names' empty A lookups as void lookups. Postwire is right (RFC 7208 §4.6.4, §5.5).
    name: 'ptr with three names without addresses',
    ip: '192.0.2.81',
    sender: 'alice@ptrvoid.spf.test',
    result: 'pass',
    pyspf: 'permerror',
  },
  // An include of itself ends at the 10-lookup limit (RFC 7208 §4.6.4) in both.
  { name: 'include loop', ip: '192.0.2.55', sender: 'alice@loop.spf.test', result: 'permerror' },
  // RFC 7208 §5.2: an include target without a record is a permerror.
  {
    name: 'include of a missing domain',
    ip: '192.0.2.55',
    sender: 'alice@missinginc.spf.test',
    result: 'permerror',
  },
  {
    name: 'include of a domain without SPF',
    ip: '192.0.2.55',
    sender: 'alice@incnone.spf.test',
    result: 'permerror',
  },
  {
    name: 'include of a broken record',
    ip: '192.0.2.55',
    sender: 'alice@incerr.spf.test',
    result: 'permerror',
  },
  // RFC 7208 §6.1: a redirect target without a record is a permerror.
  {
    name: 'redirect to a missing domain',
    ip: '192.0.2.55',
    sender: 'alice@redirnx.spf.test',
    result: 'permerror',
  },
  {
    name: 'exp= explanation',
    ip: '198.51.100.7',
    sender: 'alice@exp.spf.test',
    result: 'fail',
    explanation:
      "198.51.100.7 is not one of exp.spf.test's designated mail servers (sender alice@exp.spf.test)",
  },
  {
    // %{i} of an IPv6 address is its nibbles, dot-separated (RFC 7208 §7.3), in lower case as in
    // the RFC's example (`1.0.b.c.0.0…`). pyspf writes the hex digits in upper case: harmless in a
    // lookup, visible in an explanation. Postwire follows the RFC.
    name: 'exp= explanation, IPv6 client',
    ip: '2001:db8::1',
    sender: 'alice@exp.spf.test',
    result: 'fail',
    explanation: `2.0.0.1.0.d.b.8.${'0.'.repeat(23)}1 is not one of exp.spf.test's designated mail servers (sender alice@exp.spf.test)`,
    pyspfExplanation: `2.0.0.1.0.D.B.8.${'0.'.repeat(23)}1 is not one of exp.spf.test's designated mail servers (sender alice@exp.spf.test)`,
  },
  // An exp= that cannot be fetched is ignored (RFC 7208 §6.2): still fail.
  { name: 'exp= target missing', ip: '198.51.100.7', sender: 'alice@badexp.spf.test', result: 'fail' },
  // RFC 7208 §2.4: an empty MAIL FROM is checked as postmaster@<HELO>.
  {
    name: 'empty sender, HELO identity',
    ip: '192.0.2.99',
    sender: '',
    helo: 'helo.spf.test',
    result: 'pass',
  },
  { name: 'empty sender, HELO fails', ip: '192.0.2.98', sender: '', helo: 'helo.spf.test', result: 'fail' },
  // RFC 7208 §4.5 asks for a version section of "exactly" v=spf1, §12's ABNF literal is case-insensitive.
  { name: 'V=SPF1 in upper case', ip: '192.0.2.55', sender: 'alice@upper.spf.test', result: 'pass' },
  // RFC 7208 §4.3: a sender without a local part is postmaster@domain.
  { name: 'sender without local part', ip: '192.0.2.55', sender: 'ip4.spf.test', result: 'pass' },
];

let dns: DnsServer;
let resolver: DnsResolver;
beforeAll(async () => {
  if (!hasDnsmasq) return;
  dns = await startDnsServer(ZONE);
  resolver = createNodeDnsResolver({ servers: dns.servers, timeout: 2_000, tries: 2 });
});
afterAll(async () => {
  await dns?.stop();
});

describe.skipIf(!hasDnsmasq || !hasPyspf)('SPF: Postwire and pyspf on the same records', () => {
  it.concurrent.for(CASES)('$name', async (spfCase, { expect }) => {
    const { ip, sender, helo = 'client.example.org' } = spfCase;
    const [ours, theirs] = await Promise.all([
      checkSpf({ ip, sender, helo, resolver, receiver: 'receiver.postwire.test' }),
      pyspfCheck({ ip, sender, helo, servers: dns.servers }),
    ]);
    const why = `Postwire: ${ours.reason ?? ours.mechanism ?? ''}; pyspf: ${theirs.explanation}`;
    expect(ours.result, why).toBe(spfCase.result);
    expect(theirs.result, why).toBe(spfCase.pyspf ?? spfCase.result);
    if (spfCase.explanation !== undefined) {
      expect(ours.explanation).toBe(spfCase.explanation);
      expect(theirs.explanation).toBe(spfCase.pyspfExplanation ?? spfCase.explanation);
    }
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DnsRecordType, DnsResolver } from '../../src/dns/resolver.js';
import {
  checkSpf,
  checkSpfHelo,
  defaultSpfLimits,
  type SpfCheckOptions,
  type SpfResult,
} from '../../src/spf/check-host.js';

/** What a zone holds for one name; a name absent from the zone does not exist (NXDOMAIN). */
interface ZoneEntry {
  /** TXT records, each a string or its character-strings. */
  readonly txt?: readonly (string | readonly string[])[];
  readonly a?: readonly string[];
  readonly aaaa?: readonly string[];
  /** [preference, exchange] */
  readonly mx?: readonly (readonly [number, string])[];
  readonly ptr?: readonly string[];
  /** The record types whose lookups time out; `true`: every type. */
  readonly timeout?: true | readonly DnsRecordType[];
}
type Zone = Readonly<Record<string, ZoneEntry>>;

/** An in-memory {@link DnsResolver}: names compared without case or a trailing dot; each query is logged. */
function zoneResolver(zone: Zone, log: string[] = []): DnsResolver {
  const entries = new Map(Object.entries(zone).map(([name, entry]) => [name.toLowerCase(), entry]));
  const answer =
    <T>(type: DnsRecordType, records: (entry: ZoneEntry) => readonly T[] | undefined) =>
    async (name: string): Promise<readonly T[] | null> => {
      log.push(`${type} ${name}`);
      const entry = entries.get(name.toLowerCase().replace(/\.$/, ''));
      if (entry === undefined) return null;
      if (entry.timeout === true || entry.timeout?.includes(type)) {
        throw Object.assign(new Error('query timed out'), { code: 'ETIMEOUT' });
      }
      return records(entry) ?? [];
    };
  return {
    txt: answer('txt', (entry) => entry.txt?.map((text) => (typeof text === 'string' ? [text] : text))),
    a: answer('a', (entry) => entry.a),
    aaaa: answer('aaaa', (entry) => entry.aaaa),
    mx: answer('mx', (entry) => entry.mx?.map(([priority, exchange]) => ({ priority, exchange }))),
    ptr: answer('ptr', (entry) => entry.ptr),
  };
}

const check = (zone: Zone, options: Partial<SpfCheckOptions> & { sender: string; ip: string }) =>
  checkSpf({ helo: 'mail.example.com', resolver: zoneResolver(zone), ...options });

/** A test-suite case: what it shows, MAIL FROM, client address, result, then the HELO name and explanation. */
type SuiteCase = [
  description: string,
  sender: string,
  ip: string,
  result: SpfResult,
  extra?: { helo?: string; explanation?: string | null },
];

/** Runs the cases of one scenario of the RFC 7208 test suite against its zone. */
function scenario(zone: Zone, cases: SuiteCase[]): void {
  it.each(cases)('%s', async (_, sender, ip, result, extra = {}) => {
    const spf = await check(zone, { sender, ip, ...(extra.helo === undefined ? {} : { helo: extra.helo }) });
    expect(spf.result, spf.reason).toBe(result);
    if (extra.explanation !== undefined) expect(spf.explanation).toBe(extra.explanation ?? undefined);
  });
}

const label63 = `a${'1'.repeat(62)}`;

describe('initial processing (RFC 7208 §4.3, §4.5)', () => {
  scenario(
    {
      'example.net': { txt: ['v=spf1 -all exp=exp.example.net'] },
      'exp.example.net': { txt: ['%{l}'] },
      [`${label63}.example.com`]: { txt: ['v=spf1 -all'] },
      'nothosed.example.com': { txt: ['v=spf1 a:example.net -all', '\u0096'] },
      'fine.example.com': { txt: ['v=spf1 a  -all'] },
      'trail.example.com': { txt: ['v=spf1 a -all '] },
      'null.example.com': { txt: [['v=spf1 ip4:', '192.0.2.5 -all'], []] },
      'example.com': { timeout: true },
      '1.2.3.5': { txt: ['v=spf1 +all'] },
    },
    [
      ['a label of 64 characters is none, not a query', `lyme@${label63}1.example.com`, '1.2.3.5', 'none'],
      ['a label of 63 characters is fine', `lyme@${label63}.example.com`, '1.2.3.5', 'fail'],
      ['an empty label is none', 'lyme.eater@A...example.com', '1.2.3.5', 'none'],
      ['dots at the end are empty labels', 'user@example.net....', '1.2.3.5', 'none'],
      ['a HELO name of one label is none', '', '1.2.3.5', 'none', { helo: 'A2345678' }],
      ['a HELO domain literal is none', '', '1.2.3.5', 'none', { helo: '[1.2.3.5]' }],
      ['a HELO address is none', '', '1.2.3.5', 'none', { helo: '1.2.3.5' }],
      ['a sender domain literal is none', 'foo@[1.2.3.5]', '1.2.3.5', 'none'],
      ['no local part is postmaster', '@example.net', '1.2.3.4', 'fail', { explanation: 'postmaster' }],
      ['other TXT records are not read', 'foobar@nothosed.example.com', '1.2.3.4', 'fail'],
      ['terms may be two spaces apart', 'actually@fine.example.com', '1.2.3.4', 'fail'],
      ['a record may end with a space', 'silly@trail.example.com', '192.0.2.5', 'fail'],
      ['strings are joined, null text ignored', 'silly@null.example.com', '192.0.2.5', 'pass'],
    ],
  );

  it('reports the identity checked: postmaster for no local part, a sender without @ as its domain', async () => {
    const zone: Zone = { 'example.net': { txt: ['v=spf1 -all'] } };
    expect(await check(zone, { sender: '@example.net', ip: '192.0.2.1' })).toMatchObject({
      identity: 'mailfrom',
      domain: 'example.net',
      sender: 'postmaster@example.net',
    });
    expect(await check(zone, { sender: 'example.net.', ip: '192.0.2.1' })).toMatchObject({
      result: 'fail',
      domain: 'example.net',
      sender: 'postmaster@example.net',
    });
    expect(await check(zone, { sender: '"a@b"@example.net', ip: '192.0.2.1' })).toMatchObject({
      sender: '"a@b"@example.net',
    });
  });

  it('gives the reason for none', async () => {
    expect(await check({}, { sender: 'a@A..example', ip: '192.0.2.1' })).toEqual({
      result: 'none',
      reason: '"A..example" is not a valid domain name',
      identity: 'mailfrom',
      domain: 'A..example',
      sender: 'a@A..example',
      lookups: 0,
      voidLookups: 0,
    });
    expect((await check({}, { sender: 'a@nowhere.example', ip: '192.0.2.1' })).reason).toBe(
      'no SPF record at nowhere.example',
    );
  });
});

describe('record lookup and selection (RFC 7208 §4.4, §4.5)', () => {
  scenario(
    {
      'both.example.net': { txt: ['v=spf1 -all'] },
      'txttimeout.example.net': { a: ['1.2.3.4'], timeout: ['txt'] },
      'example1.com': { txt: ['v=spf1'] },
      'example2.com': { txt: [['v=spf1', 'mx']] },
      'example3.com': { txt: ['v=spf10', 'v=spf1 mx', 'spf2.0/pra -all'], mx: [[0, 'mail.example1.com']] },
      'mail.example1.com': { a: ['1.2.3.4'] },
      'example5.com': { txt: ['v=spf1 -all', 'v=spf1 +all'] },
      'example6.com': { txt: ['v=spf1 -all', 'V=sPf1 +all'] },
      'example7.com': { txt: ['v=spf1 -all', 'v=spf1 -all'] },
      'example9.com': { txt: ['v=SpF1 ~all'] },
      'example10.com': { txt: ['google-site-verification=abc', 'v=spf1 ip4:1.2.3.4'] },
    },
    [
      ['a TXT record', 'foo@both.example.net', '1.2.3.4', 'fail'],
      ['a TXT lookup that times out is temperror', 'foo@txttimeout.example.net', '1.2.3.4', 'temperror'],
      ['an empty record is neutral', 'foo@example1.com', '1.2.3.4', 'neutral'],
      ['strings are joined without a space: "v=spf1mx"', 'foo@example2.com', '1.2.3.4', 'none'],
      ['v=spf10 and spf2.0 records are skipped', 'foo@example3.com', '1.2.3.4', 'pass'],
      ['a name with no TXT records is none', 'foo@mail.example1.com', '1.2.3.4', 'none'],
      ['a name that does not exist is none', 'foo@nowhere.example1.com', '1.2.3.4', 'none'],
      ['two records are permerror', 'foo@example5.com', '1.2.3.4', 'permerror'],
      ['two records in different case are permerror', 'foo@example6.com', '1.2.3.4', 'permerror'],
      ['two identical records are permerror', 'foo@example7.com', '1.2.3.4', 'permerror'],
      ['v=spf1 in any case', 'foo@example9.com', '1.2.3.4', 'softfail'],
      ['non-SPF TXT records are ignored', 'foo@example10.com', '1.2.3.4', 'pass'],
    ],
  );

  it('gives reasons for temperror and permerror', async () => {
    const zone: Zone = {
      'two.example': { txt: ['v=spf1 -all', 'v=spf1 +all'] },
      'bad.example': { txt: ['v=spf1 ip4:1.2.3 -all'] },
      'down.example': { timeout: true },
    };
    expect((await check(zone, { sender: 'a@two.example', ip: '192.0.2.1' })).reason).toBe(
      '2 SPF records at two.example',
    );
    expect((await check(zone, { sender: 'a@bad.example', ip: '192.0.2.1' })).reason).toBe(
      'invalid SPF record at bad.example: invalid IPv4 address "1.2.3" in "ip4:1.2.3"',
    );
    expect(await check(zone, { sender: 'a@down.example', ip: '192.0.2.1' })).toMatchObject({
      result: 'temperror',
      reason: 'DNS TXT lookup of down.example failed: ETIMEOUT: query timed out',
    });
  });
});

describe('record evaluation (RFC 7208 §4.6, §4.7)', () => {
  scenario(
    {
      'mail.example.com': { a: ['1.2.3.4'] },
      't1.example.com': { txt: ['v=spf1 ip4:1.2.3.4 -all moo'] },
      't2.example.com': { txt: ['v=spf1 moo.cow-far_out=man:dog/cat ip4:1.2.3.4 -all'] },
      't3.example.com': { txt: ['v=spf1 moo.cow/far_out=man:dog/cat ip4:1.2.3.4 -all'] },
      't4.example.com': { txt: ['v=spf1 moo.cow:far_out=man:dog/cat ip4:1.2.3.4 -all'] },
      't5.example.com': { txt: ['v=spf1 redirect=t5.example.com ~all'] },
      't7.example.com': { txt: ['v=spf1 ip4:1.2.3.4'] },
      't8.example.com': { txt: ['v=spf1 ip4:1.2.3.4 redirect:t2.example.com'] },
      't10.example.com': { txt: ['v=spf1 a:mail.example...com -all'] },
      't11.example.com': { txt: [`v=spf1 a:${label63}4.example.com -all`] },
      't12.example.com': { txt: ['v=spf1 a:%{H}.bar -all'] },
    },
    [
      ['a syntax error after the match is still permerror', 'foo@t1.example.com', '1.2.3.4', 'permerror'],
      ['unknown modifiers are ignored', 'foo@t2.example.com', '1.2.3.4', 'pass'],
      ['a modifier name cannot hold "/"', 'foo@t3.example.com', '1.2.3.4', 'permerror'],
      ['a modifier name cannot hold ":"', 'foo@t4.example.com', '1.2.3.4', 'permerror'],
      ['redirect is not used when all is there', 'foo@t5.example.com', '1.2.3.4', 'softfail'],
      ['nothing matched: neutral', 'foo@t7.example.com', '1.2.3.5', 'neutral'],
      ['redirect is a modifier', 'foo@t8.example.com', '1.2.3.4', 'permerror'],
      ['a target with an empty label does not match', 'foo@t10.example.com', '1.2.3.4', 'fail'],
      ['a target with a long label does not match', 'foo@t11.example.com', '1.2.3.4', 'fail'],
      [
        'a long label made by a macro does not match',
        'foo@t12.example.com',
        '1.2.3.4',
        'fail',
        { helo: '%'.repeat(22) },
      ],
    ],
  );

  it('maps each qualifier to its result and reports the directive', async () => {
    const cases: [string, SpfResult, string][] = [
      ['v=spf1 +ip4:192.0.2.0/24', 'pass', 'ip4:192.0.2.0/24'],
      ['v=spf1 ip4:192.0.2.1', 'pass', 'ip4:192.0.2.1'],
      ['v=spf1 -ip6:::/0 -ip4:192.0.2.1', 'fail', '-ip4:192.0.2.1'],
      ['v=spf1 ~all', 'softfail', '~all'],
      ['v=spf1 ?ALL', 'neutral', '?all'],
    ];
    for (const [record, result, mechanism] of cases) {
      const spf = await check(
        { 'example.com': { txt: [record] } },
        { sender: 'a@example.com', ip: '192.0.2.1' },
      );
      expect(spf, record).toEqual({
        result,
        mechanism,
        identity: 'mailfrom',
        domain: 'example.com',
        sender: 'a@example.com',
        lookups: 0,
        voidLookups: 0,
      });
    }
  });

  it('gives neutral with a reason when nothing matched and there is no redirect', async () => {
    const spf = await check(
      { 'example.com': { txt: ['v=spf1 ip4:10.0.0.1'] } },
      { sender: 'a@example.com', ip: '192.0.2.1' },
    );
    expect(spf).toMatchObject({ result: 'neutral', reason: 'no directive of example.com matched' });
    expect(spf.mechanism).toBeUndefined();
  });
});

describe('all (RFC 7208 §5.1)', () => {
  scenario(
    {
      'e1.example.com': { txt: ['v=spf1 -all.'] },
      'e2.example.com': { txt: ['v=spf1 -all:foobar'] },
      'e3.example.com': { txt: ['v=spf1 -all/8'] },
      'e4.example.com': { txt: ['v=spf1 ?all'] },
      'e5.example.com': { txt: ['v=spf1 all -all'] },
    },
    [
      ['all.', 'foo@e1.example.com', '1.2.3.4', 'permerror'],
      ['all with an argument', 'foo@e2.example.com', '1.2.3.4', 'permerror'],
      ['all with a prefix length', 'foo@e3.example.com', '1.2.3.4', 'permerror'],
      ['?all', 'foo@e4.example.com', '1.2.3.4', 'neutral'],
      ['the first all wins', 'foo@e5.example.com', '1.2.3.4', 'pass'],
    ],
  );
});

describe('include (RFC 7208 §5.2)', () => {
  const zone: Zone = {
    'ip5.example.com': { txt: ['v=spf1 ip4:1.2.3.5 -all'] },
    'ip6.example.com': { txt: ['v=spf1 ip4:1.2.3.6 ~all'] },
    'ip7.example.com': { txt: ['v=spf1 ip4:1.2.3.7 ?all'] },
    'ip8.example.com': { timeout: true },
    'erehwon.example.com': { txt: ['v=spfl am not an SPF record'] },
    'e1.example.com': { txt: ['v=spf1 include:ip5.example.com ~all'] },
    'e2.example.com': { txt: ['v=spf1 include:ip6.example.com all'] },
    'e3.example.com': { txt: ['v=spf1 include:ip7.example.com -all'] },
    'e4.example.com': { txt: ['v=spf1 include:ip8.example.com -all'] },
    'e5.example.com': { txt: ['v=spf1 include:e6.example.com -all'] },
    'e6.example.com': { txt: ['v=spf1 include +all'] },
    'e7.example.com': { txt: ['v=spf1 include:erehwon.example.com -all'] },
    'e8.example.com': { txt: ['v=spf1 include: -all'] },
    'e9.example.com': { txt: ['v=spf1 include:ip5.example.com/24 -all'] },
    'e10.example.com': { txt: ['v=spf1 include:%{l}.example.com -all'] },
  };
  scenario(zone, [
    ['inner pass matches', 'foo@e1.example.com', '1.2.3.5', 'pass'],
    ['inner fail does not match', 'foo@e1.example.com', '1.2.3.4', 'softfail'],
    ['inner softfail does not match', 'foo@e2.example.com', '1.2.3.4', 'pass'],
    ['inner neutral does not match', 'foo@e3.example.com', '1.2.3.4', 'fail'],
    ['inner temperror is temperror', 'foo@e4.example.com', '1.2.3.4', 'temperror'],
    ['inner permerror is permerror', 'foo@e5.example.com', '1.2.3.4', 'permerror'],
    ['inner none is permerror', 'foo@e7.example.com', '1.2.3.4', 'permerror'],
    ['include needs a domain-spec', 'foo@e8.example.com', '1.2.3.4', 'permerror'],
    ['include takes no prefix length', 'foo@e9.example.com', '1.2.3.4', 'permerror'],
    ['an invalid target name is permerror', 'a..b@e10.example.com', '1.2.3.4', 'permerror'],
  ]);

  it('reports the include directive, and why an include failed', async () => {
    expect(await check(zone, { sender: 'foo@e1.example.com', ip: '1.2.3.5' })).toMatchObject({
      result: 'pass',
      mechanism: 'include:ip5.example.com',
      lookups: 1,
    });
    expect(await check(zone, { sender: 'foo@e2.example.com', ip: '1.2.3.4' })).toMatchObject({
      mechanism: 'all',
    });
    expect((await check(zone, { sender: 'foo@e7.example.com', ip: '1.2.3.4' })).reason).toBe(
      'include:erehwon.example.com: no SPF record at erehwon.example.com',
    );
  });
});

describe('a (RFC 7208 §5.3)', () => {
  scenario(
    {
      'mail.example.com': { a: ['1.2.3.4'] },
      'e1.example.com': { txt: ['v=spf1 a/0 -all'] },
      'e2.example.com': { a: ['1.1.1.1'], aaaa: ['1234::2'], txt: ['v=spf1 a/0 -all'] },
      'e2a.example.com': { aaaa: ['1234::1'], txt: ['v=spf1 a//0 -all'] },
      'e2b.example.com': { a: ['1.1.1.1'], txt: ['v=spf1 a//0 -all'] },
      'ipv6.example.com': { aaaa: ['1234::1'], a: ['1.1.1.1'], txt: ['v=spf1 a -all'] },
      'e6.example.com': { txt: ['v=spf1 a//33 -all'] },
      'e6a.example.com': { txt: ['v=spf1 a/33 -all'] },
      'e7.example.com': { txt: ['v=spf1 a//129 -all'] },
      'e8.example.com': { a: ['1.2.3.5'], aaaa: ['2001:db8:1234::dead:beef'], txt: ['v=spf1 a/24//64 -all'] },
      'e8e.example.com': { a: ['1.2.3.5'], aaaa: ['2001:db8:1234::dead:beef'], txt: ['v=spf1 a/24/64 -all'] },
      'e8a.example.com': { a: ['1.2.3.5'], aaaa: ['2001:db8:1234::dead:beef'], txt: ['v=spf1 a/24 -all'] },
      'e8b.example.com': { a: ['1.2.3.5'], aaaa: ['2001:db8:1234::dead:beef'], txt: ['v=spf1 a//64 -all'] },
      'e10.example.com': { txt: ['v=spf1 a:foo.example.com/24'] },
      'foo.example.com': { a: ['1.1.1.1', '1.2.3.5'] },
      'e11.example.com': { txt: ['v=spf1 a:foo:bar/baz.example.com'] },
      'foo:bar/baz.example.com': { a: ['1.2.3.4'] },
      'e13.example.com': { txt: ['v=spf1 a:'] },
      'e14.example.com': { txt: ['v=spf1 a:foo.example.xn--zckzah -all'] },
      'foo.example.xn--zckzah': { a: ['1.2.3.4'] },
      'e15.example.com': { txt: ['v=spf1 a:mail.example.com. -all'] },
    },
    [
      ['a//33 is a valid IPv6 length', 'foo@e6.example.com', '1.2.3.4', 'fail'],
      ['a/33 is permerror', 'foo@e6a.example.com', '1.2.3.4', 'permerror'],
      ['a//129 is permerror', 'foo@e7.example.com', '1.2.3.4', 'permerror'],
      ['dual prefix length, IPv4 match', 'foo@e8.example.com', '1.2.3.4', 'pass'],
      ['dual prefix length needs //', 'foo@e8e.example.com', '1.2.3.4', 'permerror'],
      ['dual prefix length, IPv6 match', 'foo@e8.example.com', '2001:db8:1234::cafe:babe', 'pass'],
      ['the IPv4 default is /32', 'foo@e8b.example.com', '1.2.3.4', 'fail'],
      ['the IPv6 default is //128', 'foo@e8a.example.com', '2001:db8:1234::cafe:babe', 'fail'],
      ['any of the addresses matches', 'foo@e10.example.com', '1.2.3.4', 'pass'],
      ['no addresses never match, even /0', 'foo@e1.example.com', '1.2.3.4', 'fail'],
      ['/0 matches any A record', 'foo@e2.example.com', '1.2.3.4', 'pass'],
      ['/0 is not for IPv6 clients', 'foo@e2.example.com', '1234::1', 'fail'],
      ['//0 is not for IPv4 clients', 'foo@e2a.example.com', '1.2.3.4', 'fail'],
      ['//0 is not for IPv4-mapped clients', 'foo@e2a.example.com', '::FFFF:1.2.3.4', 'fail'],
      ['//0 matches any AAAA record', 'foo@e2a.example.com', '1234::1', 'pass'],
      ['//0 needs an AAAA record', 'foo@e2b.example.com', '1234::1', 'fail'],
      ['IPv6 on a dual-stack name', 'foo@ipv6.example.com', '1234::1', 'pass'],
      ['a domain-spec may hold ":" and "/"', 'foo@e11.example.com', '1.2.3.4', 'pass'],
      ['a domain-spec may hold ":" and "/", mapped client', 'foo@e11.example.com', '::ffff:1.2.3.4', 'pass'],
      ['a domain-spec cannot be empty', 'foo@e13.example.com', '1.2.3.4', 'permerror'],
      ['a top label may hold dashes', 'foo@e14.example.com', '1.2.3.4', 'pass'],
      ['a trailing dot is ignored', 'foo@e15.example.com', '1.2.3.4', 'pass'],
    ],
  );

  it('asks for A records for IPv4 and IPv4-mapped clients, AAAA for IPv6 ones', async () => {
    const zone: Zone = { 'example.com': { txt: ['v=spf1 a -all'], a: ['192.0.2.1'] } };
    for (const [ip, query] of [
      ['192.0.2.1', 'a example.com'],
      ['::ffff:192.0.2.1', 'a example.com'],
      ['2001:db8::1', 'aaaa example.com'],
    ] as const) {
      const log: string[] = [];
      await checkSpf({ ip, sender: 'a@example.com', helo: 'h.example', resolver: zoneResolver(zone, log) });
      expect(log).toEqual(['txt example.com', query]);
    }
  });

  it('is temperror when the address lookup fails', async () => {
    const zone: Zone = {
      'example.com': { txt: ['v=spf1 a:down.example.com -all'] },
      'down.example.com': { timeout: ['a'] },
    };
    expect(await check(zone, { sender: 'a@example.com', ip: '192.0.2.1' })).toMatchObject({
      result: 'temperror',
      reason: 'DNS A lookup of down.example.com failed: ETIMEOUT: query timed out',
      lookups: 1,
    });
  });
});

describe('mx (RFC 7208 §5.4)', () => {
  const manyMx = (count: number, last: string) =>
    Array.from({ length: count }, (_, i) => [i, i === count - 1 ? last : 'mail.example.com'] as const);
  scenario(
    {
      'mail.example.com': { a: ['1.2.3.4'], mx: [[0, '']], txt: ['v=spf1 mx'] },
      'e1.example.com': { txt: ['v=spf1 mx/0 -all'], mx: [[0, 'e1.example.com']] },
      'e2.example.com': {
        a: ['1.1.1.1'],
        aaaa: ['1234::2'],
        mx: [[0, 'e2.example.com']],
        txt: ['v=spf1 mx/0 -all'],
      },
      'e2a.example.com': { aaaa: ['1234::1'], mx: [[0, 'e2a.example.com']], txt: ['v=spf1 mx//0 -all'] },
      'e2b.example.com': { a: ['1.1.1.1'], mx: [[0, 'e2b.example.com']], txt: ['v=spf1 mx//0 -all'] },
      'e4.example.com': { txt: ['v=spf1 mx'], a: ['1.2.3.4'] },
      'e6.example.com': { txt: ['v=spf1 mx//33 -all'] },
      'e6a.example.com': { txt: ['v=spf1 mx/33 -all'] },
      'e7.example.com': { txt: ['v=spf1 mx//129 -all'] },
      'e10.example.com': { txt: ['v=spf1 mx:foo.example.com/24'] },
      'foo.example.com': { mx: [[0, 'foo1.example.com.']] },
      'foo1.example.com': { a: ['1.1.1.1', '1.2.3.5'] },
      'e13.example.com': { txt: ['v=spf1 mx: -all'] },
      'ten.example.com': { txt: ['v=spf1 mx'], mx: manyMx(10, 'ten.example.com'), a: ['1.2.3.5'] },
      'eleven.example.com': { txt: ['v=spf1 mx'], mx: manyMx(11, 'eleven.example.com'), a: ['1.2.3.5'] },
      'null.example.com': { txt: ['v=spf1 mx:mail.example.com -all'] },
    },
    [
      ['mx//33 is a valid IPv6 length', 'foo@e6.example.com', '1.2.3.4', 'fail'],
      ['mx/33 is permerror', 'foo@e6a.example.com', '1.2.3.4', 'permerror'],
      ['mx//129 is permerror', 'foo@e7.example.com', '1.2.3.4', 'permerror'],
      ['any address of the MX names matches', 'foo@e10.example.com', '1.2.3.4', 'pass'],
      ['no addresses never match, even /0', 'foo@e1.example.com', '1.2.3.4', 'fail'],
      ['/0 matches any A record of an MX name', 'foo@e2.example.com', '1.2.3.4', 'pass'],
      ['/0 is not for IPv6 clients', 'foo@e2.example.com', '1234::1', 'fail'],
      ['//0 is not for IPv4 clients', 'foo@e2a.example.com', '1.2.3.4', 'fail'],
      ['//0 is not for IPv4-mapped clients', 'foo@e2a.example.com', '::FFFF:1.2.3.4', 'fail'],
      ['//0 matches any AAAA record of an MX name', 'foo@e2a.example.com', '1234::1', 'pass'],
      ['//0 needs an AAAA record', 'foo@e2b.example.com', '1234::1', 'fail'],
      ['a null MX matches nothing', '', '1.2.3.4', 'neutral'],
      ['a null MX, explicit target', 'foo@null.example.com', '1.2.3.4', 'fail'],
      ['no MX records: no implicit MX', 'foo@e4.example.com', '1.2.3.4', 'neutral'],
      ['a domain-spec cannot be empty', 'foo@e13.example.com', '1.2.3.4', 'permerror'],
      ['10 MX names are looked up', 'foo@ten.example.com', '1.2.3.5', 'pass'],
      ['11 MX names are permerror', 'foo@eleven.example.com', '1.2.3.5', 'permerror'],
    ],
  );

  it('looks up each MX name in the client family; one lookup, at most one void', async () => {
    const zone: Zone = {
      'example.com': {
        txt: ['v=spf1 mx -all'],
        mx: [
          [10, 'mx1.example.com'],
          [20, 'mx2.example.com'],
        ],
      },
      'mx2.example.com': { aaaa: ['2001:db8::25'] },
    };
    const log: string[] = [];
    const resolver = zoneResolver(zone, log);
    expect(
      await checkSpf({ ip: '2001:db8::25', sender: 'a@example.com', helo: 'h.example', resolver }),
    ).toMatchObject({
      result: 'pass',
      mechanism: 'mx',
      lookups: 1,
      voidLookups: 0,
    });
    expect(log).toEqual([
      'txt example.com',
      'mx example.com',
      'aaaa mx1.example.com',
      'aaaa mx2.example.com',
    ]);
  });

  it('is temperror when the MX lookup or an address lookup fails', async () => {
    const zone: Zone = {
      'a.example.com': { txt: ['v=spf1 mx -all'], timeout: ['mx'] },
      'b.example.com': { txt: ['v=spf1 mx -all'], mx: [[0, 'down.example.com']] },
      'down.example.com': { timeout: true },
    };
    expect((await check(zone, { sender: 'x@a.example.com', ip: '192.0.2.1' })).result).toBe('temperror');
    expect((await check(zone, { sender: 'x@b.example.com', ip: '192.0.2.1' })).result).toBe('temperror');
  });

  it('gives the reason for too many MX names', async () => {
    const zone: Zone = { 'example.com': { txt: ['v=spf1 mx'], mx: manyMx(3, 'example.com') } };
    const spf = await check(zone, { sender: 'a@example.com', ip: '192.0.2.1', limits: { namesPerTerm: 2 } });
    expect(spf).toMatchObject({ result: 'permerror', reason: 'more than 2 MX names at example.com' });
  });
});

describe('ptr (RFC 7208 §5.5)', () => {
  const ip6Arpa = (nibbles: string) => `${[...nibbles].reverse().join('.')}.ip6.arpa`;
  const zone: Zone = {
    'mail.example.com': { a: ['1.2.3.4'], aaaa: ['2001:db8::1'] },
    'e1.example.com': { txt: ['v=spf1 ptr/0 -all'] },
    'e2.example.com': { txt: ['v=spf1 ptr:example.com -all'] },
    '4.3.2.1.in-addr.arpa': { ptr: ['e3.example.com', 'e4.example.com', 'mail.example.com'] },
    [ip6Arpa('CAFEBABE000000000000000000000001')]: { ptr: ['e3.example.com'] },
    [ip6Arpa('20010db8000000000000000000000001')]: { ptr: ['mail.Example.com'] },
    'e3.example.com': { txt: ['v=spf1 ptr -all'], a: ['1.2.3.4'], aaaa: ['CAFE:BABE::1'] },
    'e4.example.com': { txt: ['v=spf1 ptr -all'] },
    'e5.example.com': { txt: ['v=spf1 ptr:'] },
    'e6.example.com': { txt: ['v=spf1 ptr:example.Com -all'] },
    'loop.example.com': { txt: ['v=spf1 ptr'] },
    '4.2.0.192.in-addr.arpa': { ptr: ['loop4.example.com.'] },
    'loop4.example.com': { timeout: true },
    'timeout.example.com': { txt: ['v=spf1 ptr -all'] },
    '5.2.0.192.in-addr.arpa': { timeout: true },
    'skip.example.com': { txt: ['v=spf1 ptr -all'], a: ['192.0.2.6'] },
    '6.2.0.192.in-addr.arpa': { ptr: ['down.skip.example.com', 'skip.example.com'] },
    'down.skip.example.com': { timeout: true },
  };
  scenario(zone, [
    ['ptr takes no prefix length', 'foo@e1.example.com', '1.2.3.4', 'permerror'],
    ['a validated name in the target domain', 'foo@e2.example.com', '1.2.3.4', 'pass'],
    ['the target is the current domain by default', 'foo@e3.example.com', '1.2.3.4', 'pass'],
    ['a name that does not validate does not match', 'foo@e4.example.com', '1.2.3.4', 'fail'],
    ['IPv6 clients look in ip6.arpa', 'foo@e3.example.com', 'CAFE:BABE::1', 'pass'],
    ['a domain-spec cannot be empty', 'foo@e5.example.com', '1.2.3.4', 'permerror'],
    ['names compare without case', 'bar@e6.example.com', '2001:db8::1', 'pass'],
    ['an address lookup error skips the name', 'postmaster@loop.example.com', '192.0.2.4', 'neutral'],
    ['a PTR lookup error does not match', 'foo@timeout.example.com', '192.0.2.5', 'fail'],
    ['the search goes on after an error', 'foo@skip.example.com', '192.0.2.6', 'pass'],
  ]);

  it('considers only the first 10 PTR names, and validates only those in the target domain', async () => {
    const names = Array.from({ length: 10 }, (_, i) => `host${i}.example.net`);
    const limitZone: Zone = {
      'e5.example.com': { txt: ['v=spf1 ptr'], a: ['1.2.3.5'] },
      '5.3.2.1.in-addr.arpa': { ptr: [...names, 'e5.example.com.'] },
    };
    const log: string[] = [];
    const resolver = zoneResolver(limitZone, log);
    expect(
      await checkSpf({ ip: '1.2.3.5', sender: 'foo@e5.example.com', helo: 'h.example', resolver }),
    ).toMatchObject({ result: 'neutral', lookups: 1, voidLookups: 0 });
    expect(log).toEqual(['txt e5.example.com', 'ptr 5.3.2.1.in-addr.arpa']);
    const spf = await check(limitZone, {
      sender: 'foo@e5.example.com',
      ip: '1.2.3.5',
      limits: { namesPerTerm: 11 },
    });
    expect(spf.result).toBe('pass');
  });

  it('counts a missing PTR record as a void lookup', async () => {
    const spf = await check(
      { 'example.com': { txt: ['v=spf1 ptr -all'] } },
      { sender: 'a@example.com', ip: '192.0.2.9' },
    );
    expect(spf).toMatchObject({ result: 'fail', lookups: 1, voidLookups: 1 });
  });
});

describe('ip4 and ip6 (RFC 7208 §5.6)', () => {
  scenario(
    {
      'e1.example.com': { txt: ['v=spf1 ip4:1.1.1.1/0 -all'] },
      'e2.example.com': { txt: ['v=spf1 ip4:1.2.3.4/32 -all'] },
      'e3.example.com': { txt: ['v=spf1 ip4:1.2.3.4/33 -all'] },
      'e5.example.com': { txt: ['v=spf1 ip4'] },
      'e6.example.com': { txt: ['v=spf1 ip4:1.2.3.4//32'] },
      'e7.example.com': { txt: ['v=spf1 -ip4:1.2.3.4 ip6:::FFFF:1.2.3.4'] },
      'e8.example.com': { txt: ['v=spf1 ip4:1.2.3.4:8080'] },
      'e9.example.com': { txt: ['v=spf1 ip4:1.2.3'] },
      'e10.example.com': { txt: ['v=spf1 ip4:192.0.2.128/25 ~all'] },
      'f1.example.com': { txt: ['v=spf1 -all ip6'] },
      'f2.example.com': { txt: ['v=spf1 ip6:::1.1.1.1/0'] },
      'f3.example.com': { txt: ['v=spf1 ip6:::1.1.1.1/129'] },
      'f4.example.com': { txt: ['v=spf1 ip6:::1.1.1.1//33'] },
      'f5.example.com': { txt: ['v=spf1 ip6:Cafe:Babe:8000::/33'] },
      'f6.example.com': { txt: ['v=spf1 ip6::CAFE::BABE'] },
      'f7.example.com': { txt: ['v=spf1 ip6:2001:db8:f000::/36 ~all'] },
    },
    [
      ['ip4 /0 matches every IPv4 client', 'foo@e1.example.com', '1.2.3.4', 'pass'],
      ['ip4 /32', 'foo@e2.example.com', '1.2.3.4', 'pass'],
      ['ip4 /33 is permerror', 'foo@e3.example.com', '1.2.3.4', 'permerror'],
      ['ip4 needs an address', 'foo@e5.example.com', '1.2.3.4', 'permerror'],
      ['ip4 takes no dual prefix length', 'foo@e6.example.com', '1.2.3.4', 'permerror'],
      ['an IPv4-mapped client is IPv4', 'foo@e7.example.com', '::FFFF:1.2.3.4', 'fail'],
      ['ip4 takes no port', 'foo@e8.example.com', '1.2.3.4', 'permerror'],
      ['ip4 needs four octets', 'foo@e9.example.com', '1.2.3.4', 'permerror'],
      ['ip4 /25 in', 'foo@e10.example.com', '192.0.2.200', 'pass'],
      ['ip4 /25 out', 'foo@e10.example.com', '192.0.2.127', 'softfail'],
      ['ip4 does not match IPv6 clients', 'foo@e10.example.com', '2001:db8::1', 'softfail'],
      ['ip6 needs an address, even after a match', 'foo@f1.example.com', '1.2.3.4', 'permerror'],
      ['ip6 does not match IPv4 clients', 'foo@f2.example.com', '1.2.3.4', 'neutral'],
      ['ip6 does not match IPv4-mapped clients', 'foo@f2.example.com', '::FFFF:1.2.3.4', 'neutral'],
      ['ip6 /0 matches every IPv6 client', 'foo@f2.example.com', 'DEAF:BABE::CAB:FEE', 'pass'],
      ['ip6 /129 is permerror', 'foo@f3.example.com', '1.2.3.4', 'permerror'],
      ['ip6 takes no dual prefix length', 'foo@f4.example.com', '1.2.3.4', 'permerror'],
      ['ip6 /33 is not an IPv4 length', 'foo@f5.example.com', 'CAFE:BABE:8000::', 'pass'],
      ['ip6 /33 does not match IPv4 clients', 'foo@f5.example.com', '1.2.3.4', 'neutral'],
      ['ip6 with a bad address', 'foo@f6.example.com', '1.2.3.4', 'permerror'],
      ['ip6 /36 in', 'foo@f7.example.com', '2001:db8:ffff::1', 'pass'],
      ['ip6 /36 out', 'foo@f7.example.com', '2001:db8:e000::1', 'softfail'],
    ],
  );
});

describe('exists (RFC 7208 §5.7)', () => {
  scenario(
    {
      'mail.example.com': { a: ['1.2.3.4'] },
      'mail6.example.com': { aaaa: ['CAFE:BABE::4'] },
      'err.example.com': { timeout: true },
      'e1.example.com': { txt: ['v=spf1 exists:'] },
      'e2.example.com': { txt: ['v=spf1 exists'] },
      'e3.example.com': { txt: ['v=spf1 exists:mail.example.com/24'] },
      'e4.example.com': { txt: ['v=spf1 exists:mail.example.com'] },
      'e5.example.com': { txt: ['v=spf1 exists:mail6.example.com -all'] },
      'e6.example.com': { txt: ['v=spf1 exists:err.example.com -all'] },
    },
    [
      ['exists needs a domain-spec', 'foo@e1.example.com', '1.2.3.4', 'permerror'],
      ['exists has no implicit domain', 'foo@e2.example.com', '1.2.3.4', 'permerror'],
      ['exists takes no prefix length', 'foo@e3.example.com', '1.2.3.4', 'permerror'],
      ['any A record matches', 'foo@e4.example.com', '1.2.3.4', 'pass'],
      ['the lookup is A for IPv6 clients too', 'foo@e4.example.com', 'CAFE:BABE::3', 'pass'],
      ['AAAA records do not count', 'foo@e5.example.com', 'CAFE:BABE::3', 'fail'],
      ['a DNS error is temperror', 'foo@e6.example.com', 'CAFE:BABE::3', 'temperror'],
    ],
  );
});

describe('redirect and exp (RFC 7208 §6)', () => {
  const zone: Zone = {
    'mail.example.com': { a: ['1.2.3.4'] },
    'e1.example.com': { txt: ['v=spf1 exp=exp1.example.com redirect=e2.example.com'] },
    'e2.example.com': { txt: ['v=spf1 -all'] },
    'e3.example.com': { txt: ['v=spf1 exp=exp1.example.com redirect=e4.example.com'] },
    'e4.example.com': { txt: ['v=spf1 -all exp=exp2.example.com'] },
    'exp1.example.com': { txt: ['No-see-um'] },
    'exp2.example.com': { txt: ['See me.'] },
    'exp3.example.com': { txt: ['Correct!'] },
    'exp4.example.com': { txt: ['%{l} in implementation'] },
    'e5.example.com': { txt: ['v=spf1 1up=foo'] },
    'e6.example.com': { txt: ['v=spf1 =all'] },
    'e7.example.com': { txt: ['v=spf1 include:e3.example.com -all exp=exp3.example.com'] },
    'e8.example.com': { txt: ['v=spf1 -all exp=exp4.example.com'] },
    'e9.example.com': { txt: ['v=spf1 -all foo=%abc'] },
    'e10.example.com': { txt: ['v=spf1 redirect=erehwon.example.com'] },
    'erehwon.example.com': { txt: ['v=spfl am not an SPF record'] },
    'e11.example.com': { txt: ['v=spf1 -all exp=e11msg.example.com'] },
    'e11msg.example.com': { txt: ['Answer a fool according to his folly.', 'Do not answer a fool.'] },
    'e12.example.com': { txt: ['v=spf1 exp= -all'] },
    'e13.example.com': { txt: ['v=spf1 exp=e13msg.example.com -all'] },
    'e13msg.example.com': { txt: ['The %{x}-files.'] },
    'e14.example.com': { txt: ['v=spf1 exp=e13msg.example.com -all exp=e11msg.example.com'] },
    'e15.example.com': { txt: ['v=spf1 redirect=e12.example.com -all redirect=e12.example.com'] },
    'e16.example.com': { txt: ['v=spf1 exp=-all'] },
    'e17.example.com': { txt: ['v=spf1 redirect=-all ?all'] },
    'e18.example.com': { txt: ['v=spf1 ?all redirect='] },
    'e19.example.com': { txt: ['v=spf1 default=pass'] },
    'e21.example.com': { txt: ['v=spf1 exp=e21msg.example.com -all'] },
    'e21msg.example.com': { timeout: true },
    'e22.example.com': { txt: ['v=spf1 exp=mail.example.com -all'] },
    'e23.example.com': { txt: ['v=spf1 a:erehwon.example.com a:foobar.com exp=nxdomain.com -all'] },
    'e24.example.com': { txt: ['v=spf1 redirect=testimplicit.example.com'], a: ['192.0.2.1'] },
    'testimplicit.example.com': { txt: ['v=spf1 a -all'], a: ['192.0.2.2'] },
    'e25.example.com': { txt: ['v=spf1 -all exp=%{r}.example.com'] },
    'e26.example.com': { txt: ['v=spf1 ~all exp=exp2.example.com'] },
    'e27.example.com': { txt: ['v=spf1 redirect=down.example.com'] },
    'down.example.com': { timeout: true },
    'e28.example.com': { txt: ['v=spf1 redirect=a..b.example.com'] },
    'nonascii.example.com': { txt: ['v=spf1 exp=badexp.example.com -all'] },
    'badexp.example.com': { txt: ['\uFEFFExplanation'] },
  };
  scenario(zone, [
    ['a redirect to no record is permerror', 'foo@e10.example.com', '1.2.3.4', 'permerror'],
    [
      'redirect drops the exp of the first record',
      'foo@e1.example.com',
      '1.2.3.4',
      'fail',
      { explanation: null },
    ],
    [
      'redirect uses the exp of its target',
      'foo@e3.example.com',
      '1.2.3.4',
      'fail',
      { explanation: 'See me.' },
    ],
    [
      'include ignores the exp of its target',
      'foo@e7.example.com',
      '1.2.3.4',
      'fail',
      { explanation: 'Correct!' },
    ],
    ['a modifier name starts with a letter', 'foo@e5.example.com', '1.2.3.4', 'permerror'],
    ['a modifier name cannot be empty', 'foo@e6.example.com', '1.2.3.4', 'permerror'],
    [
      'SP in a local part',
      'Macro Error@e8.example.com',
      '1.2.3.4',
      'fail',
      { explanation: 'Macro Error in implementation' },
    ],
    ['an unknown modifier needs valid macros', 'foo@e9.example.com', '1.2.3.4', 'permerror'],
    ['exp with two TXT records is ignored', 'foo@e11.example.com', '1.2.3.4', 'fail', { explanation: null }],
    ['exp= needs a domain-spec', 'foo@e12.example.com', '1.2.3.4', 'permerror'],
    [
      'an explanation with a bad macro is ignored',
      'foo@e13.example.com',
      '1.2.3.4',
      'fail',
      { explanation: null },
    ],
    ['exp twice is permerror', 'foo@e14.example.com', '1.2.3.4', 'permerror'],
    ['redirect twice is permerror', 'foo@e15.example.com', '1.2.3.4', 'permerror'],
    ['exp=-all is permerror', 'foo@e16.example.com', '1.2.3.4', 'permerror'],
    ['redirect=-all is permerror', 'foo@e17.example.com', '1.2.3.4', 'permerror'],
    ['redirect= is permerror', 'foo@e18.example.com', '1.2.3.4', 'permerror'],
    ['default= is just an unknown modifier', 'foo@e19.example.com', '1.2.3.4', 'neutral'],
    ['exp with a DNS error is ignored', 'foo@e21.example.com', '1.2.3.4', 'fail', { explanation: null }],
    ['exp with no TXT record is ignored', 'foo@e22.example.com', '1.2.3.4', 'fail', { explanation: null }],
    [
      'a non-ASCII explanation is ignored',
      'foobar@nonascii.example.com',
      '1.2.3.4',
      'fail',
      { explanation: null },
    ],
    [
      'redirect changes the current domain',
      'bar@e24.example.com',
      '192.0.2.2',
      'pass',
      { helo: 'e24.example.com' },
    ],
    [
      '%{r} in the exp domain-spec is a permerror (openspf exp-only-macro-char)',
      'foo@e25.example.com',
      '1.2.3.4',
      'permerror',
    ],
    ['a redirect to a failing name is temperror', 'foo@e27.example.com', '1.2.3.4', 'temperror'],
    ['a redirect to an invalid name is permerror', 'foo@e28.example.com', '1.2.3.4', 'permerror'],
  ]);

  it('does not count the exp lookup as a lookup or a void lookup', async () => {
    const log: string[] = [];
    const resolver = zoneResolver(zone, log);
    const spf = await checkSpf({ ip: '1.2.3.4', sender: 'foo@e23.example.com', helo: 'h.example', resolver });
    expect(spf).toMatchObject({ result: 'fail', mechanism: '-all', lookups: 2, voidLookups: 2 });
    expect(spf.explanation).toBeUndefined();
    expect(log).toContain('txt nxdomain.com');
  });

  it('fetches the explanation only for fail', async () => {
    const log: string[] = [];
    const spf = await checkSpf({
      ip: '1.2.3.4',
      sender: 'a@e26.example.com',
      helo: 'h.example',
      resolver: zoneResolver(zone, log),
    });
    expect(spf.result).toBe('softfail');
    expect(log).toEqual(['txt e26.example.com']);
  });

  it('counts the redirect as a lookup, and only when no directive matched', async () => {
    const redirects: Zone = {
      'example.com': { txt: ['v=spf1 ip4:192.0.2.1 redirect=_spf.example.com'] },
      '_spf.example.com': { txt: ['v=spf1 ip4:192.0.2.2 -all'] },
      'all.example.com': { txt: ['v=spf1 -all redirect=_spf.example.com'] },
    };
    expect(await check(redirects, { sender: 'a@example.com', ip: '192.0.2.1' })).toMatchObject({
      result: 'pass',
      mechanism: 'ip4:192.0.2.1',
      lookups: 0,
    });
    expect(await check(redirects, { sender: 'a@example.com', ip: '192.0.2.2' })).toMatchObject({
      result: 'pass',
      domain: 'example.com',
      mechanism: 'ip4:192.0.2.2',
      lookups: 1,
    });
    expect(await check(redirects, { sender: 'a@example.com', ip: '192.0.2.3' })).toMatchObject({
      result: 'fail',
      mechanism: '-all',
    });
    expect(await check(redirects, { sender: 'a@all.example.com', ip: '192.0.2.2' })).toMatchObject({
      result: 'fail',
      lookups: 0,
    });
    expect((await check(zone, { sender: 'a@e10.example.com', ip: '1.2.3.4' })).reason).toBe(
      'redirect=erehwon.example.com: no SPF record at erehwon.example.com',
    );
  });

  it('expands c, r and t in explanations', async () => {
    const explained: Zone = {
      'example.com': { txt: ['v=spf1 -all exp=why.%{d}'] },
      'why.example.com': { txt: [['%{c} was refused by %{r} at %{t} ', 'for %{s} (%{h}, %{i}).']] },
    };
    const spf = await check(explained, {
      sender: 'a@example.com',
      ip: '2001:DB8:0:0:0:0:0:1',
      helo: 'h.example',
      receiver: 'mx.example.org',
      now: () => 1_700_000_000_999,
    });
    expect(spf.explanation).toBe(
      '2001:db8::1 was refused by mx.example.org at 1700000000 for a@example.com ' +
        `(h.example, ${[...'20010db8000000000000000000000001'].join('.')}).`,
    );
    const byDefault = await check(explained, { sender: 'a@example.com', ip: '192.0.2.1' });
    expect(byDefault.explanation).toMatch(/^192\.0\.2\.1 was refused by unknown at \d+ for a@example\.com/);
  });
});

describe('macros (RFC 7208 §7)', () => {
  const ip6Arpa = (nibbles: string) => `${[...nibbles].reverse().join('.')}.ip6.arpa`;
  const longO = 'somewhat.long.exp.example.com';
  scenario(
    {
      'example.com.d.spf.example.com': { txt: ['v=spf1 redirect=a.spf.example.com'] },
      'a.spf.example.com': { txt: ['v=spf1 include:o.spf.example.com. ~all'] },
      'o.spf.example.com': { txt: ['v=spf1 ip4:192.168.218.40'] },
      'msgbas2x.cos.example.com': { a: ['192.168.218.40'] },
      'example.com': { a: ['192.168.90.76'], txt: ['v=spf1 redirect=%{d}.d.spf.example.com.'] },
      'exp.example.com': { txt: ['v=spf1 exp=msg.example.com. -all'] },
      'msg.example.com': { txt: ['This is a test.'] },
      'e1.example.com': { txt: ['v=spf1 -exists:%(ir).sbl.example.com ?all'] },
      'e1e.example.com': { txt: ['v=spf1 exists:foo%(ir).sbl.example.com ?all'] },
      'e1t.example.com': { txt: ['v=spf1 exists:foo%.sbl.example.com ?all'] },
      'e1a.example.com': { txt: ['v=spf1 a:macro%%percent%_%_space%-url-space.example.com -all'] },
      'macro%percent  space%20url-space.example.com': { a: ['1.2.3.4'] },
      'e2.example.com': { txt: ['v=spf1 a:%{r}.example.com -all'] },
      'e3.example.com': { txt: ['v=spf1 -all exp=%{ir}.example.com'] },
      '40.218.168.192.example.com': { txt: ['Connections from %{c} not authorized.'] },
      [longO]: { txt: [`v=spf1 -all exp=foobar.${'%{o}.'.repeat(8)}example.com`] },
      [`${`${longO}.`.repeat(8)}example.com`]: { txt: ['Congratulations!  That was tricky.'] },
      'e4.example.com': { txt: ['v=spf1 -all exp=e4msg.example.com'] },
      'e4msg.example.com': { txt: ['%{c} is queried as %{ir}.%{v}.arpa'] },
      'e5.example.com': { txt: ['v=spf1 a:%{a}.example.com -all'] },
      'e6.example.com': { txt: ['v=spf1 -all exp=e6msg.example.com'] },
      'e6msg.example.com': { txt: ['connect from %{p}'] },
      'mx.example.com': { a: ['192.168.218.41', '192.168.218.42'], aaaa: ['CAFE:BABE::2', 'CAFE:BABE::3'] },
      '40.218.168.192.in-addr.arpa': { ptr: ['mx.example.com'] },
      '41.218.168.192.in-addr.arpa': { ptr: ['mx.example.com'] },
      '42.218.168.192.in-addr.arpa': { ptr: ['mx.example.com', 'mx.e7.example.com'] },
      [ip6Arpa('CAFEBABE000000000000000000000001')]: { ptr: ['mx.example.com'] },
      [ip6Arpa('CAFEBABE000000000000000000000003')]: { ptr: ['mx.example.com'] },
      'mx.e7.example.com': { a: ['192.168.218.42'], txt: ['v=spf1 -all exp=e6msg.example.com'] },
      'mx.e7.example.com.should.example.com': { a: ['127.0.0.2'] },
      'mx.example.com.ok.example.com': { a: ['127.0.0.2'] },
      'e7.example.com': { txt: ['v=spf1 exists:%{p}.should.example.com ~exists:%{p}.ok.example.com'] },
      'e7a.example.com': { txt: ['v=spf1 exists:%{p}.ok.example.com ~all'] },
      'e8.example.com': { txt: ['v=spf1 -all exp=msg8.%{D2}'] },
      'msg8.example.com': { txt: ['http://example.com/why.html?l=%{L}'] },
      'e9.example.com': { txt: ['v=spf1 a:%{H} -all'] },
      'e10.example.com': { txt: ['v=spf1 -include:_spfh.%{d2} ip4:1.2.3.0/24 -all'] },
      '_spfh.example.com': { txt: ['v=spf1 -a:%{h} +all'] },
      'mail.example.com': { a: ['1.2.3.4'] },
      'e11.example.com': { txt: ['v=spf1 exists:%{i}.%{l2r-}.user.%{d2}'] },
      '1.2.3.4.gladstone.philip.user.example.com': { a: ['127.0.0.2'] },
      'e12.example.com': { txt: ['v=spf1 exists:%{l2r+-}.user.%{d2}'] },
      'bar.foo.user.example.com': { a: ['127.0.0.2'] },
    },
    [
      ['a trailing dot is ignored for domains', 'test@example.com', '192.168.218.40', 'pass'],
      [
        'a trailing dot is kept in explanations',
        'test@exp.example.com',
        '192.168.218.40',
        'fail',
        { explanation: 'This is a test.' },
      ],
      ['c, r and t are only for explanations', 'test@e2.example.com', '192.168.218.40', 'permerror'],
      ['% then ( is permerror', 'test@e1.example.com', '192.168.218.40', 'permerror'],
      ['% then ( inside a label is permerror', 'test@e1e.example.com', '192.168.218.40', 'permerror'],
      ['% then . is permerror', 'test@e1t.example.com', '192.168.218.40', 'permerror'],
      ['%%, %_ and %- in a domain', 'test@e1a.example.com', '1.2.3.4', 'pass'],
      [
        'c is the dotted quad in explanations',
        'test@e3.example.com',
        '192.168.218.40',
        'fail',
        { explanation: 'Connections from 192.168.218.40 not authorized.' },
      ],
      [
        'names over 253 characters lose labels on the left',
        `test@${longO}`,
        '192.168.218.40',
        'fail',
        { explanation: 'Congratulations!  That was tricky.' },
      ],
      [
        'v is in-addr for IPv4',
        'test@e4.example.com',
        '192.168.218.40',
        'fail',
        { explanation: '192.168.218.40 is queried as 40.218.168.192.in-addr.arpa' },
      ],
      [
        'v is ip6 for IPv6, c is RFC 5952 text',
        'test@e4.example.com',
        'CAFE:BABE::1',
        'fail',
        { explanation: `cafe:babe::1 is queried as ${ip6Arpa('cafebabe000000000000000000000001')}` },
      ],
      [
        'an unknown macro letter is permerror',
        'test@e5.example.com',
        'CAFE:BABE::192.168.218.40',
        'permerror',
      ],
      [
        'p is unknown when the PTR name does not validate',
        'test@e6.example.com',
        '192.168.218.40',
        'fail',
        { explanation: 'connect from unknown' },
      ],
      [
        'p is the validated name',
        'test@e6.example.com',
        '192.168.218.41',
        'fail',
        { explanation: 'connect from mx.example.com' },
      ],
      [
        'p is unknown for IPv6 without validation',
        'test@e6.example.com',
        'CAFE:BABE::1',
        'fail',
        { explanation: 'connect from unknown' },
      ],
      [
        'p is the validated name for IPv6',
        'test@e6.example.com',
        'CAFE:BABE::3',
        'fail',
        { explanation: 'connect from mx.example.com' },
      ],
      [
        'p is unknown with no PTR records',
        'test@e6.example.com',
        '192.168.218.43',
        'fail',
        { explanation: 'connect from unknown' },
      ],
      [
        'p prefers the current domain',
        'test@mx.e7.example.com',
        '192.168.218.42',
        'fail',
        { explanation: 'connect from mx.e7.example.com' },
      ],
      ['p prefers a subdomain of the current domain', 'test@e7.example.com', '192.168.218.42', 'pass'],
      ['p is another validated name otherwise', 'test@e7a.example.com', '192.168.218.41', 'pass'],
      [
        'upper-case macros are URL-escaped',
        '~jack&jill=up-a_b3.c@e8.example.com',
        '192.168.218.42',
        'fail',
        { explanation: 'http://example.com/why.html?l=~jack%26jill%3Dup-a_b3.c' },
      ],
      [
        'h is the HELO name',
        'test@e9.example.com',
        '192.168.218.40',
        'pass',
        { helo: 'msgbas2x.cos.example.com' },
      ],
      [
        'an invalid HELO name matches nothing',
        'test@e9.example.com',
        '192.168.218.40',
        'fail',
        { helo: "JUMPIN' JUPITER" },
      ],
      [
        'a HELO domain literal matches nothing',
        'test@e9.example.com',
        '192.168.218.40',
        'fail',
        { helo: '[192.168.218.40]' },
      ],
      [
        'a policy requiring a valid HELO: invalid',
        'test@e10.example.com',
        '1.2.3.4',
        'fail',
        { helo: 'OEMCOMPUTER' },
      ],
      [
        'a policy requiring a valid HELO: valid',
        'test@e10.example.com',
        '1.2.3.4',
        'pass',
        { helo: 'mail.example.com' },
      ],
      ['split on -, reverse, keep 2', 'philip-gladstone-test@e11.example.com', '1.2.3.4', 'pass'],
      ['several delimiters', 'foo-bar+zip+quux@e12.example.com', '1.2.3.4', 'pass'],
    ],
  );

  it('expands the RFC 7208 §7.4 examples into the names queried', async () => {
    const zone: Zone = {
      'email.example.com': {
        txt: [
          'v=spf1 exists:%{ir}.%{v}._spf.%{d2} exists:%{lr-}.lp._spf.%{d2} exists:%{d2}.trusted-domains.example.net',
        ],
      },
    };
    for (const [ip, name] of [
      ['192.0.2.3', '3.2.0.192.in-addr._spf.example.com'],
      [
        '2001:db8::cb01',
        '1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com',
      ],
    ] as const) {
      const log: string[] = [];
      const resolver = zoneResolver(zone, log);
      const spf = await checkSpf({
        ip,
        sender: 'strong-bad@email.example.com',
        helo: 'mx.example.org',
        resolver,
        limits: { voidLookups: 3 },
      });
      expect(spf).toMatchObject({ result: 'neutral', lookups: 3, voidLookups: 3 });
      expect(log.slice(1)).toEqual([
        `a ${name}`,
        'a bad.strong.lp._spf.example.com',
        'a example.com.trusted-domains.example.net',
      ]);
    }
  });
});

describe('processing limits (RFC 7208 §4.6.4)', () => {
  const zone: Zone = {
    'mail.example.com': { a: ['1.2.3.4'] },
    'e1.example.com': { txt: ['v=spf1 ip4:1.1.1.1 redirect=e1.example.com'], a: ['1.2.3.6'] },
    'e2.example.com': { txt: ['v=spf1 include:e3.example.com'], a: ['1.2.3.7'] },
    'e3.example.com': { txt: ['v=spf1 include:e2.example.com'], a: ['1.2.3.8'] },
    'e6.example.com': {
      txt: ['v=spf1 a mx a mx a mx a mx a ptr ip4:1.2.3.4 -all'],
      a: ['1.2.3.8'],
      mx: [[10, 'e6.example.com']],
    },
    'e7.example.com': {
      txt: ['v=spf1 a mx a mx a mx a mx a ptr a ip4:1.2.3.4 -all'],
      a: ['1.2.3.20'],
      mx: [[10, 'e7.example.com']],
    },
    'e8.example.com': { txt: ['v=spf1 a include:inc.example.com ip4:1.2.3.4 mx -all'], a: ['1.2.3.5'] },
    'inc.example.com': { txt: ['v=spf1 a a a a a a a a'], a: ['1.2.3.10'] },
    'e9.example.com': { txt: ['v=spf1 a include:inc.example.com a ip4:1.2.3.4 -all'], a: ['1.2.3.21'] },
    'e10.example.com': { txt: ['v=spf1 a -all'], a: Array.from({ length: 12 }, (_, i) => `1.2.3.${i + 1}`) },
    'e11.example.com': { txt: ['v=spf1 a:err.example.com a:err1.example.com a:err2.example.com ?all'] },
    'e12.example.com': { txt: ['v=spf1 a:err.example.com a:err1.example.com ?all'] },
    'e13.example.com': { txt: ['v=spf1 a:err.example.com include:void.example.com ?all'] },
    'void.example.com': { txt: ['v=spf1 a:err1.example.com a:err2.example.com'] },
    'e14.example.com': { txt: ['v=spf1 mx:nomx.example.com exists:err.example.com ptr ?all'] },
    'nomx.example.com': { a: ['1.2.3.4'] },
  };
  scenario(zone, [
    ['a redirect loop ends at the lookup limit', 'foo@e1.example.com', '1.2.3.4', 'permerror'],
    ['an include loop ends at the lookup limit', 'foo@e2.example.com', '1.2.3.4', 'permerror'],
    ['10 lookups are allowed', 'foo@e6.example.com', '1.2.3.4', 'pass'],
    ['the 11th lookup is permerror', 'foo@e7.example.com', '1.2.3.4', 'permerror'],
    ['lookups in an include count: 10', 'foo@e8.example.com', '1.2.3.4', 'pass'],
    ['lookups in an include count: 11', 'foo@e9.example.com', '1.2.3.4', 'permerror'],
    ['there is no limit on A records', 'foo@e10.example.com', '1.2.3.12', 'pass'],
    ['2 void lookups are allowed', 'foo@e12.example.com', '1.2.3.4', 'neutral'],
    ['the 3rd void lookup is permerror', 'foo@e11.example.com', '1.2.3.4', 'permerror'],
    ['void lookups in an include count', 'foo@e13.example.com', '1.2.3.4', 'permerror'],
    ['mx, exists and ptr lookups can be void', 'foo@e14.example.com', '1.2.3.4', 'permerror'],
  ]);

  it('reports the lookups and the reason', async () => {
    expect(await check(zone, { sender: 'foo@e7.example.com', ip: '1.2.3.4' })).toMatchObject({
      result: 'permerror',
      reason: 'more than 10 DNS-querying terms',
      lookups: 10,
      voidLookups: 1,
    });
    expect(await check(zone, { sender: 'foo@e8.example.com', ip: '1.2.3.4' })).toMatchObject({
      result: 'pass',
      lookups: 10,
    });
    expect(await check(zone, { sender: 'foo@e11.example.com', ip: '1.2.3.4' })).toMatchObject({
      result: 'permerror',
      reason: 'more than 2 void DNS lookups',
      lookups: 3,
      voidLookups: 3,
    });
  });

  it('takes other limits', async () => {
    expect(defaultSpfLimits).toEqual({ lookups: 10, voidLookups: 2, namesPerTerm: 10 });
    expect(Object.isFrozen(defaultSpfLimits)).toBe(true);
    const limited = (sender: string, limits: SpfCheckOptions['limits']) =>
      check(zone, { sender, ip: '1.2.3.4', limits }).then((spf) => spf.result);
    expect(await limited('foo@e8.example.com', { lookups: 9 })).toBe('permerror');
    expect(await limited('foo@e12.example.com', { voidLookups: 1 })).toBe('permerror');
    expect(await limited('foo@e11.example.com', { voidLookups: 3 })).toBe('neutral');
    expect(await limited('foo@e11.example.com', { lookups: undefined })).toBe('permerror');
  });
});

describe('test cases from implementation bugs', () => {
  scenario(
    {
      'example.org': {
        txt: ['v=spf1 mx redirect=_spf.example.com'],
        mx: [
          [10, 'smtp.example.org'],
          [10, 'smtp1.example.com'],
        ],
      },
      'smtp.example.org': { a: ['198.51.100.2'], aaaa: ['2001:db8:ff0:100::3'] },
      'smtp1.example.com': { a: ['192.0.2.26'], aaaa: ['2001:db8:ff0:200::2'] },
      [`${[...'20010db80ff001000000000000000002'].reverse().join('.')}.ip6.arpa`]: {
        ptr: ['smtp6-v.fe.example.org'],
      },
      'smtp6-v.fe.example.org': { aaaa: ['2001:db8:ff0:100::2'] },
      '_spf.example.com': {
        txt: ['v=spf1 ptr:fe.example.org ptr:sgp.example.com exp=_expspf.example.org -all'],
      },
    },
    [
      [
        'mx, then redirect to ptr',
        'test@example.org',
        '2001:db8:ff0:100::2',
        'pass',
        { helo: 'example.org' },
      ],
    ],
  );
});

describe('checkSpf and checkSpfHelo', () => {
  const zone: Zone = {
    'example.com': { txt: ['v=spf1 ip4:192.0.2.0/24 -all'] },
    'mail.example.org': { txt: ['v=spf1 a -all'], a: ['198.51.100.7'] },
  };

  it('checks the HELO identity when the sender is empty', async () => {
    expect(await check(zone, { sender: '', ip: '198.51.100.7', helo: 'mail.example.org' })).toEqual({
      result: 'pass',
      mechanism: 'a',
      identity: 'helo',
      domain: 'mail.example.org',
      sender: 'postmaster@mail.example.org',
      lookups: 1,
      voidLookups: 0,
    });
  });

  it('checks the HELO identity alone', async () => {
    const spf = await checkSpfHelo({
      ip: '192.0.2.1',
      helo: 'mail.example.org',
      resolver: zoneResolver(zone),
    });
    expect(spf).toMatchObject({ result: 'fail', identity: 'helo', sender: 'postmaster@mail.example.org' });
  });

  it('gives permerror for a client address that is not one, without a lookup', async () => {
    const log: string[] = [];
    for (const ip of ['', '192.0.2.256', '2001:db8::1%eth0', 'mail.example.com']) {
      const spf = await checkSpf({
        ip,
        sender: 'a@example.com',
        helo: 'h.example',
        resolver: zoneResolver(zone, log),
      });
      expect(spf).toEqual({
        result: 'permerror',
        reason: `the client address "${ip}" is not an IP address`,
        identity: 'mailfrom',
        domain: 'example.com',
        sender: 'a@example.com',
        lookups: 0,
        voidLookups: 0,
      });
    }
    expect(log).toEqual([]);
  });

  it('never rejects, even when the resolver answers nonsense', async () => {
    const resolver: DnsResolver = {
      ...zoneResolver({ 'example.com': { txt: ['v=spf1 mx a -all'] } }),
      mx: async () => [null as never],
    };
    const spf = await checkSpf({ ip: '192.0.2.1', sender: 'a@example.com', helo: 'h.example', resolver });
    expect(spf.result).toBe('temperror');
    expect(spf.reason).toMatch(/^the check failed: /);
    const throwing = { ...resolver, mx: () => Promise.reject('gone') };
    expect(
      await checkSpf({ ip: '192.0.2.1', sender: 'a@example.com', helo: 'h', resolver: throwing }),
    ).toMatchObject({
      result: 'temperror',
      reason: 'DNS MX lookup of example.com failed: gone',
    });
    const clock = () => {
      throw 'no clock';
    };
    const explained: Zone = {
      'example.com': { txt: ['v=spf1 -all exp=e.example.com'] },
      'e.example.com': { txt: ['%{t}'] },
    };
    expect(await check(explained, { sender: 'a@example.com', ip: '192.0.2.1', now: clock })).toMatchObject({
      result: 'temperror',
      reason: 'the check failed: no clock',
    });
  });
});

describe('check_host() properties', () => {
  const name = fc.constantFrom(
    'example.com',
    'a.example.com',
    'b.example.com',
    'nx.example.com',
    'down.example.com',
  );
  const term = fc.oneof(
    fc.constantFrom(
      'all',
      '-all',
      '~all',
      '?all',
      'a',
      'mx',
      'ptr',
      'a/24',
      'mx//64',
      'ip4:192.0.2.0/24',
      'ip6:2001:db8::/32',
    ),
    fc
      .tuple(
        fc.constantFrom('include:', 'a:', 'mx:', 'ptr:', 'exists:', 'redirect=', 'exp=', '-include:'),
        name,
      )
      .map((parts) => parts.join('')),
    fc.constantFrom(
      'exists:%{ir}.%{v}.%{d}',
      'a:%{p}.example.com',
      'exp=%{l}.%{d}',
      'x=%{s}',
      '%{d}',
      'ip4:1',
      '%',
    ),
    fc.string({ maxLength: 12 }),
  );
  const record = fc
    .tuple(fc.constantFrom('v=spf1', 'V=SPF1', 'v=spf1 ', 'spf2.0', ''), fc.array(term, { maxLength: 8 }))
    .map(([version, terms]) => [version, ...terms].join(' '));
  const zone = fc.record({ main: record, a: record, b: record, exp: fc.string({ maxLength: 20 }) }).map(
    (texts): Zone => ({
      'example.com': { txt: [texts.main], a: ['192.0.2.1'], mx: [[0, 'a.example.com']] },
      'a.example.com': { txt: [texts.a, texts.exp], aaaa: ['2001:db8::1'] },
      'b.example.com': { txt: [texts.b], ptr: ['example.com'] },
      '1.2.0.192.in-addr.arpa': { ptr: ['example.com', 'a.example.com'] },
      'down.example.com': { timeout: true },
    }),
  );
  const results: readonly SpfResult[] = [
    'pass',
    'fail',
    'softfail',
    'neutral',
    'none',
    'temperror',
    'permerror',
  ];

  it('resolves every record to one of the seven results', async () => {
    await fc.assert(
      fc.asyncProperty(
        zone,
        fc.constantFrom('192.0.2.1', '2001:db8::1', '::ffff:192.0.2.1'),
        async (records, ip) => {
          const spf = await check(records, { sender: 'user@example.com', ip });
          expect(results).toContain(spf.result);
          expect(spf.lookups).toBeLessThanOrEqual(10);
          if (spf.result === 'pass' || spf.result === 'fail' || spf.result === 'softfail') {
            expect(spf.mechanism).toBeDefined();
          } else if (spf.mechanism === undefined) {
            expect(spf.reason).toBeDefined();
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

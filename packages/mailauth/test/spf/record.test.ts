import { describe, expect, it } from 'vitest';
import { parseDomainSpec, type SpfMacroToken } from '../../src/spf/macro.js';
import { formatSpfRecord, isSpfRecord, parseSpfRecord, type SpfRecord } from '../../src/spf/record.js';

const parse = (text: string): SpfRecord => {
  const parsed = parseSpfRecord(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.record;
};
const reasonOf = (text: string) => {
  const parsed = parseSpfRecord(text);
  return parsed.ok ? undefined : parsed.reason;
};
const spec = (text: string): readonly SpfMacroToken[] => {
  const parsed = parseDomainSpec(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.tokens;
};
const mechanismOf = (term: string) => {
  const [first] = parse(`v=spf1 ${term}`).terms;
  return first?.type === 'directive' ? first.mechanism : first;
};

describe('isSpfRecord', () => {
  it('wants v=spf1, in any case, followed by SP or the end (RFC 7208 §4.5)', () => {
    expect(isSpfRecord('v=spf1')).toBe(true);
    expect(isSpfRecord('V=SPF1 -all')).toBe(true);
    expect(isSpfRecord('v=spf10 -all')).toBe(false);
    expect(isSpfRecord(' v=spf1 -all')).toBe(false);
    expect(isSpfRecord('v=spf1\t-all')).toBe(false);
    expect(isSpfRecord('spf2.0/pra -all')).toBe(false);
  });
});

describe('parseSpfRecord', () => {
  it('reads a record with every mechanism, qualifiers and modifiers', () => {
    const record = parse(
      'v=spf1 a mx/24 ~a:mail.example.com//64 ?mx:%{d}/26//120 ptr -ptr:example.org ' +
        '+ip4:192.0.2.0/24 ip6:2001:db8::/32 include:_spf.example.net exists:%{ir}.%{v}._spf.%{d2} ' +
        'redirect=_spf.example.com exp=explain.%{d} x-note=%{s}:hi -all',
    );
    expect(record.terms).toEqual([
      { type: 'directive', qualifier: '+', mechanism: { kind: 'a' } },
      { type: 'directive', qualifier: '+', mechanism: { kind: 'mx', ip4PrefixLength: 24 } },
      {
        type: 'directive',
        qualifier: '~',
        mechanism: { kind: 'a', domainSpec: spec('mail.example.com'), ip6PrefixLength: 64 },
      },
      {
        type: 'directive',
        qualifier: '?',
        mechanism: { kind: 'mx', domainSpec: spec('%{d}'), ip4PrefixLength: 26, ip6PrefixLength: 120 },
      },
      { type: 'directive', qualifier: '+', mechanism: { kind: 'ptr' } },
      { type: 'directive', qualifier: '-', mechanism: { kind: 'ptr', domainSpec: spec('example.org') } },
      {
        type: 'directive',
        qualifier: '+',
        mechanism: { kind: 'ip4', address: '192.0.2.0', prefixLength: 24 },
      },
      {
        type: 'directive',
        qualifier: '+',
        mechanism: { kind: 'ip6', address: '2001:db8::', prefixLength: 32 },
      },
      {
        type: 'directive',
        qualifier: '+',
        mechanism: { kind: 'include', domainSpec: spec('_spf.example.net') },
      },
      {
        type: 'directive',
        qualifier: '+',
        mechanism: { kind: 'exists', domainSpec: spec('%{ir}.%{v}._spf.%{d2}') },
      },
      { type: 'modifier', name: 'redirect', value: spec('_spf.example.com') },
      { type: 'modifier', name: 'exp', value: spec('explain.%{d}') },
      {
        type: 'modifier',
        name: 'x-note',
        value: [
          { kind: 'macro', letter: 's', urlEscape: false, reverse: false, delimiters: '' },
          { kind: 'literal', text: ':hi' },
        ],
      },
      { type: 'directive', qualifier: '-', mechanism: { kind: 'all' } },
    ]);
    expect(record.redirect).toEqual(spec('_spf.example.com'));
    expect(record.explanation).toEqual(spec('explain.%{d}'));
  });

  it('reads an empty record, extra spaces and upper-case names', () => {
    expect(parse('v=spf1')).toEqual({ terms: [] });
    expect(parse('v=spf1   ')).toEqual({ terms: [] });
    expect(parse('V=Spf1  MX   -ALL  ').terms).toEqual([
      { type: 'directive', qualifier: '+', mechanism: { kind: 'mx' } },
      { type: 'directive', qualifier: '-', mechanism: { kind: 'all' } },
    ]);
    expect(parse('v=spf1 Redirect=example.com').redirect).toEqual(spec('example.com'));
  });

  it('reads a= and other unknown modifiers named like mechanisms', () => {
    expect(parse('v=spf1 a=b').terms).toEqual([
      { type: 'modifier', name: 'a', value: [{ kind: 'literal', text: 'b' }] },
    ]);
    expect(parse('v=spf1 x= y.z=').terms).toHaveLength(2);
  });

  it('reads the address forms of RFC 4291 §2.2 and prefix lengths at their limits', () => {
    for (const address of [
      '::',
      '::1',
      '1::',
      '2001:db8:0:0:1:0:0:1',
      '2001:DB8::8:800:200C:417A',
      '1:2:3:4:5:6:7::',
      '::1:2:3:4:5:6:7',
      '::ffff:192.0.2.1',
      '1:2:3:4:5:6:192.0.2.1',
      '64:ff9b::192.0.2.33',
    ]) {
      expect(mechanismOf(`ip6:${address}`), address).toEqual({ kind: 'ip6', address });
    }
    expect(mechanismOf('ip4:0.0.0.0/0')).toEqual({ kind: 'ip4', address: '0.0.0.0', prefixLength: 0 });
    expect(mechanismOf('ip4:255.255.255.255/32')).toMatchObject({ prefixLength: 32 });
    expect(mechanismOf('ip6:::/128')).toEqual({ kind: 'ip6', address: '::', prefixLength: 128 });
    expect(mechanismOf('a/0//0')).toEqual({ kind: 'a', ip4PrefixLength: 0, ip6PrefixLength: 0 });
  });

  it('gives a reason for each malformed record', () => {
    const cases: [string, string][] = [
      ['', 'not an SPF record'],
      ['v=spf1x', 'not an SPF record'],
      ['v=spf1 -all -all', ''],
      ['v=spf1 foo', 'unknown mechanism "foo" in "foo"'],
      ['v=spf1 -a1', 'unknown mechanism "a1" in "-a1"'],
      ['v=spf1 +', 'invalid term in "+"'],
      ['v=spf1 :x', 'invalid term in ":x"'],
      ['v=spf1 all:x', 'invalid term in "all:x"'],
      ['v=spf1 all/24', 'invalid term in "all/24"'],
      ['v=spf1 a;b', 'invalid term in "a;b"'],
      ['v=spf1 ptr/24', 'invalid term in "ptr/24"'],
      ['v=spf1 include', 'missing domain-spec after "include" in "include"'],
      ['v=spf1 exists=x', ''],
      ['v=spf1 exists', 'missing domain-spec after "exists" in "exists"'],
      ['v=spf1 include:', 'empty domain-spec in "include:"'],
      ['v=spf1 include:com', 'invalid domain-spec "com" in "include:com"'],
      ['v=spf1 a:example.123', 'invalid domain-spec "example.123" in "a:example.123"'],
      ['v=spf1 a:example.com/024', 'invalid domain-spec "example.com/024" in "a:example.com/024"'],
      ['v=spf1 a/33', 'invalid prefix length "/33" in "a/33"'],
      ['v=spf1 mx//129', 'invalid prefix length "//129" in "mx//129"'],
      ['v=spf1 a/', 'invalid term in "a/"'],
      ['v=spf1 ip4', 'missing address after "ip4" in "ip4"'],
      ['v=spf1 ip6', 'missing address after "ip6" in "ip6"'],
      ['v=spf1 ip4:192.0.2.1/33', 'invalid prefix length "/33" in "ip4:192.0.2.1/33"'],
      ['v=spf1 ip6:::1/129', 'invalid prefix length "/129" in "ip6:::1/129"'],
      ['v=spf1 ip4:192.0.2.1/', 'invalid IPv4 address "192.0.2.1/" in "ip4:192.0.2.1/"'],
      ['v=spf1 ip4:192.0.2.1//8', 'invalid IPv4 address "192.0.2.1//8" in "ip4:192.0.2.1//8"'],
      ['v=spf1 ip4:192.0.2.1/08', 'invalid IPv4 address "192.0.2.1/08" in "ip4:192.0.2.1/08"'],
      ['v=spf1 ip4:192.0.2', 'invalid IPv4 address "192.0.2" in "ip4:192.0.2"'],
      ['v=spf1 ip4:192.0.2.256', 'invalid IPv4 address "192.0.2.256" in "ip4:192.0.2.256"'],
      ['v=spf1 ip4:192.0.2.01', 'invalid IPv4 address "192.0.2.01" in "ip4:192.0.2.01"'],
      ['v=spf1 ip4:2001:db8::1', 'invalid IPv4 address "2001:db8::1" in "ip4:2001:db8::1"'],
      ['v=spf1 redirect=a.com redirect=b.com', 'duplicate modifier "redirect"'],
      ['v=spf1 exp=a.com EXP=b.com', 'duplicate modifier "exp"'],
      ['v=spf1 redirect=%{x}', 'invalid macro "%{x}" in "redirect=%{x}"'],
      ['v=spf1 exp=com', 'invalid domain-spec "com" in "exp=com"'],
      ['v=spf1 x-unknown=%z', 'invalid macro "%z" in "x-unknown=%z"'],
      ['v=spf1 a:%{d0}.com', 'zero digit transformer in macro "%{d0}" in "a:%{d0}.com"'],
      ['v=spf1 -all\t', 'invalid term in "-all\t"'],
    ];
    for (const [text, reason] of cases) {
      if (reason === '') expect(reasonOf(text), text).toBeUndefined();
      else expect(reasonOf(text), text).toBe(reason);
    }
  });

  it('rejects malformed IPv6 addresses', () => {
    for (const address of [
      '',
      ':',
      ':::',
      '1:::2',
      '1::2::3',
      ':1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:',
      '1:2:3:4:5:6:7',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4::5:6:7:8',
      '12345::',
      'g::',
      '1.2.3.4::',
      '::1.2.3',
      '::1.2.3.4:5',
      '1:2:3:4:5:6:7:1.2.3.4',
      '::256.0.0.1',
    ]) {
      expect(reasonOf(`v=spf1 ip6:${address}`), address).toBe(
        `invalid IPv6 address "${address}" in "ip6:${address}"`,
      );
    }
  });
});

describe('formatSpfRecord', () => {
  it('writes v=spf1 and the terms, omitting "+"', () => {
    const text = 'v=spf1 +a:Example.COM/24//64 ~ip4:192.0.2.0/24 ?include:%{d}.x exp=e.%{d} -all';
    expect(formatSpfRecord(parse(text))).toBe(
      'v=spf1 a:Example.COM/24//64 ~ip4:192.0.2.0/24 ?include:%{d}.x exp=e.%{d} -all',
    );
    expect(formatSpfRecord(parse('v=spf1'))).toBe('v=spf1');
  });
});

import { InvalidArgumentError } from '@postwire/core';
import { describe, expect, it } from 'vitest';
import {
  type Address,
  formatAddress,
  type Mailbox,
  parseAddressList,
  toAsciiDomain,
  toUnicodeDomain,
} from '../../src/address/index.js';

function mailboxes(addresses: Address[]): Mailbox[] {
  return addresses.flatMap((address) => ('group' in address ? address.members : [address]));
}

describe('security catalogue (address parser)', () => {
  it('case 32: a quoted local part holding an address keeps the real domain, and nested comments nest', () => {
    const quoted = parseAddressList('"attacker@evil.com x"@internal.domain');
    expect(quoted.addresses).toEqual([
      {
        name: '',
        address: '"attacker@evil.com x"@internal.domain',
        local: 'attacker@evil.com x',
        domain: 'internal.domain',
      },
    ]);
    const nested = parseAddressList('a@b (x (y) c@evil)');
    expect(nested.addresses).toEqual([{ name: 'x (y) c@evil', address: 'a@b', local: 'a', domain: 'b' }]);
    expect(nested.defects).toEqual([]);
    expect(mailboxes(parseAddressList('a@b (x (y) <c@evil>), d@e').addresses).map((m) => m.address)).toEqual([
      'a@b',
      'd@e',
    ]);
  });

  // Two From fields, ` From:`, `From :` and `From\r\n :` are the message parser's concern; these are the
  // field bodies of the espoofer cases.
  it('case 33: two bracketed mailboxes are both exposed', () => {
    expect(parseAddressList('<a@x>, <b@y>')).toEqual({
      addresses: [
        { name: '', address: 'a@x', local: 'a', domain: 'x' },
        { name: '', address: 'b@y', local: 'b', domain: 'y' },
      ],
      defects: [],
    });
  });

  it('case 33: an encoded word that decodes to an address is a display name at most', () => {
    const result = parseAddressList('=?utf-8?B?PGFkbWluQGxlZ2l0aW1hdGUuY29tPg==?=,<s@attack.com>');
    expect(result.addresses).toEqual([
      { name: '<admin@legitimate.com>', address: '' },
      { name: '', address: 's@attack.com', local: 's', domain: 'attack.com' },
    ]);
    expect(result.defects).toContain('encoded-address-in-name');
    const named = parseAddressList('=?utf-8?B?PGFkbWluQGxlZ2l0aW1hdGUuY29tPg==?= <s@attack.com>');
    expect(mailboxes(named.addresses)).toEqual([
      { name: '<admin@legitimate.com>', address: 's@attack.com', local: 's', domain: 'attack.com' },
    ]);
    expect(named.defects).toEqual(['encoded-address-in-name']);
  });

  it('case 33: encoded words are never decoded inside an addr-spec', () => {
    const result = parseAddressList('<=?utf-8?B?YWRtaW4=?=@legitimate.com>, =?utf-8?q?admin?=@x.com');
    expect(mailboxes(result.addresses).map((m) => m.address)).toEqual([
      '=?utf-8?B?YWRtaW4=?=@legitimate.com',
      '=?utf-8?q?admin?=@x.com',
    ]);
  });

  it('case 33: an obsolete route is dropped and flagged', () => {
    expect(parseAddressList('<@attack.com,@any.com:admin@legitimate.com>')).toEqual({
      addresses: [{ name: '', address: 'admin@legitimate.com', local: 'admin', domain: 'legitimate.com' }],
      defects: ['obsolete-route'],
    });
  });

  it('case 33: a backslash before the comma is flagged, and both mailboxes are exposed', () => {
    expect(parseAddressList('<admin@legitimate.com>\\,<s@attack.com>')).toEqual({
      addresses: [
        { name: '', address: 'admin@legitimate.com', local: 'admin', domain: 'legitimate.com' },
        { name: '', address: 's@attack.com', local: 's', domain: 'attack.com' },
      ],
      defects: ['ambiguous-address'],
    });
  });

  it('case 33: an unquoted addr-spec before a bracketed address is flagged, and the bracketed one is the address', () => {
    // Readers that take the first addr-spec see admin@legitimate.com; this used to pass without a defect.
    expect(parseAddressList('admin@legitimate.com <s@attack.com>')).toEqual({
      addresses: [
        { name: 'admin@legitimate.com', address: 's@attack.com', local: 's', domain: 'attack.com' },
      ],
      defects: ['ambiguous-address'],
    });
    // Quoted, the phrase is well-formed RFC 5322 and carries no defect.
    expect(parseAddressList('"admin@legitimate.com" <s@attack.com>').defects).toEqual([]);
  });

  it('case 33: an addr-spec after a bracketed address is flagged and exposed as a mailbox of its own', () => {
    expect(parseAddressList('<any@attack.com>admin@legitimate.com')).toEqual({
      addresses: [
        { name: '', address: 'any@attack.com', local: 'any', domain: 'attack.com' },
        { name: '', address: 'admin@legitimate.com', local: 'admin', domain: 'legitimate.com' },
      ],
      defects: ['ambiguous-address'],
    });
    expect(parseAddressList('<a@x><b@y>')).toEqual({
      addresses: [
        { name: '', address: 'a@x', local: 'a', domain: 'x' },
        { name: '', address: 'b@y', local: 'b', domain: 'y' },
      ],
      defects: ['ambiguous-address'],
    });
    expect(parseAddressList('a@x b@y').defects).toEqual(['ambiguous-address']);
    expect(parseAddressList('a@x trailing').addresses).toEqual([
      { name: 'trailing', address: 'a@x', local: 'a', domain: 'x' },
    ]);
  });

  it('case 34: 1.5 MB of comment-joined atoms, in linear time', () => {
    const atoms = 'a(b)'.repeat(375_000);
    const result = parseAddressList(atoms);
    expect(result.addresses).toHaveLength(1);
    expect(result.defects).toEqual(['missing-address']);
    const dotted = parseAddressList(`${'a(b).'.repeat(300_000)}a@x`);
    expect(mailboxes(dotted.addresses)[0]?.domain).toBe('x');
    expect(mailboxes(dotted.addresses)[0]?.local).toHaveLength(600_001);
  });

  it('case 34: a 273 KB run without @, in linear time', () => {
    const run = 'a'.repeat(273_000);
    expect(parseAddressList(run).addresses).toEqual([{ name: '', address: run, local: run }]);
    expect(parseAddressList(`Name <${run}`).defects).toEqual(['unclosed-angle-bracket', 'missing-domain']);
    expect(parseAddressList(`"${'\\a'.repeat(136_000)}`).defects).toEqual([
      'unclosed-quoted-string',
      'missing-address',
    ]);
    expect(parseAddressList('@'.repeat(273_000)).addresses).toHaveLength(273_000);
    expect(parseAddressList('.'.repeat(273_000)).addresses).toHaveLength(1);
    expect(parseAddressList('<'.repeat(273_000)).defects).toEqual([
      'nested-angle-bracket',
      'unclosed-angle-bracket',
      'empty-address',
    ]);
  });

  it('case 34: 10k nested parentheses hit the depth cap', () => {
    const open = parseAddressList(`${'('.repeat(10_000)}a@b`);
    expect(open.addresses).toEqual([]);
    expect(open.defects).toEqual(['limit-maxStructureDepth', 'unclosed-comment']);
    const balanced = parseAddressList(`${'('.repeat(10_000)}x${')'.repeat(10_000)} a@b`);
    expect(balanced.addresses).toEqual([{ name: '', address: 'a@b', local: 'a', domain: 'b' }]);
    expect(balanced.defects).toEqual(['limit-maxStructureDepth']);
    const shallow = parseAddressList('a@b (1 (2 (3) 2) 1)', { maxStructureDepth: 2 });
    expect(shallow.addresses).toEqual([{ name: '', address: 'a@b', local: 'a', domain: 'b' }]);
    expect(shallow.defects).toEqual(['limit-maxStructureDepth']);
    expect(parseAddressList('a@b (1 (2 (3) 2) 1)', { maxStructureDepth: 3 }).defects).toEqual([]);
  });

  it('case 34: 100k addresses in one field, in linear time', () => {
    const value = Array.from({ length: 100_000 }, (_, i) => `User ${i} <u${i}@example.com>`).join(',\r\n ');
    const result = parseAddressList(value);
    expect(result.addresses).toHaveLength(100_000);
    expect(result.addresses[99_999]).toEqual({
      name: 'User 99999',
      address: 'u99999@example.com',
      local: 'u99999',
      domain: 'example.com',
    });
    expect(result.defects).toEqual([]);
  });

  it('case 35: IDN with a Cyrillic а keeps the domain as written and maps as WHATWG does', () => {
    const result = parseAddressList('user@p\u0430ypal.com');
    expect(result.addresses).toEqual([
      { name: '', address: 'user@p\u0430ypal.com', local: 'user', domain: 'p\u0430ypal.com' },
    ]);
    expect(result.defects).toEqual([]);
    expect(toAsciiDomain('p\u0430ypal.com')).toBe('xn--pypal-4ve.com');
    expect(toAsciiDomain('p\u0430ypal.com')).not.toBe('paypal.com');
    expect(toUnicodeDomain('xn--pypal-4ve.com')).toBe('p\u0430ypal.com');
    expect(formatAddress({ name: '', address: 'user@p\u0430ypal.com' })).toBe('user@xn--pypal-4ve.com');
  });

  it('case 35: IDN with the ideographic full stop is flagged, and maps to a dot as WHATWG does', () => {
    const result = parseAddressList('user@example\u3002com');
    expect(mailboxes(result.addresses)[0]?.domain).toBe('example\u3002com');
    expect(result.defects).toEqual(['idn-mapped-dot']);
    expect(toAsciiDomain('example\u3002com')).toBe('example.com');
    expect(formatAddress({ name: '', address: 'user@b\u00fccher\u3002de' })).toBe('user@xn--bcher-kva.de');
    expect(formatAddress({ name: '', address: 'user@b\u00fccher\u3002de' }, { smtputf8: true })).toBe(
      'user@b\u00fccher.de',
    );
  });

  it('case 35: IDN with a ZWJ outside its allowed context is refused', () => {
    const result = parseAddressList('user@a\u200db.com');
    expect(result.defects).toEqual(['invalid-idn']);
    expect(() => toAsciiDomain('a\u200db.com')).toThrow(InvalidArgumentError);
    expect(() => formatAddress({ name: '', address: 'user@a\u200db.com' })).toThrow(InvalidArgumentError);
    expect(() => formatAddress({ name: '', address: 'user@a\u200db.com' }, { smtputf8: true })).toThrow(
      InvalidArgumentError,
    );
    // After a virama, a ZWJ is allowed (RFC 5892 CONTEXTJ), as in WHATWG.
    expect(toAsciiDomain('\u0915\u094d\u200d\u0937.com')).toBe('xn--11b2ezcw70k.com');
  });
});

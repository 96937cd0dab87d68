import { InvalidArgumentError } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Address, parseAddressList, parseMailbox } from '../../src/address/index.js';

function addresses(value: string): Address[] {
  return parseAddressList(value).addresses;
}

function defects(value: string): string[] {
  return parseAddressList(value).defects;
}

describe('parseAddressList', () => {
  it('reads name-addr and bare addr-spec mailboxes', () => {
    expect(addresses('John Doe <jdoe@machine.example>, mary@x.test\r\n')).toEqual([
      { name: 'John Doe', address: 'jdoe@machine.example', local: 'jdoe', domain: 'machine.example' },
      { name: '', address: 'mary@x.test', local: 'mary', domain: 'x.test' },
    ]);
  });

  it('stops at the end of the field: a line break not followed by whitespace', () => {
    expect(addresses('a@x,\r\n b@y\r\nc@z')).toHaveLength(2);
    expect(addresses('a@x\n\nb@y')).toHaveLength(1);
    expect(addresses('a@x\rb@y')).toHaveLength(1);
    expect(addresses('a@x,\r\n\t b@y')).toHaveLength(2);
  });

  it('keeps quoted local parts quoted in the address only where needed', () => {
    expect(addresses('"john doe"@example.com')).toEqual([
      { name: '', address: '"john doe"@example.com', local: 'john doe', domain: 'example.com' },
    ]);
    expect(addresses('"john"@example.com')[0]).toMatchObject({ address: 'john@example.com', local: 'john' });
    expect(addresses('"a\\"b\\\\c"@x')[0]).toMatchObject({ address: '"a\\"b\\\\c"@x', local: 'a"b\\c' });
  });

  it('reads quoted-pairs and folded quoted strings in names', () => {
    expect(addresses('"Giant; \\"Big\\" Box" <s@x>')[0]).toMatchObject({ name: 'Giant; "Big" Box' });
    expect(addresses('"John\r\n Doe" <a@b.com>')[0]).toMatchObject({ name: 'John Doe' });
    expect(addresses('"  spaced  " <a@b>')[0]).toMatchObject({ name: '  spaced  ' });
  });

  it('reads domain literals', () => {
    expect(addresses('a@[1.2.3.4], <b@[IPv6:::1]>')).toEqual([
      { name: '', address: 'a@[1.2.3.4]', local: 'a', domain: '[1.2.3.4]' },
      { name: '', address: 'b@[IPv6:::1]', local: 'b', domain: '[IPv6:::1]' },
    ]);
    expect(defects('a@[1.2.3.4')).toContain('unclosed-domain-literal');
    expect(defects('a@x.[1.2.3.4]')).toContain('invalid-domain');
  });

  it('reads groups, empty groups and mixed lists in order', () => {
    expect(addresses('undisclosed-recipients:;')).toEqual([{ group: 'undisclosed-recipients', members: [] }]);
    expect(addresses('a@x, Team: b@y, "C" <c@z>; d@w')).toEqual([
      { name: '', address: 'a@x', local: 'a', domain: 'x' },
      {
        group: 'Team',
        members: [
          { name: '', address: 'b@y', local: 'b', domain: 'y' },
          { name: 'C', address: 'c@z', local: 'c', domain: 'z' },
        ],
      },
      { name: '', address: 'd@w', local: 'd', domain: 'w' },
    ]);
  });

  it('flags malformed groups', () => {
    expect(defects('Team: a@x')).toEqual(['unclosed-group']);
    expect(defects('a@x; b@y')).toEqual(['unexpected-semicolon']);
    const nested = parseAddressList('A: B: c@d;;');
    expect(nested.addresses).toEqual([
      { group: 'A', members: [{ name: '', address: 'c@d', local: 'c', domain: 'd' }] },
    ]);
    expect(nested.defects).toEqual(['nested-group', 'unexpected-semicolon']);
    expect(addresses('(Team) : a@x;')).toEqual([
      { group: 'Team', members: [{ name: '', address: 'a@x', local: 'a', domain: 'x' }] },
    ]);
  });

  it('takes comments as the name when there is no display name, else as the comment', () => {
    expect(addresses('jdoe@example.org (John Doe)')[0]).toMatchObject({
      name: 'John Doe',
      address: 'jdoe@example.org',
    });
    expect(addresses('Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>')[0]).toEqual({
      name: 'Pete',
      comment: 'A nice ) chap his account his host',
      address: 'pete@silly.test',
      local: 'pete',
      domain: 'silly.test',
    });
    expect(addresses('a@x, (only a comment)')[1]).toEqual({ name: 'only a comment', address: '' });
    expect(addresses('(Empty)(list) Team:;')[0]).toEqual({
      group: 'Team',
      comment: 'Empty list',
      members: [],
    });
  });

  it('flags unclosed comments and quoted strings, running them to the end of the field', () => {
    expect(parseAddressList('a@x (never closed, b@y')).toEqual({
      addresses: [{ name: 'never closed, b@y', address: 'a@x', local: 'a', domain: 'x' }],
      defects: ['unclosed-comment'],
    });
    expect(parseAddressList('"never closed <a@x>')).toEqual({
      addresses: [{ name: 'never closed <a@x>', address: '' }],
      defects: ['unclosed-quoted-string', 'missing-address'],
    });
    expect(defects('a@x) b')).toContain('unbalanced-bracket');
  });

  it('reads the obsolete syntax of RFC 5322 §4.4', () => {
    expect(parseAddressList('<@a.test,@b.test:user@c.test>')).toEqual({
      addresses: [{ name: '', address: 'user@c.test', local: 'user', domain: 'c.test' }],
      defects: ['obsolete-route'],
    });
    expect(parseAddressList('john . (middle) doe @ example . com')).toEqual({
      addresses: [
        { name: 'middle', address: 'john.doe@example.com', local: 'john.doe', domain: 'example.com' },
      ],
      defects: ['obsolete-local-part', 'obsolete-domain'],
    });
    expect(parseAddressList('"a".b@c')).toEqual({
      addresses: [{ name: '', address: 'a.b@c', local: 'a.b', domain: 'c' }],
      defects: ['obsolete-local-part'],
    });
    expect(parseAddressList('Joe Q. Public <john.q.public@example.com>').addresses[0]).toMatchObject({
      name: 'Joe Q. Public',
    });
    expect(parseAddressList('a@b,,, ,c@d')).toEqual({
      addresses: [
        { name: '', address: 'a@b', local: 'a', domain: 'b' },
        { name: '', address: 'c@d', local: 'c', domain: 'd' },
      ],
      defects: [],
    });
  });

  it('keeps invalid dotted local parts as written and flags them', () => {
    expect(parseAddressList('a..b.@docomo.ne.jp')).toEqual({
      addresses: [{ name: '', address: 'a..b.@docomo.ne.jp', local: 'a..b.', domain: 'docomo.ne.jp' }],
      defects: ['invalid-local-part'],
    });
  });

  it('reads missing angle brackets and local-only addresses', () => {
    expect(parseAddressList('John Doe john@x.com')).toEqual({
      addresses: [{ name: 'John Doe', address: 'john@x.com', local: 'john', domain: 'x.com' }],
      defects: ['missing-angle-brackets'],
    });
    expect(parseAddressList('<postmaster>, root')).toEqual({
      addresses: [
        { name: '', address: 'postmaster', local: 'postmaster' },
        { name: '', address: 'root', local: 'root' },
      ],
      defects: ['missing-domain'],
    });
    expect(parseAddressList('"quoted only", John Doe')).toEqual({
      addresses: [
        { name: 'quoted only', address: '' },
        { name: 'John Doe', address: '' },
      ],
      defects: ['missing-address'],
    });
    expect(parseAddressList('<"odd local">').addresses[0]).toEqual({
      name: '',
      address: '"odd local"',
      local: 'odd local',
    });
  });

  it('keeps bracketed text that is no addr-spec as written', () => {
    expect(parseAddressList('<http://x.test/a b>, <mailto:l@x.test?subject=hi>')).toEqual({
      addresses: [
        { name: '', address: 'http://x.test/a b' },
        { name: '', address: 'mailto:l@x.test?subject=hi' },
      ],
      defects: ['invalid-address'],
    });
    expect(parseAddressList('<>').addresses).toEqual([{ name: '', address: '' }]);
    expect(defects('<>')).toEqual(['empty-address']);
    expect(defects('<@a.test>')).toEqual(['invalid-address']);
    expect(parseAddressList('a@, @b').addresses).toEqual([
      { name: '', address: 'a@' },
      { name: '', address: '@b' },
    ]);
  });

  it('reads names after the address and flags stray brackets', () => {
    expect(parseAddressList('<a@b.com> Doe')).toEqual({
      addresses: [{ name: 'Doe', address: 'a@b.com', local: 'a', domain: 'b.com' }],
      defects: ['name-after-address'],
    });
    expect(addresses('John <a@b.com> Doe')[0]).toMatchObject({ name: 'John Doe' });
    expect(defects('a@b>')).toEqual(['unexpected-angle-bracket']);
    expect(parseAddressList('<a<b@c>')).toEqual({
      addresses: [{ name: '', address: 'ab@c', local: 'ab', domain: 'c' }],
      defects: ['nested-angle-bracket', 'invalid-local-part'],
    });
    expect(defects('<a@b>: c')).toContain('unexpected-colon');
    expect(parseAddressList('a@b> (note), (c) <x<y@z> (d), e@f')).toEqual({
      addresses: [
        { name: 'note', address: 'a@b', local: 'a', domain: 'b' },
        { name: 'c d', address: 'xy@z', local: 'xy', domain: 'z' },
        { name: '', address: 'e@f', local: 'e', domain: 'f' },
      ],
      defects: ['unexpected-angle-bracket', 'nested-angle-bracket', 'invalid-local-part'],
    });
    expect(parseAddressList('N <a@b (c)').addresses).toEqual([
      { name: 'N', comment: 'c', address: 'a@b', local: 'a', domain: 'b' },
    ]);
    expect(parseAddressList('<a@b>> x').addresses[0]).toMatchObject({ name: 'x', address: 'a@b' });
    expect(parseAddressList('<a@b, c@d')).toEqual({
      addresses: [
        { name: '', address: 'a@b', local: 'a', domain: 'b' },
        { name: '', address: 'c@d', local: 'c', domain: 'd' },
      ],
      defects: ['unclosed-angle-bracket'],
    });
  });

  it('reads UTF-8 local parts, domains and names (RFC 6532)', () => {
    expect(addresses('Jürgen <jürgen@bücher.de>')).toEqual([
      { name: 'Jürgen', address: 'jürgen@bücher.de', local: 'jürgen', domain: 'bücher.de' },
    ]);
    expect(defects('Jürgen <jürgen@bücher.de>')).toEqual([]);
  });

  it('flags control characters but keeps them', () => {
    expect(parseAddressList('a\u0000b@x')).toEqual({
      addresses: [{ name: '', address: 'a\u0000b@x', local: 'a\u0000b', domain: 'x' }],
      defects: ['control-character'],
    });
  });

  it('decodes encoded words in names and comments, never in an addr-spec', () => {
    expect(addresses('=?utf-8?q?J=C3=BCrgen?= <=?utf-8?q?x?=@example.com> (=?utf-8?q?c=C3=A9?=)')).toEqual([
      {
        name: 'Jürgen',
        comment: 'cé',
        address: '=?utf-8?q?x?=@example.com',
        local: '=?utf-8?q?x?=',
        domain: 'example.com',
      },
    ]);
    expect(addresses('=?utf-8?q?a?= =?utf-8?q?b?= <a@b>')[0]).toMatchObject({ name: 'ab' });
  });

  it('refuses invalid limits', () => {
    expect(() => parseAddressList('a@b', { maxStructureDepth: 0 })).toThrow(InvalidArgumentError);
    expect(() => parseAddressList('a@b', { maxEncodedWords: 1.5 })).toThrow(InvalidArgumentError);
  });

  it('stops decoding encoded words past maxEncodedWords', () => {
    const value = Array.from({ length: 5 }, (_, i) => `=?utf-8?q?n${i}?= <a${i}@x>`).join(', ');
    const result = parseAddressList(value, { maxEncodedWords: 2 });
    expect(result.addresses.map((a) => ('name' in a ? a.name : ''))).toEqual([
      'n0',
      'n1',
      '=?utf-8?q?n2?=',
      '=?utf-8?q?n3?=',
      '=?utf-8?q?n4?=',
    ]);
    expect(result.defects).toContain('limit-maxEncodedWords');
  });

  it('is the same for any folding of its whitespace', () => {
    const value = 'A Group (x) : Ed Jones <c@a.test> , joe@where.test ; "B" <b@y> (note) , m@n';
    const expected = parseAddressList(value);
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(' ', '\r\n ', '\n\t', ' \r\n  '), { minLength: 40, maxLength: 40 }),
        (folds) => {
          let i = 0;
          const folded = value.replace(/ /g, () => folds[i++ % folds.length]!);
          expect(parseAddressList(folded)).toEqual(expected);
        },
      ),
    );
  });

  it('never throws and keeps addresses well-formed for any input', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'ab@.,;:<>()"\\[] \r\n\t=?é\u0000'.split('')), maxLength: 60 }),
        (value) => {
          const result = parseAddressList(value);
          for (const address of result.addresses) {
            for (const mailbox of 'group' in address ? address.members : [address]) {
              expect(typeof mailbox.name).toBe('string');
              expect(mailbox.address).not.toMatch(/[\r\n]/);
              if (mailbox.domain !== undefined)
                expect(mailbox.address.endsWith(`@${mailbox.domain}`)).toBe(true);
            }
          }
          expect(new Set(result.defects).size).toBe(result.defects.length);
        },
      ),
    );
  });
});

describe('parseMailbox', () => {
  it('returns the one mailbox', () => {
    expect(parseMailbox('Sender <s@x>\r\n')).toEqual({
      mailbox: { name: 'Sender', address: 's@x', local: 's', domain: 'x' },
      defects: [],
    });
  });

  it('flags more than one mailbox and groups', () => {
    expect(parseMailbox('a@x, b@y')).toEqual({
      mailbox: { name: '', address: 'a@x', local: 'a', domain: 'x' },
      defects: ['multiple-mailboxes'],
    });
    expect(parseMailbox('G: a@x;')).toEqual({
      mailbox: { name: '', address: 'a@x', local: 'a', domain: 'x' },
      defects: ['unexpected-group'],
    });
    expect(parseMailbox('')).toEqual({ mailbox: null, defects: [] });
  });
});

describe('decodeEncodedWords: false', () => {
  it('keeps encoded words in display names as written, and still reads the addresses', () => {
    const value = '=?utf-8?Q?J=C3=BCrgen?= <j@example.com>, "=?utf-8?B?w4RybmU=?=" <a@example.org>';
    expect(parseAddressList(value, { decodeEncodedWords: false }).addresses).toEqual([
      expect.objectContaining({ name: '=?utf-8?Q?J=C3=BCrgen?=', address: 'j@example.com' }),
      expect.objectContaining({ name: '=?utf-8?B?w4RybmU=?=', address: 'a@example.org' }),
    ]);
    expect(parseAddressList(value).addresses[0]).toMatchObject({ name: 'Jürgen' });
  });
});

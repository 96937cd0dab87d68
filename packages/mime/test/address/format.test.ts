import { InvalidArgumentError } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Address,
  formatAddress,
  formatAddressList,
  formatAddrSpec,
  type Group,
  type Mailbox,
  parseAddressList,
  toAsciiDomain,
} from '../../src/address/index.js';

/** A header line break not followed by folding whitespace: what an injection needs (case 30). */
const INJECTION = /\r\n[^ \t]|\r[^ \n\t]|\n[^ \t]/;

describe('formatAddress', () => {
  it('writes a bare addr-spec without a name, and name <addr-spec> with one', () => {
    expect(formatAddress({ name: '', address: 'a@example.com' })).toBe('a@example.com');
    expect(formatAddress({ name: 'John Doe', address: 'jdoe@example.com' })).toBe(
      'John Doe <jdoe@example.com>',
    );
  });

  it('quotes display names only when they hold specials or odd spacing', () => {
    expect(formatAddress({ name: 'Joe Q. Public', address: 'j@x' })).toBe('"Joe Q. Public" <j@x>');
    expect(formatAddress({ name: 'Giant; "Big" \\Box', address: 'g@x' })).toBe(
      '"Giant; \\"Big\\" \\\\Box" <g@x>',
    );
    expect(formatAddress({ name: ' padded', address: 'p@x' })).toBe('" padded" <p@x>');
    expect(formatAddress({ name: "O'Brien-Smith", address: 'o@x' })).toBe("O'Brien-Smith <o@x>");
  });

  it('quotes local parts only where needed and reads quoted addresses', () => {
    expect(formatAddress({ name: '', address: '"john doe"@example.com' })).toBe('"john doe"@example.com');
    expect(formatAddress({ name: '', address: '"john"@example.com' })).toBe('john@example.com');
    expect(formatAddress({ name: '', address: '"a".b@x' })).toBe('a.b@x');
    expect(formatAddress({ name: '', address: '"a..b"@x' })).toBe('"a..b"@x');
    expect(formatAddrSpec('a"b', 'x')).toBe('"a\\"b"@x');
    expect(formatAddress({ name: '', address: 'a@[1.2.3.4]' })).toBe('a@[1.2.3.4]');
  });

  it('refuses what is not an addr-spec', () => {
    for (const address of [
      '',
      'a b@c',
      'a@',
      '@b',
      'ab',
      'a@b..c',
      'a@.b',
      'a@[x\\]y]',
      'a@b@c',
      'a@(c)b',
      '<a@b>',
      '"a@b',
    ]) {
      expect(() => formatAddress({ name: '', address }), address).toThrow(InvalidArgumentError);
    }
  });

  it('encodes non-ASCII names unless SMTPUTF8, and keeps them raw with it', () => {
    const encoded = formatAddress({ name: 'Jürgen Müller', address: 'j@x' });
    expect(encoded).toMatch(/^[\x20-\x7e]+$/);
    expect(encoded).toContain('=?');
    expect(parseAddressList(encoded).addresses).toEqual([
      { name: 'Jürgen Müller', address: 'j@x', local: 'j', domain: 'x' },
    ]);
    expect(formatAddress({ name: 'Jürgen Müller', address: 'j@x' }, { smtputf8: true })).toBe(
      'Jürgen Müller <j@x>',
    );
    expect(formatAddress({ name: 'Müller, Jürgen', address: 'j@x' }, { smtputf8: true })).toBe(
      '"Müller, Jürgen" <j@x>',
    );
  });

  it('encodes names that look like encoded words, so that they read back as written', () => {
    const name = '=?utf-8?q?a=0D=0ABcc:_x?=';
    const formatted = formatAddress({ name, address: 'a@x' });
    expect(formatted).not.toMatch(INJECTION);
    expect(parseAddressList(formatted).addresses[0]).toMatchObject({ name, address: 'a@x' });
  });

  it('allows non-ASCII local parts only with SMTPUTF8', () => {
    expect(() => formatAddress({ name: '', address: 'jürgen@x' })).toThrow(InvalidArgumentError);
    expect(formatAddress({ name: '', address: 'jürgen@x' }, { smtputf8: true })).toBe('jürgen@x');
  });

  it('converts IDN domains to A-labels unless SMTPUTF8', () => {
    expect(formatAddress({ name: '', address: 'a@bücher.de' })).toBe('a@xn--bcher-kva.de');
    expect(formatAddress({ name: '', address: 'a@Bücher.de' }, { smtputf8: true })).toBe('a@bücher.de');
    expect(formatAddress({ name: '', address: 'a@xn--bcher-kva.de' }, { smtputf8: true })).toBe(
      'a@xn--bcher-kva.de',
    );
  });

  it('case 30: refuses CR, LF and other control characters in names and addresses', () => {
    for (const name of [
      'x\r\nBcc: v@x',
      'a\rb',
      'a\nb',
      'a\u0000b',
      'a\tb',
      'a\u007fb',
      'a\u0085b',
      'a\u2028b',
      'a\ud800b',
    ]) {
      expect(() => formatAddress({ name, address: 'a@x' }), JSON.stringify(name)).toThrow(
        InvalidArgumentError,
      );
      expect(() => formatAddress({ group: name, members: [] }), JSON.stringify(name)).toThrow(
        InvalidArgumentError,
      );
    }
    for (const address of ['a@x\r\nBcc: v@x', '"a\r\nb"@x', 'a@x\n', '"a\u0000"@x']) {
      expect(() => formatAddress({ name: 'n', address }), JSON.stringify(address)).toThrow(
        InvalidArgumentError,
      );
    }
  });

  it('formats groups', () => {
    expect(formatAddress({ group: 'undisclosed-recipients', members: [] })).toBe('undisclosed-recipients:;');
    expect(
      formatAddress({
        group: 'The Team',
        members: [
          { name: 'A', address: 'a@x' },
          { name: '', address: 'b@y' },
        ],
      }),
    ).toBe('The Team: A <a@x>, b@y;');
    expect(() => formatAddress({ group: '', members: [] })).toThrow(InvalidArgumentError);
    expect(() => formatAddress({ group: 'G', members: [{ name: 'n', address: '' }] })).toThrow(
      InvalidArgumentError,
    );
  });

  it('formats lists', () => {
    expect(formatAddressList([])).toBe('');
    expect(
      formatAddressList([
        { name: 'A', address: 'a@x' },
        { group: 'G', members: [] },
      ]),
    ).toBe('A <a@x>, G:;');
  });
});

const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
const ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~".split('');
const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(0x20 + i));

const names = fc
  .oneof(
    fc.string({ unit: 'binary', maxLength: 30 }),
    fc.string({ unit: fc.constantFrom(...[...'ab é😀 (),.;:"\\=?_<>@[]']), maxLength: 30 }),
  )
  .filter((name) => !FORBIDDEN.test(name));
const dotAtom = fc
  .array(fc.string({ unit: fc.constantFrom(...ATEXT), minLength: 1, maxLength: 8 }), {
    minLength: 1,
    maxLength: 3,
  })
  .map((atoms) => atoms.join('.'));
const asciiLocal = fc.oneof(
  dotAtom,
  fc.string({ unit: fc.constantFrom(...PRINTABLE), minLength: 1, maxLength: 12 }),
);
const utf8Local = fc.oneof(asciiLocal, fc.constantFrom('jürgen', 'δοκιμή', '用户', 'über.straße', 'a b é'));
const label = fc.oneof(
  fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?$/).filter((l) => l.slice(2, 4) !== '--'),
  fc.constantFrom('bücher', 'münchen', 'пример', '例え', 'ελληνικά', 'straße'),
);
const domains = fc
  .array(label, { minLength: 1, maxLength: 3 })
  .map((labels) => [...labels, 'test'].join('.'));

function mailboxArbitrary(
  local: fc.Arbitrary<string>,
): fc.Arbitrary<{ name: string; local: string; domain: string }> {
  return fc.record({ name: names, local, domain: domains });
}

function expectedMailbox(m: { name: string; local: string; domain: string }, smtputf8: boolean): Mailbox {
  const domain = smtputf8 ? m.domain : toAsciiDomain(m.domain);
  return { name: m.name, address: formatAddrSpec(m.local, domain), local: m.local, domain };
}

function listArbitrary(local: fc.Arbitrary<string>) {
  const mailbox = mailboxArbitrary(local);
  const group = fc.record({
    group: names.filter((n) => n !== ''),
    members: fc.array(mailbox, { maxLength: 3 }),
  });
  return fc.array(fc.oneof(mailbox, group), { minLength: 1, maxLength: 4 });
}

type Generated =
  | { name: string; local: string; domain: string }
  | { group: string; members: { name: string; local: string; domain: string }[] };

function roundTrip(list: Generated[], smtputf8: boolean): void {
  const input: Address[] = list.map((a) =>
    'group' in a
      ? ({
          group: a.group,
          members: a.members.map((m) => ({ name: m.name, address: formatAddrSpec(m.local, m.domain) })),
        } satisfies Group)
      : { name: a.name, address: formatAddrSpec(a.local, a.domain) },
  );
  const formatted = formatAddressList(input, { smtputf8 });
  expect(formatted).not.toMatch(/[\r\n]/);
  if (!smtputf8) expect(formatted).toMatch(/^[\x20-\x7e]*$/);
  const expected: Address[] = list.map((a) =>
    'group' in a
      ? { group: a.group, members: a.members.map((m) => expectedMailbox(m, smtputf8)) }
      : expectedMailbox(a, smtputf8),
  );
  const parsed = parseAddressList(formatted);
  expect(parsed.addresses).toEqual(expected);
  // A name with an @ inside an encoded word is flagged, by design.
  expect(parsed.defects.filter((d) => d !== 'encoded-address-in-name')).toEqual([]);
}

describe('format then parse', () => {
  it('gives back the same addresses (ASCII message, encoded names and A-labels)', () => {
    fc.assert(
      fc.property(listArbitrary(asciiLocal), (list) => roundTrip(list, false)),
      { numRuns: 500 },
    );
  });

  it('gives back the same addresses (SMTPUTF8 message, raw UTF-8)', () => {
    fc.assert(
      fc.property(listArbitrary(utf8Local), (list) => roundTrip(list, true)),
      { numRuns: 500 },
    );
  });

  it('never lets a control character through', () => {
    fc.assert(
      fc.property(
        names,
        fc.constantFrom('\r', '\n', '\r\n', '\u0000', '\u2028'),
        fc.nat(30),
        (name, bad, at) => {
          const dirty = name.slice(0, at) + bad + name.slice(at);
          expect(() => formatAddress({ name: dirty, address: 'a@x' })).toThrow(InvalidArgumentError);
        },
      ),
    );
  });
});

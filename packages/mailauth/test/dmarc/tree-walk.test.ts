import { describe, expect, it } from 'vitest';
import { type DmarcPublicSuffixFlag, dmarcLookupNames, organizationalDomain } from '../../src/dmarc/index.js';

const labels = (count: number) =>
  Array.from({ length: count }, (_, i) => String.fromCharCode(0x61 + i))
    .reverse()
    .join('.');

describe('dmarcLookupNames', () => {
  // Names of 1 to 10 labels: "a", "b.a", "c.b.a" … and the queries each one plans.
  const table: [number, string[]][] = [
    [1, ['a']],
    [2, ['b.a', 'a']],
    [3, ['c.b.a', 'b.a', 'a']],
    [4, ['d.c.b.a', 'c.b.a', 'b.a', 'a']],
    [7, ['g.f.e.d.c.b.a', 'f.e.d.c.b.a', 'e.d.c.b.a', 'd.c.b.a', 'c.b.a', 'b.a', 'a']],
    [8, ['h.g.f.e.d.c.b.a', 'g.f.e.d.c.b.a', 'f.e.d.c.b.a', 'e.d.c.b.a', 'd.c.b.a', 'c.b.a', 'b.a', 'a']],
    [9, ['i.h.g.f.e.d.c.b.a', 'g.f.e.d.c.b.a', 'f.e.d.c.b.a', 'e.d.c.b.a', 'd.c.b.a', 'c.b.a', 'b.a', 'a']],
    [
      10,
      ['j.i.h.g.f.e.d.c.b.a', 'g.f.e.d.c.b.a', 'f.e.d.c.b.a', 'e.d.c.b.a', 'd.c.b.a', 'c.b.a', 'b.a', 'a'],
    ],
  ];
  it.each(table)('plans the walk for a name of %i labels', (count, domains) => {
    expect(dmarcLookupNames(labels(count))).toEqual(domains.map((domain) => `_dmarc.${domain}`));
  });

  it('makes as many queries as labels up to 7, and 8 at most', () => {
    for (let count = 1; count <= 10; count++) {
      expect(dmarcLookupNames(labels(count))).toHaveLength(Math.min(count, 8));
    }
  });

  it("follows DMARCbis's own example, and ignores case and a trailing dot", () => {
    expect(dmarcLookupNames('A.b.c.d.e.f.g.h.i.j.Mail.Example.COM.')).toEqual([
      '_dmarc.a.b.c.d.e.f.g.h.i.j.mail.example.com',
      '_dmarc.g.h.i.j.mail.example.com',
      '_dmarc.h.i.j.mail.example.com',
      '_dmarc.i.j.mail.example.com',
      '_dmarc.j.mail.example.com',
      '_dmarc.mail.example.com',
      '_dmarc.example.com',
      '_dmarc.com',
    ]);
  });

  it('plans nothing for an empty name or an empty label', () => {
    expect(dmarcLookupNames('')).toEqual([]);
    expect(dmarcLookupNames('.')).toEqual([]);
    expect(dmarcLookupNames('a..example')).toEqual([]);
  });
});

describe('organizationalDomain', () => {
  const found = (entries: Record<string, DmarcPublicSuffixFlag>) => new Map(Object.entries(entries));

  it('follows the DMARCbis examples', () => {
    const domain = 'a.mail.example.com';
    expect(
      organizationalDomain(domain, found({ '_dmarc.mail.example.com': 'u', '_dmarc.example.com': 'u' })),
    ).toBe('example.com');
    expect(
      organizationalDomain(domain, found({ '_dmarc.mail.example.com': 'n', '_dmarc.example.com': 'u' })),
    ).toBe('mail.example.com');
    expect(organizationalDomain(domain, found({ '_dmarc.com': 'y' }))).toBe('example.com');
    expect(organizationalDomain('mail.example.com', found({ '_dmarc.example.com': 'y' }))).toBe(
      'mail.example.com',
    );
  });

  it('takes the shortest name with a record, or the domain itself when none has one', () => {
    expect(organizationalDomain('x.example.co.uk', found({ '_dmarc.example.co.uk': 'u' }))).toBe(
      'example.co.uk',
    );
    expect(
      organizationalDomain('x.example.co.uk', found({ '_dmarc.example.co.uk': 'u', '_dmarc.co.uk': 'y' })),
    ).toBe('example.co.uk');
    expect(organizationalDomain('Example.COM.', found({}))).toBe('example.com');
    expect(organizationalDomain('a.b.example', found({ '_dmarc.unrelated.example': 'n' }))).toBe(
      'a.b.example',
    );
    expect(organizationalDomain('', found({}))).toBe('');
  });

  it('stops at psd=y at the first name, where the walk stops', () => {
    expect(
      organizationalDomain('gov.example', found({ '_dmarc.gov.example': 'y', '_dmarc.example': 'u' })),
    ).toBe('gov.example');
  });

  it('reads one label below a psd=y record over a shortened walk, and compares names case-insensitively', () => {
    const domain = 'j.i.h.g.f.e.d.c.b.a';
    expect(organizationalDomain(domain, found({ '_DMARC.G.F.E.D.C.B.A.': 'y' }))).toBe('h.g.f.e.d.c.b.a');
    expect(organizationalDomain(domain, found({ '_dmarc.i.h.g.f.e.d.c.b.a': 'n' }))).toBe(domain);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DmarcAlignmentMode, isAligned, organizationalDomain } from '../../src/dmarc/index.js';

// Organisational domains as a tree walk would find them: records at example.com and example.net.
const orgDomainOf = (domain: string) =>
  organizationalDomain(
    domain,
    new Map([
      ['_dmarc.example.com', 'u'],
      ['_dmarc.example.net', 'u'],
    ] as const),
  );

describe('isAligned', () => {
  // From example.com or mail.example.com against an authenticated domain: [strict, relaxed].
  const table: [string, string, boolean, boolean][] = [
    ['example.com', 'example.com', true, true],
    ['EXAMPLE.com.', 'example.COM', true, true],
    ['mail.example.com', 'example.com', false, true],
    ['example.com', 'mail.example.com', false, true],
    ['a.mail.example.com', 'b.example.com', false, true],
    ['example.net', 'example.com', false, false],
    ['mail.example.net', 'mail.example.com', false, false],
    ['notexample.com', 'example.com', false, false],
    ['', 'example.com', false, false],
  ];
  it.each(table)('%s against From %s: strict %s, relaxed %s', (authenticated, from, strict, relaxed) => {
    expect(isAligned(authenticated, from, 'strict', orgDomainOf)).toBe(strict);
    expect(isAligned(authenticated, from, 'relaxed', orgDomainOf)).toBe(relaxed);
  });

  it('is symmetric in relaxed mode when both sides share an organisational domain', () => {
    const label = fc.stringMatching(/^[a-z0-9]{1,8}$/);
    const subdomainOf = (org: string) =>
      fc.array(label, { maxLength: 4 }).map((labels) => [...labels, org].join('.'));
    const org = fc.constantFrom('example.com', 'example.net');
    fc.assert(
      fc.property(
        org.chain((o) => fc.tuple(subdomainOf(o), subdomainOf(o))),
        fc.constantFrom<DmarcAlignmentMode>('relaxed'),
        ([a, b], mode) => {
          expect(isAligned(a, b, mode, orgDomainOf)).toBe(true);
          expect(isAligned(b, a, mode, orgDomainOf)).toBe(isAligned(a, b, mode, orgDomainOf));
        },
      ),
    );
  });

  it('is symmetric for any two names and any organisational-domain function', () => {
    const name = fc.stringMatching(/^[a-z]{1,3}(\.[a-z]{1,3}){0,3}\.?$/);
    fc.assert(
      fc.property(name, name, fc.constantFrom<DmarcAlignmentMode>('relaxed', 'strict'), (a, b, mode) => {
        const lastTwo = (domain: string) => domain.split('.').slice(-2).join('.');
        expect(isAligned(a, b, mode, lastTwo)).toBe(isAligned(b, a, mode, lastTwo));
      }),
    );
  });
});

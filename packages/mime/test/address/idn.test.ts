import { InvalidArgumentError } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toAsciiDomain, toUnicodeDomain } from '../../src/address/index.js';
import { decodePunycode } from '../../src/address/punycode.js';

describe('decodePunycode', () => {
  it('decodes the samples of RFC 3492 §7.1', () => {
    expect(decodePunycode('ihqwcrb4cv8a8dqg056pqjye')).toBe('他们为什么不说中文');
    expect(decodePunycode('3B-ww4c5e180e575a65lsy2b')).toBe('3年B組金八先生');
    expect(decodePunycode('bcher-kva')).toBe('bücher');
    expect(decodePunycode('mnchen-3ya')).toBe('münchen');
    expect(decodePunycode('b1abfaaepdrnnbgefbadotcwatmq2g4l')).toBe('почемужеонинеговорятпорусски');
    expect(decodePunycode('-> $1.00 <--')).toBe('-> $1.00 <-');
  });

  it('refuses invalid input', () => {
    for (const input of ['ü-abc', 'a!', '99999999999', 'a'.repeat(64), 'ab-9']) {
      expect(decodePunycode(input), input).toBeUndefined();
    }
  });
});

describe('toAsciiDomain / toUnicodeDomain', () => {
  it('keeps ASCII domains and literals as written', () => {
    expect(toAsciiDomain('Example.COM')).toBe('Example.COM');
    expect(toAsciiDomain('[1.2.3.4]')).toBe('[1.2.3.4]');
    expect(toUnicodeDomain('example.com')).toBe('example.com');
  });

  it('converts with the WHATWG mapping', () => {
    expect(toAsciiDomain('Bücher.de')).toBe('xn--bcher-kva.de');
    expect(toAsciiDomain('例え.テスト')).toBe('xn--r8jz45g.xn--zckzah');
    expect(toUnicodeDomain('xn--bcher-kva.de')).toBe('bücher.de');
    expect(toUnicodeDomain('XN--BCHER-KVA.de')).toBe('bücher.de');
  });

  it('refuses domains that would read as another host', () => {
    for (const domain of [
      'bü/x.com',
      'bü@x.com',
      'bü:1.com',
      'bü%41.com',
      'bü x.com',
      'bü?.com',
      'bü#.com',
    ]) {
      expect(() => toAsciiDomain(domain), domain).toThrow(InvalidArgumentError);
    }
    expect(() => toAsciiDomain('bü.123')).toThrow(InvalidArgumentError);
  });

  it('shows an xn-- label that is not a valid U-label as written', () => {
    expect(toUnicodeDomain('xn--zz.com')).toBe('xn--zz.com');
    expect(toUnicodeDomain('xn--abc-.com')).toBe('xn--abc-.com');
    // Punycode of "a。b" decodes, but its ASCII form is not this label: shown as written.
    expect(toUnicodeDomain('xn--ab-ih8q.com')).toBe('xn--ab-ih8q.com');
  });

  it('round-trips U-labels', () => {
    const letters = 'abcdeäöüßéñçøåπλж例え中文'.split('');
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: fc.constantFrom(...letters), minLength: 1, maxLength: 10 }), {
          minLength: 1,
          maxLength: 3,
        }),
        (labels) => {
          const domain = labels.join('.');
          expect(toUnicodeDomain(toAsciiDomain(domain))).toBe(domain);
        },
      ),
    );
  });
});

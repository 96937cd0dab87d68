import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseMacroString } from '../../src/spf/macro.js';
import { formatSpfRecord, parseSpfRecord } from '../../src/spf/record.js';

const label = fc.stringMatching(/^[a-z0-9_][a-z0-9_-]{0,9}$/);
const topLabel = fc.oneof(fc.stringMatching(/^[a-z0-9]{0,3}[a-z][a-z0-9]{0,3}$/), fc.constant('x-1'));
const domain = fc
  .tuple(fc.array(label, { minLength: 1, maxLength: 3 }), topLabel, fc.boolean())
  .map(([labels, top, dot]) => `${labels.join('.')}.${top}${dot ? '.' : ''}`);
const macro = fc
  .tuple(
    fc.constantFrom(...'slodiphvSLODIPHV'),
    fc.option(fc.integer({ min: 1, max: 200 }), { nil: undefined }),
    fc.boolean(),
    fc.subarray([...'.-+,/_=']),
  )
  .map(
    ([letter, digits, reverse, delimiters]) =>
      `%{${letter}${digits ?? ''}${reverse ? 'r' : ''}${delimiters.join('')}}`,
  );
const escapeSequence = fc.constantFrom('%%', '%_', '%-');
const domainSpec = fc.oneof(
  domain,
  macro,
  fc.tuple(macro, domain).map(([m, d]) => `${m}.${d}`),
  fc.tuple(label, escapeSequence, macro).map((parts) => parts.join('')),
);
const prefix = (max: number) => fc.option(fc.integer({ min: 0, max }), { nil: undefined });
const mechanism = fc.oneof(
  fc.constant('all'),
  domainSpec.map((spec) => `include:${spec}`),
  domainSpec.map((spec) => `exists:${spec}`),
  fc
    .tuple(fc.constantFrom('a', 'mx', 'A', 'Mx'), fc.option(domainSpec), prefix(32), prefix(128))
    .map(
      ([name, spec, ip4, ip6]) =>
        `${name}${spec === null ? '' : `:${spec}`}${ip4 === undefined ? '' : `/${ip4}`}${ip6 === undefined ? '' : `//${ip6}`}`,
    ),
  fc.option(domainSpec).map((spec) => `ptr${spec === null ? '' : `:${spec}`}`),
  fc
    .tuple(fc.ipV4(), prefix(32))
    .map(([ip, length]) => `ip4:${ip}${length === undefined ? '' : `/${length}`}`),
  fc
    .tuple(fc.ipV6(), prefix(128))
    .map(([ip, length]) => `ip6:${ip}${length === undefined ? '' : `/${length}`}`),
);
const directive = fc.tuple(fc.constantFrom('', '+', '-', '~', '?'), mechanism).map(([q, m]) => q + m);
const unknownModifier = fc
  .tuple(
    fc.stringMatching(/^[a-z][a-z0-9_.-]{0,8}$/),
    fc.array(fc.oneof(label, macro, escapeSequence), { maxLength: 3 }),
  )
  .filter(([name]) => !['redirect', 'exp'].includes(name))
  .map(([name, value]) => `${name}=${value.join('')}`);
const record = fc
  .tuple(
    fc.array(fc.oneof(directive, unknownModifier), { maxLength: 8 }),
    fc.option(domainSpec.map((spec) => `redirect=${spec}`)),
    fc.option(domainSpec.map((spec) => `exp=${spec}`)),
    fc.constantFrom(' ', '  '),
  )
  .map(([terms, redirect, exp, separator]) =>
    ['v=spf1', ...terms, ...(redirect === null ? [] : [redirect]), ...(exp === null ? [] : [exp])].join(
      separator,
    ),
  );

describe('SPF record properties', () => {
  it('parses every well-formed record, and parse(format(record)) is the record', () => {
    fc.assert(
      fc.property(record, (text) => {
        const parsed = parseSpfRecord(text);
        if (!parsed.ok) throw new Error(`${parsed.reason}: ${text}`);
        expect(parseSpfRecord(formatSpfRecord(parsed.record))).toEqual(parsed);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on arbitrary strings', () => {
    const noise = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc
        .array(fc.constantFrom('v=spf1', ' ', '%', '{', '}', ':', '/', '//', '.', '=', 'a', 'ip6', '1', '-'))
        .map((parts) => parts.join('')),
      fc.string().map((text) => `v=spf1 ${text}`),
    );
    fc.assert(
      fc.property(noise, (text) => {
        const parsed = parseSpfRecord(text);
        expect(typeof parsed.ok).toBe('boolean');
        expect(typeof parseMacroString(text).ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('parses 100 KB inputs in linear time', () => {
    const size = 100_000;
    const inputs = [
      `v=spf1 ${'a '.repeat(size / 2)}`,
      `v=spf1 ${'ip4:192.0.2.1/24 '.repeat(size / 17)}`,
      `v=spf1 a:${'%{d}.'.repeat(size / 5)}com`,
      `v=spf1 a:${'1'.repeat(size)}`,
      `v=spf1 a:${'/1'.repeat(size / 2)}`,
      `v=spf1 a:x${'//1'.repeat(size / 3)}`,
      `v=spf1 a:${'a-'.repeat(size / 2)}`,
      `v=spf1 a:x.${'a1'.repeat(size / 2)}%`,
      `v=spf1 ip6:${'1:'.repeat(size / 2)}`,
      `v=spf1 ip6:${'::'.repeat(size / 2)}`,
      `v=spf1 x=${'%{'.repeat(size / 2)}`,
      `v=spf1 x=${'%{d}'.repeat(size / 4)}`,
      `v=spf1 ${'x'.repeat(size)}=`,
      `v=spf1 ${'%'.repeat(size)}`,
    ];
    for (const input of inputs) {
      const start = performance.now();
      parseSpfRecord(input);
      parseMacroString(input.slice(7));
      expect(performance.now() - start, input.slice(0, 20)).toBeLessThan(250);
    }
  });
});

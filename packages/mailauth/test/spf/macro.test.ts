import { describe, expect, it } from 'vitest';
import {
  expandMacros,
  formatMacroString,
  parseDomainSpec,
  parseMacroString,
  type SpfMacroContext,
  type SpfMacroToken,
  truncateDomain,
} from '../../src/spf/macro.js';

/** RFC 7208 §7.4: the sender, the client addresses and the PTR name the examples use. */
const rfcContext: SpfMacroContext = {
  sender: 'strong-bad@email.example.com',
  localPart: 'strong-bad',
  senderDomain: 'email.example.com',
  domain: 'email.example.com',
  ip: '192.0.2.3',
  helo: 'mx.example.org',
  validatedDomain: 'mx.example.org',
};
const rfcContext6: SpfMacroContext = { ...rfcContext, ip: '2001:db8::cb01' };

/** RFC 7208 §7.4, the first table: single macros. */
const singleMacros: [string, string][] = [
  ['%{s}', 'strong-bad@email.example.com'],
  ['%{o}', 'email.example.com'],
  ['%{d}', 'email.example.com'],
  ['%{d4}', 'email.example.com'],
  ['%{d3}', 'email.example.com'],
  ['%{d2}', 'example.com'],
  ['%{d1}', 'com'],
  ['%{dr}', 'com.example.email'],
  ['%{d2r}', 'example.email'],
  ['%{l}', 'strong-bad'],
  ['%{l-}', 'strong.bad'],
  ['%{lr}', 'strong-bad'],
  ['%{lr-}', 'bad.strong'],
  ['%{l1r-}', 'strong'],
];

/** RFC 7208 §7.4, the second table: macro-strings, with the IPv4 client. */
const macroStrings: [string, string][] = [
  ['%{ir}.%{v}._spf.%{d2}', '3.2.0.192.in-addr._spf.example.com'],
  ['%{lr-}.lp._spf.%{d2}', 'bad.strong.lp._spf.example.com'],
  ['%{lr-}.lp.%{ir}.%{v}._spf.%{d2}', 'bad.strong.lp.3.2.0.192.in-addr._spf.example.com'],
  ['%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}', '3.2.0.192.in-addr.strong.lp._spf.example.com'],
  ['%{d2}.trusted-domains.example.net', 'example.com.trusted-domains.example.net'],
];

/** RFC 7208 §7.4, the IPv6 example. */
const ip6Example: [string, string] = [
  '%{ir}.%{v}._spf.%{d2}',
  '1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com',
];

const tokensOf = (text: string, explanation = false): readonly SpfMacroToken[] => {
  const parsed = parseMacroString(text, { explanation });
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.tokens;
};
const expand = (text: string, context = rfcContext, exp = false): string => {
  const expanded = expandMacros(tokensOf(text, exp), context, { exp });
  if (!expanded.ok) throw new Error(expanded.reason);
  return expanded.value;
};
const expandReason = (text: string, context = rfcContext, exp = false) => {
  const expanded = expandMacros(tokensOf(text, exp), context, { exp });
  return expanded.ok ? undefined : expanded.reason;
};
const parseReason = (text: string) => {
  const parsed = parseMacroString(text);
  return parsed.ok ? undefined : parsed.reason;
};
const domainSpecReason = (text: string) => {
  const parsed = parseDomainSpec(text);
  return parsed.ok ? undefined : parsed.reason;
};

describe('RFC 7208 §7.4 macro examples', () => {
  it.each(singleMacros)('%s expands to %s', (macro, expansion) => {
    expect(expand(macro)).toBe(expansion);
  });

  it.each(macroStrings)('%s expands to %s', (macro, expansion) => {
    expect(expand(macro)).toBe(expansion);
    expect(parseDomainSpec(macro).ok).toBe(true);
  });

  it('expands the IPv6 example with the nibble format', () => {
    expect(expand(ip6Example[0], rfcContext6)).toBe(ip6Example[1]);
    expect(expand('%{i}', rfcContext6)).toBe(
      '2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1',
    );
  });
});

describe('parseMacroString', () => {
  it('reads literals, escapes and macros with their transformers', () => {
    expect(tokensOf('a.%%%_%-%{D12R-.+,/_=}')).toEqual([
      { kind: 'literal', text: 'a.' },
      { kind: 'escape', sequence: '%%' },
      { kind: 'escape', sequence: '%_' },
      { kind: 'escape', sequence: '%-' },
      { kind: 'macro', letter: 'd', urlEscape: true, rightmost: 12, reverse: true, delimiters: '-.+,/_=' },
    ]);
    expect(tokensOf('')).toEqual([]);
  });

  it('allows SP only in explanations', () => {
    expect(parseReason('a b')).toBe('invalid character U+0020');
    expect(tokensOf('a b', true)).toEqual([{ kind: 'literal', text: 'a b' }]);
  });

  it('gives a reason for each malformed macro-string', () => {
    expect(parseReason('%')).toBe('invalid macro "%"');
    expect(parseReason('a%x')).toBe('invalid macro "%x"');
    expect(parseReason('%(ir)')).toBe('invalid macro "%("');
    expect(parseReason('%{d')).toBe('unterminated macro "%{d"');
    expect(parseReason('%{}')).toBe('invalid macro "%{}"');
    expect(parseReason('%{x}')).toBe('invalid macro "%{x}"');
    expect(parseReason('%{d2r2}')).toBe('invalid macro "%{d2r2}"');
    expect(parseReason('%{d:}')).toBe('invalid macro "%{d:}"');
    expect(parseReason('%{d0}')).toBe('zero digit transformer in macro "%{d0}"');
    expect(parseReason('a\tb')).toBe('invalid character U+0009');
    expect(parseReason('é')).toBe('invalid character U+00E9');
  });

  it('formats tokens back to the same text', () => {
    expect(formatMacroString(tokensOf('%{D12R}'))).toBe('%{D12r}');
    for (const text of ['a.%%%_%-%{D12r-.+,/_=}', '%{ir}.%{v}._spf.%{d2}', 'x%{l1r-}']) {
      expect(formatMacroString(tokensOf(text))).toBe(text);
    }
  });
});

describe('parseDomainSpec', () => {
  it('accepts a domain-end of "." and a top label, or a macro', () => {
    for (const spec of ['example.com', 'example.com.', 'a.b-c', 'a.1-2', 'a.x1', '%{d}', 'x.%{d}', 'x.%%']) {
      expect(parseDomainSpec(spec).ok, spec).toBe(true);
    }
  });

  it('rejects other domain ends', () => {
    expect(domainSpecReason('')).toBe('empty domain-spec');
    for (const spec of [
      'com',
      'example.123',
      'example.com..',
      'example.-com',
      'example.com-',
      'a._b',
      '%{d}.',
    ]) {
      expect(domainSpecReason(spec), spec).toBe(`invalid domain-spec "${spec}"`);
    }
    expect(domainSpecReason('%{q}.com')).toBe('invalid macro "%{q}"');
  });
});

describe('expandMacros', () => {
  it('expands h, p and v, and p defaults to "unknown"', () => {
    expect(expand('%{h}')).toBe('mx.example.org');
    expect(expand('%{p}.%{p2}')).toBe('mx.example.org.example.org');
    expect(expand('%{p}', { ...rfcContext, validatedDomain: undefined })).toBe('unknown');
    expect(expand('%{v}')).toBe('in-addr');
    expect(expand('%{v}', rfcContext6)).toBe('ip6');
    expect(expand('%{i}')).toBe('192.0.2.3');
  });

  it('expands the escapes', () => {
    expect(expand('%%%_%-')).toBe('% %20');
  });

  it('keeps all parts when the digit exceeds them, and splits at every delimiter given', () => {
    expect(expand('%{d128}')).toBe('email.example.com');
    expect(expand('%{s.-}')).toBe('strong.bad@email.example.com');
    expect(expand('%{sr-.}')).toBe('com.example.bad@email.strong');
    expect(expand('%{l1-}')).toBe('bad');
  });

  it('URL-escapes the expansion of an upper-case letter (§7.3)', () => {
    expect(expand('%{S}')).toBe('strong-bad%40email.example.com');
    expect(expand('%{L}', { ...rfcContext, localPart: "a!*'()~_ é" })).toBe('a%21%2A%27%28%29~_%20%C3%A9');
  });

  it('allows c, r and t only in explanations', () => {
    for (const letter of ['c', 'r', 't']) {
      expect(expandReason(`%{${letter}}`)).toBe(`macro "${letter}" is allowed only in explanations`);
    }
    const context = { ...rfcContext, receiver: 'mx.example.net', timestamp: 1_000_000_000.5 };
    expect(expand('%{c} %{r} %{t}', context, true)).toBe('192.0.2.3 mx.example.net 1000000000');
    expect(expand('%{c} %{r}', rfcContext6, true)).toBe('2001:db8::cb01 unknown');
    expect(expandReason('%{t}', rfcContext, true)).toBe('no value for macro "t"');
  });

  it('gives a reason when the IP address is malformed', () => {
    const context = { ...rfcContext, ip: '192.0.2.300' };
    expect(expandReason('%{i}', context)).toBe('no value for macro "i"');
    expect(expandReason('%{v}', context)).toBe('no value for macro "v"');
    expect(expandReason('%{c}', context, true)).toBe('no value for macro "c"');
  });
});

describe('truncateDomain', () => {
  it('keeps names of 253 characters or fewer', () => {
    const name = `${'a'.repeat(61)}.`.repeat(4).slice(0, 253);
    expect(truncateDomain(name)).toBe(name);
  });

  it('removes whole labels from the left until 253 characters fit', () => {
    const label = 'b'.repeat(63);
    const name = `x.${label}.${label}.${label}.${label}.com`;
    expect(name.length).toBe(261);
    expect(truncateDomain(name)).toBe(`${label}.${label}.${label}.com`);
    expect(truncateDomain(`${'y'.repeat(9)}.${'z'.repeat(252)}.`)).toBe(`${'z'.repeat(252)}.`);
    expect(truncateDomain(`${'y'.repeat(10)}.${'z'.repeat(253)}`)).toBe('z'.repeat(253));
  });

  it('gives an empty name when the last label alone is too long', () => {
    expect(truncateDomain(`a.${'z'.repeat(254)}`)).toBe('');
  });
});

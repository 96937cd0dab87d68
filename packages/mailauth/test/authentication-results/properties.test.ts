import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AuthenticationResult,
  type AuthenticationResults,
  formatAuthenticationResults,
  parseAuthenticationResults,
  type ResultProperty,
} from '../../src/authentication-results/index.js';

/** Lower case, as the parser gives names back. */
const keyword = fc.stringMatching(/^[a-z0-9-]{0,8}[a-z0-9]$/);

/** Any text a header may hold: printable ASCII, UTF-8, tabs; no other control characters. */
const text = fc
  .oneof(
    fc.string(),
    fc.string({ unit: 'grapheme' }),
    fc.string({ minLength: 50, maxLength: 120 }),
    fc.constantFrom('a@b.example', '@b.example', '"q"@b.c'),
  )
  .map((s) => s.replace(/[\u0000-\u0008\u000a-\u001f\u007f]/g, ''));

const version = fc.nat({ max: 999_999_999 });

const property: fc.Arbitrary<ResultProperty> = fc.record({
  type: fc.oneof(fc.constantFrom('smtp', 'header', 'body', 'policy'), keyword),
  property: keyword,
  value: text,
});

/** A method and result with the flag the parser must give them. */
const methodAndResult = fc.oneof(
  fc.constantFrom(
    { method: 'dkim', result: 'pass' },
    { method: 'spf', result: 'softfail' },
    { method: 'dmarc', result: 'none' },
    { method: 'arc', result: 'fail' },
    { method: 'iprev', result: 'temperror' },
    { method: 'dkim-adsp', result: 'nxdomain' },
  ),
  fc.record({
    method: keyword.map((k) => `x-${k}`),
    result: keyword,
    unregistered: fc.constant('method' as const),
  }),
  fc.record({
    method: fc.constantFrom('dkim', 'spf', 'auth'),
    result: keyword.map((k) => `x-${k}`),
    unregistered: fc.constant('result' as const),
  }),
);

const result: fc.Arbitrary<AuthenticationResult> = fc
  .record(
    {
      methodAndResult,
      methodVersion: version,
      reason: text,
      properties: fc.array(property, { maxLength: 4 }),
    },
    { requiredKeys: ['methodAndResult', 'properties'] },
  )
  .map(({ methodAndResult, ...rest }) => ({ ...methodAndResult, ...rest }));

const model: fc.Arbitrary<AuthenticationResults> = fc.record(
  {
    authservId: text.filter((s) => s !== ''),
    version,
    results: fc.array(result, { maxLength: 4 }),
  },
  { requiredKeys: ['authservId', 'results'] },
);

/** Folding white space and comments, any of which may stand where the grammar allows CFWS. */
const someCfws = fc
  .array(fc.constantFrom(' ', '\t', '\r\n ', '\r\n\t', '(c)', '(a (nested \\) one) b)', ' (x\r\n y) '), {
    minLength: 1,
    maxLength: 3,
  })
  .map((parts) => parts.join(''));
const optionalCfws = fc.oneof(fc.constant(''), someCfws);

function quoted(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** Writes the model with every value quoted, taking CFWS from `cfws` at each point the grammar allows it. */
function writeWithCfws(value: AuthenticationResults, optional: () => string, required: () => string): string {
  let out = `${optional()}${quoted(value.authservId)}`;
  if (value.version !== undefined) out += `${required()}${value.version}`;
  if (value.results.length === 0) return `${out}${optional()};${optional()}none${optional()}`;
  for (const r of value.results) {
    out += `${optional()};${optional()}${r.method}${optional()}`;
    if (r.methodVersion !== undefined) out += `/${optional()}${r.methodVersion}${optional()}`;
    out += `=${optional()}${r.result}`;
    if (r.reason !== undefined) out += `${required()}reason${optional()}=${optional()}${quoted(r.reason)}`;
    for (const p of r.properties) {
      out += `${required()}${p.type}${optional()}.${optional()}${p.property}${optional()}=${optional()}${quoted(p.value)}`;
    }
  }
  return `${out}${optional()}`;
}

/** The words of a line, counting a quoted string with spaces in it as part of one word. */
function wordsOutsideQuotes(line: string): number {
  let words = 1;
  let quotedText = false;
  for (let i = 0; i < line.length; i++) {
    if (quotedText && line[i] === '\\') i++;
    else if (line[i] === '"') quotedText = !quotedText;
    else if (line[i] === ' ' && !quotedText) words++;
  }
  return words;
}

describe('Authentication-Results properties', () => {
  it('format then parse gives the model back, folded or not', () => {
    fc.assert(
      fc.property(model, fc.boolean(), (value, fold) => {
        const written = formatAuthenticationResults(value, { fold });
        expect(parseAuthenticationResults(written)).toEqual({ ok: true, value });
      }),
    );
  });

  it('parsing ignores the folding white space and comments at any CFWS point', () => {
    fc.assert(
      fc.property(
        model,
        fc.infiniteStream(optionalCfws),
        fc.infiniteStream(someCfws),
        (value, optional, required) => {
          const optionals = optional[Symbol.iterator]();
          const requireds = required[Symbol.iterator]();
          const written = writeWithCfws(
            value,
            () => optionals.next().value as string,
            () => requireds.next().value as string,
          );
          expect(parseAuthenticationResults(written)).toEqual({ ok: true, value });
        },
      ),
    );
  });

  it('folded lines stay within 78 columns unless a single word is longer', () => {
    fc.assert(
      fc.property(model, (value) => {
        const lines = formatAuthenticationResults(value, { fold: true }).split('\r\n');
        const columns = lines.map(
          (line, index) => (index === 0 ? 'Authentication-Results: ' : '').length + line.length,
        );
        for (const line of lines.slice(1)) expect(line).toMatch(/^ \S/);
        lines.forEach((line, index) => {
          if (columns[index]! > 78) expect(wordsOutsideQuotes(line.trimStart())).toBe(1);
        });
      }),
    );
  });

  it('parsing never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (input) => {
        const outcome = parseAuthenticationResults(input);
        expect(typeof outcome.ok).toBe('boolean');
      }),
    );
  });
});

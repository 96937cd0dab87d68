import { ErrorCode, InvalidArgumentError } from '@postwire/core';
import { describe, expect, it } from 'vitest';
import {
  type AuthenticationResults,
  formatAuthenticationResults,
  formatAuthenticationResultsField,
} from '../../src/authentication-results/index.js';

const example: AuthenticationResults = {
  authservId: 'mx.example.com',
  results: [
    {
      method: 'dkim',
      result: 'pass',
      reason: 'good signature',
      properties: [
        { type: 'header', property: 'd', value: 'example.net' },
        { type: 'header', property: 'i', value: '@mail.example.net' },
        { type: 'header', property: 'b', value: 'gfT/i2HB' },
      ],
    },
    {
      method: 'spf',
      result: 'pass',
      properties: [{ type: 'smtp', property: 'mailfrom', value: 'bounce+x=y@example.net' }],
    },
    { method: 'dmarc', methodVersion: 1, result: 'pass', properties: [] },
  ],
};

describe('formatAuthenticationResults', () => {
  it('writes one line by default, quoting only what is not a token or an address', () => {
    expect(formatAuthenticationResults(example)).toBe(
      'mx.example.com; dkim=pass reason="good signature" header.d=example.net header.i=@mail.example.net ' +
        'header.b="gfT/i2HB"; spf=pass smtp.mailfrom=bounce+x=y@example.net; dmarc/1=pass',
    );
  });

  it('writes none, a version, and quotes an authserv-id, a reason and values with quotes or backslashes', () => {
    expect(formatAuthenticationResults({ authservId: 'example.org', version: 1, results: [] })).toBe(
      'example.org 1; none',
    );
    expect(
      formatAuthenticationResults({
        authservId: 'my host',
        results: [
          {
            method: 'x-test',
            result: 'fail',
            reason: 'said "no" \\ twice',
            properties: [{ type: 'policy', property: 'p', value: '' }],
          },
        ],
      }),
    ).toBe('"my host"; x-test=fail reason="said \\"no\\" \\\\ twice" policy.p=""');
  });

  it('folds at 78 columns, counting the field name, with CRLF and a space between words', () => {
    const folded = formatAuthenticationResults(example, { fold: true });
    expect(folded).toBe(
      'mx.example.com; dkim=pass reason="good signature"\r\n' +
        ' header.d=example.net header.i=@mail.example.net header.b="gfT/i2HB"; spf=pass\r\n' +
        ' smtp.mailfrom=bounce+x=y@example.net; dmarc/1=pass',
    );
    const field = formatAuthenticationResultsField(example, { fold: true });
    expect(field).toBe(`Authentication-Results: ${folded}\r\n`);
    for (const line of field.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);
  });

  it('keeps a word longer than a line whole, on a line of its own', () => {
    const b = 'a'.repeat(100);
    const folded = formatAuthenticationResults(
      {
        authservId: 'example.com',
        results: [
          { method: 'dkim', result: 'pass', properties: [{ type: 'header', property: 'b', value: b }] },
        ],
      },
      { fold: true },
    );
    expect(folded).toBe(`example.com; dkim=pass\r\n header.b=${b}`);
  });

  it('writes the field on one line unless asked to fold', () => {
    expect(formatAuthenticationResultsField({ authservId: 'example.org', results: [] })).toBe(
      'Authentication-Results: example.org; none\r\n',
    );
  });

  const refused: [string, AuthenticationResults][] = [
    ['an empty authserv-id', { authservId: '', results: [] }],
    ['a line break in the authserv-id', { authservId: 'a\r\nX-Evil: 1', results: [] }],
    [
      'a NUL in the reason',
      { authservId: 'a', results: [{ method: 'spf', result: 'pass', reason: '\0', properties: [] }] },
    ],
    ['a bad method', { authservId: 'a', results: [{ method: 'sp f', result: 'pass', properties: [] }] }],
    [
      'a method ending with a hyphen',
      { authservId: 'a', results: [{ method: 'spf-', result: 'pass', properties: [] }] },
    ],
    ['a bad result', { authservId: 'a', results: [{ method: 'spf', result: 'pass;', properties: [] }] }],
    ['a fractional version', { authservId: 'a', version: 1.5, results: [] }],
    [
      'a negative method version',
      { authservId: 'a', results: [{ method: 'spf', methodVersion: -1, result: 'pass', properties: [] }] },
    ],
    [
      'a bad property type',
      {
        authservId: 'a',
        results: [
          { method: 'spf', result: 'pass', properties: [{ type: 'smtp.x', property: 'y', value: 'z' }] },
        ],
      },
    ],
    [
      'a bad property',
      {
        authservId: 'a',
        results: [
          { method: 'spf', result: 'pass', properties: [{ type: 'smtp', property: '', value: 'z' }] },
        ],
      },
    ],
    [
      'a line feed in a value',
      {
        authservId: 'a',
        results: [
          {
            method: 'spf',
            result: 'pass',
            properties: [{ type: 'smtp', property: 'mailfrom', value: 'a\nb' }],
          },
        ],
      },
    ],
  ];

  it.each(refused)('refuses %s', (_, value) => {
    expect(() => formatAuthenticationResults(value)).toThrow(InvalidArgumentError);
    try {
      formatAuthenticationResults(value);
    } catch (error) {
      expect((error as InvalidArgumentError).code).toBe(ErrorCode.InvalidArgument);
    }
  });
});

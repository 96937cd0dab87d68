import { describe, expect, it } from 'vitest';
import {
  type AuthenticationResults,
  parseAuthenticationResults,
} from '../../src/authentication-results/index.js';

/** The fields of RFC 8601 Appendix B (B.2 to B.7), each with the model it stands for. */
const examples: { name: string; field: string; expected: AuthenticationResults }[] = [
  {
    name: 'B.2 service provided, no authentication done',
    field: 'Authentication-Results: example.org 1; none\r\n',
    expected: { authservId: 'example.org', version: 1, results: [] },
  },
  {
    name: 'B.3 service provided, authentication done',
    field: 'Authentication-Results: example.com;\r\n          spf=pass smtp.mailfrom=example.net\r\n',
    expected: {
      authservId: 'example.com',
      results: [
        {
          method: 'spf',
          result: 'pass',
          properties: [{ type: 'smtp', property: 'mailfrom', value: 'example.net' }],
        },
      ],
    },
  },
  {
    name: 'B.4 several authentications, single MTA (first field)',
    field:
      'Authentication-Results: example.com;\r\n' +
      '          auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n' +
      '          spf=pass smtp.mailfrom=example.net\r\n',
    expected: {
      authservId: 'example.com',
      results: [
        {
          method: 'auth',
          result: 'pass',
          properties: [{ type: 'smtp', property: 'auth', value: 'sender@example.net' }],
        },
        {
          method: 'spf',
          result: 'pass',
          properties: [{ type: 'smtp', property: 'mailfrom', value: 'example.net' }],
        },
      ],
    },
  },
  {
    name: 'B.4 several authentications, single MTA (second field)',
    field: 'Authentication-Results: example.com; iprev=pass\r\n          policy.iprev=192.0.2.200\r\n',
    expected: {
      authservId: 'example.com',
      results: [
        {
          method: 'iprev',
          result: 'pass',
          properties: [{ type: 'policy', property: 'iprev', value: '192.0.2.200' }],
        },
      ],
    },
  },
  {
    name: 'B.5 several authentications, different MTAs (first field)',
    field:
      'Authentication-Results: example.com;\r\n          dkim=pass (good signature) header.d=example.com\r\n',
    expected: {
      authservId: 'example.com',
      results: [
        {
          method: 'dkim',
          result: 'pass',
          properties: [{ type: 'header', property: 'd', value: 'example.com' }],
        },
      ],
    },
  },
  {
    name: 'B.5 several authentications, different MTAs (second field)',
    field:
      'Authentication-Results: example.com;\r\n' +
      '          auth=pass (cram-md5) smtp.auth=sender@example.com;\r\n' +
      '          spf=fail smtp.mailfrom=example.com\r\n',
    expected: {
      authservId: 'example.com',
      results: [
        {
          method: 'auth',
          result: 'pass',
          properties: [{ type: 'smtp', property: 'auth', value: 'sender@example.com' }],
        },
        {
          method: 'spf',
          result: 'fail',
          properties: [{ type: 'smtp', property: 'mailfrom', value: 'example.com' }],
        },
      ],
    },
  },
  {
    name: 'B.6 multi-tiered authentication (outer field)',
    field:
      'Authentication-Results: example.com;\r\n' +
      '      dkim=pass reason="good signature"\r\n' +
      '        header.i=@mail-router.example.net;\r\n' +
      '      dkim=fail reason="bad signature"\r\n' +
      '        header.i=@newyork.example.com\r\n',
    expected: {
      authservId: 'example.com',
      results: [
        {
          method: 'dkim',
          result: 'pass',
          reason: 'good signature',
          properties: [{ type: 'header', property: 'i', value: '@mail-router.example.net' }],
        },
        {
          method: 'dkim',
          result: 'fail',
          reason: 'bad signature',
          properties: [{ type: 'header', property: 'i', value: '@newyork.example.com' }],
        },
      ],
    },
  },
  {
    name: 'B.6 multi-tiered authentication (inner field)',
    field:
      'Authentication-Results: example.net;\r\n      dkim=pass (good signature) header.i=@newyork.example.com\r\n',
    expected: {
      authservId: 'example.net',
      results: [
        {
          method: 'dkim',
          result: 'pass',
          properties: [{ type: 'header', property: 'i', value: '@newyork.example.com' }],
        },
      ],
    },
  },
  {
    name: 'B.7 comment-heavy example',
    field:
      'Authentication-Results: foo.example.net (foobar) 1 (baz);\r\n' +
      '    dkim (Because I like it) / 1 (One yay) = (wait for it) fail\r\n' +
      '      policy (A dot can go here) . (like that) expired\r\n' +
      "      (this surprised me) = (as I wasn't expecting it) 1362471462\r\n",
    expected: {
      authservId: 'foo.example.net',
      version: 1,
      results: [
        {
          method: 'dkim',
          methodVersion: 1,
          result: 'fail',
          properties: [{ type: 'policy', property: 'expired', value: '1362471462' }],
        },
      ],
    },
  },
];

describe('RFC 8601 Appendix B', () => {
  it.each(examples)('$name', ({ field, expected }) => {
    expect(parseAuthenticationResults(field)).toEqual({ ok: true, value: expected });
  });

  it.each(examples)('$name, given without the field name', ({ field, expected }) => {
    const value = field.slice(field.indexOf(':') + 1);
    expect(parseAuthenticationResults(value)).toEqual({ ok: true, value: expected });
  });
});

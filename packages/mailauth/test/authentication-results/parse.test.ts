import { describe, expect, it } from 'vitest';
import {
  isOwnAuthenticationResults,
  type ParsedAuthenticationResults,
  parseAuthenticationResults,
} from '../../src/authentication-results/index.js';

function parsed(text: string) {
  const outcome = parseAuthenticationResults(text);
  if (!outcome.ok) throw new Error(`${outcome.reason} at ${outcome.offset}`);
  return outcome.value;
}

function failure(outcome: ParsedAuthenticationResults) {
  if (outcome.ok) throw new Error('expected a failure');
  return outcome;
}

describe('parseAuthenticationResults: leniency', () => {
  it('skips nested comments with quoted-pairs wherever CFWS may stand', () => {
    const value = parsed(
      '(a (b) \\) c)example.com(x)1(y);(z)spf(m)=(n)pass(o)reason(p)=(q)"ok"(r)smtp(s).(t)mailfrom(u)=(v)a@b.c(w)',
    );
    expect(value).toEqual({
      authservId: 'example.com',
      version: 1,
      results: [
        {
          method: 'spf',
          result: 'pass',
          reason: 'ok',
          properties: [{ type: 'smtp', property: 'mailfrom', value: 'a@b.c' }],
        },
      ],
    });
  });

  it('unfolds CRLF, bare LF and tabs, and inside quoted strings drops the line break only', () => {
    const value = parsed(
      'example.com;\n\tdkim=pass\r\n reason="good\r\n signature"\r\n\theader.d=example.com',
    );
    expect(value.results[0]).toMatchObject({
      reason: 'good signature',
      properties: [{ value: 'example.com' }],
    });
  });

  it('lower-cases method, result, property type and property, but not values or the authserv-id', () => {
    const value = parsed('Example.COM; DKIM=Pass Header.D=Example.NET');
    expect(value).toEqual({
      authservId: 'Example.COM',
      results: [
        {
          method: 'dkim',
          result: 'pass',
          properties: [{ type: 'header', property: 'd', value: 'Example.NET' }],
        },
      ],
    });
  });

  it('keeps unregistered methods and results, flagged', () => {
    const value = parsed('example.com; x-custom=Great x-a.b=c; dkim=superb; spf=softfail; dmarc=softfail');
    expect(
      value.results.map(({ method, result, unregistered }) => ({ method, result, unregistered })),
    ).toEqual([
      { method: 'x-custom', result: 'great', unregistered: 'method' },
      { method: 'dkim', result: 'superb', unregistered: 'result' },
      { method: 'spf', result: 'softfail', unregistered: undefined },
      { method: 'dmarc', result: 'softfail', unregistered: 'result' },
    ]);
    expect(value.results[0]?.properties).toEqual([{ type: 'x-a', property: 'b', value: 'c' }]);
  });

  it('reads a method version and the field name in any case', () => {
    expect(parsed('AUTHENTICATION-RESULTS : example.com; dkim/1=pass').results[0]).toEqual({
      method: 'dkim',
      methodVersion: 1,
      result: 'pass',
      properties: [],
    });
  });

  it('reads quoted values, addresses, a quoted local part and what producers write unquoted', () => {
    const value = parsed(
      '"mx.example.com"; dkim=pass header.i="a b@example.com" header.b=gfT/i2HB+a= ' +
        'smtp.mailfrom="john doe"@example.com smtp.remote-ip=[192.0.2.1] header.s=""',
    );
    expect(value.authservId).toBe('mx.example.com');
    expect(value.results[0]?.properties.map((p) => p.value)).toEqual([
      'a b@example.com',
      'gfT/i2HB+a=',
      '"john doe"@example.com',
      '[192.0.2.1]',
      '',
    ]);
  });

  it('accepts empty and trailing semicolons, and none among them', () => {
    expect(parsed('example.com; spf=pass;').results).toHaveLength(1);
    expect(parsed('example.com;; spf=pass ; ;').results).toHaveLength(1);
    expect(parsed('example.com; NONE').results).toEqual([]);
    expect(parsed('example.com;').results).toEqual([]);
  });

  it('accepts a reason after the properties, and non-ASCII text', () => {
    const value = parsed('exämple.com; dkim=fail header.d=x.example reason="Tést"');
    expect(value.authservId).toBe('exämple.com');
    expect(value.results[0]).toMatchObject({ reason: 'Tést', properties: [{ value: 'x.example' }] });
  });

  it('tells a property type named reason from the reason', () => {
    expect(parsed('example.com; x=y reason.a=b').results[0]?.properties).toEqual([
      { type: 'reason', property: 'a', value: 'b' },
    ]);
  });
});

describe('parseAuthenticationResults: malformed fields', () => {
  it.each([
    ['', 'expected the authserv-id', 0],
    ['   (only a comment)  ', 'expected the authserv-id', 21],
    ['example.com', 'expected ";" after the authserv-id', 11],
    ['example.com spf=pass', 'expected ";" between results', 12],
    ['example.com; =pass', 'expected a method', 13],
    ['example.com; spf pass', 'expected "=" after the method', 17],
    ['example.com; spf=', 'expected a result', 17],
    ['example.com; dkim/=pass', 'expected a method version', 18],
    ['example.com 1234567890; none', 'the version is too long', 12],
    ['example.com; spf=pass smtp', 'expected "." after the property type "smtp"', 22],
    ['example.com; spf=pass smtp.=x', 'expected a property', 27],
    ['example.com; spf=pass smtp.mailfrom', 'expected "=" after the property', 35],
    ['example.com; spf=pass smtp.mailfrom=)', 'expected the property value', 36],
    ['example.com; spf=pass reason="a" reason="b"', 'a second reason', 33],
    ['example.com; spf=pass (unclosed', 'unclosed comment', 22],
    ['example.com; spf=pass reason="unclosed', 'unclosed quoted string', 29],
    ['example.com; spf=pass) x', 'expected a property type', 21],
  ])('%j', (text, reason, offset) => {
    expect(failure(parseAuthenticationResults(text))).toEqual({ ok: false, reason, offset });
  });

  it('refuses text over the length limit, which can be raised', () => {
    const long = `example.com; dkim=pass header.b="${'a'.repeat(70_000)}"`;
    expect(failure(parseAuthenticationResults(long))).toEqual({
      ok: false,
      reason: 'the field is longer than 65536 characters',
      offset: 65536,
    });
    expect(parseAuthenticationResults(long, { maxLength: 100_000 }).ok).toBe(true);
  });
});

describe('parseAuthenticationResults: hostile input', () => {
  const megabyte = 1024 * 1024;

  it('refuses 1 MB of parentheses at once with the default limit', () => {
    const started = performance.now();
    expect(failure(parseAuthenticationResults('('.repeat(megabyte))).reason).toMatch(/longer than/);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('reads 1 MB of unclosed or deeply nested comments in linear time without a limit', () => {
    const started = performance.now();
    expect(failure(parseAuthenticationResults('('.repeat(megabyte), { maxLength: Infinity }))).toEqual({
      ok: false,
      reason: 'unclosed comment',
      offset: 0,
    });
    const nested = `example.com ${'('.repeat(megabyte / 2)}${')'.repeat(megabyte / 2)}; none`;
    expect(parseAuthenticationResults(nested, { maxLength: Infinity })).toEqual({
      ok: true,
      value: { authservId: 'example.com', results: [] },
    });
    const escapes = `example.com; spf=pass (${'\\('.repeat(megabyte / 2)}`;
    expect(failure(parseAuthenticationResults(escapes, { maxLength: Infinity })).reason).toBe(
      'unclosed comment',
    );
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('reads many results and many comments in linear time', () => {
    const many = `example.com${'; dkim=pass (c) header.d="x\\"y"'.repeat(20_000)}`;
    const started = performance.now();
    const outcome = parseAuthenticationResults(many, { maxLength: Infinity });
    expect(outcome.ok && outcome.value.results.length).toBe(20_000);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('isOwnAuthenticationResults', () => {
  it('compares the authserv-id without regard to case, with or without the field name', () => {
    expect(
      isOwnAuthenticationResults('Authentication-Results: MX.Example.COM; spf=pass', 'mx.example.com'),
    ).toBe(true);
    expect(isOwnAuthenticationResults(' (forged) "mx.example.com" 1; none', 'MX.EXAMPLE.COM')).toBe(true);
    expect(isOwnAuthenticationResults('mx.example.com.evil; none', 'mx.example.com')).toBe(false);
    expect(isOwnAuthenticationResults('evil.example; none', 'mx.example.com')).toBe(false);
  });

  it('claims a field that is malformed after our authserv-id, and refuses one that cannot be read', () => {
    expect(isOwnAuthenticationResults('mx.example.com; spf=', 'mx.example.com')).toBe(true);
    expect(isOwnAuthenticationResults('(unclosed mx.example.com', 'mx.example.com')).toBe(false);
    expect(isOwnAuthenticationResults('', 'mx.example.com')).toBe(false);
  });
});

describe('parseAuthenticationResults: Microsoft 365 fields', () => {
  it('reads a field without authserv-id, with action=none and compauth, giving an empty authserv-id', () => {
    const value = parsed(
      'Authentication-Results: spf=pass (sender IP is 209.85.128.41)\r\n smtp.mailfrom=gmail.com; dkim=pass (signature was verified)\r\n header.d=gmail.com;dmarc=pass action=none\r\n header.from=gmail.com;compauth=pass\r\n reason=100',
    );
    expect(value).toEqual({
      authservId: '',
      results: [
        {
          method: 'spf',
          result: 'pass',
          properties: [{ type: 'smtp', property: 'mailfrom', value: 'gmail.com' }],
        },
        {
          method: 'dkim',
          result: 'pass',
          properties: [{ type: 'header', property: 'd', value: 'gmail.com' }],
        },
        {
          method: 'dmarc',
          result: 'pass',
          properties: [
            { type: '', property: 'action', value: 'none' },
            { type: 'header', property: 'from', value: 'gmail.com' },
          ],
        },
        { method: 'compauth', result: 'pass', reason: '100', properties: [], unregistered: 'method' },
      ],
    });
  });

  it('skips the lone recipient domains of older fields', () => {
    const value = parsed(
      'spf=fail (sender IP is 192.0.2.1) smtp.mailfrom=example.com; contoso.com; dkim=fail (body hash did not verify) header.d=example.com;contoso.com; dmarc=bestguesspass action=none header.from=example.com;',
    );
    expect(value.authservId).toBe('');
    expect(value.results.map((result) => `${result.method}=${result.result}`)).toEqual([
      'spf=fail',
      'dkim=fail',
      'dmarc=bestguesspass',
    ]);
  });

  it('reads an empty property value, as written for a message without a usable From', () => {
    expect(
      parsed('spf=temperror smtp.helo=x.example; dmarc=none action=none header.from=;').results[1],
    ).toEqual({
      method: 'dmarc',
      result: 'none',
      properties: [
        { type: '', property: 'action', value: 'none' },
        { type: 'header', property: 'from', value: '' },
      ],
    });
    expect(parsed('example.com; spf=pass smtp.mailfrom=').results[0]?.properties).toEqual([
      { type: 'smtp', property: 'mailfrom', value: '' },
    ]);
  });

  it('still reads a first method with a version or spaces around "=" as a result', () => {
    expect(parsed('dkim/1 = pass header.d=example.com')).toMatchObject({
      authservId: '',
      results: [{ method: 'dkim', methodVersion: 1, result: 'pass' }],
    });
  });
});

import { describe, expect, it } from 'vitest';
import {
  type DkimSignature,
  dkimAlgorithms,
  parseDkimSignature,
  stripSignatureValue,
} from '../../src/dkim/signature.js';

/** RFC 8463 Appendix A.3: the Ed25519 signature's value, after `DKIM-Signature:`. */
const ED25519_VALUE = [
  ' v=1; a=ed25519-sha256; c=relaxed/relaxed;',
  ' d=football.example.com; i=@football.example.com;',
  ' q=dns/txt; s=brisbane; t=1528637909; h=from : to :',
  ' subject : date : message-id : from : subject : date;',
  ' bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;',
  ' b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus',
  ' Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==',
].join('\r\n');

/** RFC 8463 Appendix A.3: the RSA signature's value. */
const RSA_VALUE = [
  ' v=1; a=rsa-sha256; c=relaxed/relaxed;',
  ' d=football.example.com; i=@football.example.com;',
  ' q=dns/txt; s=test; t=1528637909; h=from : to : subject :',
  ' date : message-id : from : subject : date;',
  ' bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;',
  ' b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3',
  ' DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz',
  ' dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=',
].join('\r\n');

const MINIMAL = 'v=1; a=rsa-sha256; d=example.com; s=sel; h=From; bh=AAAA; b=AAAA';

const parse = (value: string): DkimSignature => {
  const parsed = parseDkimSignature(value);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.signature;
};
const reasonOf = (value: string) => {
  const parsed = parseDkimSignature(value);
  return parsed.ok ? undefined : parsed.reason;
};
/** {@link MINIMAL} with one tag replaced (or removed, for `undefined`) or added. */
const withTag = (name: string, value: string | undefined) => {
  const tags = MINIMAL.split('; ').filter((tag) => !tag.startsWith(`${name}=`));
  return [...tags, ...(value === undefined ? [] : [`${name}=${value}`])].join('; ');
};

describe('parseDkimSignature', () => {
  it('reads the RFC 8463 Ed25519 example', () => {
    const signature = parse(ED25519_VALUE);
    expect(signature).toMatchObject({
      algorithm: 'ed25519-sha256',
      signature: '/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11BusFa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==',
      bodyHash: '2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=',
      headerCanonicalization: 'relaxed',
      bodyCanonicalization: 'relaxed',
      domain: 'football.example.com',
      identity: '@football.example.com',
      selector: 'brisbane',
      timestamp: 1528637909,
      signedHeaders: ['from', 'to', 'subject', 'date', 'message-id', 'from', 'subject', 'date'],
    });
    expect(signature.bodyLength).toBeUndefined();
    expect(signature.expiration).toBeUndefined();
    expect([...signature.tags.keys()]).toEqual(['v', 'a', 'c', 'd', 'i', 'q', 's', 't', 'h', 'bh', 'b']);
    expect(dkimAlgorithms[signature.algorithm]).toEqual({
      keyType: 'ed25519',
      hash: 'sha256',
      refused: false,
    });
  });

  it('reads the RFC 8463 RSA example', () => {
    const signature = parse(RSA_VALUE);
    expect(signature.algorithm).toBe('rsa-sha256');
    expect(signature.selector).toBe('test');
    expect(signature.signature).toMatch(/^F45dVWDf\S+Y\+8=$/);
  });

  it('applies the defaults', () => {
    expect(parse(MINIMAL)).toEqual({
      algorithm: 'rsa-sha256',
      signature: 'AAAA',
      bodyHash: 'AAAA',
      headerCanonicalization: 'simple',
      bodyCanonicalization: 'simple',
      domain: 'example.com',
      signedHeaders: ['from'],
      identity: '@example.com',
      selector: 'sel',
      tags: expect.any(Map),
    });
    expect(parse(withTag('c', 'relaxed'))).toMatchObject({
      headerCanonicalization: 'relaxed',
      bodyCanonicalization: 'simple',
    });
    expect(parse(withTag('c', 'simple/relaxed'))).toMatchObject({
      headerCanonicalization: 'simple',
      bodyCanonicalization: 'relaxed',
    });
  });

  it('reads the optional tags', () => {
    const signature = parse(
      `${MINIMAL}; l=1234; t=100; x=200; q=foo/bar:dns/txt; unknown=tag;` +
        ' z=From:a=40b.example|Subject:caf=C3=A9=20x',
    );
    expect(signature).toMatchObject({
      bodyLength: 1234,
      timestamp: 100,
      expiration: 200,
      copiedHeaders: ['From:a@b.example', 'Subject:café x'],
    });
    expect(signature.tags.get('unknown')).toBe('tag');
    expect(parse(withTag('x', '101; t=100')).expiration).toBe(101);
  });

  it('accepts i= in d= or a subdomain of it, ignoring case, and decodes it', () => {
    expect(parse(withTag('i', 'joe@example.com')).identity).toBe('joe@example.com');
    expect(parse(withTag('i', 'joe=40home@Mail.EXAMPLE.com')).identity).toBe('joe@home@Mail.EXAMPLE.com');
    expect(parse(withTag('d', 'Example.COM; i=@sub.example.com')).identity).toBe('@sub.example.com');
  });

  it('flags rsa-sha1 as refused (RFC 8301)', () => {
    const signature = parse(withTag('a', 'rsa-sha1'));
    expect(signature.algorithm).toBe('rsa-sha1');
    expect(dkimAlgorithms[signature.algorithm].refused).toBe(true);
  });

  it('gives a reason for each malformed signature', () => {
    expect(reasonOf('v=1; v=1')).toBe('duplicate tag "v"');
    expect(reasonOf('v=1;;')).toBe('empty tag');
    for (const name of ['v', 'a', 'b', 'bh', 'd', 'h', 's']) {
      expect(reasonOf(withTag(name, undefined))).toBe(`missing tag "${name}"`);
    }
    expect(reasonOf(withTag('v', '2'))).toBe('unsupported version "2"');
    expect(reasonOf(withTag('a', 'rsa-sha512'))).toBe('unsupported algorithm "rsa-sha512"');
    expect(reasonOf(withTag('a', 'constructor'))).toBe('unsupported algorithm "constructor"');
    expect(reasonOf(withTag('h', 'To:Subject'))).toBe('tag "h" does not include From');
    expect(reasonOf(withTag('h', 'From::To'))).toBe('invalid header field list in tag "h"');
    expect(reasonOf(withTag('i', 'joe@example.org'))).toBe(
      'identity "joe@example.org" is not in the signing domain "example.com"',
    );
    expect(reasonOf(withTag('i', 'joe@badexample.com'))).toBe(
      'identity "joe@badexample.com" is not in the signing domain "example.com"',
    );
    expect(reasonOf(withTag('i', 'joe'))).toBe('invalid identity in tag "i"');
    expect(reasonOf(withTag('i', 'joe=4@example.com'))).toBe('invalid quoted-printable in tag "i"');
    expect(reasonOf(withTag('t', '200; x=100'))).toBe('expiration "x" is not after timestamp "t"');
    expect(reasonOf(withTag('t', '100; x=100'))).toBe('expiration "x" is not after timestamp "t"');
    expect(reasonOf(withTag('t', '1234567890123'))).toBe('invalid timestamp in tag "t"');
    expect(reasonOf(withTag('x', '-1'))).toBe('invalid expiration in tag "x"');
    expect(reasonOf(withTag('l', '12a'))).toBe('invalid body length in tag "l"');
    expect(reasonOf(withTag('l', '99999999999999999999'))).toBe('invalid body length in tag "l"');
    expect(reasonOf(withTag('b', 'AAA'))).toBe('invalid base64 in tag "b"');
    expect(reasonOf(withTag('b', ''))).toBe('invalid base64 in tag "b"');
    expect(reasonOf(withTag('b', 'AA=A'))).toBe('invalid base64 in tag "b"');
    expect(reasonOf(withTag('bh', 'AA!A'))).toBe('invalid base64 in tag "bh"');
    expect(reasonOf(withTag('c', 'relaxed/loose'))).toBe('unsupported canonicalization "relaxed/loose"');
    expect(reasonOf(withTag('d', 'localhost'))).toBe('invalid domain "localhost"');
    expect(reasonOf(withTag('d', 'exa_mple.com'))).toBe('invalid domain "exa_mple.com"');
    expect(reasonOf(withTag('s', '-sel'))).toBe('invalid selector "-sel"');
    expect(reasonOf(withTag('q', 'dns'))).toBe('no supported query method in tag "q"');
    expect(reasonOf(withTag('z', 'From:=XY'))).toBe('invalid quoted-printable in tag "z"');
  });
});

describe('stripSignatureValue', () => {
  it('removes the b= value and its folding, nothing else', () => {
    expect(stripSignatureValue(ED25519_VALUE)).toBe(
      [
        ' v=1; a=ed25519-sha256; c=relaxed/relaxed;',
        ' d=football.example.com; i=@football.example.com;',
        ' q=dns/txt; s=brisbane; t=1528637909; h=from : to :',
        ' subject : date : message-id : from : subject : date;',
        ' bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;',
        ' b=',
      ].join('\r\n'),
    );
  });

  it('finds b= anywhere, not bh=, and keeps the space before the tag', () => {
    expect(stripSignatureValue('v=1; b =\r\n abc\r\n def ; bh=xyz')).toBe('v=1; b =; bh=xyz');
    expect(stripSignatureValue('bh=xyz;\r\n\tb=abc;')).toBe('bh=xyz;\r\n\tb=;');
    expect(stripSignatureValue('b=;')).toBe('b=;');
    expect(stripSignatureValue('v=1; bh=x')).toBe('v=1; bh=x');
  });
});

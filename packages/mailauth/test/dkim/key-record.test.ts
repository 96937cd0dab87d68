import { describe, expect, it } from 'vitest';
import { type DkimKeyRecord, parseDkimKeyRecord } from '../../src/dkim/key-record.js';

const parse = (text: string): DkimKeyRecord => {
  const parsed = parseDkimKeyRecord(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.record;
};
const reasonOf = (text: string) => {
  const parsed = parseDkimKeyRecord(text);
  return parsed.ok ? undefined : parsed.reason;
};

describe('parseDkimKeyRecord', () => {
  it('reads the RFC 8463 Appendix A.2 Ed25519 key record', () => {
    expect(parse('v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=')).toEqual({
      keyType: 'ed25519',
      publicKey: '11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=',
      revoked: false,
      testing: false,
      noSubdomains: false,
      tags: new Map([
        ['v', 'DKIM1'],
        ['k', 'ed25519'],
        ['p', '11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo='],
      ]),
    });
  });

  it('defaults to RSA, and reads h=, t=, n= and folded keys', () => {
    const record = parse('p=MIGf MA0G\r\n CSqG; h=sha256 : sha512; t=y:s:q; n=see=20here; g=*');
    expect(record).toMatchObject({
      keyType: 'rsa',
      publicKey: 'MIGfMA0GCSqG',
      hashAlgorithms: ['sha256', 'sha512'],
      testing: true,
      noSubdomains: true,
      notes: 'see=20here',
    });
    expect(parse('p=AAAA; s=email:tlsrpt').revoked).toBe(false);
    expect(parse('s=*; p=AAAA').keyType).toBe('rsa');
  });

  it('reads an empty p= as a revoked key', () => {
    expect(parse('v=DKIM1; p=')).toMatchObject({ publicKey: '', revoked: true });
  });

  it('gives a reason for each unusable record', () => {
    expect(reasonOf('')).toBe('empty tag list');
    expect(reasonOf('p=AAAA; p=BBBB')).toBe('duplicate tag "p"');
    expect(reasonOf('k=rsa; v=DKIM1; p=AAAA')).toBe('tag "v" is not the first tag');
    expect(reasonOf('v=DKIM2; p=AAAA')).toBe('unsupported version "DKIM2"');
    expect(reasonOf('v=dkim1; p=AAAA')).toBe('unsupported version "dkim1"');
    expect(reasonOf('v=DKIM1; k=dsa; p=AAAA')).toBe('unsupported key type "dsa"');
    expect(reasonOf('v=DKIM1; k=rsa')).toBe('missing tag "p"');
    expect(reasonOf('p=AAA')).toBe('invalid base64 in tag "p"');
    expect(reasonOf('p=AAAA; h=sha256:')).toBe('invalid list in tag "h"');
    expect(reasonOf('p=AAAA; s=')).toBe('invalid list in tag "s"');
    expect(reasonOf('p=AAAA; s=tlsrpt')).toBe('the key is not for email');
    expect(reasonOf('p=AAAA; t=y::s')).toBe('invalid list in tag "t"');
  });
});

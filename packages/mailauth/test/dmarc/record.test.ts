import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DmarcRecord, parseDmarcRecord } from '../../src/dmarc/record.js';

const parse = (text: string): DmarcRecord => {
  const parsed = parseDmarcRecord(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.record;
};
const reasonOf = (text: string) => {
  const parsed = parseDmarcRecord(text);
  return parsed.ok ? undefined : parsed.reason;
};

const DEFAULTS = {
  policyDefaulted: false,
  percent: 100,
  dkimAlignment: 'relaxed',
  spfAlignment: 'relaxed',
  failureOptions: ['0'],
  reportFormats: ['afrf'],
  reportInterval: 86400,
  aggregateReportUris: [],
  failureReportUris: [],
  testing: false,
  publicSuffix: 'u',
  invalidTags: [],
};

const FEEDBACK = {
  uri: 'mailto:dmarc-feedback@example.com',
  scheme: 'mailto',
  address: 'dmarc-feedback@example.com',
};

// RFC 7489 Appendix B.2: the Domain Owner examples, as {record, facts}.
const APPENDIX_B2 = [
  {
    section: 'B.2.1 entire domain, monitoring only',
    text: 'v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com',
    facts: {
      policy: 'none',
      aggregateReportUris: [FEEDBACK],
    },
  },
  {
    section: 'B.2.2 entire domain, monitoring only, per-message reports',
    text: 'v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; ruf=mailto:auth-reports@example.com',
    facts: {
      policy: 'none',
      aggregateReportUris: [FEEDBACK],
      failureReportUris: [
        { uri: 'mailto:auth-reports@example.com', scheme: 'mailto', address: 'auth-reports@example.com' },
      ],
    },
  },
  {
    section: 'B.2.3 per-message failure reports directed to third party',
    text:
      'v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com; ' +
      'ruf=mailto:auth-reports@thirdparty.example.net',
    facts: {
      policy: 'none',
      aggregateReportUris: [FEEDBACK],
      failureReportUris: [
        {
          uri: 'mailto:auth-reports@thirdparty.example.net',
          scheme: 'mailto',
          address: 'auth-reports@thirdparty.example.net',
        },
      ],
    },
  },
  {
    section: 'B.2.4 subdomain, sampling, and multiple aggregate report URIs',
    text:
      'v=DMARC1; p=quarantine;\r\n rua=mailto:dmarc-feedback@example.com,\r\n ' +
      'mailto:tld-test@thirdparty.example.net!10m;\r\n pct=25',
    facts: {
      policy: 'quarantine',
      percent: 25,
      aggregateReportUris: [
        FEEDBACK,
        {
          uri: 'mailto:tld-test@thirdparty.example.net',
          scheme: 'mailto',
          address: 'tld-test@thirdparty.example.net',
          maxSize: 10 * 2 ** 20,
        },
      ],
    },
  },
] as const;

describe('parseDmarcRecord', () => {
  it.each(APPENDIX_B2)('reads RFC 7489 $section', ({ text, facts }) => {
    expect(parse(text)).toMatchObject({ ...DEFAULTS, ...facts });
  });

  it('reads every tag, with case-insensitive names and keyword values', () => {
    const record = parse(
      'V=DMARC1; P=Reject; SP=quarantine; np=NONE; pct=0; adkim=S; aspf=s; fo=1:D:s:1; rf=AFRF:iodef; ' +
        'ri=3600; ruf=https://example.com/r!5K; t=Y; psd=N; future=1',
    );
    expect(record).toMatchObject({
      policy: 'reject',
      subdomainPolicy: 'quarantine',
      nonExistentPolicy: 'none',
      percent: 0,
      dkimAlignment: 'strict',
      spfAlignment: 'strict',
      failureOptions: ['1', 'd', 's'],
      reportFormats: ['afrf', 'iodef'],
      reportInterval: 3600,
      failureReportUris: [{ uri: 'https://example.com/r', scheme: 'https', maxSize: 5 * 1024 }],
      testing: true,
      publicSuffix: 'n',
      invalidTags: [],
    });
    expect(record.tags.get('future')).toBe('1');
    expect(record.tags.get('p')).toBe('Reject');
    expect(parse('v=DMARC1; p=none; t=n; psd=y').publicSuffix).toBe('y');
  });

  it('reads size limits in powers of two, and keeps non-mailto URIs', () => {
    const sizes = parse(
      'v=DMARC1; p=none; rua=mailto:a@x.example!500,mailto:b@x.example!1g, https://r.example!2t',
    );
    expect(sizes.aggregateReportUris.map((uri) => uri.maxSize)).toEqual([500, 2 ** 30, 2 * 2 ** 40]);
    expect(parse('v=DMARC1; p=none; rua=mailto:a%2Bb@x.example?subject=dmarc').aggregateReportUris).toEqual([
      { uri: 'mailto:a%2Bb@x.example?subject=dmarc', scheme: 'mailto', address: 'a+b@x.example' },
    ]);
  });

  it('replaces invalid values of other tags by their defaults and lists them', () => {
    const record = parse(
      'v=DMARC1; p=reject; pct=101; adkim=x; aspf=; fo=2; rf=a b; ri=-1; t=maybe; psd=q; ' +
        'rua=mailto:ok@x.example, not a uri, mailto:big@x.example!9999999999t; ruf=mailto:nobody',
    );
    expect(record).toMatchObject({
      ...DEFAULTS,
      policy: 'reject',
      aggregateReportUris: [{ uri: 'mailto:ok@x.example' }],
      invalidTags: ['pct', 'adkim', 'aspf', 'fo', 'rf', 'ri', 't', 'psd', 'rua', 'ruf'],
    });
    expect(parse('v=DMARC1; p=none; ri=99999999999').reportInterval).toBe(86400);
    expect(parse('v=DMARC1; p=none; rua=mailto:a@x.example!1!2').invalidTags).toEqual(['rua']);
    expect(parse('v=DMARC1; p=none; rua=mailto:%FF@x.example').invalidTags).toEqual(['rua']);
  });

  it('reads a record with a missing or invalid p=, sp= or np= as p=none when rua= is valid (RFC 7489 §6.6.3)', () => {
    const rua = 'rua=mailto:d@example.com';
    for (const text of [
      `v=DMARC1; ${rua}`,
      `v=DMARC1; p=block; ${rua}`,
      `v=DMARC1; p=reject; sp=block; ${rua}`,
      `v=DMARC1; p=reject; sp=reject; np=; ${rua}`,
    ]) {
      const record = parse(text);
      expect(record).toMatchObject({ policy: 'none', policyDefaulted: true });
      expect(record.subdomainPolicy).toBeUndefined();
      expect(record.nonExistentPolicy).toBeUndefined();
    }
  });

  it('gives a reason for each record it cannot apply', () => {
    expect(reasonOf('')).toBe('empty tag list');
    expect(reasonOf('v=DMARC1; p=none; p=reject')).toBe('duplicate tag "p"');
    expect(reasonOf('v=DMARC1; p=none; P=reject')).toBe('duplicate tag "p"');
    expect(reasonOf('v=DMARC1; p=none;; ')).toBe('empty tag');
    expect(reasonOf('p=none; v=DMARC1')).toBe('tag "v" is not the first tag');
    expect(reasonOf('v=spf1 -all')).toBe('unsupported version "spf1 -all"');
    expect(reasonOf('v=DMARC2; p=none')).toBe('unsupported version "DMARC2"');
    expect(reasonOf('v=dmarc1; p=none')).toBe('unsupported version "dmarc1"');
    expect(reasonOf('v=DMARC1')).toBe('missing tag "p" and no valid "rua" URI');
    expect(reasonOf('v=DMARC1; p=block')).toBe('invalid value for tag "p" and no valid "rua" URI');
    expect(reasonOf('v=DMARC1; p=none; sp=x; rua=nope')).toBe(
      'invalid value for tag "sp" and no valid "rua" URI',
    );
    expect(reasonOf('v=DMARC1; p=none; np=x')).toBe('invalid value for tag "np" and no valid "rua" URI');
  });

  it('never throws, on any string', () => {
    const tagText = fc
      .array(
        fc.tuple(
          fc.constantFrom(
            'v',
            'p',
            'sp',
            'np',
            'pct',
            'adkim',
            'aspf',
            'fo',
            'rf',
            'ri',
            'rua',
            'ruf',
            't',
            'psd',
          ),
          fc.string(),
        ),
        { maxLength: 8 },
      )
      .map((tags) => `v=DMARC1; ${tags.map(([name, value]) => `${name}=${value}`).join(';')}`);
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), tagText), (text) => {
        const parsed = parseDmarcRecord(text);
        expect(typeof parsed.ok).toBe('boolean');
      }),
    );
  });
});

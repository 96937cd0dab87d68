import { createPrivateKey, createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OpensslDkimKey, opensslDkimKey } from '../peers/dkim-keys.js';
import { type DnsServer, dnsmasqAvailable, startDnsServer } from '../peers/dns-server.js';
import { opendkimAvailable, opendkimSign, opendkimTestKey, opendkimVerify } from '../peers/opendkim-tools.js';
import { privateResolverAvailable } from '../peers/private-resolver.js';
import {
  dkimpyAvailable,
  dkimpySign,
  dkimpyVerify,
  dkimpyVerifyDetailed,
  pyspfAvailable,
  pyspfCheck,
} from '../peers/python-tools.js';

/**
 * One check per peer helper of ../peers, proving each Debian tool runs here and the helper drives it:
 * openssl makes keys, dkimpy and OpenDKIM sign and verify each other's signatures, pyspf evaluates a
 * record our dnsmasq serves. The cross-checks against Postwire's own DKIM and SPF build on these.
 */

const hasDnsmasq = dnsmasqAvailable() || skipping('dnsmasq (Debian dnsmasq-base)');
const hasDkimpy = dkimpyAvailable() || skipping('dkimpy (Debian python3-dkim, python3-nacl)');
const hasOpendkim = opendkimAvailable() || skipping('opendkim-tools');
const hasPyspf = pyspfAvailable() || skipping('pyspf (Debian python3-spf, python3-dnspython)');
const hasPrivateResolver = privateResolverAvailable();
if (!hasPrivateResolver) console.warn('skipping opendkim-testmsg verification: needs root, unshare and ip');

function skipping(what: string): false {
  console.warn(`skipping the peer smoke tests of ${what}: not installed`);
  return false;
}

const MESSAGE = Buffer.from(
  [
    'Date: Mon, 01 Jan 2024 00:00:00 +0000',
    'From: Alice <alice@example.test>',
    'To: bob@example.org',
    'Subject: peers smoke test',
    'Message-ID: <smoke@example.test>',
    '',
    'Hello Bob,',
    '',
    'this message is signed by the real tools.',
    '',
  ].join('\r\n'),
);

/** The message with one body byte changed. */
function tampered(signed: Uint8Array): Buffer {
  return Buffer.from(Buffer.from(signed).toString('latin1').replace('Hello Bob', 'Hello Bib'), 'latin1');
}

let rsa: OpensslDkimKey;
let rsa1024: OpensslDkimKey;
let ed25519: OpensslDkimKey;
beforeAll(async () => {
  [rsa, rsa1024, ed25519] = await Promise.all([
    opensslDkimKey('rsa2048'),
    opensslDkimKey('rsa1024'),
    opensslDkimKey('ed25519'),
  ]);
});

describe('openssl keys', () => {
  it('makes RSA keys whose p= is the SubjectPublicKeyInfo of the private key', () => {
    for (const [key, bits] of [
      [rsa, 2048],
      [rsa1024, 1024],
    ] as const) {
      const publicKey = createPublicKey(createPrivateKey(key.privatePem));
      expect(publicKey.asymmetricKeyDetails?.modulusLength).toBe(bits);
      expect(publicKey.export({ type: 'spki', format: 'der' }).toString('base64')).toBe(key.publicValue);
      expect(key.privatePem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      expect(key.record).toBe(`v=DKIM1; k=rsa; p=${key.publicValue}`);
    }
  });

  it('makes Ed25519 keys whose p= is the raw 32-byte public key and whose seed is the private key', () => {
    const privateKey = createPrivateKey(ed25519.privatePem);
    const raw = createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).subarray(12);
    expect(raw.toString('base64')).toBe(ed25519.publicValue);
    expect(Buffer.from(ed25519.publicValue, 'base64')).toHaveLength(32);
    expect(Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url').toString('base64')).toBe(
      ed25519.ed25519Seed,
    );
    expect(ed25519.record).toBe(`v=DKIM1; k=ed25519; p=${ed25519.publicValue}`);
  });
});

describe.skipIf(!hasDkimpy)('dkimpy', () => {
  it('signs with RSA and verifies its own signature from a TXT map', async () => {
    const { header, signed } = await dkimpySign(MESSAGE, {
      selector: 'sel',
      domain: 'example.test',
      privateKeyPem: rsa.privatePem,
      canonicalization: 'relaxed/relaxed',
      headers: ['from', 'to', 'subject', 'date'],
      timestamp: 1_700_000_000,
    });
    expect(header).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example.test;/);
    expect(header).toContain('t=1700000000;');
    // dkimpy folds with CRLF SP and writes h= with spaces around the colons.
    expect(header.replace(/\r\n/g, '')).toMatch(/ h=from : to : subject : date;/);
    expect(header.endsWith('\r\n')).toBe(true);
    const dnsTxt = { 'sel._domainkey.example.test': rsa.record };
    expect(await dkimpyVerify(signed, { dnsTxt })).toBe(true);
    expect(await dkimpyVerify(tampered(signed), { dnsTxt })).toBe(false);
    const wrongKey = await dkimpyVerifyDetailed(signed, {
      dnsTxt: { 'sel._domainkey.example.test': rsa1024.record },
    });
    expect(wrongKey.valid).toBe(false);
    expect(wrongKey.log).not.toBe('');
    const noKey = await dkimpyVerifyDetailed(signed, { dnsTxt: {} });
    expect(noKey).toMatchObject({ valid: false });
    expect(noKey.log).toMatch(/missing public key/);
  });

  it('signs with Ed25519 (RFC 8463) and verifies it', async () => {
    const { header, signed } = await dkimpySign(MESSAGE, {
      selector: 'ed',
      domain: 'example.test',
      privateKeyPem: ed25519.privatePem,
      canonicalization: 'simple/simple',
      bodyLength: true,
    });
    expect(header).toMatch(/a=ed25519-sha256; c=simple\/simple;/);
    expect(header).toMatch(/ l=\d+;/);
    expect(await dkimpyVerify(signed, { dnsTxt: { 'ed._domainkey.example.test.': ed25519.record } })).toBe(
      true,
    );
  });

  it.skipIf(!hasDnsmasq)('looks the key up in our dnsmasq when given servers', async () => {
    const dns = await startDnsServer({ txt: { 'sel._domainkey.example.test': [rsa.record] } });
    try {
      const { signed } = await dkimpySign(MESSAGE, {
        selector: 'sel',
        domain: 'example.test',
        privateKeyPem: rsa.privatePem,
      });
      expect(await dkimpyVerify(signed, { servers: dns.servers })).toBe(true);
    } finally {
      await dns.stop();
    }
  });
});

describe.skipIf(!hasOpendkim)('opendkim-tools', () => {
  it('opendkim-testmsg signs (rsa-sha1, relaxed/simple), and dkimpy verifies it', async () => {
    const { header, signed } = await opendkimSign(MESSAGE, {
      selector: 'od',
      domain: 'example.test',
      privateKeyPem: rsa1024.privatePem,
    });
    expect(header).toMatch(/^DKIM-Signature: v=1; a=rsa-sha1; c=relaxed\/simple; d=example.test; s=od;\r\n/);
    expect(header.endsWith('\r\n')).toBe(true);
    if (hasDkimpy) {
      expect(await dkimpyVerify(signed, { dnsTxt: { 'od._domainkey.example.test': rsa1024.record } })).toBe(
        true,
      );
    }
  });

  it.skipIf(!hasDnsmasq)('opendkim-testkey checks a published key against its private key', async () => {
    const dns = await startDnsServer({ txt: { 'sel._domainkey.example.test': [rsa.record] } });
    try {
      const check = (privateKeyPem?: string, selector = 'sel') =>
        opendkimTestKey({
          selector,
          domain: 'example.test',
          servers: dns.servers,
          ...(privateKeyPem ? { privateKeyPem } : {}),
        });
      expect(await check(rsa.privatePem)).toMatchObject({ status: 'ok', code: 0 });
      expect(await check()).toMatchObject({ status: 'ok' });
      expect(await check(rsa1024.privatePem)).toMatchObject({ status: 'mismatch', code: 65 });
      const missing = await check(undefined, 'nope');
      expect(missing).toMatchObject({ status: 'unavailable', code: 69 });
      expect(missing.output).toMatch(/record not found/);
    } finally {
      await dns.stop();
    }
  });

  it.skipIf(!hasDkimpy || !hasPrivateResolver)(
    'opendkim-testmsg verifies dkimpy signatures (RSA and Ed25519) in a private namespace',
    async () => {
      const rsaSigned = (
        await dkimpySign(MESSAGE, { selector: 'sel', domain: 'example.test', privateKeyPem: rsa.privatePem })
      ).signed;
      const edSigned = (
        await dkimpySign(MESSAGE, {
          selector: 'ed',
          domain: 'example.test',
          privateKeyPem: ed25519.privatePem,
        })
      ).signed;
      const dnsTxt = {
        'sel._domainkey.example.test': rsa.record,
        'ed._domainkey.example.test': ed25519.record,
      };
      expect(await opendkimVerify(rsaSigned, { dnsTxt })).toEqual({ valid: true, output: '' });
      expect(await opendkimVerify(edSigned, { dnsTxt })).toEqual({ valid: true, output: '' });
      expect(await opendkimVerify(tampered(rsaSigned), { dnsTxt })).toEqual({
        valid: false,
        output: 'opendkim-testmsg: dkim_eom(): Bad signature',
      });
      expect((await opendkimVerify(rsaSigned, { dnsTxt: {} })).valid).toBe(false);
    },
  );
});

describe.skipIf(!hasPyspf || !hasDnsmasq)('pyspf', () => {
  let dns: DnsServer;
  beforeAll(async () => {
    dns = await startDnsServer({
      txt: {
        'example.test': ['v=spf1 ip4:192.0.2.0/24 include:_spf.example.test -all'],
        '_spf.example.test': ['v=spf1 a:mail.example.test ~all'],
      },
      a: { 'mail.example.test': ['198.51.100.25'] },
    });
  });
  afterAll(async () => {
    await dns?.stop();
  });

  it('evaluates records our dnsmasq serves', async () => {
    const check = (ip: string, sender = 'alice@example.test') =>
      pyspfCheck({ ip, sender, helo: 'mail.example.test', servers: dns.servers });
    const pass = await check('192.0.2.7');
    expect(pass.result).toBe('pass');
    expect(pass.header).toMatch(
      /^Pass \(receiver\.postwire\.test: domain of example\.test designates 192\.0\.2\.7 /,
    );
    expect(pass.header).toContain('mechanism="ip4:192.0.2.0/24"; identity=mailfrom');
    expect((await check('198.51.100.25')).result).toBe('pass'); // through include: and a:
    expect((await check('203.0.113.9')).result).toBe('fail');
    expect((await check('192.0.2.7', 'alice@nope.example.test')).result).toBe('none');
  });
});

import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import {
  createSha256,
  type DkimSigner,
  dkimAuthenticationResult,
  signDkim,
  verifyDkim,
} from '@postwire/mailauth';
import { nodeSha256 } from '@postwire/mailauth/node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ed25519Key, keyRecord, rsaKey, zoneResolver } from './keys.js';

const rsa = rsaKey(2048);
const ed = ed25519Key();
const zone = {
  'rsa._domainkey.example.com': [keyRecord(rsa)],
  'ed._domainkey.example.com': [keyRecord(ed)],
};
const NOW = Date.UTC(2026, 10, 24);
const now = () => NOW;

const MESSAGE =
  'From: Joe SixPack <joe@football.example.com>\r\n' +
  'To: Suzie Q <suzie@shopping.example.net>\r\n' +
  'Subject:   Is dinner ready?  \r\n' +
  '\tfolded\r\n' +
  'Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n' +
  'Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n' +
  '\r\n' +
  'Hi.\r\n' +
  '\r\n' +
  'We lost the game.    Are you hungry yet?\r\n' +
  '\r\n' +
  'Joe.\r\n' +
  '\r\n' +
  '\r\n';

const rsaSigner: DkimSigner = { domain: 'example.com', selector: 'rsa', privateKey: rsa.privatePem };
const edSigner: DkimSigner = {
  domain: 'example.com',
  selector: 'ed',
  privateKey: ed.privatePem,
  algorithm: 'ed25519-sha256',
};

async function signed(message: string, signers: DkimSigner | DkimSigner[], options = {}): Promise<string> {
  return (await signDkim(message, signers, { now, ...options })) + message;
}

async function verify(message: string | Uint8Array, options = {}) {
  return verifyDkim(message, { resolver: zoneResolver(zone), now, ...options });
}

describe('signDkim and verifyDkim', () => {
  const canonicalizations = ['simple/simple', 'simple/relaxed', 'relaxed/simple', 'relaxed/relaxed'] as const;

  it.each(canonicalizations)(
    'round-trips RSA-SHA256 and Ed25519-SHA256 with %s',
    async (canonicalization) => {
      const message = await signed(MESSAGE, [
        { ...rsaSigner, canonicalization },
        { ...edSigner, canonicalization },
      ]);
      const results = await verify(message);
      expect(results.map((result) => result.result)).toEqual(['pass', 'pass']);
      expect(results[0]!.keyBits).toBe(2048);
      expect(results[1]!.signature?.algorithm).toBe('ed25519-sha256');
      expect(results[0]!.signature?.headerCanonicalization).toBe(canonicalization.split('/')[0]);
    },
  );

  it('gives the same hashes with the portable and the native SHA-256', async () => {
    const portable = await signDkim(MESSAGE, [rsaSigner, edSigner], { now, sha256: createSha256 });
    const native = await signDkim(MESSAGE, [rsaSigner, edSigner], { now, sha256: nodeSha256 });
    expect(native).toBe(portable);
    const results = await verify(native + MESSAGE, { sha256: nodeSha256 });
    expect(results.map((result) => result.result)).toEqual(['pass', 'pass']);
  });

  it('writes a folded field with every tag, lines within 78 characters, and over-signs', async () => {
    const fields = await signDkim(
      MESSAGE,
      { ...rsaSigner, identity: 'joe@sub.example.com', expiresIn: 3600 },
      { now },
    );
    expect(fields.endsWith('\r\n')).toBe(true);
    for (const line of fields.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);
    const unfolded = fields.replace(/\r\n\t/g, ' ');
    expect(unfolded).toMatch(
      /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example\.com; s=rsa;/,
    );
    expect(unfolded).toContain(`t=${NOW / 1000}; x=${NOW / 1000 + 3600};`);
    expect(unfolded).toContain('i=joe@sub.example.com;');
    expect(unfolded).not.toContain('l=');
    // Present fields once each, plus one more for the over-signed ones; absent over-signed fields once.
    const h = /h=([^;]+);/.exec(unfolded)![1]!.replace(/ /g, '').split(':');
    expect(h.filter((name) => name === 'from')).toHaveLength(2);
    expect(h.filter((name) => name === 'subject')).toHaveLength(2);
    expect(h.filter((name) => name === 'sender')).toHaveLength(1);
    expect(h).not.toContain('received');
    const [result] = await verify(fields + MESSAGE);
    expect(result!.result).toBe('pass');
    expect(result!.signature?.identity).toBe('joe@sub.example.com');
  });

  it('fails a changed body, a changed signed field and an added over-signed field', async () => {
    const message = await signed(MESSAGE, [rsaSigner, edSigner]);
    const body = await verify(message.replace('hungry', 'Hungry'));
    expect(body.map((result) => [result.result, result.reason])).toEqual([
      ['fail', 'body hash did not verify'],
      ['fail', 'body hash did not verify'],
    ]);
    const header = await verify(message.replace('Is dinner', 'Was dinner'));
    expect(header.map((result) => [result.result, result.reason])).toEqual([
      ['fail', 'signature did not verify'],
      ['fail', 'signature did not verify'],
    ]);
    const added = await verify(message.replace('\r\n\r\nHi.', '\r\nFrom: attacker@evil.example\r\n\r\nHi.'));
    expect(added.map((result) => result.result)).toEqual(['fail', 'fail']);
    // A field that is not signed may be added in transit.
    const received = await verify(`Received: from relay.example.net\r\n${message}`);
    expect(received.map((result) => result.result)).toEqual(['pass', 'pass']);
  });

  it('relaxed canonicalization survives white space and case changes in transit, simple does not', async () => {
    const relaxed = await signed(MESSAGE, rsaSigner);
    const simple = await signed(MESSAGE, { ...rsaSigner, canonicalization: 'simple/simple' });
    const rewrap = (message: string) =>
      message.replace('Subject:   Is dinner', 'SUBJECT: Is  dinner').replace('game.    Are', 'game. Are ');
    expect((await verify(rewrap(relaxed)))[0]!.result).toBe('pass');
    expect((await verify(rewrap(simple)))[0]!.result).toBe('fail');
    // Trailing empty lines are not part of either canonical body.
    expect((await verify(`${simple}\r\n\r\n`))[0]!.result).toBe('pass');
  });

  it('signs l= only when asked, and verifies the signed part of a body that grew', async () => {
    const message = await signed(MESSAGE, { ...rsaSigner, bodyLength: true });
    const [result] = await verify(`${message}-- \r\nAdded by a list\r\n`);
    expect(result!.result).toBe('pass');
    expect(result!.signature?.bodyLength).toBeGreaterThan(0);
    const [shortened] = await verify(message.replace('Joe.\r\n', ''));
    expect(shortened!.result).toBe('fail');
    expect(shortened!.reason).toBe('l= is longer than the body');
  });

  it('reads a message with bare LF line ends as CRLF', async () => {
    const message = await signed(MESSAGE, [rsaSigner, edSigner]);
    const results = await verify(message.replace(/\r\n/g, '\n'));
    expect(results.map((result) => result.result)).toEqual(['pass', 'pass']);
    // Signing a bare-LF message gives the same signature, in bare-LF fields to prepend to it as they are.
    const lfMessage = MESSAGE.replace(/\r\n/g, '\n');
    const lfSigned = await signDkim(lfMessage, rsaSigner, { now });
    expect(lfSigned).toBe((await signDkim(MESSAGE, rsaSigner, { now })).replace(/\r\n/g, '\n'));
    expect((await verify(lfSigned + lfMessage))[0]!.result).toBe('pass');
  });

  it('property: any chunking of the message gives the same verdicts', async () => {
    const message = new TextEncoder().encode(await signed(MESSAGE, [rsaSigner, edSigner]));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: message.length }), { maxLength: 6 }),
        async (cuts) => {
          const points = [0, ...cuts.sort((a, b) => a - b), message.length];
          const chunks = points.slice(1).map((end, i) => message.subarray(points[i], end));
          async function* stream() {
            yield* chunks;
          }
          const results = await verifyDkim(stream(), { resolver: zoneResolver(zone), now });
          expect(results.map((result) => result.result)).toEqual(['pass', 'pass']);
          const lf = new TextEncoder().encode(new TextDecoder().decode(message).replace(/\r\n/g, '\n'));
          const lfChunks = points
            .slice(1)
            .map((end, i) => lf.subarray(Math.min(points[i]!, lf.length), Math.min(end, lf.length)));
          const lfResults = await verifyDkim(
            new ReadableStream({
              start: (c) => {
                for (const chunk of lfChunks) c.enqueue(chunk);
                c.close();
              },
            }),
            {
              resolver: zoneResolver(zone),
              now,
            },
          );
          expect(lfResults.map((result) => result.result)).toEqual(['pass', 'pass']);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('accepts PKCS #1 keys, a dkimpy Ed25519 seed, and Web Crypto keys', async () => {
    const pkcs1 = createPrivateKey(rsa.privatePem).export({ type: 'pkcs1', format: 'pem' }) as string;
    const seed = createPrivateKey(ed.privatePem)
      .export({ format: 'der', type: 'pkcs8' })
      .subarray(16)
      .toString('base64');
    const webRsa = await crypto.subtle.importKey(
      'pkcs8',
      createPrivateKey(rsa.privatePem).export({ format: 'der', type: 'pkcs8' }),
      { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      false,
      ['sign'],
    );
    const webEd = await crypto.subtle.importKey(
      'pkcs8',
      createPrivateKey(ed.privatePem).export({ format: 'der', type: 'pkcs8' }),
      { name: 'Ed25519' },
      false,
      ['sign'],
    );
    const message = await signed(MESSAGE, [
      { ...rsaSigner, privateKey: pkcs1 },
      { ...edSigner, privateKey: seed },
      { ...rsaSigner, privateKey: webRsa },
      { domain: 'example.com', selector: 'ed', privateKey: webEd },
    ]);
    expect((await verify(message)).map((result) => result.result)).toEqual(['pass', 'pass', 'pass', 'pass']);
  });

  it('refuses unusable signers with a typed error', async () => {
    const cases: [Partial<DkimSigner>, RegExp][] = [
      [{ domain: 'localhost' }, /invalid signing domain/],
      [{ selector: 'a b' }, /invalid selector/],
      [{ privateKey: 'not a key!' }, /neither PEM nor base64/],
      [
        { privateKey: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' },
        /unsupported PEM type/,
      ],
      [{ privateKey: ed.privatePem }, /invalid private key/],
      [{ algorithm: 'rsa-sha1' as never }, /unsupported signing algorithm/],
      [{ canonicalization: 'loose/simple' as never }, /invalid canonicalization/],
      [{ identity: 'joe@example.org' }, /not in the signing domain/],
      [{ expiresIn: 0 }, /expiresIn/],
      [{ headers: ['bad name'] }, /invalid header field name/],
    ];
    for (const [change, error] of cases) {
      await expect(signDkim(MESSAGE, { ...rsaSigner, ...change })).rejects.toThrow(error);
    }
    const { privateKey } = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
    await expect(signDkim(MESSAGE, { ...rsaSigner, privateKey, algorithm: 'rsa-sha256' })).rejects.toThrow(
      /not a RSASSA-PKCS1-v1_5 signing key/,
    );
    await expect(signDkim(MESSAGE, rsaSigner, { maxHeaderBytes: 10 })).rejects.toThrow(
      /larger than 10 bytes/,
    );
  });
});

describe('signDkim and verifyDkim properties', () => {
  const line = fc.stringMatching(/^[\x20-\x7e\t]{0,60}$/);
  const body = fc.array(line, { maxLength: 8 }).map((lines) => lines.map((text) => `${text}\r\n`).join(''));

  it('property: whatever the subject and body, a signed message verifies, and any body change fails', async () => {
    await fc.assert(
      fc.asyncProperty(
        line,
        body,
        fc.constantFrom(...(['simple', 'relaxed'] as const)),
        async (subject, text, c) => {
          const message = `From: a@example.com\r\nSubject: ${subject}\r\n\r\n${text}`;
          const signer = { ...edSigner, canonicalization: `${c}/${c}` as const };
          const signedMessage = await signed(message, signer);
          expect((await verify(signedMessage))[0]!.result).toBe('pass');
          const changed = await verify(`${signedMessage}tampered\r\n`);
          expect(changed[0]!.result).toBe('fail');
        },
      ),
      { numRuns: 40 },
    );
  });

  it('property: any DKIM-Signature value gives a result, never an exception', async () => {
    const results = new Set(['pass', 'fail', 'neutral', 'policy', 'temperror', 'permerror']);
    const value = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc
        .array(
          fc.tuple(
            fc.constantFrom('v', 'a', 'b', 'bh', 'c', 'd', 'h', 'i', 'l', 'q', 's', 't', 'x', 'z'),
            line,
          ),
          {
            maxLength: 14,
          },
        )
        .map((tags) => tags.map(([name, text]) => `${name}=${text}`).join('; ')),
    );
    await fc.assert(
      fc.asyncProperty(value, async (text) => {
        const message = `DKIM-Signature: ${text.replace(/[\r\n]/g, ' ')}\r\nFrom: a@example.com\r\n\r\nbody\r\n`;
        const [verification] = await verify(message);
        expect(results.has(verification!.result)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('verifyDkim results', () => {
  async function withZone(records: Record<string, string[]>, message: string, options = {}) {
    return verifyDkim(message, {
      resolver: zoneResolver(records, ['down._domainkey.example.com']),
      now,
      ...options,
    });
  }

  it('is empty for a message without signatures', async () => {
    expect(await verify(MESSAGE)).toEqual([]);
  });

  it('gives permerror for a malformed signature, temperror for a DNS failure, permerror for a missing key', async () => {
    const malformed = `DKIM-Signature: v=1; a=rsa-sha256; d=example.com\r\n${MESSAGE}`;
    expect(await verify(malformed)).toEqual([
      { result: 'permerror', reason: 'missing tag "b"', field: ' v=1; a=rsa-sha256; d=example.com' },
    ]);
    const down = await signed(MESSAGE, { ...rsaSigner, selector: 'down' });
    const [temp] = await withZone({}, down);
    expect(temp!.result).toBe('temperror');
    expect(temp!.reason).toMatch(/ETIMEOUT/);
    const [missing] = await withZone({}, await signed(MESSAGE, rsaSigner));
    expect([missing!.result, missing!.reason]).toEqual([
      'permerror',
      'no key record at rsa._domainkey.example.com',
    ]);
    const [empty] = await withZone({ 'rsa._domainkey.example.com': [] }, await signed(MESSAGE, rsaSigner));
    expect(empty!.result).toBe('permerror');
  });

  it('checks the key record against the signature', async () => {
    const message = await signed(MESSAGE, rsaSigner);
    const name = 'rsa._domainkey.example.com';
    const result = async (...records: string[]) => {
      const [verification] = await withZone({ [name]: records }, message);
      return [verification!.result, verification!.reason];
    };
    expect(await result('v=DKIM1; p=')).toEqual(['permerror', 'key revoked']);
    expect(await result(keyRecord(ed))).toEqual([
      'permerror',
      'key type "ed25519" does not match algorithm "rsa-sha256"',
    ]);
    expect(await result(keyRecord(rsa, 'h=sha1; '))).toEqual(['permerror', 'the key does not allow sha256']);
    expect(await result(keyRecord(rsa, 'h=sha1:sha256; '))).toEqual(['pass', undefined]);
    expect(await result('v=DKIM2; p=abcd')).toEqual([
      'permerror',
      `invalid key record at ${name}: unsupported version "DKIM2"`,
    ]);
    // The first usable record of several is used.
    expect(await result('junk', keyRecord(rsa))).toEqual(['pass', undefined]);
    expect(await result('v=DKIM1; p=QUJD')).toEqual([
      'permerror',
      expect.stringMatching(/^invalid RSA public key/),
    ]);
    expect(await result(keyRecord(rsaKey(1024)))).toEqual(['fail', 'signature did not verify']);
  });

  it('accepts a bare RSAPublicKey in p=, and refuses keys shorter than minKeyBits as policy', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const bare = publicKey.export({ type: 'pkcs1', format: 'der' }).toString('base64');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const message = await signed(MESSAGE, { ...rsaSigner, privateKey: pem });
    const [pass] = await withZone({ 'rsa._domainkey.example.com': [`p=${bare}`] }, message);
    expect([pass!.result, pass!.keyBits]).toEqual(['pass', 1024]);
    const [policy] = await withZone({ 'rsa._domainkey.example.com': [`p=${bare}`] }, message, {
      minKeyBits: 2048,
    });
    expect([policy!.result, policy!.reason]).toEqual(['policy', '1024-bit key is too short']);
  });

  it('honours t=s, expiry, and refuses rsa-sha1 as policy', async () => {
    const message = await signed(MESSAGE, { ...rsaSigner, identity: '@mail.example.com', expiresIn: 60 });
    const strict = { 'rsa._domainkey.example.com': [keyRecord(rsa, 't=s; ')] };
    const [subdomain] = await withZone(strict, message);
    expect(subdomain!.reason).toBe('the key (t=s) does not allow an identity in a subdomain');
    const [expired] = await verify(message, { now: () => NOW + 61_000 });
    expect([expired!.result, expired!.reason]).toEqual(['permerror', 'signature expired']);
    const sha1 = (await signed(MESSAGE, rsaSigner)).replace('a=rsa-sha256', 'a=rsa-sha1');
    const [refused] = await verify(sha1);
    expect([refused!.result, refused!.reason]).toEqual(['policy', 'rsa-sha1 is not accepted (RFC 8301)']);
    const testing = { 'rsa._domainkey.example.com': [keyRecord(rsa, 't=y; ')] };
    const [test] = await withZone(testing, await signed(MESSAGE, rsaSigner));
    expect([test!.result, test!.key?.testing]).toEqual(['pass', true]);
  });

  it('checks at most maxSignatures, looks each key up once, and limits the header', async () => {
    const resolver = zoneResolver(zone);
    const message = await signed(MESSAGE, [rsaSigner, rsaSigner, edSigner]);
    const results = await verifyDkim(message, { resolver, now, limits: { maxSignatures: 2 } });
    expect(results.map((result) => result.result)).toEqual(['pass', 'pass', 'neutral']);
    expect(results[2]!.reason).toBe('more than 2 signatures: not checked');
    expect(resolver.queries).toEqual(['rsa._domainkey.example.com']);
    const large = await verify(message, { limits: { maxHeaderBytes: 100 } });
    expect(large).toEqual([
      { result: 'permerror', reason: 'the header is larger than 100 bytes', field: '' },
    ]);
  });

  it('reads a message that is all header, and a bad signature value', async () => {
    const headerOnly = await signed('From: joe@example.com\r\nSubject: x\r\n', rsaSigner);
    expect((await verify(headerOnly.slice(0, -2)))[0]!.result).toBe('pass');
    const message = await signed(MESSAGE, rsaSigner);
    const bad = message.replace(/b=([A-Za-z0-9+/]{4})/, 'b=AAAA');
    expect((await verify(bad))[0]!.reason).toBe('signature did not verify');
  });

  it('describes a verification as an Authentication-Results entry', async () => {
    const [verification] = await verify(await signed(MESSAGE, rsaSigner));
    expect(dkimAuthenticationResult(verification!)).toEqual({
      method: 'dkim',
      result: 'pass',
      properties: [
        { type: 'header', property: 'd', value: 'example.com' },
        { type: 'header', property: 'i', value: '@example.com' },
        { type: 'header', property: 's', value: 'rsa' },
        { type: 'header', property: 'a', value: 'rsa-sha256' },
        { type: 'header', property: 'b', value: verification!.signature!.signature.slice(0, 8) },
      ],
    });
    expect(dkimAuthenticationResult({ result: 'permerror', reason: 'missing tag "b"', field: '' })).toEqual({
      method: 'dkim',
      result: 'permerror',
      properties: [],
      reason: 'missing tag "b"',
    });
  });
});

import {
  type ArcSealer,
  arcAuthenticationResult,
  parseArcMessageSignature,
  parseArcSeal,
  sealArc,
  verifyArc,
} from '@postwire/mailauth';
import { describe, expect, it } from 'vitest';
import { ed25519Key, keyRecord, rsaKey, zoneResolver } from '../dkim/keys.js';

const first = rsaKey(2048);
const second = ed25519Key();
const resolver = zoneResolver({
  'arc._domainkey.list.example.org': [keyRecord(first)],
  'seal._domainkey.forwarder.example.net': [keyRecord(second)],
});
const now = () => Date.UTC(2026, 10, 24);

const MESSAGE =
  'From: Alice <alice@example.com>\r\nTo: list@list.example.org\r\nSubject: ARC test\r\n' +
  'Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <arc-1@example.com>\r\n\r\nHello over the list.\r\n';

const listSealer: ArcSealer = { domain: 'list.example.org', selector: 'arc', privateKey: first.privatePem };
const forwarder: ArcSealer = {
  domain: 'forwarder.example.net',
  selector: 'seal',
  privateKey: second.privatePem,
  algorithm: 'ed25519-sha256',
};
const results = [
  {
    method: 'spf',
    result: 'pass',
    properties: [{ type: 'smtp', property: 'mailfrom', value: 'example.com' }],
  },
];

async function hop(message: string, sealer: ArcSealer, authservId: string): Promise<string> {
  const chain = await verifyArc(message, { resolver });
  return (
    (await sealArc(message, sealer, {
      authservId,
      results: [...results, arcAuthenticationResult(chain)],
      chain,
      now,
    })) + message
  );
}

describe('ARC', () => {
  it('is none without ARC sets', async () => {
    expect(await verifyArc(MESSAGE, { resolver })).toEqual({ result: 'none', instance: 0, sets: [] });
  });

  it('seals a first set and a second, RSA then Ed25519, and validates the chain', async () => {
    const once = await hop(MESSAGE, listSealer, 'list.example.org');
    expect(once).toMatch(/^ARC-Seal: i=1; a=rsa-sha256; cv=none; d=list\.example\.org; s=arc;/);
    expect(once).toContain(
      '\r\nARC-Authentication-Results: i=1; list.example.org; spf=pass smtp.mailfrom=example.com; arc=none\r\n',
    );
    const oneSet = await verifyArc(once, { resolver });
    expect([oneSet.result, oneSet.instance]).toEqual(['pass', 1]);
    const twice = await hop(`Received: from list.example.org\r\n${once}`, forwarder, 'forwarder.example.net');
    expect(twice).toMatch(/^ARC-Seal: i=2; a=ed25519-sha256; cv=pass;/);
    const chain = await verifyArc(twice, { resolver });
    expect([chain.result, chain.instance, chain.sets.map((set) => set.seal.domain)]).toEqual([
      'pass',
      2,
      ['list.example.org', 'forwarder.example.net'],
    ]);
    expect(arcAuthenticationResult(chain, '192.0.2.7')).toEqual({
      method: 'arc',
      result: 'pass',
      properties: [{ type: 'smtp', property: 'remote-ip', value: '192.0.2.7' }],
    });
  });

  it('fails a chain whose message changed after the last seal, or whose earlier set was altered', async () => {
    const twice = await hop(
      await hop(MESSAGE, listSealer, 'list.example.org'),
      forwarder,
      'forwarder.example.net',
    );
    const body = await verifyArc(twice.replace('Hello over', 'Hello under'), { resolver });
    expect([body.result, body.reason]).toEqual([
      'fail',
      'ARC-Message-Signature i=2: body hash did not verify',
    ]);
    const subject = await verifyArc(twice.replace('Subject: ARC test', 'Subject: ARC test!'), { resolver });
    expect(subject.reason).toBe('ARC-Message-Signature i=2: signature did not verify');
    const aar = await verifyArc(
      twice.replace('i=1; list.example.org; spf=pass', 'i=1; list.example.org; spf=fail'),
      {
        resolver,
      },
    );
    expect(aar.reason).toBe('ARC-Seal i=2: signature did not verify');
  });

  it('fails on structure: a missing or doubled set, a wrong cv, a cv=fail seal', async () => {
    const once = await hop(MESSAGE, listSealer, 'list.example.org');
    const withoutAar = once.replace(/ARC-Authentication-Results:[^\r]*\r\n/, '');
    expect((await verifyArc(withoutAar, { resolver })).reason).toBe('ARC set 1 is incomplete');
    const seal = once.slice(0, once.indexOf('ARC-Message-Signature'));
    expect((await verifyArc(seal + once, { resolver })).reason).toBe('more than one ARC-Seal with i=1');
    expect((await verifyArc(once.replace('cv=none', 'cv=pass'), { resolver })).reason).toBe(
      'ARC-Seal i=1 has cv=pass, not none',
    );
    const failed = await sealArc(once, forwarder, {
      authservId: 'x.example',
      results,
      chain: { result: 'fail', instance: 1 },
      now,
    });
    expect(failed).toMatch(/^ARC-Seal: i=2; a=ed25519-sha256; cv=fail;/);
    expect((await verifyArc(failed + once, { resolver })).reason).toBe('ARC-Seal i=2 says cv=fail');
    expect((await verifyArc(once.replace('ARC-Seal: i=1', 'ARC-Seal: i=51'), { resolver })).reason).toBe(
      'ARC-Seal: invalid instance "51"',
    );
  });

  it('fails when a key is missing or DNS fails, and refuses a 51st set', async () => {
    const once = await hop(MESSAGE, listSealer, 'list.example.org');
    const missing = await verifyArc(once, { resolver: zoneResolver({}) });
    expect(missing.reason).toBe(
      'ARC-Message-Signature i=1: no key record at arc._domainkey.list.example.org',
    );
    const down = await verifyArc(once, { resolver: zoneResolver({}, ['arc._domainkey.list.example.org']) });
    expect(down.reason).toMatch(/ETIMEOUT/);
    await expect(
      sealArc(MESSAGE, listSealer, {
        authservId: 'x.example',
        results,
        chain: { result: 'pass', instance: 50 },
      }),
    ).rejects.toThrow(/instance 50/);
    await expect(
      sealArc(MESSAGE, listSealer, {
        authservId: 'x.example',
        results,
        chain: { result: 'pass', instance: 1 },
      }),
    ).rejects.toThrow(/no complete ARC set 1/);
  });

  it('parses the ARC fields strictly', () => {
    expect(parseArcSeal('i=1; a=rsa-sha256; cv=none; d=example.org; s=s; h=from; b=AAAA').ok).toBe(false);
    expect(parseArcSeal('i=1; a=rsa-sha256; cv=maybe; d=example.org; s=s; b=AAAA')).toEqual({
      ok: false,
      reason: 'ARC-Seal: invalid cv "maybe"',
    });
    expect(parseArcSeal('i=1; a=rsa-sha256; cv=none; d=example.org; s=s; t=soon; b=AAAA').ok).toBe(false);
    expect(parseArcSeal('i=1; a=rsa-md5; cv=none; d=example.org; s=s; b=AAAA').ok).toBe(false);
    expect(parseArcSeal('i=1; a=rsa-sha256; cv=none; d=example.org; s=s; b=!!').ok).toBe(false);
    expect(parseArcSeal('i=1; a=rsa-sha256; cv=none; d=localhost; s=s; b=AAAA').ok).toBe(false);
    expect(parseArcSeal('i=1; cv=none').ok).toBe(false);
    expect(parseArcSeal('').ok).toBe(false);
    expect(parseArcSeal('i=2; a=ed25519-sha256; cv=PASS; d=example.org; s=s; t=12; b=AAAA')).toMatchObject({
      ok: true,
      value: { instance: 2, chainValidation: 'pass', timestamp: 12 },
    });
    const ams = parseArcMessageSignature('i=3; a=rsa-sha256; d=example.org; s=s; h=from:to; bh=AAAA; b=AAAA');
    expect(ams).toMatchObject({ ok: true, value: { instance: 3, signature: { identity: '@example.org' } } });
    expect(parseArcMessageSignature('a=rsa-sha256; d=example.org; s=s; h=from; bh=AAAA; b=AAAA').ok).toBe(
      false,
    );
    expect(parseArcMessageSignature('i=1; a=rsa-sha256; d=example.org; s=s; h=to; bh=AAAA; b=AAAA')).toEqual({
      ok: false,
      reason: 'ARC-Message-Signature: tag "h" does not include From',
    });
    expect(parseArcMessageSignature('i=1; =').ok).toBe(false);
  });
});

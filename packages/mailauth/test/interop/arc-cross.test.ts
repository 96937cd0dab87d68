import {
  type ArcSealer,
  arcAuthenticationResult,
  type DnsResolver,
  sealArc,
  verifyArc,
} from '@postwire/mailauth';
import { createNodeDnsResolver } from '@postwire/mailauth/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OpensslDkimKey, opensslDkimKey } from '../peers/dkim-keys.js';
import { dkimpyArcAvailable, dkimpyArcSign, dkimpyArcVerify } from '../peers/dkimpy-arc.js';
import { type DnsServer, dnsmasqAvailable, startDnsServer } from '../peers/dns-server.js';

/**
 * ARC (RFC 8617) both ways between Postwire and dkimpy 1.1.4 (`dkim.arc_sign`, `dkim.arc_verify`):
 * a set sealed by one is validated by the other, chains of two sets alternate between them, and a body
 * changed after the last seal fails in both. Key records are served by dnsmasq; Postwire looks them up
 * through `createNodeDnsResolver`, dkimpy through dnspython pointed at the same server.
 */

const hasDnsmasq = dnsmasqAvailable() || skipping('dnsmasq (Debian dnsmasq-base)');
const hasDkimpy = dkimpyArcAvailable() || skipping('dkimpy (Debian python3-dkim, python3-authres)');

function skipping(what: string): false {
  console.warn(`skipping the ARC cross-checks with ${what}: not installed`);
  return false;
}

const CRLF = '\r\n';
const TIMEOUT = 20_000;

/** A message with folded fields and white space that relaxed canonicalization (ARC's only one) must handle. */
const MESSAGE = Buffer.from(
  [
    'Received: from mail.example.com (mail.example.com [192.0.2.1])',
    '\tby mx.list.example.org with ESMTPS; Tue, 24 Nov 2026 10:00:01 +0000',
    'From: Alice <alice@example.com>',
    'To: list@list.example.org,',
    '\tcarol@example.net',
    'Subject:  ARC  test\t',
    '  folded',
    'Date: Tue, 24 Nov 2026 10:00:00 +0000',
    'Message-ID: <arc-cross@example.com>',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Hello over the list.  ',
    '',
    'Grüße \t',
    '',
    '',
  ].join(CRLF),
  'utf8',
);

/** Who seals: the list (first hop) and the forwarder (second hop), RSA; and an Ed25519 sealer. */
const LIST = { domain: 'list.example.org', selector: 'arc', authservId: 'mx.list.example.org' };
const FORWARDER = {
  domain: 'forwarder.example.net',
  selector: 'seal',
  authservId: 'mx.forwarder.example.net',
};
const ED = { domain: 'ed.example.net', selector: 'ed', authservId: 'mx.ed.example.net' };

let rsaList: OpensslDkimKey;
let rsaForwarder: OpensslDkimKey;
let ed25519: OpensslDkimKey;
let dns: DnsServer;
let resolver: DnsResolver;

beforeAll(async () => {
  if (!hasDnsmasq || !hasDkimpy) return;
  [rsaList, rsaForwarder, ed25519] = await Promise.all([
    opensslDkimKey('rsa2048'),
    opensslDkimKey('rsa2048'),
    opensslDkimKey('ed25519'),
  ]);
  const split = (record: string) => [record.slice(0, 200), record.slice(200)];
  dns = await startDnsServer({
    txt: {
      [`${LIST.selector}._domainkey.${LIST.domain}`]: [split(rsaList.record)],
      [`${FORWARDER.selector}._domainkey.${FORWARDER.domain}`]: [split(rsaForwarder.record)],
      [`${ED.selector}._domainkey.${ED.domain}`]: [ed25519.record],
    },
  });
  resolver = createNodeDnsResolver({ servers: dns.servers, timeout: 2_000, tries: 2 });
}, 30_000);

afterAll(async () => {
  await dns?.stop();
});

type Who = typeof LIST | typeof FORWARDER | typeof ED;

function keyOf(who: Who): OpensslDkimKey {
  return who === LIST ? rsaList : who === FORWARDER ? rsaForwarder : ed25519;
}

/**
 * A hop through dkimpy: the hop's MTA adds its Authentication-Results (SPF, and `arc=` with the chain
 * as dkimpy found it once there is one, which dkimpy copies into `cv=`), then `arc_sign` adds the set.
 */
async function dkimpyHop(message: Buffer, who: Who): Promise<Buffer> {
  const chain = await dkimpyArcVerify(message, { servers: dns.servers });
  const arc = chain.cv === 'none' ? '' : `;${CRLF}\tarc=${chain.cv ?? 'fail'}`;
  const results = `Authentication-Results: ${who.authservId}; spf=pass smtp.mailfrom=example.com${arc}${CRLF}`;
  const withResults = Buffer.concat([Buffer.from(results), message]);
  return (
    await dkimpyArcSign(withResults, {
      selector: who.selector,
      domain: who.domain,
      privateKeyPem: keyOf(who).privatePem,
      authservId: who.authservId,
    })
  ).sealed;
}

/** A hop through Postwire: verifyArc, then sealArc with the chain's verdict. */
async function postwireHop(message: Buffer, who: Who): Promise<Buffer> {
  const chain = await verifyArc(message, { resolver });
  const key = keyOf(who);
  const sealer: ArcSealer = {
    domain: who.domain,
    selector: who.selector,
    privateKey: key.keyType === 'ed25519' ? (key.ed25519Seed ?? '') : key.privatePem,
    algorithm: key.keyType === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256',
  };
  const fields = await sealArc(message, sealer, {
    authservId: who.authservId,
    results: [
      {
        method: 'spf',
        result: 'pass',
        properties: [{ type: 'smtp', property: 'mailfrom', value: 'example.com' }],
      },
      arcAuthenticationResult(chain),
    ],
    chain,
  });
  return Buffer.concat([Buffer.from(fields), message]);
}

/** Both verdicts on a chain: Postwire's `result instance`, dkimpy's `cv: reason`. */
async function bothVerdicts(message: Buffer) {
  const [postwire, dkimpy] = await Promise.all([
    verifyArc(message, { resolver }),
    dkimpyArcVerify(message, { servers: dns.servers }),
  ]);
  return { postwire, dkimpy };
}

function tamperBody(message: Buffer): Buffer {
  const text = message.toString('latin1');
  return Buffer.from(text.replace('Hello over the list.', 'Hello over the lost.'), 'latin1');
}

describe.skipIf(!hasDnsmasq || !hasDkimpy)('ARC with dkimpy', () => {
  it('dkimpy seals i=1: Postwire validates the chain', { timeout: TIMEOUT }, async () => {
    const sealed = await dkimpyHop(MESSAGE, LIST);
    expect(sealed.toString('latin1')).toMatch(
      /^ARC-Seal: i=1; cv=none; a=rsa-sha256; d=list\.example\.org; s=arc;/,
    );
    const { postwire, dkimpy } = await bothVerdicts(sealed);
    expect(dkimpy, dkimpy.log).toMatchObject({ cv: 'pass', reason: 'success' });
    expect(postwire).toMatchObject({ result: 'pass', instance: 1 });
    expect(postwire.sets.map((set) => set.seal.domain)).toEqual([LIST.domain]);
  });

  it('Postwire seals i=1: dkimpy validates the chain', { timeout: TIMEOUT }, async () => {
    const sealed = await postwireHop(MESSAGE, FORWARDER);
    expect(sealed.toString('latin1')).toMatch(/^ARC-Seal: i=1; a=rsa-sha256; cv=none;/);
    const { postwire, dkimpy } = await bothVerdicts(sealed);
    expect(postwire).toMatchObject({ result: 'pass', instance: 1 });
    expect(dkimpy, dkimpy.log).toMatchObject({ cv: 'pass', reason: 'success' });
    expect(dkimpy.sets).toEqual([
      {
        instance: 1,
        amsDomain: FORWARDER.domain,
        amsValid: true,
        asDomain: FORWARDER.domain,
        asValid: true,
        cv: 'none',
      },
    ]);
  });

  it('two hops, dkimpy then Postwire: both validate, and a body changed afterwards fails in both', {
    timeout: TIMEOUT,
  }, async () => {
    const once = await dkimpyHop(MESSAGE, LIST);
    const twice = await postwireHop(once, FORWARDER);
    expect(twice.toString('latin1')).toMatch(
      /^ARC-Seal: i=2; a=rsa-sha256; cv=pass; d=forwarder\.example\.net;/,
    );
    const good = await bothVerdicts(twice);
    expect(good.postwire).toMatchObject({ result: 'pass', instance: 2 });
    expect(good.dkimpy, good.dkimpy.log).toMatchObject({ cv: 'pass', reason: 'success' });
    expect(good.dkimpy.sets.map((set) => [set.instance, set.asValid, set.cv])).toEqual([
      [2, true, 'pass'],
      [1, true, 'none'],
    ]);
    const bad = await bothVerdicts(tamperBody(twice));
    expect(bad.postwire).toMatchObject({ result: 'fail', instance: 2 });
    expect(bad.dkimpy).toMatchObject({
      cv: 'fail',
      reason: 'Most recent ARC-Message-Signature did not validate',
    });
    // An earlier set altered: the seals cover every set (RFC 8617 §5.1.1), so both fail.
    const forged = Buffer.from(
      twice
        .toString('latin1')
        .replace('i=1; mx.list.example.org; spf=pass', 'i=1; mx.list.example.org; spf=fail'),
      'latin1',
    );
    expect(forged.equals(twice)).toBe(false);
    const altered = await bothVerdicts(forged);
    expect(altered.postwire).toMatchObject({ result: 'fail', instance: 2 });
    expect(altered.dkimpy).toMatchObject({ cv: 'fail' });
    expect(altered.dkimpy.reason).toMatch(/^ARC-Seal\[\d\] did not validate$/);
  });

  it('two hops, Postwire then dkimpy: both validate, and a body changed afterwards fails in both', {
    timeout: TIMEOUT,
  }, async () => {
    const once = await postwireHop(MESSAGE, FORWARDER);
    const twice = await dkimpyHop(once, LIST);
    expect(twice.toString('latin1')).toMatch(/^ARC-Seal: i=2; cv=pass; a=rsa-sha256; d=list\.example\.org;/);
    const good = await bothVerdicts(twice);
    expect(good.postwire).toMatchObject({ result: 'pass', instance: 2 });
    expect(good.postwire.sets.map((set) => set.seal.domain)).toEqual([FORWARDER.domain, LIST.domain]);
    expect(good.dkimpy, good.dkimpy.log).toMatchObject({ cv: 'pass', reason: 'success' });
    const bad = await bothVerdicts(tamperBody(twice));
    expect(bad.postwire).toMatchObject({ result: 'fail', instance: 2 });
    expect(bad.dkimpy).toMatchObject({
      cv: 'fail',
      reason: 'Most recent ARC-Message-Signature did not validate',
    });
  });

  it('three hops, dkimpy, Postwire, dkimpy: both validate', { timeout: TIMEOUT }, async () => {
    const thrice = await dkimpyHop(await postwireHop(await dkimpyHop(MESSAGE, LIST), FORWARDER), LIST);
    expect(thrice.toString('latin1')).toMatch(/^ARC-Seal: i=3; cv=pass;/);
    const { postwire, dkimpy } = await bothVerdicts(thrice);
    expect(postwire).toMatchObject({ result: 'pass', instance: 3 });
    expect(dkimpy, dkimpy.log).toMatchObject({ cv: 'pass', reason: 'success' });
    expect(dkimpy.sets.map((set) => [set.instance, set.amsValid, set.asValid])).toEqual([
      [3, true, true],
      [2, true, true],
      [1, true, true],
    ]);
  });

  describe('Ed25519 (RFC 8463): dkimpy 1.1.4 does ARC with RSA only', () => {
    /*
     * Not a disagreement on the protocol but a limit of dkimpy: RFC 8617 §4.1.2 gives the
     * ARC-Message-Signature the tags and semantics of a DKIM-Signature, and §4.1.3 the ARC-Seal the same
     * a= (RFC 6376 §3.5), whose registry has ed25519-sha256 since RFC 8463 §3. dkimpy's DKIM code knows
     * Ed25519, its ARC code does not: `arc_sign` parses the key only as an RSA PEM (`KeyFormatError`), and
     * `arc_verify` rejects `a=ed25519-sha256` ("unknown signature algorithm"), failing the whole chain.
     * Postwire seals and validates Ed25519 sets; they just do not interoperate with dkimpy.
     */
    it("dkimpy's arc_sign refuses an Ed25519 key", { timeout: TIMEOUT }, async () => {
      await expect(dkimpyHop(MESSAGE, ED)).rejects.toThrow(/KeyFormatError: Private key not found/);
    });

    it('a Postwire Ed25519 set: Postwire passes it, dkimpy fails it', { timeout: TIMEOUT }, async () => {
      const sealed = await postwireHop(MESSAGE, ED);
      expect(sealed.toString('latin1')).toMatch(/^ARC-Seal: i=1; a=ed25519-sha256; cv=none;/);
      const { postwire, dkimpy } = await bothVerdicts(sealed);
      expect(postwire).toMatchObject({ result: 'pass', instance: 1 });
      expect(dkimpy).toMatchObject({ cv: 'fail', reason: "unknown signature algorithm: b'ed25519-sha256'" });
    });

    it('dkimpy, Postwire with Ed25519, dkimpy: dkimpy seals cv=fail, and both then fail', {
      timeout: TIMEOUT,
    }, async () => {
      // The third hop (dkimpy) finds the chain failed and says so (cv=fail, RFC 8617 §5.1.2); a chain with
      // cv=fail in any seal fails for every validator (§5.2 step 2), Postwire included.
      const thrice = await dkimpyHop(await postwireHop(await dkimpyHop(MESSAGE, LIST), ED), FORWARDER);
      expect(thrice.toString('latin1')).toMatch(/^ARC-Seal: i=3; cv=fail;/);
      const { postwire, dkimpy } = await bothVerdicts(thrice);
      expect(postwire).toMatchObject({ result: 'fail', instance: 3, reason: 'ARC-Seal i=3 says cv=fail' });
      expect(dkimpy.cv).toBe('fail');
    });
  });
});

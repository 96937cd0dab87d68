import { type DkimVerification, type DnsResolver, verifyDkim } from '@postwire/mailauth';
import { createNodeDnsResolver } from '@postwire/mailauth/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AWKWARD_LINES } from '../peers/awkward-message.js';
import { type OpensslDkimKey, opensslDkimKey } from '../peers/dkim-keys.js';
import { type DnsServer, dnsmasqAvailable, startDnsServer } from '../peers/dns-server.js';
import {
  type OpendkimMilter,
  type OpendkimMilterOptions,
  opendkimMilterAvailable,
  startOpendkimMilter,
} from '../peers/opendkim-milter.js';
import { opendkimAvailable, opendkimVerify } from '../peers/opendkim-tools.js';
import { privateResolverAvailable } from '../peers/private-resolver.js';
import { type DkimCanonicalization, dkimpyAvailable, dkimpyVerifyDetailed } from '../peers/python-tools.js';

/**
 * Signatures made by OpenDKIM itself — the milter daemon `/usr/sbin/opendkim` 2.11.0~beta2 (Debian's
 * `opendkim` package), which unlike `opendkim-testmsg` signs with rsa-sha256 and ed25519-sha256 in any
 * canonicalization — verified by Postwire, its key records served by dnsmasq and looked up through
 * `createNodeDnsResolver`. Each daemon runs from a throwaway config (`Mode s`, `Socket inet:PORT@127.0.0.1`)
 * and is handed the messages by the harness's own milter client, as Postfix or Sendmail would.
 * dkimpy (and opendkim-testmsg, where it can run) give a second opinion on the same signatures.
 */

const hasDnsmasq = dnsmasqAvailable() || skipping('dnsmasq (Debian dnsmasq-base)');
const hasMilter = opendkimMilterAvailable() || skipping('the OpenDKIM milter (Debian opendkim)');
const hasDkimpy = dkimpyAvailable();
const hasTestmsg = opendkimAvailable() && privateResolverAvailable();

function skipping(what: string): false {
  console.warn(`skipping the OpenDKIM milter cross-checks with ${what}: not installed`);
  return false;
}

const CRLF = '\r\n';
const TIMEOUT = 20_000;

const PLAIN = Buffer.from(
  [
    'From: alice@example.test',
    'To: bob@example.org',
    'Subject:   folded',
    ' \tline two  ',
    'Date: Mon, 01 Jan 2024 00:00:00 +0000',
    '',
    'body  ',
    '',
    '',
  ].join(CRLF),
);

const MESSAGES: readonly { readonly name: string; readonly bytes: Buffer }[] = [
  { name: 'awkward', bytes: Buffer.from(AWKWARD_LINES.join(CRLF), 'utf8') },
  // A file with bare LFs: the milter client passes it with CRLFs, as SMTP would have carried it.
  { name: 'awkward (bare LF)', bytes: Buffer.from(AWKWARD_LINES.join('\n'), 'utf8') },
  {
    name: 'empty body',
    bytes: Buffer.from(
      `${AWKWARD_LINES.slice(0, AWKWARD_LINES.indexOf('')).join(CRLF)}${CRLF}${CRLF}`,
      'utf8',
    ),
  },
  {
    // Several BODY chunks (65,535 octets each).
    name: '200 KB body',
    bytes: Buffer.concat([PLAIN, Buffer.from(`${'x'.repeat(76)}  \r\n`.repeat(2_600))]),
  },
  { name: 'plain', bytes: PLAIN },
];

interface MilterCase {
  readonly name: string;
  readonly selector: 'rsa' | 'ed';
  readonly algorithm: OpendkimMilterOptions['algorithm'];
  readonly canonicalization: DkimCanonicalization;
}

const CASES: readonly MilterCase[] = [
  {
    name: 'rsa-sha256 relaxed/relaxed',
    selector: 'rsa',
    algorithm: 'rsa-sha256',
    canonicalization: 'relaxed/relaxed',
  },
  {
    name: 'rsa-sha256 simple/simple',
    selector: 'rsa',
    algorithm: 'rsa-sha256',
    canonicalization: 'simple/simple',
  },
  {
    name: 'ed25519-sha256 relaxed/relaxed',
    selector: 'ed',
    algorithm: 'ed25519-sha256',
    canonicalization: 'relaxed/relaxed',
  },
  {
    name: 'ed25519-sha256 relaxed/simple',
    selector: 'ed',
    algorithm: 'ed25519-sha256',
    canonicalization: 'relaxed/simple',
  },
  {
    name: 'ed25519-sha256 simple/simple',
    selector: 'ed',
    algorithm: 'ed25519-sha256',
    canonicalization: 'simple/simple',
  },
];
/** The cases whose signatures every verifier passes (see the ed25519 simple/simple test for the other). */
const GOOD_CASES = CASES.filter(
  (c) => !(c.algorithm === 'ed25519-sha256' && c.canonicalization.startsWith('simple')),
);

let rsa: OpensslDkimKey;
let ed25519: OpensslDkimKey;
let dns: DnsServer;
let resolver: DnsResolver;
let dnsTxt: Record<string, string>;
const milters = new Map<string, OpendkimMilter>();

beforeAll(async () => {
  if (!hasDnsmasq || !hasMilter) return;
  [rsa, ed25519] = await Promise.all([opensslDkimKey('rsa2048'), opensslDkimKey('ed25519')]);
  dnsTxt = { 'rsa._domainkey.example.test': rsa.record, 'ed._domainkey.example.test': ed25519.record };
  const started = await Promise.allSettled([
    startDnsServer({
      txt: {
        // A 2048-bit key record in two character-strings.
        'rsa._domainkey.example.test': [[rsa.record.slice(0, 200), rsa.record.slice(200)]],
        'ed._domainkey.example.test': [ed25519.record],
      },
    }),
    ...CASES.map(async (c) => {
      const milter = await startOpendkimMilter({
        domain: 'example.test',
        selector: c.selector,
        privateKeyPem: (c.selector === 'rsa' ? rsa : ed25519).privatePem,
        algorithm: c.algorithm,
        canonicalization: c.canonicalization,
      });
      milters.set(c.name, milter);
    }),
  ]);
  if (started[0]!.status === 'fulfilled') dns = started[0]!.value;
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  resolver = createNodeDnsResolver({ servers: dns.servers, timeout: 2_000, tries: 2 });
}, 30_000);

afterAll(async () => {
  await Promise.all([dns?.stop(), ...[...milters.values()].map((milter) => milter.stop())]);
});

function verdicts(results: readonly DkimVerification[]): string[] {
  return results.map((r) => (r.reason ? `${r.result}: ${r.reason}` : r.result));
}

async function postwireVerdicts(message: Uint8Array): Promise<string[]> {
  return verdicts(await verifyDkim(message, { resolver }));
}

function milter(name: string): OpendkimMilter {
  const found = milters.get(name);
  if (!found) throw new Error(`no milter ${name}`);
  return found;
}

/** Replaces the first `from` in a message. */
function edit(message: Uint8Array, from: string, to: string): Buffer {
  const text = Buffer.from(message).toString('latin1');
  if (!text.includes(from)) throw new Error(`edit: ${JSON.stringify(from)} not in the message`);
  return Buffer.from(text.replace(from, to), 'latin1');
}

describe.skipIf(!hasDnsmasq || !hasMilter)('DKIM signatures by the OpenDKIM milter', () => {
  it('the milter conversation: OpenDKIM inserts one DKIM-Signature at the top, LF-folded, and accepts', async () => {
    const { header, rawValue, signed, exchange } = await milter('rsa-sha256 relaxed/relaxed').sign(PLAIN);
    // SMFIP_HDR_LEADSPC (0x100000) negotiated: header values pass with their leading white space.
    expect(exchange.negotiated.version).toBe(6);
    expect(exchange.negotiated.protocol & 0x100000).toBe(0x100000);
    expect(exchange.verdict).toBe('accept');
    expect(exchange.modifications).toHaveLength(1);
    expect(exchange.modifications[0]).toMatchObject({ kind: 'insert', index: 0, name: 'DKIM-Signature' });
    // The value comes without the name, starting with its space, folded with LF TAB (no CR).
    expect(rawValue).toMatch(/^ v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example\.test; s=rsa;\n\t/);
    expect(rawValue).not.toContain('\r');
    expect(header).toBe(`DKIM-Signature:${rawValue.replace(/\n/g, '\r\n')}\r\n`);
    expect(signed.subarray(header.length).equals(PLAIN)).toBe(true);
    expect(await postwireVerdicts(signed)).toEqual(['pass']);
  });

  it.for(GOOD_CASES)(
    '$name: Postwire verifies every message OpenDKIM signed',
    { timeout: TIMEOUT },
    async (c, { expect }) => {
      const signatures = await Promise.all(MESSAGES.map((message) => milter(c.name).sign(message.bytes)));
      const checks = await Promise.all(
        signatures.map(async ({ signed }) => ({
          postwire: await verifyDkim(signed, { resolver }),
          dkimpy: hasDkimpy ? await dkimpyVerifyDetailed(signed, { dnsTxt }) : undefined,
        })),
      );
      for (const [i, { postwire, dkimpy }] of checks.entries()) {
        const what = `${c.name}, ${MESSAGES[i]!.name}`;
        expect(verdicts(postwire), what).toEqual(['pass']);
        expect(postwire[0]!.signature, what).toMatchObject({
          algorithm: c.algorithm,
          domain: 'example.test',
          selector: c.selector,
        });
        expect(signatures[i]!.header, what).toContain(`c=${c.canonicalization};`);
        if (dkimpy) expect(dkimpy.valid, `${what}:\n${dkimpy.log}`).toBe(true);
      }
    },
  );

  it.for(GOOD_CASES)('$name: a changed body or header fails', { timeout: TIMEOUT }, async (c, { expect }) => {
    const { signed } = await milter(c.name).sign(MESSAGES[0]!.bytes);
    expect(await postwireVerdicts(edit(signed, 'a line after', 'a line before'))).toEqual([
      'fail: body hash did not verify',
    ]);
    expect(await postwireVerdicts(edit(signed, 'bob@example.org', 'eve@example.org'))).toEqual([
      'fail: signature did not verify',
    ]);
    // The white space changes that relaxed forgives (RFC 6376 §3.4.2, §3.4.4) and simple does not.
    const rewrapped = edit(
      edit(signed, 'trailing spaces   ', 'trailing spaces'),
      'A folded\t subject',
      'A folded subject',
    );
    const [header, body] = c.canonicalization.split('/');
    expect(await postwireVerdicts(rewrapped)).toEqual([
      body === 'simple'
        ? 'fail: body hash did not verify'
        : header === 'simple'
          ? 'fail: signature did not verify'
          : 'pass',
    ]);
  });

  it('ed25519-sha256 with simple header canonicalization: OpenDKIM signs another folding than it writes', {
    timeout: TIMEOUT,
  }, async () => {
    /*
     * Disagreement, OpenDKIM wrong (its signer, not Postwire). With `a=ed25519-sha256` and a `simple`
     * header canonicalization, OpenDKIM 2.11.0~beta2 hashes its own DKIM-Signature field with `b=` on
     * the line of `h=` ("…h=From:To:Subject:Date; b="), but writes the field with `b=` folded onto a
     * line of its own ("…Date;\n\tb=…") — it seems to lay out the field for the hash with the short
     * Ed25519 signature in mind, then fold again around the real one. RFC 6376 §3.7 (step 2) hashes
     * "the DKIM-Signature header field that … will be inserted (signing) in the message, with the value
     * of the b= tag … deleted", canonicalized per `c=`; `simple` (§3.4.1) changes nothing, so the
     * folding hashed must be the folding written. Every verifier refuses it: Postwire, dkimpy and
     * opendkim-testmsg (libopendkim itself). `relaxed` unfolds the field, which hides the mistake, and
     * with RSA `b=` is on a line of its own both times.
     */
    const { header, signed } = await milter('ed25519-sha256 simple/simple').sign(PLAIN);
    expect(header).toMatch(/;\r\n\tb=/);
    expect(await postwireVerdicts(signed)).toEqual(['fail: signature did not verify']);
    if (hasDkimpy) expect((await dkimpyVerifyDetailed(signed, { dnsTxt })).valid).toBe(false);
    if (hasTestmsg) {
      expect(await opendkimVerify(signed, { dnsTxt })).toEqual({
        valid: false,
        output: 'opendkim-testmsg: dkim_eom(): Bad signature',
      });
    }
    // The diagnosis: put `b=` back on the line of `h=` (only folding white space before the b= tag
    // changes, so the signature itself is untouched) and the same signature passes everywhere.
    const repaired = edit(signed, ';\r\n\tb=', '; b=');
    expect(await postwireVerdicts(repaired)).toEqual(['pass']);
    if (hasDkimpy) {
      const verdict = await dkimpyVerifyDetailed(repaired, { dnsTxt });
      expect(verdict.valid, verdict.log).toBe(true);
    }
    if (hasTestmsg) expect(await opendkimVerify(repaired, { dnsTxt })).toEqual({ valid: true, output: '' });
  });
});

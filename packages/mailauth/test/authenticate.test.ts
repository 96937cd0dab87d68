import {
  type AuthenticateMessageOptions,
  authenticateMessage,
  type DkimSigner,
  parseAuthenticationResults,
  type SpfCheck,
  sealArc,
  signDkim,
} from '@postwire/mailauth';
import { nodeSha256 } from '@postwire/mailauth/node';
import { describe, expect, it } from 'vitest';
import { keyRecord, rsaKey, zoneResolver } from './dkim/keys.js';

const key = rsaKey(2048);
const forwarderKey = rsaKey(2048);
const zone = {
  'sel._domainkey.example.com': [keyRecord(key)],
  'arc._domainkey.forwarder.example': [keyRecord(forwarderKey)],
  'example.com': ['v=spf1 ip4:192.0.2.0/24 -all'],
  'mail.example.com': ['v=spf1 a -all'],
  '_dmarc.example.com': ['v=DMARC1; p=reject'],
  '_dmarc.example.net': ['v=DMARC1; p=quarantine; sp=reject'],
};
const signer: DkimSigner = { domain: 'example.com', selector: 'sel', privateKey: key.privatePem };
const NOW = Date.UTC(2026, 0, 15);

const MESSAGE =
  'From: Alice <alice@example.com>\r\n' +
  'To: bob@example.org\r\n' +
  'Subject: Lunch\r\n' +
  'Message-ID: <1@example.com>\r\n' +
  '\r\n' +
  'Noon at the usual place?\r\n';

async function signed(message = MESSAGE): Promise<string> {
  return (await signDkim(message, signer, { now: () => NOW })) + message;
}

function options(more: Partial<Omit<AuthenticateMessageOptions, 'resolver'>> = {}) {
  const resolver = zoneResolver(zone, ['_dmarc.failing.example', 'sel._domainkey.failing.example']);
  return {
    ip: '192.0.2.25',
    helo: 'mail.example.com',
    mailFrom: 'alice@example.com',
    authservId: 'mx.example.org',
    now: () => NOW,
    sha256: nodeSha256,
    ...more,
    resolver,
  } satisfies AuthenticateMessageOptions;
}

/** The field's results as `method=result` words, for short expectations. */
function verdicts(field: string): string[] {
  const parsed = parseAuthenticationResults(field);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value.results.map((each) => `${each.method}=${each.result}`);
}

function withFrom(from: string): string {
  return MESSAGE.replace('From: Alice <alice@example.com>\r\n', from === '' ? '' : `From: ${from}\r\n`);
}

describe('authenticateMessage', () => {
  it('passes SPF, DKIM and DMARC for a signed message from an allowed address, and writes the field', async () => {
    const auth = await authenticateMessage(await signed(), options());
    expect(auth.spf).toMatchObject({ result: 'pass', identity: 'mailfrom', domain: 'example.com' });
    expect(auth.dkim.map((each) => each.result)).toEqual(['pass']);
    expect(auth.arc).toMatchObject({ result: 'none', instance: 0 });
    expect(auth.dmarc).toMatchObject({ result: 'pass', fromDomain: 'example.com', disposition: 'none' });
    expect(auth.field).toMatch(/^Authentication-Results: mx\.example\.org; spf=pass\r\n smtp\.mailfrom=/);
    expect(auth.field.endsWith('\r\n')).toBe(true);
    expect(auth.field.split('\r\n').every((line) => line.length <= 78)).toBe(true);
    const parsed = parseAuthenticationResults(auth.field);
    expect(parsed.ok && parsed.value).toEqual(auth.authenticationResults);
    expect(auth.authenticationResults.authservId).toBe('mx.example.org');
    const [spf, dkim, arc, dmarc] = auth.authenticationResults.results;
    expect(spf).toEqual({
      method: 'spf',
      result: 'pass',
      properties: [{ type: 'smtp', property: 'mailfrom', value: 'alice@example.com' }],
    });
    expect(dkim?.properties.map((each) => `${each.type}.${each.property}=${each.value}`)).toEqual([
      'header.d=example.com',
      'header.i=@example.com',
      'header.s=sel',
      'header.a=rsa-sha256',
      expect.stringMatching(/^header\.b=.{8}$/),
    ]);
    expect(arc).toEqual({
      method: 'arc',
      result: 'none',
      properties: [{ type: 'smtp', property: 'remote-ip', value: '192.0.2.25' }],
    });
    expect(dmarc).toEqual({
      method: 'dmarc',
      result: 'pass',
      properties: [
        { type: 'header', property: 'from', value: 'example.com' },
        { type: 'polrec', property: 'p', value: 'reject' },
        { type: 'policy', property: 'evaluated-disposition', value: 'none' },
      ],
    });
  });

  it('fails a forged message from an address SPF does not allow, with the reject disposition', async () => {
    const forged = (await signed()).replace('Noon', 'Midnight');
    const auth = await authenticateMessage(forged, options({ ip: '198.51.100.7' }));
    expect(verdicts(auth.field)).toEqual(['spf=fail', 'dkim=fail', 'arc=none', 'dmarc=fail']);
    expect(auth.dkim[0]?.reason).toBe('body hash did not verify');
    expect(auth.dmarc).toMatchObject({ result: 'fail', policy: 'reject', disposition: 'reject' });
    expect(auth.authenticationResults.results[2]?.reason).toBeUndefined();
    expect(auth.authenticationResults.results.at(-1)?.properties).toContainEqual({
      type: 'policy',
      property: 'evaluated-disposition',
      value: 'reject',
    });
  });

  it('reuses the SPF result found at MAIL FROM instead of looking it up again', async () => {
    const spf: SpfCheck = {
      result: 'softfail',
      identity: 'mailfrom',
      domain: 'example.com',
      sender: 'alice@example.com',
      mechanism: '~all',
      lookups: 0,
      voidLookups: 0,
    };
    const settings = options({ spf });
    const auth = await authenticateMessage(await signed(), settings);
    expect(auth.spf).toBe(spf);
    expect(settings.resolver.queries).not.toContain('example.com');
    expect(verdicts(auth.field)).toEqual(['spf=softfail', 'dkim=pass', 'arc=none', 'dmarc=pass']);
  });

  it('checks the HELO identity for the null reverse-path, and reports it as smtp.helo', async () => {
    const auth = await authenticateMessage(MESSAGE, options({ mailFrom: '', ip: '198.51.100.7' }));
    expect(auth.spf).toMatchObject({ identity: 'helo', domain: 'mail.example.com', result: 'fail' });
    expect(auth.authenticationResults.results[0]).toEqual({
      method: 'spf',
      result: 'fail',
      properties: [{ type: 'smtp', property: 'helo', value: 'mail.example.com' }],
    });
    expect(verdicts(auth.field)).toEqual(['spf=fail', 'dkim=none', 'arc=none', 'dmarc=fail']);
  });

  it('reports auth=pass and leaves SPF out for an authenticated client; DMARC rests on DKIM', async () => {
    const settings = options({ authenticatedUser: 'alice', ip: '198.51.100.7' });
    const auth = await authenticateMessage(await signed(), settings);
    expect(auth.spf).toBeUndefined();
    expect(settings.resolver.queries).not.toContain('example.com');
    expect(auth.authenticationResults.results[0]).toEqual({
      method: 'auth',
      result: 'pass',
      properties: [{ type: 'smtp', property: 'auth', value: 'alice' }],
    });
    expect(verdicts(auth.field)).toEqual(['auth=pass', 'dkim=pass', 'arc=none', 'dmarc=pass']);
    expect(auth.dmarc).toMatchObject({ spfAligned: false, dkimAligned: true });
  });

  it('passes an ARC chain sealed by a forwarder, reading a web stream only once', async () => {
    const message = await signed();
    const seal = await sealArc(
      message,
      { domain: 'forwarder.example', selector: 'arc', privateKey: forwarderKey.privatePem },
      {
        authservId: 'forwarder.example',
        results: [{ method: 'dkim', result: 'pass', properties: [] }],
        chain: { result: 'none', instance: 0 },
        now: () => NOW,
      },
    );
    const bytes = new TextEncoder().encode(seal + message);
    let pulls = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const at = pulls++ * 64;
        if (at >= bytes.length) controller.close();
        else controller.enqueue(bytes.subarray(at, at + 64));
      },
    });
    const auth = await authenticateMessage(stream, options());
    expect(pulls).toBe(Math.ceil(bytes.length / 64) + 1);
    expect(auth.arc).toMatchObject({ result: 'pass', instance: 1 });
    expect(verdicts(auth.field)).toEqual(['spf=pass', 'dkim=pass', 'arc=pass', 'dmarc=pass']);
  });

  it('names the policy domain and the subdomain policy when the record is a parent’s', async () => {
    const message = withFrom('news@lists.example.net');
    const auth = await authenticateMessage(message, options());
    expect(auth.dmarc).toMatchObject({ result: 'fail', policyTag: 'sp', disposition: 'reject' });
    expect(auth.authenticationResults.results.at(-1)?.properties).toEqual([
      { type: 'header', property: 'from', value: 'lists.example.net' },
      { type: 'polrec', property: 'p', value: 'quarantine' },
      { type: 'polrec', property: 'domain', value: 'example.net' },
      { type: 'policy', property: 'evaluated-disposition', value: 'reject' },
    ]);
  });

  it('says dmarc=none with the reason when the From domain has no policy', async () => {
    const auth = await authenticateMessage(withFrom('someone@example.org'), options());
    expect(auth.authenticationResults.results.at(-1)).toEqual({
      method: 'dmarc',
      result: 'none',
      reason: 'no DMARC record for example.org',
      properties: [{ type: 'header', property: 'from', value: 'example.org' }],
    });
  });

  it('turns DNS failures into temperror, never throwing', async () => {
    const message =
      (await signDkim(
        withFrom('a@failing.example'),
        { ...signer, domain: 'failing.example' },
        { now: () => NOW },
      )) + withFrom('a@failing.example');
    const auth = await authenticateMessage(message, options({ mailFrom: 'a@failing.example' }));
    expect(verdicts(auth.field)).toEqual(['spf=none', 'dkim=temperror', 'arc=none', 'dmarc=temperror']);
    expect(auth.dmarc.reason).toMatch(/_dmarc\.failing\.example/);
  });

  it.each([
    ['"Smith, Alice" <alice@example.com>', 'example.com'],
    ['alice@example.com (Alice, @home)', 'example.com'],
    ['"a@evil.example" <alice@Example.COM>', 'example.com'],
    ['Alice <@relay.example,@other.example:alice@example.com>', 'example.com'],
    ['alice@example.com, bob@example.com', 'example.com'],
    ['Team: alice@example.com, "Bob" <bob@example.com>;', 'example.com'],
    ['Alice <alice@example.com> trailing junk', 'example.com'],
    ['"quoted@local"@example.com', 'example.com'],
    ['alice@bücher.example', 'xn--bcher-kva.example'],
    ['alice@[192.0.2.1]', '[192.0.2.1]'],
    ['alice@\u0301abc.example', '\u0301abc.example'],
    ['alice@example.com (an unclosed comment', 'example.com'],
  ])('reads the From domain of %s', async (from, domain) => {
    const auth = await authenticateMessage(withFrom(from), options());
    expect(auth.dmarc.fromDomain).toBe(domain);
  });

  it.each([
    ['', 'no From field'],
    ['Undisclosed recipients:;', 'no mailbox in the From field'],
    ['alice', 'a From mailbox has no domain'],
    ['Alice <alice@>', 'a From mailbox has no domain'],
    ['alice@example.com, mallory@evil.example', 'the From mailboxes are of more than one domain'],
  ])('gives DMARC permerror for the From field %j', async (from, reason) => {
    const auth = await authenticateMessage(withFrom(from), options());
    expect(auth.dmarc).toMatchObject({ result: 'permerror', reason, disposition: 'none' });
    expect(auth.authenticationResults.results.at(-1)).toEqual({
      method: 'dmarc',
      result: 'permerror',
      reason,
      properties: [],
    });
  });

  it('gives DMARC permerror for two From fields', async () => {
    const auth = await authenticateMessage(`From: mallory@evil.example\r\n${MESSAGE}`, options());
    expect(auth.dmarc).toMatchObject({ result: 'permerror', reason: '2 From fields' });
  });

  it('writes no control character a header or a DNS answer holds', async () => {
    const auth = await authenticateMessage(withFrom('alice@exa\u0001mple.com'), options());
    expect(auth.dmarc.result).toBe('permerror');
    const dmarc = auth.authenticationResults.results.at(-1)!;
    expect(dmarc.properties).toEqual([{ type: 'header', property: 'from', value: 'exa mple.com' }]);
    expect(dmarc.reason).toBe('the From domain "exa mple.com" is not a domain name');
    expect(auth.field.replaceAll('\r\n', '')).not.toMatch(/[\u0000-\u0008\u000a-\u001f]/);
  });

  it('reads a UTF-8 From field (RFC 6532) and a message with bare LF line ends', async () => {
    const message = 'From: Jürgen <j@bücher.example>\nSubject: x\n\nbody\n';
    const auth = await authenticateMessage(message, options());
    expect(auth.dmarc.fromDomain).toBe('xn--bcher-kva.example');
  });

  it('gives permerror for a header larger than DKIM reads', async () => {
    const big = `X-Filler: ${'x'.repeat(1024 * 1024)}\r\n${MESSAGE}`;
    const auth = await authenticateMessage(big, options());
    expect(auth.dkim).toEqual([expect.objectContaining({ result: 'permerror' })]);
    expect(auth.dmarc).toMatchObject({
      result: 'permerror',
      reason: expect.stringMatching(/header is larger/),
    });
  });

  it('throws InvalidArgumentError for an unusable authserv-id, before any lookup', async () => {
    const settings = options({ authservId: 'mx\r\nInjected: yes' });
    await expect(authenticateMessage(MESSAGE, settings)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(settings.resolver.queries).toEqual([]);
  });

  it('fails as the message source fails', async () => {
    async function* broken(): AsyncIterable<Uint8Array> {
      yield new TextEncoder().encode('From: a@example.com\r\n');
      throw new Error('connection reset');
    }
    await expect(authenticateMessage(broken(), options())).rejects.toThrow('connection reset');
  });
});

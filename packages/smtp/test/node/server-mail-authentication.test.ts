import { ErrorCode } from '@postwire/core';
import type { SpfCheck } from '@postwire/mailauth';
import { type DkimSigner, parseAuthenticationResults, signDkim } from '@postwire/mailauth';
import { afterEach, describe, expect, it } from 'vitest';
import { keyRecord, rsaKey, zoneResolver } from '../../../mailauth/test/dkim/keys.js';
import { SmtpReplyError } from '../../src/client/errors.js';
import { createSmtpClient, type NodeSmtpClientOptions } from '../../src/node/client.js';
import {
  createSmtpServer,
  refuseDmarcReject,
  refuseSpfFail,
  type SmtpAuthenticatedMessage,
  type SmtpConnectionInfo,
  type SmtpIncomingMessage,
  type SmtpMailAuthenticationOptions,
  type SmtpMessageAuthentication,
  type SmtpServerOptions,
} from '../../src/node/server.js';
import {
  Conversation,
  certificates,
  closeServersAfterEach,
  readText,
  serverTls,
  startServer,
} from './server-harness.js';

const servers = closeServersAfterEach();

const key = rsaKey(2048);
/**
 * example.com lets loopback send and signs with `sel`; bank.example sends only from 192.0.2.0/24, signs
 * with `sel` too, and asks receivers to reject what fails DMARC.
 */
const zone = {
  'example.com': ['v=spf1 ip4:127.0.0.0/8 -all'],
  'sel._domainkey.example.com': [keyRecord(key)],
  '_dmarc.example.com': ['v=DMARC1; p=reject'],
  'bank.example': ['v=spf1 ip4:192.0.2.0/24 -all'],
  'sel._domainkey.bank.example': [keyRecord(key)],
  '_dmarc.bank.example': ['v=DMARC1; p=reject'],
};
const signer: DkimSigner = { domain: 'example.com', selector: 'sel', privateKey: key.privatePem };

const MESSAGE =
  'From: Alice <alice@example.com>\r\n' +
  'To: bob@mx.test\r\n' +
  'Subject: Lunch\r\n' +
  'Message-ID: <1@example.com>\r\n' +
  '\r\n' +
  'Noon at the usual place?\r\n';

async function signed(message = MESSAGE, by: DkimSigner = signer): Promise<string> {
  return (await signDkim(message, by)) + message;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

function client(port: number, options: Partial<NodeSmtpClientOptions> = {}) {
  const smtp = createSmtpClient({
    host: '127.0.0.1',
    port,
    name: 'mail.example.com',
    starttls: 'never',
    ...options,
  });
  closers.push(() => smtp.close());
  return smtp;
}

interface Delivery {
  readonly text: string;
  readonly authentication: SmtpMessageAuthentication | undefined;
}

/** A server with mail authentication over the in-memory zone, recording what `onData` got. */
async function server(
  authentication: Partial<SmtpMailAuthenticationOptions> = {},
  options: Partial<SmtpServerOptions> = {},
) {
  const deliveries: Delivery[] = [];
  const errors: unknown[] = [];
  const resolver = zoneResolver(zone);
  const port = await startServer(servers, {
    mailAuthentication: { resolver, ...authentication },
    async onData(message: SmtpIncomingMessage) {
      deliveries.push({ text: await readText(message.stream), authentication: message.authentication });
    },
    onError: (error) => {
      errors.push(error);
    },
    ...options,
  });
  return { port, deliveries, errors, resolver };
}

/** The header fields of a message, unfolded, in order. */
function fields(text: string): string[] {
  const header = text.slice(0, text.indexOf('\r\n\r\n'));
  return header.split(/\r\n(?![ \t])/).map((field) => field.replace(/\r\n[ \t]/g, ' '));
}

/** The `method=result` words of an Authentication-Results field. */
function verdicts(field: string): string[] {
  const parsed = parseAuthenticationResults(field);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value.results.map((each) => `${each.method}=${each.result}`);
}

describe('createSmtpServer with mailAuthentication', () => {
  it('passes SPF, DKIM and DMARC for a signed message from an allowed address (BDAT)', async () => {
    const { port, deliveries } = await server();
    const message = await signed();
    const result = await client(port).send({
      envelope: { from: 'alice@example.com', to: ['bob@mx.test'] },
      message,
    });
    expect(result.reply.code).toBe(250);
    expect(deliveries).toHaveLength(1);
    const { text, authentication } = deliveries[0]!;
    const [first, second] = fields(text);
    expect(first).toMatch(
      /^Authentication-Results: mx\.test; spf=pass smtp\.mailfrom=alice@example\.com; dkim=pass/,
    );
    expect(verdicts(first!)).toEqual(['spf=pass', 'dkim=pass', 'arc=none', 'dmarc=pass']);
    expect(first).toContain('arc=none smtp.remote-ip=127.0.0.1');
    expect(first).toContain('dmarc=pass header.from=example.com polrec.p=reject');
    // Above the server's own Received header, and the client's message after it, byte for byte.
    expect(second).toMatch(/^Received: from mail\.example\.com \(mail\.example\.com \[127\.0\.0\.1\]\)/);
    expect(text.endsWith(message)).toBe(true);
    expect(authentication).toMatchObject({
      spf: { result: 'pass', identity: 'mailfrom', domain: 'example.com' },
      dkim: [{ result: 'pass' }],
      dmarc: { result: 'pass', disposition: 'none' },
      arc: { result: 'none' },
    });
    expect(text.startsWith(authentication!.field)).toBe(true);
    expect(authentication!.spam).toBeUndefined();
  });

  it('passes the same message sent with DATA, and checks SPF once, at MAIL FROM', async () => {
    const checks: SpfCheck[] = [];
    const { port, deliveries, resolver } = await server(
      { spf: (check) => void checks.push(check) },
      { chunking: false },
    );
    await client(port).send({
      envelope: { from: 'alice@example.com', to: ['bob@mx.test'] },
      message: await signed(),
    });
    expect(checks).toMatchObject([{ result: 'pass', sender: 'alice@example.com' }]);
    expect(resolver.queries.filter((name) => name === 'example.com')).toHaveLength(1);
    expect(verdicts(fields(deliveries[0]!.text)[0]!)).toEqual([
      'spf=pass',
      'dkim=pass',
      'arc=none',
      'dmarc=pass',
    ]);
  });

  it('fails a forged message, and the verdict hook refusing it gives the client 550 5.7.1', async () => {
    const seen: [SmtpMessageAuthentication, SmtpAuthenticatedMessage, SmtpConnectionInfo][] = [];
    const { port, deliveries } = await server({
      verdict: (authentication, message, connection) => {
        seen.push([authentication, message, connection]);
        return refuseDmarcReject(authentication);
      },
    });
    const forged = (
      await signed(MESSAGE.replace(/example\.com/g, 'bank.example'), { ...signer, domain: 'bank.example' })
    ).replace('Noon', 'Midnight');
    const sending = client(port).send({
      envelope: { from: 'ceo@bank.example', to: ['bob@mx.test'] },
      message: forged,
    });
    const error = await sending.catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(SmtpReplyError);
    expect((error as SmtpReplyError).reply).toEqual({
      code: 550,
      enhancedCode: '5.7.1',
      lines: ['Unauthenticated mail from bank.example is refused by its DMARC policy'],
    });
    expect(deliveries).toEqual([]);
    const [authentication, message, connection] = seen[0]!;
    expect(verdicts(authentication.field)).toEqual(['spf=fail', 'dkim=fail', 'arc=none', 'dmarc=fail']);
    expect(authentication.dkim[0]?.reason).toBe('body hash did not verify');
    expect(authentication.dmarc).toMatchObject({ result: 'fail', disposition: 'reject' });
    expect(new TextDecoder().decode(message.bytes).startsWith(authentication.field)).toBe(true);
    expect(message.envelope.from?.address).toBe('ceo@bank.example');
    expect(connection.remoteAddress).toBe('127.0.0.1');
  });

  it('refuses the sender at MAIL FROM when the spf hook says so (550 5.7.23, RFC 7372)', async () => {
    const { port, deliveries } = await server({ spf: refuseSpfFail });
    const conversation = await Conversation.open(port);
    await conversation.send('EHLO mail.example.com\r\n');
    expect(await conversation.send('MAIL FROM:<ceo@bank.example>\r\n')).toBe(
      '550 5.7.23 SPF of bank.example does not allow this client to send for it\r\n',
    );
    // A sender SPF allows goes on as usual.
    expect(await conversation.send('MAIL FROM:<alice@example.com>\r\n')).toBe('250 2.1.0 Sender OK\r\n');
    const error = await client(port)
      .send({ envelope: { from: 'ceo@bank.example', to: ['bob@mx.test'] }, message: MESSAGE })
      .catch((failure: unknown) => failure);
    expect(error).toMatchObject({ command: 'MAIL', reply: { code: 550, enhancedCode: '5.7.23' } });
    expect(deliveries).toEqual([]);
  });

  it("writes the spam classifier's verdict as SpamAssassin does, above the results, before onData", async () => {
    const classified: string[] = [];
    const { port, deliveries } = await server({
      classify: (message) => {
        const text = new TextDecoder().decode(message.bytes);
        classified.push(text);
        return {
          spam: message.authentication.dmarc.result !== 'pass',
          score: 7.25,
          required: 5,
          tests: ['DMARC_FAIL', 'SPF_FAIL'],
          headers: { 'X-Classifier': 'test-1' },
        };
      },
    });
    const incoming = `X-Spam-Flag: NO\r\nX-Spam-Status: No, score=-5.0\r\n${MESSAGE.replace(/example\.com/g, 'bank.example')}`;
    await client(port).send({
      envelope: { from: 'ceo@bank.example', to: ['bob@mx.test'] },
      message: incoming,
    });
    const { text, authentication } = deliveries[0]!;
    expect(fields(text).slice(0, 6)).toEqual([
      'X-Spam-Flag: YES',
      'X-Spam-Score: 7.3',
      'X-Spam-Level: *******',
      'X-Spam-Status: Yes, score=7.3 required=5.0 tests=DMARC_FAIL,SPF_FAIL',
      'X-Classifier: test-1',
      expect.stringMatching(/^Authentication-Results: mx\.test; spf=fail/),
    ]);
    // The classifier saw the message as delivered, results included, the sender's spam fields removed.
    expect(classified[0]!.startsWith('Authentication-Results: mx.test;')).toBe(true);
    expect(text).not.toContain('X-Spam-Flag: NO');
    expect(text).not.toContain('score=-5.0');
    expect(text.endsWith(classified[0]!)).toBe(true);
    expect(authentication?.spam).toMatchObject({ spam: true, score: 7.25 });
  });

  it('removes Authentication-Results fields forged with our authserv-id, and keeps the others', async () => {
    const { port, deliveries } = await server({ authservId: 'Auth.Example.Net' });
    const incoming =
      'Authentication-Results: auth.example.net; dkim=pass header.d=bank.example\r\n' +
      'Authentication-Results: other.example; spf=pass smtp.mailfrom=alice@example.com\r\n' +
      'authentication-results : (comment) AUTH.EXAMPLE.NET;\r\n dmarc=pass header.from=bank.example\r\n' +
      MESSAGE;
    await client(port).send({
      envelope: { from: 'alice@example.com', to: ['bob@mx.test'] },
      message: incoming,
    });
    const { text } = deliveries[0]!;
    const results = fields(text).filter((field) => /^authentication-results/i.test(field));
    expect(results).toEqual([
      expect.stringMatching(/^Authentication-Results: Auth\.Example\.Net; spf=pass/),
      'Authentication-Results: other.example; spf=pass smtp.mailfrom=alice@example.com',
    ]);
    expect(text).toContain(
      `\r\nAuthentication-Results: other.example; spf=pass smtp.mailfrom=alice@example.com\r\n${MESSAGE}`,
    );
  });

  it('skips SPF for an authenticated client, and reports auth=pass', async () => {
    const checks: SpfCheck[] = [];
    const { port, deliveries, resolver } = await server(
      { spf: (check) => void checks.push(check) },
      { startTls: serverTls, onAuth: ({ password }) => password === 'alicepw' },
    );
    const submission = client(port, {
      starttls: 'required',
      tls: { ca: certificates.ca },
      auth: { username: 'alice', password: 'alicepw' },
    });
    await submission.send({
      envelope: { from: 'alice@bank.example', to: ['bob@mx.test'] },
      message: await signed(),
    });
    expect(checks).toEqual([]);
    expect(resolver.queries).not.toContain('bank.example');
    const { authentication } = deliveries[0]!;
    expect(authentication?.spf).toBeUndefined();
    expect(verdicts(authentication!.field)).toEqual(['auth=pass', 'dkim=pass', 'arc=none', 'dmarc=pass']);
    expect(authentication!.field).toContain('auth=pass smtp.auth=alice');
  });

  it('checks the HELO name for the null reverse-path, and leaves out Received when asked', async () => {
    const { port, deliveries } = await server({}, { receivedHeader: false });
    const conversation = await Conversation.open(port);
    await conversation.send('EHLO example.com\r\n');
    await conversation.send('MAIL FROM:<>\r\n');
    await conversation.send('RCPT TO:<bob@mx.test>\r\n');
    await conversation.send('DATA\r\n');
    expect(await conversation.send(`${MESSAGE}.\r\n`)).toBe('250 2.0.0 Message accepted\r\n');
    const [first, second] = fields(deliveries[0]!.text);
    expect(first).toMatch(/^Authentication-Results: mx\.test; spf=pass smtp\.helo=example\.com; dkim=none;/);
    expect(second).toBe('From: Alice <alice@example.com>');
  });

  it('answers 451 4.3.0 when a hook fails, and lets a 2xx verdict stand when onData says nothing', async () => {
    let fail: 'spf' | 'classify' | undefined = 'spf';
    const { port, deliveries, errors } = await server({
      spf: () => {
        if (fail === 'spf') throw new Error('spf hook broke');
      },
      classify: () => {
        if (fail === 'classify') throw new Error('classifier down');
        return undefined;
      },
      verdict: () => ({ code: 250, enhancedCode: '2.6.0', lines: ['Queued after checks'] }),
    });
    const conversation = await Conversation.open(port);
    await conversation.send('EHLO mail.example.com\r\n');
    expect(await conversation.send('MAIL FROM:<alice@example.com>\r\n')).toBe(
      '451 4.3.0 Temporary failure, try again later\r\n',
    );
    fail = 'classify';
    await conversation.send('MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@mx.test>\r\nDATA\r\n', 3);
    expect(await conversation.send(`${MESSAGE}.\r\n`)).toBe(
      '451 4.3.0 Temporary failure, try again later\r\n',
    );
    expect(deliveries).toEqual([]);
    fail = undefined;
    await conversation.send('MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@mx.test>\r\nDATA\r\n', 3);
    expect(await conversation.send(`${MESSAGE}.\r\n`)).toBe('250 2.6.0 Queued after checks\r\n');
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]!.authentication?.spam).toBeUndefined();
    expect(errors.map((error) => (error as Error).message)).toEqual(['spf hook broke', 'classifier down']);
  });

  it('lets onMailFrom refuse first, without an SPF lookup', async () => {
    const { port, resolver } = await server(
      {},
      { onMailFrom: () => ({ code: 550, enhancedCode: '5.1.8', lines: ['Bad sender'] }) },
    );
    const conversation = await Conversation.open(port);
    await conversation.send('EHLO mail.example.com\r\n');
    expect(await conversation.send('MAIL FROM:<alice@example.com>\r\n')).toBe('550 5.1.8 Bad sender\r\n');
    expect(resolver.queries).toEqual([]);
  });

  it('lets a message over the size limit go, as without mail authentication', async () => {
    const { port, deliveries } = await server({}, { limits: { messageSize: 100 }, chunking: false });
    const conversation = await Conversation.open(port);
    await conversation.send('EHLO mail.example.com\r\n');
    await conversation.send('MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@mx.test>\r\nDATA\r\n', 3);
    expect(await conversation.send(`${MESSAGE}${'x'.repeat(200)}\r\n.\r\n`)).toBe(
      '552 5.3.4 Message size exceeds fixed limit\r\n',
    );
    expect(deliveries).toEqual([]);
  });

  it('refuses an authserv-id that cannot be written, and defaults the resolver', () => {
    expect(() =>
      createSmtpServer({ hostname: 'mx.test', mailAuthentication: { authservId: 'a\r\nb' } }),
    ).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
    expect(createSmtpServer({ hostname: 'mx.test', mailAuthentication: {} })).toBeDefined();
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { testCertificates } from '../../../core/test/support/certs.js';
import { SmtpExtensionError } from '../../src/client/errors.js';
import { createSmtpClient, type NodeSmtpClientOptions } from '../../src/node/client.js';
import { aiosmtpdAvailable, startAiosmtpd } from '../support/aiosmtpd.js';
import { postfixAvailable, startPostfix } from '../support/postfix.js';

/** Postwire's SMTP client against real servers: aiosmtpd (no PIPELINING, no CHUNKING) and Postfix (both). */

const hasAiosmtpd = aiosmtpdAvailable();
const hasPostfix = postfixAvailable();
if (!hasAiosmtpd) console.log('client tests with aiosmtpd skipped: /usr/bin/python3 cannot import aiosmtpd.');
if (!hasPostfix)
  console.log('client tests with Postfix skipped: Postfix is missing or the tests do not run as root.');

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function client(options: NodeSmtpClientOptions) {
  const smtp = createSmtpClient({ name: 'client.postwire.test', ...options });
  cleanups.push(() => smtp.close());
  return smtp;
}

const MESSAGE =
  'From: Ann <ann@postwire.test>\r\nTo: Bob <bob@postwire.test>\r\nSubject: interop\r\n\r\n' +
  '.a line with a leading dot\r\nand a stray\nline feed\r\n.\r\nthe end\r\n';
/** {@link MESSAGE} as it must arrive: the stray LF made CRLF by the client. */
const DELIVERED = MESSAGE.replace('stray\nline', 'stray\r\nline');

describe.skipIf(!hasAiosmtpd)('SMTP client with aiosmtpd', () => {
  async function aiosmtpd(options: Parameters<typeof startAiosmtpd>[0] = {}) {
    const peer = await startAiosmtpd(options);
    cleanups.push(() => peer.stop());
    return peer;
  }

  it('sends one command at a time and the message with DATA, dot-stuffed, byte for byte', async () => {
    const peer = await aiosmtpd();
    const lines: string[] = [];
    const smtp = client({
      host: '127.0.0.1',
      port: peer.port,
      starttls: 'never',
      trace: (event) => lines.push(`${event.direction} ${event.line}`),
    });
    const result = await smtp.send({
      envelope: { from: 'ann@postwire.test', to: ['bob@postwire.test', 'cat@postwire.test'] },
      message: MESSAGE,
    });
    expect(result.accepted).toEqual(['bob@postwire.test', 'cat@postwire.test']);
    const [message] = await peer.messages();
    expect(message!.from).toBe('ann@postwire.test');
    expect(message!.recipients).toEqual(['bob@postwire.test', 'cat@postwire.test']);
    expect(message!.heloName).toBe('client.postwire.test');
    expect(message!.data.toString('utf8')).toBe(DELIVERED);
    expect(lines).toContain('out DATA');
  }, 30_000);

  it('STARTTLS required, then AUTH with the test CA, and implicit TLS', async () => {
    const certificates = testCertificates();
    const peer = await aiosmtpd({ startTls: true, implicitTls: true, auth: { users: { alice: 'alicepw' } } });
    const tls = { ca: certificates.ca, servername: 'localhost' };
    const auth = { username: 'alice', password: 'alicepw' };
    await client({ host: '127.0.0.1', port: peer.port, starttls: 'required', tls, auth }).send({
      envelope: { from: 'ann@postwire.test', to: ['bob@postwire.test'] },
      message: MESSAGE,
    });
    await client({ host: '127.0.0.1', port: peer.tlsPort!, secure: true, tls, auth }).send({
      envelope: { from: 'ann@postwire.test', to: ['bob@postwire.test'] },
      message: MESSAGE,
    });
    const messages = await peer.messages();
    expect(messages.map((each) => each.user)).toEqual(['alice', 'alice']);
    expect(messages.every((each) => each.tls?.startsWith('TLSv1.'))).toBe(true);
    const wrong = client({
      host: '127.0.0.1',
      port: peer.port,
      starttls: 'required',
      tls,
      auth: { ...auth, password: 'x' },
    });
    await expect(
      wrong.send({ envelope: { from: 'ann@postwire.test', to: ['bob@postwire.test'] }, message: MESSAGE }),
    ).rejects.toMatchObject({ code: 'AUTH_FAILED' });
  }, 30_000);

  it('reports a refused recipient, sends SMTPUTF8 addresses, and refuses a message over SIZE before sending', async () => {
    const peer = await aiosmtpd({
      sizeLimit: 2000,
      recipientReplies: { 'nobody@postwire.test': '550 5.1.1 No such user' },
    });
    const smtp = client({ host: '127.0.0.1', port: peer.port, starttls: 'never' });
    const result = await smtp.send({
      envelope: { from: 'josé@postwire.test', to: ['bob@postwire.test', 'nobody@postwire.test'] },
      message: MESSAGE,
    });
    expect(result.rejected).toEqual(['nobody@postwire.test']);
    expect(result.recipients[1]!.reply).toMatchObject({ code: 550, enhancedCode: '5.1.1' });
    const [message] = await peer.messages();
    expect(message!.smtputf8).toBe(true);
    expect(message!.from).toBe('josé@postwire.test');
    await expect(
      smtp.send({
        envelope: { from: 'a@postwire.test', to: ['b@postwire.test'] },
        message: 'x'.repeat(3000),
      }),
    ).rejects.toBeInstanceOf(SmtpExtensionError);
    expect(await peer.messages()).toHaveLength(1);
  }, 30_000);
});

describe.skipIf(!hasPostfix)('SMTP client with Postfix', () => {
  async function postfix(options: Parameters<typeof startPostfix>[0] = {}) {
    const peer = await startPostfix(options);
    cleanups.push(() => peer.stop());
    return peer;
  }

  it('pipelines the envelope with BDAT, upgrades with STARTTLS, and the message arrives byte for byte', async () => {
    const certificates = testCertificates();
    const peer = await postfix();
    const lines: string[] = [];
    const smtp = client({
      host: '127.0.0.1',
      port: peer.port,
      starttls: 'required',
      tls: { ca: certificates.ca, servername: 'localhost' },
      trace: (event) => lines.push(`${event.direction} ${event.line}`),
    });
    const result = await smtp.send({
      envelope: {
        from: 'ann@postwire.test',
        to: ['bob@postwire.test'],
        dsn: { notify: ['FAILURE'], ret: 'HDRS' },
      },
      message: MESSAGE,
    });
    expect(result.accepted).toEqual(['bob@postwire.test']);
    const [message] = await peer.waitForMessages(1);
    expect(message!.from).toBe('ann@postwire.test');
    expect(message!.recipient).toBe('bob@postwire.test');
    expect(message!.message.toString('utf8')).toBe(DELIVERED);
    expect(message!.received).toMatch(/with ESMTPS/);
    expect(lines).toContain('out STARTTLS');
    expect(lines.some((line) => /^out BDAT \d+ LAST$/.test(line))).toBe(true);
  }, 30_000);

  it('streams a large message in several BDAT chunks', async () => {
    const peer = await postfix();
    const body = `${'0123456789abcdef'.repeat(6)}\r\n`.repeat(8000);
    const text = `Subject: large\r\n\r\n${body}`;
    const bytes = new TextEncoder().encode(text);
    async function* chunks() {
      for (let i = 0; i < bytes.length; i += 32_768) yield bytes.subarray(i, i + 32_768);
    }
    const lines: string[] = [];
    await client({
      host: '127.0.0.1',
      port: peer.port,
      starttls: 'never',
      trace: (event) => lines.push(event.line),
    }).send({
      envelope: { from: 'ann@postwire.test', to: ['bob@postwire.test'] },
      message: chunks(),
    });
    const [message] = await peer.waitForMessages(1);
    expect(message!.message.toString('utf8')).toBe(text);
    expect(lines.filter((line) => line.startsWith('BDAT')).length).toBeGreaterThan(1);
  }, 30_000);

  it('sends many messages over a pool of two connections; every one is delivered', async () => {
    const peer = await postfix();
    // The harness's own readiness check connected once already; Postfix may log it a little later, and
    // counting before it is logged would count it as one of the pool's.
    const connects = async () => (await peer.readLog()).match(/smtpd\[\d+\]: connect from/g)?.length ?? 0;
    let before = await connects();
    for (let tries = 0; before === 0 && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      before = await connects();
    }
    const smtp = client({
      host: '127.0.0.1',
      port: peer.port,
      starttls: 'never',
      pool: { maxConnections: 2 },
    });
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        smtp.send({
          envelope: { from: 'ann@postwire.test', to: [`user${i}@postwire.test`] },
          message: `Subject: ${i}\r\n\r\nmessage ${i}\r\n`,
        }),
      ),
    );
    const messages = await peer.waitForMessages(30, 20_000);
    expect(new Set(messages.map((each) => each.recipient)).size).toBe(30);
    expect((await connects()) - before).toBeLessThanOrEqual(2);
  }, 40_000);
});

import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import {
  AbortError,
  ConnectionError,
  ErrorCode,
  InvalidArgumentError,
  ProtocolError,
  TimeoutError,
  TlsError,
  type Transport,
} from '@postwire/core';
import { connect } from '@postwire/core/node';
import { createSaslServer } from '@postwire/sasl';
import { afterEach, describe, expect, it } from 'vitest';
import { testCertificates } from '../../../core/test/support/certs.js';
import { scriptedServer } from '../../../core/test/support/scripted-server.js';
import { SmtpExtensionError, SmtpReplyError } from '../../src/client/errors.js';
import { createSmtpClient, type NodeSmtpClientOptions } from '../../src/node/client.js';
import { createSmtpServer, type SmtpServer, type SmtpServerOptions } from '../../src/node/server.js';
import type { SmtpReply } from '../../src/protocol/reply.js';
import type { SmtpEnvelope } from '../../src/server/session.js';

interface Delivery {
  readonly envelope: SmtpEnvelope;
  /** The message as the client sent it, the server's Received header taken off. */
  readonly message: string;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** Reads a message stream, whichever shape the server's onData gives it. */
async function readAll(message: unknown): Promise<string> {
  const stream = (message as { stream?: unknown }).stream ?? message;
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream as AsyncIterable<Uint8Array>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Our server on loopback, recording every delivered message and counting sessions. */
async function ourServer(options: Partial<SmtpServerOptions> = {}) {
  const deliveries: Delivery[] = [];
  const sessions = { count: 0 };
  const server: SmtpServer = createSmtpServer({
    hostname: 'mx.postwire.test',
    onHelo: () => {
      sessions.count++;
    },
    async onData(message: unknown, second: unknown) {
      const envelope = ((message as { envelope?: SmtpEnvelope }).envelope ?? second) as SmtpEnvelope;
      const text = await readAll(message);
      const received = /^Received: (?:.*\r\n[\t ])*.*\r\n/.exec(text)?.[0] ?? '';
      deliveries.push({ envelope, message: text.slice(received.length) });
    },
    ...options,
  } as SmtpServerOptions);
  const { port } = await server.listen();
  closers.push(() => server.close());
  return { port, deliveries, sessions };
}

function client(port: number, options: Partial<NodeSmtpClientOptions> = {}) {
  const smtp = createSmtpClient({
    host: '127.0.0.1',
    port,
    name: 'client.postwire.test',
    starttls: 'never',
    ...options,
  });
  closers.push(() => smtp.close());
  return smtp;
}

const MESSAGE = 'From: a@postwire.test\r\nTo: b@postwire.test\r\nSubject: hi\r\n\r\nHello.\r\n';
const ENVELOPE = { from: 'a@postwire.test', to: ['b@postwire.test'] };

describe('SMTP client with our server', () => {
  it('sends a message with PIPELINING and BDAT in one write, byte for byte', async () => {
    const { port, deliveries } = await ourServer();
    const lines: string[] = [];
    const smtp = client(port, { trace: (event) => lines.push(`${event.direction} ${event.line}`) });
    const result = await smtp.send({ envelope: ENVELOPE, message: MESSAGE });
    expect(result.accepted).toEqual(['b@postwire.test']);
    expect(result.rejected).toEqual([]);
    expect(result.reply.code).toBe(250);
    expect(result.server).toBe(`127.0.0.1:${port}`);
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]!.message).toBe(MESSAGE);
    expect(deliveries[0]!.envelope.from?.address).toBe('a@postwire.test');
    expect(lines).toContain(`out BDAT ${MESSAGE.length} LAST`);
    expect(lines.some((line) => line.startsWith('out DATA'))).toBe(false);
  });

  it('uses DATA with dot-stuffing when the server lacks CHUNKING, and repairs stray CR and LF (case 4)', async () => {
    const { port, deliveries } = await ourServer({ chunking: false });
    const smtp = client(port);
    const body = '.leading dot\r\nbare lf\n.\nbare cr\r.\r\nend\r\r\n.\r\r\nlast line without CRLF';
    await smtp.send({ envelope: ENVELOPE, message: `Subject: s\r\n\r\n${body}` });
    expect(deliveries).toHaveLength(1);
    const delivered = deliveries[0]!.message;
    expect(delivered).toBe(
      'Subject: s\r\n\r\n.leading dot\r\nbare lf\r\n.\r\nbare cr\r\n.\r\nend\r\n\r\n.\r\n\r\nlast line without CRLF\r\n',
    );
    expect(delivered).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
  });

  it('repairs stray line endings under BDAT too, and sends a stream in several chunks', async () => {
    const { port, deliveries } = await ourServer();
    const line = `${'x'.repeat(70)}\n`;
    const text = `Subject: big\n\n${line.repeat(8000)}`;
    const bytes = new TextEncoder().encode(text);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 10_000) controller.enqueue(bytes.subarray(i, i + 10_000));
        controller.close();
      },
    });
    const lines: string[] = [];
    const smtp = client(port, { trace: (event) => lines.push(event.line) });
    await smtp.send({ envelope: ENVELOPE, message: stream });
    expect(deliveries[0]!.message).toBe(text.replace(/\n/g, '\r\n'));
    expect(lines.filter((each) => each.startsWith('BDAT')).length).toBeGreaterThan(1);
    expect(lines.filter((each) => each.endsWith(' LAST'))).toHaveLength(1);
  });

  it('reports a refused recipient and delivers to the others', async () => {
    const { port, deliveries } = await ourServer({
      onRcptTo: (to) =>
        to.localPart === 'nobody' ? { code: 550, enhancedCode: '5.1.1', lines: ['No such user'] } : undefined,
    });
    const result = await client(port).send({
      envelope: { from: 'a@postwire.test', to: ['b@postwire.test', 'nobody@postwire.test'] },
      message: MESSAGE,
    });
    expect(result.accepted).toEqual(['b@postwire.test']);
    expect(result.rejected).toEqual(['nobody@postwire.test']);
    const refused = result.recipients[1]!;
    expect(refused.reply).toMatchObject({ code: 550, enhancedCode: '5.1.1' });
    expect(deliveries[0]!.envelope.recipients.map((each) => each.to.address)).toEqual(['b@postwire.test']);
  });

  it('throws a temporary SmtpReplyError when every recipient is refused with 4yz, and sends nothing', async () => {
    const { port, deliveries } = await ourServer({
      onRcptTo: () => ({ code: 451, enhancedCode: '4.7.1', lines: ['Greylisted, try later'] }),
    });
    const error = await client(port)
      .send({ envelope: ENVELOPE, message: MESSAGE })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SmtpReplyError);
    const replyError = error as SmtpReplyError;
    expect(replyError.temporary).toBe(true);
    expect(replyError.reply.enhancedCode).toBe('4.7.1');
    expect(replyError.recipients.map((each) => each.address)).toEqual(['b@postwire.test']);
    expect(deliveries).toHaveLength(0);
  });

  it('throws a permanent SmtpReplyError when the sender is refused', async () => {
    const { port } = await ourServer({
      onMailFrom: () => ({ code: 550, enhancedCode: '5.7.1', lines: ['Sender blocked'] }),
    });
    const error = (await client(port)
      .send({ envelope: ENVELOPE, message: MESSAGE })
      .catch((caught: unknown) => caught)) as SmtpReplyError;
    expect(error).toBeInstanceOf(SmtpReplyError);
    expect(error.command).toBe('MAIL');
    expect(error.permanent).toBe(true);
  });

  it('closes a message stream it never reads, when the sender or every recipient is refused', async () => {
    const { port } = await ourServer({
      onMailFrom: (from) =>
        from?.address === 'blocked@postwire.test'
          ? { code: 550, enhancedCode: '5.7.1', lines: ['Sender blocked'] }
          : undefined,
      onRcptTo: () => ({ code: 550, enhancedCode: '5.1.1', lines: ['No such user'] }),
    });
    const smtp = client(port);
    const nodeStream = Readable.from([Buffer.from(MESSAGE)]);
    await expect(
      smtp.send({ envelope: { ...ENVELOPE, from: 'blocked@postwire.test' }, message: nodeStream }),
    ).rejects.toBeInstanceOf(SmtpReplyError);
    expect(nodeStream.destroyed).toBe(true);
    let cancelled: () => void = () => {};
    const cancel = new Promise<void>((resolve) => {
      cancelled = resolve;
    });
    const webStream = new ReadableStream<Uint8Array>({
      pull: (controller) => controller.enqueue(Buffer.from(MESSAGE)),
      cancel: () => cancelled(),
    });
    await expect(smtp.send({ envelope: ENVELOPE, message: webStream })).rejects.toBeInstanceOf(
      SmtpReplyError,
    );
    await cancel;
  });

  it('refuses before sending a message over the SIZE limit, 8-bit text without 8BITMIME, UTF-8 without SMTPUTF8', async () => {
    const { port, deliveries } = await ourServer({
      limits: { messageSize: 100 },
      eightBitMime: false,
      smtputf8: false,
    });
    const smtp = client(port);
    const big = `Subject: s\r\n\r\n${'x'.repeat(200)}\r\n`;
    await expect(smtp.send({ envelope: ENVELOPE, message: big })).rejects.toMatchObject({
      extension: 'SIZE',
    });
    await expect(
      smtp.send({ envelope: ENVELOPE, message: 'Subject: s\r\n\r\ncafé\r\n' }),
    ).rejects.toMatchObject({
      extension: '8BITMIME',
      code: ErrorCode.Unsupported,
    });
    await expect(
      smtp.send({ envelope: { from: 'a@postwire.test', to: ['josé@postwire.test'] }, message: MESSAGE }),
    ).rejects.toBeInstanceOf(SmtpExtensionError);
    expect(deliveries).toHaveLength(0);
  });

  it('sends UTF-8 addresses and headers with SMTPUTF8 and 8-bit text with BODY=8BITMIME', async () => {
    const { port, deliveries } = await ourServer();
    const message = 'From: josé@postwire.test\r\nSubject: café\r\n\r\ncafé\r\n';
    await client(port).send({ envelope: { from: 'josé@postwire.test', to: ['zoë@postwire.test'] }, message });
    const { envelope } = deliveries[0]!;
    expect(envelope.mailParameters.smtputf8).toBe(true);
    expect(envelope.mailParameters.body).toBe('8BITMIME');
    expect(envelope.recipients[0]!.to.address).toBe('zoë@postwire.test');
    expect(deliveries[0]!.message).toBe(message);
  });

  it('composes internationalised addresses for the server: SMTPUTF8 for a UTF-8 local part, A-labels without it', async () => {
    const { port, deliveries } = await ourServer();
    await client(port).send({
      message: { from: 'josé@postwire.test', to: 'zoë@bücher.de', subject: 'café', text: 'x' },
    });
    expect(deliveries[0]!.envelope.mailParameters.smtputf8).toBe(true);
    expect(deliveries[0]!.envelope.recipients[0]!.to.address).toBe('zoë@bücher.de');
    expect(deliveries[0]!.message).toMatch(/^From: josé@postwire\.test\r$/m);

    const ascii = await ourServer({ smtputf8: false });
    const sent = await client(ascii.port).send({
      message: { from: 'ann@postwire.test', to: 'bob@bücher.de', subject: 'café', text: 'x' },
    });
    expect(sent.accepted).toEqual(['bob@xn--bcher-kva.de']);
    expect(ascii.deliveries[0]!.message).toMatch(/^To: bob@xn--bcher-kva\.de\r$/m);
    expect(ascii.deliveries[0]!.message).toMatch(/^Subject: =\?utf-8\?/m);
    await expect(
      client(ascii.port).send({
        message: { from: 'josé@postwire.test', to: 'bob@postwire.test', text: 'x' },
      }),
    ).rejects.toBeInstanceOf(SmtpExtensionError);
  });

  it('passes DSN parameters and refuses them to a server without DSN', async () => {
    const { port, deliveries } = await ourServer();
    await client(port).send({
      envelope: {
        ...ENVELOPE,
        dsn: { ret: 'HDRS', envid: 'id+1=x', notify: ['FAILURE', 'DELAY'], orcpt: true },
      },
      message: MESSAGE,
    });
    const { envelope } = deliveries[0]!;
    expect(envelope.mailParameters).toMatchObject({ ret: 'HDRS', envid: 'id+1=x' });
    expect(envelope.recipients[0]!.parameters).toMatchObject({
      notify: ['FAILURE', 'DELAY'],
      orcpt: { type: 'rfc822', address: 'b@postwire.test' },
    });
    const plain = await ourServer({ dsn: false });
    await expect(
      client(plain.port).send({ envelope: { ...ENVELOPE, dsn: { notify: ['NEVER'] } }, message: MESSAGE }),
    ).rejects.toMatchObject({ extension: 'DSN' });
  });

  it('case 31: refuses addresses and names that would break the command line, before writing anything', async () => {
    const server = await scriptedServer('220 x ESMTP\r\n', (line) =>
      line.startsWith('EHLO') ? '250-x\r\n250 PIPELINING\r\n' : '250 OK\r\n',
    );
    closers.push(() => server.close());
    const smtp = client(server.port);
    for (const to of [
      '"foo@psres.net> ORCPT=admin@admin.com"@test.com',
      'b@x.test\r\nRCPT TO:<c@y.test>',
      'b@x.test>',
    ]) {
      await expect(
        smtp.send({ envelope: { from: 'a@x.test', to: [to] }, message: MESSAGE }),
      ).rejects.toBeInstanceOf(InvalidArgumentError);
    }
    await expect(
      smtp.send({ envelope: { from: 'a@x.test\r\nRSET', to: ['b@x.test'] }, message: MESSAGE }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    for (const name of ['evil\r\nMAIL FROM:<x@y>', 'mx<a>.test', 'two words']) {
      expect(() => client(server.port, { name })).toThrow(InvalidArgumentError);
    }
    expect(server.lines.filter((line) => /^(MAIL|RCPT)/.test(line))).toEqual([]);
  });

  it('authenticates after STARTTLS with the strongest shared mechanism, and the trace redacts it (case 48)', async () => {
    const certificates = testCertificates();
    const sasl = createSaslServer({
      mechanisms: ['PLAIN', 'LOGIN', 'SCRAM-SHA-256'],
      verifiers: { lookupPassword: async (username) => (username === 'alice' ? 'alicepw' : undefined) },
    });
    const users: (string | undefined)[] = [];
    const { port, deliveries } = await ourServer({
      requireAuth: true,
      sasl,
      startTls: { cert: certificates.cert, key: certificates.key },
      onMailFrom: (_from: unknown, _parameters: unknown, connection: { user?: string }) => {
        users.push(connection.user);
      },
    } as Partial<SmtpServerOptions>);
    const lines: string[] = [];
    const smtp = client(port, {
      starttls: 'required',
      tls: { ca: certificates.ca },
      auth: { username: 'alice', password: 'alicepw' },
      trace: (event) => lines.push(`${event.direction} ${event.line}`),
    });
    await smtp.send({ envelope: ENVELOPE, message: MESSAGE });
    expect(users).toEqual(['alice']);
    expect(deliveries).toHaveLength(1);
    expect(lines).toContain('out STARTTLS');
    expect(lines.find((line) => line.startsWith('out AUTH'))).toBe('out AUTH SCRAM-SHA-256 [redacted]');
    expect(lines.join('\n')).not.toContain('alicepw');

    const wrong = client(port, {
      starttls: 'required',
      tls: { ca: certificates.ca },
      auth: { username: 'alice', password: 'nope' },
    });
    await expect(wrong.send({ envelope: ENVELOPE, message: MESSAGE })).rejects.toMatchObject({
      code: ErrorCode.AuthFailed,
    });
  });

  it('advertises SCRAM-PLUS where AUTH takes it, so that a channel-binding client logs in with every mechanism on', async () => {
    const certificates = testCertificates();
    const sasl = createSaslServer({
      verifiers: { lookupPassword: async (username) => (username === 'alice' ? 'alicepw' : undefined) },
    });
    const { port, deliveries } = await ourServer({
      requireAuth: true,
      sasl,
      startTls: { cert: certificates.cert, key: certificates.key },
    } as Partial<SmtpServerOptions>);
    const lines: string[] = [];
    const smtp = client(port, {
      starttls: 'required',
      tls: { ca: certificates.ca },
      auth: { username: 'alice', password: 'alicepw' },
      trace: (event) => lines.push(`${event.direction} ${event.line}`),
    });
    await smtp.send({ envelope: ENVELOPE, message: MESSAGE });
    expect(deliveries).toHaveLength(1);
    expect(lines.filter((line) => line.startsWith('in ')).join('\n')).toContain('SCRAM-SHA-256-PLUS');
    expect(lines.find((line) => line.startsWith('out AUTH'))).toBe('out AUTH SCRAM-SHA-256-PLUS [redacted]');
  });

  it('verify checks TLS and the login without sending; a pooled client keeps the connection for the next send', async () => {
    const certificates = testCertificates();
    const sasl = createSaslServer({
      mechanisms: ['PLAIN', 'SCRAM-SHA-256'],
      verifiers: { lookupPassword: async (username) => (username === 'alice' ? 'alicepw' : undefined) },
    });
    const { port, deliveries, sessions } = await ourServer({
      requireAuth: true,
      sasl,
      startTls: { cert: certificates.cert, key: certificates.key },
    } as Partial<SmtpServerOptions>);
    const settings = { starttls: 'required', tls: { ca: certificates.ca } } as const;
    const pooled = client(port, { ...settings, auth: { username: 'alice', password: 'alicepw' }, pool: {} });
    const verified = await pooled.verify();
    expect(verified).toMatchObject({ server: `127.0.0.1:${port}`, secure: true, mechanism: 'SCRAM-SHA-256' });
    expect(verified.capabilities.auth).toEqual(['PLAIN', 'SCRAM-SHA-256']);
    expect(deliveries).toHaveLength(0);
    expect(sessions.count).toBe(2);
    await pooled.send({ envelope: ENVELOPE, message: MESSAGE });
    expect(sessions.count).toBe(2);

    const wrong = client(port, { ...settings, auth: { username: 'alice', password: 'nope' } });
    await expect(wrong.verify()).rejects.toMatchObject({ code: ErrorCode.AuthFailed });
    const anonymous = client(port, settings);
    expect(await anonymous.verify()).not.toHaveProperty('mechanism');
    await expect(anonymous.verify({ signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    await anonymous.close();
    await expect(anonymous.verify()).rejects.toBeInstanceOf(InvalidArgumentError);
    const direct = createSmtpClient({ mx: async () => [] });
    await expect(direct.verify()).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(deliveries).toHaveLength(1);
  });

  it('logs in with EXTERNAL where a verified client certificate names the user, and offers it to no one else', async () => {
    const { ca, cert, key } = testCertificates();
    const { port, deliveries } = await ourServer({
      requireAuth: true,
      sasl: createSaslServer({
        verifiers: { external: (identity) => identity === 'localhost' && 'alice' },
      }),
      // Certificates are asked for, not required: a client without one is simply not offered EXTERNAL.
      startTls: { cert, key, ca, requestCert: true, rejectUnauthorized: false },
    } as Partial<SmtpServerOptions>);
    const withCertificate = client(port, {
      starttls: 'required',
      tls: { ca, cert, key },
      auth: { external: true },
    });
    const verified = await withCertificate.verify();
    expect(verified.mechanism).toBe('EXTERNAL');
    expect(verified.capabilities.auth).toEqual(['EXTERNAL']);
    await withCertificate.send({ envelope: ENVELOPE, message: MESSAGE });
    expect(deliveries).toHaveLength(1);

    const without = client(port, { starttls: 'required', tls: { ca }, auth: { external: true } });
    await expect(without.verify()).rejects.toMatchObject({ code: ErrorCode.AuthFailed });
  });

  it('speaks LMTP: one result per recipient after the message', async () => {
    const { port } = await ourServer({
      protocol: 'lmtp',
      onData: async (message: unknown, second: unknown) => {
        const envelope = ((message as { envelope?: SmtpEnvelope }).envelope ?? second) as SmtpEnvelope;
        await readAll(message);
        return envelope.recipients.map(
          (each): SmtpReply =>
            each.to.localPart === 'full'
              ? { code: 452, enhancedCode: '4.2.2', lines: ['Mailbox full'] }
              : { code: 250, enhancedCode: '2.0.0', lines: ['Delivered'] },
        );
      },
    } as Partial<SmtpServerOptions>);
    for (const chunking of [true, false]) {
      const smtp = client(port, { lmtp: true });
      const result = await smtp.send({
        envelope: {
          from: 'a@postwire.test',
          to: ['b@postwire.test', 'full@postwire.test', 'c@postwire.test'],
        },
        message: chunking ? MESSAGE : new Blob([MESSAGE]).stream(),
      });
      expect(result.accepted).toEqual(['b@postwire.test', 'c@postwire.test']);
      expect(result.rejected).toEqual(['full@postwire.test']);
      expect(result.recipients[1]!.reply).toMatchObject({ code: 452, enhancedCode: '4.2.2' });
    }
  });

  it('derives the envelope from compose options and returns the Message-ID', async () => {
    const { port, deliveries } = await ourServer();
    const result = await client(port).send({
      message: {
        from: 'ann@postwire.test',
        to: 'bob@postwire.test',
        bcc: 'cat@postwire.test',
        subject: 'Hi',
        text: 'Hello',
      },
    });
    expect(result.envelope).toEqual({
      from: 'ann@postwire.test',
      to: ['bob@postwire.test', 'cat@postwire.test'],
    });
    expect(result.messageId).toMatch(/^<.+@postwire\.test>$/);
    expect(deliveries[0]!.message).toContain(`Message-ID: ${result.messageId}`);
    expect(deliveries[0]!.message).not.toContain('cat@');
  });

  it('pools connections: many messages over at most maxConnections sessions, each reused', async () => {
    const { port, deliveries, sessions } = await ourServer();
    const smtp = client(port, { pool: { maxConnections: 2, maxMessages: 50 } });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        smtp.send({ envelope: ENVELOPE, message: `Subject: ${i}\r\n\r\nbody ${i}\r\n` }),
      ),
    );
    expect(results.every((result) => result.accepted.length === 1)).toBe(true);
    expect(deliveries).toHaveLength(20);
    expect(sessions.count).toBeLessThanOrEqual(2);
  });

  it('replaces a pooled connection after maxMessages, and after a refusal resets the transaction', async () => {
    let refuse = true;
    const { port, deliveries, sessions } = await ourServer({
      onRcptTo: () => {
        if (refuse) {
          refuse = false;
          return { code: 550, enhancedCode: '5.1.1', lines: ['No'] };
        }
        return undefined;
      },
    });
    const smtp = client(port, { pool: { maxConnections: 1, maxMessages: 2 } });
    await expect(smtp.send({ envelope: ENVELOPE, message: MESSAGE })).rejects.toBeInstanceOf(SmtpReplyError);
    await smtp.send({ envelope: ENVELOPE, message: MESSAGE });
    await smtp.send({ envelope: ENVELOPE, message: MESSAGE });
    expect(deliveries).toHaveLength(2);
    expect(sessions.count).toBe(2);
  });

  it('close() also ends a pooled connection that was sending: it is not kept idle once the send ends', async () => {
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let entered: () => void = () => {};
    const receiving = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let ended: () => void = () => {};
    const sessionEnded = new Promise<void>((resolve) => {
      ended = resolve;
    });
    const { port } = await ourServer({
      async onData(message) {
        entered();
        await readAll(message);
        await gate;
      },
      onClose: () => ended(),
    });
    const smtp = client(port, { pool: { maxConnections: 1 } });
    const sending = smtp.send({ envelope: ENVELOPE, message: MESSAGE });
    await receiving;
    await smtp.close();
    open();
    expect((await sending).accepted).toEqual(ENVELOPE.to);
    await sessionEnded;
  });

  it('close() refuses the sends still waiting for a pooled connection instead of opening new ones', async () => {
    let open: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let entered: () => void = () => {};
    const receiving = new Promise<void>((resolve) => {
      entered = resolve;
    });
    const { port, sessions } = await ourServer({
      async onData(message) {
        entered();
        await readAll(message);
        await gate;
      },
    });
    const smtp = client(port, { pool: { maxConnections: 1 } });
    const sending = smtp.send({ envelope: ENVELOPE, message: MESSAGE });
    const queued = smtp.send({ envelope: ENVELOPE, message: MESSAGE }).catch((caught: unknown) => caught);
    await receiving;
    await smtp.close();
    open();
    expect((await sending).accepted).toEqual(ENVELOPE.to);
    const error = (await queued) as ConnectionError;
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.code).toBe(ErrorCode.ConnectionClosed);
    expect(sessions.count).toBe(1);
  });

  it('RFC 3030: sends no more BDAT chunks once one was refused, and reports the refusal', async () => {
    const { port, deliveries } = await ourServer({ limits: { messageSize: 1000 } });
    const lines: string[] = [];
    let refused: () => void = () => {};
    const refusal = new Promise<void>((resolve) => {
      refused = resolve;
    });
    const smtp = client(port, {
      trace: (event) => {
        lines.push(`${event.direction} ${event.line}`);
        if (event.direction === 'in' && event.line.startsWith('552')) refused();
      },
    });
    const line = `${'x'.repeat(98)}\r\n`;
    async function* stream(): AsyncGenerator<Uint8Array> {
      // Each piece is over the client's chunk size: the first BDAT goes out, and the server refuses it.
      const piece = Buffer.from(`Subject: big\r\n\r\n${line.repeat(3000)}`);
      yield piece;
      await refusal;
      yield piece;
      yield piece;
    }
    const error = (await smtp
      .send({ envelope: ENVELOPE, message: stream() })
      .catch((caught: unknown) => caught)) as SmtpReplyError;
    expect(error).toBeInstanceOf(SmtpReplyError);
    expect(error.reply.code).toBe(552);
    expect(lines.filter((each) => each.startsWith('out BDAT'))).toHaveLength(1);
    expect(deliveries).toEqual([]);
    expect((await smtp.send({ envelope: ENVELOPE, message: MESSAGE })).accepted).toEqual(ENVELOPE.to);
  });

  it('recovers when the server closed a pooled connection while it was idle', async () => {
    const { port, deliveries, sessions } = await ourServer({ idleTimeout: 150 });
    const smtp = client(port, { pool: { maxConnections: 1 } });
    await smtp.send({ envelope: ENVELOPE, message: MESSAGE });
    await new Promise((resolve) => setTimeout(resolve, 400));
    await smtp.send({ envelope: ENVELOPE, message: MESSAGE });
    expect(deliveries).toHaveLength(2);
    expect(sessions.count).toBe(2);
  });

  it("splits the recipients by the server's RCPTMAX (RFC 9422) into several transactions", async () => {
    const { port, deliveries } = await ourServer({ limits: { recipients: 2 } });
    const to = [
      'r1@postwire.test',
      'r2@postwire.test',
      'r3@postwire.test',
      'r4@postwire.test',
      'r5@postwire.test',
    ];
    const result = await client(port).send({ envelope: { from: 'a@postwire.test', to }, message: MESSAGE });
    expect(result.accepted).toEqual(to);
    expect(deliveries.map((each) => each.envelope.recipients.length)).toEqual([2, 2, 1]);
  });

  it("opens a new pooled connection once the server's MAILMAX is reached", async () => {
    let greetings = 0;
    const server = await scriptedServer('220 x ESMTP\r\n', (line) => {
      if (line.startsWith('EHLO')) {
        greetings++;
        return '250-x\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 LIMITS MAILMAX=1\r\n';
      }
      if (line.startsWith('BDAT')) return '250 2.0.0 OK\r\n';
      if (line === 'QUIT') return '221 bye\r\n';
      return /^(MAIL|RCPT|RSET)/.test(line) ? '250 OK\r\n' : undefined;
    });
    closers.push(() => server.close());
    const smtp = client(server.port, { pool: { maxConnections: 1 } });
    await smtp.send({ envelope: ENVELOPE, message: MESSAGE });
    await smtp.send({ envelope: ENVELOPE, message: MESSAGE });
    expect(greetings).toBe(2);
  });

  it('holds sends past the rate limit until the window passes; an abort ends the wait', async () => {
    const { port, deliveries } = await ourServer();
    const smtp = client(port, { pool: { rateLimit: { messages: 2, perMilliseconds: 60_000 } } });
    await smtp.send({ envelope: ENVELOPE, message: MESSAGE });
    await smtp.send({ envelope: ENVELOPE, message: MESSAGE });
    const controller = new AbortController();
    const third = smtp.send({ envelope: ENVELOPE, message: MESSAGE, signal: controller.signal });
    controller.abort();
    await expect(third).rejects.toBeInstanceOf(AbortError);
    expect(deliveries).toHaveLength(2);
  });

  it("says the machine's name in EHLO when it is fully qualified, else an address literal", async () => {
    const { port } = await ourServer();
    const names: string[] = [];
    const smtp = createSmtpClient({
      host: '127.0.0.1',
      port,
      starttls: 'never',
      trace: (event) => {
        if (event.line.startsWith('EHLO ')) names.push(event.line.slice(5));
      },
    });
    closers.push(() => smtp.close());
    await smtp.send({ envelope: ENVELOPE, message: MESSAGE });
    const host = hostname();
    expect(names).toEqual([/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/.test(host) ? host : '[127.0.0.1]']);
  });

  it('delivers to the MX hosts by preference, passing over one that cannot be reached', async () => {
    const { port, deliveries } = await ourServer();
    const closed = await scriptedServer('', () => undefined);
    await closed.close();
    const lookups: string[] = [];
    const smtp = client(port, {
      host: undefined,
      mx: async (domain) => {
        lookups.push(domain);
        if (domain === 'nomail.test') return [{ exchange: '.', priority: 0 }];
        if (domain === 'localhost') return [];
        return [
          { exchange: '127.0.0.1', priority: 20 },
          { exchange: 'localhost.invalid', priority: 10 },
        ];
      },
      timeouts: { connect: 2000 },
    });
    const result = await smtp.send({
      envelope: { from: 'a@postwire.test', to: ['b@example.test', 'c@localhost', 'd@nomail.test'] },
      message: MESSAGE,
    });
    expect(lookups.sort()).toEqual(['example.test', 'localhost', 'nomail.test']);
    expect(result.accepted).toEqual(['b@example.test', 'c@localhost']);
    expect(result.rejected).toEqual(['d@nomail.test']);
    expect(result.recipients[2]!.reply).toMatchObject({ code: 556, enhancedCode: '5.1.10' });
    expect(deliveries).toHaveLength(2);
  });
  it('gives a message stream that the first MX host read and deferred to no other host: it cannot be read again', async () => {
    const deferring = await ourServer({
      async onData(message) {
        await readAll(message);
        return { code: 451, enhancedCode: '4.3.0', lines: ['Try again later'] };
      },
    });
    const accepting = await ourServer();
    const unread = await ourServer({ onMailFrom: () => ({ code: 421, lines: ['Busy'] }) });
    const ports: Record<string, number> = {
      'unread.test': unread.port,
      'deferring.test': deferring.port,
      'accepting.test': accepting.port,
    };
    const smtp = client(0, {
      host: undefined,
      mx: async (domain) => [
        { exchange: 'unread.test', priority: 5 },
        ...(domain === 'postwire.test' ? [{ exchange: 'deferring.test', priority: 10 }] : []),
        { exchange: 'accepting.test', priority: 20 },
      ],
      connector: (options) => connect({ ...options, host: '127.0.0.1', port: ports[options.host]! }),
    });
    const error = (await smtp
      .send({ envelope: ENVELOPE, message: Readable.from([Buffer.from(MESSAGE)]) })
      .catch((caught: unknown) => caught)) as SmtpReplyError;
    expect(error).toBeInstanceOf(SmtpReplyError);
    expect(error.reply.code).toBe(451);
    expect(accepting.deliveries).toEqual([]);
    // A host that refused before reading any of it gives way to the next, as for bytes.
    const result = await smtp.send({
      envelope: { ...ENVELOPE, to: ['b@example.test'] },
      message: Readable.from([Buffer.from(MESSAGE)]),
    });
    expect(result.server).toBe('accepting.test:0');
    expect(accepting.deliveries.map((each) => each.message)).toEqual([MESSAGE]);
  });
});

describe('SMTP client against a hostile or odd server', () => {
  async function scripted(greeting: string, script: Parameters<typeof scriptedServer>[1]) {
    const server = await scriptedServer(greeting, script);
    closers.push(() => server.close());
    return server;
  }

  it('falls back to HELO when EHLO is not recognised, and then sends without extensions', async () => {
    const server = await scripted('220 old ESMTP\r\n', (line) => {
      if (line.startsWith('EHLO')) return '500 5.5.1 What?\r\n';
      if (line.startsWith('HELO')) return '250 old\r\n';
      if (line === 'DATA') return '354 go\r\n';
      if (line === '.') return '250 2.0.0 queued\r\n';
      if (/^(MAIL|RCPT)/.test(line)) return '250 OK\r\n';
      if (line === 'QUIT') return '221 bye\r\n';
      return undefined;
    });
    const result = await client(server.port).send({ envelope: ENVELOPE, message: MESSAGE });
    expect(result.reply).toEqual({ code: 250, enhancedCode: '2.0.0', lines: ['queued'] });
    expect(server.lines.slice(0, 5)).toEqual([
      'EHLO client.postwire.test',
      'HELO client.postwire.test',
      'MAIL FROM:<a@postwire.test>',
      'RCPT TO:<b@postwire.test>',
      'DATA',
    ]);
  });

  const offersAuth = '250-x\r\n250-AUTH PLAIN LOGIN\r\n250 PIPELINING\r\n';
  for (const [name, starttlsReply] of [
    ['missing from EHLO', undefined],
    ['answered 502', '502 5.5.1 no\r\n'],
    ['answered 454', '454 4.7.0 TLS not available\r\n'],
    ['answered 354', '354 do something else\r\n'],
  ] as const) {
    it(`case 8: STARTTLS ${name} with STARTTLS required: abort, no credentials sent`, async () => {
      const server = await scripted('220 x ESMTP\r\n', (line) => {
        if (line.startsWith('EHLO')) return starttlsReply ? `250-STARTTLS\r\n${offersAuth}` : offersAuth;
        if (line === 'STARTTLS') return starttlsReply;
        return '250 OK\r\n';
      });
      const smtp = client(server.port, {
        starttls: 'required',
        auth: { username: 'u', password: 'p', allowCleartext: true },
      });
      const error = await smtp
        .send({ envelope: ENVELOPE, message: MESSAGE })
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TlsError);
      expect((error as TlsError).code).toBe(ErrorCode.StartTlsRequired);
      expect(server.lines.some((line) => /^(AUTH|MAIL)/.test(line))).toBe(false);
    });
  }

  it('case 7: a reply injected after the STARTTLS 220 fails the session before TLS', async () => {
    const server = await scripted('220 x ESMTP\r\n', (line) => {
      if (line.startsWith('EHLO')) return '250-x\r\n250 STARTTLS\r\n';
      if (line === 'STARTTLS') return '220 Ready\r\n250-x\r\n250 AUTH LOGIN\r\n';
      return undefined;
    });
    const smtp = client(server.port, { starttls: 'required', auth: { username: 'u', password: 'p' } });
    await expect(smtp.send({ envelope: ENVELOPE, message: MESSAGE })).rejects.toBeInstanceOf(ProtocolError);
    expect(server.lines).toEqual(['EHLO client.postwire.test', 'STARTTLS']);
  });

  it('fails on a reply the client did not ask for', async () => {
    const server = await scripted('220 x ESMTP\r\n', (line) => {
      if (line.startsWith('EHLO')) return '250 x\r\n250 extra\r\n';
      return '250 OK\r\n';
    });
    await expect(client(server.port).send({ envelope: ENVELOPE, message: MESSAGE })).rejects.toBeInstanceOf(
      ProtocolError,
    );
  });

  it('gives up with a TimeoutError when the server does not answer, and on abort with an AbortError', async () => {
    const server = await scripted('220 x ESMTP\r\n', () => undefined);
    await expect(
      client(server.port, { timeouts: { command: 200 } }).send({ envelope: ENVELOPE, message: MESSAGE }),
    ).rejects.toBeInstanceOf(TimeoutError);
    const controller = new AbortController();
    const sending = client(server.port).send({
      envelope: ENVELOPE,
      message: MESSAGE,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 100);
    await expect(sending).rejects.toBeInstanceOf(AbortError);
  });

  it('gives up with a TimeoutError when the server stops taking the message in the middle of it', async () => {
    const server = await scripted('220 x ESMTP\r\n', (line, socket) => {
      if (line.startsWith('EHLO')) return '250 x\r\n';
      if (/^(MAIL|RCPT)/.test(line)) return '250 OK\r\n';
      if (line !== 'DATA') return undefined;
      // The server reads no more: the message fills the socket buffers on both sides, then waits.
      socket.pause();
      return '354 go\r\n';
    });
    const message = Buffer.from(`Subject: big\r\n\r\n${`${'x'.repeat(78)}\r\n`.repeat(400_000)}`);
    await expect(
      client(server.port, { timeouts: { command: 300 } }).send({ envelope: ENVELOPE, message }),
    ).rejects.toBeInstanceOf(TimeoutError);
  });

  it('an abort ends a send whose message write the server does not take, without waiting for the close', async () => {
    // A connection whose peer stops reading once the message starts: the write, and the graceful
    // close that waits for it, never end.
    let stalled: () => void = () => {};
    const writeStalled = new Promise<void>((resolve) => {
      stalled = resolve;
    });
    let reply: (text: string) => void = () => {};
    const readable = new ReadableStream<Uint8Array>({
      start(controller) {
        reply = (text) => controller.enqueue(Buffer.from(text));
        reply('220 x ESMTP\r\n');
      },
    });
    let inMessage = false;
    const writable = new WritableStream<Uint8Array>({
      write(chunk) {
        if (inMessage) {
          stalled();
          return new Promise(() => {});
        }
        const line = Buffer.from(chunk).toString('latin1');
        if (line.startsWith('EHLO')) reply('250 x\r\n');
        else if (line === 'DATA\r\n') {
          inMessage = true;
          reply('354 go\r\n');
        } else reply('250 OK\r\n');
        return undefined;
      },
    });
    const transport: Transport = {
      readable,
      writable,
      closed: new Promise(() => {}),
      info: { secure: false },
      startTls: () => Promise.reject(new Error('no TLS')),
      close: () => new Promise(() => {}),
    };
    const smtp = client(0, { connector: async () => transport });
    const controller = new AbortController();
    const sending = smtp.send({ envelope: ENVELOPE, message: MESSAGE, signal: controller.signal });
    await writeStalled;
    controller.abort();
    await expect(sending).rejects.toBeInstanceOf(AbortError);
  });

  it('a send waiting for a pooled connection gives up on abort', async () => {
    const server = await scripted('220 x ESMTP\r\n', (line) =>
      line.startsWith('EHLO') ? '250 x\r\n' : undefined,
    );
    const smtp = client(server.port, { pool: { maxConnections: 1 }, timeouts: { command: 2000 } });
    const first = smtp.send({ envelope: ENVELOPE, message: MESSAGE });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const controller = new AbortController();
    const second = smtp.send({ envelope: ENVELOPE, message: MESSAGE, signal: controller.signal });
    controller.abort();
    await expect(second).rejects.toBeInstanceOf(AbortError);
    await expect(first).rejects.toBeInstanceOf(TimeoutError);
  });

  it('refuses a greeting that is not 220', async () => {
    const server = await scripted('554 5.7.1 Go away\r\n', () => undefined);
    const error = (await client(server.port)
      .send({ envelope: ENVELOPE, message: MESSAGE })
      .catch((caught: unknown) => caught)) as SmtpReplyError;
    expect(error).toBeInstanceOf(SmtpReplyError);
    expect(error.command).toBe('CONNECT');
    expect(error.permanent).toBe(true);
  });
});

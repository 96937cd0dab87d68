import { once } from 'node:events';
import { connect as connectTcp } from 'node:net';
import { Duplex } from 'node:stream';
import { connect as connectTls } from 'node:tls';
import { InvalidArgumentError } from '@postwire/core';
import { createSaslServer } from '@postwire/sasl';
import { describe, expect, it } from 'vitest';
import { createSmtpServer } from '../../src/node/server.js';
import {
  Conversation,
  certificates,
  closeServersAfterEach,
  readText,
  serverTls,
  startServer,
  until,
} from './server-harness.js';

const servers = closeServersAfterEach();

/** A server that records each message delivered, each message whose stream failed, and each close. */
async function watchedServer(options: Parameters<typeof startServer>[1] = {}) {
  const delivered: string[] = [];
  const failed: unknown[] = [];
  let closes = 0;
  const port = await startServer(servers, {
    receivedHeader: false,
    async onData(message) {
      try {
        delivered.push(await readText(message.stream));
      } catch (error) {
        failed.push(error);
        throw error;
      }
    },
    onClose: () => {
      closes++;
    },
    ...options,
  });
  return { port, delivered, failed, closes: () => closes };
}

describe('createSmtpServer: the transaction deadline', () => {
  it('ends a transaction not finished within transactionTimeout with 421 4.4.2, delivering nothing', async () => {
    const { port, delivered, failed, closes } = await watchedServer({ transactionTimeout: 300 });
    const conversation = await Conversation.open(port);
    await conversation.send('EHLO c\r\n');
    await conversation.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n', 3);
    // Each line is complete, so the per-command deadline never runs; the transaction's does.
    conversation.write('Subject: slow\r\n');
    await conversation.closed;
    expect(conversation.text).toMatch(/\r\n421 4\.4\.2 mx\.test Timeout exceeded\r\n$/);
    await until(() => failed.length === 1 && closes() === 1);
    expect(delivered).toEqual([]);
    expect(failed).toHaveLength(1);
    expect(closes()).toBe(1);
  });

  it('ends a client that stalls between MAIL and DATA too', async () => {
    const { port } = await watchedServer({ transactionTimeout: 300 });
    const conversation = await Conversation.open(port);
    await conversation.send('EHLO c\r\n');
    await conversation.send('MAIL FROM:<a@b.test>\r\n');
    await conversation.closed;
    expect(conversation.text).toMatch(/250 2\.1\.0 Sender OK\r\n421 4\.4\.2 mx\.test Timeout exceeded\r\n$/);
  });

  it('refuses a transactionTimeout that is not a positive integer, before any connection', () => {
    for (const transactionTimeout of [0, -1, 1.5, Number.NaN]) {
      expect(
        () => createSmtpServer({ hostname: 'mx.test', transactionTimeout }),
        String(transactionTimeout),
      ).toThrow(InvalidArgumentError);
    }
  });

  it('runs only inside a transaction: a client may stay idle between transactions', async () => {
    const { port, delivered } = await watchedServer({ transactionTimeout: 300 });
    const conversation = await Conversation.open(port);
    await conversation.send('EHLO c\r\n');
    for (const subject of ['one', 'two']) {
      await conversation.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n', 3);
      expect(await conversation.send(`Subject: ${subject}\r\n\r\n.\r\n`)).toBe(
        '250 2.0.0 Message accepted\r\n',
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(await conversation.send('NOOP\r\n')).toBe('250 2.0.0 OK\r\n');
    expect(delivered).toHaveLength(2);
    expect(conversation.isClosed).toBe(false);
  });
});

describe('createSmtpServer: a transaction reset between BDAT chunks', () => {
  it('fails the stream of the message given up by RSET, so that onData ends, and takes the next message', async () => {
    const { port, delivered, failed } = await watchedServer();
    const conversation = await Conversation.open(port);
    await conversation.send('EHLO c\r\n');
    await conversation.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n', 2);
    expect(await conversation.send('BDAT 6\r\nfirst ')).toBe('250 2.0.0 6 octets received\r\n');
    expect(await conversation.send('RSET\r\n')).toBe('250 2.0.0 Reset\r\n');
    await conversation.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n', 2);
    expect(await conversation.send('BDAT 6 LAST\r\nsecond')).toBe('250 2.0.0 Message accepted\r\n');
    expect(delivered).toEqual(['second']);
    expect(failed).toHaveLength(1);
  });
});

describe('createSmtpServer: commands before authentication', () => {
  it('closes a submission client with 421 at its 11th command before AUTH', async () => {
    const port = await startServer(servers, {
      requireAuth: true,
      sasl: createSaslServer({ verifiers: { password: () => false }, allowCleartext: true }),
    });
    const conversation = await Conversation.open(port);
    await conversation.send('EHLO c\r\n');
    for (let i = 0; i < 9; i++) expect(await conversation.send('NOOP\r\n')).toBe('250 2.0.0 OK\r\n');
    expect(await conversation.send('NOOP\r\n')).toBe(
      '421 4.7.0 mx.test Too many unauthenticated commands\r\n',
    );
    await conversation.closed;
  });
});

describe('createSmtpServer: TLS cases of the security catalogue', () => {
  it('case 5: a TLS close_notify in the middle of BDAT ends the session; the plaintext after it is never read', async () => {
    const { port, delivered, failed, closes } = await watchedServer({ startTls: serverTls });
    const raw = connectTcp({ port, host: '127.0.0.1', allowHalfOpen: true });
    raw.on('error', () => {});
    let plaintext = '';
    let tunnel: Duplex | undefined;
    raw.on('data', (chunk: Buffer) => {
      if (tunnel) tunnel.push(chunk);
      else plaintext += chunk.toString('latin1');
    });
    // The client keeps its side open (allowHalfOpen): the server's FIN is what ends the session.
    const ended = once(raw, 'end');
    await until(() => plaintext.includes('220 '));
    raw.write('EHLO c\r\n');
    await until(() => /^250 /m.test(plaintext));
    raw.write('STARTTLS\r\n');
    await until(() => plaintext.includes('220 2.0.0'));
    tunnel = new Duplex({
      read() {},
      write(chunk, _encoding, callback) {
        raw.write(chunk, callback);
      },
      final(callback) {
        callback();
      },
    });
    let secureText = '';
    const client = connectTls({ socket: tunnel, ca: certificates.ca, servername: 'localhost' });
    client.on('error', () => {});
    client.on('data', (chunk: Buffer) => {
      secureText += chunk.toString('latin1');
    });
    await once(client, 'secureConnect');
    client.write('EHLO c\r\n');
    await until(() => /^250 /m.test(secureText));
    client.write('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 100 LAST\r\nSubject: half');
    await until(() => secureText.includes('250 2.1.5'));
    client.end();
    // A plaintext byte after close_notify: the end of the BDAT chunk and a command, were it read.
    raw.write(`${'x'.repeat(87)}RSET\r\n`);
    await ended;
    await until(() => failed.length === 1 && closes() === 1);
    expect(delivered).toEqual([]);
    expect(failed).toHaveLength(1);
    expect(plaintext).not.toContain('250 2.0.0');
    expect(secureText).not.toContain('250 2.0.0');
  });

  it('case 54: a client that never completes the implicit TLS handshake is closed', async () => {
    let connects = 0;
    const port = await startServer(servers, {
      tls: serverTls,
      handshakeTimeout: 200,
      onConnect: () => {
        connects++;
      },
    });
    const raw = connectTcp(port, '127.0.0.1');
    raw.on('error', () => {});
    await once(raw, 'close');
    expect(connects).toBe(0);
  });
});

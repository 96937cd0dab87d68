import { once } from 'node:events';
import { connect } from 'node:net';
import { TlsError } from '@postwire/core';
import { describe, expect, it } from 'vitest';
import {
  base64,
  Conversation,
  closeServersAfterEach,
  serverTls,
  startServer,
  until,
} from './server-harness.js';

const servers = closeServersAfterEach();

describe('createSmtpServer: hooks that throw', () => {
  it('reports an onAuth that throws to onError, and answers 454', async () => {
    const failure = new Error('directory down');
    const errors: unknown[] = [];
    const port = await startServer(servers, {
      startTls: serverTls,
      onAuth: () => {
        throw failure;
      },
      onError: (error) => errors.push(error),
    });
    const conversation = await Conversation.open(port);
    await conversation.startTls();
    expect(await conversation.send(`AUTH PLAIN ${base64('\0alice\0pw')}\r\n`)).toBe(
      '454 4.7.0 Temporary authentication failure\r\n',
    );
    expect(errors).toEqual([failure]);
  });
});

describe('createSmtpServer: hooks that never settle', () => {
  it('calls onClose once when the client leaves while onConnect has not settled', async () => {
    let closes = 0;
    let connects = 0;
    const port = await startServer(servers, {
      onConnect: () => {
        connects++;
        return new Promise(() => {});
      },
      onClose: () => {
        closes++;
      },
    });
    const socket = (await import('node:net')).connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await until(() => connects === 1);
    socket.destroy();
    await until(() => closes === 1, 2000);
    expect(closes).toBe(1);
  });

  it('calls onClose once when the server closes while onHelo has not settled', async () => {
    let closes = 0;
    let helos = 0;
    const port = await startServer(servers, {
      onHelo: () => {
        helos++;
        return new Promise(() => {});
      },
      onClose: () => {
        closes++;
      },
    });
    const conversation = await Conversation.open(port);
    conversation.write('EHLO client.test\r\n');
    await until(() => helos === 1);
    await servers.pop()!.close({ timeout: 1000 });
    await conversation.closed;
    await until(() => closes === 1, 2000);
    expect(closes).toBe(1);
    expect(conversation.text).toMatch(/421 4\.3\.2 mx\.test Service shutting down\r\n$/);
  });
});

describe('createSmtpServer: slow hooks', () => {
  it('case 53: the command deadline covers the client sending its commands, not the hooks answering them', async () => {
    const port = await startServer(servers, {
      commandTimeout: 300,
      onRcptTo: () => new Promise((resolve) => setTimeout(resolve, 500)),
    });
    const conversation = await Conversation.open(port);
    await conversation.send('EHLO client.test\r\n');
    expect(
      await conversation.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nRCPT TO:<e@d.test>\r\n', 3),
    ).toBe('250 2.1.0 Sender OK\r\n250 2.1.5 Recipient OK\r\n250 2.1.5 Recipient OK\r\n');
  });
});

describe('createSmtpServer: failures before the session starts', () => {
  it('reports a failed implicit TLS handshake to onError, with the client’s address', async () => {
    const errors: { error: unknown; remoteAddress: string }[] = [];
    const port = await startServer(servers, {
      tls: serverTls,
      onError: (error, connection) => errors.push({ error, remoteAddress: connection.remoteAddress }),
    });
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('EHLO plaintext.test\r\n');
    await once(socket, 'close');
    await until(() => errors.length === 1, 2000);
    expect(errors).toEqual([{ error: expect.any(TlsError), remoteAddress: '127.0.0.1' }]);
  });
});

describe('createSmtpServer: close() with sessions in progress', () => {
  it('resolves once each onClose has settled', async () => {
    const events: string[] = [];
    const port = await startServer(servers, {
      onClose: async () => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        events.push('onClose');
      },
    });
    await Conversation.open(port);
    await servers.pop()!.close();
    events.push('closed');
    expect(events).toEqual(['onClose', 'closed']);
  });
});

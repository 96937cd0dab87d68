import { describe, expect, it } from 'vitest';
import type { SmtpConnectionInfo, SmtpIncomingMessage } from '../../src/node/server.js';
import {
  Conversation,
  closeServersAfterEach,
  readText,
  serverTls,
  startServer,
  until,
} from './server-harness.js';

const servers = closeServersAfterEach();

/** Sends one message to two recipients after an EHLO; returns the reply to its end. */
async function sendMessage(conversation: Conversation, body: string): Promise<string> {
  await conversation.send('EHLO client.test\r\n');
  await conversation.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nRCPT TO:<e@f.test>\r\nDATA\r\n', 4);
  return conversation.send(`${body}.\r\n`);
}

describe('createSmtpServer: onConnect and onClose', () => {
  it('sends the reply onConnect returns in place of the greeting, then closes (554 5.7.1)', async () => {
    const seen: SmtpConnectionInfo[] = [];
    const closed: SmtpConnectionInfo[] = [];
    const port = await startServer(servers, {
      onConnect: (connection) => {
        seen.push(connection);
        return { code: 554, enhancedCode: '5.7.1', lines: ['Your address is on a block list'] };
      },
      onClose: (connection) => {
        closed.push(connection);
      },
    });
    const conversation = await Conversation.open(port);
    await conversation.closed;
    expect(conversation.text).toBe('554 5.7.1 Your address is on a block list\r\n');
    expect(seen).toEqual([{ remoteAddress: '127.0.0.1', remotePort: expect.any(Number), secure: false }]);
    await until(() => closed.length > 0);
    expect(closed).toHaveLength(1);
  });

  it('greets as usual when onConnect accepts, and answers 451 4.3.0 when it throws', async () => {
    let fail = false;
    const port = await startServer(servers, {
      onConnect: () => {
        if (fail) throw new Error('block list unreachable');
      },
    });
    const admitted = await Conversation.open(port);
    expect(admitted.text).toBe('220 mx.test ESMTP Postwire\r\n');
    admitted.destroy();
    fail = true;
    const refused = await Conversation.open(port);
    await refused.closed;
    expect(refused.text).toBe('451 4.3.0 Temporary failure, try again later\r\n');
  });

  it('calls onClose once per connection, after QUIT, a dropped client, or the server closing', async () => {
    const closed: number[] = [];
    const port = await startServer(servers, {
      onClose: (connection) => {
        closed.push(connection.remotePort);
      },
    });
    const quitting = await Conversation.open(port);
    await quitting.send('QUIT\r\n');
    await quitting.closed;
    const dropping = await Conversation.open(port);
    dropping.destroy();
    await until(() => closed.length === 2);
    const staying = await Conversation.open(port);
    await servers.pop()!.close();
    await staying.closed;
    await until(() => closed.length === 3);
    expect(closed).toHaveLength(3);
    expect(new Set(closed).size).toBe(3);
    expect(staying.text).toMatch(/421 4\.3\.2 mx\.test Service shutting down\r\n$/);
  });
});

describe('createSmtpServer: VRFY and EXPN', () => {
  it('answers VRFY 252 and EXPN 502 by default, and as onVrfy and onExpn say', async () => {
    const plain = await Conversation.open(await startServer(servers));
    await plain.send('EHLO c\r\n');
    expect(await plain.send('VRFY bob\r\n')).toBe(
      '252 2.5.2 Cannot verify the user, but will accept the message\r\n',
    );
    expect(await plain.send('EXPN staff\r\n')).toBe('502 5.5.1 EXPN not available\r\n');
    const asked: string[] = [];
    const port = await startServer(servers, {
      onVrfy: (argument, connection) => {
        asked.push(`${argument} from ${connection.clientName}`);
        return argument === 'postmaster'
          ? { code: 250, enhancedCode: '2.1.5', lines: ['<postmaster@mx.test>'] }
          : { code: 550, enhancedCode: '5.1.1', lines: ['User unknown'] };
      },
      onExpn: async () => ({ code: 550, enhancedCode: '5.7.1', lines: ['Access denied'] }),
    });
    const policy = await Conversation.open(port);
    await policy.send('EHLO c\r\n');
    expect(await policy.send('VRFY postmaster\r\n')).toBe('250 2.1.5 <postmaster@mx.test>\r\n');
    expect(await policy.send('VRFY eve\r\n')).toBe('550 5.1.1 User unknown\r\n');
    expect(await policy.send('EXPN staff\r\n')).toBe('550 5.7.1 Access denied\r\n');
    expect(asked).toEqual(['postmaster from c', 'eve from c']);
  });
});

describe('createSmtpServer: onData', () => {
  it('gives the message as a web stream with its envelope and its size', async () => {
    const got: { text: string; size: number; recipients: string[] }[] = [];
    const port = await startServer(servers, {
      receivedHeader: false,
      async onData(message) {
        const text = await readText(message.stream);
        got.push({
          text,
          size: message.size,
          recipients: message.envelope.recipients.map((recipient) => recipient.to.address),
        });
      },
    });
    const body = 'Subject: web\r\n\r\n..dot\r\n';
    expect(await sendMessage(await Conversation.open(port), body)).toBe('250 2.0.0 Message accepted\r\n');
    expect(got).toEqual([
      {
        text: 'Subject: web\r\n\r\n.dot\r\n',
        size: 'Subject: web\r\n\r\n.dot\r\n'.length,
        recipients: ['c@d.test', 'e@f.test'],
      },
    ]);
  });

  it('gives the same bytes as a Node stream, the Received header first but not counted in the size', async () => {
    const got: { text: string; size: number }[] = [];
    const port = await startServer(servers, {
      async onData(message: SmtpIncomingMessage) {
        const chunks: Buffer[] = [];
        for await (const chunk of message.nodeStream()) chunks.push(chunk as Buffer);
        expect(message.nodeStream()).toBe(message.nodeStream());
        got.push({ text: Buffer.concat(chunks).toString('utf8'), size: message.size });
      },
    });
    await sendMessage(await Conversation.open(port), 'Subject: node\r\n\r\nhello\r\n');
    expect(got).toHaveLength(1);
    expect(got[0]!.text).toMatch(
      /^Received: from client\.test \(client\.test \[127\.0\.0\.1\]\)\r\n\tby mx\.test/,
    );
    expect(got[0]!.text.endsWith('\r\nSubject: node\r\n\r\nhello\r\n')).toBe(true);
    expect(got[0]!.size).toBe('Subject: node\r\n\r\nhello\r\n'.length);
  });

  it('tells onData the TLS facts and the user', async () => {
    const seen: SmtpConnectionInfo[] = [];
    const port = await startServer(servers, {
      startTls: serverTls,
      onAuth: ({ username, password }) => username === 'alice' && password === 'pw',
      async onData(message, connection) {
        await readText(message.stream);
        seen.push(connection);
      },
    });
    const conversation = await Conversation.open(port);
    await conversation.startTls();
    expect(await conversation.send(`AUTH PLAIN ${Buffer.from('\0alice\0pw').toString('base64')}\r\n`)).toBe(
      '235 2.7.0 Authentication successful\r\n',
    );
    await conversation.send('MAIL FROM:<alice@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n', 3);
    expect(await conversation.send('Subject: tls\r\n\r\nx\r\n.\r\n')).toBe('250 2.0.0 Message accepted\r\n');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ secure: true, tls: { protocol: 'TLSv1.3' }, user: 'alice' });
    expect(seen[0]!.tls?.cipher).toMatch(/^TLS_/);
  });
});

describe('createSmtpServer in LMTP', () => {
  it('answers 451 4.3.0 for each recipient when onData gives the wrong number of replies, and goes on', async () => {
    const errors: unknown[] = [];
    const port = await startServer(servers, {
      protocol: 'lmtp',
      onData: async (message) => {
        await readText(message.stream);
        return [{ code: 250, enhancedCode: '2.0.0', lines: ['Stored'] }];
      },
      onError: (error) => errors.push(error),
    });
    const lmtp = await Conversation.open(port);
    await lmtp.send('LHLO client.test\r\n');
    await lmtp.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nRCPT TO:<e@f.test>\r\nDATA\r\n', 4);
    expect(await lmtp.send('Subject: hi\r\n\r\nHello.\r\n.\r\n', 2)).toBe(
      '451 4.3.0 Temporary failure, try again later\r\n451 4.3.0 Temporary failure, try again later\r\n',
    );
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toMatch(/one reply per recipient \(2\), not 1/);
    expect(await lmtp.send('QUIT\r\n')).toMatch(/^221 /);
  });
});

describe('createSmtpServer: replies it cannot write', () => {
  it('answers 451 4.3.0 in place of a malformed reply from onData or onRcptTo, and goes on', async () => {
    const errors: unknown[] = [];
    const port = await startServer(servers, {
      onRcptTo: (to) =>
        to.localPart === 'bad' ? { code: 550, enhancedCode: '2.1.5', lines: ['Mismatched'] } : undefined,
      onData: async (message) => {
        await readText(message.stream);
        return { code: 250, lines: ['Stored\r\n250 as two replies'] };
      },
      onError: (error) => errors.push(error),
    });
    const smtp = await Conversation.open(port);
    await smtp.send('EHLO client.test\r\n');
    expect(
      await smtp.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<bad@d.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n', 4),
    ).toMatch(/^250 .*\r\n451 4\.3\.0 .*\r\n250 .*\r\n354 /);
    expect(await smtp.send('Subject: hi\r\n\r\nHello.\r\n.\r\n')).toBe(
      '451 4.3.0 Temporary failure, try again later\r\n',
    );
    expect(errors).toHaveLength(2);
    expect(await smtp.send('QUIT\r\n')).toMatch(/^221 /);
  });
});

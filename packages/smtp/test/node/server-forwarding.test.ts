import { describe, expect, it } from 'vitest';
import type { SmtpConnectionInfo } from '../../src/node/server.js';
import type { SmtpEnvelope } from '../../src/server/session.js';
import { Conversation, closeServersAfterEach, readText, startServer } from './server-harness.js';

const servers = closeServersAfterEach();

/** A server that records what each hook saw of the connection, and each message with its envelope. */
async function recordingServer(options: Parameters<typeof startServer>[1] = {}) {
  const seen: { hook: string; connection: SmtpConnectionInfo }[] = [];
  const messages: { text: string; envelope: SmtpEnvelope }[] = [];
  const port = await startServer(servers, {
    onConnect: (connection) => {
      seen.push({ hook: 'connect', connection });
    },
    onMailFrom: (_from, _parameters, connection) => {
      seen.push({ hook: 'mail', connection });
    },
    async onData(message, connection) {
      messages.push({ text: await readText(message.stream), envelope: message.envelope });
      seen.push({ hook: 'data', connection });
    },
    ...options,
  });
  return { port, seen, messages };
}

async function transaction(conversation: Conversation): Promise<string> {
  await conversation.send('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n', 3);
  return conversation.send('Subject: x\r\n\r\nbody\r\n.\r\n');
}

describe('createSmtpServer: PROXY protocol', () => {
  it('a PROXY v1 header sets the address the hooks and the Received header see', async () => {
    const { port, seen, messages } = await recordingServer({ proxyProtocol: { trusted: ['127.0.0.1'] } });
    const conversation = await Conversation.open(port, 'PROXY TCP4 203.0.113.7 192.0.2.25 56324 25\r\n');
    expect(conversation.text).toBe('220 mx.test ESMTP Postwire\r\n');
    await conversation.send('EHLO client.test\r\n');
    expect(await transaction(conversation)).toBe('250 2.0.0 Message accepted\r\n');
    expect(
      seen.map(({ hook, connection }) => [hook, connection.remoteAddress, connection.remotePort]),
    ).toEqual([
      ['connect', '203.0.113.7', 56324],
      ['mail', '203.0.113.7', 56324],
      ['data', '203.0.113.7', 56324],
    ]);
    expect(messages[0]!.text).toMatch(/^Received: from client\.test \(client\.test \[203\.0\.113\.7\]\)\r\n/);
  });
});

describe('createSmtpServer: XCLIENT', () => {
  it('is offered and accepted only for the clients xclient allows', async () => {
    const asked: string[] = [];
    const port = await startServer(servers, {
      xclient: (address) => {
        asked.push(address);
        return false;
      },
    });
    const conversation = await Conversation.open(port);
    expect(await conversation.send('EHLO c\r\n')).not.toContain('XCLIENT');
    expect(await conversation.send('XCLIENT ADDR=192.0.2.1\r\n')).toBe(
      '550 5.7.0 Insufficient authorization\r\n',
    );
    expect(asked).toEqual(['127.0.0.1']);
  });

  it('names the client for the hooks (onConnect again) and the Received header, keeping the real peer', async () => {
    const { port, seen, messages } = await recordingServer({ xclient: (address) => address === '127.0.0.1' });
    const conversation = await Conversation.open(port);
    expect(await conversation.send('EHLO proxy.test\r\n')).toContain(
      'XCLIENT NAME ADDR PORT PROTO HELO LOGIN',
    );
    expect(
      await conversation.send(
        'XCLIENT NAME=spike.porcupine.org ADDR=IPV6:2001:db8::7 PORT=40123 HELO=spike\r\n',
      ),
    ).toBe('220 mx.test ESMTP Postwire\r\n');
    await conversation.send('EHLO proxy.test\r\n');
    expect(await transaction(conversation)).toBe('250 2.0.0 Message accepted\r\n');
    expect(seen.map((entry) => entry.hook)).toEqual(['connect', 'connect', 'mail', 'data']);
    expect(seen[1]!.connection).toMatchObject({
      remoteAddress: '2001:db8::7',
      remotePort: 40123,
      remoteName: 'spike.porcupine.org',
      clientName: 'spike',
      peer: { address: '127.0.0.1' },
      xclient: { name: 'spike.porcupine.org', address: '2001:db8::7', port: 40123, helo: 'spike' },
    });
    expect(seen[2]!.connection.remoteAddress).toBe('2001:db8::7');
    expect(messages[0]!.text).toMatch(
      /^Received: from spike \(spike\.porcupine\.org \[IPv6:2001:db8::7\]\)\r\n\tby mx\.test \(Postwire\) with ESMTP id /,
    );
  });

  it('shows an address XCLIENT said is [UNAVAILABLE] as unknown, and leaves it out of Received', async () => {
    const { port, seen, messages } = await recordingServer({ xclient: () => true });
    const conversation = await Conversation.open(port);
    await conversation.send('EHLO proxy\r\n');
    await conversation.send('XCLIENT ADDR=[UNAVAILABLE] PORT=[UNAVAILABLE]\r\n');
    await conversation.send('EHLO client.test\r\n');
    await transaction(conversation);
    expect(seen[2]!.connection).toMatchObject({ remoteAddress: 'unknown', remotePort: 0 });
    expect(messages[0]!.text).toMatch(/^Received: from client\.test\r\n\tby mx\.test/);
  });
});

describe('createSmtpServer: XFORWARD', () => {
  it('hands the forwarded client to the hooks and the envelope, for one transaction', async () => {
    const { port, seen, messages } = await recordingServer({
      xforward: (address) => address === '127.0.0.1',
    });
    const conversation = await Conversation.open(port);
    expect(await conversation.send('EHLO filter\r\n')).toContain(
      'XFORWARD NAME ADDR PORT PROTO HELO IDENT SOURCE',
    );
    expect(
      await conversation.send('XFORWARD NAME=spike.porcupine.org ADDR=168.100.189.2 SOURCE=REMOTE\r\n'),
    ).toBe('250 2.0.0 OK\r\n');
    await transaction(conversation);
    await transaction(conversation);
    const forwarded = { name: 'spike.porcupine.org', address: '168.100.189.2', source: 'REMOTE' };
    expect(seen.filter((entry) => entry.hook === 'mail').map((entry) => entry.connection.forwarded)).toEqual([
      forwarded,
      undefined,
    ]);
    expect(messages.map((message) => message.envelope.forwarded)).toEqual([forwarded, undefined]);
    // The hop itself stays the real client.
    expect(seen[1]!.connection.remoteAddress).toBe('127.0.0.1');
  });

  it('is refused for clients xforward does not allow', async () => {
    const port = await startServer(servers, { xforward: () => false });
    const conversation = await Conversation.open(port);
    expect(await conversation.send('EHLO c\r\n')).not.toContain('XFORWARD');
    expect(await conversation.send('XFORWARD ADDR=192.0.2.1\r\n')).toBe(
      '550 5.7.0 Insufficient authorization\r\n',
    );
  });
});

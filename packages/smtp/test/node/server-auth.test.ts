import { InvalidArgumentError } from '@postwire/core';
import { createSaslServer } from '@postwire/sasl';
import { describe, expect, it } from 'vitest';
import { createSmtpServer, type SmtpConnectionInfo, type SmtpCredentials } from '../../src/node/server.js';
import { base64, Conversation, closeServersAfterEach, serverTls, startServer } from './server-harness.js';

const servers = closeServersAfterEach();

const PASSWORDS: Record<string, string> = { alice: 'alicepw', bob: 'bobpw' };

/** A server whose `onAuth` checks `PASSWORDS`, recording each call. */
async function withOnAuth(extra: Parameters<typeof startServer>[1] = {}) {
  const calls: { credentials: SmtpCredentials; connection: SmtpConnectionInfo }[] = [];
  const users: (string | undefined)[] = [];
  const port = await startServer(servers, {
    startTls: serverTls,
    onAuth: (credentials, connection) => {
      calls.push({ credentials, connection });
      return PASSWORDS[credentials.username] === credentials.password;
    },
    onMailFrom: (_from, _parameters, connection) => {
      users.push(connection.user);
    },
    ...extra,
  });
  return { port, calls, users };
}

describe('createSmtpServer: onAuth', () => {
  it('offers PLAIN and LOGIN on TLS only (case 45), and checks them with onAuth', async () => {
    const { port, calls, users } = await withOnAuth();
    const cleartext = await Conversation.open(port);
    expect(await cleartext.send('EHLO c\r\n')).not.toContain('AUTH');
    expect(await cleartext.send(`AUTH PLAIN ${base64('\0alice\0alicepw')}\r\n`)).toBe(
      '503 5.5.1 AUTH not available\r\n',
    );
    const conversation = await Conversation.open(port);
    expect(await conversation.startTls()).toContain('250 AUTH PLAIN LOGIN\r\n');
    expect(await conversation.send('AUTH LOGIN\r\n')).toBe('334 VXNlcm5hbWU6\r\n');
    expect(await conversation.send(`${base64('alice')}\r\n`)).toBe('334 UGFzc3dvcmQ6\r\n');
    expect(await conversation.send(`${base64('alicepw')}\r\n`)).toBe(
      '235 2.7.0 Authentication successful\r\n',
    );
    await conversation.send('MAIL FROM:<alice@b.test>\r\n');
    expect(users).toEqual(['alice']);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.credentials).toEqual({ username: 'alice', password: 'alicepw' });
    expect(calls[0]!.connection).toMatchObject({
      remoteAddress: '127.0.0.1',
      secure: true,
      clientName: 'client.test',
    });
  });

  it('takes a string from onAuth as the canonical user, and a throw as a temporary failure (454)', async () => {
    const { port } = await withOnAuth({
      onAuth: ({ username }) => {
        if (username === 'broken') throw new Error('directory down');
        return username.toLowerCase();
      },
    });
    const conversation = await Conversation.open(port);
    await conversation.startTls();
    expect(await conversation.send(`AUTH PLAIN ${base64('\0broken\0x')}\r\n`)).toBe(
      '454 4.7.0 Temporary authentication failure\r\n',
    );
    expect(await conversation.send(`AUTH PLAIN ${base64('\0ALICE\0x')}\r\n`)).toBe(
      '235 2.7.0 Authentication successful\r\n',
    );
  });

  it('refuses both sasl and onAuth together', () => {
    expect(() =>
      createSmtpServer({ hostname: 'mx.test', sasl: createSaslServer({}), onAuth: () => true }),
    ).toThrow(InvalidArgumentError);
  });
});

describe('createSmtpServer: the security catalogue for AUTH', () => {
  it('case 44: an unknown user and a wrong password get the same reply, and the third failure closes (421)', async () => {
    const { port } = await withOnAuth();
    const conversation = await Conversation.open(port);
    await conversation.startTls();
    const unknown = await conversation.send(`AUTH PLAIN ${base64('\0mallory\0alicepw')}\r\n`);
    const wrong = await conversation.send(`AUTH PLAIN ${base64('\0alice\0bobpw')}\r\n`);
    expect(unknown).toBe('535 5.7.8 Authentication credentials invalid\r\n');
    expect(wrong).toBe(unknown);
    expect(await conversation.send(`AUTH PLAIN ${base64('\0bob\0alicepw')}\r\n`, 2)).toBe(
      '535 5.7.8 Authentication credentials invalid\r\n421 4.7.0 mx.test Too many failed authentications\r\n',
    );
    await conversation.closed;
  });

  it("case 44: a sasl server's throttle hears each failure with the name tried, and can refuse attempts (454)", async () => {
    const failures: [string | undefined, string | undefined][] = [];
    let locked = false;
    const port = await startServer(servers, {
      startTls: serverTls,
      // The options of a SASL server, which createSmtpServer makes.
      sasl: {
        verifiers: { password: (username, password) => PASSWORDS[username] === password },
        throttle: {
          beforeAttempt: () => !locked,
          onFailure: (context, username) => {
            failures.push([context.remoteAddress, username]);
          },
        },
      },
    });
    const conversation = await Conversation.open(port);
    await conversation.startTls();
    await conversation.send(`AUTH PLAIN ${base64('\0mallory\0x')}\r\n`);
    await conversation.send(`AUTH PLAIN ${base64('\0alice\0x')}\r\n`);
    expect(failures).toEqual([
      ['127.0.0.1', 'mallory'],
      ['127.0.0.1', 'alice'],
    ]);
    locked = true;
    expect(await conversation.send(`AUTH PLAIN ${base64('\0alice\0alicepw')}\r\n`, 2)).toMatch(
      /^454 4\.7\.0 Too many failed attempts, try again later\r\n421 /,
    );
  });

  it('case 46: hostile PLAIN messages are refused, and onAuth never authorises another identity', async () => {
    const { port, calls } = await withOnAuth();
    const attempts: [Uint8Array | string, string][] = [
      ['alice\0bob\0bobpw', '535 5.7.8 Authentication credentials invalid'],
      ['bob\0\0bobpw', '501 5.5.2 Cannot decode the response'],
      ['\0bob\0bobpw\0', '501 5.5.2 Cannot decode the response'],
      [new Uint8Array([0, 0xff, 0xfe, 0, 0x70]), '501 5.5.2 Cannot decode the response'],
    ];
    for (const [message, expected] of attempts) {
      const conversation = await Conversation.open(port);
      await conversation.startTls();
      expect(await conversation.send(`AUTH PLAIN ${base64(message)}\r\n`), String(message)).toBe(
        `${expected}\r\n`,
      );
      conversation.destroy();
    }
    // Only the first reached onAuth, as bob with his own password; the authzid alice was then refused.
    expect(calls.map((call) => call.credentials)).toEqual([{ username: 'bob', password: 'bobpw' }]);
  });

  it('case 46: a SASL response over 12,288 octets is refused before any check', async () => {
    const { port, calls } = await withOnAuth();
    const conversation = await Conversation.open(port);
    await conversation.startTls();
    expect(await conversation.send(`AUTH PLAIN ${'A'.repeat(12_300)}\r\n`)).toBe(
      '500 5.5.6 Line too long\r\n',
    );
    expect(await conversation.send('AUTH PLAIN\r\n')).toBe('334 \r\n');
    expect(await conversation.send(`${'A'.repeat(12_300)}\r\n`)).toBe(
      '500 5.5.6 Authentication exchange line is too long\r\n',
    );
    // The exchange is over: the next line is a command again.
    expect(await conversation.send('NOOP\r\n')).toBe('250 2.0.0 OK\r\n');
    expect(calls).toEqual([]);
  });
});

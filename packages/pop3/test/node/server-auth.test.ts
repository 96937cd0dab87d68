import { InvalidArgumentError } from '@postwire/core';
import { createSaslServer, type ServerMechanism } from '@postwire/sasl';
import { createMemoryStore } from '@postwire/store';
import { describe, expect, it } from 'vitest';
import { createPop3Server, type Pop3ConnectionInfo } from '../../src/node/server.js';
import { apopDigest } from '../../src/protocol/apop.js';
import {
  Conversation,
  closeServersAfterEach,
  deliver,
  multiLine,
  PASSWORD,
  serverTls,
  startServer,
} from '../support/server-harness.js';

const servers = closeServersAfterEach();
const base64 = (text: string) => Buffer.from(text).toString('base64');

/** The challenge of a greeting that offers APOP. */
function challengeOf(greeting: string): string {
  return /<[^>]+>/.exec(greeting)![0];
}

describe('createPop3Server: logins', () => {
  it('onAuth checks USER/PASS and AUTH PLAIN on TLS, and learns the connection', async () => {
    const seen: [string, string, boolean][] = [];
    const { port } = await startServer(servers, {
      sasl: undefined,
      tls: serverTls,
      onAuth: ({ username, password }, connection: Pop3ConnectionInfo) => {
        seen.push([username, password, connection.secure]);
        return username === 'alice' && password === PASSWORD ? 'alice' : false;
      },
    });
    const pop = await Conversation.open(port, { tls: true });
    expect(await pop.send('CAPA\r\n', multiLine)).toContain('\r\nSASL PLAIN LOGIN\r\n');
    expect(await pop.login('nope')).toContain('-ERR [AUTH] Authentication failed');
    expect(await pop.send(`AUTH PLAIN ${base64('\0alice\0secret')}\r\n`)).toContain('+OK Maildrop locked');
    expect(seen).toEqual([
      ['alice', 'nope', true],
      ['alice', 'secret', true],
    ]);
  });

  it('AUTH with a custom mechanism: + challenges, and the client may cancel with *', async () => {
    const token: ServerMechanism = {
      name: 'X-TOKEN',
      start: () => async (response) => {
        if (response === undefined)
          return { type: 'challenge', challenge: new TextEncoder().encode('token?') };
        return new TextDecoder().decode(response) === 'alice:t0ken'
          ? { type: 'success', identity: { username: 'alice' } }
          : { type: 'failure', reason: 'invalid-credentials', username: 'alice' };
      },
    };
    const { port } = await startServer(servers, { sasl: { custom: [token] } });
    const pop = await Conversation.open(port);
    expect(await pop.send('AUTH\r\n', multiLine)).toBe('+OK Methods supported\r\nX-TOKEN\r\n.\r\n');
    expect(await pop.send('AUTH X-TOKEN\r\n')).toBe(`+ ${base64('token?')}\r\n`);
    expect(await pop.send('*\r\n')).toBe('-ERR Authentication cancelled\r\n');
    await pop.send('AUTH X-TOKEN\r\n');
    expect(await pop.send(`${base64('alice:t0ken')}\r\n`)).toContain(
      '+OK Maildrop locked and ready, 0 messages',
    );
  });

  it('case 28: APOP with the sasl verifiers and their throttle', async () => {
    const failures: (string | undefined)[] = [];
    const mechanisms: string[] = [];
    let allow = true;
    const { port, store } = await startServer(servers, {
      apop: true,
      sasl: {
        verifiers: { lookupPassword: (user) => (user === 'alice' ? PASSWORD : undefined) },
        throttle: {
          beforeAttempt: () => allow,
          onFailure: (_context, user, mechanism) => void failures.push(user, mechanism),
          onSuccess: (_context, _identity, mechanism) => void mechanisms.push(mechanism),
        },
      },
    });
    await deliver(store, 'alice', 'Subject: x\r\n\r\n');
    const pop = await Conversation.open(port);
    const challenge = challengeOf(pop.text);
    expect(await pop.send(`APOP alice ${apopDigest(challenge, 'wrong')}\r\n`)).toBe(
      '-ERR [AUTH] Authentication failed\r\n',
    );
    expect(await pop.send(`APOP mallory ${apopDigest(challenge, PASSWORD)}\r\n`)).toBe(
      '-ERR [AUTH] Authentication failed\r\n',
    );
    expect(failures).toEqual(['alice', 'APOP', 'mallory', 'APOP']);
    const next = await Conversation.open(port);
    allow = false;
    expect(await next.send(`APOP alice ${apopDigest(challengeOf(next.text), PASSWORD)}\r\n`)).toBe(
      '-ERR [SYS/TEMP] Too many failed attempts, try again later\r\n',
    );
    allow = true;
    expect(await next.send(`APOP alice ${apopDigest(challengeOf(next.text), PASSWORD)}\r\n`)).toContain(
      '+OK Maildrop locked and ready, 1 message',
    );
    expect(mechanisms).toEqual(['APOP']);
  });

  it('APOP with its own lookup beside a SASL server, and a lookup that fails', async () => {
    const errors: unknown[] = [];
    const { port } = await startServer(servers, {
      sasl: createSaslServer({ verifiers: { password: () => false } }),
      apop: {
        lookupPassword: (user) => {
          if (user === 'broken') throw new Error('directory down');
          return user === 'alice' ? PASSWORD : undefined;
        },
      },
      onError: (error) => errors.push(error),
    });
    const pop = await Conversation.open(port);
    const challenge = challengeOf(pop.text);
    expect(await pop.send(`APOP broken ${apopDigest(challenge, 'x')}\r\n`)).toBe(
      '-ERR [SYS/TEMP] Temporary authentication failure\r\n',
    );
    expect(errors).toHaveLength(1);
    expect(await pop.send(`APOP alice ${apopDigest(challenge, PASSWORD)}\r\n`)).toContain(
      '+OK Maildrop locked',
    );
  });

  it('APOP alone: neither USER nor SASL is offered', async () => {
    const { port } = await startServer(servers, {
      sasl: undefined,
      tls: serverTls,
      apop: { lookupPassword: () => PASSWORD },
    });
    const pop = await Conversation.open(port, { tls: true });
    const capa = await pop.send('CAPA\r\n', multiLine);
    expect(capa).not.toContain('SASL');
    expect(capa).not.toMatch(/\r\nUSER\r\n/);
    expect(await pop.send('USER alice\r\n')).toContain('-ERR [AUTH] Cleartext authentication disallowed');
    expect(await pop.send('AUTH PLAIN =\r\n')).toBe('-ERR Unrecognized authentication mechanism\r\n');
    expect(await pop.send(`APOP alice ${apopDigest(challengeOf(pop.text), PASSWORD)}\r\n`)).toContain(
      '+OK Maildrop',
    );
  });

  it('onConnect may refuse a client; one that throws refuses with [SYS/TEMP]', async () => {
    const errors: unknown[] = [];
    const { port } = await startServer(servers, {
      onConnect: (connection) =>
        connection.remoteAddress === '127.0.0.1'
          ? { ok: false, code: 'SYS/PERM', text: 'Go away' }
          : undefined,
    });
    const refused = await Conversation.open(port);
    await refused.closed;
    expect(refused.text).toBe('-ERR [SYS/PERM] Go away\r\n');
    const { port: failing } = await startServer(servers, {
      onConnect: () => {
        throw new Error('hook broke');
      },
      onError: (error) => errors.push(error),
    });
    const broken = await Conversation.open(failing);
    await broken.closed;
    expect(broken.text).toBe('-ERR [SYS/TEMP] Temporary failure, try again later\r\n');
    expect(errors).toHaveLength(1);
    const { port: admitting } = await startServer(servers, { onConnect: async () => {} });
    expect((await Conversation.open(admitting)).text).toBe('+OK pop.test POP3 server ready\r\n');
  });

  it('refuses options that cannot work', () => {
    const store = createMemoryStore();
    expect(() => createPop3Server({ hostname: 'h' })).toThrow(InvalidArgumentError);
    expect(() => createPop3Server({ hostname: 'h', store })).toThrow('a way to log in');
    expect(() => createPop3Server({ hostname: 'h', store, maildrop: async () => ({}) as never })).toThrow(
      InvalidArgumentError,
    );
    expect(() => createPop3Server({ hostname: 'h', store, sasl: {}, onAuth: () => true })).toThrow(
      InvalidArgumentError,
    );
    expect(() => createPop3Server({ hostname: 'h', store, apop: true, sasl: {} })).toThrow(
      InvalidArgumentError,
    );
    expect(() => createPop3Server({ hostname: 'h', store, sasl: {}, loginDelay: -1 })).toThrow(
      InvalidArgumentError,
    );
    expect(() => createPop3Server({ hostname: 'h', store, sasl: {}, limits: { badCommands: 0 } })).toThrow(
      InvalidArgumentError,
    );
    expect(() => createPop3Server({ hostname: 'h', store, apop: true, sasl: createSaslServer() })).toThrow(
      InvalidArgumentError,
    );
  });
});

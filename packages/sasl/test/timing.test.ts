import { timingSafeEqual } from '@postwire/core';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { createSaslClient, createSaslServer, deriveScramCredentials, type SaslServer } from '../src/index.js';
import { run, unb64 } from './harness.js';

vi.mock('@postwire/core', async (importOriginal) => {
  const actual = await importOriginal<typeof import('@postwire/core')>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const compare = vi.mocked(timingSafeEqual);
const connection = { secure: true };
const lookupServer = createSaslServer({
  verifiers: { lookupPassword: (username) => (username === 'alice' ? 'wonderland' : undefined) },
});
const stored = deriveScramCredentials('wonderland', 'SHA-256');
const scramServer = createSaslServer({
  verifiers: {
    scramCredentials: async (username, family) =>
      username === 'alice' && family === 'SCRAM-SHA-256' ? stored : undefined,
  },
});

const attempt = (server: SaslServer, mechanism: string, username: string, password: string) =>
  run(createSaslClient({ username, password, mechanisms: [mechanism] }), server, connection);

/** The lengths of every pair of byte strings compared since the last reset. */
const comparedLengths = () => compare.mock.calls.map(([a, b]) => [a.length, b.length]);

describe('case 43: secrets are compared in constant time, on fixed-length digests', () => {
  beforeEach(() => {
    compare.mockClear();
  });

  it.each([
    ['PLAIN against lookupPassword', lookupServer, 'PLAIN', 32],
    ['LOGIN against lookupPassword', lookupServer, 'LOGIN', 32],
    ['PLAIN against SCRAM credentials', scramServer, 'PLAIN', 32],
    ['CRAM-MD5 digest', lookupServer, 'CRAM-MD5', 16],
    ['SCRAM-SHA-1 proof', lookupServer, 'SCRAM-SHA-1', 20],
    ['SCRAM-SHA-256 proof', scramServer, 'SCRAM-SHA-256', 32],
  ] as const)('case 43: %s', async (_, server, mechanism, length) => {
    for (const [username, password] of [
      ['alice', 'wonderland'],
      ['alice', 'wrong'],
      ['nobody', 'wonderland'],
    ]) {
      compare.mockClear();
      await attempt(server, mechanism, username!, password!);
      expect(comparedLengths()).toContainEqual([length, length]);
      for (const [a, b] of comparedLengths()) expect(a).toBe(b);
    }
  });

  it('case 43: the SCRAM client compares the server signature in constant time', async () => {
    const result = await attempt(scramServer, 'SCRAM-SHA-256', 'alice', 'wonderland');
    expect(result.completeError).toBeUndefined();
    expect(compare).toHaveBeenCalledTimes(3);
    expect(comparedLengths().at(-1)).toEqual([32, 32]);
  });
});

describe('case 43 (and 44): an unknown user and a wrong password look the same', () => {
  it.each([
    ['lookupPassword', lookupServer, 'PLAIN'],
    ['lookupPassword', lookupServer, 'LOGIN'],
    ['lookupPassword', lookupServer, 'CRAM-MD5'],
    ['lookupPassword', lookupServer, 'SCRAM-SHA-1'],
    ['lookupPassword', lookupServer, 'SCRAM-SHA-256'],
    ['scramCredentials', scramServer, 'PLAIN'],
    ['scramCredentials', scramServer, 'SCRAM-SHA-256'],
  ] as const)(
    'case 43: with %s, %s gives identical outcomes and alike challenges',
    async (_, server, mechanism) => {
      const wrong = await attempt(server, mechanism, 'alice', 'wrong');
      const unknown = await attempt(server, mechanism, 'nobody', 'wonderland');
      expect(unknown.outcome).toEqual({ type: 'failure', reason: 'invalid-credentials' });
      expect(wrong.outcome).toEqual(unknown.outcome);
      const shape = (line: string) =>
        line.startsWith('S: ') ? unb64(line.slice(3)).replace(/=[^,]*|<[^>]*>/g, '=') : line.slice(0, 2);
      expect(unknown.transcript.map(shape)).toEqual(wrong.transcript.map(shape));
    },
  );

  it('case 43: an unknown user gets a SCRAM salt and iteration count as stable as a real one', async () => {
    const serverFirst = async (server: SaslServer, username: string) => {
      const client = createSaslClient({ username, password: 'x', mechanisms: ['SCRAM-SHA-256'] });
      const result = await run(client, server, connection);
      return unb64(result.transcript[1]!.slice(3)).replace(/^r=[^,]+,/, '');
    };
    for (const server of [lookupServer, scramServer]) {
      const first = await serverFirst(server, 'nobody');
      expect(await serverFirst(server, 'nobody')).toBe(first);
      expect(first).toMatch(/^s=[A-Za-z0-9+/]{22}==,i=4096$/);
      expect(await serverFirst(server, 'alice')).toMatch(/^s=[A-Za-z0-9+/]{22}==,i=4096$/);
      expect(await serverFirst(server, 'somebody-else')).not.toBe(first);
    }
  });

  it('case 44: failures reach the lockout hook with the attempted name, known or not', async () => {
    const onFailure = vi.fn();
    const server = createSaslServer({
      verifiers: { lookupPassword: (username) => (username === 'alice' ? 'wonderland' : undefined) },
      throttle: { onFailure },
    });
    await attempt(server, 'SCRAM-SHA-256', 'alice', 'wrong');
    await attempt(server, 'CRAM-MD5', 'nobody', 'x');
    expect(onFailure.mock.calls).toEqual([
      [connection, 'alice', 'SCRAM-SHA-256'],
      [connection, 'nobody', 'CRAM-MD5'],
    ]);
  });
});

describe('case 44: an unknown user costs the server the same cryptographic work as a wrong password', () => {
  const operations = ['sign', 'digest', 'deriveBits', 'importKey'] as const;
  const countWork = async (run: () => Promise<unknown>) => {
    const spies = operations.map((name) => vi.spyOn(crypto.subtle, name));
    try {
      await run();
      return Object.fromEntries(operations.map((name, i) => [name, spies[i]!.mock.calls.length]));
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  };
  const cram = (server: SaslServer, username: string) =>
    countWork(async () => {
      const exchange = server.createExchange(connection);
      await exchange.start('CRAM-MD5');
      await exchange.respond(Buffer.from(`${username} ${'0'.repeat(32)}`).toString('base64'));
    });
  const plain = (server: SaslServer, username: string) =>
    countWork(() => server.verifyPassword(username, 'wrong', connection));
  const scramFirst = (server: SaslServer, username: string) =>
    countWork(() =>
      server
        .createExchange(connection)
        .start('SCRAM-SHA-256', Buffer.from(`n,,n=${username},r=abc`).toString('base64')),
    );

  it.each([
    ['CRAM-MD5 with lookupPassword', cram, lookupServer],
    ['a password with lookupPassword', plain, lookupServer],
    ['a password with SCRAM credentials', plain, scramServer],
    ['SCRAM with lookupPassword', scramFirst, lookupServer],
    ['SCRAM with SCRAM credentials', scramFirst, scramServer],
  ] as const)('case 44: %s', async (_, attemptWith, server) => {
    await stored;
    expect(await attemptWith(server, 'nobody')).toEqual(await attemptWith(server, 'alice'));
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ClientMechanism,
  createSaslClient,
  createSaslServer,
  deriveScramCredentials,
  type ScramStoredCredentials,
  type ServerMechanism,
} from '../src/index.js';
import { encodePlainMessage, parsePlainMessage } from '../src/plain.js';
import { fakeBinding, run } from './harness.js';

const passwords: Record<string, string> = { alice: 'wonderland', bjørn: 'pässwörd' };
const lookupServer = createSaslServer({
  verifiers: {
    lookupPassword: (username) => passwords[username],
    token: (username, token) => username === 'alice' && token === 'token-123',
    external: (identity) => (identity === 'CN=alice' ? 'alice' : false),
    anonymous: (trace) => trace !== 'banned@example.com',
  },
});
const binding = fakeBinding(7);
const connection = { serverBinding: binding, externalIdentity: 'CN=alice' };

const ALL = [
  'SCRAM-SHA-256-PLUS',
  'SCRAM-SHA-256',
  'SCRAM-SHA-1-PLUS',
  'SCRAM-SHA-1',
  'CRAM-MD5',
  'PLAIN',
  'LOGIN',
  'OAUTHBEARER',
  'XOAUTH2',
  'EXTERNAL',
  'ANONYMOUS',
];

function clientFor(mechanism: string, password = 'wonderland') {
  return createSaslClient({
    username: 'alice',
    password,
    accessToken: password === 'wonderland' ? 'token-123' : 'bad-token',
    external: true,
    anonymous: { trace: 'alice@example.com' },
    mechanisms: [mechanism],
  });
}

describe('our client against our server', () => {
  it('the server offers every configured mechanism, strongest first', () => {
    expect(
      lookupServer.mechanisms({ secure: true, channelBinding: binding, externalIdentity: 'CN=a' }),
    ).toEqual(ALL);
  });

  describe.each(ALL)('%s', (mechanism) => {
    const username = mechanism === 'ANONYMOUS' ? 'anonymous' : 'alice';

    it.each([true, false])('authenticates (initial response: %s)', async (initialResponse) => {
      const result = await run(clientFor(mechanism), lookupServer, { ...connection, initialResponse });
      expect(result.mechanism).toBe(mechanism);
      expect(result.outcome).toMatchObject({ type: 'success', mechanism, identity: { username } });
      expect(result.completeError).toBeUndefined();
    });

    it('authenticates when the protocol carries success data', async () => {
      const result = await run(clientFor(mechanism), lookupServer, { ...connection, successData: true });
      expect(result.outcome).toMatchObject({ type: 'success', identity: { username } });
      expect(result.completeError).toBeUndefined();
    });
  });

  it.each(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1', 'CRAM-MD5', 'PLAIN', 'LOGIN', 'OAUTHBEARER', 'XOAUTH2'])(
    '%s refuses a wrong secret',
    async (mechanism) => {
      const result = await run(clientFor(mechanism, 'wrong'), lookupServer, connection);
      expect(result.outcome).toEqual({ type: 'failure', reason: 'invalid-credentials' });
    },
  );

  it('EXTERNAL refuses an identity the verifier does not map, and runs only with one', async () => {
    const result = await run(clientFor('EXTERNAL'), lookupServer, { externalIdentity: 'CN=mallory' });
    expect(result.outcome).toEqual({ type: 'failure', reason: 'invalid-credentials' });
    expect(lookupServer.mechanisms({ secure: true })).not.toContain('EXTERNAL');
  });

  it('EXTERNAL carries an authzid, subject to authorize', async () => {
    const client = createSaslClient({ external: true, authzid: 'shared' });
    const denied = await run(client, lookupServer, connection);
    expect(denied.outcome).toEqual({ type: 'failure', reason: 'authorization-failed' });
    const server = createSaslServer({
      verifiers: { external: () => true },
      authorize: (username, authzid) => username === 'CN=alice' && authzid === 'shared',
    });
    const allowed = await run(client, server, connection);
    expect(allowed.outcome).toMatchObject({ identity: { username: 'CN=alice', authzid: 'shared' } });
  });

  it('ANONYMOUS passes the trace and lets the verifier refuse', async () => {
    const ok = await run(clientFor('ANONYMOUS'), lookupServer, connection);
    expect(ok.outcome).toMatchObject({ identity: { username: 'anonymous', trace: 'alice@example.com' } });
    const banned = createSaslClient({ anonymous: { trace: 'banned@example.com' } });
    expect((await run(banned, lookupServer, connection)).outcome).toMatchObject({
      reason: 'invalid-credentials',
    });
  });

  it('XOAUTH2 failure: error JSON challenge, empty answer, then failure', async () => {
    const server = createSaslServer({ verifiers: { token: () => false }, oauth: { scope: 'mail' } });
    const result = await run(clientFor('XOAUTH2'), server, connection);
    expect(result.transcript.slice(1)).toEqual([
      `S: ${Buffer.from('{"status":"401","schemes":"bearer","scope":"mail"}').toString('base64')}`,
      'C: ',
    ]);
    expect(result.outcome).toEqual({ type: 'failure', reason: 'invalid-credentials' });
    expect(JSON.parse(result.serverError!)).toMatchObject({ status: '401' });
  });

  it('OAUTHBEARER without a user name needs the verifier to name the token owner', async () => {
    const client = createSaslClient({ accessToken: 'token-123' });
    const owner = createSaslServer({
      verifiers: { token: (username) => (username === '' ? 'alice' : false) },
    });
    expect((await run(client, owner, connection)).outcome).toMatchObject({ identity: { username: 'alice' } });
    const yes = createSaslServer({ verifiers: { token: () => true } });
    expect((await run(client, yes, connection)).outcome).toMatchObject({ reason: 'invalid-credentials' });
  });

  it('offers -PLUS only with a default binding type: tls-server-end-point alone binds nothing, and is no downgrade', async () => {
    const serverEndPoint = (type: string) =>
      type === 'tls-server-end-point' ? new Uint8Array(32).fill(9) : undefined;
    // A server on a runtime that cannot export keying material, and a client that can.
    expect(lookupServer.mechanisms({ secure: true, channelBinding: serverEndPoint })).not.toContain(
      'SCRAM-SHA-256-PLUS',
    );
    const client = createSaslClient({ username: 'alice', password: 'wonderland' });
    const result = await run(client, lookupServer, { serverBinding: serverEndPoint, clientBinding: binding });
    expect(result.outcome).toMatchObject({ type: 'success', mechanism: 'SCRAM-SHA-256' });
    expect(lookupServer.mechanisms({ secure: true, channelBinding: binding })).toContain(
      'SCRAM-SHA-256-PLUS',
    );
  });

  it('OAUTHBEARER and XOAUTH2 both take the canonical name the token verifier gives', async () => {
    const canonical = createSaslServer({
      verifiers: {
        token: (username, token) => username.toLowerCase() === 'alice' && token === 't' && 'alice',
      },
    });
    for (const mechanism of ['OAUTHBEARER', 'XOAUTH2']) {
      const client = createSaslClient({ username: 'Alice', accessToken: 't', mechanisms: [mechanism] });
      expect((await run(client, canonical, connection)).outcome).toEqual({
        type: 'success',
        mechanism,
        identity: { username: 'alice' },
      });
    }
  });

  it('non-ASCII names and passwords work with SCRAM (SASLprep) and CRAM-MD5', async () => {
    for (const mechanism of ['SCRAM-SHA-256', 'CRAM-MD5', 'PLAIN']) {
      const client = createSaslClient({ username: 'bjørn', password: 'pässwörd', mechanisms: [mechanism] });
      const result = await run(client, lookupServer, connection);
      expect(result.outcome).toMatchObject({ type: 'success', identity: { username: 'bjørn' } });
    }
  });

  it('works with stored SCRAM credentials: SCRAM, and PLAIN checked against them', async () => {
    const stored: Record<string, ScramStoredCredentials> = {
      'alice SCRAM-SHA-256': await deriveScramCredentials('wonderland', 'SHA-256'),
      'bob SCRAM-SHA-1': await deriveScramCredentials('builder', 'SHA-1', { iterations: 5000 }),
    };
    const server = createSaslServer({
      verifiers: { scramCredentials: (username, family) => stored[`${username} ${family}`] },
    });
    expect(server.mechanisms({ secure: true })).toEqual(['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN', 'LOGIN']);
    for (const [username, password, mechanism] of [
      ['alice', 'wonderland', 'SCRAM-SHA-256'],
      ['alice', 'wonderland', 'PLAIN'],
      ['bob', 'builder', 'SCRAM-SHA-1'],
      ['bob', 'builder', 'LOGIN'],
    ] as const) {
      const client = createSaslClient({ username, password, mechanisms: [mechanism] });
      expect((await run(client, server, connection)).outcome).toMatchObject({ type: 'success' });
    }
    const wrong = createSaslClient({ username: 'bob', password: 'wrong', mechanisms: ['PLAIN'] });
    expect((await run(wrong, server, connection)).outcome).toMatchObject({ reason: 'invalid-credentials' });
    const unknown = createSaslClient({ username: 'carol', password: 'x', mechanisms: ['PLAIN'] });
    expect((await run(unknown, server, connection)).outcome).toMatchObject({ reason: 'invalid-credentials' });
  });

  it('a password verifier may return the canonical user name', async () => {
    const server = createSaslServer({
      verifiers: {
        password: (username, password) => username.toLowerCase() === 'alice' && password === 'pw' && 'alice',
      },
    });
    const client = createSaslClient({ username: 'ALICE', password: 'pw' });
    expect(server.mechanisms({ secure: true })).toEqual(['PLAIN', 'LOGIN']);
    expect((await run(client, server, connection)).outcome).toMatchObject({
      identity: { username: 'alice' },
    });
  });

  it('a custom mechanism plugs in on both sides', async () => {
    const totpServer: ServerMechanism = {
      name: 'X-TOTP',
      start: () => {
        let user: string | undefined;
        return async (response) => {
          const text = new TextDecoder().decode(response);
          if (response === undefined || (user === undefined && text === '')) {
            return { type: 'challenge', challenge: new TextEncoder().encode('user?') };
          }
          if (user === undefined) {
            user = text;
            return { type: 'challenge', challenge: new TextEncoder().encode('code?') };
          }
          return text === '123456'
            ? { type: 'success', identity: { username: user } }
            : { type: 'failure', reason: 'invalid-credentials', username: user };
        };
      },
    };
    const totpClient = (code: string): ClientMechanism => ({
      name: 'X-TOTP',
      start: () => {
        const answers = ['alice', code];
        return {
          initialResponse: undefined,
          respond: async () => new TextEncoder().encode(answers.shift() ?? ''),
        };
      },
    });
    const server = createSaslServer({ verifiers: { lookupPassword: () => 'pw' }, custom: [totpServer] });
    expect(server.mechanisms({ secure: true }).at(-1)).toBe('X-TOTP');
    const good = createSaslClient({ username: 'alice', password: 'pw', custom: [totpClient('123456')] });
    const result = await run(good, server, connection);
    expect(result.mechanism).toBe('X-TOTP');
    expect(result.outcome).toMatchObject({
      type: 'success',
      mechanism: 'X-TOTP',
      identity: { username: 'alice' },
    });
    const bad = createSaslClient({ custom: [totpClient('000000')] });
    expect((await run(bad, server, connection)).outcome).toMatchObject({ reason: 'invalid-credentials' });
  });

  it('property: any valid PLAIN name and password reach the verifier unchanged', async () => {
    const name = fc
      .string({ minLength: 1, maxLength: 40, unit: 'grapheme' })
      // Controls and the characters that can spoof a log line (U+2028, bidi overrides, BOM) are refused.
      .filter((s) => !/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/.test(s));
    const password = fc
      .string({ minLength: 1, maxLength: 40, unit: 'grapheme' })
      .filter((s) => !s.includes('\u0000'));
    await fc.assert(
      fc.asyncProperty(
        fc.option(name, { nil: undefined }),
        name,
        password,
        async (authzid, authcid, secret) => {
          expect(parsePlainMessage(encodePlainMessage(authzid, authcid, secret))).toEqual({
            authzid,
            authcid,
            password: secret,
          });
          let seen: [string, string] | undefined;
          const server = createSaslServer({
            verifiers: {
              password: (u, p) => {
                seen = [u, p];
                return true;
              },
            },
            authorize: () => true,
          });
          const client = createSaslClient({
            username: authcid,
            password: secret,
            authzid,
            mechanisms: ['PLAIN'],
          });
          const result = await run(client, server, connection);
          expect(seen).toEqual([authcid, secret]);
          expect(result.outcome).toMatchObject({ type: 'success', identity: { username: authcid } });
        },
      ),
      { numRuns: 50 },
    );
  });
});

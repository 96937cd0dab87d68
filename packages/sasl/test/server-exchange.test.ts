import { describe, expect, it, vi } from 'vitest';
import {
  createPasswordSaslServer,
  createSaslServer,
  type SaslConnectionContext,
  type ServerMechanism,
  toSessionStep,
  transportContext,
} from '../src/index.js';
import { b64 } from './harness.js';

const tls: SaslConnectionContext = { secure: true };
const plainText: SaslConnectionContext = { secure: false };
const passwords: Record<string, string> = { alice: 'wonderland' };
const verifiers = {
  lookupPassword: (username: string) => passwords[username],
  external: () => true,
  anonymous: () => true,
};
const server = createSaslServer({ verifiers });
const alice = b64('\u0000alice\u0000wonderland');

describe('server framing', () => {
  it('takes "=" as an empty initial response', async () => {
    const external = server.createExchange({ secure: true, externalIdentity: 'alice' });
    expect(await external.start('EXTERNAL', '=')).toMatchObject({
      type: 'success',
      identity: { username: 'alice' },
    });
    const anonymous = server.createExchange(tls);
    expect(await anonymous.start('ANONYMOUS', '=')).toMatchObject({
      identity: { username: 'anonymous', trace: '' },
    });
    const plain = server.createExchange(tls);
    expect(await plain.start('PLAIN', '=')).toEqual({ type: 'failure', reason: 'malformed' });
  });

  it('refuses an empty string as initial response: only "=" means empty (RFC 4954, RFC 4959)', async () => {
    const onFailure = vi.fn();
    const hooked = createSaslServer({ verifiers, throttle: { onFailure } });
    expect(await hooked.createExchange(tls).start('ANONYMOUS', '')).toEqual({
      type: 'failure',
      reason: 'malformed',
    });
    expect(onFailure).not.toHaveBeenCalled();
  });

  it('does not fold non-ASCII letters into a mechanism name', async () => {
    for (const name of ['\u017Fcram-sha-256', 'PLA\u0131N']) {
      expect(name.toUpperCase()).toMatch(/^(SCRAM-SHA-256|PLAIN)$/);
      expect(await server.createExchange(tls).start(name, alice)).toEqual({
        type: 'failure',
        reason: 'mechanism-unavailable',
      });
    }
  });

  it('sends an empty challenge when a client-first mechanism gets no initial response', async () => {
    const exchange = server.createExchange(tls);
    expect(await exchange.start('plain')).toEqual({ type: 'challenge', text: '' });
    expect(exchange.mechanism).toBe('PLAIN');
    expect(exchange.done).toBe(false);
    expect(await exchange.respond(alice)).toMatchObject({ type: 'success', mechanism: 'PLAIN' });
    expect(exchange.done).toBe(true);
  });

  it('"*" cancels, without counting as a failed login', async () => {
    const onFailure = vi.fn();
    const throttled = createSaslServer({ verifiers, throttle: { onFailure } });
    const exchange = throttled.createExchange(tls);
    await exchange.start('LOGIN');
    expect(await exchange.respond('*')).toEqual({ type: 'failure', reason: 'cancelled' });
    expect(onFailure).not.toHaveBeenCalled();
  });

  it('refuses invalid base64 as malformed, in the initial response and later', async () => {
    expect(await server.createExchange(tls).start('PLAIN', 'AGFsaWNl!')).toEqual({
      type: 'failure',
      reason: 'malformed',
    });
    expect(await server.createExchange(tls).start('PLAIN', 'AGFsaWN')).toEqual({
      type: 'failure',
      reason: 'malformed',
    });
    const exchange = server.createExchange(tls);
    await exchange.start('LOGIN');
    expect(await exchange.respond('YWxp Y2U=')).toEqual({ type: 'failure', reason: 'malformed' });
  });

  it('refuses a response over the limit as too-long (12,288 by default, configurable)', async () => {
    const long = 'A'.repeat(12_292);
    expect(await server.createExchange(tls).start('PLAIN', long)).toEqual({
      type: 'failure',
      reason: 'too-long',
    });
    const exchange = server.createExchange(tls);
    await exchange.start('PLAIN');
    expect(await exchange.respond(long)).toEqual({ type: 'failure', reason: 'too-long' });
    const small = createSaslServer({ verifiers, limits: { maxResponseLength: 8 } });
    expect(await small.createExchange(tls).start('PLAIN', alice)).toEqual({
      type: 'failure',
      reason: 'too-long',
    });
    expect(() => createSaslServer({ limits: { maxResponseLength: -1 } })).toThrow(/positive integer/);
  });

  it('refuses unknown and unavailable mechanisms', async () => {
    expect(await server.createExchange(tls).start('GSSAPI')).toEqual({
      type: 'failure',
      reason: 'mechanism-unavailable',
    });
    expect(await server.createExchange(tls).start('EXTERNAL', '=')).toEqual({
      type: 'failure',
      reason: 'mechanism-unavailable',
    });
    expect(await server.createExchange(tls).start('SCRAM-SHA-256-PLUS')).toEqual({
      type: 'failure',
      reason: 'mechanism-unavailable',
    });
  });

  it('hides and refuses cleartext mechanisms before TLS unless allowed (case 45)', async () => {
    expect(server.mechanisms(plainText)).toEqual(['SCRAM-SHA-256', 'SCRAM-SHA-1', 'CRAM-MD5', 'ANONYMOUS']);
    expect(server.allowsCleartext(plainText)).toBe(false);
    expect(await server.createExchange(plainText).start('PLAIN', alice)).toEqual({
      type: 'failure',
      reason: 'encryption-required',
    });
    expect(await server.verifyPassword('alice', 'wonderland', plainText)).toEqual({
      type: 'failure',
      reason: 'encryption-required',
    });
    const lenient = createSaslServer({ verifiers, allowCleartext: true });
    expect(lenient.mechanisms(plainText)).toContain('PLAIN');
    expect(await lenient.createExchange(plainText).start('PLAIN', alice)).toMatchObject({ type: 'success' });
  });

  it('sends success data as a last challenge that must be answered with an empty line', async () => {
    const withData: ServerMechanism = {
      name: 'X-DATA',
      start: () => async () => ({
        type: 'success',
        identity: { username: 'alice' },
        additionalData: new Uint8Array([1, 2]),
      }),
    };
    const dataServer = createSaslServer({ custom: [withData] });
    const exchange = dataServer.createExchange(tls);
    expect(await exchange.start('X-DATA')).toEqual({ type: 'challenge', text: 'AQI=' });
    expect(await exchange.respond('AQI=')).toEqual({ type: 'failure', reason: 'malformed' });
    const second = dataServer.createExchange(tls);
    await second.start('X-DATA');
    expect(await second.respond('')).toMatchObject({ type: 'success', identity: { username: 'alice' } });
    expect(await dataServer.createExchange(tls, { successData: true }).start('X-DATA')).toMatchObject({
      type: 'success',
      additionalData: 'AQI=',
    });
  });

  it('reports a throwing verifier or hook as temporary, with the cause', async () => {
    const cause = new Error('database down');
    const broken = createSaslServer({
      verifiers: {
        lookupPassword: () => {
          throw cause;
        },
      },
    });
    expect(await broken.createExchange(tls).start('PLAIN', alice)).toEqual({
      type: 'failure',
      reason: 'temporary',
      cause,
    });
    expect(await broken.verifyPassword('alice', 'x', tls)).toEqual({
      type: 'failure',
      reason: 'temporary',
      cause,
    });
    const badHook = createSaslServer({
      verifiers,
      throttle: {
        beforeAttempt: () => {
          throw cause;
        },
      },
    });
    expect(await badHook.createExchange(tls).start('PLAIN', alice)).toMatchObject({ reason: 'temporary' });
    const badSuccessHook = createSaslServer({
      custom: [
        {
          name: 'X-DATA',
          start: () => async () => ({
            type: 'success',
            identity: { username: 'a' },
            additionalData: new Uint8Array([1]),
          }),
        },
      ],
      throttle: {
        onSuccess: () => {
          throw cause;
        },
      },
    });
    const exchange = badSuccessHook.createExchange(tls);
    await exchange.start('X-DATA');
    expect(await exchange.respond('')).toMatchObject({ reason: 'temporary' });
    const badAvailable = createSaslServer({
      custom: [
        {
          name: 'X-BROKEN',
          available: () => {
            throw cause;
          },
          start: () => async () => ({ type: 'failure', reason: 'malformed' }),
        },
      ],
    });
    expect(await badAvailable.createExchange(tls).start('X-BROKEN')).toEqual({
      type: 'failure',
      reason: 'temporary',
      cause,
    });
  });

  it('throws when driven out of order', async () => {
    const exchange = server.createExchange(tls);
    await expect(exchange.respond('')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await exchange.start('PLAIN', alice);
    await expect(exchange.start('PLAIN', alice)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(exchange.respond('')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('refuses a custom mechanism success whose identity is empty or has control characters', async () => {
    const sloppy = (username: string, authzid?: string): ServerMechanism => ({
      name: 'X-SLOPPY',
      start: () => async () => ({
        type: 'success',
        identity: authzid === undefined ? { username } : { username, authzid },
      }),
    });
    for (const [username, authzid] of [[''], ['a\r\nb'], ['a', 'b\u0000']] as const) {
      const custom = createSaslServer({ custom: [sloppy(username, authzid)], authorize: () => true });
      expect(await custom.createExchange(tls).start('X-SLOPPY')).toEqual({
        type: 'failure',
        reason: 'malformed',
      });
    }
  });
});

describe('server registry', () => {
  it('advertises nothing without verifiers', () => {
    expect(createSaslServer().mechanisms(tls)).toEqual([]);
  });

  it('follows the mechanisms option for order and enablement', () => {
    const ordered = createSaslServer({ verifiers, mechanisms: ['plain', 'SCRAM-SHA-1'] });
    expect(ordered.mechanisms(tls)).toEqual(['PLAIN', 'SCRAM-SHA-1']);
  });

  it('throws at construction for an unconfigured or unknown mechanism, or a bad custom name', () => {
    expect(() => createSaslServer({ mechanisms: ['PLAIN'] })).toThrow(/PLAIN/);
    expect(() => createSaslServer({ verifiers, mechanisms: ['NOPE'] })).toThrow(/NOPE/);
    const named = (name: string): ServerMechanism => ({
      name,
      start: () => async () => ({ type: 'failure', reason: 'malformed' }),
    });
    expect(() => createSaslServer({ custom: [named('bad name')] })).toThrow(/invalid/);
    expect(() => createSaslServer({ custom: [named('X-A'), named('X-A')] })).toThrow(/duplicate/);
  });

  it('lets a custom mechanism replace a built-in one', async () => {
    const mine: ServerMechanism = {
      name: 'PLAIN',
      cleartext: true,
      start: () => async () => ({ type: 'success', identity: { username: 'custom' } }),
    };
    const replaced = createSaslServer({ verifiers, custom: [mine] });
    expect(await replaced.createExchange(tls).start('PLAIN', '=')).toMatchObject({
      identity: { username: 'custom' },
    });
  });

  it('tells the throttle hooks which mechanism succeeded or failed', async () => {
    const onSuccess = vi.fn();
    const onFailure = vi.fn();
    const hooked = createSaslServer({ verifiers, throttle: { onSuccess, onFailure } });
    await hooked.createExchange(tls).start('plain', alice);
    expect(onSuccess).toHaveBeenCalledWith(tls, { username: 'alice' }, 'PLAIN');
    await hooked.createExchange(tls).start('PLAIN', b64('\u0000alice\u0000wrong'));
    expect(onFailure).toHaveBeenCalledWith(tls, 'alice', 'PLAIN');
  });

  it('verifyPassword applies the same checks and hooks outside SASL', async () => {
    const onSuccess = vi.fn();
    const onFailure = vi.fn();
    const hooked = createSaslServer({ verifiers, throttle: { onSuccess, onFailure } });
    expect(await hooked.verifyPassword('alice', 'wonderland', tls)).toEqual({
      type: 'success',
      mechanism: 'PASSWORD',
      identity: { username: 'alice' },
    });
    expect(onSuccess).toHaveBeenCalledWith(tls, { username: 'alice' }, 'PASSWORD');
    expect(await hooked.verifyPassword('alice', 'nope', tls)).toEqual({
      type: 'failure',
      reason: 'invalid-credentials',
    });
    expect(onFailure).toHaveBeenCalledWith(tls, 'alice', 'PASSWORD');
    expect(await hooked.verifyPassword('ali\r\nce', 'x', tls)).toEqual({
      type: 'failure',
      reason: 'malformed',
    });
    expect(await createSaslServer().verifyPassword('alice', 'x', tls)).toEqual({
      type: 'failure',
      reason: 'mechanism-unavailable',
    });
  });

  it('throttle: beforeAttempt may delay, or refuse with false', async () => {
    const order: string[] = [];
    const slow = createSaslServer({
      verifiers,
      throttle: {
        beforeAttempt: async () => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          order.push('delayed');
        },
      },
    });
    const outcome = await slow.createExchange(tls).start('PLAIN', alice);
    order.push(outcome.type);
    expect(order).toEqual(['delayed', 'success']);
    const refusing = createSaslServer({ verifiers, throttle: { beforeAttempt: () => false } });
    expect(await refusing.createExchange(tls).start('PLAIN', alice)).toEqual({
      type: 'failure',
      reason: 'throttled',
    });
    expect(await refusing.verifyPassword('alice', 'wonderland', tls)).toEqual({
      type: 'failure',
      reason: 'throttled',
    });
  });
});

describe('createPasswordSaslServer', () => {
  it("checks PLAIN and LOGIN with one function that sees the protocol's connection", async () => {
    const seen: unknown[] = [];
    const password = createPasswordSaslServer<{ id: number }>((credentials, connection) => {
      seen.push(connection);
      return credentials.username === 'alice' && credentials.password === 'wonderland';
    });
    expect(password.mechanisms({ secure: true })).toEqual(['PLAIN', 'LOGIN']);
    const plain = password.createExchange({ secure: true, connection: { id: 1 } });
    expect(await plain.start('PLAIN', alice)).toMatchObject({
      type: 'success',
      identity: { username: 'alice' },
    });
    const wrong = password.createExchange({ secure: true, connection: { id: 2 } });
    expect(await wrong.start('PLAIN', b64('\u0000alice\u0000nope'))).toMatchObject({ type: 'failure' });
    expect(seen).toEqual([{ id: 1 }, { id: 2 }]);
    expect(password.mechanisms({ secure: false })).toEqual([]);
  });
});

describe('toSessionStep', () => {
  it("keeps a challenge, names the user of a success, and keeps only a failure's reason", () => {
    expect(toSessionStep({ type: 'challenge', text: 'abc=' })).toEqual({ type: 'challenge', text: 'abc=' });
    expect(
      toSessionStep({ type: 'success', mechanism: 'PLAIN', identity: { username: 'alice' } } as Parameters<
        typeof toSessionStep
      >[0]),
    ).toEqual({ type: 'success', username: 'alice' });
    expect(toSessionStep({ type: 'failure', reason: 'temporary', cause: new Error('db down') })).toEqual({
      type: 'failure',
      reason: 'temporary',
    });
  });
});

describe('transportContext', () => {
  it("reads the channel binding and the verified client certificate's name from the transport", async () => {
    const binding = new Uint8Array([1, 2, 3]);
    const transport = {
      info: { secure: true, peerCertificateName: 'alice' },
      channelBinding: (type: string) => (type === 'tls-exporter' ? binding : undefined),
    };
    const context = transportContext(transport, { secure: true, remoteAddress: '127.0.0.1' });
    expect(context).toMatchObject({ secure: true, remoteAddress: '127.0.0.1', externalIdentity: 'alice' });
    expect(context.channelBinding?.('tls-exporter')).toBe(binding);
    const external = createSaslServer({ verifiers: { external: (identity) => identity === 'alice' } });
    expect(external.mechanisms(context)).toContain('EXTERNAL');
    expect(external.mechanisms(transportContext({ info: { secure: true } }, { secure: true }))).not.toContain(
      'EXTERNAL',
    );
  });
});

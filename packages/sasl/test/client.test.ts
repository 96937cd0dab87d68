import { describe, expect, it } from 'vitest';
import { type ClientMechanism, createSaslClient, type SaslClientConnection } from '../src/index.js';
import { b64, fakeBinding } from './harness.js';

const tls: SaslClientConnection = { secure: true };
const bound: SaslClientConnection = { secure: true, channelBinding: fakeBinding(3) };
const cleartext: SaslClientConnection = { secure: false };
const everything = [
  'PLAIN',
  'LOGIN',
  'CRAM-MD5',
  'SCRAM-SHA-1',
  'SCRAM-SHA-1-PLUS',
  'SCRAM-SHA-256',
  'SCRAM-SHA-256-PLUS',
  'XOAUTH2',
  'OAUTHBEARER',
];
const password = createSaslClient({ username: 'alice', password: 'pw' });

describe('mechanism selection', () => {
  it('picks the strongest mechanism both sides support', () => {
    expect(password.selectMechanism(everything, bound)).toBe('SCRAM-SHA-256-PLUS');
    expect(password.selectMechanism(everything, tls)).toBe('SCRAM-SHA-256');
    expect(password.selectMechanism(['plain', 'scram-sha-1', 'cram-md5'], tls)).toBe('SCRAM-SHA-1');
    expect(password.selectMechanism(['PLAIN', 'CRAM-MD5'], tls)).toBe('CRAM-MD5');
    expect(password.selectMechanism(['LOGIN', 'PLAIN'], tls)).toBe('PLAIN');
    expect(password.selectMechanism(['GSSAPI'], tls)).toBeUndefined();
  });

  it('lists what it can do, in order of preference', () => {
    expect(password.mechanisms).toEqual([
      'SCRAM-SHA-256-PLUS',
      'SCRAM-SHA-256',
      'SCRAM-SHA-1-PLUS',
      'SCRAM-SHA-1',
      'CRAM-MD5',
      'PLAIN',
      'LOGIN',
    ]);
  });

  it('never chooses a cleartext mechanism without TLS unless allowed', async () => {
    expect(password.selectMechanism(['PLAIN', 'LOGIN'], cleartext)).toBeUndefined();
    await expect(password.start(['PLAIN', 'LOGIN'], cleartext)).rejects.toMatchObject({
      code: 'AUTH_FAILED',
    });
    expect(password.selectMechanism(['PLAIN', 'CRAM-MD5'], cleartext)).toBe('CRAM-MD5');
    const lenient = createSaslClient({ username: 'alice', password: 'pw', allowCleartext: true });
    expect(lenient.selectMechanism(['LOGIN', 'PLAIN'], cleartext)).toBe('PLAIN');
  });

  it('prefers a token when one is given', () => {
    const token = createSaslClient({ username: 'alice', password: 'pw', accessToken: 't' });
    expect(token.selectMechanism(everything, tls)).toBe('OAUTHBEARER');
    expect(token.selectMechanism(['XOAUTH2', 'PLAIN'], tls)).toBe('XOAUTH2');
    expect(token.selectMechanism(['XOAUTH2'], cleartext)).toBeUndefined();
  });

  it('drops CRAM-MD5 and LOGIN when an authzid must be carried', () => {
    const proxy = createSaslClient({ username: 'alice', password: 'pw', authzid: 'bob' });
    expect(proxy.mechanisms).not.toContain('CRAM-MD5');
    expect(proxy.mechanisms).not.toContain('LOGIN');
    expect(proxy.selectMechanism(['LOGIN', 'PLAIN'], tls)).toBe('PLAIN');
  });

  it('follows the mechanisms option, and custom mechanisms come first by default', () => {
    const ordered = createSaslClient({
      username: 'alice',
      password: 'pw',
      mechanisms: ['plain', 'SCRAM-SHA-1'],
    });
    expect(ordered.selectMechanism(everything, tls)).toBe('PLAIN');
    const custom: ClientMechanism = {
      name: 'X-CUSTOM',
      start: () => ({ initialResponse: undefined, respond: async () => new Uint8Array() }),
    };
    const withCustom = createSaslClient({ username: 'alice', password: 'pw', custom: [custom] });
    expect(withCustom.mechanisms[0]).toBe('X-CUSTOM');
    expect(withCustom.selectMechanism(['SCRAM-SHA-256', 'X-CUSTOM'], tls)).toBe('X-CUSTOM');
  });

  it('throws at construction for an unknown or unusable mechanism, or a bad custom name', () => {
    expect(() => createSaslClient({ mechanisms: ['PLAIN'] })).toThrow(/PLAIN/);
    const named = (name: string): ClientMechanism => ({
      name,
      start: () => ({ initialResponse: undefined, respond: async () => new Uint8Array() }),
    });
    expect(() => createSaslClient({ custom: [named('x custom')] })).toThrow(/invalid/);
    expect(() => createSaslClient({ custom: [named('X'), named('X')] })).toThrow(/duplicate/);
  });
});

describe('client framing', () => {
  it('holds the initial response for the first challenge when the protocol cannot send one', async () => {
    const exchange = await password.start(['PLAIN'], tls, { initialResponse: false });
    expect(exchange.initialResponse).toBeUndefined();
    expect(await exchange.respond('')).toBe(b64('\u0000alice\u0000pw'));
    await expect(exchange.respond('')).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
  });

  it('sends "=" for an empty initial response', async () => {
    const external = await createSaslClient({ external: true }).start(['EXTERNAL'], tls);
    expect(external.initialResponse).toBe('=');
    await expect(external.respond('')).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
    const anonymous = await createSaslClient({ anonymous: {} }).start(['ANONYMOUS'], tls);
    expect(anonymous.initialResponse).toBe('=');
    await expect(anonymous.respond('')).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
  });

  it('refuses invalid base64 and over-long challenges', async () => {
    const exchange = await password.start(['LOGIN'], tls);
    await expect(exchange.respond('not base64!')).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
    await expect(exchange.respond('A'.repeat(12_292))).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    const small = createSaslClient({ username: 'a', password: 'b', limits: { maxChallengeLength: 4 } });
    const limited = await small.start(['LOGIN'], tls);
    await expect(limited.respond('VXNlcm5hbWU6')).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
  });

  it('answers LOGIN prompts whatever they say, then refuses a third challenge', async () => {
    const exchange = await password.start(['LOGIN'], tls);
    expect(await exchange.respond(b64('anything'))).toBe(b64('alice'));
    expect(await exchange.respond('')).toBe(b64('pw'));
    await expect(exchange.respond('')).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
    await exchange.complete();
  });

  it('refuses a second CRAM-MD5 or OAuth challenge', async () => {
    const cram = await password.start(['CRAM-MD5'], tls);
    await cram.respond(b64('<1@x>'));
    await expect(cram.respond(b64('<2@x>'))).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
    const token = createSaslClient({ username: 'alice', accessToken: 't' });
    for (const mechanism of ['OAUTHBEARER', 'XOAUTH2']) {
      const exchange = await token.start([mechanism], tls);
      await exchange.respond(b64('{"status":"invalid_token"}'));
      await expect(exchange.respond('')).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
    }
  });

  it('refuses credentials that would break a mechanism encoding', async () => {
    const cases: [Parameters<typeof createSaslClient>[0], string][] = [
      [{ username: 'a\u0001b', accessToken: 't' }, 'XOAUTH2'],
      [{ accessToken: 't\u0001' }, 'OAUTHBEARER'],
      [{ external: true, authzid: 'a\r\nb' }, 'EXTERNAL'],
      [{ anonymous: { trace: 'x'.repeat(256) } }, 'ANONYMOUS'],
      [{ username: 'a', password: 'b', scram: { generateNonce: () => 'a,b' } }, 'SCRAM-SHA-256'],
      [{ username: 'a\u0007', password: 'b' }, 'SCRAM-SHA-256'],
      [{ username: '\u00AD', password: 'b' }, 'SCRAM-SHA-256'],
      [{ username: 'a', password: 'b\u0007' }, 'SCRAM-SHA-256'],
    ];
    for (const [options, mechanism] of cases) {
      await expect(createSaslClient(options).start([mechanism], tls)).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    }
  });

  it('a SCRAM client refuses malformed server messages and extra challenges', async () => {
    const scram = createSaslClient({
      username: 'alice',
      password: 'pw',
      mechanisms: ['SCRAM-SHA-1'],
      scram: { generateNonce: () => 'abc' },
    });
    for (const message of [
      'garbage',
      'r=abcdef,s=!!!,i=4096',
      'r=abcdef,s=QUJD,i=0',
      'r=abcdef,i=4096,s=QUJD',
    ]) {
      const exchange = await scram.start(['SCRAM-SHA-1'], tls);
      await expect(exchange.respond(b64(message))).rejects.toMatchObject({ code: 'PROTOCOL_ERROR' });
    }
    const exchange = await scram.start(['SCRAM-SHA-1'], tls);
    await exchange.respond(b64('r=abcdef,s=QUJD,i=4096'));
    await expect(exchange.respond(b64('v=AAAA'))).rejects.toMatchObject({ code: 'AUTH_FAILED' });
  });

  it('refuses to respond once the exchange is complete', async () => {
    const exchange = await password.start(['PLAIN'], tls, { initialResponse: false });
    await exchange.complete();
    await expect(exchange.respond('')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('SCRAM-PLUS is never chosen without channel binding data', async () => {
    const plus = createSaslClient({ username: 'alice', password: 'pw', mechanisms: ['SCRAM-SHA-256-PLUS'] });
    expect(plus.selectMechanism(['SCRAM-SHA-256-PLUS'], tls)).toBeUndefined();
    expect(plus.selectMechanism(['SCRAM-SHA-256-PLUS'], bound)).toBe('SCRAM-SHA-256-PLUS');
  });
});

import { decodeBase64, REDACTED, type TraceEvent, Tracer } from '@postwire/core';
import { describe, expect, it, vi } from 'vitest';
import {
  createSaslClient,
  createSaslServer,
  deriveScramCredentials,
  type SaslConnectionContext,
} from '../src/index.js';
import { b64, fakeBinding, run, unb64 } from './harness.js';

const tls: SaslConnectionContext = { secure: true };
const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(
    parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'utf8') : Buffer.from(part))),
  ).toString('base64');

describe('case 46: SASL PLAIN inputs', () => {
  const password = vi.fn((username: string, secret: string) => username === 'user' && secret === 'pw');
  const server = createSaslServer({ verifiers: { password } });
  const plain = (response: string) => server.createExchange(tls).start('PLAIN', response);

  it('case 46: admin\\0user\\0pw is denied unless authorize permits', async () => {
    expect(await plain(b64('admin\u0000user\u0000pw'))).toEqual({
      type: 'failure',
      reason: 'authorization-failed',
    });
    const authorize = vi.fn(
      (username: string, authzid: string) => username === 'user' && authzid === 'admin',
    );
    const permissive = createSaslServer({ verifiers: { password }, authorize });
    expect(await permissive.createExchange(tls).start('PLAIN', b64('admin\u0000user\u0000pw'))).toMatchObject(
      {
        type: 'success',
        identity: { username: 'user', authzid: 'admin' },
      },
    );
    expect(authorize).toHaveBeenCalledWith('user', 'admin', tls);
    expect(await plain(b64('user\u0000user\u0000pw'))).toMatchObject({ identity: { username: 'user' } });
  });

  it('case 46: user\\0\\0pw (empty authcid) is rejected, never filled in from the authzid', async () => {
    password.mockClear();
    expect(await plain(b64('user\u0000\u0000pw'))).toEqual({ type: 'failure', reason: 'malformed' });
    expect(password).not.toHaveBeenCalled();
  });

  it('case 46: extra NULs, missing NULs and an empty password are rejected', async () => {
    for (const message of [
      '\u0000user\u0000pw\u0000',
      '\u0000user\u0000p\u0000w',
      'user\u0000pw',
      'userpw',
      '\u0000user\u0000',
    ]) {
      expect(await plain(b64(message))).toEqual({ type: 'failure', reason: 'malformed' });
    }
  });

  it('case 46: invalid UTF-8 is rejected', async () => {
    expect(await plain(bytes([0], 'user', [0, 0xc3, 0x28]))).toEqual({
      type: 'failure',
      reason: 'malformed',
    });
    expect(await plain(bytes([0xff, 0], 'user', [0], 'pw'))).toEqual({
      type: 'failure',
      reason: 'malformed',
    });
  });

  it('case 46: a response over 12,288 bytes is rejected before decoding', async () => {
    const huge = b64(`\u0000user\u0000${'x'.repeat(9300)}`);
    expect(huge.length).toBeGreaterThan(12_288);
    password.mockClear();
    expect(await plain(huge)).toEqual({ type: 'failure', reason: 'too-long' });
    expect(password).not.toHaveBeenCalled();
  });

  it('case 46: the client refuses to encode a NUL or an empty user name', async () => {
    const withNul = createSaslClient({ username: 'a\u0000b', password: 'pw', mechanisms: ['PLAIN'] });
    await expect(withNul.start(['PLAIN'], tls)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('case 47: SCRAM downgrade, channel binding, nonce and iteration count', () => {
  const credentials = deriveScramCredentials('pencil', 'SHA-256');
  const server = createSaslServer({
    verifiers: { scramCredentials: async (username) => (username === 'user' ? credentials : undefined) },
  });
  const client = (options: { minIterations?: number; mechanisms?: string[] } = {}) =>
    createSaslClient({
      username: 'user',
      password: 'pencil',
      mechanisms: options.mechanisms ?? ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'],
      scram: { minIterations: options.minIterations },
    });

  it('case 47: p=tls-exporter carries the transport data, and SCRAM-SHA-256-PLUS succeeds', async () => {
    const result = await run(client(), server, { serverBinding: fakeBinding(1) });
    expect(result.mechanism).toBe('SCRAM-SHA-256-PLUS');
    expect(unb64(result.transcript[0]!.split(' ')[3]!)).toMatch(/^p=tls-exporter,,n=user,r=/);
    const binding = /^c=([^,]+),/.exec(unb64(result.transcript[2]!.slice(3)))![1]!;
    expect(Buffer.from(decodeBase64(binding)!)).toEqual(
      Buffer.concat([Buffer.from('p=tls-exporter,,'), Buffer.alloc(32, 1)]),
    );
    expect(result.outcome).toMatchObject({ type: 'success' });
  });

  it('case 47: y,, while the server offers -PLUS fails (an attacker stripped -PLUS)', async () => {
    const stripped = await run(client(), server, {
      serverBinding: fakeBinding(1),
      offered: ['SCRAM-SHA-256'],
    });
    expect(unb64(stripped.transcript[0]!.split(' ')[3]!)).toMatch(/^y,,/);
    expect(stripped.outcome).toEqual({ type: 'failure', reason: 'invalid-credentials' });
  });

  it('case 47: y,, is accepted when the server really cannot bind', async () => {
    const result = await run(client(), server, { clientBinding: fakeBinding(1) });
    expect(unb64(result.transcript[0]!.split(' ')[3]!)).toMatch(/^y,,/);
    expect(result.outcome).toMatchObject({ type: 'success' });
  });

  it('case 47: wrong channel-binding data fails', async () => {
    const result = await run(client(), server, {
      serverBinding: fakeBinding(1),
      clientBinding: fakeBinding(2),
    });
    expect(result.mechanism).toBe('SCRAM-SHA-256-PLUS');
    expect(result.outcome).toEqual({ type: 'failure', reason: 'invalid-credentials' });
  });

  it('case 47: a -PLUS exchange without p=, a p= on plain SCRAM, or an unknown binding type fails', async () => {
    const context = { secure: true, channelBinding: fakeBinding(1) };
    const start = (mechanism: string, message: string) =>
      server.createExchange(context).start(mechanism, b64(message));
    expect(await start('SCRAM-SHA-256-PLUS', 'n,,n=user,r=abc')).toMatchObject({ reason: 'malformed' });
    expect(await start('SCRAM-SHA-256', 'p=tls-exporter,,n=user,r=abc')).toMatchObject({
      reason: 'malformed',
    });
    expect(await start('SCRAM-SHA-256-PLUS', 'p=tls-unique,,n=user,r=abc')).toMatchObject({
      reason: 'invalid-credentials',
    });
  });

  it('case 47: the server refuses a client-final message with another nonce', async () => {
    const exchange = server.createExchange(tls);
    const first = await exchange.start('SCRAM-SHA-256', b64('n,,n=user,r=clientnonce'));
    expect(first.type).toBe('challenge');
    const serverFirst = unb64((first as { text: string }).text);
    expect(serverFirst).toMatch(/^r=clientnonce[^,]+,s=[^,]+,i=4096$/);
    const proof = Buffer.alloc(32).toString('base64');
    expect(await exchange.respond(b64(`c=biws,r=clientnonceFORGED,p=${proof}`))).toEqual({
      type: 'failure',
      reason: 'invalid-credentials',
    });
  });

  it('case 47: the client refuses a server nonce that does not extend its own', async () => {
    const scram = createSaslClient({
      username: 'user',
      password: 'pencil',
      mechanisms: ['SCRAM-SHA-256'],
      scram: { generateNonce: () => 'mine' },
    });
    const exchange = await scram.start(['SCRAM-SHA-256'], tls);
    await expect(exchange.respond(b64('r=theirs123,s=QSXCR+Q6sek8bf92,i=4096'))).rejects.toMatchObject({
      code: 'AUTH_FAILED',
    });
    const same = await scram.start(['SCRAM-SHA-256'], tls);
    await expect(same.respond(b64('r=mine,s=QSXCR+Q6sek8bf92,i=4096'))).rejects.toMatchObject({
      code: 'AUTH_FAILED',
    });
  });

  it('case 47: the client refuses an iteration count below 4096 (the minimum is configurable)', async () => {
    const weak = createSaslServer({
      verifiers: {
        scramCredentials: () => deriveScramCredentials('pencil', 'SHA-256', { iterations: 1024 }),
      },
    });
    const refused = await run(client({ mechanisms: ['SCRAM-SHA-256'] }), weak);
    expect(refused.clientError).toMatchObject({
      code: 'AUTH_FAILED',
      message: expect.stringMatching(/1024/),
    });
    expect(refused.outcome).toEqual({ type: 'failure', reason: 'cancelled' });
    const lenient = await run(client({ mechanisms: ['SCRAM-SHA-256'], minIterations: 1000 }), weak);
    expect(lenient.outcome).toMatchObject({ type: 'success' });
  });

  it('case 47: the client refuses an absurd iteration count', async () => {
    const exchange = await client({ mechanisms: ['SCRAM-SHA-256'] }).start(['SCRAM-SHA-256'], tls);
    const nonce = /r=([^,]+)/.exec(unb64(exchange.initialResponse!))![1];
    await expect(
      exchange.respond(b64(`r=${nonce}xyz,s=QSXCR+Q6sek8bf92,i=2000000000`)),
    ).rejects.toMatchObject({
      code: 'LIMIT_EXCEEDED',
    });
  });

  it('case 47: the client verifies the server signature (mutual authentication)', async () => {
    const good = await run(client({ mechanisms: ['SCRAM-SHA-256'] }), server, { successData: true });
    expect(good.completeError).toBeUndefined();

    const scram = await client({ mechanisms: ['SCRAM-SHA-256'] }).start(['SCRAM-SHA-256'], tls);
    const exchange = server.createExchange(tls, { successData: true });
    const first = await exchange.start('SCRAM-SHA-256', scram.initialResponse);
    const final = await exchange.respond(await scram.respond((first as { text: string }).text));
    expect(final.type).toBe('success');
    await expect(scram.complete(b64(`v=${Buffer.alloc(32).toString('base64')}`))).rejects.toMatchObject({
      code: 'AUTH_FAILED',
    });
    await expect(scram.complete()).rejects.toMatchObject({ code: 'AUTH_FAILED' });
  });

  it('case 47: a server error e= is reported and fails the client', async () => {
    const scram = await client({ mechanisms: ['SCRAM-SHA-256'] }).start(['SCRAM-SHA-256'], tls);
    const nonce = /r=([^,]+)/.exec(unb64(scram.initialResponse!))![1];
    await scram.respond(b64(`r=${nonce}xyz,s=QSXCR+Q6sek8bf92,i=4096`));
    await expect(scram.respond(b64('e=invalid-proof'))).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    expect(scram.serverError).toBe('invalid-proof');
    const early = await client({ mechanisms: ['SCRAM-SHA-256'] }).start(['SCRAM-SHA-256'], tls);
    await expect(early.respond(b64('e=other-error'))).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    expect(early.serverError).toBe('other-error');
  });
});

describe('case 48: credentials in a debug trace', () => {
  const capture = () => {
    const events: TraceEvent[] = [];
    return { events, hook: (event: TraceEvent) => events.push(event) };
  };

  it('case 48: a traced SMTP AUTH PLAIN and LOGIN exchange never shows the secret', async () => {
    const server = createSaslServer({ verifiers: { password: (u, p) => u === 'alice' && p === 's3cret!' } });
    const { events, hook } = capture();
    const tracer = new Tracer(hook, 'server');
    const plain = await createSaslClient({
      username: 'alice',
      password: 's3cret!',
      mechanisms: ['PLAIN'],
    }).start(['PLAIN'], tls);
    tracer.received(`AUTH PLAIN ${plain.initialResponse}\r\n`);
    const outcome = await server.createExchange(tls).start('PLAIN', plain.initialResponse);
    tracer.sent(outcome.type === 'success' ? '235 2.7.0 Authentication successful' : '535 5.7.8');

    const login = await createSaslClient({
      username: 'alice',
      password: 's3cret!',
      mechanisms: ['LOGIN'],
    }).start(['LOGIN'], tls);
    const exchange = server.createExchange(tls);
    tracer.received('AUTH LOGIN');
    let step = await exchange.start('LOGIN');
    while (step.type === 'challenge') {
      tracer.sent(`334 ${step.text}`);
      const line = await login.respond(step.text);
      tracer.received(line);
      step = await exchange.respond(line);
    }
    expect(step.type).toBe('success');
    const lines = events.map((event) => event.line);
    expect(lines).toContain(`AUTH PLAIN ${REDACTED}`);
    expect(lines.filter((line) => line === REDACTED)).toHaveLength(2);
    const text = lines.join('\n');
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain(plain.initialResponse);
    expect(text).not.toContain(b64('s3cret!'));
  });

  it('case 48: an IMAP AUTHENTICATE after "+", a LOGIN command and POP3 PASS are redacted', async () => {
    const server = createSaslServer({ verifiers: { password: () => true } });
    const { events, hook } = capture();
    const tracer = new Tracer(hook, 'client');
    const client = await createSaslClient({
      username: 'alice',
      password: 's3cret!',
      mechanisms: ['PLAIN'],
    }).start(['PLAIN'], tls, { initialResponse: false });
    const exchange = server.createExchange(tls);
    tracer.sent('a1 AUTHENTICATE PLAIN');
    const step = await exchange.start('PLAIN');
    tracer.received(`+ ${(step as { text: string }).text}`);
    const response = await client.respond((step as { text: string }).text);
    tracer.sent(response);
    tracer.sent('a2 LOGIN alice s3cret!');
    tracer.sent('PASS s3cret!');
    expect(events.map((event) => event.line)).toEqual([
      'a1 AUTHENTICATE PLAIN',
      '+ ',
      REDACTED,
      `a2 LOGIN ${REDACTED}`,
      `PASS ${REDACTED}`,
    ]);
  });
});

describe('case 49: hostile characters in user names', () => {
  const seen: string[] = [];
  const server = createSaslServer({
    verifiers: {
      password: (username) => {
        seen.push(username);
        return false;
      },
      lookupPassword: () => undefined,
      token: (username) => {
        seen.push(username);
        return false;
      },
    },
  });

  it.each(['a%b', 'a*', "o'brien", 'x)(uid=*', '*)(|(objectClass=*'])(
    'case 49: %j reaches the verifier unchanged, as a plain string',
    async (name) => {
      seen.length = 0;
      expect(await server.createExchange(tls).start('PLAIN', b64(`\u0000${name}\u0000pw`))).toEqual({
        type: 'failure',
        reason: 'invalid-credentials',
      });
      expect(seen).toEqual([name]);
    },
  );

  it.each([
    'a\u0000b',
    'alice\r\nRCPT TO:<x>',
    'a\nb',
    'a\rb',
    'a\u0007b',
    'a\u007fb',
    'a\u0085b',
    'a\u2028b',
    'admin\u202egnp.exe',
  ])('case 49: %j is refused as malformed before any verifier sees it', async (name) => {
    seen.length = 0;
    const messages: [string, string][] = [
      ['PLAIN', b64(`\u0000${name}\u0000pw`)],
      ['PLAIN', b64(`${name}\u0000alice\u0000pw`)],
      ['XOAUTH2', b64(`user=${name}\u0001auth=Bearer abc\u0001\u0001`)],
      ['OAUTHBEARER', b64(`n,a=${name},\u0001auth=Bearer abc\u0001\u0001`)],
      ['SCRAM-SHA-256', b64(`n,,n=${name},r=abc`)],
      ['SCRAM-SHA-256', b64(`n,a=${name},n=alice,r=abc`)],
    ];
    for (const [mechanism, message] of messages) {
      expect(await server.createExchange(tls).start(mechanism, message)).toEqual({
        type: 'failure',
        reason: 'malformed',
      });
    }
    const login = server.createExchange(tls);
    await login.start('LOGIN');
    expect(await login.respond(b64(name))).toEqual({ type: 'failure', reason: 'malformed' });
    const cram = server.createExchange(tls);
    await cram.start('CRAM-MD5');
    expect(await cram.respond(b64(`${name} ${'0'.repeat(32)}`))).toEqual({
      type: 'failure',
      reason: 'malformed',
    });
    expect(await server.verifyPassword(name, 'pw', tls)).toEqual({ type: 'failure', reason: 'malformed' });
    expect(seen).toEqual([]);
  });
});

describe('case 44: a refused bearer token counts once, however the client answers the error', () => {
  const refusing = () => {
    const onFailure = vi.fn();
    const server = createSaslServer({ verifiers: { token: () => false }, throttle: { onFailure } });
    return { onFailure, server };
  };
  const initial: Record<string, string> = {
    OAUTHBEARER: b64('n,a=alice,\u0001auth=Bearer abc\u0001\u0001'),
    XOAUTH2: b64('user=alice\u0001auth=Bearer abc\u0001\u0001'),
  };

  it.each([
    ['OAUTHBEARER', 'AQ==', 'invalid-credentials'],
    ['OAUTHBEARER', '*', 'cancelled'],
    ['OAUTHBEARER', '', 'malformed'],
    ['OAUTHBEARER', b64('anything'), 'malformed'],
    ['XOAUTH2', '', 'invalid-credentials'],
    ['XOAUTH2', '*', 'cancelled'],
    ['XOAUTH2', 'not base64!', 'malformed'],
  ])(
    'case 44: %s answered with %j fails as %s, with onFailure called once',
    async (mechanism, answer, reason) => {
      const { onFailure, server } = refusing();
      const exchange = server.createExchange(tls);
      expect((await exchange.start(mechanism, initial[mechanism])).type).toBe('challenge');
      expect(onFailure.mock.calls).toEqual([[tls, 'alice', mechanism]]);
      expect(await exchange.respond(answer)).toEqual({ type: 'failure', reason });
      expect(onFailure).toHaveBeenCalledTimes(1);
    },
  );

  it('case 44: a custom mechanism that refused cannot succeed afterwards', async () => {
    const onFailure = vi.fn();
    const onSuccess = vi.fn();
    const server = createSaslServer({
      custom: [
        {
          name: 'X-FICKLE',
          start: () => async (response) =>
            response === undefined
              ? { type: 'challenge', challenge: new Uint8Array(), refused: { username: 'mallory' } }
              : { type: 'success', identity: { username: 'mallory' } },
        },
      ],
      throttle: { onFailure, onSuccess },
    });
    const exchange = server.createExchange(tls);
    await exchange.start('X-FICKLE');
    expect(await exchange.respond('')).toEqual({ type: 'failure', reason: 'invalid-credentials' });
    expect(onFailure.mock.calls).toEqual([[tls, 'mallory', 'X-FICKLE']]);
    expect(onSuccess).not.toHaveBeenCalled();
  });
});

describe('case 49: SCRAM user names are SASLprep-ed on the server (RFC 5802 §5.1)', () => {
  it('case 49: the verifier sees the prepared name, and a name empty after SASLprep is malformed', async () => {
    const seen: string[] = [];
    const server = createSaslServer({
      verifiers: {
        scramCredentials: (username) => {
          seen.push(username);
          return undefined;
        },
      },
    });
    const start = (message: string) => server.createExchange(tls).start('SCRAM-SHA-256', b64(message));
    expect(await start('n,,n=I\u00ADX,r=abc')).toMatchObject({ type: 'challenge' });
    expect(await start('n,,n=\u2168,r=abc')).toMatchObject({ type: 'challenge' });
    expect(seen).toEqual(['IX', 'IX']);
    expect(await start('n,,n=\u00AD,r=abc')).toEqual({ type: 'failure', reason: 'malformed' });
    expect(await start('n,,n=a\u202Eb,r=abc')).toEqual({ type: 'failure', reason: 'malformed' });
    expect(seen).toHaveLength(2);
  });
});

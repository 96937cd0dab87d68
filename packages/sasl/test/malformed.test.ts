import { describe, expect, it } from 'vitest';
import { createSaslServer, deriveScramCredentials, type SaslConnectionContext } from '../src/index.js';
import { b64 } from './harness.js';

const tls: SaslConnectionContext = { secure: true };
const server = createSaslServer({
  verifiers: {
    lookupPassword: (username) => (username === 'alice' ? 'wonderland' : undefined),
    token: () => false,
    anonymous: () => true,
  },
});
const start = (mechanism: string, message?: string) =>
  server.createExchange(tls).start(mechanism, message === undefined ? undefined : b64(message));
const malformed = { type: 'failure', reason: 'malformed' };

describe('malformed client messages fail as malformed', () => {
  it.each([
    ['SCRAM-SHA-256', 'n,,n=a=2Xb,r=abc', 'an invalid saslname escape'],
    ['SCRAM-SHA-256', 'n,,n=a=,r=abc', 'a truncated escape'],
    ['SCRAM-SHA-256', 'n,a=,n=alice,r=abc', 'an empty authzid'],
    ['SCRAM-SHA-256', 'n,x=alice,n=alice,r=abc', 'a bad authzid field'],
    ['SCRAM-SHA-256', 'n,,m=ext,n=alice,r=abc', 'a mandatory extension'],
    ['SCRAM-SHA-256', 'n,,n=alice,r=a,b', 'a bad nonce'],
    ['SCRAM-SHA-256', 'n,,n=,r=abc', 'an empty user name'],
    ['SCRAM-SHA-256', 'x,,n=alice,r=abc', 'an unknown flag'],
    ['SCRAM-SHA-256', 'n', 'a truncated header'],
    ['OAUTHBEARER', 'p=tls-exporter,,\u0001auth=Bearer abc\u0001\u0001', 'channel binding in OAUTHBEARER'],
    ['OAUTHBEARER', 'n,,auth=Bearer abc\u0001\u0001', 'no separator after the header'],
    ['OAUTHBEARER', 'n,,\u0001auth=Basic abc\u0001\u0001', 'another scheme'],
    ['OAUTHBEARER', 'n,,\u0001auth=Bearer a b\u0001\u0001', 'a bad token'],
    ['OAUTHBEARER', 'n,,\u0001auth=Bearer abc\u0001auth=Bearer abc\u0001\u0001', 'a repeated key'],
    ['XOAUTH2', 'user=alice\u0001auth=Bearer abc', 'no final separators'],
    ['XOAUTH2', 'user=alice\u0001noequals\u0001\u0001', 'a pair without "="'],
    ['XOAUTH2', 'auth=Bearer abc\u0001\u0001', 'no user'],
    ['ANONYMOUS', 'x'.repeat(256), 'a trace over 255 characters'],
    ['ANONYMOUS', 'a\r\nb', 'a control character in the trace'],
    ['CRAM-MD5', 'alice 0123', 'an initial response to a server-first mechanism'],
  ])('%s with %s', async (mechanism, message) => {
    expect(await start(mechanism, message)).toEqual(malformed);
  });

  it('rejects invalid UTF-8 in every text mechanism', async () => {
    for (const mechanism of ['SCRAM-SHA-256', 'OAUTHBEARER', 'XOAUTH2', 'ANONYMOUS']) {
      expect(
        await server.createExchange(tls).start(mechanism, Buffer.from([0xff, 0xfe]).toString('base64')),
      ).toEqual(malformed);
    }
  });

  it('CRAM-MD5 answers without a username, a space or a 16-byte hex digest fail', async () => {
    for (const answer of ['alice', ' 0123456789abcdef0123456789abcdef', 'alice xyz', 'alice 0123']) {
      const exchange = server.createExchange(tls);
      await exchange.start('CRAM-MD5');
      expect(await exchange.respond(b64(answer))).toEqual(malformed);
    }
  });

  it('CRAM-MD5 refuses an upper-case hex digest (RFC 2195: lower case)', async () => {
    const exchange = server.createExchange(tls);
    await exchange.start('CRAM-MD5');
    expect(await exchange.respond(b64(`alice ${'AB'.repeat(16)}`))).toEqual(malformed);
  });

  it('LOGIN refuses an empty user name or an invalid password', async () => {
    expect(await start('LOGIN', '')).toEqual(malformed);
    const exchange = server.createExchange(tls);
    await exchange.start('LOGIN', b64('alice'));
    expect(await exchange.respond('//4=')).toEqual(malformed);
  });

  it('SCRAM client-final messages must be well formed', async () => {
    for (const final of [
      'c=biws,r=abcX',
      'r=abcX,c=biws,p=AAAA',
      `c=biws,r=abcX,p=${'A'.repeat(8)}`,
      'c=biws,r=abcX,p=!!',
    ]) {
      const exchange = server.createExchange(tls);
      await exchange.start('SCRAM-SHA-256', b64('n,,n=alice,r=abc'));
      expect(await exchange.respond(b64(final))).toEqual(malformed);
    }
  });

  it('OAUTHBEARER expects ^A after its error challenge', async () => {
    const exchange = server.createExchange(tls);
    const first = await exchange.start('OAUTHBEARER', b64('n,a=alice,\u0001auth=Bearer abc\u0001\u0001'));
    expect(first.type).toBe('challenge');
    expect(await exchange.respond('')).toEqual(malformed);
  });

  it('a custom mechanism that throws on start fails as temporary', async () => {
    const cause = new Error('boom');
    const broken = createSaslServer({
      custom: [
        {
          name: 'X-BROKEN',
          start: () => {
            throw cause;
          },
        },
      ],
    });
    expect(await broken.createExchange(tls).start('X-BROKEN')).toEqual({
      type: 'failure',
      reason: 'temporary',
      cause,
    });
  });
});

describe('passwords SASLprep refuses', () => {
  it('never match, whichever side holds them', async () => {
    const stored = createSaslServer({ verifiers: { lookupPassword: () => 'bad\u0007password' } });
    expect(await stored.verifyPassword('alice', 'bad\u0007password', tls)).toMatchObject({
      reason: 'invalid-credentials',
    });
    expect(await stored.createExchange(tls).start('SCRAM-SHA-256', b64('n,,n=alice,r=abc'))).toMatchObject({
      type: 'challenge',
    });
    const credentials = await deriveScramCredentials('good', 'SHA-256');
    const scram = createSaslServer({ verifiers: { scramCredentials: () => credentials } });
    expect(await scram.verifyPassword('alice', 'bad\u0007password', tls)).toMatchObject({
      reason: 'invalid-credentials',
    });
    expect(await scram.verifyPassword('alice', 'good', tls)).toMatchObject({ type: 'success' });
  });

  it('deriveScramCredentials refuses a prohibited password or a bad iteration count', async () => {
    await expect(deriveScramCredentials('a\u0000b', 'SHA-1')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(deriveScramCredentials('pw', 'SHA-1', { iterations: 0 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});

import { decodeBase64 } from '@postwire/core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createSaslClient,
  createSaslServer,
  deriveScramCredentials,
  type ScramMechanismName,
  type ScramStoredCredentials,
} from '../src/index.js';
import { b64, run, unb64 } from './harness.js';

const tls = { secure: true };

describe('RFC 4616 (PLAIN) §4 examples', () => {
  const passwords: Record<string, string> = { tim: 'tanstaaftanstaaf', Kurt: 'xipj3plmq' };
  const server = createSaslServer({
    verifiers: { password: (username, password) => passwords[username] === password },
    authorize: (username, authzid) => username === 'Kurt' && authzid === 'Ursel',
  });

  it('tim authenticates with <NUL>tim<NUL>tanstaaftanstaaf after an empty challenge', async () => {
    const exchange = server.createExchange(tls);
    expect(await exchange.start('PLAIN')).toEqual({ type: 'challenge', text: '' });
    expect(await exchange.respond(b64('\u0000tim\u0000tanstaaftanstaaf'))).toEqual({
      type: 'success',
      mechanism: 'PLAIN',
      identity: { username: 'tim' },
    });
  });

  it('Kurt acts as Ursel with Ursel<NUL>Kurt<NUL>xipj3plmq', async () => {
    const exchange = server.createExchange(tls);
    await exchange.start('PLAIN');
    expect(await exchange.respond(b64('Ursel\u0000Kurt\u0000xipj3plmq'))).toMatchObject({
      type: 'success',
      identity: { username: 'Kurt', authzid: 'Ursel' },
    });
  });

  it('our client sends exactly those messages', async () => {
    const tim = await createSaslClient({ username: 'tim', password: 'tanstaaftanstaaf' }).start(
      ['PLAIN'],
      tls,
    );
    expect(unb64(tim.initialResponse!)).toBe('\u0000tim\u0000tanstaaftanstaaf');
    const kurt = createSaslClient({ username: 'Kurt', password: 'xipj3plmq', authzid: 'Ursel' });
    expect(unb64((await kurt.start(['PLAIN'], tls)).initialResponse!)).toBe('Ursel\u0000Kurt\u0000xipj3plmq');
  });
});

describe('RFC 2195 (CRAM-MD5) §2 example', () => {
  const challenge = '<1896.697170952@postoffice.reston.mci.net>';

  it('the server accepts tim b913a602c7eda7a495b4e6e7334d3890 to its challenge', async () => {
    const server = createSaslServer({
      verifiers: { lookupPassword: (username) => (username === 'tim' ? 'tanstaaftanstaaf' : undefined) },
      cramMd5: { generateChallenge: () => challenge },
    });
    const exchange = server.createExchange(tls);
    expect(await exchange.start('CRAM-MD5')).toEqual({
      type: 'challenge',
      text: 'PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+',
    });
    expect(await exchange.respond('dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw')).toMatchObject({
      type: 'success',
      identity: { username: 'tim' },
    });
  });

  it('the client computes the same response', async () => {
    const client = createSaslClient({ username: 'tim', password: 'tanstaaftanstaaf' });
    const exchange = await client.start(['CRAM-MD5'], tls);
    expect(exchange.initialResponse).toBeUndefined();
    expect(unb64(await exchange.respond(b64(challenge)))).toBe('tim b913a602c7eda7a495b4e6e7334d3890');
  });
});

describe.each([
  {
    rfc: 'RFC 5802 §5',
    mechanism: 'SCRAM-SHA-1' as ScramMechanismName,
    clientNonce: 'fyko+d2lbbFgONRv9qkxdawL',
    serverNonce: '3rfcNHYJY1ZVvWVs7j',
    salt: 'QSXCR+Q6sek8bf92',
    proof: 'v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
    verifier: 'rmF9pqV8S7suAoZWja4dJRkFsKQ=',
  },
  {
    rfc: 'RFC 7677 §3',
    mechanism: 'SCRAM-SHA-256' as ScramMechanismName,
    clientNonce: 'rOprNGfwEbeRWgbNEkqO',
    serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
    salt: 'W22ZaJ0SNY7soEsUEjb6gQ==',
    proof: 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
    verifier: '6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
  },
])('$rfc ($mechanism) exchange', ({ mechanism, clientNonce, serverNonce, salt, proof, verifier }) => {
  const nonce = clientNonce + serverNonce;
  const messages = [
    `n,,n=user,r=${clientNonce}`,
    `r=${nonce},s=${salt},i=4096`,
    `c=biws,r=${nonce},p=${proof}`,
    `v=${verifier}`,
  ];
  let stored: ScramStoredCredentials;

  const server = createSaslServer({
    verifiers: {
      scramCredentials: (username, family) =>
        username === 'user' && family === mechanism ? stored : undefined,
    },
    mechanisms: [mechanism],
    scram: { generateNonce: () => serverNonce },
  });
  const client = createSaslClient({
    username: 'user',
    password: 'pencil',
    mechanisms: [mechanism],
    scram: { generateNonce: () => clientNonce },
  });

  beforeAll(async () => {
    const hash = mechanism === 'SCRAM-SHA-1' ? 'SHA-1' : 'SHA-256';
    stored = await deriveScramCredentials('pencil', hash, { salt: decodeBase64(salt)!, iterations: 4096 });
  });

  it('client and server produce every message of the RFC', async () => {
    const result = await run(client, server, { successData: true });
    expect(result.transcript.map((line) => (line.startsWith('S: ') ? unb64(line.slice(3)) : line))).toEqual([
      `C: AUTH ${mechanism} ${b64(messages[0]!)}`,
      messages[1],
      `C: ${b64(messages[2]!)}`,
    ]);
    expect(result.outcome).toEqual({
      type: 'success',
      mechanism,
      identity: { username: 'user' },
      additionalData: b64(messages[3]!),
    });
    expect(result.completeError).toBeUndefined();
  });

  it('without success data the server-final message is a last challenge answered by an empty line', async () => {
    const result = await run(client, server, { successData: false });
    expect(result.transcript.slice(-2)).toEqual([`S: ${b64(messages[3]!)}`, 'C: ']);
    expect(result.outcome).toMatchObject({ type: 'success', identity: { username: 'user' } });
    expect(result.completeError).toBeUndefined();
  });
});

describe('RFC 7628 (OAUTHBEARER) §4 examples', () => {
  const token = 'vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==';
  const initial =
    'bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52YjNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB';
  const errorChallenge =
    'eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=';
  const client = createSaslClient({
    username: 'user@example.com',
    accessToken: token,
    oauth: { host: 'server.example.com', port: 143 },
  });

  it('§4.1: the client sends the initial response of the successful exchange', async () => {
    const exchange = await client.start(['OAUTHBEARER'], tls);
    expect(exchange.initialResponse).toBe(initial);
  });

  it('§4.1: the server accepts it', async () => {
    const server = createSaslServer({
      verifiers: { token: (username, presented) => username === 'user@example.com' && presented === token },
    });
    const exchange = server.createExchange(tls);
    expect(await exchange.start('OAUTHBEARER', initial)).toMatchObject({
      type: 'success',
      identity: { username: 'user@example.com' },
    });
  });

  it('§4.3: a refused token gets the error JSON, the client answers ^A (AQ==), then failure', async () => {
    const server = createSaslServer({
      verifiers: { token: () => false },
      oauth: {
        scope: 'example_scope',
        openidConfiguration: 'https://example.com/.well-known/openid-configuration',
      },
    });
    const result = await run(client, server, { offered: ['OAUTHBEARER'] });
    expect(result.transcript).toEqual([`C: AUTH OAUTHBEARER ${initial}`, `S: ${errorChallenge}`, 'C: AQ==']);
    expect(result.outcome).toEqual({ type: 'failure', reason: 'invalid-credentials' });
    expect(JSON.parse(result.serverError!)).toEqual({
      status: 'invalid_token',
      scope: 'example_scope',
      'openid-configuration': 'https://example.com/.well-known/openid-configuration',
    });
  });
});

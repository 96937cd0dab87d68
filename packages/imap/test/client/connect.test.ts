import {
  AbortError,
  AuthenticationError,
  ConnectionError,
  ErrorCode,
  ProtocolError,
  TimeoutError,
  TlsError,
} from '@postwire/core';
import type { ClientMechanism } from '@postwire/sasl';
import { describe, expect, it } from 'vitest';
import { createImapClient, ImapResponseError } from '../../src/index.js';
import { MemoryImapServer, tagOf, verbOf } from './memory-server.js';
import { CAPABILITIES, greeting, mailboxScript, scripted } from './scripts.js';

const TLS_CAPABILITIES = 'IMAP4rev1 LITERAL+ SASL-IR STARTTLS LOGINDISABLED';
const AFTER_TLS = 'IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN IDLE';

/** A server offering STARTTLS; `answer` replaces its answer to STARTTLS. */
function tlsServer(answer?: (tag: string) => string): MemoryImapServer {
  const server: MemoryImapServer = new MemoryImapServer(
    greeting(TLS_CAPABILITIES),
    mailboxScript((_, verb, tag) => {
      if (verb === 'STARTTLS') return answer ? answer(tag) : `${tag} OK begin TLS\r\n`;
      if (verb === 'CAPABILITY')
        return `* CAPABILITY ${server.secure ? AFTER_TLS : TLS_CAPABILITIES}\r\n${tag} OK done\r\n`;
      return undefined;
    }),
  );
  return server;
}

function connect(server: MemoryImapServer, starttls: 'required' | 'opportunistic' | 'never' = 'required') {
  return createImapClient({
    host: 'imap.example',
    connector: server.connector,
    starttls,
    auth: { username: 'alice', password: 'secret' },
  });
}

describe('IMAP client: greeting', () => {
  it('reads the capabilities of the greeting, logs in with SASL-IR and re-reads them from the tagged OK', async () => {
    const { server, client, trace } = await scripted();
    expect(server.commands).toEqual(['A1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==']);
    expect(client.capabilities.has('IDLE')).toBe(true);
    expect(trace.find((event) => event.direction === 'out')?.line).toBe('A1 AUTHENTICATE PLAIN [redacted]');
    await client.logout();
    expect(server.commands.at(-1)).toBe('A2 LOGOUT');
    expect(server.closed).toBe(true);
  });

  it('asks for the capabilities when the greeting and the login do not carry them', async () => {
    const { server, client } = await scripted(
      mailboxScript((_, verb, tag) =>
        verb.startsWith('AUTHENTICATE') ? `${tag} OK logged in\r\n` : undefined,
      ),
      { greeting: '* OK ready\r\n' },
    );
    expect(server.commands.map(verbOf)).toEqual([
      'CAPABILITY',
      'AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==',
      'CAPABILITY',
    ]);
    expect(client.capabilities.has('SORT')).toBe(true);
  });

  it('takes PREAUTH as logged in, without credentials', async () => {
    const server = new MemoryImapServer(
      `* PREAUTH [CAPABILITY ${CAPABILITIES}] welcome\r\n`,
      mailboxScript(),
    );
    const client = await createImapClient({
      host: 'imap.example',
      connector: server.connector,
      starttls: 'never',
    });
    expect(server.commands).toEqual([]);
    expect(client.capabilities.has('IDLE')).toBe(true);
  });

  it('refuses a BYE greeting with its text', async () => {
    const server = new MemoryImapServer('* BYE [UNAVAILABLE] too busy\r\n', mailboxScript());
    const error = await connect(server, 'never').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ImapResponseError);
    expect(error).toMatchObject({ command: 'CONNECT', status: 'BYE', responseCode: { code: 'UNAVAILABLE' } });
    expect(server.commands).toEqual([]);
  });

  it.each([
    ['a tagged OK', 'A1 OK hello\r\n'],
    ['a continuation', '+ go\r\n'],
    ['a data response', '* 3 EXISTS\r\n'],
    ['an untagged NO', '* NO go away\r\n'],
  ])('refuses %s as the greeting, sending nothing (case 11)', async (_, text) => {
    const server = new MemoryImapServer(text, mailboxScript());
    await expect(connect(server, 'never')).rejects.toBeInstanceOf(ProtocolError);
    expect(server.commands).toEqual([]);
    expect(server.closed).toBe(true);
  });

  it('gives up a server that never greets', async () => {
    const server = new MemoryImapServer('', mailboxScript());
    const error = await createImapClient({
      host: 'imap.example',
      connector: server.connector,
      timeouts: { greeting: 30 },
      auth: { username: 'alice', password: 'secret' },
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TimeoutError);
  });

  it('is cancelled by its signal', async () => {
    const server = new MemoryImapServer('', mailboxScript());
    const controller = new AbortController();
    const connecting = createImapClient({
      host: 'imap.example',
      connector: server.connector,
      signal: controller.signal,
      auth: { username: 'alice', password: 'secret' },
    });
    setTimeout(() => controller.abort(), 10);
    await expect(connecting).rejects.toBeInstanceOf(AbortError);
    expect(server.closed).toBe(true);
  });
});

describe('IMAP client: STARTTLS (catalogue cases 7 to 11)', () => {
  it('upgrades, forgets the cleartext capabilities, asks again, and logs in inside TLS', async () => {
    const server = tlsServer();
    const client = await connect(server);
    expect(client.secure).toBe(true);
    expect(server.commands.map(verbOf)).toEqual([
      'STARTTLS',
      'CAPABILITY',
      'AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==',
    ]);
    expect(client.capabilities.has('STARTTLS')).toBe(false);
  });

  it('refuses responses sent along with the STARTTLS OK, before any credential (case 7)', async () => {
    const server = tlsServer(
      (tag) => `${tag} OK begin TLS\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA2 OK done\r\n`,
    );
    await expect(connect(server)).rejects.toThrow(/more after its STARTTLS response/);
    expect(server.commands).toEqual(['A1 STARTTLS']);
  });

  it('reads nothing after the STARTTLS OK: a response that follows in a chunk of its own is never read (case 7)', async () => {
    const server = tlsServer((tag) => {
      server.send(`${tag} OK begin TLS\r\n`);
      server.send('* OK [CAPABILITY IMAP4rev1 AUTH=X-INJECTED] injected\r\n');
      return '';
    });
    const client = await connect(server);
    // The TLS handshake took the socket with no read in flight; the cleartext chunk went to it unread.
    expect(server.commands.map(verbOf).slice(0, 2)).toEqual(['STARTTLS', 'CAPABILITY']);
    expect(client.capabilities.has('AUTH=X-INJECTED')).toBe(false);
  });

  it('drops what came before the STARTTLS OK: capabilities, alerts, referrals, mailbox data (case 10)', async () => {
    const server = tlsServer(
      (tag) =>
        '* 54321 EXISTS\r\n* LIST () "/" Evil\r\n* 1 FETCH (FLAGS (\\Seen))\r\n' +
        '* OK [ALERT] your account is locked, call 555-0100\r\n* OK [REFERRAL imaps://evil.example/] go there\r\n' +
        `* CAPABILITY IMAP4rev1 AUTH=PLAIN LOGINDISABLED\r\n${tag} OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] begin TLS\r\n`,
    );
    const alerts: string[] = [];
    const client = await connect(server);
    client.addEventListener('alert', (event) => alerts.push(event.detail.text));
    expect(server.commands.map(verbOf)).toEqual([
      'STARTTLS',
      'CAPABILITY',
      'AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==',
    ]);
    expect([...client.capabilities]).toEqual(CAPABILITIES.toUpperCase().split(' '));
    expect(alerts).toEqual([]);
    expect(client.mailbox).toBeUndefined();
  });

  it.each([
    ['not offered', undefined, false],
    ['refused with NO', (tag: string) => `${tag} NO not now\r\n`, true],
    ['refused with BAD', (tag: string) => `${tag} BAD what\r\n`, true],
  ])('stops before any credential when STARTTLS is %s and required (case 8)', async (_, answer, offered) => {
    const server = offered
      ? tlsServer(answer)
      : new MemoryImapServer(greeting('IMAP4rev1 AUTH=PLAIN'), mailboxScript());
    const error = await connect(server).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TlsError);
    expect((error as TlsError).code).toBe(ErrorCode.StartTlsRequired);
    expect(server.commands).toEqual(offered ? ['A1 STARTTLS'] : []);
  });

  it('stops when STARTTLS is answered with a continuation (case 8)', async () => {
    const server = tlsServer(() => '+ do something else\r\n');
    await expect(connect(server)).rejects.toThrow(/continuation nobody asked for/);
    expect(server.commands).toEqual(['A1 STARTTLS']);
  });

  it('goes on in cleartext when opportunistic and STARTTLS is refused, but will not send LOGIN there', async () => {
    const server = tlsServer((tag) => `${tag} NO not now\r\n`);
    await expect(connect(server, 'opportunistic')).rejects.toBeInstanceOf(AuthenticationError);
    expect(server.commands).toEqual(['A1 STARTTLS']);
  });

  it('refuses a cleartext PREAUTH when STARTTLS is required (case 9)', async () => {
    const server = new MemoryImapServer(`* PREAUTH [CAPABILITY ${CAPABILITIES}] hi\r\n`, mailboxScript());
    const error = await connect(server).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TlsError);
    expect(server.commands).toEqual([]);
    expect(server.closed).toBe(true);
  });

  it('accepts PREAUTH inside implicit TLS', async () => {
    const server = new MemoryImapServer(`* PREAUTH [CAPABILITY ${CAPABILITIES}] hi\r\n`, mailboxScript(), {
      secure: true,
    });
    const client = await createImapClient({
      host: 'imap.example',
      connector: server.connector,
      secure: true,
      starttls: 'required',
    });
    expect(client.secure).toBe(true);
  });

  it('refuses a tagged answer to a command not yet sent, before authenticating (case 11)', async () => {
    const server = new MemoryImapServer(
      '* OK ready\r\n',
      mailboxScript((_, verb, tag) =>
        verb === 'CAPABILITY'
          ? `* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n${tag} OK done\r\nA2 OK [CAPABILITY X] done\r\n`
          : undefined,
      ),
    );
    const error = await connect(server, 'never').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as Error).message).toMatch(/not sent: "A2"/);
    expect(server.commands).toEqual(['A1 CAPABILITY']);
  });

  it('refuses a tagged OK to a command still waiting for its literal to be accepted (case 11)', async () => {
    const server = new MemoryImapServer(greeting('IMAP4rev1 AUTH=PLAIN'), mailboxScript(), {
      continuation: (line) => `${tagOf(line)} OK [CAPABILITY IMAP4rev1] logged in\r\n`,
    });
    // A password with a CR cannot be quoted: it goes as a synchronising literal, and LOGIN is used.
    const error = await createImapClient({
      host: 'imap.example',
      connector: server.connector,
      starttls: 'never',
      auth: { username: 'alice', password: 'se\rcret', allowCleartext: true, mechanisms: [] },
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProtocolError);
    expect(server.commands).toEqual(['A1 LOGIN alice {7}\r\n']);
  });
});

describe('IMAP client: login', () => {
  it('sends AUTHENTICATE without an initial response when SASL-IR is missing, and answers the challenge', async () => {
    const server = new MemoryImapServer(
      greeting('IMAP4rev1 AUTH=PLAIN'),
      mailboxScript((command, verb) => {
        if (verb === 'AUTHENTICATE PLAIN') return '+ \r\n';
        if (command === 'AGFsaWNlAHNlY3JldA==') return 'A1 OK [CAPABILITY IMAP4rev1 IDLE] in\r\n';
        return undefined;
      }, 'IMAP4rev1 AUTH=PLAIN'),
    );
    const trace: string[] = [];
    const client = await createImapClient({
      host: 'imap.example',
      connector: server.connector,
      starttls: 'never',
      auth: { username: 'alice', password: 'secret', allowCleartext: true },
      trace: (event) => trace.push(`${event.direction} ${event.line}`),
    });
    expect(server.commands).toEqual(['A1 AUTHENTICATE PLAIN', 'AGFsaWNlAHNlY3JldA==']);
    expect(trace).toContain('out [redacted]');
    expect(trace.join('\n')).not.toContain('AGFsaWNlAHNlY3JldA==');
    expect(client.capabilities.has('IDLE')).toBe(true);
  });

  it('logs in with LOGIN when no SASL mechanism is in common, password redacted in the trace', async () => {
    const { server, trace } = await scripted(mailboxScript(undefined, 'IMAP4rev1 IDLE'), {
      greeting: greeting('IMAP4rev1 IDLE'),
    });
    expect(server.commands).toEqual(['A1 LOGIN alice secret']);
    expect(trace.filter((event) => event.direction === 'out').map((event) => event.line)).toEqual([
      'A1 LOGIN [redacted]',
    ]);
  });

  it('does not send LOGIN when the server says LOGINDISABLED', async () => {
    const server = new MemoryImapServer(greeting('IMAP4rev1 LOGINDISABLED'), mailboxScript());
    await expect(connect(server, 'never')).rejects.toBeInstanceOf(AuthenticationError);
    expect(server.commands).toEqual([]);
  });

  it('does not send PLAIN or LOGIN in cleartext unless allowed', async () => {
    const server = new MemoryImapServer(greeting('IMAP4rev1 AUTH=PLAIN'), mailboxScript());
    await expect(connect(server, 'never')).rejects.toBeInstanceOf(AuthenticationError);
    expect(server.commands).toEqual([]);
  });

  it('turns a refused login into an AuthenticationError, and other refusals into ImapResponseErrors', async () => {
    for (const [answer, type] of [
      ['NO [AUTHENTICATIONFAILED] wrong', AuthenticationError],
      ['NO wrong', AuthenticationError],
      ['NO [UNAVAILABLE] try later', ImapResponseError],
    ] as const) {
      const server = new MemoryImapServer(
        greeting(),
        mailboxScript((_, verb, tag) =>
          verb.startsWith('AUTHENTICATE') ? `${tag} ${answer}\r\n` : undefined,
        ),
      );
      const error = await scripted(undefined, { client: { connector: server.connector } }).catch(
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(type);
    }
  });

  it('uses XOAUTH2 with an access token, and answers its error challenge with an empty line', async () => {
    const server = new MemoryImapServer(
      greeting('IMAP4rev1 SASL-IR AUTH=XOAUTH2'),
      mailboxScript((command, verb) => {
        if (verb.startsWith('AUTHENTICATE XOAUTH2')) return `+ ${btoa('{"status":"401"}')}\r\n`;
        if (command === '') return 'A1 NO [AUTHENTICATIONFAILED] invalid token\r\n';
        return undefined;
      }),
      { secure: true },
    );
    const error = await createImapClient({
      host: 'imap.example',
      connector: server.connector,
      secure: true,
      auth: { username: 'alice@example.com', accessToken: 'ya29.token' },
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(server.commands[0]).toMatch(/^A1 AUTHENTICATE XOAUTH2 [A-Za-z0-9+/=]+$/);
    expect(atob(server.commands[0]!.split(' ')[3]!)).toBe(
      'user=alice@example.com\x01auth=Bearer ya29.token\x01\x01',
    );
    expect(server.commands[1]).toBe('');
  });

  it('runs a custom SASL mechanism through @postwire/sasl', async () => {
    const custom: ClientMechanism = {
      name: 'X-TOKEN',
      start: () => ({
        initialResponse: undefined,
        respond: async (challenge) =>
          new TextEncoder().encode(`token-for-${new TextDecoder().decode(challenge)}`),
      }),
    };
    const server = new MemoryImapServer(
      greeting('IMAP4rev1 AUTH=X-TOKEN'),
      mailboxScript((command, verb) => {
        if (verb === 'AUTHENTICATE X-TOKEN') return `+ ${btoa('nonce')}\r\n`;
        if (command === btoa('token-for-nonce')) return 'A1 OK [CAPABILITY IMAP4rev1] in\r\n';
        return undefined;
      }),
    );
    await createImapClient({
      host: 'imap.example',
      connector: server.connector,
      starttls: 'never',
      auth: { custom: [custom] },
    });
    expect(server.commands).toEqual(['A1 AUTHENTICATE X-TOKEN', btoa('token-for-nonce')]);
  });

  it('cancels the exchange with * when the mechanism fails on a challenge', async () => {
    const server = new MemoryImapServer(
      greeting('IMAP4rev1 AUTH=SCRAM-SHA-256'),
      mailboxScript((command, verb) => {
        if (verb.startsWith('AUTHENTICATE')) return '+ \r\n';
        if (command === '*') return 'A1 BAD cancelled\r\n';
        // The server's first message, with a nonce that does not extend the client's.
        return `+ ${btoa('r=evil,s=c2FsdA==,i=4096')}\r\n`;
      }),
    );
    const error = await createImapClient({
      host: 'imap.example',
      connector: server.connector,
      starttls: 'never',
      auth: { username: 'alice', password: 'secret' },
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(server.commands).toHaveLength(3);
    expect(server.commands.at(-1)).toBe('*');
  });

  it('reports a BYE and the closed connection to every pending command', async () => {
    const { server, client } = await scripted(
      mailboxScript((_, verb) => (verb === 'NOOP' ? '* BYE [UNAVAILABLE] shutting down\r\n' : undefined)),
    );
    const closed = new Promise<Error>((resolve) =>
      client.addEventListener('close', (event) => resolve(event.detail.error)),
    );
    const noop = client.noop();
    setTimeout(() => server.end(), 5);
    const error = await noop.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as Error).message).toMatch(/BYE shutting down/);
    expect(await closed).toBe(error);
    expect(client.usable).toBe(false);
    await expect(client.noop()).rejects.toBe(error);
  });
});

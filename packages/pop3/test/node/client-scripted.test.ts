import {
  AbortError,
  AuthenticationError,
  ConnectionError,
  ErrorCode,
  InvalidArgumentError,
  ProtocolError,
  TimeoutError,
  TlsError,
} from '@postwire/core';
import { Pop3ResponseError } from '@postwire/pop3';
import { createPop3Client, type NodePop3ClientOptions } from '@postwire/pop3/node';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Script,
  type ScriptedServer,
  scriptedServer,
} from '../../../core/test/support/scripted-server.js';
import { maildropScript } from '../client/maildrop-script.js';

/**
 * The client against scripted servers: the hostile and odd behaviours a real server never shows
 * (catalogue cases 7, 8 and 27), response codes, servers without CAPA or PIPELINING, timeouts and
 * cancelling.
 */

const servers: ScriptedServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

const GREETING = '+OK ready <1896.697170952@dbc.mtview.ca.us>\r\n';
const MESSAGES = ['Subject: one\r\n\r\nfirst\r\n', 'Subject: two\r\n\r\n.dotted\r\nsecond\r\n'];

async function serve(script: Script, greeting = GREETING): Promise<ScriptedServer> {
  const server = await scriptedServer(greeting, script);
  servers.push(server);
  return server;
}

/** Options for a cleartext session on a scripted server, logging in as alice with USER/PASS. */
function options(server: ScriptedServer, more: Partial<NodePop3ClientOptions> = {}): NodePop3ClientOptions {
  return {
    host: '127.0.0.1',
    port: server.port,
    starttls: 'never',
    auth: { username: 'alice', password: 'secret', allowCleartext: true },
    ...more,
  };
}

async function text(stream: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(stream).text();
}

describe('POP3 client: STLS downgrade and injection', () => {
  it('refuses a response injected after the STLS +OK, and sends nothing more (case 7)', async () => {
    const server = await serve(
      maildropScript(MESSAGES, {
        capabilities: ['STLS', 'USER'],
        override: (line) => (line === 'STLS' ? '+OK Begin TLS\r\n+OK\r\nPLAIN\r\n.\r\n' : undefined),
      }),
    );
    await expect(createPop3Client(options(server, { starttls: 'required' }))).rejects.toBeInstanceOf(
      ProtocolError,
    );
    expect(server.lines).toEqual(['CAPA', 'STLS']);
  });

  it('refuses a partial line sent after the STLS +OK (case 7)', async () => {
    const server = await serve(
      maildropScript(MESSAGES, {
        capabilities: ['STLS', 'USER'],
        override: (line) => (line === 'STLS' ? '+OK Begin TLS\r\n+OK inj' : undefined),
      }),
    );
    await expect(createPop3Client(options(server, { starttls: 'opportunistic' }))).rejects.toThrow(
      /more after its STLS response/,
    );
    expect(server.lines).toEqual(['CAPA', 'STLS']);
  });

  it('refuses a second greeting, and a response after the last one asked for (case 7)', async () => {
    const twice = await serve(maildropScript(MESSAGES), `${GREETING}+OK again\r\n`);
    await expect(createPop3Client(options(twice))).rejects.toThrow(/nobody asked for/);

    const extra = await serve(
      maildropScript(MESSAGES, { override: (line) => (line === 'NOOP' ? '+OK\r\n+OK 1 1\r\n' : undefined) }),
    );
    const pop3 = await createPop3Client(options(extra));
    await pop3.noop();
    await expect(pop3.stat()).rejects.toBeInstanceOf(ProtocolError);
    await pop3.close();
  });

  it('stops before any credential when STLS is required but missing or refused (case 8)', async () => {
    const refusals: [string, Script | undefined][] = [
      ['missing', maildropScript(MESSAGES, { capabilities: ['USER', 'SASL PLAIN'] })],
      ['no CAPA', (line) => (line === 'CAPA' ? '-ERR unknown\r\n' : '+OK\r\n')],
      [
        '-ERR',
        maildropScript(MESSAGES, {
          capabilities: ['STLS', 'USER'],
          override: (line) => (line === 'STLS' ? '-ERR [SYS/TEMP] no TLS today\r\n' : undefined),
        }),
      ],
      [
        'garbage',
        maildropScript(MESSAGES, {
          capabilities: ['STLS', 'USER'],
          override: (line) => (line === 'STLS' ? '354 do something else\r\n' : undefined),
        }),
      ],
    ];
    for (const [name, script] of refusals) {
      const server = await serve(script!);
      const attempt = createPop3Client(options(server, { starttls: 'required' }));
      if (name === 'garbage') {
        await expect(attempt).rejects.toBeInstanceOf(ProtocolError);
      } else {
        await expect(attempt).rejects.toMatchObject({ code: ErrorCode.StartTlsRequired });
        await expect(attempt).rejects.toBeInstanceOf(TlsError);
      }
      expect(
        server.lines.filter((line) => line !== 'CAPA' && line !== 'STLS'),
        name,
      ).toEqual([]);
    }
  });

  it('goes on in cleartext when STLS is refused and the policy is opportunistic', async () => {
    const server = await serve(
      maildropScript(MESSAGES, {
        capabilities: ['STLS', 'USER'],
        override: (line) => (line === 'STLS' ? '-ERR not now\r\n' : undefined),
      }),
    );
    const pop3 = await createPop3Client(options(server, { starttls: 'opportunistic' }));
    expect(pop3.secure).toBe(false);
    await pop3.quit();
    expect(server.lines).toEqual(['CAPA', 'STLS', 'USER alice', 'PASS secret', 'CAPA', 'QUIT']);
  });
});

describe('POP3 client: unique ids (case 27)', () => {
  const malformed: [string, string][] = [
    ['a space inside', '1 abc def'],
    ['a control character', '1 abc\x7f'],
    ['non-ASCII', '1 caf\u00e9'],
    ['71 characters', `1 ${'x'.repeat(71)}`],
    ['no id', '1 '],
    ['message 0', '0 abc'],
  ];
  for (const [name, line] of malformed) {
    it(`refuses a UIDL listing with ${name}, and sync deletes nothing`, async () => {
      const server = await serve(
        maildropScript(MESSAGES, {
          override: (command) => (command === 'UIDL' ? `+OK\r\n${line}\r\n.\r\n` : undefined),
        }),
      );
      const pop3 = await createPop3Client(options(server));
      await expect(pop3.uidl()).rejects.toBeInstanceOf(ProtocolError);
      await expect(pop3.sync({ keep: false, onMessage: () => {} })).rejects.toBeInstanceOf(ProtocolError);
      expect(server.lines.filter((command) => /^(RETR|DELE|QUIT)/.test(command))).toEqual([]);
    });
  }

  it('refuses an id listed twice, and a one-message answer that is malformed or about another message', async () => {
    const server = await serve(
      maildropScript(MESSAGES, {
        override: (command) =>
          command === 'UIDL'
            ? '+OK\r\n1 same\r\n2 same\r\n.\r\n'
            : command === 'UIDL 1'
              ? '+OK 1 bad\tid\r\n'
              : command === 'UIDL 2'
                ? '+OK 1 uid-1\r\n'
                : command === 'LIST 2'
                  ? '+OK 1 10\r\n'
                  : undefined,
      }),
    );
    const pop3 = await createPop3Client(options(server));
    await expect(pop3.uidl()).rejects.toThrow(/listed twice/);
    await expect(pop3.uidl(1)).rejects.toBeInstanceOf(ProtocolError);
    await expect(pop3.uidl(2)).rejects.toThrow(/about message 1 instead of 2/);
    await expect(pop3.list(2)).rejects.toThrow(/about message 1 instead of 2/);
    await pop3.quit();
  });
});

describe('POP3 client: logging in', () => {
  it('reads response codes: IN-USE, LOGIN-DELAY and SYS/TEMP are temporary, AUTH is the credentials', async () => {
    const cases: [string, boolean][] = [
      ['IN-USE', true],
      ['LOGIN-DELAY', true],
      ['SYS/TEMP', true],
      ['SYS/PERM', false],
    ];
    for (const [code, temporary] of cases) {
      const server = await serve(
        maildropScript(MESSAGES, {
          override: (line) => (line.startsWith('PASS') ? `-ERR [${code}] not now\r\n` : undefined),
        }),
      );
      const error = await createPop3Client(options(server)).catch((failure: unknown) => failure);
      expect(error).toBeInstanceOf(Pop3ResponseError);
      expect(error).toMatchObject({ command: 'PASS', responseCode: code, temporary });
    }
    const server = await serve(maildropScript(MESSAGES));
    const refused = await createPop3Client(
      options(server, { auth: { username: 'alice', password: 'wrong', allowCleartext: true } }),
    ).catch((failure: unknown) => failure);
    expect(refused).toBeInstanceOf(AuthenticationError);
    expect((refused as AuthenticationError).cause).toMatchObject({ responseCode: 'AUTH', temporary: false });
  });

  it('reports a greeting that is -ERR', async () => {
    const server = await serve(maildropScript(MESSAGES), '-ERR [SYS/TEMP] too busy\r\n');
    const error = await createPop3Client(options(server)).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(Pop3ResponseError);
    expect(error).toMatchObject({ command: 'CONNECT', temporary: true });
    expect(server.lines).toEqual([]);
  });

  it('logs in with APOP only when asked, and not without a timestamp', async () => {
    const server = await serve(
      maildropScript(MESSAGES, {
        override: (line) =>
          line.startsWith('APOP ')
            ? line === 'APOP alice c4c9334bac560ecc979e58001b3e22fb'
              ? '+OK\r\n'
              : '-ERR [AUTH] no\r\n'
            : undefined,
      }),
    );
    const traced: string[] = [];
    const pop3 = await createPop3Client(
      options(server, {
        auth: { username: 'alice', password: 'tanstaaf', apop: true },
        trace: (event) => traced.push(`${event.direction} ${event.line}`),
      }),
    );
    await pop3.quit();
    expect(server.lines).toContain('APOP alice c4c9334bac560ecc979e58001b3e22fb');
    expect(traced).toContain('out APOP alice [redacted]');

    const plain = await serve(maildropScript(MESSAGES), '+OK ready\r\n');
    await expect(
      createPop3Client(options(plain, { auth: { username: 'alice', password: 'tanstaaf', apop: true } })),
    ).rejects.toThrow(/no APOP timestamp/);
    expect(plain.lines).toEqual(['CAPA']);
    await expect(
      createPop3Client(options(plain, { auth: { username: 'alice', apop: true } })),
    ).rejects.toThrow(InvalidArgumentError);
  });

  it('logs in with USER/PASS on a server without CAPA, one command at a time', async () => {
    const server = await serve(
      maildropScript(MESSAGES, { override: (line) => (line === 'CAPA' ? '-ERR what?\r\n' : undefined) }),
    );
    const traced: string[] = [];
    const pop3 = await createPop3Client(
      options(server, { trace: (event) => traced.push(`${event.direction} ${event.line}`) }),
    );
    expect(pop3.capabilities.pipelining).toBe(false);
    expect(traced).toContain('out PASS [redacted]');
    traced.length = 0;
    await Promise.all([pop3.dele(1), pop3.dele(2), pop3.rset()]);
    expect(traced).toEqual([
      'out DELE 1',
      'in +OK marked',
      'out DELE 2',
      'in +OK marked',
      'out RSET',
      'in +OK',
    ]);
    await pop3.quit();
  });

  it('writes pipelined commands at once when the server offers PIPELINING', async () => {
    const server = await serve(maildropScript(MESSAGES));
    const traced: string[] = [];
    const pop3 = await createPop3Client(
      options(server, { trace: (event) => traced.push(`${event.direction} ${event.line}`) }),
    );
    traced.length = 0;
    const [first, second] = await Promise.all([pop3.retr(1), pop3.retr(2), pop3.dele(1), pop3.dele(2)]);
    expect(await text(first)).toBe(MESSAGES[0]);
    expect(await text(second)).toBe(MESSAGES[1]);
    expect(traced.slice(0, 4)).toEqual(['out RETR 1', 'out RETR 2', 'out DELE 1', 'out DELE 2']);
    await pop3.quit();
  });

  it('refuses USER/PASS in cleartext unless allowed, and a server with no login method in common', async () => {
    const server = await serve(maildropScript(MESSAGES));
    await expect(
      createPop3Client(options(server, { auth: { username: 'alice', password: 'secret' } })),
    ).rejects.toThrow(/cleartext/);
    const sasl = await serve(maildropScript(MESSAGES, { capabilities: ['SASL GSSAPI'] }));
    await expect(createPop3Client(options(sasl))).rejects.toBeInstanceOf(AuthenticationError);
    expect([...server.lines, ...sasl.lines]).toEqual(['CAPA', 'CAPA']);
  });

  it('sends a long initial response after the empty challenge (RFC 5034 §4), and cancels a bad exchange with *', async () => {
    let continued = false;
    const server = await serve(
      maildropScript(MESSAGES, {
        capabilities: ['SASL PLAIN'],
        override: (line) => {
          if (line === 'AUTH PLAIN') return '+ \r\n';
          if (/^[A-Za-z0-9+/=]{300,}$/.test(line)) {
            continued = true;
            return '+OK\r\n';
          }
          return undefined;
        },
      }),
    );
    const password = 'p'.repeat(300);
    const pop3 = await createPop3Client(
      options(server, { auth: { username: 'alice', password, allowCleartext: true } }),
    );
    expect(continued).toBe(true);
    await pop3.quit();

    const bad = await serve(
      maildropScript(MESSAGES, {
        capabilities: ['SASL CRAM-MD5'],
        override: (line) =>
          line === 'AUTH CRAM-MD5' ? '+ not*base64\r\n' : line === '*' ? '-ERR cancelled\r\n' : undefined,
      }),
    );
    await expect(createPop3Client(options(bad))).rejects.toBeInstanceOf(ProtocolError);
    expect(bad.lines).toEqual(['CAPA', 'AUTH CRAM-MD5', '*']);
  });

  it('refuses a SASL refusal as an authentication failure', async () => {
    const server = await serve(
      maildropScript(MESSAGES, {
        capabilities: ['SASL PLAIN'],
        override: (line) => (line.startsWith('AUTH PLAIN ') ? '-ERR [AUTH] bad\r\n' : undefined),
      }),
    );
    const traced: string[] = [];
    await expect(
      createPop3Client(options(server, { trace: (event) => traced.push(event.line) })),
    ).rejects.toBeInstanceOf(AuthenticationError);
    expect(traced).toContain('AUTH PLAIN [redacted]');
  });
});

describe('POP3 client: commands and streams', () => {
  it('reports -ERR as a Pop3ResponseError and stays usable', async () => {
    const server = await serve(maildropScript(MESSAGES));
    const pop3 = await createPop3Client(options(server));
    const error = await pop3.retr(9).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(Pop3ResponseError);
    expect(error).toMatchObject({ command: 'RETR', temporary: false, responseCode: undefined });
    await expect(pop3.dele(9)).rejects.toBeInstanceOf(Pop3ResponseError);
    await expect(pop3.top(9, 0)).rejects.toBeInstanceOf(Pop3ResponseError);
    await expect(pop3.list(9)).rejects.toBeInstanceOf(Pop3ResponseError);
    expect(await pop3.stat()).toEqual({ messages: 2, size: MESSAGES[0]!.length + MESSAGES[1]!.length });
    await expect(pop3.retr(0)).rejects.toBeInstanceOf(InvalidArgumentError);
    await pop3.quit();
  });

  it('refuses a malformed STAT and a failed QUIT', async () => {
    const server = await serve(
      maildropScript(MESSAGES, {
        override: (line) =>
          line === 'STAT'
            ? '+OK lots\r\n'
            : line === 'QUIT'
              ? '-ERR [SYS/PERM] could not delete\r\n'
              : undefined,
      }),
    );
    const pop3 = await createPop3Client(options(server));
    await expect(pop3.stat()).rejects.toThrow(/malformed STAT/);
    await expect(pop3.quit()).rejects.toMatchObject({ command: 'QUIT', responseCode: 'SYS/PERM' });
    await expect(pop3.noop()).rejects.toBeInstanceOf(ConnectionError);
  });

  it('streams a large message, and skips the rest of a cancelled one', async () => {
    const big = `Subject: big\r\n\r\n${`${'.'.repeat(60)}\r\n`.repeat(40_000)}`;
    const server = await serve(maildropScript([big, MESSAGES[1]!]));
    const pop3 = await createPop3Client(options(server));
    const stream = await pop3.retr(1);
    let chunks = 0;
    let received = '';
    const decoder = new TextDecoder();
    const reader = stream.getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      chunks++;
      received += decoder.decode(read.value, { stream: true });
    }
    expect(received).toBe(big);
    expect(chunks).toBeGreaterThan(1);

    const cancelled = (await pop3.retr(1)).getReader();
    await cancelled.read();
    await cancelled.cancel();
    expect(await text(await pop3.retr(2))).toBe(MESSAGES[1]);
    expect(await text(await pop3.top(2, 0))).toBe('Subject: two\r\n\r\n');
    await pop3.quit();
  });

  it('errors the stream when the connection drops in the middle of a message', async () => {
    const server = await serve(
      maildropScript(MESSAGES, {
        override: (line, socket) => {
          if (line !== 'RETR 1') return undefined;
          socket.write('+OK\r\nSubject: cut\r\n\r\nhalf of it');
          setTimeout(() => socket.destroy(), 20);
          return '';
        },
      }),
    );
    const pop3 = await createPop3Client(options(server));
    const stream = await pop3.retr(1);
    await expect(text(stream)).rejects.toBeInstanceOf(ConnectionError);
    await expect(pop3.noop()).rejects.toBeInstanceOf(ConnectionError);
  });
});

describe('POP3 client: timeouts and cancelling', () => {
  it('times out waiting for a greeting and for a response', async () => {
    const silent = await serve(() => undefined, '');
    await expect(createPop3Client(options(silent, { timeouts: { greeting: 50 } }))).rejects.toBeInstanceOf(
      TimeoutError,
    );

    const server = await serve(
      maildropScript(MESSAGES, { override: (line) => (line === 'NOOP' ? '' : undefined) }),
    );
    const pop3 = await createPop3Client(options(server, { timeouts: { command: 50 } }));
    await expect(pop3.noop()).rejects.toBeInstanceOf(TimeoutError);
    await expect(pop3.stat()).rejects.toBeInstanceOf(TimeoutError);
  });

  it('refuses invalid timeouts before connecting', async () => {
    await expect(
      createPop3Client({ host: '127.0.0.1', port: 1, auth: {}, timeouts: { command: 0 } }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('aborts while logging in, and in the middle of a message', async () => {
    const controller = new AbortController();
    const silent = await serve(() => {
      controller.abort(new Error('enough'));
      return undefined;
    });
    const error = await createPop3Client(options(silent, { signal: controller.signal })).catch(
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).cause).toEqual(new Error('enough'));

    const aborted = await serve(maildropScript(MESSAGES));
    await expect(createPop3Client(options(aborted, { signal: AbortSignal.abort() }))).rejects.toBeInstanceOf(
      AbortError,
    );

    const later = new AbortController();
    const server = await serve(
      maildropScript(MESSAGES, {
        override: (line) => (line === 'RETR 1' ? '+OK\r\nSubject: slow\r\n' : undefined),
      }),
    );
    const pop3 = await createPop3Client(options(server, { signal: later.signal }));
    const stream = await pop3.retr(1);
    const reader = stream.getReader();
    await reader.read();
    later.abort();
    await expect(reader.read()).rejects.toBeInstanceOf(AbortError);
    await expect(pop3.noop()).rejects.toBeInstanceOf(AbortError);
  });
});

describe('POP3 client: sync against odd servers', () => {
  const THIRD = 'Subject: three\r\n\r\n3\r\n';

  it('skips a message the server refuses to send, keeps one whose DELE is refused, and pipelines nothing on a plain server', async () => {
    const server = await serve(
      maildropScript([...MESSAGES, THIRD], {
        capabilities: ['USER', 'UIDL'],
        override: (line) =>
          line === 'RETR 2' ? '-ERR [SYS/TEMP] busy\r\n' : line === 'DELE 3' ? '-ERR no\r\n' : undefined,
      }),
    );
    const pop3 = await createPop3Client(options(server));
    const received: string[] = [];
    const result = await pop3.sync({
      keep: false,
      onMessage: async ({ uid, stream }) => {
        received.push(`${uid} ${(await text(stream)).length}`);
      },
    });
    expect(received).toEqual([`uid-1 ${MESSAGES[0]!.length}`, `uid-3 ${THIRD.length}`]);
    expect(result).toEqual({
      downloaded: ['uid-1', 'uid-3'],
      deleted: ['uid-1'],
      retained: ['uid-3'],
      skipped: ['uid-2'],
    });
    expect(server.lines.slice(4)).toEqual([
      'UIDL',
      'LIST',
      'RETR 1',
      'DELE 1',
      'RETR 2',
      'RETR 3',
      'DELE 3',
      'QUIT',
    ]);
  });

  it('needs exactly one of onMessage and store, and honours an aborted signal at once', async () => {
    const server = await serve(maildropScript(MESSAGES));
    const pop3 = await createPop3Client(options(server));
    await expect(pop3.sync({ keep: true })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(
      pop3.sync({ keep: false, onMessage: () => {}, signal: AbortSignal.abort() }),
    ).rejects.toBeInstanceOf(AbortError);
    expect(server.lines.filter((line) => /^(UIDL|RETR|DELE|QUIT)/.test(line))).toEqual([]);
  });
});

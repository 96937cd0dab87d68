import {
  AuthenticationError,
  ConnectionError,
  type Connector,
  ErrorCode,
  ProtocolError,
  TimeoutError,
} from '@postwire/core';
import { describe, expect, it } from 'vitest';
import { createImapClient, type ImapClient, type ImapClientOptions } from '../../src/index.js';
import { MemoryImapServer, verbOf } from './memory-server.js';
import { CAPABILITIES, greeting, mailboxScript, tick } from './scripts.js';

/**
 * Reconnecting, against scripted servers: each connection goes to the next server of a list. The first
 * has INBOX with UIDs 1 to 3 (UIDVALIDITY 7, UIDNEXT 4); while the client is away, UID 3 goes, UID 2 is
 * flagged and UID 4 comes, which the next server reports as each resynchronisation method asks.
 */

const LOGIN = 'AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==';
const CONDSTORE = `${CAPABILITIES} CONDSTORE`;
const QRESYNC = `${CAPABILITIES} CONDSTORE QRESYNC`;

/** The SELECT answer of the mailbox after the changes; `code` is HIGHESTMODSEQ's, or another code. */
function selected(tag: string, uidValidity = 7, code = ''): string {
  return [
    '* 3 EXISTS',
    '* 0 RECENT',
    '* FLAGS (\\Seen \\Deleted \\Flagged)',
    `* OK [UIDVALIDITY ${uidValidity}] ok`,
    '* OK [UIDNEXT 5] ok',
    ...(code ? [`* OK [${code}] ok`] : []),
    `${tag} OK [READ-WRITE] done\r\n`,
  ].join('\r\n');
}

/** The first server: INBOX as the client first sees it, with HIGHESTMODSEQ 10 when `modseq`. */
function before(
  capabilities = CAPABILITIES,
  modseq = false,
  answers: Record<string, (tag: string) => string> = {},
): MemoryImapServer {
  return new MemoryImapServer(
    greeting(capabilities),
    mailboxScript((_, verb, tag) => {
      if (answers[verb]) return answers[verb](tag);
      if (!/^(SELECT|EXAMINE) /.test(verb)) return undefined;
      return [
        '* 3 EXISTS',
        '* 0 RECENT',
        '* FLAGS (\\Seen \\Deleted \\Flagged)',
        '* OK [UIDVALIDITY 7] ok',
        '* OK [UIDNEXT 4] ok',
        ...(modseq ? ['* OK [HIGHESTMODSEQ 10] ok'] : []),
        `${tag} OK [${verb.startsWith('EXAMINE') ? 'READ-ONLY' : 'READ-WRITE'}] done\r\n`,
      ].join('\r\n');
    }, capabilities),
  );
}

/** A later server: `answers` by command (without its tag), the rest as every scripted server does. */
function after(
  answers: Record<string, (tag: string) => string>,
  capabilities = CAPABILITIES,
): MemoryImapServer {
  return new MemoryImapServer(
    greeting(capabilities),
    mailboxScript((_, verb, tag) => answers[verb]?.(tag), capabilities),
  );
}

/** Answers to IDLE (`+`) and to its DONE (the tagged OK). */
function idling(): Record<string, (tag: string) => string> {
  let idle = '';
  return {
    IDLE: (tag) => {
      idle = tag;
      return '+ idling\r\n';
    },
    DONE: () => `${idle} OK done\r\n`,
  };
}

/** A connector that gives each connection to the next server, and refuses once there is none. */
function chain(...servers: (MemoryImapServer | Promise<MemoryImapServer>)[]): Connector & { calls: number } {
  const connector = async (options: Parameters<Connector>[0]) => {
    const server = await servers[connector.calls++];
    if (!server) throw new ConnectionError(ErrorCode.ConnectFailed, 'connection refused');
    return server.connector(options);
  };
  connector.calls = 0;
  return connector;
}

async function connect(connector: Connector, more: Partial<ImapClientOptions> = {}): Promise<ImapClient> {
  return createImapClient({
    host: 'imap.example',
    connector,
    starttls: 'never',
    auth: { username: 'alice', password: 'secret', allowCleartext: true },
    reconnect: { delay: 0 },
    ...more,
  });
}

/** The events a client dispatches about its mailbox and its connection, as short strings. */
function record(client: ImapClient): string[] {
  const events: string[] = [];
  client.addEventListener('disconnect', () => events.push('disconnect'));
  client.addEventListener('flags', ({ detail }) => events.push(`flags ${detail.uid} ${detail.flags}`));
  client.addEventListener('vanished', ({ detail }) =>
    events.push(`vanished ${detail.uids} ${detail.earlier}`),
  );
  client.addEventListener('expunge', ({ detail }) => events.push(`expunge ${detail.seq}`));
  client.addEventListener('exists', ({ detail }) => events.push(`exists ${detail.count} ${detail.previous}`));
  client.addEventListener('reconnect', ({ detail }) =>
    events.push(`reconnect ${detail.resync} ${detail.attempts} ${detail.mailbox?.uidNext}`),
  );
  client.addEventListener('close', ({ detail }) =>
    events.push(`close ${(detail.error as ConnectionError).code}`),
  );
  return events;
}

function next<K extends 'reconnect' | 'disconnect' | 'close'>(client: ImapClient, type: K): Promise<void> {
  return new Promise((resolve) => client.addEventListener(type, () => resolve(), { once: true }));
}

describe('IMAP client: reconnecting and resynchronising', () => {
  it('resynchronises with every message’s flags when the server has no CONDSTORE', async () => {
    const first = before();
    const second = after({
      'SELECT INBOX': (tag) => selected(tag),
      'UID FETCH 1:* (UID FLAGS)': (tag) =>
        `* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n* 2 FETCH (UID 2 FLAGS (\\Flagged))\r\n* 3 FETCH (UID 4 FLAGS ())\r\n${tag} OK done\r\n`,
    });
    const client = await connect(chain(first, second));
    await client.open('INBOX');
    const events = record(client);
    first.end();
    await next(client, 'reconnect');
    expect(events).toEqual([
      'disconnect',
      'flags 1 \\Seen',
      'flags 2 \\Flagged',
      'flags 4 ',
      'vanished 3 true',
      'exists 3 3',
      'reconnect full 1 5',
    ]);
    expect(second.commands.map(verbOf)).toEqual([LOGIN, 'SELECT INBOX', 'UID FETCH 1:* (UID FLAGS)']);
    expect(client.mailbox).toMatchObject({ path: 'INBOX', exists: 3, uidNext: 5, readOnly: false });
    expect(client.usable).toBe(true);
    await client.noop();
  });

  it('resynchronises with CONDSTORE: the UIDs still there, and the flags changed since', async () => {
    const first = before(CONDSTORE, true);
    const second = after(
      {
        'SELECT INBOX (CONDSTORE)': (tag) => selected(tag, 7, 'HIGHESTMODSEQ 12'),
        'UID SEARCH RETURN (ALL) ALL': (tag) =>
          `* ESEARCH (TAG "${tag}") UID ALL 1:2,4\r\n${tag} OK done\r\n`,
        'UID FETCH 1:* (UID FLAGS MODSEQ) (CHANGEDSINCE 10)': (tag) =>
          `* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (11))\r\n* 3 FETCH (UID 4 FLAGS () MODSEQ (12))\r\n${tag} OK done\r\n`,
      },
      CONDSTORE,
    );
    const client = await connect(chain(first, second));
    await client.open('INBOX', { condstore: true });
    const events = record(client);
    first.end();
    await next(client, 'reconnect');
    expect(events).toEqual([
      'disconnect',
      'flags 2 \\Flagged',
      'flags 4 ',
      'vanished 3 true',
      'exists 3 3',
      'reconnect condstore 1 5',
    ]);
    expect(client.mailbox?.highestModseq).toBe(12);
  });

  it('resynchronises with QRESYNC when it was enabled, after enabling it again', async () => {
    const enabling = { 'ENABLE QRESYNC': (tag: string) => `* ENABLED QRESYNC\r\n${tag} OK done\r\n` };
    const first = before(QRESYNC, true, enabling);
    const second = after(
      {
        ...enabling,
        'SELECT INBOX (QRESYNC (7 10))': (tag) =>
          `* VANISHED (EARLIER) 3\r\n* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (11))\r\n${selected(tag, 7, 'HIGHESTMODSEQ 12')}`,
      },
      QRESYNC,
    );
    const client = await connect(chain(first, second));
    await client.enable(['QRESYNC']);
    await client.open('INBOX');
    const events = record(client);
    first.end();
    await next(client, 'reconnect');
    expect(events).toEqual([
      'disconnect',
      'vanished 3 true',
      'flags 2 \\Flagged',
      'exists 3 3',
      'reconnect qresync 1 5',
    ]);
    expect(second.commands.map(verbOf)).toEqual([LOGIN, 'ENABLE QRESYNC', 'SELECT INBOX (QRESYNC (7 10))']);
    expect(client.enabled.has('QRESYNC')).toBe(true);
  });

  it('reports only a new UIDVALIDITY, which voids what the application holds', async () => {
    const first = before();
    const second = after({ 'SELECT INBOX': (tag) => selected(tag, 8) });
    const client = await connect(chain(first, second));
    await client.open('INBOX');
    const events = record(client);
    first.end();
    await next(client, 'reconnect');
    expect(events).toEqual(['disconnect', 'reconnect uidvalidity 1 5']);
    expect(second.commands.map(verbOf)).toEqual([LOGIN, 'SELECT INBOX']);
  });

  it('reconnects without a mailbox to reopen', async () => {
    const first = before();
    const second = after({});
    const client = await connect(chain(first, second));
    const events = record(client);
    first.end();
    await next(client, 'reconnect');
    expect(events).toEqual(['disconnect', 'reconnect undefined 1 undefined']);
    expect(second.commands.map(verbOf)).toEqual([LOGIN]);
  });

  it('reopens a mailbox read-only as it was', async () => {
    const first = before();
    const second = after({
      'EXAMINE INBOX': (tag) => selected(tag).replace('READ-WRITE', 'READ-ONLY'),
      'UID FETCH 1:* (UID FLAGS)': (tag) => `${tag} OK done\r\n`,
    });
    const client = await connect(chain(first, second));
    await client.open('INBOX', { readOnly: true });
    first.end();
    await next(client, 'reconnect');
    expect(second.commands.map(verbOf)).toEqual([LOGIN, 'EXAMINE INBOX', 'UID FETCH 1:* (UID FLAGS)']);
    expect(client.mailbox?.readOnly).toBe(true);
  });

  it('holds the calls made during the outage until the mailbox is restored, within their timeouts', async () => {
    const first = before();
    let arrive!: (server: MemoryImapServer) => void;
    const second = new Promise<MemoryImapServer>((resolve) => {
      arrive = resolve;
    });
    const client = await connect(chain(first, second));
    await client.open('INBOX');
    const disconnected = next(client, 'disconnect');
    first.end();
    await disconnected;
    expect(client.usable).toBe(true);
    const status = client.status('Archive', ['MESSAGES']);
    const impatient = client.noop({ timeout: 20 });
    await expect(impatient).rejects.toBeInstanceOf(TimeoutError);
    const server = after({
      'SELECT INBOX': (tag) => selected(tag),
      'STATUS Archive (MESSAGES)': (tag) => `* STATUS Archive (MESSAGES 9)\r\n${tag} OK done\r\n`,
    });
    arrive(server);
    expect(await status).toEqual({ path: 'Archive', messages: 9 });
    expect(server.commands.map(verbOf)).toEqual([
      LOGIN,
      'SELECT INBOX',
      'UID FETCH 1:* (UID FLAGS)',
      'STATUS Archive (MESSAGES)',
    ]);
  });

  it('fails a fetch in progress when the link drops, and fetches again once reconnected', async () => {
    const first = new MemoryImapServer(
      greeting(),
      mailboxScript((_, verb) => (verb.startsWith('FETCH') ? '* 1 FETCH (UID 1 FLAGS ())\r\n' : undefined)),
    );
    const second = after({
      'SELECT INBOX': (tag) => selected(tag),
      'FETCH 1:* (UID FLAGS)': (tag) => `* 1 FETCH (UID 1 FLAGS ())\r\n${tag} OK done\r\n`,
    });
    const client = await connect(chain(first, second));
    await client.open('INBOX');
    const reconnected = next(client, 'reconnect');
    const seen: number[] = [];
    const error = await (async () => {
      for await (const message of client.fetch('1:*', { uid: true, flags: true })) {
        seen.push(message.uid!);
        first.end();
      }
    })().catch((caught: unknown) => caught);
    expect(seen).toEqual([1]);
    expect(error).toBeInstanceOf(ConnectionError);
    await reconnected;
    expect((await client.fetchAll('1:*', { uid: true, flags: true })).map((message) => message.uid)).toEqual([
      1,
    ]);
  });

  it('idles on across a reconnection', async () => {
    const first = before(CAPABILITIES, false, idling());
    const second = after({ ...idling(), 'SELECT INBOX': (tag) => selected(tag) });
    const client = await connect(chain(first, second));
    await client.open('INBOX');
    const controller = new AbortController();
    const idle = client.idle({ signal: controller.signal });
    await tick();
    expect(first.commands.at(-1)).toMatch(/ IDLE$/);
    first.end();
    await next(client, 'reconnect');
    await tick();
    expect(second.commands.map(verbOf).slice(-2)).toEqual(['UID FETCH 1:* (UID FLAGS)', 'IDLE']);
    controller.abort();
    await idle;
    expect(second.commands.at(-1)).toBe('DONE');
  });

  it('gives up after the attempts: close, and the waiting calls fail with the last error', async () => {
    const first = before();
    const connector = chain(first);
    const client = await connect(connector, { reconnect: { attempts: 3, delay: 1 } });
    const events = record(client);
    const closed = next(client, 'close');
    const disconnected = next(client, 'disconnect');
    first.end();
    await disconnected;
    const waiting = client.noop();
    await closed;
    expect(connector.calls).toBe(4);
    expect(events).toEqual(['disconnect', 'close CONNECT_FAILED']);
    await expect(waiting).rejects.toMatchObject({ code: ErrorCode.ConnectFailed });
    await expect(client.noop()).rejects.toMatchObject({ code: ErrorCode.ConnectFailed });
    expect(client.usable).toBe(false);
  });

  it('stops at a refused login', async () => {
    const first = before();
    const refusing = after({ [LOGIN]: (tag) => `${tag} NO [AUTHENTICATIONFAILED] no\r\n` });
    const connector = chain(first, refusing, after({}));
    const client = await connect(connector);
    const closed = next(client, 'close');
    const failure = new Promise<Error>((resolve) =>
      client.addEventListener('close', ({ detail }) => resolve(detail.error)),
    );
    first.end();
    await closed;
    expect(await failure).toBeInstanceOf(AuthenticationError);
    expect(connector.calls).toBe(2);
  });

  it.each([
    ['logout', (client: ImapClient) => client.logout(), ConnectionError],
    ['close', (client: ImapClient) => client.close(), ConnectionError],
    [
      'a forged answer',
      async (_: ImapClient, server: MemoryImapServer) => server.send('A99 OK forged\r\n'),
      ProtocolError,
    ],
  ])('does not reconnect after %s', async (_, end, type) => {
    const first = before();
    const connector = chain(first, after({}));
    const client = await connect(connector);
    const events = record(client);
    const failure = new Promise<Error>((resolve) =>
      client.addEventListener('close', ({ detail }) => resolve(detail.error)),
    );
    await end(client, first);
    const error = await failure;
    await tick();
    expect(error).toBeInstanceOf(type);
    expect(events).toEqual([`close ${(error as ConnectionError).code}`]);
    expect(connector.calls).toBe(1);
    expect(client.usable).toBe(false);
  });

  it('leaves no unhandled rejection when the stream of an APPEND waiting for the reconnection fails', async () => {
    const first = before();
    const client = await connect(chain(first, new Promise<MemoryImapServer>(() => {})));
    const disconnected = next(client, 'disconnect');
    first.end();
    await disconnected;
    let feed!: ReadableStreamDefaultController<Uint8Array>;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        feed = controller;
      },
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const append = client.append('INBOX', stream);
      append.catch(() => {});
      await tick();
      feed.error(new Error('the disk failed'));
      await new Promise((resolve) => setTimeout(resolve, 0));
      await client.close();
      await expect(append).rejects.toMatchObject({ code: ErrorCode.ConnectionClosed });
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  it('stops reconnecting on close(), failing the calls that wait', async () => {
    const first = before();
    const client = await connect(chain(first, new Promise<MemoryImapServer>(() => {})));
    const disconnected = next(client, 'disconnect');
    first.end();
    await disconnected;
    const waiting = client.noop();
    const events = record(client);
    await client.close();
    await expect(waiting).rejects.toMatchObject({ code: ErrorCode.ConnectionClosed });
    expect(events).toEqual(['close CONNECTION_CLOSED']);
    expect(client.usable).toBe(false);
  });
});

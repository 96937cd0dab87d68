import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TraceEvent } from '@postwire/core';
import { createMemoryStore, type MailStore } from '@postwire/store';
import { createMaildirStore } from '@postwire/store/maildir';
import { afterEach, describe, expect, it } from 'vitest';
import { delay, waitFor } from '../../../core/test/support/net.js';
import { createImapServer, type ImapServer, type ImapServerOptions } from '../../src/node/index.js';
import { WireClient } from '../support/wire-client.js';
import { bound, wrapMailboxes } from '../support/wrapped-store.js';

/**
 * The Node server's FETCH output: bodies read ahead of their turn and written with the responses around
 * them come out whole and in order, and a client that stops reading stops the reading ahead.
 */

const PASSWORD = 'secret';
const servers: ImapServer[] = [];
const clients: WireClient[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  for (const server of servers.splice(0)) await server.close({ timeout: 1000 });
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A message of about `size` octets whose text tells it from every other. */
function message(n: number, size: number): string {
  const head = `Subject: message ${n}\r\n\r\n`;
  const line = `${String(n).padStart(6, '0')} ${'abcdefghijklmnopqrstuvwxyz'.repeat(2)}\r\n`;
  return head + line.repeat(Math.max(0, Math.ceil((size - head.length) / line.length)));
}

/** The memory store, with the octets its mailboxes' `read` streams have given counted in `read.octets`. */
function countingStore(): { store: MailStore; read: { octets: number } } {
  const read = { octets: 0 };
  const count = (stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> =>
    stream.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          read.octets += chunk.length;
          controller.enqueue(chunk);
        },
      }),
    );
  const store = wrapMailboxes(createMemoryStore(), (box) =>
    bound(box, { read: (uid, range) => count(box.read(uid, range)) }),
  );
  return { store, read };
}

async function start(
  messages: readonly string[],
  options: Partial<ImapServerOptions> = {},
  { store, read } = countingStore(),
): Promise<{ port: number; read: { octets: number } }> {
  const inbox = await (await store.user('alice')).open('INBOX');
  for (const text of messages) await inbox.append(new TextEncoder().encode(text), { flags: [] });
  await inbox.close();
  const server = createImapServer({
    store,
    host: '127.0.0.1',
    port: 0,
    sasl: { verifiers: { lookupPassword: (user) => (user === 'alice' ? PASSWORD : undefined) } },
    allowCleartextLogin: true,
    ...options,
  });
  servers.push(server);
  return { port: (await server.listen()).port, read };
}

async function login(port: number): Promise<WireClient> {
  const client = await WireClient.connect(port);
  clients.push(client);
  expect(await client.command('L', `LOGIN alice ${PASSWORD}`)).toMatch(/^L OK /);
  return client;
}

/**
 * Sends `command` and waits for an answer as long as `expected` (the client's text is only measured until
 * then, which costs nothing however large it grows); the answer must be `expected`.
 */
async function expectAnswer(client: WireClient, command: string, expected: string): Promise<void> {
  const from = client.text.length;
  await client.send(command);
  await waitFor(() => client.text.length >= from + expected.length, 'the answer', 20_000);
  await delay(50);
  const answer = client.text.slice(from);
  expect(answer.length).toBe(expected.length);
  expect(answer === expected).toBe(true);
}

/** What `FETCH 1:* (UID BODY.PEEK[])` answers for `messages`. */
function expectedBodies(messages: readonly string[]): string {
  return messages
    .map((text, i) => `* ${i + 1} FETCH (UID ${i + 1} BODY[] {${text.length}}\r\n${text})\r\n`)
    .join('');
}

describe('IMAP server: FETCH output', () => {
  // Empty-bodied, small, just under and over a write, larger than all that is read ahead, and many alike.
  const sizes = [
    30,
    900,
    64 * 1024 - 1,
    64 * 1024 + 1,
    5 << 20,
    700,
    ...Array(120).fill(100_000),
    3,
    2 << 20,
  ];
  const messages = sizes.map((size, i) => message(i + 1, size));

  it('writes every body whole and in order, then the commands sent after the FETCH', async () => {
    const { port } = await start(messages);
    const client = await login(port);
    expect(await client.command('s', 'EXAMINE INBOX')).toMatch(/s OK /);
    await expectAnswer(
      client,
      'f FETCH 1:* (UID BODY.PEEK[])\r\nn NOOP\r\np UID FETCH 2 BODY.PEEK[]<4.10>\r\n',
      `${expectedBodies(messages)}f OK Fetch completed\r\nn OK NOOP completed\r\n` +
        `* 2 FETCH (UID 2 BODY[]<4> {10}\r\n${messages[1]!.slice(4, 14)})\r\np OK Fetch completed\r\n`,
    );
  }, 30_000);

  it('writes the bodies whole through COMPRESS DEFLATE', async () => {
    const { port } = await start(messages);
    const client = await login(port);
    expect(await client.compress()).toMatch(/Z OK /);
    expect(await client.command('s', 'EXAMINE INBOX')).toMatch(/s OK /);
    await expectAnswer(
      client,
      'f FETCH 1:* (UID BODY.PEEK[])\r\n',
      `${expectedBodies(messages)}f OK Fetch completed\r\n`,
    );
  }, 30_000);

  it('traces each FETCH response as a line of its own', async () => {
    const trace: TraceEvent[] = [];
    const { port } = await start(messages.slice(0, 3), { trace: (event) => trace.push(event) });
    const client = await login(port);
    expect(await client.command('s', 'EXAMINE INBOX')).toMatch(/s OK /);
    expect(await client.command('f', 'FETCH 1:3 UID')).toBe(
      '* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 2)\r\n* 3 FETCH (UID 3)\r\nf OK Fetch completed\r\n',
    );
    const sent = trace.filter((event) => event.direction === 'out').map((event) => event.line);
    expect(sent.slice(-4)).toEqual([
      '* 1 FETCH (UID 1)',
      '* 2 FETCH (UID 2)',
      '* 3 FETCH (UID 3)',
      'f OK Fetch completed',
    ]);
  });

  it('reads no further ahead than it can write while the client does not read', async () => {
    const many = Array.from({ length: 64 }, (_, i) => message(i + 1, 1 << 20));
    const { port, read } = await start(many);
    const client = await login(port);
    expect(await client.command('s', 'EXAMINE INBOX')).toMatch(/s OK /);
    client.socket.pause();
    await client.send('f FETCH 1:* (UID BODY.PEEK[])\r\n');
    // The server fills the socket's buffers, its write window and its read-ahead, then waits.
    let before = -1;
    while (read.octets !== before) {
      before = read.octets;
      await delay(200);
    }
    const total = many.reduce((sum, text) => sum + text.length, 0);
    expect(read.octets).toBeGreaterThan(0);
    expect(read.octets).toBeLessThan(total / 3);
    const expected = `${expectedBodies(many)}f OK Fetch completed\r\n`;
    client.socket.resume();
    await waitFor(() => client.text.length >= expected.length, 'the FETCH to complete', 20_000);
    expect(client.text.endsWith(expected)).toBe(true);
  }, 30_000);

  it.each([
    ['the memory store', async () => ({ store: createMemoryStore(), other: undefined })],
    [
      'a Maildir store, expunged by another program',
      async () => {
        const root = await mkdtemp(join(tmpdir(), 'postwire-imap-fetch-'));
        cleanups.push(() => rm(root, { recursive: true, force: true }));
        const other = createMaildirStore({ root });
        cleanups.push(() => other.close());
        return { store: createMaildirStore({ root }), other };
      },
    ],
  ])(
    'sends the octets it announced of a message expunged before its body is read (%s)',
    async (_, stores) => {
      const { store: base, other } = await stores();
      cleanups.push(() => base.close());
      const expunge = async (uid: number): Promise<void> => {
        const inbox = await (await (other ?? base).user('alice')).open('INBOX');
        await inbox.expunge([uid]);
        await inbox.close();
      };
      // Message 2 (read whole) and message 3 (streamed) are expunged elsewhere once their sizes are sent.
      const store = wrapMailboxes(base, (box) =>
        bound(box, {
          readBytes: async (uid, range) => {
            if (uid === 2) await expunge(uid);
            return box.readBytes!(uid, range);
          },
          read: (uid, range) => {
            if (uid !== 3) return box.read(uid, range);
            let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
            return new ReadableStream<Uint8Array>({
              async pull(controller) {
                if (!reader) {
                  await expunge(uid);
                  reader = box.read(uid, range).getReader();
                }
                const { done, value } = await reader.read();
                if (done) controller.close();
                else controller.enqueue(value);
              },
            });
          },
        }),
      );
      const messages = [message(1, 100), message(2, 200), message(3, 3 << 20), message(4, 100)];
      const { port } = await start(messages, {}, { store, read: { octets: 0 } });
      const client = await login(port);
      expect(await client.command('s', 'SELECT INBOX')).toMatch(/s OK /);
      const blanked = messages.map((text, i) => (i === 1 || i === 2 ? ' '.repeat(text.length) : text));
      await expectAnswer(
        client,
        'f FETCH 1:* (UID BODY.PEEK[])\r\nn NOOP\r\n',
        `${expectedBodies(blanked)}f OK Fetch completed\r\n* 2 EXPUNGE\r\n* 2 EXPUNGE\r\nn OK NOOP completed\r\n`,
      );
    },
    30_000,
  );

  it('at shutdown, writes the bodies of the FETCH being streamed before its BYE', async () => {
    // The body of message 3 is read only once the test allows, and the BYE is traced once the server has
    // begun to shut down: the shutdown comes while the FETCH waits for that body.
    let allowRead!: () => void;
    const readAllowed = new Promise<void>((resolve) => {
      allowRead = resolve;
    });
    let readAsked!: () => void;
    const asked = new Promise<void>((resolve) => {
      readAsked = resolve;
    });
    let byeTraced!: () => void;
    const bye = new Promise<void>((resolve) => {
      byeTraced = resolve;
    });
    const store = wrapMailboxes(createMemoryStore(), (box) =>
      bound(box, {
        readBytes: async (uid, range) => {
          if (uid === 3) {
            readAsked();
            await readAllowed;
          }
          return box.readBytes!(uid, range);
        },
      }),
    );
    const messages = [1, 2, 3, 4, 5].map((n) => message(n, 1000));
    const { port } = await start(
      messages,
      { trace: (event) => event.line.startsWith('* BYE') && byeTraced() },
      { store, read: { octets: 0 } },
    );
    const client = await login(port);
    expect(await client.command('s', 'EXAMINE INBOX')).toMatch(/s OK /);
    const from = client.text.length;
    await client.send('f FETCH 1:* (UID BODY.PEEK[])\r\n');
    await asked;
    const closed = servers.pop()!.close({ timeout: 5000 });
    await bye;
    allowRead();
    await closed;
    await client.closed;
    expect(client.text.slice(from)).toBe(
      `${expectedBodies(messages)}f OK Fetch completed\r\n* BYE [UNAVAILABLE] Server shutting down\r\n`,
    );
  });
});

import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryStore, type MailStore } from '@postwire/store';
import { createMaildirStore } from '@postwire/store/maildir';
import { afterEach, describe, expect, it } from 'vitest';
import { testCertificates } from '../../../core/test/support/certs.js';
import {
  createImapClient,
  createImapServer,
  type ImapServer,
  type ImapServerOptions,
} from '../../src/node/index.js';

const PASSWORD = 'secret';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(store: MailStore, options: Partial<ImapServerOptions> = {}): Promise<number> {
  const server: ImapServer = createImapServer({
    ...options,
    store,
    host: '127.0.0.1',
    port: 0,
    allowCleartextLogin: true,
    onAuth: ({ username, password }) => username === 'alice' && password === PASSWORD,
  });
  cleanups.push(() => server.close({ timeout: 1000 }));
  return (await server.listen()).port;
}

/** A raw client: everything the server sent, and a way to wait for a pattern in it. */
class RawClient {
  text = '';
  readonly #socket: Socket;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.text += chunk;
    });
  }

  static async open(port: number): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const client = new RawClient(socket);
    cleanups.push(async () => {
      socket.destroy();
    });
    await client.waitFor(/^\* OK .*\r\n/);
    return client;
  }

  /** Sends a line and waits for `until` in what follows it. */
  async send(line: string, until: RegExp): Promise<string> {
    const from = this.text.length;
    this.#socket.write(`${line}\r\n`);
    return this.waitFor(until, from);
  }

  async waitFor(pattern: RegExp, from = 0): Promise<string> {
    for (let i = 0; i < 500; i++) {
      const seen = this.text.slice(from);
      if (pattern.test(seen)) return seen;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`timed out waiting for ${pattern}; got ${JSON.stringify(this.text.slice(from))}`);
  }
}

async function loggedInWithInbox(port: number): Promise<RawClient> {
  const client = await RawClient.open(port);
  await client.send(`l LOGIN alice ${PASSWORD}`, /l OK/);
  await client.send('s SELECT INBOX', /s OK/);
  return client;
}

describe('IDLE over the Node server', () => {
  it.each([
    ['the memory store', async () => createMemoryStore()],
    [
      'a Maildir store',
      async () => {
        const root = await mkdtemp(join(tmpdir(), 'postwire-imap-idle-'));
        cleanups.push(() => rm(root, { recursive: true, force: true }));
        return createMaildirStore({ root });
      },
    ],
  ])('pushes another connection’s APPEND, flag change and EXPUNGE at once (%s)', async (_, makeStore) => {
    const store = await makeStore();
    cleanups.push(() => store.close());
    const port = await start(store);
    const watcher = await loggedInWithInbox(port);
    const writer = await loggedInWithInbox(port);
    const mark = watcher.text.length;
    await watcher.send('i IDLE', /\+ idling\r\n/);
    await writer.send('a APPEND INBOX {5}', /\+ /);
    await writer.send('hello', /a OK \[APPENDUID/);
    await watcher.waitFor(/\* 1 EXISTS\r\n\* 1 RECENT\r\n/, mark);
    await writer.send('b STORE 1 +FLAGS (\\Deleted)', /b OK/);
    await watcher.waitFor(/\* 1 FETCH \(FLAGS \(\\Deleted \\Recent\)\)\r\n/, mark);
    await writer.send('c EXPUNGE', /c OK/);
    await watcher.waitFor(/\* 1 EXPUNGE\r\n/, mark);
    expect(await watcher.send('DONE', /i OK/)).toBe('i OK Idle completed\r\n');
  });

  it('finds a message another program delivered into the Maildir, during IDLE and at NOOP', async () => {
    const root = await mkdtemp(join(tmpdir(), 'postwire-imap-idle-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const store = createMaildirStore({ root, pollInterval: 200 });
    cleanups.push(() => store.close());
    const other = createMaildirStore({ root });
    cleanups.push(() => other.close());
    const port = await start(store);
    const watcher = await loggedInWithInbox(port);
    const deliver = async (text: string): Promise<void> => {
      const inbox = await (await other.user('alice')).open('INBOX');
      await inbox.append(new TextEncoder().encode(text));
      await inbox.close();
    };
    await watcher.send('i IDLE', /\+ idling\r\n/);
    await deliver('Subject: one\r\n\r\nbody\r\n');
    await watcher.waitFor(/\* 1 EXISTS\r\n/);
    await watcher.send('DONE', /i OK/);
    await deliver('Subject: two\r\n\r\nbody\r\n');
    expect(await watcher.send('n NOOP', /n OK/)).toBe('* 2 EXISTS\r\n* 2 RECENT\r\nn OK NOOP completed\r\n');
  });

  it('never loses a change that comes while the server is still answering IDLE (written, not yet waiting)', async () => {
    const store = createMemoryStore();
    cleanups.push(() => store.close());
    const { ca, cert, key } = testCertificates();
    const port = await start(store, { startTls: { cert, key } });
    // Over TLS and COMPRESS=DEFLATE the server's writes take a while: a change from another session can
    // come after the server answered IDLE and before it waits for input. Every time, the EXISTS must be
    // pushed.
    const connectClient = async () => {
      const client = await createImapClient({
        host: '127.0.0.1',
        port,
        starttls: 'required',
        tls: { ca, servername: 'localhost' },
        auth: { username: 'alice', password: PASSWORD },
      });
      cleanups.push(() => client.close());
      return client;
    };
    const watcher = await connectClient();
    const writer = await connectClient();
    expect(watcher.compressed).toBe(true);
    await watcher.open('INBOX');
    for (let round = 1; round <= 30; round++) {
      // The watcher's own work first (as a mail app does), then IDLE while the other session appends.
      await watcher.append('INBOX', `Subject: own ${round}\r\n\r\nbody\r\n`);
      for await (const message of watcher.fetch('*', { uid: true, bodies: [''] })) {
        for await (const part of message.bodies) await part.text();
      }
      const count = watcher.mailbox!.exists;
      const seen = new Promise<void>((resolve) =>
        watcher.addEventListener('exists', (event) => event.detail.count > count && resolve()),
      );
      const controller = new AbortController();
      const idling = watcher.idle({ signal: controller.signal });
      await writer.append('INBOX', `Subject: other ${round}\r\n\r\nbody\r\n`);
      await seen;
      controller.abort();
      await idling;
    }
  });
});

import { once } from 'node:events';
import { connect } from 'node:net';
import { TimeoutError } from '@postwire/core';
import { createMemoryStore } from '@postwire/store';
import { afterEach, describe, expect, it } from 'vitest';
import { testCertificates } from '../../../core/test/support/certs.js';
import { waitFor } from '../../../core/test/support/net.js';
import { createImapServer, type ImapServer, type ImapServerOptions } from '../../src/node/index.js';
import { WireClient } from '../support/wire-client.js';
import { bound } from '../support/wrapped-store.js';

const certificates = testCertificates();
const servers: ImapServer[] = [];
const clients: WireClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  for (const server of servers.splice(0)) await server.close({ timeout: 1000 });
});

/** A server with LOGIN allowed without TLS that counts its closes; resolves with its port. */
async function start(options: Partial<ImapServerOptions>, closes: { count: number }): Promise<number> {
  const server = createImapServer({
    store: createMemoryStore(),
    onAuth: () => true,
    allowCleartextLogin: true,
    onClose: () => {
      closes.count++;
    },
    ...options,
  });
  servers.push(server);
  return (await server.listen()).port;
}

describe('createImapServer: hooks that throw', () => {
  it('reports an onAuth that throws to onError, for LOGIN and AUTHENTICATE alike', async () => {
    const failure = new Error('directory down');
    const errors: unknown[] = [];
    const port = await start(
      {
        onAuth: () => {
          throw failure;
        },
        onError: (error) => errors.push(error),
      },
      { count: 0 },
    );
    const client = await WireClient.connect(port);
    clients.push(client);
    expect(await client.command('a', 'LOGIN alice pw')).toMatch(/^a NO \[UNAVAILABLE\] /);
    const plain = Buffer.from('\0alice\0pw').toString('base64');
    expect(await client.command('b', `AUTHENTICATE PLAIN ${plain}`)).toMatch(/^b NO \[UNAVAILABLE\] /);
    expect(errors).toEqual([failure, failure]);
  });
});

describe('createImapServer: hooks that never settle', () => {
  it('calls onClose once when the client leaves while onConnect has not settled', async () => {
    const closes = { count: 0 };
    let connects = 0;
    const port = await start(
      {
        onConnect: () => {
          connects++;
          return new Promise(() => {});
        },
      },
      closes,
    );
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await waitFor(() => connects === 1, 'onConnect');
    socket.destroy();
    await waitFor(() => closes.count === 1, 'onClose', 2000).catch(() => {});
    expect(closes.count).toBe(1);
  });

  it('case 19: gives the user’s place back when the client leaves while the store has not answered', async () => {
    const closes = { count: 0 };
    const base = createMemoryStore();
    let opens = 0;
    const store = bound(base, {
      user: async (name: string) =>
        bound(await base.user(name), {
          open: () => {
            opens++;
            return new Promise(() => {});
          },
        }),
    });
    const port = await start({ store, maxConnectionsPerUserIp: 1 }, closes);
    const first = await WireClient.connect(port);
    clients.push(first);
    expect(await first.command('a', 'LOGIN alice secret')).toMatch(/^a OK /);
    await first.send('b SELECT INBOX\r\n');
    await waitFor(() => opens === 1, 'the SELECT');
    first.destroy();
    await waitFor(() => closes.count === 1, 'onClose', 2000).catch(() => {});
    const second = await WireClient.connect(port);
    clients.push(second);
    expect(await second.command('c', 'LOGIN alice secret')).toMatch(/^c OK /);
    expect(closes.count).toBe(1);
  });
});

describe('createImapServer: slow hooks', () => {
  it('case 53: the command deadline covers the client sending its command, not the login check answering it', async () => {
    const port = await start(
      {
        commandTimeout: 300,
        onAuth: () => new Promise((resolve) => setTimeout(() => resolve(true), 500)),
      },
      { count: 0 },
    );
    const client = await WireClient.connect(port);
    clients.push(client);
    expect(await client.command('a', 'LOGIN alice pw')).toMatch(/^a OK /m);
  });
});

describe('createImapServer: failures before the session starts', () => {
  it('case 54: reports a stalled implicit TLS handshake to onError, with the client’s address', async () => {
    const errors: { error: unknown; remoteAddress: string }[] = [];
    const port = await start(
      {
        tls: { cert: certificates.cert, key: certificates.key },
        handshakeTimeout: 100,
        onError: (error, connection) => errors.push({ error, remoteAddress: connection.remoteAddress }),
      },
      { count: 0 },
    );
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'close');
    await waitFor(() => errors.length === 1, 'the error', 2000).catch(() => {});
    expect(errors).toEqual([{ error: expect.any(TimeoutError), remoteAddress: '127.0.0.1' }]);
  });
});

describe('createImapServer: close() with sessions in progress', () => {
  it('resolves once each onClose has settled', async () => {
    const events: string[] = [];
    const port = await start(
      {
        onClose: async () => {
          await new Promise((resolve) => setTimeout(resolve, 50));
          events.push('onClose');
        },
      },
      { count: 0 },
    );
    const client = await WireClient.connect(port);
    clients.push(client);
    expect(await client.command('a', 'LOGIN alice pw')).toMatch(/^a OK /m);
    await servers.pop()!.close();
    events.push('closed');
    expect(events).toEqual(['onClose', 'closed']);
  });
});

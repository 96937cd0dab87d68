import * as net from 'node:net';
import { createMemoryStore, type MailStore } from '@postwire/store';
import { afterEach, describe, expect, it } from 'vitest';
import { testCertificates } from '../../../core/test/support/certs.js';
import { bounded, delay, waitFor } from '../../../core/test/support/net.js';
import { createImapServer, type ImapServer, type ImapServerOptions } from '../../src/node/index.js';
import { WireClient } from '../support/wire-client.js';

/** The Node server's defences from the attack catalogue: connection caps, deadlines, a client that never reads. */

const certificates = testCertificates();
const PASSWORD = 'secret';
const USERS = new Set(['alice', 'bob']);
const servers: ImapServer[] = [];
const clients: WireClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  for (const server of servers.splice(0)) await server.close({ timeout: 1000 });
});

interface Started {
  port: number;
  store: MailStore;
  errors: unknown[];
  /** Connections the server has finished with (`onClose`). */
  closed: number;
}

/** A server on the memory store for alice and bob, LOGIN allowed without TLS. */
async function start(
  options: Partial<ImapServerOptions> = {},
  store = createMemoryStore(),
): Promise<Started> {
  const started: Started = { port: 0, store, errors: [], closed: 0 };
  const server = createImapServer({
    store,
    host: '127.0.0.1',
    port: 0,
    // The lookup takes fullwidth forms as their ordinary ones, as an application's user database might.
    sasl: {
      verifiers: { lookupPassword: (user) => (USERS.has(user.normalize('NFKC')) ? PASSWORD : undefined) },
    },
    allowCleartextLogin: true,
    onError: (error) => started.errors.push(error),
    onClose: () => {
      started.closed++;
    },
    ...options,
  });
  servers.push(server);
  started.port = (await server.listen()).port;
  return started;
}

async function connect(port: number): Promise<WireClient> {
  const client = await WireClient.connect(port);
  clients.push(client);
  return client;
}

async function login(port: number, user = 'alice'): Promise<WireClient> {
  const client = await connect(port);
  expect(await client.command('L', `LOGIN ${user} ${PASSWORD}`)).toMatch(/^L OK /);
  return client;
}

describe('IMAP server safety: connection caps', () => {
  it('case 19: an 11th session of one user from one address is refused, others are not', async () => {
    const { port } = await start();
    const sessions = [];
    for (let i = 0; i < 10; i++) sessions.push(await login(port));
    const eleventh = await connect(port);
    expect(await eleventh.command('a', `LOGIN alice ${PASSWORD}`)).toMatch(
      /^a NO \[LIMIT\] Maximum number of connections from user\+IP exceeded/,
    );
    expect(await eleventh.command('b', 'SELECT INBOX')).toMatch(/^b BAD /);
    // Another user from the same address is counted on its own.
    await login(port, 'bob');
    // One of alice's sessions ends: her next login is admitted.
    expect(await sessions[0]!.command('z', 'LOGOUT')).toMatch(/z OK /);
    await sessions[0]!.closed;
    await delay(20);
    expect(await eleventh.command('c', `LOGIN alice ${PASSWORD}`)).toMatch(/^c OK /);
  });

  it('case 19: UNAUTHENTICATE gives the session’s place back at once', async () => {
    const { port } = await start({ maxConnectionsPerUserIp: 1 });
    const first = await login(port);
    const second = await connect(port);
    expect(await second.command('a', `LOGIN alice ${PASSWORD}`)).toMatch(/^a NO \[LIMIT\] /);
    expect(await first.command('u', 'UNAUTHENTICATE')).toMatch(/^u OK /);
    expect(await second.command('b', `LOGIN alice ${PASSWORD}`)).toMatch(/^b OK /);
    expect(await first.command('c', `LOGIN alice ${PASSWORD}`)).toMatch(/^c NO \[LIMIT\] /);
  });

  it('case 19 and 23: a fullwidth user name is the same user, counted against the same cap', async () => {
    const users: (string | undefined)[] = [];
    const { port } = await start({
      maxConnectionsPerUserIp: 1,
      onClose: (connection) => {
        users.push(connection.user);
      },
    });
    const wide = await login(port, '"\uff41\uff4c\uff49\uff43\uff45"');
    const second = await connect(port);
    expect(await second.command('a', `LOGIN alice ${PASSWORD}`)).toMatch(
      /^a NO \[LIMIT\] Maximum number of connections from user\+IP exceeded/,
    );
    await wide.command('z', 'LOGOUT');
    await waitFor(() => users.length === 1, 'the close');
    expect(users).toEqual(['alice']);
    expect(await second.command('b', `LOGIN alice ${PASSWORD}`)).toMatch(/^b OK /);
  });

  it('case 19: the cap is an option', async () => {
    const { port } = await start({ maxConnectionsPerUserIp: 1 });
    await login(port);
    const second = await connect(port);
    expect(await second.command('a', `LOGIN alice ${PASSWORD}`)).toMatch(
      /^a NO \[LIMIT\] Maximum number of connections from user\+IP exceeded/,
    );
    expect(() =>
      createImapServer({ store: createMemoryStore(), onAuth: () => true, maxConnectionsPerUserIp: 0 }),
    ).toThrow(/maxConnectionsPerUserIp/);
  });

  it('case 54: connections beyond maxConnectionsPerIp get BYE [UNAVAILABLE] and are closed', async () => {
    const { port } = await start({ maxConnectionsPerIp: 2 });
    await connect(port);
    await connect(port);
    const third = await connect(port);
    expect(third.text).toBe('* BYE [UNAVAILABLE] Too many connections, try again later\r\n');
    await bounded(third.closed, 'the close');
  });

  it('case 54: a stalled implicit-TLS handshake is closed', async () => {
    const { port } = await start({
      tls: { cert: certificates.cert, key: certificates.key },
      handshakeTimeout: 100,
    });
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.on('error', () => {});
    socket.resume();
    await bounded(new Promise((resolve) => socket.once('close', resolve)), 'the close');
  });
});

describe('IMAP server safety: deadlines (case 53) and autologout (case 19)', () => {
  it('a client that has not logged in within loginTimeout gets BYE and is closed, however busy', async () => {
    const { port } = await start({ loginTimeout: 300 });
    const client = await connect(port);
    // Commands keep coming, but they are not a login.
    const busy = setInterval(() => void client.send('n NOOP\r\n').catch(() => {}), 50);
    try {
      await client.until('* BYE Disconnected for inactivity\r\n', 2_000);
      await bounded(client.closed, 'the close');
    } finally {
      clearInterval(busy);
    }
  });

  it('a login within loginTimeout is not cut off by it', async () => {
    const { port } = await start({ loginTimeout: 200 });
    const client = await login(port);
    await delay(300);
    expect(await client.command('a', 'NOOP')).toBe('a OK NOOP completed\r\n');
  });

  it('a command that trickles in is cut off at commandTimeout, with BYE', async () => {
    const { port } = await start({ commandTimeout: 300 });
    const client = await login(port);
    // Between commands the deadline does not run.
    await delay(400);
    expect(await client.command('a', 'NOOP')).toBe('a OK NOOP completed\r\n');
    // A command in pieces completes within the deadline.
    await client.send('b NO');
    await delay(100);
    await client.send('OP\r\n');
    expect(await client.until('\r\n')).toBe('b OK NOOP completed\r\n');
    // One byte every 50 ms never completes a line: the deadline passes.
    let sent = 0;
    const trickle = setInterval(() => {
      sent++;
      void client.send('x').catch(() => {});
    }, 50);
    try {
      await client.until('* BYE Disconnected for inactivity\r\n', 2_000);
      await bounded(client.closed, 'the close');
    } finally {
      clearInterval(trickle);
    }
    expect(sent).toBeGreaterThan(3);
  });

  it('a logged-in client silent for idleTimeout gets BYE (autologout)', async () => {
    const { port } = await start({ idleTimeout: 200 });
    const client = await login(port);
    await client.until('* BYE Disconnected for inactivity\r\n', 2_000);
    await bounded(client.closed, 'the close');
  });

  it('rejects deadlines that are not positive', () => {
    for (const option of ['loginTimeout', 'outputTimeout'] as const)
      expect(() =>
        createImapServer({ store: createMemoryStore(), onAuth: () => true, [option]: -1 }),
      ).toThrow(option);
  });
});

describe('IMAP server safety: bad-command floods (case 51)', () => {
  it('after ten bad commands each read waits a second', async () => {
    const { port } = await start();
    const client = await login(port);
    for (let i = 0; i < 10; i++) expect(await client.command(`b${i}`, 'BOGUS')).toMatch(/ BAD /);
    const before = performance.now();
    expect(await client.command('n', 'NOOP')).toMatch(/^n OK /);
    // The delay is the defence itself, so its lower bound is what is checked.
    expect(performance.now() - before).toBeGreaterThanOrEqual(900);
  });
});

describe('IMAP server safety: a client that never reads (case 55)', () => {
  it('the server writes no faster than the client reads, and drops it after outputTimeout', async () => {
    const store = createMemoryStore();
    const inbox = await (await store.user('alice')).open('INBOX');
    const body = `Subject: big\r\n\r\n${'x'.repeat(1 << 20)}\r\n`;
    for (let i = 0; i < 32; i++) await inbox.append(new TextEncoder().encode(body), { flags: [] });
    await inbox.close();
    const started = await start({ outputTimeout: 300 }, store);
    const client = await login(started.port);
    expect(await client.command('s', 'EXAMINE INBOX')).toMatch(/s OK /);
    await client.send('f FETCH 1:* BODY.PEEK[]\r\n');
    client.socket.pause();
    await waitFor(() => started.closed === 1, 'the server to drop the connection', 5_000);
    expect(started.errors).toEqual([expect.objectContaining({ code: 'TIMEOUT' })]);
    // What reached the client's side is a fraction of the 32 MiB asked for.
    let received = 0;
    client.socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    client.socket.resume();
    await bounded(client.closed, 'the close');
    expect(received).toBeLessThan(16 << 20);
  });
});

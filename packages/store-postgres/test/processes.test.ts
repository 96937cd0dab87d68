import { MailboxInUseError, type MailStore } from '@postwire/store';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImapClient } from '../../imap/src/index.js';
import { createImapClient } from '../../imap/src/node/index.js';
import { createPop3Client } from '../../pop3/src/node/index.js';
import { createPostgresStore, pgSqlClient } from '../src/index.js';
import { type MailServer, mailServersAvailable, startMailServer } from './support/mail-servers.js';
import { endPool, postgresAvailable, type RunningPostgres, startPostgres } from './support/postgres.js';

/**
 * Several server processes over one database, as a deployment behind a load balancer runs them: two IMAP
 * processes and a POP3 process (each test/support/mail-server.ts, from source), and this process's own store.
 */
const available = postgresAvailable() && mailServersAvailable();
if (!available)
  console.warn('store-postgres: PostgreSQL or tsx is missing; the multi-process tests are skipped');

let database: RunningPostgres;
let imapA: MailServer;
let imapB: MailServer;
let pop3: MailServer;
let pool: pg.Pool;
let store: MailStore;
const clients: ImapClient[] = [];

async function imap(server: MailServer): Promise<ImapClient> {
  const client = await createImapClient({
    host: '127.0.0.1',
    port: server.port,
    starttls: 'never',
    auth: { username: 'alice', password: 'secret', allowCleartext: true },
  });
  clients.push(client);
  return client;
}

const message = (subject: string, body = 'Hello.\r\n') =>
  `From: ann@example.org\r\nTo: alice@example.org\r\nSubject: ${subject}\r\n\r\n${body}`;

describe.skipIf(!available)('PostgreSQL store: several server processes on one database', () => {
  beforeAll(async () => {
    database = await startPostgres();
    pool = new pg.Pool({ connectionString: database.connectionString, max: 4 });
    store = await createPostgresStore({ sql: pgSqlClient(pool), migrate: true, pollInterval: 500 });
    [imapA, imapB, pop3] = await Promise.all([
      startMailServer('imap', database.connectionString),
      startMailServer('imap', database.connectionString),
      startMailServer('pop3', database.connectionString),
    ]);
  }, 90_000);

  afterAll(async () => {
    for (const client of clients) await client.close().catch(() => {});
    await store?.close();
    await endPool(pool);
    for (const server of [imapA, imapB, pop3]) await server?.peer.stop();
    await database?.stop();
  });

  it('an APPEND through process A shows up as EXISTS in an IDLE session on process B', async () => {
    const watcher = await imap(imapB);
    await watcher.open('INBOX');
    const count = watcher.mailbox!.exists;
    const seen = new Promise<number>((resolve) =>
      watcher.addEventListener('exists', (event) => {
        if (event.detail.count > count) resolve(event.detail.count);
      }),
    );
    const controller = new AbortController();
    const idling = watcher.idle({ signal: controller.signal });
    const writer = await imap(imapA);
    await writer.append('INBOX', message('through A'));
    expect(await seen).toBe(count + 1);
    controller.abort();
    await idling;
    const subjects: (string | null | undefined)[] = [];
    for await (const each of watcher.fetch('*', { envelope: true })) subjects.push(each.envelope?.subject);
    expect(subjects).toEqual(['through A']);
  });

  it('concurrent appends through both processes never collide on a UID and leave no gap', async () => {
    const [a, b] = [await imap(imapA), await imap(imapB)];
    const { uidNext } = await a.status('INBOX', ['UIDNEXT']);
    const appendMany = async (client: ImapClient, label: string) => {
      const uids: number[] = [];
      for (let i = 0; i < 25; i++) uids.push((await client.append('INBOX', message(`${label} ${i}`))).uid!);
      return uids;
    };
    const [fromA, fromB] = await Promise.all([appendMany(a, 'A'), appendMany(b, 'B')]);
    const all = [...fromA, ...fromB].sort((x, y) => x - y);
    expect(new Set(all).size).toBe(50);
    expect(all).toEqual(Array.from({ length: 50 }, (_, i) => uidNext! + i));
  });

  it("holds a POP3 maildrop lock across processes: this process's lock keeps the POP3 process out, and the other way round", async () => {
    const inbox = await (await store.user('alice')).open('INBOX');
    const lock = await inbox.lock();
    const login = () =>
      createPop3Client({
        host: '127.0.0.1',
        port: pop3.port,
        starttls: 'never',
        auth: { username: 'alice', password: 'secret', allowCleartext: true, mechanisms: [] },
      });
    await expect(login()).rejects.toThrow(/IN-USE|in use/i);
    await lock.release();
    const session = await login();
    await expect(inbox.lock()).rejects.toBeInstanceOf(MailboxInUseError);
    await session.quit();
    await (await inbox.lock()).release();
    await inbox.close();
  });

  it('loses nothing that was acknowledged when a process is killed (SIGKILL) in the middle of appends', async () => {
    const doomed = await startMailServer('imap', database.connectionString);
    const writer = await imap(doomed);
    const body = `${'x'.repeat(76)}\r\n`.repeat(1300); // about 100 KB: an append takes a while
    const acknowledged: number[] = [];
    const appending = (async () => {
      for (let i = 0; ; i++)
        acknowledged.push((await writer.append('INBOX', message(`doomed ${i}`, body))).uid!);
    })().catch(() => {});
    while (acknowledged.length < 5) await new Promise((resolve) => setTimeout(resolve, 5));
    process.kill(doomed.peer.pid, 'SIGKILL');
    await appending;
    await doomed.peer.exited;

    const reader = await imap(imapB);
    await reader.open('INBOX');
    const stored = new Map<number, number>();
    for await (const each of reader.fetch('1:*', { uid: true, size: true, envelope: true }, { uid: true })) {
      if (each.envelope?.subject?.startsWith('doomed')) stored.set(each.uid!, each.size!);
    }
    for (const uid of acknowledged) expect(stored.has(uid)).toBe(true);
    // Nothing half-written: every message is whole, read back to its last byte.
    const expected = message('doomed 0', body).length;
    for (const [uid, size] of stored) {
      expect(size).toBeGreaterThanOrEqual(expected);
      let read = 0;
      for await (const one of reader.fetch(uid, { bodies: [''] }, { uid: true }))
        for await (const part of one.bodies) read += (await part.bytes()).length;
      expect(read).toBe(size);
    }
  });
});

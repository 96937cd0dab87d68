import { type MailboxChange, MailboxInUseError, OverQuotaError } from '@postwire/store';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImapClient } from '../../imap/src/node/index.js';
import { message } from '../../store/test/contract.js';
import {
  createPostgresStore,
  migrate,
  pruneOrphanBodies,
  SCHEMA_VERSION,
  type SqlClient,
} from '../src/index.js';
import { type DistributedClient, distributedClient, makeSerializable } from './support/distributed.js';
import { type MailServer, mailServersAvailable, startMailServer } from './support/mail-servers.js';
import { endPool, postgresAvailable, type RunningPostgres, startPostgres } from './support/postgres.js';

/**
 * `database: 'distributed'`: the store on a database with neither notifications nor advisory locks, whose
 * transactions are SERIALIZABLE and abort under contention (CockroachDB's behaviour, reproduced on
 * PostgreSQL by support/distributed.ts). Each test has a database of its own; two pools stand for two
 * server processes.
 */
let server: RunningPostgres;
const pools: pg.Pool[] = [];
let databases = 0;

async function newDatabase(): Promise<string> {
  const database = `distributed_${++databases}`;
  const admin = new pg.Client({ connectionString: server.connectionString });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await makeSerializable(admin, database);
  await admin.end();
  return database;
}

/** A client over a new pool to `database`, as a server process of its own has. */
function connect(database: string): { pool: pg.Pool; sql: DistributedClient } {
  const pool = new pg.Pool({ host: server.host, port: server.port, user: server.user, database, max: 4 });
  pools.push(pool);
  return { pool, sql: distributedClient(pool) };
}

beforeAll(async () => {
  if (postgresAvailable()) server = await startPostgres();
}, 60_000);
afterAll(async () => {
  for (const pool of pools) await endPool(pool);
  await server?.stop();
});

/**
 * Two processes' stores on a new database (the first migrates it), each with alice's INBOX open; `close()`
 * closes it all. `pollInterval` is the second's.
 */
async function twoProcesses(pollInterval?: number) {
  const database = await newDatabase();
  const [a, b] = [connect(database), connect(database)];
  const storeA = await createPostgresStore({ sql: a.sql, database: 'distributed', migrate: true });
  const storeB = await createPostgresStore({
    sql: b.sql,
    database: 'distributed',
    ...(pollInterval ? { pollInterval } : {}),
  });
  const inboxA = await (await storeA.user('alice')).open('INBOX');
  const inboxB = await (await storeB.user('alice')).open('INBOX');
  return {
    a,
    b,
    inboxA,
    inboxB,
    async close() {
      await inboxA.close();
      await inboxB.close();
      await storeA.close();
      await storeB.close();
    },
  };
}

describe.skipIf(!postgresAvailable())('PostgreSQL store on a distributed database', () => {
  it('migrates once when processes start together, with no advisory lock', async () => {
    const database = await newDatabase();
    const [a, b, c] = [connect(database), connect(database), connect(database)];
    const found = await Promise.all([a, b, c].map(({ sql }) => migrate(sql, { database: 'distributed' })));
    // One ran the migrations; the others, aborted by it or run after it, found the schema up to date.
    expect(found.filter((version) => version === 0)).toHaveLength(1);
    expect(found.filter((version) => version === SCHEMA_VERSION)).toHaveLength(2);
    const { rows } = await a.pool.query('SELECT version FROM postwire_schema');
    expect(rows).toEqual([{ version: SCHEMA_VERSION }]);
  });

  it('upgrades once when two processes that both found the previous version migrate at once', async () => {
    const database = await newDatabase();
    const { pool, sql } = connect(database);
    await migrate(sql, { database: 'distributed' });
    // Back to version 3, as the previous release left it.
    await pool.query('ALTER TABLE postwire_bodies DROP COLUMN stored');
    await pool.query('UPDATE postwire_schema SET version = 3');
    // Each reads the version before either alters the table.
    let found = 0;
    let bothFound!: () => void;
    const together = new Promise<void>((resolve) => {
      bothFound = resolve;
    });
    const racing: SqlClient = {
      ...sql,
      transaction: (work) =>
        sql.transaction((tx) =>
          work({
            async query(text, params) {
              const result = await tx.query(text, params);
              if (text.startsWith('SELECT version') && found < 2) {
                if (++found === 2) bothFound();
                await together;
              }
              return result as never;
            },
          }),
        ),
    };
    const versions = await Promise.all([
      migrate(racing, { database: 'distributed' }),
      migrate(racing, { database: 'distributed' }),
    ]);
    expect(versions.sort()).toEqual([3, SCHEMA_VERSION]);
    const { rows } = await pool.query('SELECT version FROM postwire_schema');
    expect(rows).toEqual([{ version: SCHEMA_VERSION }]);
  });

  it('gives concurrent appends from two processes consecutive UIDs, retrying the aborted transactions', async () => {
    const { a, b, inboxA, inboxB, close } = await twoProcesses();
    const appends = Array.from({ length: 40 }, (_, i) =>
      (i % 2 === 0 ? inboxA : inboxB).append(message(`message ${i}`)),
    );
    const uids = (await Promise.all(appends)).map((result) => result.uid).sort((x, y) => x - y);
    expect(uids).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    // The database did abort some of them: the retries are what made every one succeed.
    expect(a.sql.serializationFailures() + b.sql.serializationFailures()).toBeGreaterThan(0);
    const stored = await a.pool.query(
      'SELECT count(*)::int AS messages, count(DISTINCT body)::int AS bodies FROM postwire_messages',
    );
    expect(stored.rows[0]).toEqual({ messages: 40, bodies: 40 });
    const orphans = await a.pool.query('SELECT count(*)::int AS n FROM postwire_bodies');
    expect(orphans.rows[0].n).toBe(40);
    await close();
  });

  it("brings one process's changes to another's sessions by polling, in MODSEQ order", async () => {
    const { inboxA, inboxB, close } = await twoProcesses(50);
    const watching = new AbortController();
    const seen: MailboxChange[] = [];
    const followed = (async () => {
      for await (const change of inboxB.changes({ signal: watching.signal })) {
        seen.push(change);
        if (change.type === 'expunge') break;
      }
    })();
    const { uid } = await inboxA.append(message('across'));
    await inboxA.setFlags([uid], 'add', ['\\Seen']);
    await inboxA.expunge([uid]);
    // No session on B asked (no NOOP, no IDLE sync): only the poll can have brought them.
    await followed;
    watching.abort();
    expect(seen.map((change) => change.type)).toEqual(['append', 'flags', 'expunge']);
    const modseqs = seen.map((change) =>
      change.type === 'append' ? change.message.modseq : 'modseq' in change ? change.modseq : 0,
    );
    expect(modseqs).toEqual([...modseqs].sort((x, y) => x - y));
    await close();
  });

  it('holds a POP3 maildrop lock across processes that take it at the same moment', async () => {
    const { inboxA, inboxB, close } = await twoProcesses();
    const outcomes = await Promise.allSettled([inboxA.lock!(), inboxB.lock!()]);
    const held = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const refused = outcomes.filter((outcome) => outcome.status === 'rejected');
    expect(held).toHaveLength(1);
    expect((refused[0] as PromiseRejectedResult).reason).toBeInstanceOf(MailboxInUseError);
    await (held[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
    await (await inboxB.lock!()).release();
    await close();
  });

  it("keeps no body of a refused append, and prunes the bodies of appends whose process died before the message's commit", async () => {
    const database = await newDatabase();
    const { pool, sql } = connect(database);
    const store = await createPostgresStore({
      sql,
      database: 'distributed',
      migrate: true,
      quota: { messages: 1 },
    });
    const inbox = await (await store.user('alice')).open('INBOX');
    await inbox.append(message('kept'));
    await expect(inbox.append(message('over quota'))).rejects.toBeInstanceOf(OverQuotaError);
    const bodies = async (): Promise<number> =>
      (await pool.query('SELECT count(*)::int AS n FROM postwire_bodies')).rows[0].n;
    expect(await bodies()).toBe(1);
    // What a process killed between the body's commit and the message's leaves: a body no message names.
    await pool.query("INSERT INTO postwire_bodies (size, stored) VALUES (10, now() - interval '2 hours')");
    await pool.query('INSERT INTO postwire_bodies (size) VALUES (10)');
    // Only the old one goes: a recent one may belong to an append still in progress.
    expect(await pruneOrphanBodies(sql, { olderThan: 3600 })).toBe(1);
    expect(await bodies()).toBe(2);
    expect(new TextDecoder().decode(await inbox.readBytes!(1))).toContain('Subject: kept');
    await inbox.close();
    await store.close();
  });
});

describe.skipIf(!postgresAvailable() || !mailServersAvailable())(
  'two IMAP server processes on a distributed database',
  () => {
    let servers: MailServer[] = [];
    const connectionString = (): string => server.connectionString.replace(/\/[^/]+$/, '/processes');
    beforeAll(async () => {
      const admin = new pg.Client({ connectionString: server.connectionString });
      await admin.connect();
      await admin.query('CREATE DATABASE processes');
      await makeSerializable(admin, 'processes');
      await admin.end();
      servers = await Promise.all([
        startMailServer('imap-distributed', connectionString()),
        startMailServer('imap-distributed', connectionString()),
      ]);
    }, 60_000);
    afterAll(async () => {
      for (const each of servers) await each.peer.stop();
    });

    const login = (mailServer: MailServer) =>
      createImapClient({
        host: '127.0.0.1',
        port: mailServer.port,
        starttls: 'never',
        auth: { username: 'alice', password: 'secret', allowCleartext: true },
      });

    it('an APPEND through one reaches an IDLE session on the other; concurrent appends never collide', async () => {
      const [watcher, writerA, writerB] = await Promise.all([
        login(servers[1]!),
        login(servers[0]!),
        login(servers[1]!),
      ]);
      await watcher.open('INBOX');
      const seen = new Promise<number>((resolve) =>
        watcher.addEventListener('exists', (event) => {
          if (event.detail.count >= 1) resolve(event.detail.count);
        }),
      );
      const controller = new AbortController();
      const idling = watcher.idle({ signal: controller.signal });
      await writerA.append('INBOX', message('through A'));
      expect(await seen).toBe(1);
      controller.abort();
      await idling;
      const appendMany = async (client: typeof writerA, label: string) => {
        const uids: number[] = [];
        for (let i = 0; i < 15; i++) uids.push((await client.append('INBOX', message(`${label} ${i}`))).uid!);
        return uids;
      };
      const [fromA, fromB] = await Promise.all([appendMany(writerA, 'A'), appendMany(writerB, 'B')]);
      expect([...fromA, ...fromB].sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i + 2));
      for (const client of [watcher, writerA, writerB]) await client.close();
    });
  },
);

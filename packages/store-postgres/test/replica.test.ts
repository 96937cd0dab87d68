import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { message } from '../../store/test/contract.js';
import { createPostgresStore, pgSqlClient, type SqlQueryable } from '../src/index.js';
import {
  endPool,
  postgresAvailable,
  type RunningPostgres,
  startPostgres,
  startStandby,
} from './support/postgres.js';

/**
 * Bodies read from a hot standby (`replica`): a real streaming replica of the test's primary, made by
 * pg_basebackup; its replay paused to stand for a replica that is behind.
 */
let primary: RunningPostgres;
let standby: RunningPostgres;
let primaryPool: pg.Pool;
let standbyPool: pg.Pool;

/** A queryable that counts the statements reading body chunks that went through it. */
function counting(inner: SqlQueryable): SqlQueryable & { chunkReads: number } {
  const counter = {
    chunkReads: 0,
    query<Row>(text: string, params?: readonly unknown[]) {
      if (text.includes('FROM postwire_body_chunks')) counter.chunkReads++;
      return inner.query<Row>(text, params);
    },
  };
  return counter;
}

/** Waits until the standby has replayed everything the primary has written so far. */
async function caughtUp(): Promise<void> {
  const { rows } = await primaryPool.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
  for (const deadline = Date.now() + 20_000; ; ) {
    const replayed = await standbyPool.query<{ done: boolean }>(
      'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done',
      [rows[0]!.lsn],
    );
    if (replayed.rows[0]!.done) return;
    if (Date.now() > deadline) throw new Error('the standby did not catch up');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const text = new TextDecoder();

/** A stream's bytes, as text. */
async function streamed(stream: ReadableStream<Uint8Array>): Promise<string> {
  let all = '';
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>)
    all += text.decode(chunk, { stream: true });
  return all;
}
const large = () => message('large', Array.from({ length: 300 }, (_, i) => `line ${i}\r\n`).join(''));

describe.skipIf(!postgresAvailable())('PostgreSQL store: bodies from a read replica', () => {
  beforeAll(async () => {
    primary = await startPostgres();
    standby = await startStandby(primary);
    primaryPool = new pg.Pool({ connectionString: primary.connectionString, max: 4 });
    standbyPool = new pg.Pool({ connectionString: standby.connectionString, max: 4 });
    // A failed test may leave a client lent out when the servers stop: that ends it, nothing more.
    for (const pool of [primaryPool, standbyPool]) pool.on('error', () => {});
  }, 90_000);
  afterAll(async () => {
    await endPool(standbyPool);
    await endPool(primaryPool);
    await standby?.stop();
    await primary?.stop();
  });

  it('reads bodies from the replica once it has them, and from the primary while its replay is behind', async () => {
    const replica = counting(pgSqlClient(standbyPool));
    const store = await createPostgresStore({
      sql: pgSqlClient(primaryPool),
      migrate: true,
      replica,
      chunkSize: 1000,
    });
    const inbox = await (await store.user('alice')).open('INBOX');
    const small = await inbox.append(message('small'));
    const big = await inbox.append(large());
    await caughtUp();
    // The standby is a hot standby: read-only, and it has what the primary committed.
    await expect(standbyPool.query('INSERT INTO postwire_users (name) VALUES ($1)', ['x'])).rejects.toThrow(
      /read-only/,
    );
    expect(text.decode(await inbox.readBytes!(small.uid))).toBe(text.decode(message('small')));
    // The small messages come in one read-ahead query; a stream reads chunk by chunk.
    expect(replica.chunkReads).toBe(1);
    expect(await streamed(inbox.read(big.uid, { start: 990, end: 2010 }))).toBe(
      text.decode(large().subarray(990, 2010)),
    );
    const fromReplica = replica.chunkReads;
    expect(fromReplica).toBeGreaterThan(1);

    // Replay paused: what the primary commits now, the replica does not have.
    await standbyPool.query('SELECT pg_wal_replay_pause()');
    try {
      const later = await inbox.append(message('later'));
      const laterLarge = await inbox.append(large());
      expect(text.decode(await inbox.readBytes!(later.uid))).toBe(text.decode(message('later')));
      expect(await streamed(inbox.read(laterLarge.uid))).toBe(text.decode(large()));
      // The replica was asked first, and had nothing.
      expect(replica.chunkReads).toBeGreaterThan(fromReplica);
      const onStandby = await standbyPool.query('SELECT count(*)::int AS n FROM postwire_messages');
      expect(onStandby.rows[0].n).toBe(2);
    } finally {
      await standbyPool.query('SELECT pg_wal_replay_resume()');
    }
    await inbox.close();
    await store.close();
  });

  it('reads from the primary when the replica fails (down, or a query its replay cancelled)', async () => {
    const failing: SqlQueryable = {
      query: () =>
        Promise.reject(Object.assign(new Error('the database system is shutting down'), { code: '57P03' })),
    };
    const store = await createPostgresStore({
      sql: pgSqlClient(primaryPool),
      replica: failing,
      chunkSize: 1000,
    });
    const inbox = await (await store.user('failing-replica')).open('INBOX');
    const small = await inbox.append(message('small'));
    const big = await inbox.append(large());
    expect(text.decode(await inbox.readBytes!(small.uid))).toBe(text.decode(message('small')));
    expect(await streamed(inbox.read(big.uid))).toBe(text.decode(large()));
    await inbox.close();
    await store.close();
  });

  it('completes from the primary a body of which the replica has only the first chunks', async () => {
    const base = pgSqlClient(primaryPool);
    // A replica with the first two chunks of every body: what a distributed store's replica may show while
    // the chunks of an append (each committed on its own) are still being replayed.
    const partial: SqlQueryable = {
      async query<Row>(statement: string, params?: readonly unknown[]) {
        const result = await base.query<Row>(statement, params);
        if (!statement.includes('FROM postwire_body_chunks')) return result;
        return { rows: result.rows.filter((row) => Number((row as { start?: string }).start ?? 0) < 2000) };
      },
    };
    const store = await createPostgresStore({ sql: base, replica: partial, chunkSize: 1000 });
    const inbox = await (await store.user('partial')).open('INBOX');
    const { uid } = await inbox.append(large());
    expect(text.decode(await inbox.readBytes!(uid))).toBe(text.decode(large()));
    expect(await streamed(inbox.read(uid, { start: 1500, end: 3500 }))).toBe(
      text.decode(large().subarray(1500, 3500)),
    );
    expect(await streamed(inbox.read(uid))).toBe(text.decode(large()));
    await inbox.close();
    await store.close();
  });
});

import { MailboxExistsError, OverQuotaError } from '@postwire/store';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { message } from '../../store/test/contract.js';
import {
  createPostgresStore,
  MIGRATIONS,
  migrate,
  pgSqlClient,
  pruneChanges,
  SCHEMA_VERSION,
  type SqlClient,
} from '../src/index.js';
import { memoryBlobs } from './support/blobs.js';
import { endPool, postgresAvailable, type RunningPostgres, startPostgres } from './support/postgres.js';

let server: RunningPostgres;
let pool: pg.Pool;

/**
 * `base`, whose transactions, once armed, hold their commit 300 ms after their work is done:
 * `firstInserted` resolves when the first of them gets there, so that another process can race it.
 */
function slowCommits(base: SqlClient) {
  let armed = false;
  let inserted!: () => void;
  const firstInserted = new Promise<void>((resolve) => {
    inserted = resolve;
  });
  const slow: SqlClient = {
    ...base,
    transaction: (work) =>
      base.transaction(async (tx) => {
        const result = await work(tx);
        if (armed) {
          inserted();
          await new Promise((resolve) => setTimeout(resolve, 300));
        }
        return result;
      }),
  };
  return {
    slow,
    firstInserted,
    arm: () => {
      armed = true;
    },
  };
}

describe.skipIf(!postgresAvailable())('PostgreSQL store: schema, quota, transactions', () => {
  beforeAll(async () => {
    server = await startPostgres();
    pool = new pg.Pool({ connectionString: server.connectionString, max: 4 });
  }, 60_000);
  afterAll(async () => {
    await endPool(pool);
    await server?.stop();
  });

  it('migrates once, to the version the code needs, and refuses a schema newer than the code', async () => {
    const sql = pgSqlClient(pool);
    expect(await migrate(sql)).toBe(0);
    expect(await migrate(sql)).toBe(SCHEMA_VERSION);
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
    await pool.query('UPDATE postwire_schema SET version = version + 1');
    await expect(migrate(sql)).rejects.toThrow(/newer than this code/);
    await pool.query('UPDATE postwire_schema SET version = version - 1');
  });

  it('refuses an append over the quota and keeps nothing of it (the transaction rolls back)', async () => {
    const limit = message('a').length + 10;
    const store = await createPostgresStore({
      sql: pgSqlClient(pool),
      quota: { storage: limit, messages: 5 },
    });
    const user = await store.user('quota-user');
    const inbox = await user.open('INBOX');
    await inbox.append(message('a'));
    await expect(inbox.append(message('b'))).rejects.toBeInstanceOf(OverQuotaError);
    expect(await inbox.status()).toMatchObject({ messages: 1, uidNext: 2 });
    expect(await user.quota()).toMatchObject({ messages: 1, storageLimit: limit, messageLimit: 5 });
    const orphans = await pool.query(
      'SELECT count(*)::int AS n FROM postwire_bodies b WHERE NOT EXISTS (SELECT 1 FROM postwire_messages m WHERE m.body = b.id)',
    );
    expect(orphans.rows[0].n).toBe(0);
    await inbox.close();
    await store.close();
  });

  it('stores a large message in chunks, streams it back in ranges across chunk boundaries', async () => {
    const store = await createPostgresStore({ sql: pgSqlClient(pool), chunkSize: 1000 });
    const inbox = await (await store.user('chunks')).open('INBOX');
    const body = Array.from({ length: 500 }, (_, i) => `line ${i}\r\n`).join('');
    const bytes = message('big', body);
    const { uid } = await inbox.append(bytes);
    const chunks = await pool.query('SELECT count(*)::int AS n FROM postwire_body_chunks');
    expect(chunks.rows[0].n).toBeGreaterThanOrEqual(Math.ceil(bytes.length / 1000));
    const text = new TextDecoder();
    expect(text.decode(await inbox.readBytes!(uid))).toBe(text.decode(bytes));
    expect(text.decode(await inbox.readBytes!(uid, { start: 995, end: 2005 }))).toBe(
      text.decode(bytes.subarray(995, 2005)),
    );
    await inbox.close();
    await store.close();
  });

  it('keeps bodies in a blob store when given one: the database holds the key; expunged and refused bodies are deleted', async () => {
    const blobStore = memoryBlobs();
    const store = await createPostgresStore({
      sql: pgSqlClient(pool),
      blobs: blobStore,
      quota: { messages: 2 },
    });
    const user = await store.user('blobs');
    const inbox = await user.open('INBOX');
    const { uid } = await inbox.append(message('in a blob'));
    expect(blobStore.keys()).toHaveLength(1);
    const [key] = blobStore.keys();
    const stored = await pool.query('SELECT blob, size FROM postwire_bodies WHERE blob = $1', [key]);
    expect(stored.rows[0]).toMatchObject({ blob: key, size: String(message('in a blob').length) });
    const chunks = await pool.query(
      'SELECT count(*)::int AS n FROM postwire_body_chunks c JOIN postwire_bodies b ON c.body = b.id WHERE b.blob = $1',
      [key],
    );
    expect(chunks.rows[0].n).toBe(0);
    const text = new TextDecoder();
    expect(text.decode(await inbox.readBytes!(uid, { start: 6, end: 20 }))).toBe(
      text.decode(message('in a blob').subarray(6, 20)),
    );
    expect((await inbox.structure(uid)).envelope.subject).toBe('in a blob');

    await user.create('Copies');
    await inbox.copy([uid], 'Copies');
    await inbox.expunge([uid]);
    expect(blobStore.keys()).toEqual([key]); // the copy still refers to it
    await user.delete('Copies');
    expect(blobStore.keys()).toEqual([]);

    await inbox.append(message('one'));
    await inbox.append(message('two'));
    await expect(inbox.append(message('three'))).rejects.toBeInstanceOf(OverQuotaError);
    expect(blobStore.keys()).toHaveLength(2);
    await inbox.close();
    await store.close();
  });

  it('keeps the blob of an append whose COMMIT went through though its answer was lost', async () => {
    const blobStore = memoryBlobs();
    const base = pgSqlClient(pool);
    let loseAnswer = false;
    const lossy: SqlClient = {
      ...base,
      async transaction(work) {
        const result = await base.transaction(work);
        if (loseAnswer)
          throw Object.assign(new Error('Connection terminated unexpectedly'), { code: '08006' });
        return result;
      },
    };
    const store = await createPostgresStore({ sql: lossy, blobs: blobStore });
    const inbox = await (await store.user('lost-answer')).open('INBOX');
    loseAnswer = true;
    await expect(inbox.append(message('committed'))).rejects.toThrow(/terminated/);
    loseAnswer = false;
    // The message is there (the next catch-up shows it), and so is its body.
    await inbox.sync();
    const [info] = await inbox.messages();
    expect(blobStore.keys()).toHaveLength(1);
    expect(new TextDecoder().decode(await inbox.readBytes!(info!.uid))).toContain('Subject: committed');
    await inbox.close();
    await store.close();
  });

  it('counts concurrent appends against the quota one at a time, in their transactions, on a pool of two', async () => {
    // One client of the two listens: the append's quota query must run in its own transaction's client.
    const small = new pg.Pool({ connectionString: server.connectionString, max: 2 });
    const store = await createPostgresStore({ sql: pgSqlClient(small), quota: { messages: 3 } });
    const inbox = await (await store.user('quota-race')).open('INBOX');
    const outcomes = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => inbox.append(message(`racing ${i}`))),
    );
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(3);
    for (const outcome of outcomes.filter((each) => each.status === 'rejected'))
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(OverQuotaError);
    expect(await inbox.status()).toMatchObject({ messages: 3 });
    await inbox.close();
    await store.close();
    await endPool(small);
  });

  it('catches up a long backlog a page at a time, pages ending within one MODSEQ, all of it in order', async () => {
    const base = pgSqlClient(pool);
    let logReads = 0;
    const counting: SqlClient = {
      ...base,
      query(text, params) {
        if (text.includes('FROM postwire_changes')) logReads++;
        return base.query(text, params);
      },
    };
    const store = await createPostgresStore({ sql: counting, migrate: true, pollInterval: 3_600_000 });
    const inbox = await (await store.user('backlog')).open('INBOX');
    // Another process appended 4,500 messages in one transaction (one MODSEQ) while this one was away.
    const { rows } = await pool.query<{ id: string; highest_modseq: string }>(
      `SELECT b.id, b.highest_modseq FROM postwire_mailboxes b JOIN postwire_users u ON b.user_id = u.id
       WHERE u.name = 'backlog' AND b.name = 'INBOX'`,
    );
    const mailbox = rows[0]!.id;
    const modseq = Number(rows[0]!.highest_modseq) + 1;
    const body = (await pool.query('INSERT INTO postwire_bodies (size) VALUES (0) RETURNING id')).rows[0].id;
    await pool.query(
      `INSERT INTO postwire_messages (mailbox, uid, message_id, body, flags, internal_time, size, modseq)
       SELECT $1, g, 'backlog-' || g, $2, '{}', 0, 0, $3 FROM generate_series(1, 4500) g`,
      [mailbox, body, modseq],
    );
    await pool.query(
      `INSERT INTO postwire_changes (mailbox, modseq, change)
       SELECT mailbox, modseq, jsonb_build_object('type', 'append', 'uid', uid, 'id', message_id, 'flags',
         to_jsonb(flags), 'internalTime', internal_time, 'size', size, 'body', body)
       FROM postwire_messages WHERE mailbox = $1 ORDER BY uid`,
      [mailbox],
    );
    await pool.query('UPDATE postwire_mailboxes SET uid_next = 4501, highest_modseq = $2 WHERE id = $1', [
      mailbox,
      modseq,
    ]);
    logReads = 0;
    await inbox.sync();
    const uids = (await inbox.messages()).map((info) => info.uid);
    expect(uids).toEqual(Array.from({ length: 4500 }, (_, i) => i + 1));
    expect(logReads).toBe(3);
    expect(await inbox.status()).toMatchObject({ messages: 4500, uidNext: 4501, highestModseq: modseq });
    await inbox.close();
    await store.close();
  });

  it("renames a hierarchy whose name holds LIKE's wildcard, and nothing that only matches it", async () => {
    const store = await createPostgresStore({ sql: pgSqlClient(pool), migrate: true });
    const user = await store.user('wildcards');
    for (const name of ['a_b', "a_b/it's", 'axb/child', 'a_bx']) await user.create(name);
    await user.rename('a_b', 'renamed');
    expect((await user.list()).map((entry) => entry.name)).toEqual([
      'INBOX',
      'a_bx',
      'axb',
      'axb/child',
      'renamed',
      "renamed/it's",
    ]);
    await store.close();
  });

  it('goes on catching up after one catch-up failed (a query lost with its connection)', async () => {
    const base = pgSqlClient(pool);
    let failNext = false;
    const flaky: SqlClient = {
      ...base,
      query(text, params) {
        if (failNext && text.includes('FROM postwire_changes')) {
          failNext = false;
          return Promise.reject(new Error('Connection terminated unexpectedly'));
        }
        return base.query(text, params);
      },
    };
    const store = await createPostgresStore({ sql: flaky });
    const inbox = await (await store.user('catching-up')).open('INBOX');
    failNext = true;
    await expect(inbox.sync()).rejects.toThrow(/terminated/);
    await inbox.sync();
    const { uid } = await inbox.append(message('after the failure'));
    expect((await inbox.messages()).map((info) => info.uid)).toEqual([uid]);
    await inbox.close();
    await store.close();
  });

  it('reads small messages ahead: a FETCH of a range costs one query per batch, and the bytes are each message', async () => {
    const base = pgSqlClient(pool);
    const queries: string[] = [];
    const counting = {
      ...base,
      query: (text: string, params?: readonly unknown[]) => {
        queries.push(text);
        return base.query(text, params);
      },
    } as typeof base;
    const store = await createPostgresStore({ sql: counting });
    const inbox = await (await store.user('read-ahead')).open('INBOX');
    const uids: number[] = [];
    for (const subject of ['one', 'two', 'three', 'four', 'five'])
      uids.push((await inbox.append(message(subject))).uid);
    await inbox.expunge([uids[2]!]);
    queries.length = 0;
    const text = new TextDecoder();
    for (const [i, subject] of ['one', 'two', 'three', 'four', 'five'].entries()) {
      if (i === 2) continue;
      expect(text.decode(await inbox.readBytes!(uids[i]!))).toBe(text.decode(message(subject)));
    }
    expect(queries.filter((query) => /postwire_body_chunks/.test(query))).toHaveLength(1);
    expect(text.decode(await inbox.readBytes!(uids[1]!, { start: 6, end: 12 }))).toBe(
      text.decode(message('two').subarray(6, 12)),
    );
    await inbox.expunge([uids[0]!]);
    await expect(inbox.readBytes!(uids[0]!)).rejects.toThrow(/no message/);
    await inbox.close();
    await store.close();
  });

  it('prunes the change log; a process that missed pruned changes reads the mailbox again and tells its sessions', async () => {
    const writerStore = await createPostgresStore({ sql: pgSqlClient(pool), pollInterval: 60_000 });
    const writer = await (await writerStore.user('pruned')).open('INBOX');
    for (const subject of ['a', 'b', 'c']) await writer.append(message(subject));
    // Another process: its own store, following INBOX, told of nothing (no notification is delivered to
    // it while it is away: its listener is the only one, and it is stopped below by pruning what it missed).
    const reader = new pg.Pool({ connectionString: server.connectionString, max: 2 });
    const readerSql = pgSqlClient(reader);
    const readerStore = await createPostgresStore({
      sql: { ...readerSql, listen: async () => async () => {} },
      pollInterval: 60_000,
    });
    const watched = await (await readerStore.user('pruned')).open('INBOX');
    expect((await watched.messages()).map((info) => info.uid)).toEqual([1, 2, 3]);
    const seen: string[] = [];
    const feed = (async () => {
      for await (const change of watched.changes()) {
        seen.push(
          change.type === 'append'
            ? `append ${change.message.uid}`
            : change.type === 'expunge'
              ? `expunge ${change.uids}`
              : change.type === 'flags'
                ? `flags ${change.uid} ${change.flags}`
                : change.type,
        );
        if (seen.length === 4) return;
      }
    })();
    await writer.append(message('d'));
    await writer.setFlags([1], 'add', ['\\Seen']);
    await writer.expunge([2]);
    await writer.append(message('e'));
    expect(await pruneChanges(pgSqlClient(pool), { olderThan: -1 })).toBeGreaterThanOrEqual(7);
    await watched.sync();
    await feed;
    expect(seen).toEqual(['expunge 2', 'flags 1 \\Seen', 'append 4', 'append 5']);
    expect(await watched.messages()).toEqual(await writer.messages());
    expect(await watched.status()).toEqual(await writer.status());
    expect(await pruneChanges(pgSqlClient(pool), { olderThan: 3600 })).toBe(0);
    await watched.close();
    await readerStore.close();
    await reader.end();
    await writer.close();
    await writerStore.close();
  });

  it('misses nothing when the listening connection drops: catches up from the last MODSEQ seen, and listens again', async () => {
    const other = new pg.Pool({ connectionString: server.connectionString, max: 4 });
    other.on('error', () => {});
    const writer = await createPostgresStore({ sql: pgSqlClient(pool), migrate: true });
    // No poll to help within the test: what arrives comes by notification, or by the catch-up on listening again.
    const reader = await createPostgresStore({ sql: pgSqlClient(other), pollInterval: 3_600_000 });
    const writing = await (await writer.user('reconnect')).open('INBOX');
    const reading = await (await reader.user('reconnect')).open('INBOX');
    const watching = new AbortController();
    const seen: string[] = [];
    let wake: () => void = () => {};
    const followed = (async () => {
      for await (const change of reading.changes({ signal: watching.signal })) {
        seen.push(change.type === 'append' ? `append ${change.message.uid}` : change.type);
        wake();
      }
    })();
    const until = (count: number) =>
      new Promise<void>((resolve) => {
        wake = () => seen.length >= count && resolve();
        wake();
      });
    const first = await writing.append(message('before'));
    await until(1);
    // The server ends the reader's listening session (a restart, a failover, a pooler's timeout).
    const ended = await pool.query(
      "SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()",
    );
    expect(ended.rows.length).toBeGreaterThan(0);
    const during = await writing.append(message('while away'));
    await writing.setFlags([first.uid], 'add', ['\\Seen']);
    await until(3);
    const after = await writing.append(message('after'));
    await until(4);
    watching.abort();
    await followed;
    expect(seen).toEqual([`append ${first.uid}`, `append ${during.uid}`, 'flags', `append ${after.uid}`]);
    await writing.close();
    await reading.close();
    await writer.close();
    await reader.close();
    await endPool(other);
  });

  it('fails an append whose connection the server ends mid-stream, keeping nothing of it, without ending the process', async () => {
    const store = await createPostgresStore({ sql: pgSqlClient(pool), migrate: true, chunkSize: 1000 });
    const inbox = await (await store.user('terminated')).open('INBOX');
    let resume!: () => void;
    const paused = new Promise<void>((resolve) => {
      resume = resolve;
    });
    let halfway!: () => void;
    const halfTaken = new Promise<void>((resolve) => {
      halfway = resolve;
    });
    const bytes = message('cut off', 'x'.repeat(5000));
    async function* slowly(): AsyncGenerator<Uint8Array> {
      yield bytes.subarray(0, 2500);
      // The store took the first half (its chunks inserted) and asks for more.
      halfway();
      await paused;
      yield bytes.subarray(2500);
    }
    const appending = inbox.append(slowly());
    const outcome = appending.then(
      () => undefined,
      (error: unknown) => error,
    );
    await halfTaken;
    // The append's transaction waits for the rest of the message: the server ends its session now.
    const ended = await pool.query(
      `SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
       WHERE state = 'idle in transaction' AND query LIKE 'INSERT INTO postwire_body_chunks%'`,
    );
    expect(ended.rows).toEqual([{ ended: true }]);
    resume();
    expect(await outcome).toBeInstanceOf(Error);
    expect(await inbox.status()).toMatchObject({ messages: 0 });
    const chunks = await pool.query(
      'SELECT count(*)::int AS n FROM postwire_body_chunks c JOIN postwire_bodies b ON b.id = c.body WHERE NOT EXISTS (SELECT 1 FROM postwire_messages m WHERE m.body = b.id)',
    );
    expect(chunks.rows[0].n).toBe(0);
    await inbox.append(message('after'));
    expect(await inbox.status()).toMatchObject({ messages: 1 });
    await inbox.close();
    await store.close();
  });

  it('refuses with MailboxExistsError when two processes create the same mailbox at once', async () => {
    // The first process's transaction holds its commit until the second has looked and tried to insert.
    const base = pgSqlClient(pool);
    const { slow, arm, firstInserted } = slowCommits(base);
    const first = await createPostgresStore({ sql: slow });
    const second = await createPostgresStore({ sql: base });
    const [a, b] = [await first.user('racing'), await second.user('racing')];
    arm();
    const racing = a.create('Projects/Postwire');
    await firstInserted;
    await expect(b.create('Projects/Postwire')).rejects.toBeInstanceOf(MailboxExistsError);
    await racing;
    expect((await b.list()).map((entry) => entry.name)).toEqual(['INBOX', 'Projects', 'Projects/Postwire']);
    await first.close();
    await second.close();
  });

  it('moves in one transaction: a failure half-way (the process dies) leaves every message where it was', async () => {
    const base = pgSqlClient(pool);
    let failing = false;
    // The process dies when it records the expunge from the source, after the copies went in.
    const dying = {
      ...base,
      transaction: <T>(work: (tx: Parameters<Parameters<typeof base.transaction>[0]>[0]) => Promise<T>) =>
        base.transaction((tx) =>
          work({
            query(text: string, params?: readonly unknown[]) {
              if (
                failing &&
                text.includes('INTO postwire_changes') &&
                String(params?.[2]).includes('expunge')
              )
                return Promise.reject(new Error('the process died'));
              return tx.query(text, params);
            },
          } as typeof tx),
        ),
    };
    const store = await createPostgresStore({ sql: dying });
    const user = await store.user('mover');
    await user.create('Archive');
    const inbox = await user.open('INBOX');
    const { uid } = await inbox.append(message('moving'));
    failing = true;
    await expect(inbox.move([uid], 'Archive')).rejects.toThrow(/the process died/);
    failing = false;
    expect(await inbox.status()).toMatchObject({ messages: 1 });
    expect(await user.status('Archive')).toMatchObject({ messages: 0, uidNext: 1 });
    const moved = await inbox.move([uid], 'Archive');
    expect(moved).toMatchObject({ sourceUids: [uid], targetUids: [1] });
    expect(await inbox.status()).toMatchObject({ messages: 0 });
    const archive = await user.open('Archive');
    expect(new TextDecoder().decode(await archive.readBytes!(1))).toContain('Subject: moving');
    await archive.close();
    await inbox.close();
    await store.close();
  });

  it('shares one state between a session opening a mailbox and the last one closing it meanwhile', async () => {
    const base = pgSqlClient(pool);
    /** Once set, holds the next read of the change log until `go` resolves, telling `reached` it is there. */
    let gate: { reached: () => void; go: Promise<void> } | undefined;
    const gated: SqlClient = {
      ...base,
      query(text, params) {
        const armed = gate;
        if (!armed || !text.includes('FROM postwire_changes')) return base.query(text, params);
        gate = undefined;
        armed.reached();
        return armed.go.then(() => base.query(text, params));
      },
    };
    // No poll to help: a session sees the process's changes through the state it shares, or not at all.
    const store = await createPostgresStore({ sql: gated, migrate: true, pollInterval: 3_600_000 });
    const user = await store.user('reopening');
    const first = await user.open('INBOX');
    let go!: () => void;
    const reached = new Promise<void>((resolve) => {
      gate = { reached: resolve, go: new Promise((resolveGo) => (go = resolveGo)) };
    });
    // The open finds the state of `first` and catches it up; `first` closes, the last handle, meanwhile.
    const opening = user.open('INBOX');
    await reached;
    await first.close();
    go();
    const second = await opening;
    const next = second.changes()[Symbol.asyncIterator]().next();
    const third = await user.open('INBOX');
    const { uid } = await third.append(message('seen by both'));
    const seen = await Promise.race([
      next.then((result) => result.value),
      new Promise((resolve) => setImmediate(() => resolve('none'))),
    ]);
    expect(seen).toMatchObject({ type: 'append', message: { uid } });
    await second.close();
    await third.close();
    await store.close();
  });

  it('copies what is left of messages another process expunged before this one heard of it', async () => {
    const base = pgSqlClient(pool);
    // Neither notifications nor a poll: the copying process has not heard of the expunge yet.
    const deaf: SqlClient = { query: base.query.bind(base), transaction: base.transaction.bind(base) };
    const copier = await createPostgresStore({ sql: deaf, migrate: true, pollInterval: 3_600_000 });
    const expunger = await createPostgresStore({ sql: base });
    const mine = await copier.user('copy-expunged');
    await mine.create('Archive');
    const inbox = await mine.open('INBOX');
    const kept = await inbox.append(message('kept'));
    const expunged = await inbox.append(message('expunged'));
    const other = await (await expunger.user('copy-expunged')).open('INBOX');
    expect(await other.expunge([expunged.uid])).toEqual([expunged.uid]);
    const copied = await inbox.copy([kept.uid, expunged.uid], 'Archive');
    expect(copied).toMatchObject({ sourceUids: [kept.uid], targetUids: [1] });
    const archive = await mine.open('Archive');
    expect((await archive.messages()).map((info) => info.uid)).toEqual([1]);
    expect(new TextDecoder().decode(await archive.readBytes!(1))).toContain('Subject: kept');
    for (const mailbox of [archive, inbox, other]) await mailbox.close();
    await copier.close();
    await expunger.close();
  });

  it('keeps a bounded number of parsed structures in memory, however many messages a FETCH asks for', async () => {
    const base = pgSqlClient(pool);
    let structureQueries = 0;
    const counting: SqlClient = {
      ...base,
      query(text, params) {
        if (text.startsWith('SELECT structure FROM postwire_bodies')) structureQueries++;
        return base.query(text, params);
      },
    };
    const store = await createPostgresStore({ sql: counting, migrate: true });
    const inbox = await (await store.user('many-structures')).open('INBOX');
    const uids: number[] = [];
    for (let i = 0; i < 1100; i++) uids.push((await inbox.append(message(`message ${i}`))).uid);
    expect((await inbox.structures(uids)).map((structure) => structure?.envelope.subject)).toEqual(
      uids.map((_, i) => `message ${i}`),
    );
    // The first ones were let go: asked again, they come from the database (where they are kept).
    structureQueries = 0;
    expect((await inbox.structure(uids[0]!)).envelope.subject).toBe('message 0');
    expect(structureQueries).toBe(1);
    // The latest ones are at hand.
    expect((await inbox.structure(uids[uids.length - 1]!)).envelope.subject).toBe('message 1099');
    expect(structureQueries).toBe(1);
    await inbox.close();
    await store.close();
  });

  it('refuses with MailboxExistsError a rename onto a name another process creates at the same moment', async () => {
    const base = pgSqlClient(pool);
    const { slow, arm, firstInserted } = slowCommits(base);
    const first = await createPostgresStore({ sql: slow });
    const second = await createPostgresStore({ sql: base });
    const [a, b] = [await first.user('renaming'), await second.user('renaming')];
    await b.create('Drafts');
    arm();
    const creating = a.create('Archive');
    await firstInserted;
    // The rename looked before the create committed: the database's unique index is what refuses it.
    await expect(b.rename('Drafts', 'Archive')).rejects.toBeInstanceOf(MailboxExistsError);
    await creating;
    expect((await b.list()).map((entry) => entry.name)).toEqual(['Archive', 'Drafts', 'INBOX']);
    await first.close();
    await second.close();
  });

  it('gives an open mailbox the name another process renamed it to, once it catches up', async () => {
    const first = await createPostgresStore({ sql: pgSqlClient(pool), migrate: true });
    const second = await createPostgresStore({ sql: pgSqlClient(pool) });
    try {
      const a = await first.user('renamed');
      await a.create('Work');
      const work = await a.open('Work');
      const elsewhere = await second.user('renamed');
      await elsewhere.rename('Work', 'Old');
      await work.sync();
      expect(work.name).toBe('Old');
      // Opened by its newer name, it is the same mailbox, with that name.
      await elsewhere.rename('Old', 'Archive');
      const archive = await a.open('Archive');
      expect([archive.name, work.name]).toEqual(['Archive', 'Archive']);
      await archive.close();
      await work.close();
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('names the mailbox, not its row, when another process deleted it under an append', async () => {
    const first = await createPostgresStore({ sql: pgSqlClient(pool), migrate: true });
    const second = await createPostgresStore({ sql: pgSqlClient(pool) });
    try {
      const a = await first.user('deleted');
      await a.create('Work');
      const work = await a.open('Work');
      await (await second.user('deleted')).delete('Work');
      await expect(work.append(message('too late'))).rejects.toMatchObject({
        mailbox: 'Work',
        message: 'mailbox "Work" does not exist',
      });
      await work.close();
    } finally {
      await first.close();
      await second.close();
    }
  });
});

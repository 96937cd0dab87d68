import type { MailboxChange } from '@postwire/store';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { message } from '../../store/test/contract.js';
import { createPostgresStore, postgresJsSqlClient } from '../src/index.js';
import { postgresAvailable, type RunningPostgres, startPostgres } from './support/postgres.js';

/**
 * The store through postgres.js (the `postgres` package) rather than `pg`: what a second driver does
 * differently (it serialises jsonb parameters itself, listens on a connection of its own). The store
 * contract runs through it too (contract.test.ts).
 */
let server: RunningPostgres;
const drivers: postgres.Sql[] = [];

function driver(): postgres.Sql {
  const sql = postgres(server.connectionString, { max: 4, onnotice: () => {} });
  drivers.push(sql);
  return sql;
}

describe.skipIf(!postgresAvailable())('PostgreSQL store through postgres.js', () => {
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    for (const sql of drivers) await sql.end({ timeout: 2 });
    await server?.stop();
  });

  it('carries a change to another process by LISTEN/NOTIFY, with no poll to help', async () => {
    const [a, b] = [driver(), driver()];
    const hour = 3_600_000;
    const storeA = await createPostgresStore({
      sql: postgresJsSqlClient(a),
      migrate: true,
      pollInterval: hour,
    });
    const storeB = await createPostgresStore({ sql: postgresJsSqlClient(b), pollInterval: hour });
    const inboxA = await (await storeA.user('alice')).open('INBOX');
    const inboxB = await (await storeB.user('alice')).open('INBOX');
    const watching = new AbortController();
    const first = (async (): Promise<MailboxChange | undefined> => {
      for await (const change of inboxB.changes({ signal: watching.signal })) return change;
      return undefined;
    })();
    const { uid } = await inboxA.append(message('notified'));
    const change = await first;
    watching.abort();
    expect(change).toMatchObject({ type: 'append', message: { uid } });
    await inboxA.close();
    await inboxB.close();
    await storeA.close();
    await storeB.close();
  });

  it('stores the parsed structure and the change log as JSON objects, not JSON strings', async () => {
    const sql = driver();
    const store = await createPostgresStore({ sql: postgresJsSqlClient(sql), migrate: true });
    const inbox = await (await store.user('json')).open('INBOX');
    const { uid } = await inbox.append(message('structured'));
    await inbox.structure(uid);
    const [body] =
      await sql`SELECT jsonb_typeof(structure) AS kind FROM postwire_bodies ORDER BY id DESC LIMIT 1`;
    expect(body!.kind).toBe('object');
    const kinds = await sql`SELECT DISTINCT jsonb_typeof(change) AS kind FROM postwire_changes`;
    expect(kinds.map((row) => row.kind)).toEqual(['object']);
    await inbox.close();
    await store.close();
  });
});

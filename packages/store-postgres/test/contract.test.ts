import pg from 'pg';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { quotaContract, type StoreFixture, storeContract } from '../../store/test/contract.js';
import { type BlobStore, createPostgresStore, pgSqlClient, postgresJsSqlClient } from '../src/index.js';
import { memoryBlobs } from './support/blobs.js';
import { distributedClient, makeSerializable } from './support/distributed.js';
import { postgresAvailable, type RunningPostgres, startPostgres } from './support/postgres.js';

/**
 * The store contract (the same tests the memory and Maildir backends pass), each test on a database of its
 * own in one throwaway PostgreSQL cluster; reopening is a new store, with a new pool, over the same database.
 */
interface PostgresFixture extends StoreFixture {
  readonly database: string;
  readonly blobs?: BlobStore;
}

let server: RunningPostgres;
let databases = 0;

/** How a fixture reaches its database: `pg`, `pg` as a distributed database, or postgres.js. */
type Driver = 'pg' | 'distributed' | 'postgres.js';

async function storeOn(database: string, driver: Driver, blobs?: BlobStore): Promise<PostgresFixture> {
  const distributed = driver === 'distributed';
  if (driver === 'postgres.js') {
    const sql = postgres({ host: server.host, port: server.port, user: server.user, database, max: 4 });
    const store = await createPostgresStore({
      sql: postgresJsSqlClient(sql),
      migrate: true,
      pollInterval: 200,
    });
    return { store, database, cleanup: () => sql.end() };
  }
  const pool = new pg.Pool({ host: server.host, port: server.port, user: server.user, database, max: 4 });
  const store = await createPostgresStore({
    sql: distributed ? distributedClient(pool) : pgSqlClient(pool),
    ...(distributed ? { database: 'distributed' as const } : {}),
    migrate: true,
    pollInterval: 200,
    ...(blobs ? { blobs } : {}),
  });
  return { store, database, ...(blobs ? { blobs } : {}), cleanup: () => pool.end() };
}

async function newDatabase(serializable: boolean): Promise<string> {
  const database = `contract_${++databases}`;
  const admin = new pg.Client({ connectionString: server.connectionString });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  if (serializable) await makeSerializable(admin, database);
  await admin.end();
  return database;
}

if (postgresAvailable()) {
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server.stop();
  });

  for (const [label, withBlobs, driver] of [
    ['PostgreSQL', false, 'pg'],
    ['PostgreSQL with bodies in a blob store', true, 'pg'],
    [
      'PostgreSQL as a distributed database (SERIALIZABLE, no NOTIFY, no advisory locks)',
      false,
      'distributed',
    ],
    ['PostgreSQL through postgres.js', false, 'postgres.js'],
  ] as const) {
    storeContract(
      label,
      async () =>
        storeOn(await newDatabase(driver === 'distributed'), driver, withBlobs ? memoryBlobs() : undefined),
      async (fixture) => {
        await fixture.cleanup();
        const { database, blobs } = fixture as PostgresFixture;
        return storeOn(database, driver, blobs);
      },
    );
  }
  quotaContract('PostgreSQL', async (quota) => {
    const database = await newDatabase(false);
    const pool = new pg.Pool({ host: server.host, port: server.port, user: server.user, database, max: 4 });
    const store = await createPostgresStore({ sql: pgSqlClient(pool), migrate: true, quota });
    return { store, cleanup: () => pool.end() };
  });
} else {
  describe('PostgreSQL: the store contract', () => {
    it.skip('needs PostgreSQL (initdb and postgres), which is not installed', () => {});
  });
}

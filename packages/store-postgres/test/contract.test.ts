import pg from 'pg';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type StoreFixture, storeContract } from '../../store/test/contract.js';
import { createPostgresStore, pgSqlClient } from '../src/index.js';
import { postgresAvailable, type RunningPostgres, startPostgres } from './support/postgres.js';

/**
 * The store contract (the same tests the memory and Maildir backends pass), each test on a database of its
 * own in one throwaway PostgreSQL cluster; reopening is a new store, with a new pool, over the same database.
 */
interface PostgresFixture extends StoreFixture {
  readonly database: string;
}

let server: RunningPostgres;
let databases = 0;

async function storeOn(database: string): Promise<PostgresFixture> {
  const pool = new pg.Pool({ host: server.host, port: server.port, user: server.user, database, max: 4 });
  const store = await createPostgresStore({ sql: pgSqlClient(pool), migrate: true, pollInterval: 200 });
  return { store, database, cleanup: () => pool.end() };
}

if (postgresAvailable()) {
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    // A pool ends its clients without waiting for the server to see them go: wait until it has, so that
    // the shutdown ends no session (which each client would report as an error).
    const admin = new pg.Client({ connectionString: server.connectionString });
    await admin.connect();
    for (let attempt = 0; attempt < 100; attempt++) {
      const { rows } = await admin.query<{ sessions: number }>(
        "SELECT count(*)::int AS sessions FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
      );
      if (rows[0]!.sessions === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await admin.end();
    await server.stop();
  });

  storeContract(
    'PostgreSQL',
    async () => {
      const database = `contract_${++databases}`;
      const admin = new pg.Client({ connectionString: server.connectionString });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${database}`);
      await admin.end();
      return storeOn(database);
    },
    async (fixture) => {
      await fixture.cleanup();
      return storeOn((fixture as PostgresFixture).database);
    },
  );
} else {
  describe('PostgreSQL: the store contract', () => {
    it.skip('needs PostgreSQL (initdb and postgres), which is not installed', () => {});
  });
}

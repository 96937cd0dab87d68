import pg from 'pg';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type StoreFixture, storeContract } from '../../store/test/contract.js';
import { type BlobStore, createPostgresStore, pgSqlClient } from '../src/index.js';
import { postgresAvailable, type RunningPostgres, startPostgres } from './support/postgres.js';

/**
 * The store contract (the same tests the memory and Maildir backends pass), each test on a database of its
 * own in one throwaway PostgreSQL cluster; reopening is a new store, with a new pool, over the same database.
 */
interface PostgresFixture extends StoreFixture {
  readonly database: string;
  readonly blobs?: BlobStore;
}

/** A blob store in memory, standing in for object storage. */
function memoryBlobs(): BlobStore {
  const blobs = new Map<string, Uint8Array>();
  return {
    async put(key, source) {
      const chunks: Uint8Array[] = [];
      for await (const chunk of source) chunks.push(chunk);
      blobs.set(key, Buffer.concat(chunks));
    },
    async get(key, { start, end }) {
      const bytes = blobs.get(key)!.subarray(start, end);
      return new ReadableStream({
        start(controller) {
          if (bytes.length > 0) controller.enqueue(bytes);
          controller.close();
        },
      });
    },
    async delete(key) {
      blobs.delete(key);
    },
  };
}

let server: RunningPostgres;
let databases = 0;

async function storeOn(database: string, blobs?: BlobStore): Promise<PostgresFixture> {
  const pool = new pg.Pool({ host: server.host, port: server.port, user: server.user, database, max: 4 });
  const store = await createPostgresStore({
    sql: pgSqlClient(pool),
    migrate: true,
    pollInterval: 200,
    ...(blobs ? { blobs } : {}),
  });
  return { store, database, ...(blobs ? { blobs } : {}), cleanup: () => pool.end() };
}

async function newDatabase(): Promise<string> {
  const database = `contract_${++databases}`;
  const admin = new pg.Client({ connectionString: server.connectionString });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  return database;
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

  for (const [label, withBlobs] of [
    ['PostgreSQL', false],
    ['PostgreSQL with bodies in a blob store', true],
  ] as const) {
    storeContract(
      label,
      async () => storeOn(await newDatabase(), withBlobs ? memoryBlobs() : undefined),
      async (fixture) => {
        await fixture.cleanup();
        const { database, blobs } = fixture as PostgresFixture;
        return storeOn(database, blobs);
      },
    );
  }
} else {
  describe('PostgreSQL: the store contract', () => {
    it.skip('needs PostgreSQL (initdb and postgres), which is not installed', () => {});
  });
}

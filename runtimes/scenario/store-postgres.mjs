// The PostgreSQL store scenario through `pg`, on whichever runtime runs this file: `node`, `deno run
// --allow-net --allow-read --allow-env`, or `bun`, with the database's URL as its argument.
import { pgSqlClient } from '@postwire/store-postgres';
import pg from 'pg';
import { runStorePostgresScenario } from './store-postgres-scenario.mjs';

// Named from the runtime's own globals, so that the report shows which runtime really ran it.
const runtime = globalThis.Deno ? 'deno' : globalThis.Bun ? 'bun' : 'node';
const connectionString = process.argv[2] ?? globalThis.Deno?.args[0];

function openDatabase() {
  const pool = new pg.Pool({ connectionString });
  pool.on('error', () => {}); // an idle client the server dropped; the pool replaces it
  return { sql: pgSqlClient(pool), end: () => pool.end() };
}

const passed = await runStorePostgresScenario({ openDatabase, runtime });
console.log(JSON.stringify({ passed, runtime, driver: 'pg' }));

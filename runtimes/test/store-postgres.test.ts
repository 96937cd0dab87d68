import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settlesWithin, spawnPeer } from '../../packages/core/test/support/peer-process.js';
import {
  postgresAvailable,
  type RunningPostgres,
  startPostgres,
} from '../../packages/store-postgres/test/support/postgres.js';
import { firstJsonLine, requireBuild, runtimesDir, scriptRuntimes } from './support.js';

/**
 * The PostgreSQL store (scenario/store-postgres-scenario.mjs: migrate, append in chunks, reads whole and by
 * range, flags, a second store that hears of each change by LISTEN/NOTIFY, expunge) through `pg` on Node,
 * Deno and Bun, each against a database of its own on one throwaway PostgreSQL.
 */
const RUNTIMES = ['node', 'deno', 'bun'] as const;
const STEPS = [
  'migrate',
  'user and INBOX',
  'append in chunks',
  'append seen by the follower',
  'readBytes',
  'read stream',
  'setFlags',
  'expunge',
  'closed',
];
/** How long the scenario may take to exit once it reported: with every store and pool closed, at once. */
const EXIT_DEADLINE = 5_000;

const hasPostgres = postgresAvailable();
if (!hasPostgres)
  console.warn('runtimes: PostgreSQL is not installed; the store-postgres scenario is skipped');

let server: RunningPostgres;

function databaseUrl(runtime: string): string {
  return `postgresql://${server.user}@${server.host}:${server.port}/store_${runtime}`;
}

describe.skipIf(!hasPostgres)('the PostgreSQL store on every runtime', () => {
  beforeAll(async () => {
    requireBuild();
    server = await startPostgres();
    const admin = new pg.Client({ connectionString: server.connectionString });
    await admin.connect();
    try {
      for (const runtime of RUNTIMES) await admin.query(`CREATE DATABASE store_${runtime}`);
    } finally {
      await admin.end();
    }
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  for (const runtime of RUNTIMES)
    it(`${runtime}, through pg`, async () => {
      const [command, ...args] = scriptRuntimes[runtime](join(runtimesDir, 'scenario/store-postgres.mjs'));
      const peer = spawnPeer(command!, [...args, databaseUrl(runtime)], { cwd: runtimesDir });
      try {
        const result = await firstJsonLine<{ passed: string[]; runtime: string; driver: string }>(peer);
        expect(result).toEqual({ passed: STEPS, runtime, driver: 'pg' });
        // Nothing left open (a pool, a listening connection, a timer) keeps the process alive.
        expect(await settlesWithin(peer.exited, EXIT_DEADLINE), `still running:\n${peer.output()}`).toBe(
          true,
        );
      } finally {
        await peer.stop();
      }
    });
});

import type pg from 'pg';
import { pgSqlClient, type SqlClient, type SqlQueryable } from '../../src/index.js';

/**
 * PostgreSQL made to behave as a distributed SQL database that speaks its protocol (CockroachDB): the
 * statements PostgreSQL alone has (`LISTEN`, `NOTIFY`, advisory locks) fail as an unknown function does
 * there, there is no `listen`, and the database the tests use runs every transaction SERIALIZABLE (see
 * {@link makeSerializable}), so that concurrent transactions abort with serialization failures (SQLSTATE
 * 40001) as they do there.
 */
export interface DistributedClient extends SqlClient {
  /** How many transactions the database aborted with a serialization failure so far. */
  serializationFailures(): number;
}

const POSTGRESQL_ONLY = /\bpg_notify\b|\bpg_advisory|^\s*(LISTEN|UNLISTEN|NOTIFY)\b/i;

export function distributedClient(pool: pg.Pool): DistributedClient {
  const base = pgSqlClient(pool);
  let failures = 0;
  const guard = (queryable: SqlQueryable): SqlQueryable => ({
    query(text, params) {
      if (POSTGRESQL_ONLY.test(text)) {
        const error = Object.assign(new Error(`unknown function or statement: ${text}`), { code: '42883' });
        return Promise.reject(error);
      }
      return queryable.query(text, params);
    },
  });
  return {
    query: guard(base).query,
    async transaction(work) {
      try {
        return await base.transaction((tx) => work(guard(tx)));
      } catch (error) {
        if ((error as { code?: unknown }).code === '40001') failures++;
        throw error;
      }
    },
    serializationFailures: () => failures,
  };
}

/** Makes every transaction of `database` SERIALIZABLE (for the connections opened from now on). */
export async function makeSerializable(admin: pg.Pool | pg.Client, database: string): Promise<void> {
  await admin.query(`ALTER DATABASE ${database} SET default_transaction_isolation TO 'serializable'`);
}

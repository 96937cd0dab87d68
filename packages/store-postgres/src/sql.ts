/** The rows a query returned. */
export interface SqlResult<Row> {
  /** The rows, each an object keyed by column name. */
  readonly rows: Row[];
}

/** Runs one SQL statement with `$1`-style parameters. */
export interface SqlQueryable {
  /** Runs `text` with `params` (bytes as `Uint8Array`, arrays as arrays) and resolves with its rows. */
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<SqlResult<Row>>;
}

/**
 * What the store needs of the application's PostgreSQL driver: queries, transactions on one connection, and
 * notifications. It is small so that any driver fits (`pg`, `postgres`, a pool of either); `pgSqlClient`
 * adapts a `pg` pool.
 */
export interface SqlClient extends SqlQueryable {
  /**
   * Runs `work` in a transaction on one connection: `BEGIN` before, `COMMIT` when it resolves, `ROLLBACK`
   * when it throws (and the error goes on).
   */
  transaction<T>(work: (tx: SqlQueryable) => Promise<T>): Promise<T>;
  /**
   * Calls `handler` with the payload of every `NOTIFY` on `channel`, until the returned function is called.
   * The driver keeps one connection listening, and listens again after it was lost; `onListen` is called each
   * time it listens (the first time and after each loss), since notifications sent meanwhile were missed.
   * Left out for a database without notifications: the store then looks for changes every `pollInterval`.
   */
  listen?(
    channel: string,
    handler: (payload: string) => void,
    onListen?: () => void,
  ): Promise<() => Promise<void>>;
}

/** The part of a `pg` pool that {@link pgSqlClient} uses. */
export interface PgPoolLike extends SqlQueryable {
  /** A client of its own, for a transaction or for listening. */
  connect(): Promise<PgPoolClientLike>;
}

/** The part of a `pg` pool client that {@link pgSqlClient} uses. */
export interface PgPoolClientLike extends SqlQueryable {
  /** Gives the client back to the pool; with an error (or `true`), the pool drops it. */
  release(error?: Error | boolean): void;
  /** Adds a listener: `pg` emits `notification` with `{ channel, payload }`. */
  on(event: 'notification', listener: (message: { channel: string; payload?: string }) => void): unknown;
  /** Adds a listener: `pg` emits `error` when the connection breaks (the server ended it, the network). */
  on(event: 'error', listener: (error: Error) => void): unknown;
  /** Removes a `notification` listener. */
  off(event: 'notification', listener: (message: { channel: string; payload?: string }) => void): unknown;
  /** Removes an `error` listener. */
  off(event: 'error', listener: (error: Error) => void): unknown;
}

/** Milliseconds before listening again after the listening connection was lost, doubling up to the last. */
const RELISTEN_DELAYS = [100, 200, 400, 800, 1600, 3200, 5000];

/**
 * A {@link SqlClient} over a `pg` `Pool` (the `pg` package, version 8). Transactions take a client from the
 * pool for their length; `listen` keeps one client for itself until stopped, and when the server or the
 * network ends that connection, takes another and listens again (after 0.1 s, then longer, up to 5 s).
 */
export function pgSqlClient(pool: PgPoolLike): Required<SqlClient> {
  return {
    query: (text, params) => pool.query(text, params),
    async transaction(work) {
      const client = await pool.connect();
      let broken: Error | undefined;
      // The connection may break while the work waits between statements (for the rest of a message): `pg`
      // reports it as an event, and the next statement fails.
      const onError = (error: Error): void => {
        broken ??= error;
      };
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const result = await work(client);
        if (broken) throw broken;
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollback: Error) => {
          broken ??= rollback;
        });
        throw error;
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    },
    async listen(channel, handler, onListen) {
      /** The listening client, and how to take this adapter's listeners off it. */
      let current: { client: PgPoolClientLike; detach(): void } | undefined;
      let stopped = false;
      const onNotification = (message: { channel: string; payload?: string }): void => {
        if (message.channel === channel) handler(message.payload ?? '');
      };
      const listenOn = async (): Promise<void> => {
        const client = await pool.connect();
        let lost = false;
        // A broken connection may report more than one error: the first one counts.
        const onError = (): void => {
          if (lost) return;
          lost = true;
          client.off('notification', onNotification);
          client.release(true);
          if (current?.client !== client) return;
          current = undefined;
          if (!stopped) void listenAgain();
        };
        client.on('error', onError);
        client.on('notification', onNotification);
        try {
          await client.query(`LISTEN ${quoteIdentifier(channel)}`);
        } catch (error) {
          onError();
          throw error;
        }
        const detach = (): void => {
          client.off('notification', onNotification);
          client.off('error', onError);
        };
        // Stopped while this was connecting: the client goes back at once.
        if (stopped) {
          detach();
          client.release();
          return;
        }
        current = { client, detach };
        onListen?.();
      };
      const listenAgain = async (): Promise<void> => {
        for (let attempt = 0; !stopped; attempt++) {
          const delay = RELISTEN_DELAYS[Math.min(attempt, RELISTEN_DELAYS.length - 1)];
          await new Promise((resolve) => setTimeout(resolve, delay));
          if (stopped) return;
          try {
            await listenOn();
            return;
          } catch {
            // The server is still away: try again, a little later.
          }
        }
      };
      await listenOn();
      return async () => {
        stopped = true;
        const listening = current;
        current = undefined;
        if (!listening) return;
        listening.detach();
        await listening.client.query(`UNLISTEN ${quoteIdentifier(channel)}`).catch(() => {});
        listening.client.release();
      };
    },
  };
}

/** The part of a postgres.js (`postgres`) instance, or of one of its transactions, that {@link postgresJsSqlClient} uses. */
export interface PostgresJsQueryable {
  /** Runs `query` with `$1`-style parameters; resolves with the rows (an array of them). */
  unsafe(query: string, parameters?: unknown[]): PromiseLike<readonly object[]>;
}

/** What postgres.js's `listen` resolves with. */
export interface PostgresJsListening {
  /** Stops listening. */
  unlisten(): Promise<void>;
}

/** The part of a postgres.js (`postgres`) instance that {@link postgresJsSqlClient} uses. */
export interface PostgresJsLike extends PostgresJsQueryable {
  /** Runs `work` in a transaction on one connection; rolls back when it throws. */
  begin<T>(work: (tx: PostgresJsQueryable) => Promise<T>): Promise<unknown>;
  /** Calls `onNotify` with each payload on `channel`, and `onListen` each time it listens (again, after a reconnect). */
  listen(
    channel: string,
    onNotify: (payload: string) => void,
    onListen?: () => void,
  ): PromiseLike<PostgresJsListening>;
}

/**
 * A {@link SqlClient} over a postgres.js instance (the `postgres` package, version 3): queries through
 * `unsafe` with parameters, transactions through `begin`, notifications through its own `listen`.
 */
export function postgresJsSqlClient(sql: PostgresJsLike): Required<SqlClient> {
  const queryable = (target: PostgresJsQueryable): SqlQueryable => ({
    async query<Row>(text: string, params: readonly unknown[] = []) {
      return { rows: (await target.unsafe(text, [...params])) as Row[] };
    },
  });
  return {
    ...queryable(sql),
    async transaction<T>(work: (tx: SqlQueryable) => Promise<T>) {
      return (await sql.begin((tx) => work(queryable(tx)))) as T;
    },
    async listen(channel, handler, onListen) {
      const { unlisten } = await sql.listen(channel, handler, onListen);
      return unlisten;
    },
  };
}

/** A PostgreSQL identifier, quoted. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * What the database behind a {@link SqlClient} offers. `'postgresql'`: PostgreSQL itself, with `LISTEN`/`NOTIFY`,
 * advisory locks, and READ COMMITTED transactions. `'distributed'`: a database that speaks PostgreSQL's protocol
 * without the first two and runs transactions SERIALIZABLE, asking its clients to retry the ones it aborts
 * (CockroachDB; YugabyteDB before 2025.2).
 */
export type DatabaseKind = 'postgresql' | 'distributed';

/** SQLSTATEs after which a transaction may run again: serialization_failure and deadlock_detected. */
const SERIALIZATION_FAILURES: ReadonlySet<string> = new Set(['40001', '40P01']);

/** How many times {@link transactWithRetry} runs a transaction at most. */
const TRANSACTION_ATTEMPTS = 12;

/** The SQLSTATE of a driver's error (`pg` and `postgres` both report it in `code`). */
function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Runs `work` in a transaction, and again, after a short random pause that grows with each attempt, while the
 * database aborts it with a serialization failure or a deadlock (or an error whose SQLSTATE is in
 * `alsoRetryOn`), as SERIALIZABLE databases ask of their clients. `work` must be safe to run again: it may not
 * consume a stream.
 */
export async function transactWithRetry<T>(
  sql: SqlClient,
  work: (tx: SqlQueryable) => Promise<T>,
  alsoRetryOn: readonly string[] = [],
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await sql.transaction(work);
    } catch (error) {
      const state = sqlState(error);
      const retry = state !== undefined && (SERIALIZATION_FAILURES.has(state) || alsoRetryOn.includes(state));
      if (!retry || attempt >= TRANSACTION_ATTEMPTS) throw error;
      const pause = Math.random() * Math.min(500, 2 ** attempt);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  }
}

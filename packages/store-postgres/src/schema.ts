import { type DatabaseKind, type SqlClient, transactWithRetry } from './sql.js';

/**
 * The schema's versions, each a list of statements run in one transaction. A version once released is
 * never edited: a change is a new version.
 */
export const MIGRATIONS: readonly (readonly string[])[] = [
  [
    `CREATE TABLE postwire_users (
       id bigserial PRIMARY KEY,
       name text NOT NULL UNIQUE
     )`,
    `CREATE TABLE postwire_mailboxes (
       id bigserial PRIMARY KEY,
       user_id bigint NOT NULL REFERENCES postwire_users ON DELETE CASCADE,
       name text NOT NULL,
       mailbox_id text NOT NULL UNIQUE,
       uid_validity bigint NOT NULL,
       uid_next bigint NOT NULL DEFAULT 1,
       highest_modseq bigint NOT NULL DEFAULT 1,
       special_use text,
       UNIQUE (user_id, name)
     )`,
    `CREATE TABLE postwire_subscriptions (
       user_id bigint NOT NULL REFERENCES postwire_users ON DELETE CASCADE,
       name text NOT NULL,
       PRIMARY KEY (user_id, name)
     )`,
    // A message's bytes, shared by its copies; in chunks, so that no row holds a whole large message.
    `CREATE TABLE postwire_bodies (
       id bigserial PRIMARY KEY,
       size bigint NOT NULL DEFAULT 0,
       structure jsonb
     )`,
    `CREATE TABLE postwire_body_chunks (
       body bigint NOT NULL REFERENCES postwire_bodies ON DELETE CASCADE,
       start bigint NOT NULL,
       data bytea NOT NULL,
       PRIMARY KEY (body, start)
     )`,
    `CREATE TABLE postwire_messages (
       mailbox bigint NOT NULL REFERENCES postwire_mailboxes ON DELETE CASCADE,
       uid bigint NOT NULL,
       message_id text NOT NULL,
       body bigint NOT NULL REFERENCES postwire_bodies,
       flags text[] NOT NULL,
       internal_time bigint NOT NULL,
       size bigint NOT NULL,
       modseq bigint NOT NULL,
       PRIMARY KEY (mailbox, uid)
     )`,
    'CREATE INDEX postwire_messages_body ON postwire_messages (body)',
    // Every change of a mailbox, in MODSEQ order: what other processes (and this one) replay.
    `CREATE TABLE postwire_changes (
       id bigserial PRIMARY KEY,
       mailbox bigint NOT NULL REFERENCES postwire_mailboxes ON DELETE CASCADE,
       modseq bigint NOT NULL,
       change jsonb NOT NULL
     )`,
    'CREATE INDEX postwire_changes_mailbox ON postwire_changes (mailbox, modseq)',
    // POP3's maildrop lock across processes: a lease its holder renews, which a crashed holder lets lapse.
    `CREATE TABLE postwire_locks (
       mailbox bigint PRIMARY KEY REFERENCES postwire_mailboxes ON DELETE CASCADE,
       holder text NOT NULL,
       expires timestamptz NOT NULL
     )`,
  ],
  // Version 2: a body may live in the application's blob store (object storage) instead of chunk rows.
  ['ALTER TABLE postwire_bodies ADD COLUMN blob text'],
  // Version 3: when each change was logged, so that old ones can be pruned (`pruneChanges`).
  ['ALTER TABLE postwire_changes ADD COLUMN logged timestamptz NOT NULL DEFAULT now()'],
  // Version 4: when each body was stored, so that one whose message never committed can be pruned.
  ['ALTER TABLE postwire_bodies ADD COLUMN stored timestamptz NOT NULL DEFAULT now()'],
];

/** The schema version the code needs. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /**
   * The kind of database (default `'postgresql'`). On PostgreSQL, processes starting together take turns
   * through an advisory lock; a distributed database has none, so a migration that a concurrent one made
   * fail (a serialization failure, or a table the other created first) runs again, and finds the work done.
   */
  readonly database?: DatabaseKind;
}

/**
 * Brings the database's schema to {@link SCHEMA_VERSION} in one transaction, so that processes starting
 * together migrate once. Resolves with the version found before.
 */
export async function migrate(sql: SqlClient, options: MigrateOptions = {}): Promise<number> {
  const distributed = options.database === 'distributed';
  // A concurrent CREATE TABLE fails with unique_violation (on the catalog) or duplicate_table.
  return transactWithRetry(
    sql,
    async (tx) => {
      // One migration at a time across processes (released at the transaction's end).
      if (!distributed) await tx.query('SELECT pg_advisory_xact_lock(7063770)');
      await tx.query('CREATE TABLE IF NOT EXISTS postwire_schema (version integer NOT NULL)');
      const { rows } = await tx.query<{ version: number }>('SELECT version FROM postwire_schema');
      const found = rows[0]?.version ?? 0;
      if (found > SCHEMA_VERSION) {
        throw new Error(
          `the database's schema is version ${found}, newer than this code's ${SCHEMA_VERSION}`,
        );
      }
      for (let version = found; version < SCHEMA_VERSION; version++) {
        for (const statement of MIGRATIONS[version]!) await tx.query(statement);
      }
      if (rows.length === 0)
        await tx.query('INSERT INTO postwire_schema (version) VALUES ($1)', [SCHEMA_VERSION]);
      else await tx.query('UPDATE postwire_schema SET version = $1', [SCHEMA_VERSION]);
      return found;
    },
    distributed ? ['23505', '42P07'] : [],
  );
}

/**
 * Deletes the change log's entries older than `olderThan` seconds, which every process has long read: the
 * log would otherwise grow with every change. A process that was further behind (stopped, or cut off from
 * the database that long) reads its mailboxes again instead, and its sessions get what differs as changes.
 * Run it from a periodic job; resolves with the number of entries deleted.
 */
export async function pruneChanges(sql: SqlClient, options: { readonly olderThan: number }): Promise<number> {
  const { rows } = await sql.query<{ deleted: number }>(
    `WITH gone AS (DELETE FROM postwire_changes WHERE logged < now() - $1 * interval '1 second' RETURNING 1)
     SELECT count(*)::int AS deleted FROM gone`,
    [options.olderThan],
  );
  return rows[0]!.deleted;
}

/**
 * Deletes the bodies stored more than `olderThan` seconds ago that no message refers to. Only a
 * `database: 'distributed'` store leaves them, when a process dies between storing a message's body and
 * committing the message (its append was never acknowledged). Run it from the same periodic job as
 * {@link pruneChanges}; resolves with the number of bodies deleted.
 */
export async function pruneOrphanBodies(
  sql: SqlClient,
  options: { readonly olderThan: number },
): Promise<number> {
  const { rows } = await sql.query<{ deleted: number }>(
    `WITH gone AS (
       DELETE FROM postwire_bodies b WHERE b.stored < now() - $1 * interval '1 second'
       AND NOT EXISTS (SELECT 1 FROM postwire_messages m WHERE m.body = b.id) RETURNING 1)
     SELECT count(*)::int AS deleted FROM gone`,
    [options.olderThan],
  );
  return rows[0]!.deleted;
}

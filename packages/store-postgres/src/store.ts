import { concatBytes } from '@postwire/core';
import {
  type AppendOptions,
  type AppendResult,
  assertWithinQuota,
  type ByteRange,
  ChangeFeed,
  type CopyResult,
  canonicalFlags,
  canonicalMailboxName,
  canonicalUserName,
  describeMessage,
  type FlagOperation,
  type IndexEntry,
  type Mailbox,
  type MailboxChange,
  MailboxExistsError,
  MailboxIndex,
  MailboxInUseError,
  type MailboxListEntry,
  type MailboxLock,
  MailboxNotFoundError,
  type MailboxStatus,
  type MailStore,
  type MessageInfo,
  type MessageSource,
  type MessageStructure,
  mailboxListEntries,
  messageInfo,
  newMailboxId,
  newMessageId,
  nextUidValidity,
  parentNames,
  type QuotaLimits,
  type QuotaUsage,
  type SetFlagsOptions,
  type SetFlagsResult,
  type SpecialUse,
  StoreRefusedError,
  sourceChunks,
  type UserMail,
  untilClosed,
} from '@postwire/store';
import { migrate } from './schema.js';
import { type DatabaseKind, type SqlClient, type SqlQueryable, transactWithRetry } from './sql.js';

/** Options of {@link createPostgresStore}. */
export interface PostgresStoreOptions {
  /** The application's database connection (see `pgSqlClient` for `pg`). */
  readonly sql: SqlClient;
  /** Create or update the schema first (default `false`: run `migrate` when deploying). */
  readonly migrate?: boolean;
  /** Per-user limits: octets over all mailboxes, and number of messages. */
  readonly quota?: QuotaLimits;
  /** Octets per stored chunk of a message (default 256 KiB): no row holds more of it. */
  readonly chunkSize?: number;
  /**
   * The kind of database (default `'postgresql'`). `'distributed'`, for CockroachDB and the like: no
   * `NOTIFY` is sent and none listened for (changes from other processes arrive by polling), no advisory
   * lock is taken, every transaction is retried when the database aborts it as a serialization failure, and
   * an append stores the body in a transaction of its own before the message's, which can then be retried
   * (run `pruneOrphanBodies` for the bodies of appends a process died between).
   */
  readonly database?: DatabaseKind;
  /**
   * Milliseconds between looks for changes while a session follows a mailbox: one query for every mailbox
   * followed. Default 10,000 when notifications bring changes (a few milliseconds after their commit), where
   * the poll only catches up after one was lost (the listening connection dropped); 1,000 without them.
   */
  readonly pollInterval?: number;
  /** Seconds a maildrop lock lasts unless its holder renews it (default 60); a crashed holder's lapses. */
  readonly lockLease?: number;
  /**
   * Where message bodies go instead of the database (object storage): the database keeps each body's key,
   * size and parsed structure. Default: in the database, as chunk rows.
   */
  readonly blobs?: BlobStore;
  /**
   * A read replica (a hot standby of the database `sql` reaches) to read message bodies from. A body never
   * changes once stored, so a replica serves it as well as the primary does, and takes the heaviest reads
   * (FETCH) off it; a body, or the part of one, that the replica does not have yet (its replay is behind) is
   * read from `sql`. Everything else (the mailboxes' state, the change log, every write) stays on `sql`.
   */
  readonly replica?: SqlQueryable;
}

/**
 * A store of message bodies by key, such as an object storage bucket. A body is written whole before the
 * message's transaction commits, under a key never used before; one written by a process that then died is
 * never referred to, and is the application's to collect (keys are listed in `postwire_bodies.blob`).
 */
export interface BlobStore {
  /** Stores `source`, read to its end, under `key`. */
  put(key: string, source: AsyncIterable<Uint8Array>): Promise<void>;
  /** The bytes of `key` from `start` to `end` (exclusive). */
  get(
    key: string,
    range: { readonly start: number; readonly end: number },
  ): Promise<ReadableStream<Uint8Array>>;
  /** Removes `key`; a key that is not there is no error. */
  delete(key: string): Promise<void>;
}

/** A message up to this size is read ahead with the next ones in UID order (a FETCH of a range). */
const READ_AHEAD_MESSAGE = 64 * 1024;
/** How many octets one read-ahead query brings, and how many a mailbox's read-ahead holds at most. */
const READ_AHEAD_BATCH = 1024 * 1024;
const READ_AHEAD_BYTES = 4 * 1024 * 1024;

/** The channel every process listens on: a payload is a mailbox's row id. */
const CHANNEL = 'postwire_changes';

/** A message's entry in a process's index of a mailbox: the index's own, and where its bytes are. */
interface Entry extends IndexEntry {
  readonly body: number;
}

/**
 * Parsed structures a process keeps in memory per mailbox: a FETCH of a range asks for them again soon; the
 * others are read again from the database, where every one is kept.
 */
const KEPT_STRUCTURES = 1024;

/** How many changes one query of the log brings while catching up: memory is bounded however far behind. */
const CHANGES_PAGE = 2_000;

/** A row of `postwire_changes` as the driver gives it (bigint columns as text). */
interface ChangeRow {
  readonly id: string;
  readonly modseq: string;
  readonly change: StoredChange;
}

/** How one change is kept in `postwire_changes`. */
type StoredChange =
  | {
      readonly type: 'append';
      readonly uid: number;
      readonly id: string;
      readonly flags: readonly string[];
      readonly internalTime: number;
      readonly size: number;
      readonly body: number;
    }
  | { readonly type: 'flags'; readonly uid: number; readonly flags: readonly string[] }
  | { readonly type: 'expunge'; readonly uids: readonly number[] };

/**
 * What one process knows of a mailbox, shared by its sessions: an index kept up to date by replaying the
 * mailbox's changes in MODSEQ order (its own writes and other processes' alike), and the feed the sessions
 * follow.
 */
class MailboxState {
  readonly row: number;
  name: string;
  readonly index: MailboxIndex<Entry>;
  readonly feed = new ChangeFeed();
  /** Parsed structures by UID, the least recently used first, at most {@link KEPT_STRUCTURES}. */
  readonly structures = new Map<number, MessageStructure>();
  /**
   * Small messages read ahead of the sessions that fetch them, by UID, the oldest first: a FETCH of a range
   * costs one query per batch instead of one per message. At most {@link READ_AHEAD_BYTES} in all.
   */
  readonly readAhead = new Map<number, Promise<Uint8Array | undefined>>();
  gone = false;
  handles = 0;
  #replay: Promise<void> = Promise.resolve();

  constructor(row: number, name: string, index: MailboxIndex<Entry>) {
    this.row = row;
    this.name = name;
    this.index = index;
  }

  /** Reads and applies the changes past what the index holds; calls queue up, so they apply in order. */
  catchUp(sql: SqlClient): Promise<void> {
    const run = this.#replay.then(() => this.#apply(sql));
    // A failed catch-up (the connection lost) fails its caller, not the ones queued after it.
    this.#replay = run.catch(() => {});
    return run;
  }

  /**
   * Reads the mailbox again when the change log no longer holds what this process missed (see
   * `pruneChanges`), and tells the sessions what differs, as changes: expunges, then flag changes, then
   * appends, each with the database's MODSEQ.
   */
  async #reload(sql: SqlClient): Promise<void> {
    let fresh: MailboxIndex<Entry>;
    try {
      fresh = await loadIndex(sql, this.row, this.name);
    } catch (error) {
      if (error instanceof MailboxNotFoundError) this.end();
      else throw error;
      return;
    }
    const modseq = fresh.highestModseq;
    const gone = this.index
      .entries()
      .filter((entry) => !fresh.get(entry.uid))
      .map((entry) => entry.uid);
    if (gone.length > 0) {
      this.index.highestModseq = Math.max(this.index.highestModseq, modseq - 1);
      const removed = this.index.remove(gone);
      for (const uid of removed.uids) {
        this.structures.delete(uid);
        this.readAhead.delete(uid);
      }
      this.feed.publish({ type: 'expunge', uids: removed.uids, modseq });
    }
    for (const entry of fresh.entries()) {
      const known = this.index.get(entry.uid);
      if (known) {
        if (known.modseq === entry.modseq) continue;
        this.index.replaceFlags(known, entry.flags, entry.modseq);
        this.feed.publish({ type: 'flags', uid: entry.uid, flags: known.flags, modseq: entry.modseq });
      } else {
        const added = this.index.add({ ...entry }, entry.modseq);
        this.feed.publish({ type: 'append', message: messageInfo(added) });
      }
    }
    this.index.uidNext = Math.max(this.index.uidNext, fresh.uidNext);
    this.index.highestModseq = Math.max(this.index.highestModseq, modseq);
  }

  /** The mailbox was deleted: its sessions are told, and its feed ends. */
  end(): void {
    if (this.gone) return;
    this.gone = true;
    this.feed.publish({ type: 'gone' });
    this.feed.end();
  }

  async #apply(sql: SqlClient): Promise<void> {
    if (this.gone) return;
    const first = await sql.query<ChangeRow>(
      'SELECT id, modseq, change FROM postwire_changes WHERE mailbox = $1 AND modseq > $2 ORDER BY modseq, id LIMIT $3',
      [this.row, this.index.highestModseq, CHANGES_PAGE],
    );
    if (first.rows.length === 0) {
      const found = await sql.query<{ highest_modseq: string; name: string }>(
        'SELECT highest_modseq, name FROM postwire_mailboxes WHERE id = $1',
        [this.row],
      );
      const mailbox = found.rows[0];
      if (!mailbox) {
        this.end();
        return;
      }
      // Another process may have renamed the mailbox (a rename changes no MODSEQ).
      this.name = mailbox.name;
      // Changes happened that the log no longer holds (pruned): read the mailbox again.
      if (Number(mailbox.highest_modseq) > this.index.highestModseq) await this.#reload(sql);
      return;
    }
    // Every MODSEQ has its changes in the log: a first one past the next means some were pruned.
    if (Number(first.rows[0]!.modseq) > this.index.highestModseq + 1) {
      await this.#reload(sql);
      return;
    }
    // A process far behind reads the log a page at a time, from where the last page ended (a page may end
    // within one MODSEQ's changes).
    for (let { rows } = first; ; ) {
      this.#replayChanges(rows);
      if (rows.length < CHANGES_PAGE || this.gone) return;
      const last = rows[rows.length - 1]!;
      ({ rows } = await sql.query<ChangeRow>(
        `SELECT id, modseq, change FROM postwire_changes WHERE mailbox = $1 AND (modseq, id) > ($2, $3)
         ORDER BY modseq, id LIMIT $4`,
        [this.row, last.modseq, last.id, CHANGES_PAGE],
      ));
    }
  }

  /** Applies changes read from the log, in order, to the index, and tells the sessions. */
  #replayChanges(rows: readonly ChangeRow[]): void {
    for (const { modseq: text, change } of rows) {
      const modseq = Number(text);
      if (change.type === 'append') {
        if (this.index.get(change.uid)) continue;
        const entry = this.index.add(
          {
            id: change.id,
            flags: change.flags,
            internalTime: change.internalTime,
            size: change.size,
            uid: change.uid,
            body: change.body,
          },
          modseq,
        );
        this.feed.publish({ type: 'append', message: messageInfo(entry) });
      } else if (change.type === 'flags') {
        const entry = this.index.get(change.uid);
        if (entry) this.index.replaceFlags(entry, change.flags, modseq);
        else if (modseq > this.index.highestModseq) this.index.highestModseq = modseq;
        if (entry) this.feed.publish({ type: 'flags', uid: change.uid, flags: entry.flags, modseq });
      } else {
        // The index gives a removal the next MODSEQ: the one the database gave it.
        this.index.highestModseq = Math.max(this.index.highestModseq, modseq - 1);
        const removed = this.index.remove(change.uids);
        this.index.highestModseq = Math.max(this.index.highestModseq, modseq);
        for (const uid of removed.uids) {
          this.structures.delete(uid);
          this.readAhead.delete(uid);
        }
        if (removed.uids.length > 0) this.feed.publish({ type: 'expunge', uids: removed.uids, modseq });
      }
    }
  }
}

/**
 * A mail store on PostgreSQL, for many SMTP/LMTP, IMAP and POP3 processes over one set of mailboxes. Every
 * operation is one transaction; UIDs and MODSEQs come from the mailbox's row, locked for the moment of the
 * commit, so that concurrent appends from any number of processes never collide and leave no gap. Changes
 * reach every process's sessions through `LISTEN`/`NOTIFY`, read back from the change log from the last
 * MODSEQ seen, so that a lost notification delays a change but never drops it.
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<MailStore> {
  const { sql } = options;
  const database = options.database ?? 'postgresql';
  if (options.migrate) await migrate(sql, { database });
  const distributed = database === 'distributed';
  const settings = {
    quota: options.quota ?? {},
    chunkSize: options.chunkSize ?? 256 * 1024,
    lockLease: options.lockLease ?? 60,
    blobs: options.blobs,
    replica: options.replica,
    distributed,
  };
  const states = new Map<number, MailboxState>();
  const holder = newMessageId();
  // Notifications where the database has them and the driver can listen; polling alone otherwise.
  const listen = distributed ? undefined : sql.listen?.bind(sql);
  const stopListening = listen
    ? await listen(
        CHANNEL,
        (payload) => {
          const state = states.get(Number(payload));
          if (state) void state.catchUp(sql).catch(() => {});
        },
        // Listening again after the connection was lost: what was notified meanwhile is read from the log.
        () => void pollChanges(sql, states).catch(() => {}),
      )
    : async () => {};
  const poll = setInterval(
    () => void pollChanges(sql, states).catch(() => {}),
    options.pollInterval ?? (listen ? 10_000 : 1_000),
  );
  (poll as { unref?: () => void }).unref?.();
  const context: StoreContext = {
    sql,
    states,
    settings,
    holder,
    announce: distributed
      ? async () => {}
      : async (tx, row) => {
          await tx.query('SELECT pg_notify($1, $2)', [CHANNEL, String(row)]);
        },
  };
  return {
    async user(name) {
      const canonical = canonicalUserName(name);
      const userId = await transactWithRetry(sql, async (tx) => {
        const created = await tx.query<{ id: string }>(
          'INSERT INTO postwire_users (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id',
          [canonical],
        );
        if (created.rows.length === 0) {
          const found = await tx.query<{ id: string }>('SELECT id FROM postwire_users WHERE name = $1', [
            canonical,
          ]);
          return Number(found.rows[0]!.id);
        }
        const id = Number(created.rows[0]!.id);
        await insertMailbox(tx, id, 'INBOX');
        await tx.query('INSERT INTO postwire_subscriptions (user_id, name) VALUES ($1, $2)', [id, 'INBOX']);
        return id;
      });
      return new PostgresUser(context, canonical, userId);
    },
    async close() {
      clearInterval(poll);
      for (const state of states.values()) state.feed.end();
      states.clear();
      await stopListening();
    },
  };
}

/** What the users and mailboxes of one store share. */
interface StoreContext {
  readonly sql: SqlClient;
  readonly states: Map<number, MailboxState>;
  readonly settings: {
    readonly quota: QuotaLimits;
    readonly chunkSize: number;
    readonly lockLease: number;
    readonly blobs: BlobStore | undefined;
    readonly replica: SqlQueryable | undefined;
    readonly distributed: boolean;
  };
  /** Names this process in the maildrop locks it holds. */
  readonly holder: string;
  /** Tells the other processes, at commit, that a mailbox changed (`NOTIFY`; nothing on a distributed database). */
  readonly announce: (tx: SqlQueryable, row: number) => Promise<void>;
}

/**
 * Brings up to date every mailbox a session follows whose MODSEQ in the database is past its index's (or
 * that is gone), after one query for them all.
 */
async function pollChanges(sql: SqlClient, states: ReadonlyMap<number, MailboxState>): Promise<void> {
  const followed = [...states.values()].filter((state) => state.feed.active);
  if (followed.length === 0) return;
  const { rows } = await sql.query<{ id: string; highest_modseq: string }>(
    'SELECT id, highest_modseq FROM postwire_mailboxes WHERE id = ANY($1::bigint[])',
    [followed.map((state) => state.row)],
  );
  const modseqs = new Map(rows.map((row) => [Number(row.id), Number(row.highest_modseq)]));
  for (const state of followed) {
    const modseq = modseqs.get(state.row);
    if (modseq === undefined || modseq > state.index.highestModseq) void state.catchUp(sql).catch(() => {});
  }
}

async function insertMailbox(
  tx: SqlQueryable,
  userId: number,
  name: string,
  specialUse?: SpecialUse,
): Promise<number> {
  const { rows } = await tx.query<{ id: string }>(
    `INSERT INTO postwire_mailboxes (user_id, name, mailbox_id, uid_validity, special_use)
     VALUES ($1, $2, $3, $4, $5) RETURNING id`,
    [userId, name, newMailboxId(), nextUidValidity(), specialUse ?? null],
  );
  return Number(rows[0]!.id);
}

/** A mailbox's row, and its name for the error when the row is gone. */
interface MailboxRow {
  readonly row: number;
  readonly name: string;
}

/** Takes the next MODSEQ (and `uids` UIDs) of a mailbox; its row stays locked until the transaction ends. */
async function advance(
  tx: SqlQueryable,
  { row, name }: MailboxRow,
  uids = 0,
): Promise<{ modseq: number; firstUid: number; uidValidity: number }> {
  const { rows } = await tx.query<{ modseq: string; first_uid: string; uid_validity: string }>(
    `UPDATE postwire_mailboxes SET highest_modseq = highest_modseq + 1, uid_next = uid_next + $2
     WHERE id = $1 RETURNING highest_modseq AS modseq, uid_next - $2 AS first_uid, uid_validity`,
    [row, uids],
  );
  if (rows.length === 0) throw new MailboxNotFoundError(name);
  return {
    modseq: Number(rows[0]!.modseq),
    firstUid: Number(rows[0]!.first_uid),
    uidValidity: Number(rows[0]!.uid_validity),
  };
}

async function recordChanges(
  tx: SqlQueryable,
  row: number,
  modseq: number,
  changes: StoredChange[],
): Promise<void> {
  if (changes.length === 0) return;
  await tx.query(
    // JSON travels as text, cast by the database: a driver that serialises jsonb parameters itself (postgres.js)
    // would otherwise encode the text again, as a JSON string.
    'INSERT INTO postwire_changes (mailbox, modseq, change) SELECT $1, $2, value FROM jsonb_array_elements($3::text::jsonb)',
    [row, modseq, JSON.stringify(changes)],
  );
}

/** PostgreSQL's `unique_violation` (SQLSTATE 23505), as drivers report it in `code`. */
function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '23505';
}

/** Deletes bodies that no message refers to any more; resolves with the blob keys of those that had one. */
async function dropOrphanBodies(tx: SqlQueryable, bodies: readonly number[]): Promise<string[]> {
  if (bodies.length === 0) return [];
  const { rows } = await tx.query<{ blob: string | null }>(
    `DELETE FROM postwire_bodies b WHERE b.id = ANY($1::bigint[])
     AND NOT EXISTS (SELECT 1 FROM postwire_messages m WHERE m.body = b.id) RETURNING blob`,
    [bodies],
  );
  return rows.flatMap((row) => (row.blob === null ? [] : [row.blob]));
}

/** A new body row (in the blob store under `blob`, or in chunk rows to come); resolves with its id. */
async function insertBody(tx: SqlQueryable, blob: string | null): Promise<number> {
  const { rows } = await tx.query<{ id: string }>(
    'INSERT INTO postwire_bodies (blob) VALUES ($1) RETURNING id',
    [blob],
  );
  return Number(rows[0]!.id);
}

/** Stores the chunk of `body` that starts at octet `start`. */
async function insertChunk(tx: SqlQueryable, body: number, start: number, data: Uint8Array): Promise<void> {
  await tx.query('INSERT INTO postwire_body_chunks (body, start, data) VALUES ($1, $2, $3)', [
    body,
    start,
    data,
  ]);
}

/** Writes a message to the blob store under a new key, counting its octets as they go. */
async function putBlob(blobs: BlobStore, source: MessageSource): Promise<{ key: string; size: number }> {
  const key = newMessageId();
  let size = 0;
  await blobs.put(
    key,
    (async function* () {
      for await (const chunk of sourceChunks(source)) {
        size += chunk.length;
        yield chunk;
      }
    })(),
  );
  return { key, size };
}

/**
 * Cuts a message into chunks of `chunkSize` octets as it arrives, never whole in memory, and gives each to
 * `write` with its offset; resolves with the message's size.
 */
async function storeChunks(
  source: MessageSource,
  chunkSize: number,
  write: (start: number, data: Uint8Array) => Promise<void>,
): Promise<number> {
  let size = 0;
  let pending: Uint8Array[] = [];
  let pendingSize = 0;
  const flush = async (): Promise<void> => {
    if (pendingSize === 0) return;
    await write(size - pendingSize, concatBytes(pending));
    pending = [];
    pendingSize = 0;
  };
  for await (const chunk of sourceChunks(source)) {
    for (let offset = 0; offset < chunk.length; ) {
      const piece = chunk.subarray(offset, offset + chunkSize - pendingSize);
      pending.push(piece);
      pendingSize += piece.length;
      size += piece.length;
      offset += piece.length;
      if (pendingSize === chunkSize) await flush();
    }
  }
  await flush();
  return size;
}

/**
 * The whole bodies of `entries`, by body id, in one query (of the replica, when there is one; then of the
 * primary for the bodies the replica does not have whole yet). A body found nowhere is left out.
 */
async function readBodies(
  context: StoreContext,
  entries: readonly Entry[],
): Promise<Map<number, Uint8Array>> {
  const sizes = new Map(entries.map((entry) => [entry.body, entry.size]));
  const read = async (from: SqlQueryable, ids: readonly number[], into: Map<number, Uint8Array>) => {
    const { rows } = await from.query<{ body: string; data: Uint8Array }>(
      'SELECT body, data FROM postwire_body_chunks WHERE body = ANY($1::bigint[]) ORDER BY body, start',
      [ids],
    );
    const parts = new Map<number, Uint8Array[]>();
    for (const row of rows) {
      const list = parts.get(Number(row.body)) ?? [];
      list.push(new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength));
      parts.set(Number(row.body), list);
    }
    for (const [body, list] of parts) {
      const bytes = concatBytes(list);
      if (bytes.length === sizes.get(body)) into.set(body, bytes);
    }
  };
  const bodies = new Map<number, Uint8Array>();
  const { sql, settings } = context;
  // A replica that fails (down, or a query cancelled by its replay) is a replica that lacks them all.
  await read(settings.replica ?? sql, [...sizes.keys()], bodies).catch((error: unknown) => {
    if (!settings.replica) throw error;
  });
  const missing = [...sizes.keys()].filter((body) => !bodies.has(body));
  if (settings.replica && missing.length > 0) await read(sql, missing, bodies);
  return bodies;
}

/** Removes blobs whose bodies are gone (after the commit that dropped them); a failure leaves garbage, no harm. */
async function deleteBlobs(blobs: BlobStore | undefined, keys: readonly string[]): Promise<void> {
  if (blobs) await Promise.all(keys.map((key) => blobs.delete(key).catch(() => {})));
}

class PostgresUser implements UserMail {
  readonly user: string;
  readonly #context: StoreContext;
  readonly #id: number;

  constructor(context: StoreContext, user: string, id: number) {
    this.#context = context;
    this.user = user;
    this.#id = id;
  }

  async list(): Promise<MailboxListEntry[]> {
    const { sql } = this.#context;
    const mailboxes = await sql.query<{ name: string; special_use: SpecialUse | null }>(
      'SELECT name, special_use FROM postwire_mailboxes WHERE user_id = $1',
      [this.#id],
    );
    const subscriptions = await sql.query<{ name: string }>(
      'SELECT name FROM postwire_subscriptions WHERE user_id = $1',
      [this.#id],
    );
    return mailboxListEntries(
      new Map(mailboxes.rows.map((row) => [row.name, row.special_use ?? undefined] as const)),
      subscriptions.rows.map((row) => row.name),
    );
  }

  async create(name: string, options: { specialUse?: SpecialUse } = {}): Promise<void> {
    const canonical = canonicalMailboxName(name);
    await transactWithRetry(this.#context.sql, async (tx) => {
      if (await this.#find(tx, canonical)) throw new MailboxExistsError(canonical);
      for (const parent of parentNames(canonical)) {
        if (!(await this.#find(tx, parent))) await insertMailbox(tx, this.#id, parent);
      }
      await insertMailbox(tx, this.#id, canonical, options.specialUse);
    }).catch((error: unknown) => {
      // Another process created it (or a parent) between the look and the insert.
      throw isUniqueViolation(error) ? new MailboxExistsError(canonical) : error;
    });
  }

  async delete(name: string): Promise<void> {
    const canonical = canonicalMailboxName(name);
    if (canonical === 'INBOX') throw new StoreRefusedError('INBOX cannot be deleted');
    const { row, blobs } = await transactWithRetry(this.#context.sql, async (tx) => {
      const found = await this.#find(tx, canonical);
      if (!found) throw new MailboxNotFoundError(canonical);
      const lock = await tx.query('SELECT 1 FROM postwire_locks WHERE mailbox = $1 AND expires > now()', [
        found,
      ]);
      if (lock.rows.length > 0) throw new MailboxInUseError();
      const bodies = await tx.query<{ body: string }>(
        'SELECT DISTINCT body FROM postwire_messages WHERE mailbox = $1',
        [found],
      );
      await tx.query('DELETE FROM postwire_mailboxes WHERE id = $1', [found]);
      const orphans = await dropOrphanBodies(
        tx,
        bodies.rows.map((each) => Number(each.body)),
      );
      await this.#context.announce(tx, found);
      return { row: found, blobs: orphans };
    });
    this.#context.states.get(row)?.end();
    await deleteBlobs(this.#context.settings.blobs, blobs);
  }

  async rename(from: string, to: string): Promise<void> {
    const source = canonicalMailboxName(from);
    const target = canonicalMailboxName(to);
    if (target.startsWith(`${source}/`)) throw new StoreRefusedError('a mailbox cannot move under itself');
    let inbox: number | undefined;
    await transactWithRetry(this.#context.sql, async (tx) => {
      inbox = undefined;
      const found = await this.#find(tx, source);
      if (!found) throw new MailboxNotFoundError(source);
      if (await this.#find(tx, target)) throw new MailboxExistsError(target);
      for (const parent of parentNames(target)) {
        if (!(await this.#find(tx, parent))) await insertMailbox(tx, this.#id, parent);
      }
      if (source !== 'INBOX') {
        await tx.query(
          `UPDATE postwire_mailboxes SET name = $3 || substr(name, length($2) + 1)
           WHERE user_id = $1 AND (name = $2 OR name LIKE $4 ESCAPE '\\')`,
          [this.#id, source, target, `${source.replace(/[\\%_]/g, '\\$&')}/%`],
        );
        return;
      }
      // RFC 9051 §6.3.6: INBOX's messages move to a new mailbox (a new id, RFC 8474 §4); INBOX stays, empty.
      const moved = await insertMailbox(tx, this.#id, target);
      const messages = await tx.query<{ uid: string }>(
        'SELECT uid FROM postwire_messages WHERE mailbox = $1 ORDER BY uid FOR UPDATE',
        [found],
      );
      const uids = messages.rows.map((each) => Number(each.uid));
      if (uids.length === 0) return;
      const into = await advance(tx, { row: moved, name: target }, uids.length);
      await tx.query(
        `INSERT INTO postwire_messages (mailbox, uid, message_id, body, flags, internal_time, size, modseq)
         SELECT $2, $3 + row_number() OVER (ORDER BY uid) - 1, message_id, body, flags, internal_time, size, $4
         FROM postwire_messages WHERE mailbox = $1`,
        [found, moved, into.firstUid, into.modseq],
      );
      await recordAppends(tx, moved, into.modseq);
      const out = await advance(tx, { row: found, name: source });
      await tx.query('DELETE FROM postwire_messages WHERE mailbox = $1', [found]);
      await recordChanges(tx, found, out.modseq, [{ type: 'expunge', uids }]);
      await this.#context.announce(tx, moved);
      await this.#context.announce(tx, found);
      inbox = found;
    }).catch((error: unknown) => {
      // Another process created the target (or a parent of it) between the look and the rename.
      throw isUniqueViolation(error) ? new MailboxExistsError(target) : error;
    });
    if (inbox !== undefined) {
      await this.#context.states.get(inbox)?.catchUp(this.#context.sql);
      return;
    }
    for (const state of this.#context.states.values()) {
      if (state.name === source || state.name.startsWith(`${source}/`))
        state.name = target + state.name.slice(source.length);
    }
  }

  async subscribe(name: string): Promise<void> {
    await this.#context.sql.query(
      'INSERT INTO postwire_subscriptions (user_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING',
      [this.#id, canonicalMailboxName(name)],
    );
  }

  async unsubscribe(name: string): Promise<void> {
    await this.#context.sql.query('DELETE FROM postwire_subscriptions WHERE user_id = $1 AND name = $2', [
      this.#id,
      canonicalMailboxName(name),
    ]);
  }

  async status(name: string): Promise<MailboxStatus> {
    const canonical = canonicalMailboxName(name);
    const row = await this.#find(this.#context.sql, canonical);
    if (!row) throw new MailboxNotFoundError(canonical);
    // A mailbox this process follows answers from its index, as its sessions see it; any other from the
    // database, without loading an index.
    const state = this.#context.states.get(row);
    if (state) {
      await state.catchUp(this.#context.sql);
      return state.index.status();
    }
    const { rows } = await this.#context.sql.query<Record<string, string>>(
      `SELECT b.mailbox_id, b.uid_validity, b.uid_next, b.highest_modseq, count(m.uid) AS messages,
         count(m.uid) FILTER (WHERE NOT '\\Seen' = ANY(m.flags)) AS unseen,
         count(m.uid) FILTER (WHERE '\\Deleted' = ANY(m.flags)) AS deleted, coalesce(sum(m.size), 0) AS size
       FROM postwire_mailboxes b LEFT JOIN postwire_messages m ON m.mailbox = b.id
       WHERE b.id = $1 GROUP BY b.id`,
      [row],
    );
    const found = rows[0];
    if (!found) throw new MailboxNotFoundError(canonical);
    return {
      mailboxId: found.mailbox_id!,
      uidValidity: Number(found.uid_validity),
      uidNext: Number(found.uid_next),
      highestModseq: Number(found.highest_modseq),
      messages: Number(found.messages),
      unseen: Number(found.unseen),
      size: Number(found.size),
      deleted: Number(found.deleted),
    };
  }

  async open(name: string): Promise<Mailbox> {
    const canonical = canonicalMailboxName(name);
    const row = await this.#find(this.#context.sql, canonical);
    if (!row) throw new MailboxNotFoundError(canonical);
    const state = await loadState(this.#context, row, canonical);
    return new PostgresMailbox(this.#context, this, state);
  }

  quota(): Promise<QuotaUsage> {
    return this.#usage(this.#context.sql);
  }

  async #usage(sql: SqlQueryable): Promise<QuotaUsage> {
    const { rows } = await sql.query<{ messages: string; storage: string }>(
      `SELECT count(*) AS messages, coalesce(sum(m.size), 0) AS storage
       FROM postwire_messages m JOIN postwire_mailboxes b ON m.mailbox = b.id WHERE b.user_id = $1`,
      [this.#id],
    );
    const { quota } = this.#context.settings;
    return {
      storage: Number(rows[0]!.storage),
      messages: Number(rows[0]!.messages),
      ...(quota.storage !== undefined ? { storageLimit: quota.storage } : {}),
      ...(quota.messages !== undefined ? { messageLimit: quota.messages } : {}),
    };
  }

  /** Nothing is held per user: each mailbox's state goes with its last handle. */
  async release(): Promise<void> {}

  /** Throws when adding `messages` messages of `size` octets in all would exceed the quota, counted in `tx`. */
  async checkQuota(tx: SqlQueryable, size: number, messages: number): Promise<void> {
    const limits = this.#context.settings.quota;
    if (limits.storage === undefined && limits.messages === undefined) return;
    // The user's row stays locked to the commit: concurrent appends of one user are counted one at a time.
    await tx.query('SELECT 1 FROM postwire_users WHERE id = $1 FOR UPDATE', [this.#id]);
    await assertWithinQuota(() => this.#usage(tx), limits, size, messages);
  }

  /** The row id of the user's mailbox of this name, if it exists. */
  async find(name: string): Promise<number | undefined> {
    return this.#find(this.#context.sql, canonicalMailboxName(name));
  }

  async #find(sql: SqlQueryable, name: string): Promise<number | undefined> {
    const { rows } = await sql.query<{ id: string }>(
      'SELECT id FROM postwire_mailboxes WHERE user_id = $1 AND name = $2',
      [this.#id, name],
    );
    return rows[0] ? Number(rows[0].id) : undefined;
  }
}

/** A row of `postwire_messages` as the driver gives it (bigint columns as text), less its MODSEQ. */
interface MessageRow {
  readonly uid: string;
  readonly message_id: string;
  readonly body: string;
  readonly flags: string[];
  readonly internal_time: string;
  readonly size: string;
}

/** What a copy of a message takes from the original: all but its UID and MODSEQ. */
interface CopiedMessage {
  readonly id: string;
  readonly body: number;
  readonly flags: readonly string[];
  readonly internalTime: number;
  readonly size: number;
}

/** What a copy takes from a message's row, with the message's UID. */
function copiedMessage(row: MessageRow): CopiedMessage & { readonly uid: number } {
  return {
    uid: Number(row.uid),
    id: row.message_id,
    body: Number(row.body),
    flags: row.flags,
    internalTime: Number(row.internal_time),
    size: Number(row.size),
  };
}

/** The UIDVALIDITY of a mailbox, by its row id. */
async function uidValidityOf(tx: SqlQueryable, mailbox: number): Promise<number> {
  const { rows } = await tx.query<{ uid_validity: string }>(
    'SELECT uid_validity FROM postwire_mailboxes WHERE id = $1',
    [mailbox],
  );
  return Number(rows[0]!.uid_validity);
}

/**
 * Inserts copies of `messages` into `destination`, in order, with the next UIDs and one new MODSEQ, and
 * records their appends. A copy keeps its original's message id unless the destination already has one
 * with that id (a second copy of the same message).
 */
async function insertCopies(
  tx: SqlQueryable,
  destination: MailboxRow,
  messages: readonly CopiedMessage[],
): Promise<{ uidValidity: number; targetUids: number[] }> {
  const into = await advance(tx, destination, messages.length);
  const present = await tx.query<{ message_id: string }>(
    'SELECT message_id FROM postwire_messages WHERE mailbox = $1 AND message_id = ANY($2::text[])',
    [destination.row, messages.map((message) => message.id)],
  );
  const taken = new Set(present.rows.map((each) => each.message_id));
  const targetUids = messages.map((_, i) => into.firstUid + i);
  for (const [i, message] of messages.entries()) {
    await tx.query(
      `INSERT INTO postwire_messages (mailbox, uid, message_id, body, flags, internal_time, size, modseq)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        destination.row,
        targetUids[i],
        taken.has(message.id) ? newMessageId() : message.id,
        message.body,
        [...message.flags],
        message.internalTime,
        message.size,
        into.modseq,
      ],
    );
  }
  await recordAppends(tx, destination.row, into.modseq);
  return { uidValidity: into.uidValidity, targetUids };
}

/** Records an append change for every message of `mailbox` at `modseq` (a copy, a move, INBOX's rename). */
async function recordAppends(tx: SqlQueryable, mailbox: number, modseq: number): Promise<void> {
  await tx.query(
    `INSERT INTO postwire_changes (mailbox, modseq, change)
     SELECT mailbox, modseq, jsonb_build_object('type', 'append', 'uid', uid, 'id', message_id, 'flags', to_jsonb(flags),
       'internalTime', internal_time, 'size', size, 'body', body)
     FROM postwire_messages WHERE mailbox = $1 AND modseq = $2 ORDER BY uid`,
    [mailbox, modseq],
  );
}

/** A mailbox's index as the database holds it now, read in one snapshot. */
async function loadIndex(sql: SqlClient, row: number, name: string): Promise<MailboxIndex<Entry>> {
  return transactWithRetry(sql, async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
    const mailbox = await tx.query<{
      mailbox_id: string;
      uid_validity: string;
      uid_next: string;
      highest_modseq: string;
    }>('SELECT mailbox_id, uid_validity, uid_next, highest_modseq FROM postwire_mailboxes WHERE id = $1', [
      row,
    ]);
    if (!mailbox.rows[0]) throw new MailboxNotFoundError(name);
    const { mailbox_id, uid_validity, uid_next, highest_modseq } = mailbox.rows[0];
    const index = new MailboxIndex<Entry>(Number(uid_validity), mailbox_id);
    const messages = await tx.query<MessageRow & { modseq: string }>(
      'SELECT uid, message_id, body, flags, internal_time, size, modseq FROM postwire_messages WHERE mailbox = $1 ORDER BY uid',
      [row],
    );
    for (const message of messages.rows) {
      index.add(
        {
          id: message.message_id,
          flags: message.flags,
          internalTime: Number(message.internal_time),
          size: Number(message.size),
          uid: Number(message.uid),
          body: Number(message.body),
        },
        Number(message.modseq),
      );
    }
    index.uidNext = Number(uid_next);
    index.highestModseq = Number(highest_modseq);
    return index;
  });
}

/**
 * The process's state of a mailbox, loaded from the database on first use, then kept up to date; counted
 * as one more handle on it (see {@link releaseState}).
 */
async function loadState(context: StoreContext, row: number, name: string): Promise<MailboxState> {
  const known = context.states.get(row);
  if (known) {
    // Counted before the catch-up: the last other session closing meanwhile must not make the process
    // forget the state this one is about to use.
    known.handles++;
    try {
      await known.catchUp(context.sql);
    } catch (error) {
      releaseState(context, known);
      throw error;
    }
    return known;
  }
  const loaded = new MailboxState(row, name, await loadIndex(context.sql, row, name));
  // Another session may have loaded it meanwhile: one state per mailbox.
  const state = context.states.get(row) ?? loaded;
  context.states.set(row, state);
  state.handles++;
  return state;
}

/** Uncounts a handle on a mailbox's state: with the last one, the process forgets the mailbox. */
function releaseState(context: StoreContext, state: MailboxState): void {
  if (--state.handles === 0 && context.states.get(state.row) === state) context.states.delete(state.row);
}

class PostgresMailbox implements Mailbox {
  readonly #context: StoreContext;
  readonly #user: PostgresUser;
  readonly #state: MailboxState;
  readonly #closed = new AbortController();

  /** Takes over the handle on `state` that {@link loadState} counted. */
  constructor(context: StoreContext, user: PostgresUser, state: MailboxState) {
    this.#context = context;
    this.#user = user;
    this.#state = state;
  }

  get name(): string {
    return this.#state.name;
  }

  async status(): Promise<MailboxStatus> {
    return this.#live().index.status();
  }

  async messages(uids?: readonly number[]): Promise<MessageInfo[]> {
    return this.#live().index.entries(uids).map(messageInfo);
  }

  async append(source: MessageSource, options: AppendOptions = {}): Promise<AppendResult> {
    const state = this.#live();
    const flags = canonicalFlags(options.flags ?? []);
    const internalTime = (options.internalDate ?? new Date()).getTime();
    const { sql, settings } = this.#context;
    const id = newMessageId();
    /** Records the message whose body is stored (as `body`, of `size` octets), in the transaction `tx`. */
    const commit = async (tx: SqlQueryable, body: number, size: number): Promise<AppendResult> => {
      await tx.query('UPDATE postwire_bodies SET size = $2 WHERE id = $1', [body, size]);
      await this.#user.checkQuota(tx, size, 1);
      // The mailbox's row is locked from here to the commit: UIDs are given in commit order.
      const { modseq, firstUid: uid, uidValidity } = await advance(tx, state, 1);
      await tx.query(
        `INSERT INTO postwire_messages (mailbox, uid, message_id, body, flags, internal_time, size, modseq)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [state.row, uid, id, body, flags, internalTime, size, modseq],
      );
      await recordChanges(tx, state.row, modseq, [
        { type: 'append', uid, id, flags, internalTime, size, body },
      ]);
      await this.#context.announce(tx, state.row);
      return { uid, id, uidValidity, modseq };
    };
    let result: AppendResult;
    if (!settings.blobs && !settings.distributed) {
      // One transaction: the body's chunks as the message arrives, then the message.
      result = await sql.transaction(async (tx) => {
        const body = await insertBody(tx, null);
        const size = await storeChunks(source, settings.chunkSize, (start, data) =>
          insertChunk(tx, body, start, data),
        );
        return commit(tx, body, size);
      });
    } else {
      // The body first, outside the message's transaction, which can then run again: to the blob store, or
      // into chunk rows, each in a transaction of its own (run again, too, while its chunk is at hand).
      const blob = settings.blobs ? await putBlob(settings.blobs, source) : undefined;
      let body: number | undefined;
      try {
        let size = blob?.size ?? 0;
        if (!blob) {
          const row = await transactWithRetry(sql, (tx) => insertBody(tx, null));
          body = row;
          size = await storeChunks(source, settings.chunkSize, (start, data) =>
            transactWithRetry(sql, (tx) => insertChunk(tx, row, start, data)),
          );
        }
        result = await transactWithRetry(sql, async (tx) =>
          commit(tx, body ?? (await insertBody(tx, blob!.key)), size),
        );
      } catch (error) {
        // A COMMIT whose answer was lost may have gone through: a blob a row names stays.
        if (blob) {
          const named = await sql.query('SELECT 1 FROM postwire_bodies WHERE blob = $1', [blob.key]).then(
            ({ rows }) => rows.length > 0,
            () => true,
          );
          if (!named) await deleteBlobs(settings.blobs, [blob.key]);
        }
        if (body !== undefined) await dropOrphanBodies(sql, [body]).catch(() => {});
        throw error;
      }
    }
    await state.catchUp(sql);
    return result;
  }

  read(uid: number, range: ByteRange = { start: 0 }): ReadableStream<Uint8Array> {
    const entry = this.#entry(uid);
    const end = Math.min(range.end ?? entry.size, entry.size);
    let next = Math.min(range.start, end);
    const { sql, settings } = this.#context;
    // With a blob store, the body's key is looked up first: `null` once known to be in chunk rows.
    let blob: ReadableStreamDefaultReader<Uint8Array> | null | undefined = settings.blobs ? undefined : null;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (next >= end) {
          controller.close();
          return;
        }
        if (blob === undefined) {
          const { rows } = await sql.query<{ blob: string | null }>(
            'SELECT blob FROM postwire_bodies WHERE id = $1',
            [entry.body],
          );
          const key = rows[0]?.blob;
          blob = key ? (await settings.blobs!.get(key, { start: next, end })).getReader() : null;
        }
        if (blob) {
          const { done, value } = await blob.read();
          if (done) controller.close();
          else controller.enqueue(value);
          return;
        }
        const chunks = (from: SqlQueryable) =>
          from.query<{ start: string; data: Uint8Array }>(
            `SELECT start, data FROM postwire_body_chunks WHERE body = $1 AND start + length(data) > $2 AND start < $3
             ORDER BY start LIMIT 4`,
            [entry.body, next, end],
          );
        // A replica that fails (down, or a query cancelled by its replay) is one that lacks the chunks.
        let { rows } = settings.replica
          ? await chunks(settings.replica).catch(() => ({ rows: [] }))
          : await chunks(sql);
        // A replica that lacks the chunk where the read goes on is behind: the primary has it.
        if (settings.replica && (rows.length === 0 || Number(rows[0]!.start) > next))
          ({ rows } = await chunks(sql));
        if (rows.length === 0) {
          controller.close();
          return;
        }
        for (const row of rows) {
          const start = Number(row.start);
          // A chunk the replica does not have yet: the next pull asks again from here.
          if (start > next) break;
          const data = new Uint8Array(row.data.buffer, row.data.byteOffset, row.data.byteLength);
          const piece = data.subarray(Math.max(0, next - start), Math.min(data.length, end - start));
          if (piece.length > 0) controller.enqueue(piece);
          next = start + Math.min(data.length, end - start);
        }
      },
    });
  }

  async readBytes(uid: number, range: ByteRange = { start: 0 }): Promise<Uint8Array> {
    const entry = this.#entry(uid);
    if (entry.size <= READ_AHEAD_MESSAGE && !this.#context.settings.blobs) {
      const whole = await this.#readAhead(entry);
      if (whole)
        return whole.subarray(
          Math.min(range.start, whole.length),
          Math.min(range.end ?? whole.length, whole.length),
        );
    }
    const chunks: Uint8Array[] = [];
    for await (const chunk of this.read(uid, range) as unknown as AsyncIterable<Uint8Array>)
      chunks.push(chunk);
    return concatBytes(chunks);
  }

  /**
   * A small message whole, from the mailbox's read-ahead: on a miss, it and the small messages after it in
   * UID order (up to {@link READ_AHEAD_BATCH} octets) come in one query, for the reads that follow.
   */
  async #readAhead(entry: Entry): Promise<Uint8Array | undefined> {
    const state = this.#state;
    const held = state.readAhead.get(entry.uid);
    if (held) return held;
    const batch: Entry[] = [];
    let octets = 0;
    for (const next of state.index.entries()) {
      if (next.uid < entry.uid || next.size > READ_AHEAD_MESSAGE || state.readAhead.has(next.uid)) continue;
      if (batch.length > 0 && octets + next.size > READ_AHEAD_BATCH) break;
      batch.push(next);
      octets += next.size;
    }
    const loaded = readBodies(this.#context, batch);
    // A failed read-ahead is forgotten, and its reads go to the chunks one by one.
    const forget = (): undefined => {
      for (const each of batch) state.readAhead.delete(each.uid);
      return undefined;
    };
    for (const each of batch) {
      state.readAhead.set(
        each.uid,
        loaded.then((bodies) => bodies.get(each.body), forget),
      );
    }
    // The oldest go first once the read-ahead holds too much.
    let total = [...state.readAhead.keys()].reduce((sum, uid) => sum + (state.index.get(uid)?.size ?? 0), 0);
    for (const uid of state.readAhead.keys()) {
      if (total <= READ_AHEAD_BYTES) break;
      if (batch.some((each) => each.uid === uid)) continue;
      total -= state.index.get(uid)?.size ?? 0;
      state.readAhead.delete(uid);
    }
    return state.readAhead.get(entry.uid);
  }

  async structure(uid: number): Promise<MessageStructure> {
    const state = this.#live();
    const entry = this.#entry(uid);
    const cached = state.structures.get(uid);
    if (cached) {
      // The most recently used go last: the first are the ones let go.
      state.structures.delete(uid);
      state.structures.set(uid, cached);
      return cached;
    }
    const { sql } = this.#context;
    const { rows } = await sql.query<{ structure: MessageStructure | null }>(
      'SELECT structure FROM postwire_bodies WHERE id = $1',
      [entry.body],
    );
    let structure = rows[0]?.structure ?? undefined;
    if (!structure) {
      structure = describeMessage(await this.readBytes(uid));
      // Kept beside the message, for every process and every copy: parsed once. Only a cache: when the
      // write fails (a concurrent one aborted it), the next FETCH parses again.
      await sql
        .query('UPDATE postwire_bodies SET structure = $2::text::jsonb WHERE id = $1', [
          entry.body,
          JSON.stringify(structure),
        ])
        .catch(() => {});
    }
    state.structures.set(uid, structure);
    if (state.structures.size > KEPT_STRUCTURES)
      state.structures.delete(state.structures.keys().next().value!);
    return structure;
  }

  async structures(uids: readonly number[]): Promise<(MessageStructure | undefined)[]> {
    const state = this.#live();
    return Promise.all(uids.map((uid) => (state.index.get(uid) ? this.structure(uid) : undefined)));
  }

  async setFlags(
    uids: readonly number[],
    operation: FlagOperation,
    flags: readonly string[],
    options: SetFlagsOptions = {},
  ): Promise<SetFlagsResult> {
    const state = this.#live();
    const wanted = canonicalFlags(flags);
    const { sql } = this.#context;
    const result = await transactWithRetry(sql, async (tx) => {
      // The mailbox's row first: no other change of it runs until this one commits.
      const locked = await tx.query<{ highest_modseq: string }>(
        'SELECT highest_modseq FROM postwire_mailboxes WHERE id = $1 FOR UPDATE',
        [state.row],
      );
      if (!locked.rows[0]) throw new MailboxNotFoundError(state.name);
      const { rows } = await tx.query<{ uid: string; flags: string[]; modseq: string }>(
        'SELECT uid, flags, modseq FROM postwire_messages WHERE mailbox = $1 AND uid = ANY($2::bigint[]) ORDER BY uid',
        [state.row, [...uids]],
      );
      // The same rules as every backend (the index's), applied to the rows as they are now.
      const current = new MailboxIndex(0, '');
      for (const row of rows) {
        current.add(
          { id: '', flags: row.flags, internalTime: 0, size: 0, uid: Number(row.uid) },
          Number(row.modseq),
        );
      }
      current.highestModseq = Number(locked.rows[0].highest_modseq);
      const outcome = current.setFlags(uids, operation, wanted, options.unchangedSince);
      if (outcome.changed.length === 0) return outcome;
      const { modseq } = await advance(tx, state);
      for (const change of outcome.changed) {
        await tx.query(
          'UPDATE postwire_messages SET flags = $3, modseq = $4 WHERE mailbox = $1 AND uid = $2',
          [state.row, change.uid, change.flags, modseq],
        );
      }
      await recordChanges(
        tx,
        state.row,
        modseq,
        outcome.changed.map((change) => ({ type: 'flags', uid: change.uid, flags: change.flags })),
      );
      await this.#context.announce(tx, state.row);
      return outcome;
    });
    await state.catchUp(sql);
    return result;
  }

  async copy(uids: readonly number[], target: string): Promise<CopyResult> {
    const state = this.#live();
    const { sql } = this.#context;
    const destination = await this.#user.find(target);
    if (destination === undefined) throw new MailboxNotFoundError(canonicalMailboxName(target));
    const entries = state.index.entries(uids);
    if (entries.length === 0) {
      const { uidValidity } = await this.#user.status(target);
      return { uidValidity, sourceUids: [], targetUids: [] };
    }
    const result = await transactWithRetry(sql, async (tx) => {
      // The messages as the database holds them now, kept from an expunge until the commit: one another
      // process expunged before this one heard of it (its body maybe gone with it) is not copied.
      const { rows } = await tx.query<MessageRow>(
        `SELECT uid, message_id, body, flags, internal_time, size FROM postwire_messages
         WHERE mailbox = $1 AND uid = ANY($2::bigint[]) ORDER BY uid FOR SHARE`,
        [state.row, entries.map((entry) => entry.uid)],
      );
      const messages = rows.map(copiedMessage);
      if (messages.length === 0) {
        return { uidValidity: await uidValidityOf(tx, destination), sourceUids: [], targetUids: [] };
      }
      await this.#user.checkQuota(
        tx,
        messages.reduce((sum, message) => sum + message.size, 0),
        messages.length,
      );
      const copied = await insertCopies(
        tx,
        { row: destination, name: canonicalMailboxName(target) },
        messages,
      );
      await this.#context.announce(tx, destination);
      return { ...copied, sourceUids: messages.map((message) => message.uid) };
    });
    await this.#context.states.get(destination)?.catchUp(sql);
    return result;
  }

  /**
   * COPY and EXPUNGE in one transaction: a process that dies in the middle leaves every message where it
   * was. The source's rows are deleted first, and what they held (not what this process's index says) is
   * what the target gets: a message another process expunged meanwhile is not moved. A move adds nothing
   * to the user's usage: it is not refused for the quota.
   */
  async move(uids: readonly number[], target: string): Promise<CopyResult> {
    const state = this.#live();
    const { sql } = this.#context;
    const destination = await this.#user.find(target);
    if (destination === undefined) throw new MailboxNotFoundError(canonicalMailboxName(target));
    const entries = state.index.entries(uids);
    const result = await transactWithRetry(sql, async (tx) => {
      // The mailbox's row before its messages', as every other change takes them: no deadlock between them.
      await tx.query('SELECT 1 FROM postwire_mailboxes WHERE id = $1 FOR UPDATE', [state.row]);
      const { rows } = await tx.query<MessageRow>(
        `DELETE FROM postwire_messages WHERE mailbox = $1 AND uid = ANY($2::bigint[])
         RETURNING uid, message_id, body, flags, internal_time, size`,
        [state.row, entries.map((entry) => entry.uid)],
      );
      const moved = rows.map(copiedMessage).sort((a, b) => a.uid - b.uid);
      if (moved.length === 0) {
        return { uidValidity: await uidValidityOf(tx, destination), sourceUids: [], targetUids: [] };
      }
      const copied = await insertCopies(tx, { row: destination, name: canonicalMailboxName(target) }, moved);
      const { modseq } = await advance(tx, state);
      const sourceUids = moved.map((message) => message.uid);
      await recordChanges(tx, state.row, modseq, [{ type: 'expunge', uids: sourceUids }]);
      await this.#context.announce(tx, destination);
      await this.#context.announce(tx, state.row);
      return { ...copied, sourceUids };
    });
    await this.#context.states.get(destination)?.catchUp(sql);
    await state.catchUp(sql);
    return result;
  }

  async expunge(uids: readonly number[]): Promise<number[]> {
    const state = this.#live();
    const { sql } = this.#context;
    const removed = await transactWithRetry(sql, async (tx) => {
      const { rows } = await tx.query<{ uid: string; body: string }>(
        'DELETE FROM postwire_messages WHERE mailbox = $1 AND uid = ANY($2::bigint[]) RETURNING uid, body',
        [state.row, [...uids]],
      );
      if (rows.length === 0) return { gone: [], blobs: [] };
      const { modseq } = await advance(tx, state);
      const gone = rows.map((row) => Number(row.uid)).sort((a, b) => a - b);
      await recordChanges(tx, state.row, modseq, [{ type: 'expunge', uids: gone }]);
      await this.#context.announce(tx, state.row);
      const blobs = await dropOrphanBodies(
        tx,
        rows.map((row) => Number(row.body)),
      );
      return { gone, blobs };
    });
    await state.catchUp(sql);
    await deleteBlobs(this.#context.settings.blobs, removed.blobs);
    return removed.gone;
  }

  changes(options: { signal?: AbortSignal } = {}): AsyncIterable<MailboxChange> {
    return this.#state.feed.subscribe(untilClosed(this.#closed.signal, options.signal));
  }

  async sync(): Promise<void> {
    await this.#state.catchUp(this.#context.sql);
  }

  async lock(): Promise<MailboxLock> {
    const state = this.#live();
    const { sql, holder, settings } = this.#context;
    const name = `${holder}/${newMessageId()}`;
    const lease = `${settings.lockLease} seconds`;
    // A SERIALIZABLE database may abort the statement when another process takes the lock at the same time;
    // run again, it finds that lock.
    const { rows } = await transactWithRetry(sql, (tx) =>
      tx.query(
        `INSERT INTO postwire_locks (mailbox, holder, expires) VALUES ($1, $2, now() + $3::interval)
         ON CONFLICT (mailbox) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
         WHERE postwire_locks.expires < now() RETURNING holder`,
        [state.row, name, lease],
      ),
    );
    if (rows.length === 0) throw new MailboxInUseError();
    const renew = setInterval(
      () => {
        void sql
          .query(
            'UPDATE postwire_locks SET expires = now() + $3::interval WHERE mailbox = $1 AND holder = $2',
            [state.row, name, lease],
          )
          .catch(() => {});
      },
      (settings.lockLease * 1000) / 3,
    );
    (renew as { unref?: () => void }).unref?.();
    let released = false;
    return {
      async release() {
        if (released) return;
        released = true;
        clearInterval(renew);
        await sql.query('DELETE FROM postwire_locks WHERE mailbox = $1 AND holder = $2', [state.row, name]);
      },
    };
  }

  async close(): Promise<void> {
    if (this.#closed.signal.aborted) return;
    this.#closed.abort();
    // The last handle gone, the process forgets the mailbox (its index comes back from the database).
    releaseState(this.#context, this.#state);
  }

  #live(): MailboxState {
    if (this.#state.gone) throw new MailboxNotFoundError(this.#state.name);
    return this.#state;
  }

  #entry(uid: number): Entry {
    const entry = this.#live().index.get(uid);
    if (!entry) throw new MailboxNotFoundError(this.#state.name, `no message with UID ${uid}`);
    return entry;
  }
}

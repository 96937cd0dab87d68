import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Client, type Notification } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable, type RunningPostgres, startPostgres } from './support/postgres.js';

const available = postgresAvailable();
if (!available) {
  console.log(
    'PostgreSQL tests skipped: no initdb and postgres in /usr/lib/postgresql/*/bin (.ci/run installs them).',
  );
}

/** The command name of a running process (empty once it is gone). */
function commandOf(pid: number): string {
  try {
    return execFileSync('ps', ['-o', 'comm=', '-p', String(pid)], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

describe.skipIf(!available)('the PostgreSQL test harness', () => {
  let server: RunningPostgres;
  const clients: Client[] = [];

  const connect = async (): Promise<Client> => {
    const client = new Client({ connectionString: server.connectionString });
    clients.push(client);
    await client.connect();
    return client;
  };

  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.end().catch(() => {})));
    await server?.stop();
  }, 30_000);

  it('serves the database `postwire` on loopback, as the real postmaster', async () => {
    expect(server.host).toBe('127.0.0.1');
    expect(server.connectionString).toBe(`postgresql://postwire@127.0.0.1:${server.port}/postwire`);
    expect(commandOf(server.pid)).toBe('postgres');
    const client = await connect();
    const result = await client.query<{ one: number; db: string; who: string; encoding: string }>(
      `SELECT 1 AS one, current_database() AS db, current_user AS who,
              pg_encoding_to_char(encoding) AS encoding
         FROM pg_database WHERE datname = current_database()`,
    );
    expect(result.rows).toEqual([{ one: 1, db: 'postwire', who: 'postwire', encoding: 'UTF8' }]);
  });

  it('carries NOTIFY from one session to another that LISTENs', async () => {
    const listener = await connect();
    const notifier = await connect();
    await listener.query('LISTEN postwire_changes');
    const received = new Promise<Notification>((resolve) => listener.once('notification', resolve));
    const { rows } = await notifier.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await notifier.query("SELECT pg_notify('postwire_changes', $1)", ['{"mailbox":"INBOX","uid":1}']);
    const notification = await received;
    expect(notification.channel).toBe('postwire_changes');
    expect(notification.payload).toBe('{"mailbox":"INBOX","uid":1}');
    expect(notification.processId).toBe(rows[0]!.pid);
  });

  it('stops by PID with sessions still open, leaving no process and no directory behind', async () => {
    const other = await startPostgres();
    const client = new Client({ connectionString: other.connectionString });
    client.on('error', () => {}); // the fast shutdown ends this session
    await client.connect();
    const { rows } = await client.query<{ dir: string }>(
      "SELECT current_setting('unix_socket_directories') AS dir",
    );
    const dir = rows[0]!.dir;
    expect(existsSync(dir)).toBe(true);
    const started = Date.now();
    await other.stop();
    expect(Date.now() - started).toBeLessThan(5_000); // fast shutdown, not a smart one waiting for the client
    expect(commandOf(other.pid)).toBe('');
    expect(existsSync(dir)).toBe(false);
    await client.end().catch(() => {});
  }, 60_000);
});

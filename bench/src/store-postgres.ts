import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '@postwire/core/node';
import { createImapClient, type ImapClient } from '@postwire/imap';
import pg from 'pg';
import { startMailServer } from '../../packages/store-postgres/test/support/mail-servers.js';
import { type RunningPostgres, startPostgres } from '../../packages/store-postgres/test/support/postgres.js';
import type { Row } from './report.js';

/** Connections appending and fetching at once, spread over the server processes. */
const CONNECTIONS = 8;
const APPEND_SECONDS = 3;
/**
 * Messages each connection fetches whole: 200 of 10,240 bytes, in each of a few rounds (the appends leave
 * about a thousand).
 */
const FETCH_MESSAGES = 200;
const FETCH_ROUNDS = 3;

/** A 10,240-byte plain-text message, CRLF lines. */
function message(n: number): string {
  const head = `From: ann@example.com\r\nTo: alice@example.org\r\nSubject: Message ${n}\r\n\r\n`;
  const line = `${'The quarterly figures are attached; the summary follows in this body.'.padEnd(78, '.')}\r\n`;
  let text = head;
  while (text.length + line.length <= 10_240) text += line;
  return `${text}${'x'.repeat(10_240 - text.length - 2)}\r\n`;
}

/** CPU seconds (user + system) used so far by a process and its children (PostgreSQL's backends). */
function cpuSeconds(root: number): number {
  const ticks = 100;
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const fields = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ');
      const pid = Number(entry);
      const parent = Number(fields[1]);
      if (pid === root || parent === root) total += (Number(fields[11]) + Number(fields[12])) / ticks;
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

interface Figures {
  readonly appends: number;
  readonly fetch: number;
  /** Of the database's CPU time, per second of the append run (1.0 = one core busy). */
  readonly databaseCores?: number;
}

/** Appends for a few seconds over the connections, then has each fetch its share: messages a second and MB/s. */
async function measure(ports: readonly number[], database?: RunningPostgres): Promise<Figures> {
  const clients: ImapClient[] = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    clients.push(
      await createImapClient({
        connector: connect,
        host: '127.0.0.1',
        port: ports[i % ports.length]!,
        starttls: 'never',
        compress: false,
        auth: { username: 'alice', password: 'secret', allowCleartext: true },
      }),
    );
  }
  try {
    const databaseStart = database ? cpuSeconds(database.pid) : 0;
    let appended = 0;
    const until = Date.now() + APPEND_SECONDS * 1000;
    const started = process.hrtime.bigint();
    await Promise.all(
      clients.map(async (client, c) => {
        for (let n = 0; Date.now() < until; n++) {
          await client.append('INBOX', message(c * 100_000 + n));
          appended++;
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const databaseCores = database ? (cpuSeconds(database.pid) - databaseStart) / seconds : undefined;
    for (const client of clients) await client.open('INBOX', { readOnly: true });
    let bytes = 0;
    // Each round fetches messages of its own, so that none comes from what an earlier round read.
    const fetchRound = (round: number) =>
      Promise.all(
        clients.map(async (client) => {
          const range = `${round * FETCH_MESSAGES + 1}:${(round + 1) * FETCH_MESSAGES}`;
          // By UID (1 to the number of messages here): a range past the last message is no error.
          for await (const each of client.fetch(range, { bodies: [''] }, { uid: true }))
            for await (const part of each.bodies) bytes += (await part.bytes()).length;
        }),
      );
    // A first round warms the server up (its code compiled) and is not counted.
    await fetchRound(0);
    bytes = 0;
    const fetchStarted = process.hrtime.bigint();
    for (let round = 1; round <= FETCH_ROUNDS; round++) await fetchRound(round);
    const fetchSeconds = Number(process.hrtime.bigint() - fetchStarted) / 1e9;
    return {
      appends: appended / seconds,
      fetch: bytes / 1e6 / fetchSeconds,
      ...(databaseCores !== undefined ? { databaseCores } : {}),
    };
  } finally {
    for (const client of clients) await client.logout().catch(() => {});
  }
}

/**
 * APPEND and FETCH through one, two and four IMAP server processes on one PostgreSQL, against one IMAP
 * process over a Maildir on the same disk: each configuration on a fresh database or directory.
 */
export async function storePostgresSuite(): Promise<{ rows: Row[]; databaseCores: Record<number, number> }> {
  // Durable, as the Maildir store flushes each message: fsync and synchronous commits on.
  const database = await startPostgres({ durable: true });
  const directory = await mkdtemp('/tmp/pwbench-pg-');
  const figures = new Map<number, Figures>();
  let maildir: Figures;
  try {
    const admin = new pg.Client({ connectionString: database.connectionString });
    await admin.connect();
    for (const processes of [1, 2, 4]) {
      await admin.query(`CREATE DATABASE bench_${processes}`);
      const location = database.connectionString.replace(/\/[^/]*$/, `/bench_${processes}`);
      const servers = [];
      for (let i = 0; i < processes; i++) servers.push(await startMailServer('imap', location));
      try {
        figures.set(
          processes,
          await measure(
            servers.map((server) => server.port),
            database,
          ),
        );
      } finally {
        for (const server of servers) await server.peer.stop();
      }
    }
    await admin.end();
    const server = await startMailServer('imap-maildir', join(directory, 'mail'));
    try {
      maildir = await measure([server.port]);
    } finally {
      await server.peer.stop();
    }
  } finally {
    await database.stop();
    await rm(directory, { recursive: true, force: true });
  }
  const rows: Row[] = [];
  const peer = 'Maildir, 1 process';
  for (const [processes, figure] of figures) {
    rows.push({
      workload: `IMAP APPEND of 10,240-byte messages, ${CONNECTIONS} connections, PostgreSQL with ${processes} IMAP process${processes > 1 ? 'es' : ''}`,
      unit: 'msg/s',
      ours: figure.appends,
      peers: { [peer]: maildir.appends },
    });
  }
  for (const [processes, figure] of figures) {
    rows.push({
      workload: `IMAP FETCH BODY.PEEK[], ${FETCH_ROUNDS} rounds of ${FETCH_MESSAGES} messages on each of ${CONNECTIONS} connections, PostgreSQL with ${processes} IMAP process${processes > 1 ? 'es' : ''}`,
      unit: 'MB/s',
      ours: figure.fetch,
      peers: { [peer]: maildir.fetch },
    });
  }
  return {
    rows,
    databaseCores: Object.fromEntries(
      [...figures].map(([processes, figure]) => [processes, figure.databaseCores ?? 0]),
    ),
  };
}

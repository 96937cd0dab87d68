import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { checkBuilt } from './build-check.js';
import type { Row } from './report.js';
import { LIMIT_SERVER, median, type Server, ServerProcess } from './smtp-server.js';

const run = promisify(execFile);

/** Postfix's load generator (Debian's postfix package). */
const SMTP_SOURCE = '/usr/sbin/smtp-source';
/** Parallel sessions, each sending its share of the messages over one connection (`-d`). */
const SESSIONS = 50;
const MESSAGES = 5000;
/** smtp-source's payload size (`-l`), not counting the few headers it adds. */
const PAYLOAD = 10_240;
/** Interleaved rounds (ours, smtp-server, then the limit, each round); the row takes the median. */
const ROUNDS = 3;
/** Messages of the one untimed run per server before the rounds. */
const WARMUP_MESSAGES = 500;

/**
 * Runs smtp-source against `127.0.0.1:port`: `SESSIONS` sessions sending `messages` messages of
 * `PAYLOAD` bytes (each to its own recipient, `-N`), HELO and no pipelining (smtp-source has none).
 * Resolves the messages accepted per second, from start to exit; smtp-source exits non-zero, and this
 * rejects, at the first refused command.
 */
async function smtpSource(port: number, messages: number): Promise<number> {
  const args = [
    ...['-s', String(SESSIONS), '-m', String(messages), '-l', String(PAYLOAD), '-d', '-N'],
    ...['-f', 'ann@example.com', '-t', 'bob@example.org', '-M', 'client.bench.example'],
    `127.0.0.1:${port}`,
  ];
  const start = process.hrtime.bigint();
  await run(SMTP_SOURCE, args, { timeout: 300_000 });
  return messages / (Number(process.hrtime.bigint() - start) / 1e9);
}

/**
 * The smtp-source row: Postfix's own load generator (a C client, so the figure is the server's) sending
 * `MESSAGES` messages of 10 KB over `SESSIONS` sessions to ours and to smtp-server (nodemailer's), each
 * in a child process of its own on the built packages. Empty, with a notice, without smtp-source.
 */
export async function smtpSourceSuite(): Promise<Row[]> {
  if (!existsSync(SMTP_SOURCE)) {
    console.warn(`${SMTP_SOURCE} is missing (Debian's postfix package): the smtp-source row is skipped.`);
    return [];
  }
  checkBuilt(['smtp', 'core', 'sasl', 'mime'], 'the SMTP rows');
  const version = JSON.parse(
    readFileSync(fileURLToPath(new URL('../node_modules/smtp-server/package.json', import.meta.url)), 'utf8'),
  ).version as string;
  const servers: readonly Server[] = ['ours', 'smtp-server', 'limit'];
  const running = await Promise.all(servers.map((server) => ServerProcess.start(server)));
  const rates: Record<Server, number[]> = { ours: [], 'smtp-server': [], limit: [] };
  try {
    for (const { port } of running) await smtpSource(port, WARMUP_MESSAGES);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [index, server] of servers.entries()) {
        rates[server].push(await smtpSource(running[index]!.port, MESSAGES));
      }
    }
  } finally {
    await Promise.all(running.map(({ process }) => process.stop()));
  }
  return [
    {
      workload: `SMTP server: 10 KB messages from Postfix's smtp-source, ${SESSIONS} sessions`,
      unit: 'msg/s',
      ours: median(rates.ours),
      peers: {
        [`smtp-server ${version}`]: median(rates['smtp-server']),
        [LIMIT_SERVER]: median(rates.limit),
      },
    },
  ];
}

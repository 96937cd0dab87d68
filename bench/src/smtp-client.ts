import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createSmtpClient } from '@postwire/smtp/node';
import nodemailer from 'nodemailer';
import { checkBuilt } from './build-check.js';
import type { Row } from './report.js';
import { median, type Server, ServerProcess, tenKilobyteMessage } from './smtp-server.js';

/** Connections each pooled client keeps (nodemailer's default pool size). */
const CONNECTIONS = 5;
/** Sends in flight at once: enough to keep every pooled connection busy. */
const IN_FLIGHT = 50;
const WARMUP_MS = 1000;
const MEASURE_MS = 3000;
const ROUNDS = 3;

const ENVELOPE = { from: 'ann@example.com', to: ['bob@example.org'] };

/** A client under test: send one message, and close. */
interface Sender {
  send(message: Buffer): Promise<unknown>;
  close(): Promise<void> | void;
}

function ours(port: number): Sender {
  const client = createSmtpClient({
    host: '127.0.0.1',
    port,
    starttls: 'never',
    name: 'client.bench.example',
    pool: { maxConnections: CONNECTIONS, maxMessages: Number.POSITIVE_INFINITY },
  });
  return { send: (message) => client.send({ envelope: ENVELOPE, message }), close: () => client.close() };
}

function nodemailerPooled(port: number): Sender {
  const transport = nodemailer.createTransport({
    pool: true,
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
    name: 'client.bench.example',
    maxConnections: CONNECTIONS,
    maxMessages: Number.POSITIVE_INFINITY,
  });
  return {
    send: (message) => transport.sendMail({ envelope: ENVELOPE, raw: message }),
    close: () => transport.close(),
  };
}

/** Messages per second one client gets accepted, `IN_FLIGHT` sends at a time, counted after a warm-up. */
async function messagesPerSecond(sender: Sender, message: Buffer): Promise<number> {
  let accepted = 0;
  let stop = false;
  const worker = async () => {
    while (!stop) {
      await sender.send(message);
      accepted++;
    }
  };
  const workers = Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const wait = (ms: number) => Promise.race([workers, new Promise((resolve) => setTimeout(resolve, ms))]);
  await wait(WARMUP_MS);
  const before = accepted;
  const start = process.hrtime.bigint();
  await wait(MEASURE_MS);
  const count = accepted - before;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  stop = true;
  await workers;
  await sender.close();
  return count / seconds;
}

/**
 * The SMTP client rows: 10 KB messages per second from a pooled client (5 connections, 50 sends in
 * flight) to one sink in a child process, ours against nodemailer's pooled SMTP transport, in the same
 * run. Two sinks: our server (which offers CHUNKING, so our client sends each message with its envelope
 * in one write) and smtp-server (no CHUNKING: both clients use DATA).
 */
export async function smtpClientSuite(): Promise<Row[]> {
  checkBuilt(['smtp', 'core', 'sasl', 'mime'], 'the SMTP rows');
  const version = JSON.parse(
    readFileSync(fileURLToPath(new URL('../node_modules/nodemailer/package.json', import.meta.url)), 'utf8'),
  ).version as string;
  const message = tenKilobyteMessage();
  const rows: Row[] = [];
  for (const sink of ['ours', 'smtp-server'] as const satisfies readonly Server[]) {
    const { process: child, port } = await ServerProcess.start(sink);
    const rates = { ours: [] as number[], nodemailer: [] as number[] };
    try {
      for (let round = 0; round < ROUNDS; round++) {
        rates.ours.push(await messagesPerSecond(ours(port), message));
        rates.nodemailer.push(await messagesPerSecond(nodemailerPooled(port), message));
      }
    } finally {
      await child.stop();
    }
    rows.push({
      workload: `SMTP client: 10 KB messages sent, pooled (${CONNECTIONS} connections), sink: ${sink === 'ours' ? 'our server' : 'smtp-server'}`,
      unit: 'msg/s',
      ours: median(rates.ours),
      peers: { [`nodemailer ${version} (pool)`]: median(rates.nodemailer) },
    });
  }
  return rows;
}

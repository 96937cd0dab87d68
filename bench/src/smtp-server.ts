import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { fileURLToPath } from 'node:url';
import { checkBuilt } from './build-check.js';
import type { Row } from './report.js';

/** What the parent asks a server child (smtp-server-child.mjs): memory figures, or to stop. */
type ChildRequest = { type: 'memory' } | { type: 'cpu' } | { type: 'stop' };
/** What the child says: its port once listening, and each memory figure asked for (bytes). */
type ChildReply =
  | { type: 'listening'; port: number }
  | { type: 'memory'; rss: number; heap: number }
  | { type: 'cpu'; micros: number };

/** Clients sending at once, each on its own connection, for the throughput rows. */
const CLIENTS = 50;
/** Each throughput round: this long to warm up, then this long counted. */
const WARMUP_MS = 1000;
const MEASURE_MS = 3000;
/** Interleaved rounds (ours, smtp-server, then the limit, each round); rows take the median. */
const ROUNDS = 3;
/** Idle connections held open to measure the memory each costs; a fresh server process per round. */
const IDLE = 1000;
/** Connections opened and closed before the baseline, so that one-time costs (code, caches) are not counted. */
const IDLE_WARMUP = 100;
/** Connections being opened at once while building up the idle ones. */
const OPEN_AT_ONCE = 50;

const SERVERS = ['ours', 'smtp-server', 'limit'] as const;
export type Server = (typeof SERVERS)[number];
/** The servers whose idle connections are measured: the limit keeps nothing per connection worth a row. */
const MEMORY_SERVERS = ['ours', 'smtp-server'] as const;
/** The name in the rows of the limit server (smtp-server-child.mjs): what any server in Node reaches here. */
export const LIMIT_SERVER = 'a do-nothing server (limit)';

/**
 * The message of the SMTP rows: 10,240 bytes of CRLF text with lines of about 80 characters, every 32nd
 * starting with a dot (doubled by dot-stuffing).
 */
export function tenKilobyteMessage(): Buffer {
  const header =
    'From: Ann Example <ann@example.com>\r\nTo: Bob Example <bob@example.org>\r\n' +
    'Subject: Quarterly figures\r\nDate: Mon, 2 Mar 2026 09:00:00 +0000\r\n' +
    'Message-ID: <bench-10k@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n';
  const line = (i: number) =>
    i % 32 === 31
      ? '... and a line that starts with a dot, as an ellipsis or a quoted SMTP command would.\r\n'
      : 'The quarterly figures are attached; the summary follows in this message body.\r\n';
  let text = header;
  for (let i = 0; text.length + line(i).length <= 10_240; i++) text += line(i);
  text += `${'x'.repeat(10_240 - text.length - 2)}\r\n`;
  if (text.length !== 10_240) throw new Error(`the message has ${text.length} bytes`);
  return Buffer.from(text, 'latin1');
}

/** {@link tenKilobyteMessage} as it goes on the wire after DATA: dot-stuffed, then the `.` line. */
function tenKilobyteMessageData(): Buffer {
  return Buffer.from(`${tenKilobyteMessage().toString('latin1').replace(/^\./gm, '..')}.\r\n`, 'latin1');
}

interface Reply {
  readonly code: number;
  readonly text: string;
}

/** A minimal SMTP client over node:net for the load: it reads whole replies (multi-line ones joined). */
class SmtpClient {
  readonly socket: net.Socket;
  #buffer = '';
  #lines: string[] = [];
  readonly #replies: Reply[] = [];
  readonly #waiting: { resolve(reply: Reply): void; reject(error: Error): void }[] = [];
  #failure: Error | undefined;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new Error('the server closed the connection')));
  }

  /** Connects and reads the greeting. */
  static connect(port: number): Promise<SmtpClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.off('error', reject);
        const client = new SmtpClient(socket);
        client.expect(220).then(() => resolve(client), reject);
      });
      socket.once('error', reject);
    });
  }

  #receive(chunk: Buffer): void {
    const text = this.#buffer + chunk.toString('latin1');
    let start = 0;
    for (let end = text.indexOf('\r\n'); end >= 0; end = text.indexOf('\r\n', start)) {
      const line = text.slice(start, end);
      start = end + 2;
      this.#lines.push(line.slice(4));
      if (line[3] === '-') continue;
      const reply = { code: Number(line.slice(0, 3)), text: this.#lines.join('\n') };
      this.#lines = [];
      const waiter = this.#waiting.shift();
      if (waiter) waiter.resolve(reply);
      else this.#replies.push(reply);
    }
    this.#buffer = text.slice(start);
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const waiter of this.#waiting.splice(0)) waiter.reject(error);
  }

  /** The next reply, which must have the given code. */
  async expect(code: number): Promise<Reply> {
    const queued = this.#replies.shift();
    const reply =
      queued ??
      (await new Promise<Reply>((resolve, reject) => {
        if (this.#failure) reject(this.#failure);
        else this.#waiting.push({ resolve, reject });
      }));
    if (reply.code !== code) throw new Error(`expected ${code}, the server said ${reply.code} ${reply.text}`);
    return reply;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** QUIT, then the end of the connection. */
  async quit(): Promise<void> {
    this.write('QUIT\r\n');
    await this.expect(221);
    this.socket.end();
  }
}

/** Connects and says EHLO; the server must offer PIPELINING. */
async function ehloClient(port: number): Promise<SmtpClient> {
  const client = await SmtpClient.connect(port);
  client.write('EHLO client.bench.example\r\n');
  const ehlo = await client.expect(250);
  if (!/^PIPELINING$/m.test(ehlo.text)) throw new Error(`the server does not offer PIPELINING: ${ehlo.text}`);
  return client;
}

const ENVELOPE = 'MAIL FROM:<ann@example.com>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n';

/**
 * Messages per second that `CLIENTS` connections get accepted: each pipelines MAIL FROM, RCPT TO and DATA
 * in one write, waits for the 354, writes the message and waits for its 250, over and over. Counted for
 * `MEASURE_MS` after `WARMUP_MS`; connection set-up (greeting, EHLO) and the final QUIT are not timed.
 * Also the server's CPU time (user and system) per message over the same window, in microseconds: on a
 * machine where the load generator shares the cores, the fairer measure of a server's cost.
 */
async function messagesPerSecond(
  server: ServerProcess,
  port: number,
  message: Buffer,
): Promise<{ rate: number; cpu: number }> {
  const clients = await Promise.all(Array.from({ length: CLIENTS }, () => ehloClient(port)));
  let accepted = 0;
  let stop = false;
  const send = async (client: SmtpClient) => {
    while (!stop) {
      client.write(ENVELOPE);
      await client.expect(250);
      await client.expect(250);
      await client.expect(354);
      client.write(message);
      await client.expect(250);
      accepted++;
    }
    await client.quit();
  };
  const sending = Promise.all(clients.map(send));
  const wait = (ms: number) => Promise.race([sending, new Promise((resolve) => setTimeout(resolve, ms))]);
  await wait(WARMUP_MS);
  const cpuBefore = await server.cpu();
  const before = accepted;
  const start = process.hrtime.bigint();
  await wait(MEASURE_MS);
  const count = accepted - before;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpuAfter = await server.cpu();
  stop = true;
  await sending;
  return { rate: count / seconds, cpu: (cpuAfter - cpuBefore) / count };
}

/** A server in its own process, run by plain Node on the built packages; see smtp-server-child.mjs. */
export class ServerProcess {
  readonly #child: ChildProcess;
  readonly #replies: ((reply: ChildReply) => void)[] = [];
  readonly #exited: Promise<number | null>;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (reply: ChildReply) => this.#replies.shift()?.(reply));
    this.#exited = new Promise((resolve) => child.on('exit', resolve));
  }

  static async start(server: Server, profileDir?: string): Promise<{ process: ServerProcess; port: number }> {
    const script = fileURLToPath(new URL('./smtp-server-child.mjs', import.meta.url));
    const profile = profileDir
      ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${server}.cpuprofile`]
      : [];
    const child = fork(script, [server], {
      execArgv: ['--expose-gc', ...profile],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const serverProcess = new ServerProcess(child);
    const listening = await serverProcess.#next();
    if (listening.type !== 'listening') throw new Error(`the ${server} child said ${listening.type}`);
    return { process: serverProcess, port: listening.port };
  }

  #next(): Promise<ChildReply> {
    return new Promise((resolve, reject) => {
      this.#replies.push(resolve);
      this.#exited.then((code) => reject(new Error(`the server child exited with ${code}`)));
    });
  }

  async #ask(request: ChildRequest): Promise<ChildReply> {
    const reply = this.#next();
    this.#child.send(request);
    return reply;
  }

  /** The CPU time the server process has used so far (user and system), in microseconds. */
  async cpu(): Promise<number> {
    const reply = await this.#ask({ type: 'cpu' });
    if (reply.type !== 'cpu') throw new Error(`the server child said ${reply.type}`);
    return reply.micros;
  }

  /** Resident memory and JS memory (heap used and external), in bytes, after full collections. */
  async memory(): Promise<{ rss: number; heap: number }> {
    const reply = await this.#ask({ type: 'memory' });
    if (reply.type !== 'memory') throw new Error(`the server child said ${reply.type}`);
    return reply;
  }

  async stop(): Promise<void> {
    this.#child.send({ type: 'stop' } satisfies ChildRequest);
    const code = await this.#exited;
    if (code !== 0) throw new Error(`the server child exited with ${code}`);
  }
}

/** Opens `count` connections, `OPEN_AT_ONCE` at a time, each greeted and past EHLO. */
async function openIdle(port: number, count: number): Promise<SmtpClient[]> {
  const clients: SmtpClient[] = [];
  let next = 0;
  const opener = async () => {
    while (next < count) {
      next++;
      clients.push(await ehloClient(port));
    }
  };
  await Promise.all(Array.from({ length: OPEN_AT_ONCE }, opener));
  return clients;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Memory of `IDLE` idle connections (greeted, past EHLO) on a fresh server process, per connection in KB
 * (1,024 bytes): RSS, and JS heap used plus external memory, each after full collections, minus the same
 * figures before the connections were opened (after `IDLE_WARMUP` connections came and went).
 */
async function idleMemory(server: Server): Promise<{ rss: number; heap: number }> {
  const { process: child, port } = await ServerProcess.start(server);
  try {
    for (const client of await openIdle(port, IDLE_WARMUP)) await client.quit();
    await sleep(200);
    const before = await child.memory();
    const clients = await openIdle(port, IDLE);
    await sleep(500);
    const after = await child.memory();
    await Promise.all(clients.map((client) => client.quit()));
    return { rss: (after.rss - before.rss) / IDLE / 1024, heap: (after.heap - before.heap) / IDLE / 1024 };
  } finally {
    await child.stop();
  }
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * The SMTP server rows: messages per second with `CLIENTS` pipelining clients sending 10 KB messages, and
 * the memory of an idle connection, ours against smtp-server (nodemailer's). Each server runs in a child
 * process of its own; the load generator is this process. Set BENCH_SMTP_CPU_PROF to a directory to get a
 * CPU profile of each server child over the throughput rounds.
 */
export async function smtpServerSuite(): Promise<Row[]> {
  checkBuilt(['smtp', 'core', 'sasl', 'mime'], 'the SMTP rows');
  const version = JSON.parse(
    readFileSync(fileURLToPath(new URL('../node_modules/smtp-server/package.json', import.meta.url)), 'utf8'),
  ).version as string;
  const peer = `smtp-server ${version}`;
  const message = tenKilobyteMessageData();

  const rates: Record<Server, number[]> = { ours: [], 'smtp-server': [], limit: [] };
  const cpu: Record<Server, number[]> = { ours: [], 'smtp-server': [], limit: [] };
  const profileDir = process.env.BENCH_SMTP_CPU_PROF || undefined;
  const running = await Promise.all(SERVERS.map((server) => ServerProcess.start(server, profileDir)));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const [index, server] of SERVERS.entries()) {
        const { process: child, port } = running[index]!;
        const { rate, cpu: micros } = await messagesPerSecond(child, port, message);
        rates[server].push(rate);
        cpu[server].push(micros);
      }
    }
  } finally {
    await Promise.all(running.map(({ process }) => process.stop()));
  }

  const memory: Record<(typeof MEMORY_SERVERS)[number], { rss: number[]; heap: number[] }> = {
    ours: { rss: [], heap: [] },
    'smtp-server': { rss: [], heap: [] },
  };
  for (let round = 0; round < ROUNDS; round++) {
    for (const server of MEMORY_SERVERS) {
      const { rss, heap } = await idleMemory(server);
      memory[server].rss.push(rss);
      memory[server].heap.push(heap);
    }
  }

  return [
    {
      workload: `SMTP server: 10 KB messages accepted, ${CLIENTS} pipelining clients`,
      unit: 'msg/s',
      ours: median(rates.ours),
      peers: { [peer]: median(rates['smtp-server']), [LIMIT_SERVER]: median(rates.limit) },
    },
    {
      workload: `SMTP server: CPU time per 10 KB message (user + system), ${CLIENTS} pipelining clients`,
      unit: 'µs',
      ours: median(cpu.ours),
      peers: { [peer]: median(cpu['smtp-server']), [LIMIT_SERVER]: median(cpu.limit) },
      lowerIsBetter: true,
    },
    {
      workload: 'Memory per idle SMTP connection (RSS, after EHLO)',
      unit: 'KB',
      ours: median(memory.ours.rss),
      peers: { [peer]: median(memory['smtp-server'].rss) },
      lowerIsBetter: true,
    },
    {
      workload: 'Memory per idle SMTP connection (JS heap + external, after EHLO)',
      unit: 'KB',
      ours: median(memory.ours.heap),
      peers: { [peer]: median(memory['smtp-server'].heap) },
      lowerIsBetter: true,
    },
  ];
}

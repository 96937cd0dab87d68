import { execFileSync, fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import * as net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPop3Client } from '@postwire/pop3/node';
import Pop3Command from 'node-pop3';
import {
  dovecotAvailable,
  MAIL_GID,
  MAIL_UID,
  startDovecot,
} from '../../packages/store/test/support/dovecot.js';
import { checkBuilt } from './build-check.js';
import type { Row } from './report.js';
import { median } from './smtp-server.js';

/** Messages in the maildrop, each of `SIZE` bytes: every round downloads all of them in one session. */
const COUNT = 1000;
const SIZE = 102_400;
/** Timed rounds after one warm-up round; each round runs every client–server pair once, and rows take the median. */
const ROUNDS = 9;
/** A download that takes longer than this has stalled (node-pop3 misses a terminator split oddly across reads). */
const DEADLINE_MS = 60_000;
const USER = 'reader';
const PASSWORD = 'benchpw';

/**
 * Message `n` (1…COUNT) of the maildrop: `SIZE` bytes of CRLF text, lines of 76 octets with their CRLF,
 * every 16th starting with a dot. The words differ from one message to the next, the layout does not.
 */
function message(n: number): string {
  const id = String(n).padStart(4, '0');
  const words = ['quarterly', 'figures', 'attached', 'summary', 'follows', 'revenue', 'costs', 'margin'];
  let text =
    `From: Ann Example <ann@example.com>\r\nTo: ${USER}@example.org\r\nSubject: Report ${id}\r\n` +
    `Date: Mon, 2 Mar 2026 09:00:00 +0000\r\nMessage-ID: <bench-pop3-${id}@example.com>\r\n` +
    'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n';
  for (let line = 0; text.length + 76 + 80 <= SIZE; line++) {
    let content = line % 16 === 15 ? '.' : '';
    for (let w = n + line; content.length < 74; w++) content += `${words[w % words.length]} `;
    text += `${content.slice(0, 74)}\r\n`;
  }
  text += `${'x'.repeat(SIZE - text.length - 2)}\r\n`;
  if (text.length !== SIZE) throw new Error(`message ${n} has ${text.length} bytes`);
  return text;
}

/** Lines of each message that start with a dot (the same in all): node-pop3 keeps their dot-stuffing. */
const DOTTED_LINES = message(1).match(/^\./gm)?.length ?? 0;

/**
 * Writes the maildrop straight into `cur/`, every message already `\Seen` (so no session renames a file),
 * with the `dovecot-uidlist` that numbers them 1…COUNT, as either server would have left it.
 */
function writeMaildir(dir: string): void {
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
  const time = Math.floor(Date.now() / 1000) - COUNT;
  const records = [`3 V${time} N${COUNT + 1} G${'0123456789abcdef'.repeat(2)}\n`];
  for (let uid = 1; uid <= COUNT; uid++) {
    const base = `${time + uid}.M${uid}P1.bench,S=${SIZE},W=${SIZE}`;
    writeFileSync(join(dir, 'cur', `${base}:2,S`), message(uid), 'latin1');
    records.push(`${uid} :${base}\n`);
  }
  writeFileSync(join(dir, 'dovecot-uidlist'), records.join(''));
}

/** Reads a stream to its end; resolves with its length in bytes. */
async function drain(stream: ReadableStream<Uint8Array>): Promise<number> {
  const reader = stream.getReader();
  let bytes = 0;
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
    bytes += chunk.value.byteLength;
  return bytes;
}

/**
 * Our client: connect, log in, download every message with `sync({ keep: true })` (UIDL and LIST, then
 * RETR, 32 ahead when the server offers PIPELINING), each stream read to its end, then QUIT.
 */
async function oursDownload(port: number): Promise<void> {
  const pop3 = await createPop3Client({
    host: '127.0.0.1',
    port,
    starttls: 'never',
    auth: { username: USER, password: PASSWORD, allowCleartext: true },
  });
  if (!pop3.capabilities.pipelining) throw new Error(`the server on port ${port} does not offer PIPELINING`);
  let bytes = 0;
  const { downloaded } = await pop3.sync({
    keep: true,
    onMessage: async ({ stream }) => {
      bytes += await drain(stream);
    },
  });
  if (downloaded.length !== COUNT || bytes !== COUNT * SIZE) {
    throw new Error(`our client downloaded ${downloaded.length} messages, ${bytes} bytes`);
  }
}

/**
 * node-pop3: USER/PASS, UIDL, then one RETR at a time (it does not pipeline), each message a string,
 * then QUIT. It keeps the dot-stuffing and drops the message's last CRLF with the terminator.
 */
async function nodePop3Download(port: number): Promise<void> {
  const pop3 = new Pop3Command({ user: USER, password: PASSWORD, host: '127.0.0.1', port, tls: false });
  const listing = (await pop3.UIDL()) as string[][];
  let bytes = 0;
  for (const [number] of listing) bytes += (await pop3.RETR(Number(number))).length;
  await pop3.QUIT();
  if (listing.length !== COUNT || bytes !== COUNT * (SIZE - 2 + DOTTED_LINES)) {
    throw new Error(`node-pop3 downloaded ${listing.length} messages, ${bytes} bytes`);
  }
}

const TERMINATOR = Buffer.from('\r\n.\r\n');

/**
 * The limit: a do-nothing client that logs in with USER and PASS, then sends every RETR and QUIT in one
 * write and only counts the multi-line terminators that come back, keeping nothing. What it gets from
 * Dovecot is what Dovecot can give any client here.
 */
async function limitDownload(port: number): Promise<void> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.setNoDelay(true);
  const retrieve = `${Array.from({ length: COUNT }, (_, i) => `RETR ${i + 1}\r\n`).join('')}QUIT\r\n`;
  let lines = 0;
  let terminators = 0;
  let bytes = 0;
  let tail = Buffer.alloc(0);
  await new Promise<void>((resolve, reject) => {
    socket.on('error', reject);
    socket.on('close', () => {
      if (terminators === COUNT && bytes > COUNT * SIZE) resolve();
      else reject(new Error(`the limit client got ${terminators} messages, ${bytes} bytes`));
    });
    socket.on('data', (chunk: Buffer) => {
      if (lines < 3) {
        // The greeting, then the answers to USER and PASS.
        for (let at = chunk.indexOf('\n'); at >= 0 && lines < 3; at = chunk.indexOf('\n', at + 1)) {
          if (++lines === 1) socket.write(`USER ${USER}\r\nPASS ${PASSWORD}\r\n`);
          if (lines === 3) socket.write(retrieve);
        }
        return;
      }
      bytes += chunk.length;
      const keep = TERMINATOR.length - 1;
      // A terminator may straddle the chunks: one found in the joint starts in the bytes kept before.
      if (Buffer.concat([tail, chunk.subarray(0, keep)]).indexOf(TERMINATOR) >= 0) terminators++;
      for (
        let at = chunk.indexOf(TERMINATOR);
        at >= 0;
        at = chunk.indexOf(TERMINATOR, at + TERMINATOR.length)
      )
        terminators++;
      tail = Buffer.from((chunk.length >= keep ? chunk : Buffer.concat([tail, chunk])).subarray(-keep));
    });
  });
}

/** Runs a whole download session, connection to QUIT, and returns its rate in MB (10⁶ bytes) of messages a second. */
async function megabytesPerSecond(download: (port: number) => Promise<void>, port: number): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`a download from port ${port} stalled`)), DEADLINE_MS);
  });
  const start = process.hrtime.bigint();
  try {
    await Promise.race([download(port), stalled]);
  } finally {
    clearTimeout(timer);
  }
  return (COUNT * SIZE) / 1e6 / (Number(process.hrtime.bigint() - start) / 1e9);
}

const runningAsRoot = (): boolean => process.getuid?.() === 0;

/**
 * Starts our server (pop3-server-child.mjs) over the Maildir store at `root`, in a child process run by plain
 * Node on the built packages, as Dovecot's mail user when we are root (like Dovecot's mail processes). With
 * `profileDir` the child writes a CPU profile there when it stops (the directory must be writable by it).
 */
async function startOurServer(
  root: string,
  profileDir?: string,
): Promise<{ port: number; stop(): Promise<void> }> {
  const script = fileURLToPath(new URL('./pop3-server-child.mjs', import.meta.url));
  const child = fork(script, [root, USER, PASSWORD], {
    execArgv: profileDir
      ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-name=pop3-server.cpuprofile']
      : [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    ...(runningAsRoot() ? { uid: MAIL_UID, gid: MAIL_GID } : {}),
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const port = await Promise.race([
    new Promise<number>((resolve) => child.once('message', (reply: { port: number }) => resolve(reply.port))),
    exited.then((code) => Promise.reject(new Error(`the POP3 server child exited with ${code}`))),
  ]);
  return {
    port,
    async stop() {
      child.send('stop');
      const code = await exited;
      if (code !== 0) throw new Error(`the POP3 server child exited with ${code}`);
    },
  };
}

/**
 * The POP3 rows: downloading 1,000 messages of 100 KB in one session, our client against node-pop3 from
 * the same Dovecot, and our server (Maildir store) against Dovecot serving the same Maildir, both to our
 * client, and a do-nothing client (the limit) from Dovecot. Each round runs the four pairs in turn after one
 * warm-up round. Set BENCH_POP3_CPU_PROF to a
 * directory to get a CPU profile of our server's process.
 */
export async function pop3Suite(): Promise<Row[]> {
  if (!dovecotAvailable()) {
    console.log('Dovecot not found (/usr/sbin/dovecot, /usr/bin/doveadm): no POP3 rows');
    return [];
  }
  checkBuilt(['pop3', 'store', 'core', 'sasl'], 'the POP3 server row');
  const nodePop3 = JSON.parse(
    readFileSync(fileURLToPath(new URL('../node_modules/node-pop3/package.json', import.meta.url)), 'utf8'),
  ).version as string;
  const dovecotVersion = execFileSync('/usr/sbin/dovecot', ['--version'], { encoding: 'utf8' }).split(' ')[0];

  const root = await mkdtemp('/tmp/pwpop3-');
  try {
    writeMaildir(join(root, USER));
    const dovecot = await startDovecot({ mailRoot: root, users: { [USER]: PASSWORD } });
    try {
      const ours = await startOurServer(root, process.env.BENCH_POP3_CPU_PROF || undefined);
      const rates = {
        client: [] as number[],
        nodePop3: [] as number[],
        limit: [] as number[],
        server: [] as number[],
      };
      try {
        for (let round = -1; round < ROUNDS; round++) {
          const client = await megabytesPerSecond(oursDownload, dovecot.pop3Port);
          const peer = await megabytesPerSecond(nodePop3Download, dovecot.pop3Port);
          const limit = await megabytesPerSecond(limitDownload, dovecot.pop3Port);
          const server = await megabytesPerSecond(oursDownload, ours.port);
          if (round < 0) continue;
          rates.client.push(client);
          rates.nodePop3.push(peer);
          rates.limit.push(limit);
          rates.server.push(server);
        }
      } finally {
        await ours.stop();
      }
      console.log(
        `POP3 rounds (MB/s): our client from Dovecot ${rates.client.map((r) => r.toFixed(0)).join(' ')}; ` +
          `node-pop3 ${rates.nodePop3.map((r) => r.toFixed(0)).join(' ')}; ` +
          `the limit client ${rates.limit.map((r) => r.toFixed(0)).join(' ')}; ` +
          `our client from our server ${rates.server.map((r) => r.toFixed(0)).join(' ')}`,
      );
      return [
        {
          workload: 'POP3 client: download 1,000 × 100 KB messages from Dovecot',
          unit: 'MB/s',
          ours: median(rates.client),
          peers: {
            [`node-pop3 ${nodePop3}`]: median(rates.nodePop3),
            'a do-nothing pipelined client (limit)': median(rates.limit),
          },
        },
        {
          workload: 'POP3 server: 1,000 × 100 KB messages downloaded by our client (same Maildir)',
          unit: 'MB/s',
          ours: median(rates.server),
          peers: { [`Dovecot ${dovecotVersion}`]: median(rates.client) },
        },
      ];
    } finally {
      await dovecot.stop();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

import { type ChildProcess, fork } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dovecotAvailable, startDovecot } from '../../packages/store/test/support/dovecot.js';
import { checkBuilt } from './build-check.js';
import { type BenchMessage, largeMessage, smallMessage, writeMaildir } from './imap-maildir.js';
import type { Row } from './report.js';
import { median } from './smtp-server.js';

const USER = 'reader';
const PASSWORD = 'benchpw';
/** Workload `envelopes`: FETCH 1:* of FLAGS and ENVELOPE over INBOX, this many small messages. */
const ENVELOPE_COUNT = 10_000;
/** Workload `bodies`: FETCH 1:* of every whole message of the mailbox `Bodies`, this many of `BODY_SIZE` octets. */
const BODY_COUNT = 1000;
const BODY_SIZE = 1_000_000;
/** Timed rounds after one warm-up round; each round runs every client once, which goes first rotating. */
const ROUNDS = 7;
/** Octets of each body the children report back (HEAD_OCTETS of the child). */
const HEAD_OCTETS = 48;
/** A run that takes longer than this has stalled. */
const RUN_DEADLINE_MS = 120_000;

/** The clients: ours, imapflow, and a do-nothing socket reader that shows what Dovecot can give any client. */
type Library = 'ours' | 'imapflow' | 'socket';
type Workload = 'envelopes' | 'bodies';

/**
 * One session of a child: the fetch's wall-clock and CPU time; from a client, the messages and body octets
 * that came and the first message unlike its record; from the socket reader, the octets it read.
 */
interface RunResult {
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly messages?: number;
  readonly octets?: number;
  readonly mismatch?: string;
  readonly wireOctets?: number;
}

type ChildReply =
  | { type: 'ready' }
  | ({ type: 'ran' } & RunResult)
  | { type: 'memory'; peakRss: number; peakJsMemory: number; rssBeforeFetch: number }
  | { type: 'failed'; message: string };

/** A client library in a child process of its own (imap-client-vs-imapflow-child.mjs), one workload. */
class ClientChild {
  readonly library: Library;
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | null>;

  private constructor(library: Library, child: ChildProcess) {
    this.library = library;
    this.#child = child;
    this.#exited = new Promise((resolve) => child.on('exit', resolve));
  }

  /** `expectedFile`: the JSON records of the workload's messages, which the child checks each run against. */
  static async start(
    library: Library,
    workload: Workload,
    port: number,
    expectedFile: string,
  ): Promise<ClientChild> {
    const script = fileURLToPath(new URL('./imap-client-vs-imapflow-child.mjs', import.meta.url));
    const child = new ClientChild(
      library,
      fork(script, [library, workload, String(port), USER, PASSWORD, expectedFile], {
        // Plain Node: not the parent's `--import tsx`, whose loader would add to the child's memory.
        execArgv: [],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    await child.#reply('ready');
    return child;
  }

  /** Waits for the child's next message, which must be of type `type`. */
  async #reply<T extends ChildReply['type']>(type: T): Promise<Extract<ChildReply, { type: T }>> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const reply = await Promise.race([
        new Promise<ChildReply>((resolve) => this.#child.once('message', resolve)),
        this.#exited.then((code) =>
          Promise.reject(new Error(`the ${this.library} child exited with ${code}`)),
        ),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the ${this.library} child stalled`)), RUN_DEADLINE_MS);
        }),
      ]);
      if (reply.type === 'failed') throw new Error(`${this.library}: ${reply.message}`);
      if (reply.type !== type) throw new Error(`the ${this.library} child said ${reply.type}, not ${type}`);
      return reply as Extract<ChildReply, { type: T }>;
    } finally {
      clearTimeout(timer);
    }
  }

  async run(): Promise<RunResult> {
    this.#child.send('run');
    return this.#reply('ran');
  }

  /** The peak RSS of the process so far, its highest JS memory sampled, and its RSS before its first fetch, in bytes. */
  async memory(): Promise<{ peakRss: number; peakJsMemory: number; rssBeforeFetch: number }> {
    this.#child.send('memory');
    return this.#reply('memory');
  }

  async stop(): Promise<void> {
    this.#child.send('stop');
    await this.#exited;
  }
}

/** Each message's record as a child makes it from a FETCH: sequence number, Message-ID and flags. */
const envelopeRecords = (messages: readonly BenchMessage[]): string[] =>
  messages.map((message, i) => `${i + 1} ${message.messageId} ${[...message.flags].sort().join(' ')}`);

/** Each body's record as a child makes it from a FETCH: sequence number and first octets. */
const bodyRecords = (messages: readonly BenchMessage[]): string[] =>
  messages.map((message, i) => `${i + 1} ${message.text.slice(0, HEAD_OCTETS)}`);

/**
 * Writes the user's Maildir under `root`: INBOX with the small messages and the Maildir++ folder `.Bodies`
 * with the large ones; and beside it, the records each workload's children check their runs against.
 * Returns those files.
 */
function writeCorpus(root: string): Record<Workload, string> {
  const mail = join(root, 'mail');
  const envelopes = Array.from({ length: ENVELOPE_COUNT }, (_, i) => smallMessage(i + 1, 'env'));
  writeMaildir(join(mail, USER), envelopes, 'env');
  const bodies = Array.from({ length: BODY_COUNT }, (_, i) => largeMessage(i + 1, BODY_SIZE));
  writeMaildir(join(mail, USER, '.Bodies'), bodies, 'body');
  const files = { envelopes: join(root, 'envelopes.json'), bodies: join(root, 'bodies.json') };
  writeFileSync(files.envelopes, JSON.stringify(envelopeRecords(envelopes)));
  writeFileSync(files.bodies, JSON.stringify(bodyRecords(bodies)));
  return files;
}

/**
 * Throws unless a run brought back every message, each like its record, and the octets expected (the socket
 * reader: at least the octets of the bodies). Returns its rate: messages, or MB of bodies, a second.
 */
function rateOf(library: Library, workload: Workload, result: RunResult): number {
  const messages = workload === 'bodies' ? BODY_COUNT : ENVELOPE_COUNT;
  const octets = workload === 'bodies' ? BODY_COUNT * BODY_SIZE : 0;
  if (library === 'socket') {
    if ((result.wireOctets ?? 0) < Math.max(octets, 1))
      throw new Error(`the socket reader got ${result.wireOctets} octets of ${workload}`);
  } else if (result.mismatch) {
    throw new Error(`${library} ${workload}: got ${result.mismatch}`);
  } else if (result.messages !== messages || result.octets !== octets) {
    throw new Error(`${library} ${workload}: ${result.messages} messages and ${result.octets} octets`);
  }
  return workload === 'bodies' ? octets / 1e6 / result.seconds : messages / result.seconds;
}

/** Memory figures of a client's process, in MB. */
interface MemoryFigures {
  /** The kernel's high-water mark of its RSS. */
  readonly rss: number;
  /** The highest V8 heap used + external memory sampled. */
  readonly js: number;
}

/**
 * The figures of one workload: each client's median rate (messages or MB a second); the two libraries'
 * median CPU time per message (µs) or per GB (ms), and their memory.
 */
interface WorkloadFigures {
  readonly rate: Record<Library, number>;
  readonly cpu: Record<Exclude<Library, 'socket'>, number>;
  readonly memory: Record<Exclude<Library, 'socket'>, MemoryFigures>;
}

/**
 * Runs one workload: a child per client, one warm-up round, then `ROUNDS` rounds in which the clients take
 * turns (which goes first rotates). Each run is checked; rates are medians, peak RSS is each child's
 * high-water mark over all its runs.
 */
async function measureWorkload(
  workload: Workload,
  port: number,
  expectedFile: string,
): Promise<WorkloadFigures> {
  const children: ClientChild[] = [];
  try {
    for (const library of ['ours', 'imapflow', 'socket'] as const)
      children.push(await ClientChild.start(library, workload, port, expectedFile));
    const rates: Record<Library, number[]> = { ours: [], imapflow: [], socket: [] };
    const cpu: Record<Library, number[]> = { ours: [], imapflow: [], socket: [] };
    // µs per message, or ms per GB.
    const cpuUnit = workload === 'bodies' ? (BODY_COUNT * BODY_SIZE) / 1e12 : ENVELOPE_COUNT / 1e6;
    for (let round = -1; round < ROUNDS; round++) {
      const first = (round + 1) % children.length;
      for (const child of [...children.slice(first), ...children.slice(0, first)]) {
        const result = await child.run();
        const rate = rateOf(child.library, workload, result);
        if (round < 0) continue;
        rates[child.library].push(rate);
        cpu[child.library].push(result.cpuSeconds / cpuUnit);
      }
    }
    const unit = workload === 'bodies' ? 'MB/s' : 'msg/s';
    const memory = {} as Record<Exclude<Library, 'socket'>, MemoryFigures>;
    for (const child of children) {
      const list = (values: number[]) => values.map((v) => v.toFixed(v < 10 ? 2 : 0)).join(' ');
      let line =
        `IMAP client ${workload}, ${child.library}: ${list(rates[child.library])} ${unit}; ` +
        `CPU ${list(cpu[child.library])} ${workload === 'bodies' ? 'ms/GB' : 'µs/msg'}`;
      if (child.library !== 'socket') {
        const { peakRss, peakJsMemory, rssBeforeFetch } = await child.memory();
        memory[child.library] = { rss: peakRss / 1e6, js: peakJsMemory / 1e6 };
        line +=
          `; peak RSS ${(peakRss / 1e6).toFixed(1)} MB (${(rssBeforeFetch / 1e6).toFixed(1)} MB before its first ` +
          `fetch), peak JS heap + external ${(peakJsMemory / 1e6).toFixed(1)} MB`;
      }
      console.log(line);
    }
    return {
      rate: { ours: median(rates.ours), imapflow: median(rates.imapflow), socket: median(rates.socket) },
      cpu: { ours: median(cpu.ours), imapflow: median(cpu.imapflow) },
      memory,
    };
  } finally {
    for (const child of children) await child.stop();
  }
}

/** The memory rows of one workload: peak RSS, and peak JS heap + external. */
function memoryRows(what: string, figures: WorkloadFigures, peer: string): Row[] {
  const { ours, imapflow } = figures.memory;
  return [
    {
      workload: `IMAP client: peak RSS fetching ${what}`,
      unit: 'MB',
      ours: ours.rss,
      peers: { [peer]: imapflow.rss },
      lowerIsBetter: true,
    },
    {
      workload: `IMAP client: peak JS heap + external fetching ${what} (sampled)`,
      unit: 'MB',
      ours: ours.js,
      peers: { [peer]: imapflow.js },
      lowerIsBetter: true,
    },
  ];
}

/**
 * The IMAP client rows: our client (`createImapClient` from `@postwire/imap/node`) against imapflow, each
 * in a child process of its own on the built packages, against one Dovecot serving one Maildir: FETCH of
 * FLAGS and ENVELOPE of 10,000 small messages, and of 1,000 whole messages of 1 MB; the throughput of each
 * (and of a do-nothing socket reader, Dovecot's ceiling here) and the peak memory of each client's process.
 */
export async function imapClientSuite(): Promise<Row[]> {
  if (!dovecotAvailable()) {
    console.log('Dovecot not found (/usr/sbin/dovecot, /usr/bin/doveadm): no IMAP client rows');
    return [];
  }
  checkBuilt(['imap', 'core', 'sasl', 'mime'], 'the IMAP client rows');
  const imapflowVersion = JSON.parse(
    readFileSync(fileURLToPath(new URL('../node_modules/imapflow/package.json', import.meta.url)), 'utf8'),
  ).version as string;
  const peer = `imapflow ${imapflowVersion}`;
  const ceiling = 'a do-nothing socket reader';

  const root = await mkdtemp('/tmp/pwimapc-');
  try {
    // Dovecot's mail uid must get through to the mail under it.
    chmodSync(root, 0o755);
    const expected = writeCorpus(root);
    const dovecot = await startDovecot({ mailRoot: join(root, 'mail'), users: { [USER]: PASSWORD } });
    try {
      const envelopeFigures = await measureWorkload('envelopes', dovecot.imapPort, expected.envelopes);
      const bodyFigures = await measureWorkload('bodies', dovecot.imapPort, expected.bodies);
      const count = (n: number) => n.toLocaleString('en');
      return [
        {
          workload: `IMAP client: FETCH 1:* (FLAGS ENVELOPE) from Dovecot, ${count(ENVELOPE_COUNT)} small messages`,
          unit: 'msg/s',
          ours: envelopeFigures.rate.ours,
          peers: { [peer]: envelopeFigures.rate.imapflow, [ceiling]: envelopeFigures.rate.socket },
        },
        {
          workload: `IMAP client: FETCH 1:* BODY.PEEK[] from Dovecot, ${count(BODY_COUNT)} × 1 MB messages`,
          unit: 'MB/s',
          ours: bodyFigures.rate.ours,
          peers: { [peer]: bodyFigures.rate.imapflow, [ceiling]: bodyFigures.rate.socket },
        },
        {
          workload: 'IMAP client: CPU time (user + system) per envelope fetched',
          unit: 'µs',
          ours: envelopeFigures.cpu.ours,
          peers: { [peer]: envelopeFigures.cpu.imapflow },
          lowerIsBetter: true,
        },
        {
          workload: 'IMAP client: CPU time (user + system) per GB of bodies fetched',
          unit: 'ms',
          ours: bodyFigures.cpu.ours,
          peers: { [peer]: bodyFigures.cpu.imapflow },
          lowerIsBetter: true,
        },
        ...memoryRows(`${count(ENVELOPE_COUNT)} envelopes`, envelopeFigures, peer),
        ...memoryRows(`${count(BODY_COUNT)} × 1 MB bodies`, bodyFigures, peer),
      ];
    } finally {
      await dovecot.stop();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

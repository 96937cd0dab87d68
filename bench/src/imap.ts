import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type DovecotPeer,
  dovecotAvailable,
  MAIL_GID,
  MAIL_UID,
  prepareMaildirForDovecot,
  startDovecot,
} from '../../packages/store/test/support/dovecot.js';
import { checkBuilt } from './build-check.js';
import { ImapLoadClient, type ImapResponse } from './imap-load-client.js';
import { type BenchMessage, largeMessage, smallMessage, writeMaildir } from './imap-maildir.js';
import type { Row } from './report.js';
import { median } from './smtp-server.js';

/** Every user's password, on both servers. */
const PASSWORD = 'benchpw';

/** Workload 1: one FETCH of FLAGS and ENVELOPE for every message of a mailbox of small messages. */
const ENVELOPE_USER = 'envelopes';
const ENVELOPE_COUNT = 10_000;
/** Workload 2: one FETCH of every whole message (BODY.PEEK[]) of a mailbox of 100 KB messages. */
const BODY_USER = 'bodies';
const BODY_COUNT = 1000;
const BODY_SIZE = 102_400;
/** Timed rounds of workloads 1 and 2, after one warm-up round; each round runs Dovecot, then ours. */
const FETCH_ROUNDS = 7;

/** Workload 3: this many sessions at once, each of its own user (Dovecot allows 10 per user and IP). */
const SESSIONS = 200;
/** Timed rounds of workload 3, after one warm-up round. */
const SESSION_ROUNDS = 5;
/** Each round's STORE flags three messages not flagged before, so that every round changes flags. */
const SESSION_MESSAGES = 10 + 3 * (SESSION_ROUNDS + 1);

/**
 * Workload 4: idle sessions held open on a fresh server each round, after as many sessions of other users
 * came and went: so that one-time costs (code, caches, V8's young generation growing to its working size,
 * which alone is some 30 MB) are in the baseline, not spread over the sessions.
 */
const MEMORY_SESSIONS = 200;
const MEMORY_WARMUP = MEMORY_SESSIONS;
/** Users s001…: the sessions workload's and the idle sessions' first, then the memory warm-up's. */
const USERS = Math.max(SESSIONS, MEMORY_SESSIONS) + MEMORY_WARMUP;
const WARMUP_USER = Math.max(SESSIONS, MEMORY_SESSIONS) + 1;
const MEMORY_ROUNDS = 5;
/** Sessions being opened at once while building up the idle ones. */
const OPEN_AT_ONCE = 50;

/** User `i` (1…USERS) of the session workloads: s001, s002, … */
const sessionUser = (i: number): string => `s${String(i).padStart(3, '0')}`;

const runningAsRoot = (): boolean => process.getuid?.() === 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (start: bigint): number => Number(process.hrtime.bigint() - start) / 1e9;

/** The mail both servers serve, and what each FETCH must show. */
interface Corpus {
  readonly envelopes: readonly BenchMessage[];
  readonly bodyHeads: readonly Buffer[];
}

/** Writes every user's INBOX under `root` (one Maildir per user, as `maildir:<root>/%u`). */
function writeCorpus(root: string): Corpus {
  const envelopes = Array.from({ length: ENVELOPE_COUNT }, (_, i) => smallMessage(i + 1, 'env'));
  writeMaildir(join(root, ENVELOPE_USER), envelopes, 'env');
  const bodies = Array.from({ length: BODY_COUNT }, (_, i) => largeMessage(i + 1, BODY_SIZE));
  writeMaildir(join(root, BODY_USER), bodies, 'body');
  for (let i = 1; i <= USERS; i++) {
    const user = sessionUser(i);
    const messages = Array.from({ length: SESSION_MESSAGES }, (_, n) =>
      smallMessage(i * 1000 + n + 1, user, { flagged: false }),
    );
    writeMaildir(join(root, user), messages, user);
  }
  return {
    envelopes,
    bodyHeads: bodies.map((message) => Buffer.from(message.text.slice(0, 64), 'latin1')),
  };
}

/** Connects, logs in as `user` and opens INBOX (EXAMINE, or SELECT with `write`), which must hold `count` messages. */
async function openInbox(port: number, user: string, count: number, write = false): Promise<ImapLoadClient> {
  const client = await ImapLoadClient.connect(port);
  await client.command(`LOGIN ${user} ${PASSWORD}`);
  let exists = -1;
  client.onUntagged = ({ text }) => {
    const match = /^\* (\d+) EXISTS$/i.exec(text);
    if (match) exists = Number(match[1]);
  };
  await client.command(`${write ? 'SELECT' : 'EXAMINE'} INBOX`);
  client.onUntagged = undefined;
  if (exists !== count) throw new Error(`${user}'s INBOX has ${exists} messages, not ${count}`);
  return client;
}

/** The sequence number of an untagged FETCH response, or 0 for another response. */
function fetchNumber(text: string): number {
  const match = /^\* (\d+) FETCH \(/i.exec(text);
  return match ? Number(match[1]) : 0;
}

/** The flags of a FETCH response, sorted, without `\Recent` (IMAP4rev1 only; Dovecot shows it to the first session). */
function fetchFlags(text: string): string {
  const match = /FLAGS \(([^)]*)\)/i.exec(text);
  if (!match) return '?';
  return match[1]!
    .split(' ')
    .filter((flag) => flag && flag.toLowerCase() !== '\\recent')
    .sort()
    .join(' ');
}

/**
 * Workload 1, one round: `FETCH 1:* (FLAGS ENVELOPE)` in one session, timed from the command to its tagged OK.
 * Every response is checked: each message once, its Message-ID in the envelope, its flags as written.
 * Messages per second.
 */
async function envelopeRound(port: number, corpus: Corpus): Promise<number> {
  const client = await openInbox(port, ENVELOPE_USER, ENVELOPE_COUNT);
  const seen = new Uint8Array(ENVELOPE_COUNT + 1);
  let count = 0;
  let bad: string | undefined;
  client.onUntagged = ({ text }) => {
    const n = fetchNumber(text);
    const expected = corpus.envelopes[n - 1];
    if (!expected || seen[n]) {
      bad ??= `unexpected response: ${text.slice(0, 200)}`;
      return;
    }
    seen[n] = 1;
    count++;
    if (!text.includes('ENVELOPE (') || !text.includes(`"${expected.messageId}"`)) {
      bad ??= `message ${n}: no ENVELOPE with ${expected.messageId}: ${text.slice(0, 300)}`;
    } else if (fetchFlags(text) !== [...expected.flags].sort().join(' ')) {
      bad ??= `message ${n}: flags ${fetchFlags(text)}, not ${expected.flags.join(' ')}`;
    }
  };
  const start = process.hrtime.bigint();
  await client.command('FETCH 1:* (FLAGS ENVELOPE)');
  const time = seconds(start);
  client.onUntagged = undefined;
  await client.logout();
  if (bad) throw new Error(`FETCH ENVELOPE from port ${port}: ${bad}`);
  if (count !== ENVELOPE_COUNT) throw new Error(`FETCH ENVELOPE from port ${port}: ${count} responses`);
  return ENVELOPE_COUNT / time;
}

/**
 * Workload 2, one round: `FETCH 1:* BODY.PEEK[]` in one session, timed from the command to its tagged OK.
 * Every response must carry one literal of the message's size whose first octets are that message's.
 * MB (10⁶ octets) of message a second.
 */
async function bodyRound(port: number, corpus: Corpus): Promise<number> {
  const client = await openInbox(port, BODY_USER, BODY_COUNT);
  const seen = new Uint8Array(BODY_COUNT + 1);
  let count = 0;
  let octets = 0;
  let bad: string | undefined;
  client.onUntagged = ({ text, literals, heads }: ImapResponse) => {
    const n = fetchNumber(text);
    if (n < 1 || n > BODY_COUNT || seen[n]) {
      bad ??= `unexpected response: ${text.slice(0, 200)}`;
      return;
    }
    seen[n] = 1;
    count++;
    octets += literals.reduce((sum, size) => sum + size, 0);
    if (literals.length !== 1 || literals[0] !== BODY_SIZE || !heads[0]?.equals(corpus.bodyHeads[n - 1]!)) {
      bad ??= `message ${n}: literals ${literals.join(', ')}, first octets ${heads[0]?.toString('latin1')}`;
    }
  };
  const start = process.hrtime.bigint();
  await client.command('FETCH 1:* BODY.PEEK[]');
  const time = seconds(start);
  client.onUntagged = undefined;
  await client.logout();
  if (bad) throw new Error(`FETCH BODY.PEEK[] from port ${port}: ${bad}`);
  if (count !== BODY_COUNT || octets !== BODY_COUNT * BODY_SIZE) {
    throw new Error(`FETCH BODY.PEEK[] from port ${port}: ${count} responses, ${octets} octets`);
  }
  return octets / 1e6 / time;
}

/**
 * One session of workload 3 as a mail client runs it: LOGIN, SELECT INBOX, then FETCH 1:10 (FLAGS ENVELOPE)
 * and STORE of three messages +FLAGS (\Flagged) pipelined, IDLE (wait for `+`, then DONE) when `idle`,
 * LOGOUT. Each step waits for its tagged OK; the untagged FETCH responses are counted (10 envelopes, 3
 * flag updates with `\Flagged`).
 */
async function oneSession(port: number, user: string, round: number, idle: boolean): Promise<void> {
  const client = await openInbox(port, user, SESSION_MESSAGES, true);
  let envelopes = 0;
  let flagged = 0;
  client.onUntagged = ({ text }) => {
    if (!fetchNumber(text)) return;
    if (text.includes('ENVELOPE (')) envelopes++;
    else if (/FLAGS \([^)]*\\Flagged/i.test(text)) flagged++;
  };
  const first = 11 + 3 * round;
  await Promise.all([
    client.command('FETCH 1:10 (FLAGS ENVELOPE)'),
    client.command(`STORE ${first}:${first + 2} +FLAGS (\\Flagged)`),
  ]);
  if (envelopes !== 10 || flagged !== 3) {
    throw new Error(
      `${user} on port ${port}: ${envelopes} envelopes and ${flagged} flag updates, not 10 and 3`,
    );
  }
  if (idle) {
    const idling = await client.idle();
    if (!idling) throw new Error(`${user} on port ${port}: IDLE refused`);
    await idling.done();
  }
  await client.logout();
}

/** Workload 3, one round (0 is the warm-up): `SESSIONS` sessions at once; sessions per second over the whole. */
async function sessionsRound(port: number, round: number, idle: boolean): Promise<number> {
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: SESSIONS }, (_, i) => oneSession(port, sessionUser(i + 1), round, idle)),
  );
  return SESSIONS / seconds(start);
}

/** Whether the server answers IDLE with `+` (true) or BAD (false), asked in a session of a warm-up user. */
async function supportsIdle(port: number): Promise<boolean> {
  const client = await openInbox(port, sessionUser(WARMUP_USER), SESSION_MESSAGES, true);
  const idling = await client.idle();
  await idling?.done();
  await client.logout();
  return idling !== undefined;
}

/** A session left idle: logged in, INBOX selected, in IDLE when the server has it. */
interface IdleSession {
  end(): Promise<void>;
}

/** Opens users `first`…`first + count - 1` as idle sessions, `OPEN_AT_ONCE` at a time. */
async function openIdle(port: number, first: number, count: number, idle: boolean): Promise<IdleSession[]> {
  const sessions: IdleSession[] = [];
  let next = 0;
  const opener = async () => {
    while (next < count) {
      const user = sessionUser(first + next++);
      const client = await openInbox(port, user, SESSION_MESSAGES, true);
      const idling = idle ? await client.idle() : undefined;
      if (idle && !idling) throw new Error(`${user} on port ${port}: IDLE refused`);
      sessions.push({
        async end() {
          await idling?.done();
          await client.logout();
        },
      });
    }
  };
  await Promise.all(Array.from({ length: OPEN_AT_ONCE }, opener));
  return sessions;
}

/** What the parent asks the server child (imap-server-child.mjs), and what it answers. */
type ChildRequest = { type: 'memory' } | { type: 'cpu' } | { type: 'stop' };
type ChildReply =
  | { type: 'listening'; port: number }
  | { type: 'memory'; rss: number; heap: number; young: number }
  | { type: 'cpu'; micros: number };

/**
 * Our server (imap-server-child.mjs) over the Maildir store at `root`, in a child process run by plain Node
 * on the built packages, as Dovecot's mail user when we are root (like Dovecot's mail processes).
 */
class OurServer {
  readonly port: number;
  readonly #child: ChildProcess;
  readonly #replies: ((reply: ChildReply) => void)[] = [];
  readonly #exited: Promise<number | null>;

  private constructor(child: ChildProcess, port: number, exited: Promise<number | null>) {
    this.#child = child;
    this.port = port;
    this.#exited = exited;
    child.on('message', (reply: ChildReply) => this.#replies.shift()?.(reply));
  }

  /** With `profileDir` the child writes a CPU profile there when it stops. */
  static async start(root: string, profileDir?: string): Promise<OurServer> {
    const script = fileURLToPath(new URL('./imap-server-child.mjs', import.meta.url));
    const child = fork(script, [root, PASSWORD], {
      execArgv: [
        '--expose-gc',
        ...(profileDir
          ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, '--cpu-prof-name=imap-server.cpuprofile']
          : []),
      ],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      ...(runningAsRoot() ? { uid: MAIL_UID, gid: MAIL_GID } : {}),
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const listening = await Promise.race([
      new Promise<ChildReply>((resolve) => child.once('message', resolve)),
      exited.then((code) => Promise.reject(new Error(`the IMAP server child exited with ${code}`))),
    ]);
    if (listening.type !== 'listening') throw new Error(`the IMAP server child said ${listening.type}`);
    return new OurServer(child, listening.port, exited);
  }

  async #ask(request: ChildRequest): Promise<ChildReply> {
    const reply = new Promise<ChildReply>((resolve, reject) => {
      this.#replies.push(resolve);
      this.#exited.then((code) => reject(new Error(`the IMAP server child exited with ${code}`)));
    });
    this.#child.send(request);
    return reply;
  }

  /**
   * Resident memory, JS memory (heap used and external) and the resident part of V8's young generation, in
   * bytes, after full collections.
   */
  async memory(): Promise<{ rss: number; heap: number; young: number }> {
    const reply = await this.#ask({ type: 'memory' });
    if (reply.type !== 'memory') throw new Error(`the IMAP server child said ${reply.type}`);
    return reply;
  }

  async stop(): Promise<void> {
    this.#child.send({ type: 'stop' } satisfies ChildRequest);
    const code = await this.#exited;
    if (code !== 0) throw new Error(`the IMAP server child exited with ${code}`);
  }
}

/**
 * Workload 4 on our server, one round: a fresh server process; `MEMORY_WARMUP` sessions of other users come
 * and go, then RSS and JS heap + external (after full collections) before and after `MEMORY_SESSIONS` idle
 * sessions were opened; the difference per session in KB (1,024 octets). `rss` leaves out the young
 * generation's resident pages: V8's allocation nursery, one per process, whose resident size follows the
 * allocations of the moments before (from round to round it moved by 6 to 28 KB per session), not the
 * sessions held; `rawRss` keeps them.
 */
async function ourIdleMemory(
  root: string,
  idle: boolean,
): Promise<{ rss: number; rawRss: number; heap: number }> {
  const server = await OurServer.start(root);
  try {
    for (const session of await openIdle(server.port, WARMUP_USER, MEMORY_WARMUP, idle)) await session.end();
    await sleep(200);
    const before = await server.memory();
    const sessions = await openIdle(server.port, 1, MEMORY_SESSIONS, idle);
    await sleep(500);
    const after = await server.memory();
    for (const session of sessions) await session.end();
    const perSession = (bytes: number) => bytes / MEMORY_SESSIONS / 1024;
    return {
      rss: perSession(after.rss - after.young - (before.rss - before.young)),
      rawRss: perSession(after.rss - before.rss),
      heap: perSession(after.heap - before.heap),
    };
  } finally {
    await server.stop();
  }
}

/** A field of /proc/`pid`/`file` in kB (VmRSS of status, Pss of smaps_rollup), 0 if the process is gone. */
function procKilobytes(pid: number, file: string, field: string): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync(`/proc/${pid}/${file}`, 'utf8'),
    );
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** The PIDs of the `imap` processes (one per logged-in session) that Dovecot's master `master` started. */
function dovecotImapProcesses(master: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces, so read from its closing parenthesis.
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (comm === 'imap' && ppid === master) pids.push(Number(name));
    } catch {
      // Gone while we looked.
    }
  }
  return pids;
}

/**
 * Workload 4 on Dovecot, one round: `MEMORY_SESSIONS` idle sessions, then the RSS and the PSS (shared pages
 * split between the processes sharing them) of its `imap` processes, per process in KB.
 */
async function dovecotIdleMemory(dovecot: DovecotPeer, idle: boolean): Promise<{ rss: number; pss: number }> {
  const sessions = await openIdle(dovecot.imapPort, 1, MEMORY_SESSIONS, idle);
  try {
    await sleep(500);
    const pids = dovecotImapProcesses(dovecot.pid);
    if (pids.length !== MEMORY_SESSIONS) {
      throw new Error(`Dovecot runs ${pids.length} imap processes for ${MEMORY_SESSIONS} sessions`);
    }
    const sum = (file: string, field: string) =>
      pids.reduce((total, pid) => total + procKilobytes(pid, file, field), 0);
    return {
      rss: sum('status', 'VmRSS') / pids.length,
      pss: sum('smaps_rollup', 'Pss') / pids.length,
    };
  } finally {
    for (const session of sessions) await session.end();
  }
}

const list = (values: readonly number[]) => values.map((v) => v.toFixed(0)).join(' ');

/**
 * The IMAP server rows: our server (`createImapServer` over the Maildir store, in a child process on the
 * built packages) against Dovecot, each serving its own identical copy of the same Maildirs, driven by one
 * client (imap-load-client.ts) in this process: FETCH of 10,000 envelopes, FETCH of 1,000 bodies of 100 KB,
 * 200 sessions at once, and the memory of an idle session. Set BENCH_IMAP_CPU_PROF to a directory to get a
 * CPU profile of our server's process over workloads 1–3.
 */
export async function imapSuite(): Promise<Row[]> {
  if (!dovecotAvailable()) {
    console.log('Dovecot not found (/usr/sbin/dovecot, /usr/bin/doveadm): no IMAP server rows');
    return [];
  }
  checkBuilt(['imap', 'store', 'core', 'sasl', 'mime'], 'the IMAP server rows');
  const dovecotVersion = execFileSync('/usr/sbin/dovecot', ['--version'], { encoding: 'utf8' }).split(' ')[0];
  const peer = `Dovecot ${dovecotVersion}`;
  const profileDir = process.env.BENCH_IMAP_CPU_PROF || undefined;
  if (profileDir) {
    mkdirSync(profileDir, { recursive: true });
    if (runningAsRoot()) chownSync(profileDir, MAIL_UID, MAIL_GID);
  }

  const root = await mkdtemp('/tmp/pwimap-');
  try {
    // The mail uid must get through to both copies.
    chmodSync(root, 0o755);
    const dovecotRoot = join(root, 'dovecot');
    const ourRoot = join(root, 'ours');
    const corpus = writeCorpus(dovecotRoot);
    execFileSync('cp', ['-a', dovecotRoot, ourRoot]);
    await prepareMaildirForDovecot(ourRoot);
    const users = Object.fromEntries(
      [ENVELOPE_USER, BODY_USER, ...Array.from({ length: USERS }, (_, i) => sessionUser(i + 1))].map(
        (user) => [user, PASSWORD],
      ),
    );
    const dovecot = await startDovecot({ mailRoot: dovecotRoot, users });
    try {
      const ours = await OurServer.start(ourRoot, profileDir);
      const envelopes = { dovecot: [] as number[], ours: [] as number[] };
      const bodies = { dovecot: [] as number[], ours: [] as number[] };
      const sessions = { dovecot: [] as number[], ours: [] as number[] };
      let idle: boolean;
      try {
        for (let round = -1; round < FETCH_ROUNDS; round++) {
          const peerRate = await envelopeRound(dovecot.imapPort, corpus);
          const ourRate = await envelopeRound(ours.port, corpus);
          if (round < 0) continue;
          envelopes.dovecot.push(peerRate);
          envelopes.ours.push(ourRate);
        }
        console.log(
          `IMAP FETCH ENVELOPE rounds (msg/s): Dovecot ${list(envelopes.dovecot)}; ours ${list(envelopes.ours)}`,
        );
        for (let round = -1; round < FETCH_ROUNDS; round++) {
          const peerRate = await bodyRound(dovecot.imapPort, corpus);
          const ourRate = await bodyRound(ours.port, corpus);
          if (round < 0) continue;
          bodies.dovecot.push(peerRate);
          bodies.ours.push(ourRate);
        }
        console.log(
          `IMAP FETCH BODY rounds (MB/s): Dovecot ${list(bodies.dovecot)}; ours ${list(bodies.ours)}`,
        );
        // Both servers run the same sessions: without IDLE on either when ours does not have it yet.
        idle = await supportsIdle(ours.port);
        if (!idle)
          console.log('IMAP: our server answers IDLE with BAD; the sessions workload skips IDLE on both');
        for (let round = 0; round <= SESSION_ROUNDS; round++) {
          const peerRate = await sessionsRound(dovecot.imapPort, round, idle);
          const ourRate = await sessionsRound(ours.port, round, idle);
          if (round === 0) continue;
          sessions.dovecot.push(peerRate);
          sessions.ours.push(ourRate);
        }
        console.log(
          `IMAP sessions rounds (sessions/s): Dovecot ${list(sessions.dovecot)}; ours ${list(sessions.ours)}`,
        );
      } finally {
        await ours.stop();
      }

      const memory = {
        rss: [] as number[],
        rawRss: [] as number[],
        heap: [] as number[],
        dovecotRss: [] as number[],
        dovecotPss: [] as number[],
      };
      for (let round = 0; round < MEMORY_ROUNDS; round++) {
        const own = await ourIdleMemory(ourRoot, idle);
        memory.rss.push(own.rss);
        memory.rawRss.push(own.rawRss);
        memory.heap.push(own.heap);
        const other = await dovecotIdleMemory(dovecot, idle);
        memory.dovecotRss.push(other.rss);
        memory.dovecotPss.push(other.pss);
      }
      console.log(
        `IMAP idle session memory rounds (KB): ours RSS less the young generation ${list(memory.rss)}, ` +
          `RSS ${list(memory.rawRss)}, heap + external ${list(memory.heap)}; ` +
          `Dovecot imap process RSS ${list(memory.dovecotRss)}, PSS ${list(memory.dovecotPss)}`,
      );

      const idleNote = idle ? 'IDLE' : 'IDLE skipped: our server answers BAD';
      return [
        {
          workload: `IMAP server: FETCH 1:* (FLAGS ENVELOPE), ${ENVELOPE_COUNT.toLocaleString('en')} small messages`,
          unit: 'msg/s',
          ours: median(envelopes.ours),
          peers: { [peer]: median(envelopes.dovecot) },
        },
        {
          workload: `IMAP server: FETCH 1:* BODY.PEEK[], ${BODY_COUNT.toLocaleString('en')} × 100 KB messages`,
          unit: 'MB/s',
          ours: median(bodies.ours),
          peers: { [peer]: median(bodies.dovecot) },
        },
        {
          workload: `IMAP server: ${SESSIONS} sessions at once (LOGIN, SELECT, FETCH, STORE, ${idleNote}, LOGOUT)`,
          unit: 'sessions/s',
          ours: median(sessions.ours),
          peers: { [peer]: median(sessions.dovecot) },
        },
        {
          workload: `Memory per idle IMAP session (RSS less V8's young generation; SELECT, ${idle ? 'IDLE' : 'no IDLE: our server answers BAD'})`,
          unit: 'KB',
          ours: median(memory.rss),
          peers: {
            [`${peer} (RSS of its imap process)`]: median(memory.dovecotRss),
            [`${peer} (PSS of its imap process)`]: median(memory.dovecotPss),
          },
          lowerIsBetter: true,
        },
      ];
    } finally {
      const log = await dovecot.readLog().catch(() => '');
      // Each kind of warning once, with how often it came (one line per session would flood the output).
      const warnings = new Map<string, number>();
      for (const line of log.split('\n')) {
        const match = /\b(Warning|Error|Fatal|Panic): (.*)$/.exec(line);
        if (match) warnings.set(match[0], (warnings.get(match[0]) ?? 0) + 1);
      }
      for (const [warning, count] of warnings) console.log(`Dovecot's log, ${count} ×: ${warning}`);
      await dovecot.stop();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

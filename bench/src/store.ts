import { execFileSync, fork } from 'node:child_process';
import {
  appendFileSync,
  chownSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMemoryStore, type MailStore } from '@postwire/store';
import { createMaildirStore } from '@postwire/store/maildir';
import {
  type DovecotPeer,
  dovecotAvailable,
  MAIL_GID,
  MAIL_UID,
  startDovecot,
} from '../../packages/store/test/support/dovecot.js';
import { checkBuilt } from './build-check.js';
import { ImapConnection } from './imap-client.js';
import type { Row } from './report.js';

/** Rounds of the append and flag workloads; each round starts from an empty INBOX, and rows take the median. */
const ROUNDS = 5;
/** Messages appended per round (then flagged one by one) into a Maildir, ours and Dovecot's. */
const MAILDIR_APPENDS = 500;
/** Messages appended per round into the memory store. */
const MEMORY_APPENDS = 5000;
/** The big Maildir: its size, and how many times each open is measured. */
const BIG = 100_000;
const OPEN_ROUNDS = 3;
/** Flag changes timed in the big Maildir (ours are slow there: a few suffice). */
const BIG_FLAGS_OURS = 8;
const BIG_FLAGS_DOVECOT = 200;
const PASSWORD = 'benchpw';

/** A 10 KB (10,240-byte) message with CRLF line endings: a plain-text mail. */
function tenKilobyteMessage(): Buffer {
  const header =
    'From: Ann Example <ann@example.com>\r\nTo: Bob Example <bob@example.org>\r\n' +
    'Subject: Quarterly figures\r\nDate: Mon, 2 Mar 2026 09:00:00 +0000\r\n' +
    'Message-ID: <bench-10k@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n';
  const line = 'The quarterly figures are attached; the summary follows in this message body.\r\n';
  let text = header;
  while (text.length + line.length <= 10_240) text += line;
  text += `${'x'.repeat(10_240 - text.length - 2)}\r\n`;
  return Buffer.from(text, 'latin1');
}

/** Messages (or changes) per second. */
const rate = (count: number, start: bigint): number =>
  count / (Number(process.hrtime.bigint() - start) / 1e9);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Appends `count` copies of `message` to a fresh INBOX of `store`, then adds `\Flagged` to each, one call each. */
async function oursAppendThenFlag(
  store: MailStore,
  user: string,
  message: Uint8Array,
  count: number,
): Promise<{ appends: number; flags: number }> {
  const mailbox = await (await store.user(user)).open('INBOX');
  const uids: number[] = [];
  let start = process.hrtime.bigint();
  for (let i = 0; i < count; i++) uids.push((await mailbox.append(message)).uid);
  const appends = rate(count, start);
  start = process.hrtime.bigint();
  for (const uid of uids) await mailbox.setFlags([uid], 'add', ['\\Flagged']);
  const flags = rate(count, start);
  const messages = await mailbox.messages();
  const flagged = messages.filter((info) => info.flags.includes('\\Flagged')).length;
  if (messages.length !== count || flagged !== count) {
    throw new Error(`expected ${count} flagged messages, found ${flagged} of ${messages.length}`);
  }
  await mailbox.close();
  return { appends, flags };
}

/**
 * The same through Dovecot: one IMAP connection, `count` APPENDs written at once with LITERAL+ literals
 * (`{n+}`, no wait for a continuation), then SELECT and one `UID STORE +FLAGS.SILENT` per message, all
 * pipelined. Each APPEND and each STORE is one command, as a client sends them.
 */
async function dovecotAppendThenFlag(
  dovecot: DovecotPeer,
  user: string,
  message: Uint8Array,
  count: number,
): Promise<{ appends: number; flags: number }> {
  const imap = await ImapConnection.connect(dovecot.imapPort);
  try {
    const login = await imap.send(`LOGIN ${user} ${PASSWORD}`);
    if (!/LITERAL\+/.test(login)) throw new Error(`Dovecot does not offer LITERAL+: ${login}`);
    const literal = `APPEND INBOX {${message.length}+}\r\n`;
    let start = process.hrtime.bigint();
    const replies = await Promise.all(Array.from({ length: count }, () => imap.send(literal, message)));
    const appends = rate(count, start);
    const uids = replies.map((reply) => Number(/\[APPENDUID \d+ (\d+)\]/.exec(reply)?.[1]));
    if (uids.some((uid) => !(uid > 0))) throw new Error(`no APPENDUID in ${replies[0]}`);
    await imap.send('SELECT INBOX');
    start = process.hrtime.bigint();
    await Promise.all(uids.map((uid) => imap.send(`UID STORE ${uid} +FLAGS.SILENT (\\Flagged)`)));
    const flags = rate(count, start);
    await expectFlagged(imap, uids);
    return { appends, flags };
  } finally {
    await imap.close();
  }
}

/** Checks, with UID SEARCH, that each of `uids` now has `\Flagged`. */
async function expectFlagged(imap: ImapConnection, uids: readonly number[]): Promise<void> {
  imap.untagged.length = 0;
  await imap.send('UID SEARCH FLAGGED');
  const found = new Set(
    (imap.untagged.find((line) => line.startsWith('* SEARCH')) ?? '').split(' ').slice(2).map(Number),
  );
  const missing = uids.filter((uid) => !found.has(uid));
  if (missing.length > 0)
    throw new Error(`Dovecot did not flag ${missing.length} of ${uids.length} messages`);
}

/**
 * Writes a Maildir of `count` small messages (about 1 KB) straight into `cur/`, 90 % of them `\Seen`,
 * with the `dovecot-uidlist` that gives them UIDs 1…count, as Dovecot or Postwire would have left it.
 */
function writeBigMaildir(dir: string, count: number): void {
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
  const body = 'A line of the message body, as plain text mail has them.\r\n'.repeat(16);
  const time = Math.floor(Date.now() / 1000) - count;
  const records: string[] = [`3 V${time} N${count + 1} G${'0123456789abcdef'.repeat(2)}\n`];
  for (let uid = 1; uid <= count; uid++) {
    const message = Buffer.from(
      `From: sender${uid % 97}@example.com\r\nTo: user@example.org\r\nSubject: Message ${uid}\r\n` +
        `Message-ID: <${uid}@bench.example>\r\n\r\n${body}`,
      'latin1',
    );
    const base = `${time + uid}.M${uid}P1.bench,S=${message.length},W=${message.length}`;
    writeFileSync(join(dir, 'cur', `${base}:2,${uid % 10 === 0 ? '' : 'S'}`), message);
    records.push(`${uid} :${base}\n`);
  }
  writeFileSync(join(dir, 'dovecot-uidlist'), records.join(''));
}

const runningAsRoot = (): boolean => process.getuid?.() === 0;

/** Hands a user's Maildir to Dovecot's mail uid: all of it (`chown -R`), or only its top-level files. */
function handToDovecot(dir: string, recursive: boolean): void {
  if (!runningAsRoot()) return;
  if (recursive) {
    execFileSync('chown', ['-R', `${MAIL_UID}:${MAIL_GID}`, dir]);
    return;
  }
  chownSync(dir, MAIL_UID, MAIL_GID);
  for (const name of readdirSync(dir)) chownSync(join(dir, name), MAIL_UID, MAIL_GID);
}

/** Removes the files whose names start with one of `prefixes` from a user's Maildir. */
function removeFiles(dir: string, prefixes: readonly string[]): void {
  for (const name of readdirSync(dir)) {
    if (prefixes.some((prefix) => name.startsWith(prefix))) rmSync(join(dir, name), { force: true });
  }
}

interface OpenResult {
  readonly seconds: number;
  readonly peakRssMb: number;
  readonly messages?: number;
}

/** Opens a user's INBOX with Postwire's Maildir store in a fresh child process (see store-open-child.mjs). */
function oursOpenInChild(root: string, user: string): Promise<OpenResult> {
  return new Promise((resolve, reject) => {
    const script = fileURLToPath(new URL('./store-open-child.mjs', import.meta.url));
    const child = fork(script, [root, user], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    let result: OpenResult | undefined;
    child.on('message', (message: OpenResult) => {
      result = message;
    });
    child.on('exit', (code) =>
      result ? resolve(result) : reject(new Error(`the store's open child exited with ${code}`)),
    );
  });
}

/** The PID of the newest live `imap` process that the Dovecot master `masterPid` started. */
function imapProcessOf(masterPid: number): number | undefined {
  let newest: { pid: number; started: number } | undefined;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(')');
    const command = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    if (command !== 'imap' || fields[0] === 'Z' || Number(fields[1]) !== masterPid) continue;
    const started = Number(fields[19]);
    if (!newest || started >= newest.started) newest = { pid: Number(name), started };
  }
  return newest?.pid;
}

function peakRssMbOf(pid: number): number {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmHWM for process ${pid}`);
  return Number(match[1]) / 1024;
}

/** A new IMAP session's `SELECT INBOX`: its time, and the peak RSS of the imap process serving it. */
async function dovecotSelect(dovecot: DovecotPeer, user: string): Promise<OpenResult> {
  const imap = await ImapConnection.connect(dovecot.imapPort);
  try {
    await imap.send(`LOGIN ${user} ${PASSWORD}`);
    const pid = imapProcessOf(dovecot.pid);
    if (pid === undefined) throw new Error('found no imap process of the Dovecot under test');
    const start = process.hrtime.bigint();
    await imap.send('SELECT INBOX');
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const peakRssMb = peakRssMbOf(pid);
    const exists = imap.untagged.map((line) => /^\* (\d+) EXISTS$/.exec(line)?.[1]).find(Boolean);
    return { seconds, peakRssMb, messages: Number(exists) };
  } finally {
    await imap.close();
  }
}

/** Sets `\Flagged` on each of `uids`, one `UID STORE` each, pipelined after an untimed SELECT. */
async function dovecotFlags(dovecot: DovecotPeer, user: string, uids: readonly number[]): Promise<number> {
  const imap = await ImapConnection.connect(dovecot.imapPort);
  try {
    await imap.send(`LOGIN ${user} ${PASSWORD}`);
    await imap.send('SELECT INBOX');
    const start = process.hrtime.bigint();
    await Promise.all(uids.map((uid) => imap.send(`UID STORE ${uid} +FLAGS.SILENT (\\Flagged)`)));
    const result = rate(uids.length, start);
    await expectFlagged(imap, uids);
    return result;
  } finally {
    await imap.close();
  }
}

/** Reloads Dovecot's configuration with one more setting, and waits until the master has read it. */
async function reconfigure(dovecot: DovecotPeer, setting: string): Promise<void> {
  const reloads = (log: string) => log.split('reloading configuration').length - 1;
  const before = reloads(await dovecot.readLog().catch(() => ''));
  appendFileSync(dovecot.configPath, `${setting}\n`);
  await dovecot.doveadm(['reload']);
  for (const deadline = Date.now() + 10_000; ; ) {
    if (reloads(await dovecot.readLog().catch(() => '')) > before) return;
    if (Date.now() > deadline) throw new Error('Dovecot did not reload its configuration');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The store rows of docs/benchmarks.md: appends and flag changes per second (memory; Maildir with and
 * without fsync, against Dovecot over IMAP on the same disk), and opening a Maildir of 100,000 messages
 * (time and peak RSS, against Dovecot's SELECT of the same directory).
 */
export async function storeSuite(): Promise<Row[]> {
  checkBuilt(['store'], 'the open rows');
  const message = tenKilobyteMessage();
  const root = await mkdtemp('/tmp/pwbench-');
  const withDovecot = dovecotAvailable();
  if (!withDovecot)
    console.log('Dovecot not found (/usr/sbin/dovecot, /usr/bin/doveadm) — store rows without it');
  let dovecot: DovecotPeer | undefined;
  try {
    const users: Record<string, string> = { big: PASSWORD };
    for (let round = 0; round < ROUNDS; round++) {
      users[`dovecot-fsync-${round}`] = PASSWORD;
      users[`dovecot-nofsync-${round}`] = PASSWORD;
    }
    if (withDovecot) dovecot = await startDovecot({ mailRoot: root, users });
    const version = withDovecot
      ? execFileSync('/usr/sbin/dovecot', ['--version'], { encoding: 'utf8' }).split(' ')[0]
      : '';
    const peer = `Dovecot ${version}`;

    // The memory store: appends, then a flag change per message; the first round only warms up.
    const memory = { appends: [] as number[], flags: [] as number[] };
    for (let round = -1; round < ROUNDS; round++) {
      const store = createMemoryStore();
      const result = await oursAppendThenFlag(store, 'user', message, MEMORY_APPENDS);
      await store.close();
      if (round < 0) continue;
      memory.appends.push(result.appends);
      memory.flags.push(result.flags);
    }

    // Maildir, fsync on (the store's default; Dovecot's default mail_fsync = optimized flushes each
    // saved message and the directories too), then off (Dovecot reloaded with mail_fsync = never).
    const maildir: Record<
      'fsync' | 'nofsync',
      Record<'ours' | 'dovecot', { appends: number[]; flags: number[] }>
    > = {
      fsync: { ours: { appends: [], flags: [] }, dovecot: { appends: [], flags: [] } },
      nofsync: { ours: { appends: [], flags: [] }, dovecot: { appends: [], flags: [] } },
    };
    const maildirRounds = async (mode: 'fsync' | 'nofsync') => {
      const store = createMaildirStore({ root, fsync: mode === 'fsync' });
      for (let round = 0; round < ROUNDS; round++) {
        const ours = await oursAppendThenFlag(store, `postwire-${mode}-${round}`, message, MAILDIR_APPENDS);
        maildir[mode].ours.appends.push(ours.appends);
        maildir[mode].ours.flags.push(ours.flags);
        if (!dovecot) continue;
        const theirs = await dovecotAppendThenFlag(
          dovecot,
          `dovecot-${mode}-${round}`,
          message,
          MAILDIR_APPENDS,
        );
        maildir[mode].dovecot.appends.push(theirs.appends);
        maildir[mode].dovecot.flags.push(theirs.flags);
      }
      await store.close();
    };
    await maildirRounds('fsync');

    // 100,000 messages, UIDs already in dovecot-uidlist: each open in a fresh process (ours) or a
    // fresh IMAP session (Dovecot's imap process), first without the server's own index, then with it.
    const big = join(root, 'big');
    writeBigMaildir(big, BIG);
    handToDovecot(big, true);
    const open = {
      ours: { cold: [] as OpenResult[], warm: [] as OpenResult[] },
      dovecot: { cold: [] as OpenResult[], warm: [] as OpenResult[] },
    };
    for (let round = 0; round < OPEN_ROUNDS; round++) {
      removeFiles(big, ['postwire-index', 'postwire-cache']);
      const cold = await oursOpenInChild(root, 'big');
      if (cold.messages !== BIG) throw new Error(`the store found ${cold.messages} of ${BIG} messages`);
      open.ours.cold.push(cold);
      handToDovecot(big, false);
      if (dovecot) {
        removeFiles(big, ['dovecot.index', 'dovecot.list.index']);
        open.dovecot.cold.push(await dovecotSelect(dovecot, 'big'));
      }
      open.ours.warm.push(await oursOpenInChild(root, 'big'));
      handToDovecot(big, false);
      if (dovecot) open.dovecot.warm.push(await dovecotSelect(dovecot, 'big'));
    }
    for (const result of [...open.ours.warm, ...open.dovecot.cold, ...open.dovecot.warm]) {
      if (result.messages !== BIG) throw new Error(`an open found ${result.messages} of ${BIG} messages`);
    }

    // A flag change in the big Maildir, with its index on disk (after an untimed open / SELECT); ours on
    // even UIDs, Dovecot's on odd ones, so that every change changes something.
    const bigStore = createMaildirStore({ root });
    const bigMailbox = await (await bigStore.user('big')).open('INBOX');
    const start = process.hrtime.bigint();
    for (let i = 0; i < BIG_FLAGS_OURS; i++) await bigMailbox.setFlags([2 + i * 998], 'add', ['\\Flagged']);
    const bigFlagsOurs = rate(BIG_FLAGS_OURS, start);
    await bigStore.close();
    handToDovecot(big, false);
    const bigFlagsDovecot = dovecot
      ? await dovecotFlags(
          dovecot,
          'big',
          Array.from({ length: BIG_FLAGS_DOVECOT }, (_, i) => 501 + i * 486),
        )
      : undefined;

    if (dovecot) await reconfigure(dovecot, 'mail_fsync = never');
    await maildirRounds('nofsync');

    const peers = (figures: number[] | number | undefined, name: string): Record<string, number> => {
      if (figures === undefined || (Array.isArray(figures) && figures.length === 0)) return {};
      return { [name]: Array.isArray(figures) ? median(figures) : figures };
    };
    const milliseconds = (results: OpenResult[]) => results.map((result) => result.seconds * 1000);
    const rss = (results: OpenResult[]) => results.map((result) => result.peakRssMb);
    return [
      {
        workload: 'Append a 10 KB message (memory store)',
        unit: 'msg/s',
        ours: median(memory.appends),
        peers: {},
      },
      {
        workload: 'Append a 10 KB message (Maildir, fsync on)',
        unit: 'msg/s',
        ours: median(maildir.fsync.ours.appends),
        peers: peers(maildir.fsync.dovecot.appends, `${peer} IMAP APPEND, same disk (mail_fsync=optimized)`),
      },
      {
        workload: 'Append a 10 KB message (Maildir, fsync off)',
        unit: 'msg/s',
        ours: median(maildir.nofsync.ours.appends),
        peers: peers(maildir.nofsync.dovecot.appends, `${peer} IMAP APPEND, same disk (mail_fsync=never)`),
      },
      {
        workload: 'Set a flag on one message (memory store)',
        unit: 'ops/s',
        ours: median(memory.flags),
        peers: {},
      },
      {
        workload: `Set a flag on one message (Maildir of ${MAILDIR_APPENDS}, fsync on)`,
        unit: 'ops/s',
        ours: median(maildir.fsync.ours.flags),
        peers: peers(maildir.fsync.dovecot.flags, `${peer} IMAP UID STORE (mail_fsync=optimized)`),
      },
      {
        workload: `Set a flag on one message (Maildir of ${MAILDIR_APPENDS}, fsync off)`,
        unit: 'ops/s',
        ours: median(maildir.nofsync.ours.flags),
        peers: peers(maildir.nofsync.dovecot.flags, `${peer} IMAP UID STORE (mail_fsync=never)`),
      },
      {
        workload: 'Set a flag on one message (Maildir of 100,000, fsync on)',
        unit: 'ops/s',
        ours: bigFlagsOurs,
        peers: peers(bigFlagsDovecot, `${peer} IMAP UID STORE (mail_fsync=optimized)`),
      },
      {
        workload: 'Open a Maildir of 100,000 messages, first time (no index yet)',
        unit: 'ms',
        ours: median(milliseconds(open.ours.cold)),
        peers: peers(milliseconds(open.dovecot.cold), `${peer} SELECT, index files deleted`),
        lowerIsBetter: true,
      },
      {
        workload: 'Open a Maildir of 100,000 messages again (index on disk)',
        unit: 'ms',
        ours: median(milliseconds(open.ours.warm)),
        peers: peers(milliseconds(open.dovecot.warm), `${peer} SELECT, index files present`),
        lowerIsBetter: true,
      },
      {
        workload: 'Peak RSS while opening 100,000 messages the first time',
        unit: 'MB',
        ours: median(rss(open.ours.cold)),
        peers: peers(rss(open.dovecot.cold), `${peer} imap process (SELECT, index files deleted)`),
        lowerIsBetter: true,
      },
    ];
  } finally {
    await dovecot?.stop();
    await rm(root, { recursive: true, force: true });
  }
}

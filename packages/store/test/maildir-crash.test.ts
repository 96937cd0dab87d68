/**
 * The Maildir store against real crashes and real concurrent processes: children (see
 * `support/maildir-writer.ts`) append, change flags, expunge and lock while this process watches, and
 * are killed with SIGKILL at random points; a fresh store over the same directory must then find every
 * acknowledged message whole, no partial one, and a mailbox that still works.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type MailboxChange, MailboxInUseError, type MailStore } from '../src/index.js';
import { createMaildirStore } from '../src/node/maildir.js';
import { messageBytes, small, USER } from './support/maildir-writer.js';

const WORKSPACE = fileURLToPath(new URL('../../../', import.meta.url));
const WRITER = fileURLToPath(new URL('./support/maildir-writer.ts', import.meta.url));
/** tsx's ESM loader, resolved from the bench package that depends on it (the root does not). */
const TSX_LOADER = pathToFileURL(
  join(
    dirname(createRequire(join(WORKSPACE, 'bench', 'package.json')).resolve('tsx/package.json')),
    'dist',
    'loader.mjs',
  ),
).href;

const TIMEOUT = 60_000;

/** A child process running the writer, with its stdout split into lines. */
class Writer {
  readonly process: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #partial = '';
  #waiters: (() => void)[] = [];

  constructor(args: string[]) {
    this.process = spawn(process.execPath, ['--import', TSX_LOADER, WRITER, ...args], {
      cwd: WORKSPACE,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.process.stdout!.setEncoding('utf8');
    this.process.stdout!.on('data', (text: string) => {
      const parts = (this.#partial + text).split('\n');
      this.#partial = parts.pop()!;
      this.lines.push(...parts);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.process.stderr!.setEncoding('utf8');
    this.process.stderr!.on('data', (text: string) => {
      this.stderr += text;
    });
    this.exited = new Promise((resolve) => {
      this.process.on('exit', (code, signal) => {
        for (const wake of this.#waiters.splice(0)) wake();
        resolve({ code, signal });
      });
    });
    running.add(this);
    void this.exited.then(() => running.delete(this));
  }

  /** The first line from `from` on that matches, waiting for it; fails if the child exits first. */
  async waitFor(match: (line: string) => boolean, from = 0, timeout = 20_000): Promise<string> {
    const deadline = Date.now() + timeout;
    let exited = false;
    void this.exited.then(() => {
      exited = true;
    });
    for (let at = from; ; ) {
      for (; at < this.lines.length; at++) if (match(this.lines[at]!)) return this.lines[at]!;
      if (exited || this.process.exitCode !== null || this.process.signalCode !== null) {
        throw new Error(`writer exited before the line awaited:\n${this.lines.join('\n')}\n${this.stderr}`);
      }
      if (Date.now() > deadline)
        throw new Error(`writer timed out:\n${this.lines.join('\n')}\n${this.stderr}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  send(line: string): void {
    this.process.stdin!.write(`${line}\n`);
  }

  /** Sends a command to a `commands` child and returns its answer. */
  async command(line: string): Promise<unknown> {
    const from = this.lines.length;
    this.send(line);
    const answer = await this.waitFor((text) => text.startsWith('ok ') || text.startsWith('error '), from);
    if (answer.startsWith('error ')) throw new Error(answer);
    return JSON.parse(answer.slice(3));
  }

  /** SIGKILL, then waits until the process is gone (reaped: a zombie would still look alive). */
  async kill(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill('SIGKILL');
    await this.exited;
  }

  /** The `appended <seq> <uid>` lines: seq → uid. */
  appended(): Map<number, number> {
    const map = new Map<number, number>();
    for (const line of this.lines) {
      const match = /^appended (\d+) (\d+)$/.exec(line);
      if (match) map.set(Number(match[1]), Number(match[2]));
    }
    return map;
  }
}

const running = new Set<Writer>();
const roots: string[] = [];

async function tempRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'pw-maildir-crash-'));
  roots.push(root);
  return root;
}

afterEach(async () => {
  for (const writer of [...running]) await writer.kill();
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function readBytes(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** The sequence number in a message's `Subject: seq <n>`, or undefined. */
function seqOf(bytes: Buffer): number | undefined {
  const head = bytes.subarray(0, Math.min(bytes.length, 4096)).toString('latin1');
  const end = head.indexOf('\r\n\r\n');
  const match = /^Subject: seq (\d+)\r$/m.exec(end === -1 ? head : head.slice(0, end));
  return match ? Number(match[1]) : undefined;
}

/** A PID that no process has: one of a child that has exited (and was reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

/** The file names in a folder's `new/` and `cur/`, and its `tmp/`. */
async function files(folder: string): Promise<{ delivered: string[]; tmp: string[] }> {
  const list = async (dir: string) =>
    (await readdir(join(folder, dir))).filter((name) => !name.startsWith('.'));
  return {
    delivered: [...(await list('new')), ...(await list('cur'))],
    tmp: await list('tmp'),
  };
}

/** The base of a Maildir file name (without `:2,<flags>`). */
function baseOf(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(0, colon);
}

/**
 * Checks that `dovecot-uidlist` is whole and well-formed: a version 3 header, then one record per line,
 * UIDs ascending and below the header's next UID where it is above them; returns the records.
 */
async function checkUidList(folder: string): Promise<{ uid: number; base: string }[]> {
  const text = await readFile(join(folder, 'dovecot-uidlist'), 'utf8');
  expect(text.endsWith('\n'), 'the uidlist ends with a line feed').toBe(true);
  const [header, ...lines] = text.slice(0, -1).split('\n');
  expect(header).toMatch(/^3 V\d+ N\d+( [A-Z]\S*)*$/);
  const records = lines.map((line) => {
    expect(line, 'a well-formed uidlist record').toMatch(/^\d+( [A-Z]\S*)* :[^ :/]+$/);
    const [uid, base] = [Number(line.slice(0, line.indexOf(' '))), line.slice(line.indexOf(':') + 1)];
    return { uid, base };
  });
  for (let i = 1; i < records.length; i++) expect(records[i]!.uid).toBeGreaterThan(records[i - 1]!.uid);
  expect(new Set(records.map((record) => record.base)).size).toBe(records.length);
  return records;
}

/**
 * Opens INBOX with a fresh store and checks everything a crash must not break; returns the messages
 * (uid → seq) and the highest UID.
 */
async function checkInbox(
  root: string,
  acknowledged: ReadonlyMap<number, number>,
): Promise<{ seqOfUid: Map<number, number>; maxUid: number; uidNext: number }> {
  const folder = join(root, USER);
  const store = createMaildirStore({ root, pollInterval: 50 });
  try {
    const inbox = await (await store.user(USER)).open('INBOX');
    const infos = await inbox.messages();
    const uids = infos.map((info) => info.uid);
    for (let i = 1; i < uids.length; i++) expect(uids[i]).toBeGreaterThan(uids[i - 1]!);
    const seqOfUid = new Map<number, number>();
    const seen = new Set<number>();
    for (const info of infos) {
      const bytes = await readBytes(inbox.read(info.uid));
      expect(bytes.length, `UID ${info.uid} reads back as many bytes as its size`).toBe(info.size);
      const seq = seqOf(bytes);
      expect(seq, `UID ${info.uid} has its Subject`).toBeDefined();
      expect(bytes.equals(messageBytes(seq!)), `UID ${info.uid} (seq ${seq}) is whole`).toBe(true);
      expect(seen.has(seq!), `seq ${seq} is in the mailbox once`).toBe(false);
      seen.add(seq!);
      seqOfUid.set(info.uid, seq!);
      expect((await inbox.structure(info.uid)).envelope.subject).toBe(`seq ${seq}`);
    }
    for (const [seq, uid] of acknowledged) {
      expect(seqOfUid.get(uid), `acknowledged seq ${seq} is there with UID ${uid}`).toBe(seq);
    }
    const status = await inbox.status();
    const maxUid = uids[uids.length - 1] ?? 0;
    expect(status.messages).toBe(infos.length);
    expect(status.uidNext).toBeGreaterThan(maxUid);
    for (const info of infos) expect(status.highestModseq).toBeGreaterThanOrEqual(info.modseq);

    // What is in new/ and cur/ is exactly what is listed; whatever is left in tmp/ is not visible.
    const { delivered, tmp } = await files(folder);
    expect(delivered.length).toBe(infos.length);
    const records = await checkUidList(folder);
    const uidOfBase = new Map(records.map((record) => [record.base, record.uid]));
    expect(new Set(delivered.map((name) => uidOfBase.get(baseOf(name))))).toEqual(new Set(uids));
    for (const name of tmp) {
      expect(delivered.map(baseOf)).not.toContain(baseOf(name));
      expect(uidOfBase.has(baseOf(name))).toBe(false);
    }
    return { seqOfUid, maxUid, uidNext: status.uidNext };
  } finally {
    await store.close();
  }
}

describe('maildir: crashes and other processes, for real', () => {
  it(
    'a writer SIGKILLed mid-append, again and again, leaves every acknowledged message whole and the mailbox usable',
    async () => {
      const root = await tempRoot();
      const acknowledged = new Map<number, number>();
      let previousMax = 0;
      let leftInTmp = 0;
      let midWrite = 0;
      for (let round = 0; round < 8; round++) {
        const writer = new Writer(['loop', root, String(round * 1000 + 1)]);
        await writer.waitFor((line) => line === 'ready');
        if (round % 2 === 0) {
          await sleep(50 + Math.random() * 400);
        } else {
          // Kill while a message of megabytes is being streamed into tmp/.
          await writer.waitFor((line) => /^begin \d+ \d{7,}$/.test(line));
          await sleep(1 + Math.random() * 4);
        }
        await writer.kill();
        const begun = writer.lines.filter((line) => line.startsWith('begin ')).length;
        const ended = writer.appended();
        if (begun > ended.size) midWrite++;
        // UIDs given after a crash are above every UID given before it.
        for (const uid of ended.values()) expect(uid).toBeGreaterThan(previousMax);
        for (const [seq, uid] of ended) acknowledged.set(seq, uid);
        const { maxUid } = await checkInbox(root, acknowledged);
        previousMax = Math.max(previousMax, maxUid);
        leftInTmp = (await files(join(root, USER))).tmp.length;
      }
      // The kills did land in the middle of appends, and some left a partial file in tmp/.
      expect(midWrite).toBeGreaterThan(0);
      expect(leftInTmp).toBeGreaterThan(0);
      for (const name of (await files(join(root, USER))).tmp) {
        const { size } = await stat(join(root, USER, 'tmp', name));
        expect(size).toBeLessThanOrEqual(4_000_000);
      }

      // The mailbox still takes appends, with a UID above every one given so far.
      const store = createMaildirStore({ root });
      try {
        const inbox = await (await store.user(USER)).open('INBOX');
        const result = await inbox.append(messageBytes(99_999));
        expect(result.uid).toBeGreaterThan(previousMax);
        acknowledged.set(99_999, result.uid);
      } finally {
        await store.close();
      }
      const { seqOfUid } = await checkInbox(root, acknowledged);
      expect(seqOfUid.get(acknowledged.get(99_999)!)).toBe(99_999);
    },
    TIMEOUT,
  );

  it(
    'a crash between the message file and the UID list loses nothing: the next open takes the stale lock and rescans',
    async () => {
      const root = await tempRoot();
      const folder = join(root, USER);
      const store = createMaildirStore({ root });
      const inbox = await (await store.user(USER)).open('INBOX');
      const before = [await inbox.append(messageBytes(1)), await inbox.append(messageBytes(2))];
      await store.close();
      const uidValidity = before[0]!.uidValidity;

      // Two deliveries that got as far as the rename and no further: one into new/, one with flags
      // into cur/; no uidlist record, no log line.
      const crashed = [
        { seq: 3, base: '1790000000.M1P999999Q1.crashed', to: 'new', suffix: '' },
        { seq: 4, base: '1790000000.M2P999999Q2.crashed', to: 'cur', suffix: ':2,FS' },
      ];
      for (const { seq, base, to, suffix } of crashed) {
        const bytes = messageBytes(seq);
        const name = `${base},S=${bytes.length},W=${bytes.length}`;
        await writeFile(join(folder, 'tmp', name), bytes);
        await rename(join(folder, 'tmp', name), join(folder, to, name + suffix));
      }
      // A third that got its uidlist record but not its log line.
      const third = messageBytes(5);
      const thirdName = `1790000000.M3P999999Q3.crashed,S=${third.length},W=${third.length}`;
      await writeFile(join(folder, 'new', thirdName), third);
      const listText = await readFile(join(folder, 'dovecot-uidlist'), 'utf8');
      await writeFile(join(folder, 'dovecot-uidlist'), `${listText}3 :${thirdName}\n`);
      // And the dead writer's lock, as Dovecot's dot-lock holds it: `<pid>:<host>`.
      const lockPath = join(folder, 'dovecot-uidlist.lock');
      await writeFile(lockPath, `${await deadPid()}:${hostname()}\n`);

      const started = Date.now();
      const reopened = createMaildirStore({ root });
      try {
        const mailbox = await (await reopened.user(USER)).open('INBOX');
        const infos = await mailbox.messages();
        expect(Date.now() - started, 'the dead writer’s lock is broken at once').toBeLessThan(5_000);
        expect(existsSync(lockPath)).toBe(false);
        const status = await mailbox.status();
        expect(status.uidValidity).toBe(uidValidity);
        const bySeq = new Map<number, (typeof infos)[number]>();
        for (const info of infos) {
          const bytes = await readBytes(mailbox.read(info.uid));
          expect(bytes.equals(messageBytes(seqOf(bytes)!))).toBe(true);
          bySeq.set(seqOf(bytes)!, info);
        }
        expect([...bySeq.keys()].sort()).toEqual([1, 2, 3, 4, 5]);
        expect(bySeq.get(1)!.uid).toBe(before[0]!.uid);
        expect(bySeq.get(2)!.uid).toBe(before[1]!.uid);
        expect(bySeq.get(5)!.uid).toBe(3);
        // The files without a record get the next UIDs, above every UID given before.
        expect([bySeq.get(3)!.uid, bySeq.get(4)!.uid].sort()).toEqual([4, 5]);
        expect(bySeq.get(4)!.flags).toEqual(expect.arrayContaining(['\\Seen', '\\Flagged']));
        expect(bySeq.get(3)!.flags).toEqual([]);
        for (const info of infos) expect(info.modseq).toBeLessThanOrEqual(status.highestModseq);
        expect(status.uidNext).toBe(6);
        // The UIDs are now recorded: a store opened afterwards agrees, and the next append goes above.
        const records = await checkUidList(folder);
        expect(records.map((record) => record.uid)).toEqual([1, 2, 3, 4, 5]);
        const next = await mailbox.append(messageBytes(6));
        expect(next.uid).toBe(6);
      } finally {
        await reopened.close();
      }
      const again = createMaildirStore({ root });
      try {
        const mailbox = await (await again.user(USER)).open('INBOX');
        expect((await mailbox.messages()).map((info) => info.uid)).toEqual([1, 2, 3, 4, 5, 6]);
      } finally {
        await again.close();
      }
    },
    TIMEOUT,
  );

  it(
    'two processes appending (and flagging) at once never corrupt the mailbox',
    async () => {
      const root = await tempRoot();
      const N = 100;
      // Create the mailbox first, so that the two do not race to create it.
      const setup = createMaildirStore({ root });
      await (await setup.user(USER)).open('INBOX');
      await setup.close();
      const a = new Writer(['burst', root, '1', String(N), 'flag']);
      const b = new Writer(['burst', root, '1001', String(N)]);
      await Promise.all([a.waitFor((line) => line === 'ready'), b.waitFor((line) => line === 'ready')]);
      a.send('go');
      b.send('go');
      const [exitA, exitB] = await Promise.all([a.exited, b.exited]);
      expect(exitA, a.stderr).toEqual({ code: 0, signal: null });
      expect(exitB, b.stderr).toEqual({ code: 0, signal: null });

      const folder = join(root, USER);
      const store = createMaildirStore({ root });
      try {
        const inbox = await (await store.user(USER)).open('INBOX');
        const infos = await inbox.messages();
        expect(infos).toHaveLength(2 * N);
        const uids = infos.map((info) => info.uid);
        for (let i = 1; i < uids.length; i++) expect(uids[i]).toBeGreaterThan(uids[i - 1]!);
        const byUid = new Map(infos.map((info) => [info.uid, info]));
        const seqs = new Set<number>();
        for (const info of infos) {
          const bytes = await readBytes(inbox.read(info.uid));
          const seq = seqOf(bytes)!;
          expect(bytes.equals(Buffer.from(small(seq))), `UID ${info.uid} is whole`).toBe(true);
          expect(info.size).toBe(bytes.length);
          seqs.add(seq);
        }
        expect(seqs.size).toBe(2 * N);
        // Each writer's acknowledged UIDs are the UIDs of its messages, ascending in its own order.
        for (const writer of [a, b]) {
          const appended = [...writer.appended()];
          expect(appended).toHaveLength(N);
          for (let i = 1; i < appended.length; i++)
            expect(appended[i]![1]).toBeGreaterThan(appended[i - 1]![1]);
          for (const [seq, uid] of appended) {
            expect(byUid.has(uid)).toBe(true);
            const bytes = await readBytes(inbox.read(uid));
            expect(seqOf(bytes)).toBe(seq);
          }
        }
        // A's flags are on A's messages, with the MODSEQ A was told; B's messages have none.
        const flaggedModseq = new Map<number, number>();
        for (const line of a.lines) {
          const match = /^flagged (\d+) (\d+)$/.exec(line);
          if (match) flaggedModseq.set(Number(match[1]), Number(match[2]));
        }
        expect(flaggedModseq.size).toBe(N);
        for (const [seq, uid] of a.appended()) {
          const info = byUid.get(uid)!;
          expect(info.flags).toEqual(expect.arrayContaining(['\\Seen', `$seq${seq % 3}`]));
          expect(info.modseq, `UID ${uid}'s MODSEQ is the one its writer got`).toBe(flaggedModseq.get(uid));
        }
        for (const uid of b.appended().values()) expect(byUid.get(uid)!.flags).toEqual([]);
        const status = await inbox.status();
        expect(status).toMatchObject({ messages: 2 * N, unseen: N });
        expect(status.uidNext).toBeGreaterThan(uids[uids.length - 1]!);
        for (const info of infos) expect(status.highestModseq).toBeGreaterThanOrEqual(info.modseq);
        const records = await checkUidList(folder);
        expect(records.map((record) => record.uid)).toEqual(uids);
        expect((await files(folder)).delivered).toHaveLength(2 * N);
        expect(existsSync(join(folder, 'dovecot-uidlist.lock'))).toBe(false);
      } finally {
        await store.close();
      }
    },
    TIMEOUT,
  );

  describe('the change feed follows writers in other processes', () => {
    let store: MailStore | undefined;
    afterEach(async () => {
      await store?.close();
      store = undefined;
    });

    /** Reads a feed in the background, so that the test can wait for a number of changes. */
    function follow(feed: AsyncIterable<MailboxChange>) {
      const changes: MailboxChange[] = [];
      let failure: unknown;
      const iterator = feed[Symbol.asyncIterator]();
      const done = (async () => {
        try {
          for (;;) {
            const next = await iterator.next();
            if (next.done) return;
            changes.push(next.value);
          }
        } catch (error) {
          failure = error;
        }
      })();
      return {
        changes,
        done,
        async until(count: number, timeout = 10_000): Promise<MailboxChange[]> {
          const deadline = Date.now() + timeout;
          while (changes.length < count) {
            if (failure) throw failure;
            if (Date.now() > deadline) {
              throw new Error(`only ${changes.length} changes of ${count}: ${JSON.stringify(changes)}`);
            }
            await sleep(10);
          }
          return changes.slice(0, count);
        },
      };
    }

    function modseqOf(change: MailboxChange): number {
      if (change.type === 'append') return change.message.modseq;
      if (change.type === 'gone') return Number.NaN;
      return change.modseq;
    }

    it(
      'yields another process’s appends, flag change and expunge, MODSEQs ascending',
      async () => {
        const root = await tempRoot();
        store = createMaildirStore({ root, pollInterval: 50 });
        const inbox = await (await store.user(USER)).open('INBOX');
        const abort = new AbortController();
        const feed = follow(inbox.changes({ signal: abort.signal }));
        const writer = new Writer(['commands', root]);
        await writer.waitFor((line) => line === 'ready');

        const appended: { uid: number; modseq: number }[] = [];
        for (const seq of [1, 2, 3]) appended.push((await writer.command(`append ${seq}`)) as never);
        const appends = await feed.until(3);
        expect(appends.map((change) => change.type)).toEqual(['append', 'append', 'append']);
        expect(appends.map((change) => (change.type === 'append' ? change.message.uid : 0))).toEqual(
          appended.map((result) => result.uid),
        );
        expect(appends.map(modseqOf)).toEqual(appended.map((result) => result.modseq));

        const flagged = (await writer.command(`flag ${appended[1]!.uid} \\Flagged`)) as {
          changed: { uid: number; modseq: number }[];
        };
        const [flags] = (await feed.until(4)).slice(3);
        expect(flags).toEqual({
          type: 'flags',
          uid: appended[1]!.uid,
          flags: ['\\Flagged'],
          modseq: flagged.changed[0]!.modseq,
        });

        expect(await writer.command(`expunge ${appended[0]!.uid}`)).toEqual([appended[0]!.uid]);
        const [expunge] = (await feed.until(5)).slice(4);
        expect(expunge).toMatchObject({ type: 'expunge', uids: [appended[0]!.uid] });

        const all = await feed.until(5);
        const modseqs = all.map(modseqOf);
        for (let i = 1; i < modseqs.length; i++) expect(modseqs[i]).toBeGreaterThan(modseqs[i - 1]!);
        expect((await inbox.messages()).map((info) => info.uid)).toEqual([
          appended[1]!.uid,
          appended[2]!.uid,
        ]);
        expect((await inbox.status()).highestModseq).toBeGreaterThanOrEqual(modseqs[modseqs.length - 1]!);

        writer.send('quit');
        expect((await writer.exited).code).toBe(0);
        abort.abort();
        await feed.done;
        expect(feed.changes).toHaveLength(5);
      },
      TIMEOUT,
    );

    it(
      'reports changes another process made while nobody looked in MODSEQ order, replaying to the same state',
      async () => {
        const root = await tempRoot();
        store = createMaildirStore({ root, pollInterval: 50 });
        const inbox = await (await store.user(USER)).open('INBOX');
        const base = [
          await inbox.append(small(1)),
          await inbox.append(small(2)),
          await inbox.append(small(3)),
        ];
        // The other process changes flags, appends, and expunges, all between two looks of this one.
        const writer = new Writer(['commands', root]);
        await writer.waitFor((line) => line === 'ready');
        await writer.command(`flag ${base[0]!.uid} \\Seen`);
        const { uid: fourth } = (await writer.command('append 4')) as { uid: number };
        await writer.command(`flag ${base[1]!.uid} \\Answered`);
        await writer.command(`expunge ${base[2]!.uid}`);
        writer.send('quit');
        expect((await writer.exited).code).toBe(0);

        const abort = new AbortController();
        const feed = follow(inbox.changes({ signal: abort.signal }));
        await inbox.sync();
        const infos = await inbox.messages();
        expect(infos.map((info) => info.uid)).toEqual([base[0]!.uid, base[1]!.uid, fourth]);
        await sleep(200);
        abort.abort();
        await feed.done;
        const changes = feed.changes;

        // Replaying the feed onto what this process knew gives what it knows now.
        const model = new Map<number, { flags: string[]; modseq: number }>(
          base.map((result) => [result.uid, { flags: [], modseq: result.modseq }]),
        );
        for (const change of changes) {
          if (change.type === 'append')
            model.set(change.message.uid, {
              flags: [...change.message.flags],
              modseq: change.message.modseq,
            });
          else if (change.type === 'flags')
            model.set(change.uid, { flags: [...change.flags], modseq: change.modseq });
          else if (change.type === 'expunge') for (const uid of change.uids) model.delete(uid);
        }
        expect(
          [...model]
            .sort(([x], [y]) => x - y)
            .map(([uid, { flags, modseq }]) => [uid, [...flags].sort(), modseq]),
        ).toEqual(infos.map((info) => [info.uid, [...info.flags].sort(), info.modseq]));
        // "In MODSEQ order" (Mailbox.changes): each change's MODSEQ above the one before it.
        const modseqs = changes.map(modseqOf);
        expect(modseqs, JSON.stringify(changes)).toEqual([...modseqs].sort((x, y) => x - y));
      },
      TIMEOUT,
    );
  });

  it(
    'a process that had the folder open before another one compacted its files keeps MODSEQs in step',
    async () => {
      const root = await tempRoot();
      const store = createMaildirStore({ root });
      try {
        const inbox = await (await store.user(USER)).open('INBOX');
        for (const seq of [1, 2, 3]) await inbox.append(small(seq));
        // Many flag changes here: this process has read (and written) far into `postwire-index`.
        for (let i = 0; i < 120; i++)
          await inbox.setFlags([2], i % 2 === 0 ? 'add' : 'remove', ['\\Flagged']);
        const logPath = join(root, USER, 'postwire-index');
        const logSize = (await stat(logPath)).size;
        // The other process writes enough appends and expunges that it rewrites `postwire-index` (and
        // `dovecot-uidlist`) shorter, then appends one more message.
        const writer = new Writer(['commands', root]);
        await writer.waitFor((line) => line === 'ready');
        const churned = (await writer.command('churn 70')) as number;
        const appended = (await writer.command('append 4')) as { uid: number; modseq: number };
        expect(appended.modseq).toBeGreaterThan(churned);
        writer.send('quit');
        expect((await writer.exited).code).toBe(0);
        const compacted = await readFile(logPath, 'utf8');
        expect(compacted.startsWith('h '), 'the other process compacted the log').toBe(true);
        expect(compacted.length).toBeLessThan(logSize);

        await inbox.sync();
        const status = await inbox.status();
        expect(
          status.highestModseq,
          'HIGHESTMODSEQ never goes below another writer’s',
        ).toBeGreaterThanOrEqual(appended.modseq);
        const [info] = await inbox.messages([appended.uid]);
        expect(info?.modseq, 'the message has the MODSEQ its writer gave it').toBe(appended.modseq);
        // A change made here now comes after everything the other process did.
        const flagged = await inbox.setFlags([1], 'add', ['\\Seen']);
        expect(flagged.changed[0]!.modseq).toBeGreaterThan(appended.modseq);

        // A fresh store agrees with this one.
        const fresh = createMaildirStore({ root });
        try {
          const again = await (await fresh.user(USER)).open('INBOX');
          expect((await again.messages()).map((message) => [message.uid, message.modseq])).toEqual(
            (await inbox.messages()).map((message) => [message.uid, message.modseq]),
          );
          expect((await again.status()).highestModseq).toBe((await inbox.status()).highestModseq);
        } finally {
          await fresh.close();
        }
      } finally {
        await store.close();
      }
    },
    TIMEOUT,
  );

  it(
    'a dead writer’s uidlist lock, found by several processes at once, is broken for one of them only',
    async () => {
      // Trials: a dead process's `dovecot-uidlist.lock`, and three writers that reach it together. A lock
      // one of them took over must not be removed by another that read the dead PID a moment before.
      const root = await tempRoot();
      const folder = join(root, USER);
      const writers = [0, 1, 2].map(() => new Writer(['commands', root]));
      await Promise.all(writers.map((writer) => writer.waitFor((line) => line === 'ready')));
      const dead = await deadPid();
      const acknowledged: [seq: number, uid: number][] = [];
      for (let trial = 0; trial < 25; trial++) {
        await writeFile(join(folder, 'dovecot-uidlist.lock'), `${dead}:${hostname()}\n`);
        const results = await Promise.allSettled(
          writers.map((writer, w) => writer.command(`append ${trial * 10 + w + 1}`)),
        );
        for (const [w, result] of results.entries()) {
          expect(result.status, `${String((result as PromiseRejectedResult).reason)}`).toBe('fulfilled');
          acknowledged.push([
            trial * 10 + w + 1,
            (result as PromiseFulfilledResult<{ uid: number }>).value.uid,
          ]);
        }
      }
      for (const writer of writers) writer.send('quit');
      await Promise.all(writers.map((writer) => writer.exited));

      const uids = acknowledged.map(([, uid]) => uid).sort((x, y) => x - y);
      expect(new Set(uids).size, `UIDs given twice: ${uids}`).toBe(uids.length);
      const records = await checkUidList(folder);
      expect(records.map((record) => record.uid)).toEqual(uids);
      const store = createMaildirStore({ root });
      try {
        const inbox = await (await store.user(USER)).open('INBOX');
        expect(await inbox.messages()).toHaveLength(acknowledged.length);
        for (const [seq, uid] of acknowledged)
          expect(seqOf(await readBytes(inbox.read(uid))), `UID ${uid}`).toBe(seq);
      } finally {
        await store.close();
      }
    },
    TIMEOUT,
  );

  it(
    'a dead holder’s maildrop lock, found by several processes at once, is taken over by one of them only',
    async () => {
      const root = await tempRoot();
      const contenders = [0, 1, 2].map(() => new Writer(['commands', root]));
      await Promise.all(contenders.map((writer) => writer.waitFor((line) => line === 'ready')));
      const dead = await deadPid();
      const outcomes: string[][] = [];
      for (let trial = 0; trial < 20; trial++) {
        await writeFile(join(root, USER, 'postwire-maildrop.lock'), `${dead}`);
        const answers = (await Promise.all(contenders.map((writer) => writer.command('lock')))) as string[];
        outcomes.push(answers);
        await Promise.all(contenders.map((writer) => writer.command('unlock')));
      }
      for (const writer of contenders) writer.send('quit');
      const wrong = outcomes.filter(
        (answers) => answers.filter((answer) => answer === 'locked').length !== 1,
      );
      expect(wrong, `trials where not exactly one process got the lock, of ${outcomes.length}`).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    'the POP3 maildrop lock holds across processes, and a SIGKILLed holder’s lock is taken over',
    async () => {
      const root = await tempRoot();
      const holder = new Writer(['lock', root]);
      await holder.waitFor((line) => line === 'locked');
      const store = createMaildirStore({ root });
      try {
        const inbox = await (await store.user(USER)).open('INBOX');
        await expect(inbox.lock()).rejects.toBeInstanceOf(MailboxInUseError);
        await expect(inbox.lock()).rejects.toBeInstanceOf(MailboxInUseError);
        await holder.kill();
        const lock = await inbox.lock();
        // Now this process holds it: another process is refused.
        const refused = new Writer(['lock', root]);
        expect((await refused.exited).code).toBe(1);
        expect(refused.stderr).toMatch(/MailboxInUse|in use/i);
        expect(refused.lines).not.toContain('locked');
        await lock.release();
        // Released: another process takes it, and this one is refused again.
        const next = new Writer(['lock', root]);
        await next.waitFor((line) => line === 'locked');
        await expect(inbox.lock()).rejects.toBeInstanceOf(MailboxInUseError);
        await next.kill();
      } finally {
        await store.close();
      }
    },
    TIMEOUT,
  );

  it(
    'shares the structure cache with another process writing it while this one reads it',
    async () => {
      const root = await tempRoot();
      const store = createMaildirStore({ root, fsync: false });
      try {
        const inbox = await (await store.user(USER)).open('INBOX');
        for (let seq = 1; seq <= 400; seq++) await inbox.append(small(seq));
        const subjects = (from: number, to: number) =>
          Array.from({ length: to - from + 1 }, (_, i) => `seq ${from + i}`);
        const writer = new Writer(['commands', root]);
        await writer.waitFor((line) => line === 'ready');
        // Both parse and append at once, over overlapping halves, the other process in batches too.
        const [theirs, ours] = await Promise.all([
          (async () => {
            const answers: unknown[] = [];
            for (let first = 1; first <= 300; first += 50)
              answers.push(...((await writer.command(`structures ${first} ${first + 49}`)) as unknown[]));
            return answers;
          })(),
          (async () => {
            const found: (string | null | undefined)[] = [];
            for (let first = 101; first <= 400; first += 25) {
              const batch = await inbox.structures(Array.from({ length: 25 }, (_, i) => first + i));
              found.push(...batch.map((structure) => structure?.envelope.subject));
            }
            return found;
          })(),
        ]);
        expect(theirs).toEqual(subjects(1, 300));
        expect(ours).toEqual(subjects(101, 400));
        // Every record is whole; a message parsed by both at once may be there twice, no more.
        const lines = (await readFile(join(root, USER, 'postwire-cache'), 'utf8')).split('\n');
        expect(lines[0]).toBe('postwire-cache 2');
        expect(lines.pop()).toBe('');
        const ids = lines.slice(1).map((line) => line.slice(0, line.indexOf('\t')));
        expect(new Set(ids).size).toBe(400);
        expect(ids.length).toBeLessThanOrEqual(600);

        // Each reads the other's records: the files' bytes are no longer read (they are changed here to
        // prove it, keeping their names and sizes, which Maildir never does).
        const cur = join(root, USER, 'cur');
        const newDir = join(root, USER, 'new');
        for (const dir of [cur, newDir]) {
          for (const name of await readdir(dir)) {
            const path = join(dir, name);
            await writeFile(
              path,
              (await readFile(path, 'latin1')).replace('Subject: seq', 'Subject: qes'),
              'latin1',
            );
          }
        }
        expect(await writer.command('structures 1 400')).toEqual(subjects(1, 400));
        const all = await inbox.structures(Array.from({ length: 400 }, (_, i) => i + 1));
        expect(all.map((structure) => structure?.envelope.subject)).toEqual(subjects(1, 400));

        // The other process expunges most of the mailbox and compacts the file; this one goes on reading.
        for (let uid = 1; uid <= 390; uid++) await writer.command(`expunge ${uid}`);
        const compacted = (await readFile(join(root, USER, 'postwire-cache'), 'utf8')).split('\n');
        expect(compacted.length).toBeLessThan(lines.length);
        await inbox.sync();
        const rest = await inbox.structures(Array.from({ length: 10 }, (_, i) => 391 + i));
        expect(rest.map((structure) => structure?.envelope.subject)).toEqual(subjects(391, 400));
        writer.send('quit');
        expect((await writer.exited).code).toBe(0);
      } finally {
        await store.close();
      }
    },
    TIMEOUT,
  );
});

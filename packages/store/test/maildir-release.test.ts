/**
 * The Maildir store keeps a user's state (each open folder's index, directory watchers and change feed)
 * while a session of that user holds a `UserMail` handle or an open mailbox, shared by all of them, and
 * drops it with the last one: memory does not grow with every user who ever logged in.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreRefusedError } from '../src/errors.js';
import { createMaildirStore } from '../src/node/maildir.js';
import type { MailboxChange, MailStore } from '../src/types.js';
import { message } from './contract.js';

/** The directory watches this process holds (Linux: inotify's), or `undefined` where they cannot be counted. */
function watches(): number | undefined {
  if (process.platform !== 'linux') return undefined;
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (target !== 'anon_inode:inotify') continue;
    count += readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('inotify wd:')).length;
  }
  return count;
}

/** Checks the number of watches when the platform tells it. */
function expectWatches(expected: number): void {
  const count = watches();
  if (count !== undefined) expect(count).toBe(expected);
}

/** A full garbage collection (V8's `gc`, reached without starting Node with `--expose-gc`). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/** Collections and turns of the event loop enough for the finalizers of what was dropped to run. */
async function collectGarbageRounds(): Promise<void> {
  for (let round = 0; round < 5; round++) {
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** What a feed's pending `next()` gives, if it gives it before the next turn of the event loop. */
async function atOnce(next: Promise<IteratorResult<MailboxChange>>): Promise<MailboxChange | 'none'> {
  return Promise.race([
    next.then((result) => result.value as MailboxChange),
    new Promise<'none'>((resolve) => setImmediate(() => resolve('none'))),
  ]);
}

describe('maildir: releasing a user’s state', () => {
  let root: string;
  let store: MailStore;
  let baseline: number;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'pw-maildir-release-'));
    // A poll too slow to matter: only the shared folder tells a session of another's change at once.
    store = createMaildirStore({ root, fsync: false, pollInterval: 60_000 });
    baseline = watches() ?? 0;
  });
  afterEach(async () => {
    await store.close();
    await rm(root, { recursive: true, force: true });
  });

  it('shares one folder between the sessions of a user, and drops it with the last handle', async () => {
    const first = await store.user('alice');
    const watched = await first.open('INBOX');
    const feed = watched.changes()[Symbol.asyncIterator]();
    const next = feed.next();
    expectWatches(baseline + 2);
    // The first session's handle goes, its mailbox stays open: the folder is still the shared one.
    await first.release();
    await first.release();
    await expect(first.list()).rejects.toBeInstanceOf(StoreRefusedError);
    await expect(first.open('INBOX')).rejects.toBeInstanceOf(StoreRefusedError);
    expect(await atOnce(next)).toBe('none');

    const second = await store.user('ALICE');
    const writer = await second.open('INBOX');
    expectWatches(baseline + 2);
    const { uid } = await writer.append(message('shared'));
    // Published by the one folder both sessions have open: there as soon as the append is done.
    expect(await atOnce(next)).toMatchObject({ type: 'append', message: { uid } });
    await writer.close();
    await writer.close();
    await second.release();
    expectWatches(baseline + 2);
    expect((await watched.structure(uid)).envelope.subject).toBe('shared');

    // The last handle goes: watchers stopped, the feed ended.
    await watched.close();
    expectWatches(baseline);
    expect(await feed.next()).toEqual({ done: true, value: undefined });

    // A later session starts afresh, with everything on disk.
    const third = await store.user('alice');
    const inbox = await third.open('INBOX');
    expectWatches(baseline + 2);
    expect((await inbox.messages()).map((info) => info.uid)).toEqual([uid]);
    await inbox.close();
    await third.release();
    expectWatches(baseline);
  });

  it('gives concurrent first logins of a user one shared state', async () => {
    const [a, b] = await Promise.all([store.user('bob'), store.user('bob')]);
    const [one, two] = await Promise.all([a.open('INBOX'), b.open('INBOX')]);
    expectWatches(baseline + 2);
    const next = one.changes()[Symbol.asyncIterator]().next();
    expect(await atOnce(next)).toBe('none');
    const { uid } = await two.append(message('once'));
    expect(await atOnce(next)).toMatchObject({ type: 'append', message: { uid } });
    for (const handle of [one, two, a, b]) await ('close' in handle ? handle.close() : handle.release());
    expectWatches(baseline);
  });

  it('gives concurrent opens of a mailbox one shared folder, closed with the last handle', async () => {
    const alice = await store.user('alice');
    await alice.create('Lists');
    const [one, two] = await Promise.all([alice.open('Lists'), alice.open('Lists')]);
    expectWatches(baseline + 2);
    const next = one.changes()[Symbol.asyncIterator]().next();
    const { uid } = await two.append(message('once'));
    expect(await atOnce(next)).toMatchObject({ type: 'append', message: { uid } });
    await alice.rename('Lists', 'Groups');
    expect([one.name, two.name]).toEqual(['Groups', 'Groups']);
    await one.close();
    await two.close();
    await alice.release();
    expectWatches(baseline);
  });

  it('keeps nothing of users whose sessions are over', async () => {
    const session = async (user: string) => {
      const mail = await store.user(user);
      const inbox = await mail.open('INBOX');
      await inbox.append(message(user));
      await mail.status('INBOX');
      await inbox.close();
      await mail.release();
    };
    for (let i = 0; i < 20; i++) await session(`warm${i}`);
    collectGarbage();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 400; i++) await session(`user${i}`);
    collectGarbage();
    const perUser = (process.memoryUsage().heapUsed - before) / 400;
    expect(perUser).toBeLessThan(2048);
    expectWatches(baseline);
  });

  it('releases the share of a handle dropped without release(), once it is collected', async () => {
    await (async () => {
      const mail = await store.user('carol');
      await mail.open('INBOX');
    })();
    expectWatches(baseline + 2);
    const released = async () => {
      for (let round = 0; round < 50; round++) {
        collectGarbage();
        await new Promise((resolve) => setTimeout(resolve, 10));
        if ((watches() ?? baseline) === baseline) return true;
      }
      return false;
    };
    if (watches() !== undefined) expect(await released()).toBe(true);
  });

  it('keeps the folder a dropped handle is opening open for the mailbox it gives', async () => {
    await (await store.user('dave')).release();
    // The uidlist lock, held by this process, keeps the open waiting while the handle is collected.
    const lock = join(root, 'dave', 'dovecot-uidlist.lock');
    await writeFile(lock, `${process.pid}:${hostname()}\n`);
    const opening = (async () => (await store.user('dave')).open('INBOX'))();
    await collectGarbageRounds();
    await rm(lock);
    const inbox = await opening;
    expectWatches(baseline + 2);
    const next = inbox.changes()[Symbol.asyncIterator]().next();
    const other = await store.user('dave');
    const { uid } = await (await other.open('INBOX')).append(message('seen at once'));
    // The folder the mailbox uses is still the shared one: the append is published to it at once.
    expect(await atOnce(next)).toMatchObject({ type: 'append', message: { uid } });
    await inbox.close();
    await other.release();
  });

  it('keeps following the feed of a mailbox whose handles were dropped', async () => {
    const { feed, next } = await (async () => {
      const inbox = await (await store.user('erin')).open('INBOX');
      const feed = inbox.changes()[Symbol.asyncIterator]();
      return { feed, next: feed.next() };
    })();
    await collectGarbageRounds();
    const writer = await store.user('erin');
    const { uid } = await (await writer.open('INBOX')).append(message('still followed'));
    expect(await atOnce(next)).toMatchObject({ type: 'append', message: { uid } });
    await feed.return?.();
    await writer.release();
  });

  it('replaces a folder another process deleted and created again with one new folder, shared', async () => {
    const alice = await store.user('alice');
    await alice.create('Lists');
    const old = await alice.open('Lists');
    const other = createMaildirStore({ root, fsync: false, pollInterval: 60_000 });
    try {
      const elsewhere = await other.user('alice');
      await elsewhere.delete('Lists');
      await elsewhere.create('Lists');
    } finally {
      await other.close();
    }
    const [one, two] = await Promise.all([alice.open('Lists'), alice.open('Lists')]);
    expect((await one.status()).messages).toBe(0);
    const next = one.changes()[Symbol.asyncIterator]().next();
    const { uid } = await two.append(message('once'));
    expect(await atOnce(next)).toMatchObject({ type: 'append', message: { uid } });
    for (const handle of [old, one, two]) await handle.close();
    await alice.release();
    expectWatches(baseline);
  });

  it('keeps nothing open after an append through handles dropped while it was under way', async () => {
    const quoted = createMaildirStore({ root, fsync: false, pollInterval: 60_000, quota: { messages: 10 } });
    try {
      let started!: () => void;
      const writing = new Promise<void>((resolve) => {
        started = resolve;
      });
      let resume!: () => void;
      const paused = new Promise<void>((resolve) => {
        resume = resolve;
      });
      const source = new ReadableStream<Uint8Array>({
        async pull(controller) {
          started();
          await paused;
          controller.enqueue(new TextEncoder().encode('Subject: delivered\r\n\r\nbody\r\n'));
          controller.close();
        },
      });
      const appending = (async () => (await (await quoted.user('frank')).open('INBOX')).append(source))();
      await writing;
      await collectGarbageRounds();
      resume();
      const { uid } = await appending;
      await collectGarbageRounds();
      // A folder the append opened again for the quota, in the state dropped under it, would stay open.
      expectWatches(baseline);
      const mail = await quoted.user('frank');
      const inbox = await mail.open('INBOX');
      expect((await inbox.messages()).map((info) => info.uid)).toEqual([uid]);
      await inbox.close();
      await mail.release();
      expectWatches(baseline);
    } finally {
      await quoted.close();
    }
  });
});

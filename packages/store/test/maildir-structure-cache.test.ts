/**
 * The Maildir store's structure cache, `postwire-cache`: one file per folder that every process appends
 * to and reads from. A record torn by a crash must never give a wrong structure, only a message parsed
 * again; expunged messages' records go at compaction; another format or the per-message directory of
 * earlier versions is replaced.
 */
import { promises as fs } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMaildirStore } from '../src/node/maildir.js';
import type { Mailbox, MailStore } from '../src/types.js';
import { message } from './contract.js';

describe('maildir: the structure cache', () => {
  let root: string;
  let stores: MailStore[];
  const cachePath = () => join(root, 'alice', 'postwire-cache');
  const cacheLines = async () => (await readFile(cachePath(), 'utf8')).split('\n');

  /** A new store over the same Maildir (another process, as far as the cache can tell), INBOX open. */
  async function inbox(): Promise<Mailbox> {
    const store = createMaildirStore({ root, fsync: false, pollInterval: 50 });
    stores.push(store);
    return (await store.user('alice')).open('INBOX');
  }

  const uidsUpTo = (count: number) => Array.from({ length: count }, (_, i) => i + 1);
  const subjects = async (mailbox: Mailbox, uids: readonly number[]) =>
    (await mailbox.structures(uids)).map((structure) => structure?.envelope.subject);

  /**
   * Gives every message file a new subject, keeping its name and size (which Maildir never does): what
   * is parsed from now on shows it, what comes from the cache does not.
   */
  async function rewriteSubjects(): Promise<void> {
    for (const dir of ['cur', 'new']) {
      for (const name of await readdir(join(root, 'alice', dir))) {
        const path = join(root, 'alice', dir, name);
        await writeFile(path, (await readFile(path, 'latin1')).replace('Subject: m', 'Subject: p'), 'latin1');
      }
    }
  }

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'pw-structure-cache-'));
    stores = [];
  });
  afterEach(async () => {
    for (const store of stores) await store.close();
    await rm(root, { recursive: true, force: true });
  });

  it('parses each message once, into one file that another store reads instead of the messages', async () => {
    const first = await inbox();
    for (let n = 1; n <= 150; n++) await first.append(message(`m${n}`));
    expect(await subjects(first, [150, 1, 2])).toEqual(['m150', 'm1', 'm2']);
    expect(await subjects(first, uidsUpTo(150))).toEqual(uidsUpTo(150).map((n) => `m${n}`));
    const lines = await cacheLines();
    expect(lines[0]).toBe('postwire-cache 2');
    expect(lines.slice(1, -1)).toHaveLength(150);
    expect(lines[lines.length - 1]).toBe('');

    await rewriteSubjects();
    const second = await inbox();
    expect(await subjects(second, uidsUpTo(150))).toEqual(uidsUpTo(150).map((n) => `m${n}`));
    expect((await second.structure(7)).envelope.subject).toBe('m7');
    expect(await cacheLines()).toEqual(lines);
  });

  it('reads a mailbox through, the first time after it is opened too, without a look at the file per batch', async () => {
    const first = await inbox();
    for (let n = 1; n <= 300; n++) await first.append(message(`m${n}`));
    await first.structures(uidsUpTo(300));
    const second = await inbox();
    await second.sync();
    const stat = vi.spyOn(fs, 'stat');
    const open = vi.spyOn(fs, 'open');
    try {
      for (let from = 1; from <= 300; from += 20) {
        const batch = Array.from({ length: 20 }, (_, i) => from + i);
        expect(await subjects(second, batch)).toEqual(batch.map((n) => `m${n}`));
      }
      // The cache file is opened once; its path is never looked at again, nor a message file opened.
      expect(stat).not.toHaveBeenCalled();
      expect(open).toHaveBeenCalledTimes(1);
    } finally {
      stat.mockRestore();
      open.mockRestore();
    }
  });

  it('ignores a record torn by a crash, at the end of the file or with records appended after it', async () => {
    const first = await inbox();
    for (let n = 1; n <= 6; n++) await first.append(message(`m${n}`));
    await first.structures(uidsUpTo(6));
    const whole = await readFile(cachePath());
    const lines = whole.toString('utf8').split('\n');
    await rewriteSubjects();

    // The last record cut short: its message is parsed again, and its record written after the torn one.
    const lastStart = whole.length - 1 - Buffer.byteLength(lines[6]!);
    await truncate(cachePath(), lastStart + 40);
    expect(await subjects(await inbox(), uidsUpTo(6))).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'p6']);
    // That record ran on from the torn one, into one line that is no record: parsed again, again.
    expect(await subjects(await inbox(), uidsUpTo(6))).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'p6']);
    // Now it is a line of its own, found by the next reader.
    await rewriteSubjects();
    const third = await inbox();
    expect(await subjects(third, uidsUpTo(6))).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'p6']);

    // A record torn in the middle of the file: it and the record it ran into are parsed again.
    const torn = `${lines.slice(0, 3).join('\n')}\n${lines[3]!.slice(0, 25)}${lines.slice(4).join('\n')}`;
    await writeFile(cachePath(), torn);
    expect(await subjects(await inbox(), uidsUpTo(6))).toEqual(['m1', 'm2', 'p3', 'p4', 'm5', 'm6']);
  });

  it('ignores zeros where a crash left the file longer than what was written', async () => {
    const first = await inbox();
    for (let n = 1; n <= 3; n++) await first.append(message(`m${n}`));
    await first.structures(uidsUpTo(3));
    const whole = await readFile(cachePath());
    await rewriteSubjects();
    const zeroed = Buffer.from(whole);
    const second = whole.indexOf('\n', whole.indexOf('\n') + 1) + 1;
    zeroed.fill(0, second, whole.indexOf('\n', second));
    await writeFile(cachePath(), Buffer.concat([zeroed, Buffer.alloc(100)]));
    expect(await subjects(await inbox(), uidsUpTo(3))).toEqual(['m1', 'p2', 'm3']);

    // Zeros within a record whose id and line feed are whole, in a field decoded only when read.
    const third = whole.indexOf('\n', second) + 1;
    const end = whole.indexOf('\n', third);
    const inHeaders = Buffer.from(whole);
    inHeaders.fill(0, end - 20, end - 4);
    await writeFile(cachePath(), inHeaders);
    const [, , structure] = await (await inbox()).structures(uidsUpTo(3));
    expect(structure?.envelope.subject).toBe('p3');
    expect(structure?.headers.find(([name]) => name === 'Subject')?.[1]).toBe(' p3');
  });

  it('replaces a file of another format, and the per-message directory of earlier versions', async () => {
    const first = await inbox();
    await first.append(message('m1'));
    for (const other of ['postwire-cache 999\nM1\t[]\t[]\n', 'postwire-cache 1\nM1\t[[],{},[]]\t[]\n']) {
      await writeFile(cachePath(), other);
      expect(await subjects(await inbox(), [1])).toEqual(['m1']);
      expect((await cacheLines())[0]).toBe('postwire-cache 2');
      expect(await cacheLines()).toHaveLength(3);
    }

    await rm(cachePath());
    await mkdir(cachePath());
    await writeFile(join(cachePath(), 'Mold.json'), '{}');
    const second = await inbox();
    expect(await subjects(second, [1])).toEqual(['m1']);
    expect((await stat(cachePath())).isFile()).toBe(true);
    expect(
      (await readdir(join(root, 'alice', 'tmp'))).filter((name) => name.startsWith('postwire-')),
    ).toEqual([]);
    expect(await subjects(await inbox(), [1])).toEqual(['m1']);
  });

  it('compacts the file once most of its records are of expunged messages', async () => {
    const first = await inbox();
    for (let n = 1; n <= 300; n++) await first.append(message(`m${n}`));
    await first.structures(uidsUpTo(300));
    // Read back through the file: the records are counted.
    const second = await inbox();
    expect(await subjects(second, uidsUpTo(300))).toEqual(uidsUpTo(300).map((n) => `m${n}`));
    const before = (await stat(cachePath())).size;
    await second.expunge(uidsUpTo(290));
    const lines = await cacheLines();
    expect(lines).toHaveLength(12);
    expect((await stat(cachePath())).size).toBeLessThan(before / 20);
    await rewriteSubjects();
    const remaining = uidsUpTo(10).map((n) => 290 + n);
    expect(await subjects(second, remaining)).toEqual(remaining.map((n) => `m${n}`));
    // The first store still reads its records (from the file it has open, or from the new one).
    expect(await subjects(first, remaining)).toEqual(remaining.map((n) => `m${n}`));
    expect(await subjects(await inbox(), [...remaining, 5])).toEqual([
      ...remaining.map((n) => `m${n}`),
      undefined,
    ]);
    // New messages' records go into the new file, where the other store finds them.
    await second.append(message('m301'));
    await second.structures([301]);
    await first.sync();
    expect(await subjects(first, [301])).toEqual(['m301']);
    expect(await cacheLines()).toHaveLength(13);
  });

  it('answers two stores on one Maildir reading and writing the cache at once', async () => {
    const first = await inbox();
    for (let n = 1; n <= 200; n++) await first.append(message(`m${n}`));
    const second = await inbox();
    await second.sync();
    const expected = (uids: readonly number[]) => uids.map((n) => `m${n}`);
    const forward = uidsUpTo(200);
    const backward = [...forward].reverse();
    const batches = (uids: number[]) =>
      Array.from({ length: uids.length / 20 }, (_, i) => uids.slice(i * 20, i * 20 + 20));
    const [a, b] = await Promise.all([
      Promise.all(batches(forward).map((batch) => subjects(first, batch))),
      Promise.all(batches(backward).map((batch) => subjects(second, batch))),
    ]);
    expect(a.flat()).toEqual(expected(forward));
    expect(b.flat()).toEqual(expected(backward));
    const ids = (await cacheLines()).slice(1, -1).map((line) => line.slice(0, line.indexOf('\t')));
    expect(new Set(ids).size).toBe(200);
    await rewriteSubjects();
    expect(await subjects(first, backward)).toEqual(expected(backward));
    expect(await subjects(second, forward)).toEqual(expected(forward));
  });

  it('answers structure() calls of one turn together, and singly', async () => {
    const first = await inbox();
    for (let n = 1; n <= 5; n++) await first.append(message(`m${n}`));
    const together = await Promise.all(uidsUpTo(5).map((uid) => first.structure(uid)));
    expect(together.map((structure) => structure.envelope.subject)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    await rewriteSubjects();
    const again = await inbox();
    for (const uid of uidsUpTo(5)) expect((await again.structure(uid)).envelope.subject).toBe(`m${uid}`);
  });
});

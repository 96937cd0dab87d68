/**
 * Where directory watchers cannot be had (the inotify limit reached), a Maildir folder works on the
 * timestamps of its files alone, and keeps nothing of the changes it made.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMaildirStore } from '../src/node/maildir.js';
import type { MailStore } from '../src/types.js';
import { message } from './contract.js';

vi.mock('node:fs', async (importOriginal) => ({
  ...(await importOriginal<typeof import('node:fs')>()),
  watch: () => {
    throw Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), {
      code: 'ENOSPC',
    });
  },
}));

/** The distinct strings of the live heap (a heap snapshot collects the garbage first) that `pattern` matches. */
async function liveStrings(directory: string, pattern: RegExp): Promise<string[]> {
  const path = writeHeapSnapshot(join(directory, 'heap.heapsnapshot'));
  try {
    const { strings } = JSON.parse(await readFile(path, 'utf8')) as { strings: string[] };
    return strings.filter((string) => pattern.test(string));
  } finally {
    await rm(path, { force: true });
  }
}

describe('maildir: a folder without directory watchers', () => {
  let root: string;
  let store: MailStore;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'pw-maildir-no-watchers-'));
    store = createMaildirStore({ root, fsync: false, pollInterval: 60_000 });
  });
  afterEach(async () => {
    await store.close();
    await rm(root, { recursive: true, force: true });
  });

  it('keeps nothing of the messages it delivered and expunged', async () => {
    const inbox = await (await store.user('alice')).open('INBOX');
    for (let i = 0; i < 200; i++) {
      const { uid } = await inbox.append(message(`m${i}`));
      await inbox.setFlags([uid], 'add', ['\\Seen']);
      await inbox.expunge([uid]);
    }
    expect(await inbox.messages()).toEqual([]);
    // The names of the messages' files: `<seconds>.M<microseconds>P<pid>Q<delivery>.<host>…`.
    const names = await liveStrings(root, new RegExp(`^\\d+\\.M\\d+P${process.pid}Q\\d+\\.`));
    expect(names.length).toBeLessThan(10);
  }, 60_000);
});

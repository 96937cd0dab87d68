import { promises as fs, renameSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidMailboxNameError, MailboxInUseError, StoreRefusedError } from '../src/errors.js';
import { createMaildirStore } from '../src/node/maildir.js';
import { MaildirFolder } from '../src/node/maildir-folder.js';
import type { MailboxChange } from '../src/types.js';
import { message, quotaContract, storeContract } from './contract.js';

async function fresh(root?: string) {
  const dir = root ?? (await mkdtemp(join(tmpdir(), 'pw-maildir-')));
  return {
    store: createMaildirStore({ root: dir, pollInterval: 50 }),
    dir,
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

storeContract(
  'maildir',
  () => fresh(),
  async (fixture) => fresh((fixture as Awaited<ReturnType<typeof fresh>>).dir),
);

quotaContract('maildir', async (quota) => {
  const dir = await mkdtemp(join(tmpdir(), 'pw-maildir-'));
  return {
    store: createMaildirStore({ root: dir, quota }),
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('maildir: the mailbox id is the GUID of dovecot-uidlist', () => {
  let root: string;
  /** Stores opened by a test, closed after it. */
  const stores: ReturnType<typeof createMaildirStore>[] = [];
  const open = () => {
    const store = createMaildirStore({ root, pollInterval: 50 });
    stores.push(store);
    return store.user('alice');
  };
  const uidlist = (folder: string) => readFile(join(root, 'alice', folder, 'dovecot-uidlist'), 'utf8');
  /** Replaces a folder's uidlist as every writer does: a new file renamed over the old one. */
  const replaceUidlist = async (folder: string, text: string) => {
    const path = join(root, 'alice', folder, 'dovecot-uidlist');
    await writeFile(`${path}.tmp`, text);
    await rename(`${path}.tmp`, path);
  };
  const guidOf = (text: string) => /^3 V\d+ N\d+ G([0-9a-f]{32})(?: |\n)/.exec(text)?.[1];

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'pw-maildir-id-'));
  });
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    await rm(root, { recursive: true, force: true });
  });

  it('writes a new mailbox’s id into the G field at creation, and reads it back', async () => {
    const alice = await open();
    await alice.create('Work');
    const id = (await alice.status('Work')).mailboxId;
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(guidOf(await uidlist('.Work'))).toBe(id);
    expect(guidOf(await uidlist('.'))).toBe((await alice.status('INBOX')).mailboxId);
    expect((await (await open()).status('Work')).mailboxId).toBe(id);
  });

  it('makes one INBOX of a new user whom several stores (processes) open at once', async () => {
    const users = await Promise.all(Array.from({ length: 6 }, () => open()));
    const ids = await Promise.all(users.map(async (user) => (await user.status('INBOX')).mailboxId));
    expect(new Set(ids).size).toBe(1);
    expect(guidOf(await uidlist('.'))).toBe(ids[0]);
    // What the last of several creators does: the uidlist the first one wrote stays.
    await MaildirFolder.create(join(root, 'alice'));
    expect(guidOf(await uidlist('.'))).toBe(ids[0]);
    const inbox = await users[0]!.open('INBOX');
    await inbox.append(message('after'));
    expect(await inbox.messages()).toHaveLength(1);
  });

  it('keeps a GUID another program wrote, in any case', async () => {
    const folder = join(root, 'alice', '.Theirs');
    for (const dir of ['cur', 'new', 'tmp']) await mkdir(join(folder, dir), { recursive: true });
    await writeFile(join(folder, 'dovecot-uidlist'), '3 V1234 N7 GE86B170C0D21056BD23E000083ECC375 X1\n');
    const alice = await open();
    expect(await alice.status('Theirs')).toMatchObject({
      mailboxId: 'e86b170c0d21056bd23e000083ecc375',
      uidValidity: 1234,
      uidNext: 7,
    });
  });

  it('gives a folder without a uidlist, or whose uidlist has no GUID, one at once, kept from then on', async () => {
    // A folder another MDA made (no uidlist), and one with a uidlist but no G field (nor a valid one).
    const bare = join(root, 'alice', '.Bare');
    const noGuid = join(root, 'alice', '.NoGuid');
    for (const folder of [bare, noGuid]) {
      for (const dir of ['cur', 'new', 'tmp']) await mkdir(join(folder, dir), { recursive: true });
    }
    await writeFile(join(bare, 'new', '1700000000.M1P1.host'), 'Subject: bare\r\n\r\nHi.\r\n');
    await writeFile(join(noGuid, 'cur', '1700000000.M2P1.host:2,S'), 'Subject: listed\r\n\r\nHi.\r\n');
    await writeFile(join(noGuid, 'dovecot-uidlist'), '3 V4321 N9 Gxyz X1\n8 :1700000000.M2P1.host\n');

    const alice = await open();
    const bareStatus = await alice.status('Bare');
    const noGuidStatus = await alice.status('NoGuid');
    expect(guidOf(await uidlist('.Bare'))).toBe(bareStatus.mailboxId);
    // The records, UIDVALIDITY, next UID and other header fields stay as they were.
    expect(await uidlist('.NoGuid')).toBe(
      `3 V4321 N9 G${noGuidStatus.mailboxId} X1\n8 :1700000000.M2P1.host\n`,
    );
    expect(noGuidStatus).toMatchObject({ uidValidity: 4321, uidNext: 9, messages: 1 });
    expect((await (await alice.open('NoGuid')).messages()).map((info) => info.uid)).toEqual([8]);

    const again = await open();
    expect((await again.status('Bare')).mailboxId).toBe(bareStatus.mailboxId);
    expect((await again.status('NoGuid')).mailboxId).toBe(noGuidStatus.mailboxId);
  });

  it('keeps the id when another writer rewrites the uidlist without its GUID', async () => {
    const alice = await open();
    await alice.create('Kept');
    const before = await alice.status('Kept');
    const text = await uidlist('.Kept');
    await replaceUidlist('.Kept', text.replace(/ G[0-9a-f]{32}/, ''));
    const mailbox = await alice.open('Kept');
    await mailbox.sync();
    expect(await mailbox.status()).toEqual(before);
    expect(guidOf(await uidlist('.Kept'))).toBe(before.mailboxId);
  });

  it('takes a new GUID with the same UIDVALIDITY for another mailbox: the open one is gone', async () => {
    // Another process deleted the folder and created it again within the same second.
    const alice = await open();
    await alice.create('Again');
    const mailbox = await alice.open('Again');
    const before = await mailbox.status();
    const changes: MailboxChange[] = [];
    const feed = (async () => {
      for await (const change of mailbox.changes()) changes.push(change);
    })();
    const other = '0123456789abcdef0123456789abcdef';
    await replaceUidlist('.Again', `3 V${before.uidValidity} N1 G${other}\n`);
    await mailbox.sync();
    await feed;
    expect(changes).toEqual([{ type: 'gone' }]);
    expect(await alice.status('Again')).toMatchObject({ mailboxId: other, uidValidity: before.uidValidity });
  });
});

describe('maildir: reads and other writers', () => {
  let root: string;
  const stores: ReturnType<typeof createMaildirStore>[] = [];
  /** INBOX of alice in a store of its own: another process, as far as the folder can tell. */
  const inbox = async () => {
    const store = createMaildirStore({ root, fsync: false });
    stores.push(store);
    return (await store.user('alice')).open('INBOX');
  };

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'pw-maildir-reads-'));
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    for (const store of stores.splice(0)) await store.close();
    await rm(root, { recursive: true, force: true });
  });

  it('see a change another writer made just before, and look at the disk no more than that otherwise', async () => {
    const reader = await inbox();
    for (const subject of ['a', 'b', 'c']) await reader.append(message(subject));
    await reader.sync();
    const stat = vi.spyOn(fs, 'stat');
    for (let i = 0; i < 20; i++) expect(await reader.messages()).toHaveLength(3);
    expect((await reader.status()).messages).toBe(3);
    // The directory watchers vouch for the folder: nothing was looked at.
    expect(stat).not.toHaveBeenCalled();

    // Another process flags, expunges, appends; a delivery agent drops a file into new/.
    const writer = await inbox();
    await writer.setFlags([1], 'add', ['\\Flagged']);
    expect((await reader.messages([1]))[0]!.flags).toEqual(['\\Flagged']);
    await writer.expunge([2]);
    expect((await reader.messages()).map((info) => info.uid)).toEqual([1, 3]);
    await writer.append(message('d'));
    expect((await reader.messages()).map((info) => info.uid)).toEqual([1, 3, 4]);
    // Done synchronously, right before the read: its event is not delivered yet when the read starts.
    writeFileSync(join(root, 'alice', 'tmp', '1700000000.M1P1.elsewhere'), message('e'));
    renameSync(
      join(root, 'alice', 'tmp', '1700000000.M1P1.elsewhere'),
      join(root, 'alice', 'new', '1700000000.M1P1.elsewhere'),
    );
    expect((await reader.messages()).map((info) => info.uid)).toEqual([1, 3, 4, 5]);
    expect((await reader.status()).messages).toBe(4);
  });

  it('look at the disk again once the last look is a second old, whatever the watchers say', async () => {
    const reader = await inbox();
    await reader.append(message('a'));
    await reader.sync();
    const stat = vi.spyOn(fs, 'stat');
    await reader.messages();
    expect(stat).not.toHaveBeenCalled();
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await reader.messages();
    expect(stat).toHaveBeenCalled();
    stat.mockClear();
    await reader.messages();
    expect(stat).not.toHaveBeenCalled();
  });
});

describe('maildir: another program renames a file during an operation', () => {
  let root: string;
  let store: ReturnType<typeof createMaildirStore>;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'pw-maildir-renamed-'));
    store = createMaildirStore({ root, fsync: false, pollInterval: 60_000 });
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await store.close();
    await rm(root, { recursive: true, force: true });
  });

  /** Makes the next `fs.unlink` or `fs.rename` of a file in `cur/` meet it renamed by another program. */
  function renameFirst(method: 'unlink' | 'rename', letters: string): void {
    const original = fs[method] as (...args: unknown[]) => Promise<void>;
    const spy = vi.spyOn(fs, method as 'unlink');
    spy.mockImplementation(async (...args: unknown[]) => {
      const path = String(args[0]);
      if (path.includes('/cur/')) {
        spy.mockRestore();
        // As Dovecot does to change the flags: the same base, other letters.
        await rename(path, `${path.slice(0, path.lastIndexOf(':2,'))}:2,${letters}`);
      }
      return original.apply(fs, args);
    });
  }

  it('expunges a message whose flags another program changed meanwhile, for good', async () => {
    const inbox = await (await store.user('alice')).open('INBOX');
    await inbox.append(message('a'), { flags: ['\\Seen'] });
    await inbox.append(message('b'), { flags: ['\\Seen'] });
    renameFirst('unlink', 'FS');
    expect(await inbox.expunge([1])).toEqual([1]);
    await inbox.sync();
    expect((await inbox.messages()).map((info) => info.uid)).toEqual([2]);
    expect(await readdir(join(root, 'alice', 'cur'))).toHaveLength(1);
  });

  it('sets flags on a message whose flags another program changed meanwhile, both changes kept', async () => {
    const inbox = await (await store.user('alice')).open('INBOX');
    await inbox.append(message('a'), { flags: ['\\Seen'] });
    renameFirst('rename', 'FS');
    await inbox.setFlags([1], 'add', ['\\Answered']);
    await inbox.sync();
    expect([...(await inbox.messages())[0]!.flags].sort()).toEqual(['\\Answered', '\\Flagged', '\\Seen']);
    expect(await readdir(join(root, 'alice', 'cur'))).toEqual([expect.stringMatching(/:2,FRS$/)]);
  });
});

describe('maildir: copies of files another program renamed since the last look', () => {
  let root: string;
  let store: ReturnType<typeof createMaildirStore>;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'pw-maildir-moved-'));
    store = createMaildirStore({ root, fsync: false, pollInterval: 60_000 });
  });
  afterEach(async () => {
    await store.close();
    await rm(root, { recursive: true, force: true });
  });

  /** Moves a message from `new/` to `cur/` with `\Seen`, as Dovecot does when one of its clients reads it. */
  async function readByDovecot(folder: string): Promise<void> {
    const [name] = await readdir(join(folder, 'new'));
    await rename(join(folder, 'new', name!), join(folder, 'cur', `${name}:2,S`));
  }

  it('moves such a message, never expunging one it did not copy', async () => {
    const alice = await store.user('alice');
    await alice.create('Archive');
    const inbox = await alice.open('INBOX');
    await inbox.append(message('a'));
    await readByDovecot(join(root, 'alice'));
    const moved = await inbox.move([1], 'Archive');
    expect(moved).toMatchObject({ sourceUids: [1], targetUids: [1] });
    const archive = await alice.open('Archive');
    expect(await archive.messages()).toMatchObject([{ uid: 1, flags: ['\\Seen'] }]);
    expect(await inbox.messages()).toEqual([]);
  });
});

describe('maildir: locks left by an earlier run of this process', () => {
  let root: string;
  let store: ReturnType<typeof createMaildirStore>;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'pw-maildir-restart-'));
    store = createMaildirStore({ root, fsync: false });
  });
  afterEach(async () => {
    await store.close();
    await rm(root, { recursive: true, force: true });
  });

  it('takes over a maildrop lock held under this PID before the process started (a restarted container)', async () => {
    const inbox = await (await store.user('alice')).open('INBOX');
    // The server killed while a POP3 session held the lock, and started again with the same PID.
    const lockPath = join(root, 'alice', 'postwire-maildrop.lock');
    await writeFile(lockPath, `${process.pid}:${hostname()}\n`);
    const before = new Date(performance.timeOrigin - 60_000);
    await utimes(lockPath, before, before);
    const lock = await inbox.lock();
    await expect(inbox.lock()).rejects.toBeInstanceOf(MailboxInUseError);
    await lock.release();
  });
});

describe('maildir: a delete cut short', () => {
  it('removes at the next open what a mailbox deleted by a process killed meanwhile left in tmp/', async () => {
    const root = await mkdtemp(join(tmpdir(), 'pw-maildir-deleted-'));
    const first = createMaildirStore({ root, fsync: false });
    const second = createMaildirStore({ root, fsync: false });
    try {
      const alice = await first.user('alice');
      await alice.create('Old');
      await (await alice.open('Old')).append(message('old'));
      await first.close();
      // The mailbox was moved out of sight into INBOX's tmp/; the process died before removing it.
      const trash = join(root, 'alice', 'tmp', 'postwire-deleted-0e4a7c52-8b1f-4f43-9d7e-1c2b3a4d5e6f');
      await rename(join(root, 'alice', '.Old'), trash);
      await (await second.user('alice')).open('INBOX');
      expect(await readdir(join(root, 'alice', 'tmp'))).toEqual([]);
    } finally {
      await first.close();
      await second.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('maildir: names longer than a directory name can be (case 20)', () => {
  let root: string;
  let store: ReturnType<typeof createMaildirStore>;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'pw-maildir-long-'));
    store = createMaildirStore({ root, fsync: false });
  });
  afterEach(async () => {
    await store.close();
    await rm(root, { recursive: true, force: true });
  });

  it('refuses a mailbox whose Maildir++ folder name would pass 255 octets, touching nothing', async () => {
    const alice = await store.user('alice');
    const long = `${'a'.repeat(200)}/${'b'.repeat(100)}`;
    await expect(alice.create(long)).rejects.toThrow(InvalidMailboxNameError);
    // Non-ASCII grows in modified UTF-7: 100 characters of U+00FC are 200 octets of UTF-8, 270 encoded.
    await expect(alice.create('ü'.repeat(100))).rejects.toThrow(InvalidMailboxNameError);
    await alice.create('Short/Child');
    await expect(alice.rename('Short', 'x'.repeat(250))).rejects.toThrow(InvalidMailboxNameError);
    expect((await alice.list()).map((entry) => entry.name)).toEqual(['INBOX', 'Short', 'Short/Child']);
    expect((await readdir(join(root, 'alice'))).filter((name) => name.startsWith('.')).sort()).toEqual([
      '.Short',
      '.Short.Child',
    ]);
  });
});

describe('maildir: a file another program moves while the folder is read', () => {
  let root: string;
  let store: ReturnType<typeof createMaildirStore>;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'pw-maildir-moving-'));
    store = createMaildirStore({ root, fsync: false, pollInterval: 60_000 });
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await store.close();
    await rm(root, { recursive: true, force: true });
  });

  it('keeps a message moved from new/ to cur/ while the folder is listed, with its UID', async () => {
    const folder = join(root, 'alice');
    const inbox = await (await store.user('alice')).open('INBOX');
    const { uid } = await inbox.append(message('a'));
    // Another MDA delivers a message: new/ changed, so the next look lists new/ (and only new/).
    writeFileSync(join(folder, 'tmp', '1700000000.M1P1.elsewhere'), message('b'));
    renameSync(
      join(folder, 'tmp', '1700000000.M1P1.elsewhere'),
      join(folder, 'new', '1700000000.M1P1.elsewhere'),
    );
    // Dovecot moves the first message to cur/ just before new/ is listed.
    const readdir = fs.readdir.bind(fs) as (path: string) => Promise<string[]>;
    const listing = vi.spyOn(fs, 'readdir') as unknown as {
      mockImplementation(implementation: (path: string) => Promise<string[]>): void;
      mockRestore(): void;
    };
    listing.mockImplementation(async (path) => {
      if (path === join(folder, 'new')) {
        listing.mockRestore();
        const [name] = (await readdir(path)).filter((each) => !each.endsWith('elsewhere'));
        renameSync(join(path, name!), join(folder, 'cur', `${name}:2,S`));
      }
      return readdir(path);
    });
    await inbox.sync();
    await inbox.sync();
    expect((await inbox.messages()).map((info) => [info.uid, info.flags])).toEqual([
      [uid, ['\\Seen']],
      [uid + 1, []],
    ]);
  });
});

describe('maildir: the index log of messages another process delivered and expunged', () => {
  it('forgets them once read, and leaves them out of a compaction', async () => {
    const root = await mkdtemp(join(tmpdir(), 'pw-maildir-log-'));
    const reader = createMaildirStore({ root, fsync: false, pollInterval: 60_000 });
    const writer = createMaildirStore({ root, fsync: false, pollInterval: 60_000 });
    try {
      const inbox = await (await reader.user('alice')).open('INBOX');
      const { uid: kept } = await inbox.append(message('kept'));
      // Another process delivers and expunges while this one is not looking.
      const other = await (await writer.user('alice')).open('INBOX');
      const { uid: gone } = await other.append(message('gone'));
      await other.expunge([gone]);
      await inbox.sync();
      // Enough changes here for the log to be compacted.
      for (let i = 0; i < 300; i++) await inbox.setFlags([kept], i % 2 ? 'remove' : 'add', ['\\Seen']);
      const log = await readFile(join(root, 'alice', 'postwire-index'), 'utf8');
      expect(log.startsWith('h ')).toBe(true);
      expect(
        log
          .split('\n')
          .filter((line) => line.startsWith('a '))
          .map((line) => Number(line.split(' ')[1])),
      ).toEqual([kept]);
    } finally {
      await reader.close();
      await writer.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('maildir: a copy past the 26 keywords a folder holds', () => {
  it('is refused whole, leaving nothing of it behind', async () => {
    const root = await mkdtemp(join(tmpdir(), 'pw-maildir-keywords-'));
    const store = createMaildirStore({ root, fsync: false });
    try {
      const alice = await store.user('alice');
      await alice.create('Archive');
      const archive = await alice.open('Archive');
      await archive.append(message('many'), { flags: Array.from({ length: 25 }, (_, i) => `k${i}`) });
      const inbox = await alice.open('INBOX');
      await inbox.append(message('one'), { flags: ['one'] });
      await inbox.append(message('two'), { flags: ['two'] });
      await expect(inbox.copy([1, 2], 'Archive')).rejects.toThrow(StoreRefusedError);
      expect(await archive.status()).toMatchObject({ messages: 1, uidNext: 2 });
      expect(await readdir(join(root, 'alice', '.Archive', 'cur'))).toHaveLength(1);
      expect(await readdir(join(root, 'alice', '.Archive', 'tmp'))).toEqual([]);
    } finally {
      await store.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('maildir: the quota over folders that are not mailboxes', () => {
  it('counts the mailboxes only, and delivers', async () => {
    const root = await mkdtemp(join(tmpdir(), 'pw-maildir-quota-'));
    const store = createMaildirStore({ root, fsync: false, quota: { messages: 10 } });
    try {
      const alice = await store.user('alice');
      const inbox = await alice.open('INBOX');
      // A directory without cur/: a create cut short, or another program's.
      await mkdir(join(root, 'alice', '.Unfinished'));
      await inbox.append(message('delivered'));
      expect(await alice.quota()).toMatchObject({ messages: 1 });
    } finally {
      await store.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('maildir: the extensions of dovecot-uidlist records', () => {
  it('keeps them when the uidlist is rewritten without the records of expunged messages', async () => {
    const root = await mkdtemp(join(tmpdir(), 'pw-maildir-extensions-'));
    const store = createMaildirStore({ root, fsync: false });
    try {
      const folder = join(root, 'alice');
      for (const dir of ['cur', 'new', 'tmp']) await mkdir(join(folder, dir), { recursive: true });
      const base = '1700000000.M1P1.dovecot,S=12';
      await writeFile(join(folder, 'cur', `${base}:2,S`), 'Subject: x\r\n');
      // Dovecot's records: many of messages expunged since, and one kept with its POP3 UIDL and GUID.
      const stale = Array.from({ length: 80 }, (_, i) => `${i + 1} :1600000000.M${i}P1.dovecot\n`).join('');
      await writeFile(
        join(folder, 'dovecot-uidlist'),
        `3 V1700000000 N82 G0123456789abcdef0123456789abcdef\n${stale}81 P0000a1b2 G00112233445566778899aabbccddeeff :${base}\n`,
      );
      const inbox = await (await store.user('alice')).open('INBOX');
      expect((await inbox.messages()).map((info) => info.uid)).toEqual([81]);
      await inbox.setFlags([81], 'add', ['\\Flagged']);
      const uidlist = await readFile(join(folder, 'dovecot-uidlist'), 'utf8');
      expect(uidlist.split('\n').slice(1)).toEqual([
        `81 P0000a1b2 G00112233445566778899aabbccddeeff :${base}`,
        '',
      ]);
    } finally {
      await store.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('maildir: flags past the 26 keywords a folder holds', () => {
  it('refuses them without using up the keywords free before', async () => {
    const root = await mkdtemp(join(tmpdir(), 'pw-maildir-keywords-'));
    const store = createMaildirStore({ root, fsync: false });
    try {
      const inbox = await (await store.user('alice')).open('INBOX');
      await inbox.append(message('many'), { flags: Array.from({ length: 25 }, (_, i) => `k${i}`) });
      const { uid } = await inbox.append(message('more'));
      await expect(inbox.setFlags([uid], 'add', ['refused1', 'refused2'])).rejects.toThrow(StoreRefusedError);
      // The 26th keyword is still free.
      await inbox.setFlags([uid], 'add', ['last']);
      expect((await inbox.messages([uid]))[0]!.flags).toEqual(['last']);
      expect(await readFile(join(root, 'alice', 'dovecot-keywords'), 'utf8')).not.toContain('refused');
    } finally {
      await store.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('maildir: a copy whose delivery fails halfway (a full disk)', () => {
  it('leaves the target mailbox as it was', async () => {
    const root = await mkdtemp(join(tmpdir(), 'pw-maildir-halfway-'));
    const store = createMaildirStore({ root, fsync: false });
    try {
      const alice = await store.user('alice');
      await alice.create('Archive');
      const inbox = await alice.open('INBOX');
      await inbox.append(message('one'));
      await inbox.append(message('two'));
      const archiveNew = join(root, 'alice', '.Archive', 'new');
      const original = fs.rename;
      let deliveries = 0;
      vi.spyOn(fs, 'rename').mockImplementation(async (from, to) => {
        if (String(to).startsWith(archiveNew) && ++deliveries === 2) {
          throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        }
        return original(from, to);
      });
      await expect(inbox.copy([1, 2], 'Archive')).rejects.toMatchObject({ code: 'ENOSPC' });
      vi.restoreAllMocks();
      const archive = await alice.open('Archive');
      expect(await archive.status()).toMatchObject({ messages: 0, uidNext: 1 });
      for (const dir of ['new', 'cur', 'tmp']) {
        expect(await readdir(join(root, 'alice', '.Archive', dir))).toEqual([]);
      }
      expect(await inbox.copy([1, 2], 'Archive')).toMatchObject({ targetUids: [1, 2] });
    } finally {
      vi.restoreAllMocks();
      await store.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('maildir: an append while another session renames the mailbox', () => {
  it('lands in the renamed mailbox, leaving nothing in tmp/', async () => {
    const root = await mkdtemp(join(tmpdir(), 'pw-maildir-append-rename-'));
    const store = createMaildirStore({ root, fsync: false });
    try {
      const alice = await store.user('alice');
      await alice.create('Lists');
      const lists = await alice.open('Lists');
      let started!: () => void;
      const writing = new Promise<void>((resolve) => {
        started = resolve;
      });
      let resume!: () => void;
      const paused = new Promise<void>((resolve) => {
        resume = resolve;
      });
      const body = new TextEncoder().encode('Subject: renamed meanwhile\r\n\r\nbody\r\n');
      // The body arrives once the file in tmp/ is open, and only after the rename.
      const source = new ReadableStream<Uint8Array>({
        async pull(controller) {
          started();
          await paused;
          controller.enqueue(body);
          controller.close();
        },
      });
      const appending = lists.append(source);
      await writing;
      await alice.rename('Lists', 'Groups');
      resume();
      const { uid } = await appending;
      const groups = await alice.open('Groups');
      expect((await groups.structure(uid)).envelope.subject).toBe('renamed meanwhile');
      expect(await readdir(join(root, 'alice', '.Groups', 'tmp'))).toEqual([]);
    } finally {
      await store.close();
      await rm(root, { recursive: true, force: true });
    }
  });
});

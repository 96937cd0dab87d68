import { promises as fs, renameSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
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

import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMaildirStore } from '../src/node/maildir.js';
import {
  type DovecotPeer,
  dovecotAvailable,
  prepareMaildirForDovecot,
  startDovecot,
} from './support/dovecot.js';
import { taggedReplies } from './support/dovecot-interop.js';

/**
 * The mailbox id of the Maildir backend and a real Dovecot 2.3 on one directory: both read and write the
 * mailbox GUID in the `G` field of `dovecot-uidlist`, so Postwire's MAILBOXID (RFC 8474) is Dovecot's
 * mailbox GUID. Dovecot 2.3 has no OBJECTID (`STATUS x (MAILBOXID)` is a BAD): its GUID is read with
 * `doveadm mailbox status guid`, and over IMAP too where a Dovecot advertises OBJECTID.
 */

const available = dovecotAvailable();
if (!available) {
  console.log(
    'Maildir/Dovecot mailbox id tests skipped: /usr/sbin/dovecot or /usr/bin/doveadm is missing (.ci/run installs it).',
  );
}

const TIMEOUT = 60_000;
const PASSWORD = 'secret';

describe.skipIf(!available)('Maildir store and Dovecot: one mailbox id', () => {
  let mailRoot: string;
  let dovecot: DovecotPeer;
  /** Whether this Dovecot advertises OBJECTID (RFC 8474); 2.3 does not. */
  let objectId: boolean;

  /** Postwire's id of a mailbox, from a store opened for the purpose. */
  const postwireId = async (name: string): Promise<string> => {
    const store = createMaildirStore({ root: mailRoot });
    try {
      return (await (await store.user('alice')).status(name)).mailboxId;
    } finally {
      await store.close();
    }
  };

  /** Dovecot's GUID of a mailbox (its name, `.`-separated), and its MAILBOXID over IMAP when it has one. */
  const dovecotId = async (name: string): Promise<string> => {
    await prepareMaildirForDovecot(mailRoot);
    const out = await dovecot.doveadm(['-f', 'json', 'mailbox', 'status', '-u', 'alice', 'guid', name]);
    const [row] = JSON.parse(out) as { guid: string }[];
    if (objectId) {
      const transcript = await dovecot.imap('alice', PASSWORD, [`STATUS "${name}" (MAILBOXID)`]);
      expect(transcript).toContain(`(MAILBOXID (${row!.guid}))`);
    }
    return row!.guid;
  };

  /** The GUID in a folder's uidlist header (`.` is INBOX). */
  const uidlistGuid = async (folder: string): Promise<string | undefined> => {
    const text = await readFile(join(mailRoot, 'alice', folder, 'dovecot-uidlist'), 'utf8');
    return / G([0-9a-f]{32})(?: |\n)/.exec(text.slice(0, text.indexOf('\n') + 1))?.[1];
  };

  beforeAll(async () => {
    mailRoot = await mkdtemp('/tmp/pwmi-');
    dovecot = await startDovecot({ mailRoot, users: { alice: PASSWORD } });
    const transcript = await dovecot.imap('alice', PASSWORD, ['CAPABILITY', 'STATUS INBOX (MAILBOXID)']);
    objectId = /^\* CAPABILITY .*\bOBJECTID\b/m.test(transcript);
    // Dovecot 2.3.19: no OBJECTID, and STATUS refuses the item. A Dovecot that has it is compared over IMAP.
    if (!objectId) expect(taggedReplies(transcript).get('a2')).toMatch(/^BAD /);
  }, TIMEOUT);

  afterAll(async () => {
    await dovecot?.stop();
    if (mailRoot) await rm(mailRoot, { recursive: true, force: true });
  }, TIMEOUT);

  it(
    'keeps the GUID of mailboxes Dovecot created (IMAP CREATE, doveadm), INBOX included',
    async () => {
      const transcript = await dovecot.imap('alice', PASSWORD, ['CREATE Made', 'CREATE Made.Child']);
      expect([...taggedReplies(transcript).values()].slice(0, 2), transcript).toEqual([
        expect.stringMatching(/^OK /),
        expect.stringMatching(/^OK /),
      ]);
      await dovecot.doveadm(['mailbox', 'create', '-u', 'alice', 'Tooled']);
      for (const [ours, theirs, folder] of [
        ['INBOX', 'INBOX', '.'],
        ['Made', 'Made', '.Made'],
        ['Made/Child', 'Made.Child', '.Made.Child'],
        ['Tooled', 'Tooled', '.Tooled'],
      ] as const) {
        const guid = await dovecotId(theirs);
        expect(guid, theirs).toMatch(/^[0-9a-f]{32}$/);
        expect(await uidlistGuid(folder), theirs).toBe(guid);
        expect(await postwireId(ours), ours).toBe(guid);
      }
    },
    TIMEOUT,
  );

  it(
    'gives Dovecot the id of mailboxes Postwire created, in a uidlist Dovecot reads without complaint',
    async () => {
      const store = createMaildirStore({ root: mailRoot });
      try {
        const alice = await store.user('alice');
        await alice.create('Ours/Child');
        await (await alice.open('Ours/Child')).append(new TextEncoder().encode('Subject: x\r\n\r\nHi.\r\n'));
        for (const [ours, theirs] of [
          ['Ours', 'Ours'],
          ['Ours/Child', 'Ours.Child'],
        ] as const) {
          expect(await dovecotId(theirs), theirs).toBe((await alice.status(ours)).mailboxId);
        }
        const transcript = await dovecot.imap('alice', PASSWORD, ['SELECT Ours.Child', 'FETCH 1 (UID)']);
        expect(taggedReplies(transcript).get('a1'), transcript).toMatch(/^OK /);
        expect(transcript).toContain('* 1 FETCH (UID 1)');
        expect(await dovecot.readLog()).not.toMatch(/uidlist|GUID/i);
      } finally {
        await store.close();
      }
    },
    TIMEOUT,
  );

  it(
    'keeps the id through renames of a mailbox and of its parent, made by either side',
    async () => {
      await dovecot.doveadm(['mailbox', 'create', '-u', 'alice', 'Trip', 'Trip.Photos']);
      const parent = await dovecotId('Trip');
      const child = await dovecotId('Trip.Photos');
      const transcript = await dovecot.imap('alice', PASSWORD, ['RENAME Trip Journey']);
      expect(taggedReplies(transcript).get('a1'), transcript).toMatch(/^OK /);
      expect(await postwireId('Journey')).toBe(parent);
      expect(await postwireId('Journey/Photos')).toBe(child);

      const store = createMaildirStore({ root: mailRoot });
      try {
        await (await store.user('alice')).rename('Journey', 'Travel');
      } finally {
        await store.close();
      }
      expect(await dovecotId('Travel')).toBe(parent);
      expect(await dovecotId('Travel.Photos')).toBe(child);
    },
    TIMEOUT,
  );

  it(
    'writes a GUID into a uidlist that has none, whichever program looks first, and the other reads it',
    async () => {
      for (const folder of ['.DovecotFirst', '.PostwireFirst']) {
        for (const dir of ['cur', 'new', 'tmp']) {
          await mkdir(join(mailRoot, 'alice', folder, dir), { recursive: true });
        }
        await writeFile(join(mailRoot, 'alice', folder, 'dovecot-uidlist'), '3 V1700000000 N1\n');
        await writeFile(join(mailRoot, 'alice', folder, 'maildirfolder'), '');
      }
      const dovecotFirst = await dovecotId('DovecotFirst');
      expect(await uidlistGuid('.DovecotFirst')).toBe(dovecotFirst);
      expect(await postwireId('DovecotFirst')).toBe(dovecotFirst);

      const postwireFirst = await postwireId('PostwireFirst');
      expect(await uidlistGuid('.PostwireFirst')).toBe(postwireFirst);
      expect(await dovecotId('PostwireFirst')).toBe(postwireFirst);
    },
    TIMEOUT,
  );

  it(
    'sees a new id, Dovecot’s, for a mailbox Dovecot deletes and creates again under its name',
    async () => {
      await dovecot.doveadm(['mailbox', 'create', '-u', 'alice', 'Phoenix']);
      const before = await dovecotId('Phoenix');
      expect(await postwireId('Phoenix')).toBe(before);
      await dovecot.doveadm(['mailbox', 'delete', '-u', 'alice', 'Phoenix']);
      await dovecot.doveadm(['mailbox', 'create', '-u', 'alice', 'Phoenix']);
      const after = await dovecotId('Phoenix');
      expect(after).not.toBe(before);
      expect(await postwireId('Phoenix')).toBe(after);
    },
    TIMEOUT,
  );
});

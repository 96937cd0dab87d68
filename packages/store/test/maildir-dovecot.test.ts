import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMaildirStore } from '../src/node/maildir.js';
import type { Mailbox, MailboxChange, MailStore, UserMail } from '../src/types.js';
import {
  type DovecotPeer,
  dovecotAvailable,
  prepareMaildirForDovecot,
  startDovecot,
} from './support/dovecot.js';
import {
  bytesOf,
  type FetchData,
  fetchByUid,
  flagsOf,
  handOverToDovecot,
  openImapSession,
  selectResponse,
  statusResponses,
  taggedReplies,
} from './support/dovecot-interop.js';

/**
 * The Maildir backend and a real Dovecot 2.3 on one directory: what one writes, the other reads, with
 * the same UIDs, UIDVALIDITY, flags, keywords, sizes and bytes, and both writing while the other runs.
 *
 * Dovecot's hierarchy separator for Maildir++ is `.`: Postwire's `Work/Projects` is Dovecot's
 * `Work.Projects`. The tests run as root and Dovecot's mail processes as uid 65534, so every time
 * Postwire has written, `prepareMaildirForDovecot` (or `handOverToDovecot` while Postwire polls) hands
 * the files over before Dovecot looks.
 */

const available = dovecotAvailable();
if (!available) {
  console.log(
    'Maildir/Dovecot interoperability tests skipped: /usr/sbin/dovecot or /usr/bin/doveadm is missing (.ci/run installs it).',
  );
}

const TIMEOUT = 60_000;
/** Every test user's password. */
const PASSWORD = 'secret';

const encoder = new TextEncoder();

/** A message with CRLF line endings (or LF with `lf`), a subject and a Message-ID. */
function message(subject: string, body = 'Hello.', options: { lf?: boolean; extra?: string[] } = {}): string {
  const lines = [
    'From: Bob <bob@example.org>',
    'To: Alice <alice@example.org>',
    `Subject: ${subject}`,
    'Date: Mon, 1 Jan 2024 12:00:00 +0000',
    `Message-ID: <${subject.replace(/[^A-Za-z0-9]/g, '') || 'x'}.${Math.random().toString(36).slice(2)}@example.org>`,
    ...(options.extra ?? []),
    '',
    ...body.split(/\r?\n/),
    '',
  ];
  return lines.join(options.lf ? '\n' : '\r\n');
}

/** The message as Postwire and IMAP read it: every line ending CRLF. */
function crlf(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}

async function readBytes(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function sorted(flags: readonly string[]): string[] {
  return [...flags].sort();
}

/** Dovecot's name of a Postwire mailbox name (Maildir++ separator). */
function dovecotName(name: string): string {
  return name.replaceAll('/', '.');
}

/** An IMAP quoted string: ASCII names, or the modified UTF-7 Dovecot sends for others (`Entw&APw-rfe`). */
function imapQuote(name: string): string {
  return `"${name.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** `doveadm -f json fetch …` as objects. */
async function doveadmFetch(
  peer: DovecotPeer,
  user: string,
  fields: string,
  mailbox: string,
  query: string[] = ['all'],
): Promise<Record<string, string>[]> {
  const out = await peer.doveadm(['-f', 'json', 'fetch', '-u', user, fields, 'mailbox', mailbox, ...query]);
  return out.trim() ? (JSON.parse(out) as Record<string, string>[]) : [];
}

/** A UID FETCH over IMAP (after SELECT), by UID, with the transcript. */
async function imapFetch(
  peer: DovecotPeer,
  user: string,
  mailbox: string,
  items = '(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[])',
  set = '1:*',
): Promise<{ transcript: string; byUid: Map<number, FetchData> }> {
  const transcript = await peer.imap(user, PASSWORD, [
    `SELECT ${imapQuote(mailbox)}`,
    `UID FETCH ${set} ${items}`,
  ]);
  const replies = taggedReplies(transcript);
  expect(replies.get('a1'), transcript).toMatch(/^OK/);
  expect(replies.get('a2'), transcript).toMatch(/^OK/);
  return { transcript, byUid: fetchByUid(transcript) };
}

/** IMAP STATUS of several mailboxes (Dovecot's names, ASCII or modified UTF-7). */
async function imapStatus(peer: DovecotPeer, user: string, mailboxes: string[]) {
  const transcript = await peer.imap(
    user,
    PASSWORD,
    mailboxes.map((name) => `STATUS ${imapQuote(name)} (MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE)`),
  );
  const statuses = statusResponses(transcript);
  for (const name of mailboxes) expect(statuses.get(name), transcript).toBeDefined();
  return statuses;
}

/** An IMAP INTERNALDATE (`24-Nov-2026 05:40:38 +0000`) in seconds since the epoch. */
function internalDateSeconds(value: string): number {
  const match = /^ ?(\d{1,2})-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(value);
  if (!match) throw new Error(`not an INTERNALDATE: ${value}`);
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const [, day, month, year, hour, minute, second, sign, zoneHours, zoneMinutes] = match;
  const utc = Date.UTC(
    Number(year),
    months.indexOf(month!),
    Number(day),
    Number(hour),
    Number(minute),
    Number(second),
  );
  const offset = (sign === '-' ? -1 : 1) * (Number(zoneHours) * 60 + Number(zoneMinutes)) * 60_000;
  return (utc - offset) / 1000;
}

/** Follows a mailbox's change feed in the background; `waitFor` resolves once a matching change came. */
function follow(mailbox: Mailbox) {
  const controller = new AbortController();
  const changes: MailboxChange[] = [];
  const iterator = mailbox.changes({ signal: controller.signal })[Symbol.asyncIterator]();
  let failure: unknown;
  const pump = (async () => {
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      changes.push(next.value);
    }
  })().catch((error) => {
    failure = error;
  });
  return {
    changes,
    async waitFor(
      predicate: (change: MailboxChange) => boolean,
      what: string,
      timeout = 10_000,
    ): Promise<MailboxChange> {
      const deadline = Date.now() + timeout;
      for (;;) {
        if (failure) throw failure;
        const found = changes.find(predicate);
        if (found) return found;
        if (Date.now() > deadline) {
          throw new Error(`no ${what} in the change feed within ${timeout} ms: ${JSON.stringify(changes)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async stop(): Promise<void> {
      controller.abort();
      await pump;
    },
  };
}

/** Every file name in a folder's `new/` and `cur/`. */
async function messageFiles(folder: string): Promise<string[]> {
  const names: string[] = [];
  for (const dir of ['new', 'cur']) {
    for (const name of await readdir(join(folder, dir))) names.push(`${dir}/${name}`);
  }
  return names.sort();
}

// ---------------------------------------------------------------------------------------------------------

describe.skipIf(!available)('Maildir store and Dovecot: Postwire writes, Dovecot reads', () => {
  let mailRoot: string;
  let dovecot: DovecotPeer;
  let store: MailStore;
  let alice: UserMail;
  /** What Postwire appended to INBOX, by UID: the bytes given and the flags. */
  const inboxMessages = new Map<number, { text: string; flags: string[]; internalDate?: Date }>();
  const internalDate = new Date('2024-01-02T03:04:05Z');

  beforeAll(async () => {
    mailRoot = await mkdtemp('/tmp/pwmd-');
    dovecot = await startDovecot({ mailRoot, users: { alice: PASSWORD } });
    store = createMaildirStore({ root: mailRoot });
    alice = await store.user('alice');
    const inbox = await alice.open('INBOX');
    const appends: { text: string; flags: string[]; internalDate?: Date }[] = [
      { text: message('plain, no flags'), flags: [] },
      { text: message('seen'), flags: ['\\Seen'] },
      { text: message('seen flagged forwarded'), flags: ['\\Seen', '\\Flagged', '$Forwarded'] },
      { text: message('answered draft work'), flags: ['\\Answered', '\\Draft', 'Work'] },
      { text: message('deleted'), flags: ['\\Deleted', '\\Seen'] },
      {
        // LF line endings in, 8-bit UTF-8 in the header and body: stored and read with CRLF.
        text: message('Grüße aus Köln', 'Zeile eins\nZeile zwei: äöü €\n\n-- \nBob', { lf: true }),
        flags: ['Work', '$Forwarded', '\\Flagged'],
        internalDate,
      },
      {
        text: message('multipart', '--b\r\nContent-Type: text/plain\r\n\r\nPart one.\r\n--b--', {
          extra: ['MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"'],
        }),
        flags: ['$MDNSent'],
      },
    ];
    for (const entry of appends) {
      const result = await inbox.append(encoder.encode(entry.text), {
        flags: entry.flags,
        ...(entry.internalDate ? { internalDate: entry.internalDate } : {}),
      });
      inboxMessages.set(result.uid, entry);
    }
    await alice.create('Archive');
    await (await alice.open('Archive')).append(encoder.encode(message('archived')), { flags: ['\\Seen'] });
    await alice.create('Work/Projects');
    await (await alice.open('Work/Projects')).append(encoder.encode(message('project plan')), {
      flags: ['Projekt', '\\Flagged'],
    });
    await alice.create('Entwürfe');
    await (await alice.open('Entwürfe')).append(encoder.encode(message('draft')), { flags: ['\\Draft'] });
    await prepareMaildirForDovecot(mailRoot);
  }, TIMEOUT);

  afterAll(async () => {
    await store?.close();
    await dovecot?.stop();
    if (mailRoot) await rm(mailRoot, { recursive: true, force: true });
  }, TIMEOUT);

  it(
    'lays the folders out as Dovecot does, the non-ASCII name in modified UTF-7',
    async () => {
      const entries = await readdir(join(mailRoot, 'alice'));
      expect(entries).toEqual(
        expect.arrayContaining(['.Archive', '.Work', '.Work.Projects', '.Entw&APw-rfe']),
      );
      const listed = (await dovecot.doveadm(['mailbox', 'list', '-u', 'alice'])).trim().split('\n').sort();
      expect(listed).toEqual(['Archive', 'Entwürfe', 'INBOX', 'Work', 'Work.Projects']);
      const postwire = (await alice.list())
        .filter((entry) => entry.exists)
        .map((entry) => dovecotName(entry.name));
      expect(postwire.sort()).toEqual(listed);
      const transcript = await dovecot.imap('alice', PASSWORD, ['LIST "" "*"']);
      expect(transcript).toMatch(/^\* LIST \([^)]*\) "\." Entw&APw-rfe\r$/m);
      expect(transcript).toMatch(/^\* LIST \(\\HasChildren\) "\." Work\r$/m);
    },
    TIMEOUT,
  );

  it(
    'shares subscriptions with Dovecot both ways, through its subscriptions file',
    async () => {
      await alice.subscribe('Work/Projects');
      await alice.subscribe('Entwürfe');
      await alice.subscribe('Lists/Not yet');
      await prepareMaildirForDovecot(mailRoot);
      const subscribed = (await dovecot.doveadm(['mailbox', 'list', '-u', 'alice', '-s'])).trim().split('\n');
      expect(subscribed.sort()).toEqual(['Entwürfe', 'INBOX', 'Lists.Not yet', 'Work.Projects']);
      await dovecot.doveadm(['mailbox', 'subscribe', '-u', 'alice', 'Archive']);
      await dovecot.doveadm(['mailbox', 'unsubscribe', '-u', 'alice', 'Lists.Not yet']);
      const ours = (await alice.list()).filter((entry) => entry.subscribed).map((entry) => entry.name);
      expect(ours.sort()).toEqual(['Archive', 'Entwürfe', 'INBOX', 'Work/Projects']);
    },
    TIMEOUT,
  );

  it(
    'doveadm fetch sees the same UIDs, flags, keywords, GUIDs (file bases), sizes and text',
    async () => {
      const inbox = await alice.open('INBOX');
      const infos = await inbox.messages();
      const fetched = await doveadmFetch(
        dovecot,
        'alice',
        'uid flags guid size.virtual size.physical date.received text',
        'INBOX',
      );
      expect(fetched.map((row) => Number(row.uid))).toEqual(infos.map((info) => info.uid));
      expect(infos.map((info) => info.uid)).toEqual([...inboxMessages.keys()]);
      const files = await messageFiles(join(mailRoot, 'alice'));
      for (const [i, info] of infos.entries()) {
        const row = fetched[i]!;
        const given = inboxMessages.get(info.uid)!;
        const dovecotFlags = row.flags!.split(' ').filter((flag) => flag && flag !== '\\Recent');
        expect(sorted(dovecotFlags), `flags of UID ${info.uid}`).toEqual(sorted(given.flags));
        expect(sorted(info.flags)).toEqual(sorted(given.flags));
        expect(Number(row['size.virtual']), `size of UID ${info.uid}`).toBe(info.size);
        expect(Number(row['size.physical'])).toBe(info.size); // Postwire stores CRLF
        expect(info.size).toBe(Buffer.byteLength(crlf(given.text)));
        // Dovecot's GUID of a Maildir message is its file's base name.
        expect(files.some((file) => file.slice(4).split(':2,')[0] === row.guid)).toBe(true);
        const bytes = await readBytes(inbox.read(info.uid));
        expect(row.text).toBe(bytes.toString('utf8'));
        expect(bytes.toString('utf8')).toBe(crlf(given.text));
      }
    },
    TIMEOUT,
  );

  it(
    'IMAP SELECT, UID FETCH and STATUS agree on UIDVALIDITY, UIDNEXT, flags, sizes, dates and bytes',
    async () => {
      const inbox = await alice.open('INBOX');
      const status = await inbox.status();
      const infos = await inbox.messages();
      const { transcript, byUid } = await imapFetch(dovecot, 'alice', 'INBOX');
      const selected = selectResponse(transcript);
      expect(selected.uidValidity).toBe(status.uidValidity);
      expect(selected.uidNext).toBe(status.uidNext);
      expect(selected.exists).toBe(status.messages);
      expect([...byUid.keys()]).toEqual(infos.map((info) => info.uid));
      for (const info of infos) {
        const data = byUid.get(info.uid)!;
        expect(flagsOf(data), `UID ${info.uid}`).toEqual(sorted(info.flags));
        expect(Number(data['RFC822.SIZE'])).toBe(info.size);
        expect(internalDateSeconds(data.INTERNALDATE as string)).toBe(
          Math.floor(info.internalDate.getTime() / 1000),
        );
        const bytes = await readBytes(inbox.read(info.uid));
        expect(Buffer.from(bytesOf(data['BODY[]'])).equals(bytes), `bytes of UID ${info.uid}`).toBe(true);
      }
      const given = [...inboxMessages.values()].find((entry) => entry.internalDate)!;
      const uid = [...inboxMessages].find(([, entry]) => entry === given)![0];
      expect(internalDateSeconds(byUid.get(uid)!.INTERNALDATE as string)).toBe(internalDate.getTime() / 1000);

      const names = ['INBOX', 'Archive', 'Work/Projects', 'Entwürfe'];
      const wire = (name: string) => (name === 'Entwürfe' ? 'Entw&APw-rfe' : dovecotName(name));
      const statuses = await imapStatus(dovecot, 'alice', names.map(wire));
      for (const name of names) {
        const ours = await alice.status(name);
        const theirs = statuses.get(wire(name))!;
        expect(
          {
            messages: theirs.MESSAGES,
            uidNext: theirs.UIDNEXT,
            uidValidity: theirs.UIDVALIDITY,
            unseen: theirs.UNSEEN,
            size: theirs.SIZE,
          },
          name,
        ).toEqual({
          messages: ours.messages,
          uidNext: ours.uidNext,
          uidValidity: ours.uidValidity,
          unseen: ours.unseen,
          size: ours.size,
        });
      }
    },
    TIMEOUT,
  );

  it(
    'Dovecot reads the other folders: flags, keywords of their own dovecot-keywords, bytes',
    async () => {
      for (const name of ['Archive', 'Work/Projects', 'Entwürfe']) {
        const mailbox = await alice.open(name);
        const infos = await mailbox.messages();
        expect(infos).toHaveLength(1);
        const rows = await doveadmFetch(dovecot, 'alice', 'uid flags size.virtual text', dovecotName(name));
        expect(rows.map((row) => Number(row.uid))).toEqual([infos[0]!.uid]);
        expect(sorted(rows[0]!.flags!.split(' ').filter((flag) => flag && flag !== '\\Recent'))).toEqual(
          sorted(infos[0]!.flags),
        );
        expect(Number(rows[0]!['size.virtual'])).toBe(infos[0]!.size);
        expect(rows[0]!.text).toBe((await readBytes(mailbox.read(infos[0]!.uid))).toString('utf8'));
      }
      const keywords = await readFile(join(mailRoot, 'alice', '.Work.Projects', 'dovecot-keywords'), 'utf8');
      expect(keywords).toBe('0 Projekt\n');
    },
    TIMEOUT,
  );

  it(
    'Dovecot changes flags and appends after Postwire wrote, keeping Postwire’s UIDs and keyword letters',
    async () => {
      await dovecot.doveadm([
        'flags',
        'add',
        '-u',
        'alice',
        '\\Seen Work Extra',
        'mailbox',
        'INBOX',
        'uid',
        '1',
      ]);
      await dovecot.doveadm(['flags', 'remove', '-u', 'alice', '$Forwarded', 'mailbox', 'INBOX', 'uid', '3']);
      await dovecot.doveadm(
        ['save', '-u', 'alice', '-m', 'INBOX'],
        message('from dovecot', 'Hi.', { lf: true }),
      );
      const inbox = await alice.open('INBOX');
      await inbox.sync();
      const infos = await inbox.messages();
      const last = [...inboxMessages.keys()].at(-1)!;
      expect(infos.map((info) => info.uid)).toEqual([...inboxMessages.keys(), last + 1]);
      expect(sorted(infos.find((info) => info.uid === 1)!.flags)).toEqual(['Extra', 'Work', '\\Seen']);
      expect(sorted(infos.find((info) => info.uid === 3)!.flags)).toEqual(['\\Flagged', '\\Seen']);
      const { byUid } = await imapFetch(dovecot, 'alice', 'INBOX', '(UID FLAGS RFC822.SIZE)');
      for (const info of infos) {
        expect(flagsOf(byUid.get(info.uid)!), `UID ${info.uid}`).toEqual(sorted(info.flags));
        expect(Number(byUid.get(info.uid)!['RFC822.SIZE'])).toBe(info.size);
      }
      // Dovecot kept the keyword letters Postwire gave, and added its new keyword after them.
      const keywords = await readFile(join(mailRoot, 'alice', 'dovecot-keywords'), 'utf8');
      expect(keywords.split('\n').filter(Boolean)).toEqual([
        '0 $Forwarded',
        '1 Work',
        '2 $MDNSent',
        '3 Extra',
      ]);
    },
    TIMEOUT,
  );
});

// ---------------------------------------------------------------------------------------------------------

describe.skipIf(!available)('Maildir store and Dovecot: Dovecot writes, Postwire reads', () => {
  let mailRoot: string;
  let dovecot: DovecotPeer;
  /** Dovecot's view of INBOX after its changes. */
  let dovecotInbox: Map<number, FetchData>;
  let dovecotSelect: { exists: number; uidValidity: number; uidNext: number };
  const texts = new Map<number, string>();
  const appendDate = '02-Jan-2024 03:04:05 +0100';

  beforeAll(async () => {
    mailRoot = await mkdtemp('/tmp/pwmd-');
    dovecot = await startDovecot({
      mailRoot,
      users: { alice: PASSWORD, carol: PASSWORD, bob: PASSWORD, dave: PASSWORD },
    });
    const save = async (text: string, mailbox = 'INBOX') => {
      await dovecot.doveadm(['save', '-u', 'alice', '-m', mailbox], text);
    };
    const lf = message('saved with LF', 'One.\nTwo.', { lf: true });
    const crlfText = message('saved with CRLF', 'One.\r\nTwo.');
    const utf8 = message('Grüße, 8 bit', 'Ärger über Öl: €\nzweite Zeile', { lf: true });
    const toExpunge = message('to be expunged', 'Bye.', { lf: true });
    await save(lf); // UID 1
    await save(crlfText); // UID 2
    await save(utf8); // UID 3
    await save(toExpunge); // UID 4
    texts.set(1, lf).set(2, crlfText).set(3, utf8);
    const appended = message('appended over IMAP', 'With flags\r\nand keywords.');
    const appendedDraft = message('appended draft', 'Draft.', { lf: true });
    texts.set(5, appended).set(6, appendedDraft);
    const transcript = await dovecot.imap('alice', PASSWORD, [
      `APPEND INBOX (\\Seen $Forwarded Work) "${appendDate}" {${Buffer.byteLength(appended)}+}\r\n${appended}`,
      // A message with bare LF sent over IMAP: Dovecot stores it as it came.
      `APPEND INBOX (\\Answered \\Draft) {${Buffer.byteLength(appendedDraft)}+}\r\n${appendedDraft}`,
      'SELECT INBOX',
      'UID STORE 3 +FLAGS (\\Deleted $Junk)',
      'UID STORE 5 -FLAGS ($Forwarded)',
      'UID STORE 5 +FLAGS (\\Flagged)',
    ]);
    const replies = taggedReplies(transcript);
    for (const tag of ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'])
      expect(replies.get(tag), transcript).toMatch(/^OK/);
    await dovecot.doveadm([
      'flags',
      'add',
      '-u',
      'alice',
      '\\Flagged Urgent',
      'mailbox',
      'INBOX',
      'uid',
      '1',
    ]);
    await dovecot.doveadm(['flags', 'add', '-u', 'alice', '\\Seen', 'mailbox', 'INBOX', 'uid', '2']);
    await dovecot.doveadm(['flags', 'remove', '-u', 'alice', 'Urgent', 'mailbox', 'INBOX', 'uid', '1']);
    await dovecot.doveadm(['flags', 'add', '-u', 'alice', 'Later', 'mailbox', 'INBOX', 'uid', '2']);
    await dovecot.doveadm(['expunge', '-u', 'alice', 'mailbox', 'INBOX', 'uid', '4']);
    await dovecot.doveadm(['mailbox', 'create', '-u', 'alice', 'Lists.Dev', 'Entwürfe', 'Empty']);
    await save(message('list mail', 'List.', { lf: true }), 'Lists.Dev');
    await save(message('ein Entwurf', 'Entwurf.', { lf: true }), 'Entwürfe');
    const fetched = await imapFetch(dovecot, 'alice', 'INBOX');
    dovecotInbox = fetched.byUid;
    dovecotSelect = selectResponse(fetched.transcript);
  }, TIMEOUT);

  afterAll(async () => {
    await dovecot?.stop();
    if (mailRoot) await rm(mailRoot, { recursive: true, force: true });
  }, TIMEOUT);

  it(
    'sees Dovecot’s UIDs, UIDVALIDITY, UIDNEXT, flags and keywords, and its expunge',
    async () => {
      expect([...dovecotInbox.keys()]).toEqual([1, 2, 3, 5, 6]);
      const store = createMaildirStore({ root: mailRoot });
      try {
        const inbox = await (await store.user('alice')).open('INBOX');
        const status = await inbox.status();
        expect(status.uidValidity).toBe(dovecotSelect.uidValidity);
        expect(status.uidNext).toBe(dovecotSelect.uidNext);
        expect(status.messages).toBe(dovecotSelect.exists);
        const infos = await inbox.messages();
        expect(infos.map((info) => info.uid)).toEqual([...dovecotInbox.keys()]);
        for (const info of infos) {
          expect(sorted(info.flags), `UID ${info.uid}`).toEqual(flagsOf(dovecotInbox.get(info.uid)!));
        }
        // Spelled out, so that a wrong comparison above cannot hide a wrong result.
        const flags = new Map(infos.map((info) => [info.uid, sorted(info.flags)]));
        expect(flags.get(1)).toEqual(['\\Flagged']);
        expect(flags.get(2)).toEqual(['Later', '\\Seen']);
        expect(flags.get(3)).toEqual(['$Junk', '\\Deleted']);
        expect(flags.get(5)).toEqual(['Work', '\\Flagged', '\\Seen']);
        expect(flags.get(6)).toEqual(['\\Answered', '\\Draft']);
        expect(status.unseen).toBe(infos.filter((info) => !info.flags.includes('\\Seen')).length);
        expect(status.deleted).toBe(1);
      } finally {
        await store.close();
      }
    },
    TIMEOUT,
  );

  it(
    'reads Dovecot’s LF files with CRLF: sizes equal RFC822.SIZE, bytes equal BODY[], ranges too',
    async () => {
      const files = await messageFiles(join(mailRoot, 'alice'));
      // Dovecot stores bare LF, and names the CRLF size: `,S=<file>,W=<CRLF>`.
      for (const file of files) {
        const match = /,S=(\d+),W=(\d+)/.exec(file);
        expect(match, file).not.toBeNull();
        expect(Number(match![1])).toBeLessThan(Number(match![2]));
      }
      const store = createMaildirStore({ root: mailRoot });
      try {
        const inbox = await (await store.user('alice')).open('INBOX');
        const infos = await inbox.messages();
        for (const info of infos) {
          const data = dovecotInbox.get(info.uid)!;
          const body = Buffer.from(bytesOf(data['BODY[]']));
          expect(info.size, `size of UID ${info.uid}`).toBe(Number(data['RFC822.SIZE']));
          const bytes = await readBytes(inbox.read(info.uid));
          expect(bytes.length).toBe(info.size);
          expect(bytes.equals(body), `bytes of UID ${info.uid}`).toBe(true);
          expect(bytes.toString('utf8')).toBe(crlf(texts.get(info.uid)!));
          expect(/(?<!\r)\n/.test(bytes.toString('latin1'))).toBe(false);
          for (const [start, end] of [
            [0, 1],
            [5, 60],
            [info.size - 10, info.size],
            [info.size - 3, info.size + 100],
            [17, 17],
          ] as const) {
            const part = await readBytes(inbox.read(info.uid, { start, end }));
            expect(part.equals(bytes.subarray(start, end)), `UID ${info.uid} [${start}, ${end})`).toBe(true);
            const piece = Buffer.from(await inbox.readBytes!(info.uid, { start, end }));
            expect(piece.equals(part), `UID ${info.uid} [${start}, ${end}) in one piece`).toBe(true);
          }
          const subject = /^Subject: (.*)$/m.exec(texts.get(info.uid)!)![1]!.replace(/\r$/, '');
          expect((await inbox.structure(info.uid)).envelope.subject).toBe(subject);
          expect(internalDateSeconds(data.INTERNALDATE as string)).toBe(
            Math.floor(info.internalDate.getTime() / 1000),
          );
        }
        expect(internalDateSeconds(dovecotInbox.get(5)!.INTERNALDATE as string)).toBe(
          internalDateSeconds(appendDate),
        );
        expect((await inbox.status()).size).toBe(infos.reduce((sum, info) => sum + info.size, 0));
      } finally {
        await store.close();
      }
    },
    TIMEOUT,
  );

  it(
    'lists Dovecot’s mailboxes with their names decoded, the same UIDVALIDITY, and their messages',
    async () => {
      const store = createMaildirStore({ root: mailRoot });
      try {
        const alice = await store.user('alice');
        const list = await alice.list();
        const existing = list.filter((entry) => entry.exists).map((entry) => entry.name);
        expect(existing.sort()).toEqual(['Empty', 'Entwürfe', 'INBOX', 'Lists/Dev']);
        expect(list.find((entry) => entry.name === 'Lists')).toMatchObject({
          exists: false,
          hasChildren: true,
        });
        const statuses = await imapStatus(dovecot, 'alice', ['Lists.Dev', 'Entw&APw-rfe', 'Empty']);
        for (const [name, wire] of [
          ['Lists/Dev', 'Lists.Dev'],
          ['Entwürfe', 'Entw&APw-rfe'],
          ['Empty', 'Empty'],
        ] as const) {
          const ours = await alice.status(name);
          const theirs = statuses.get(wire)!;
          expect(
            { uidValidity: ours.uidValidity, uidNext: ours.uidNext, messages: ours.messages },
            name,
          ).toEqual({
            uidValidity: theirs.UIDVALIDITY,
            uidNext: theirs.UIDNEXT,
            messages: theirs.MESSAGES,
          });
        }
        const drafts = await alice.open('Entwürfe');
        const [draft] = await drafts.messages();
        expect((await drafts.structure(draft!.uid)).envelope.subject).toBe('ein Entwurf');
        // Postwire did not disturb Dovecot's view (no new UIDVALIDITY, no lost message).
        await prepareMaildirForDovecot(mailRoot);
        const again = await imapStatus(dovecot, 'alice', ['Lists.Dev', 'Entw&APw-rfe', 'Empty']);
        expect(again).toEqual(statuses);
      } finally {
        await store.close();
      }
    },
    TIMEOUT,
  );

  it(
    'opens a user whose INBOX Dovecot created empty with Dovecot’s UIDVALIDITY',
    async () => {
      const transcript = await dovecot.imap('carol', PASSWORD, ['SELECT INBOX']);
      const selected = selectResponse(transcript);
      const store = createMaildirStore({ root: mailRoot });
      try {
        const carol = await store.user('carol');
        expect((await carol.status('INBOX')).uidValidity).toBe(selected.uidValidity);
        await (await carol.open('INBOX')).append(encoder.encode(message('to carol')));
        await prepareMaildirForDovecot(mailRoot);
        const after = selectResponse(await dovecot.imap('carol', PASSWORD, ['SELECT INBOX']));
        expect(after).toEqual({ exists: 1, uidValidity: selected.uidValidity, uidNext: 2 });
      } finally {
        await store.close();
      }
    },
    TIMEOUT,
  );

  it(
    'changes Dovecot’s messages so that Dovecot sees it: flags, keywords, expunge, append',
    async () => {
      const store = createMaildirStore({ root: mailRoot });
      try {
        const inbox = await (await store.user('alice')).open('INBOX');
        await inbox.setFlags([1], 'add', ['\\Answered', 'FromPostwire']);
        await inbox.setFlags([5], 'remove', ['Work']);
        await inbox.setFlags([2], 'replace', ['$Forwarded']);
        expect(await inbox.expunge([3])).toEqual([3]);
        const appended = await inbox.append(encoder.encode(message('postwire after dovecot')), {
          flags: ['Later'],
        });
        expect(appended.uid).toBe(dovecotSelect.uidNext);
        await prepareMaildirForDovecot(mailRoot);
        const { transcript, byUid } = await imapFetch(dovecot, 'alice', 'INBOX', '(UID FLAGS RFC822.SIZE)');
        expect(selectResponse(transcript).uidValidity).toBe(dovecotSelect.uidValidity);
        expect([...byUid.keys()]).toEqual([1, 2, 5, 6, appended.uid]);
        const infos = await inbox.messages();
        for (const info of infos) {
          expect(flagsOf(byUid.get(info.uid)!), `UID ${info.uid}`).toEqual(sorted(info.flags));
          expect(Number(byUid.get(info.uid)!['RFC822.SIZE'])).toBe(info.size);
        }
        expect(flagsOf(byUid.get(1)!)).toEqual(['FromPostwire', '\\Answered', '\\Flagged']);
        expect(flagsOf(byUid.get(2)!)).toEqual(['$Forwarded']);
        expect(flagsOf(byUid.get(5)!)).toEqual(['\\Flagged', '\\Seen']);
        expect(flagsOf(byUid.get(appended.uid)!)).toEqual(['Later']);
      } finally {
        await store.close();
      }
    },
    TIMEOUT,
  );

  /**
   * Files another MDA (Postfix's `virtual`, procmail, fetchmail …) delivered into `new/`: no uidlist
   * record, bare LF line endings, and no `,S=`/`,W=` in the name. The same files go to two users: Dovecot
   * is the first to look at bob's, Postwire at dave's.
   */
  describe('files delivered into new/ by another MDA', () => {
    const count = 24;
    const second = (i: number) => 1_700_000_000 + Math.floor(i / 2);
    const bases: string[] = [];
    const mdaTexts = new Map<string, string>();
    /** bob's messages as Dovecot numbered them, by UID: the file base. */
    let dovecotBases: Map<number, string>;
    let bobFetch: Map<number, FetchData>;

    const uidlistBases = async (user: string) => {
      const text = await readFile(join(mailRoot, user, 'dovecot-uidlist'), 'utf8');
      const out = new Map<number, string>();
      for (const line of text.split('\n').slice(1)) {
        const match = /^(\d+)(?: [^:]\S*)* :(.+)$/.exec(line);
        if (match) out.set(Number(match[1]), match[2]!);
      }
      return out;
    };

    beforeAll(async () => {
      for (let i = 0; i < count; i++) {
        // <seconds>.M<microseconds>P<pid>.<host>, two deliveries a second: the second one's microseconds
        // have more digits, so that the names' text order is not their time order.
        const base = `${second(i)}.M${i % 2 ? 120_000 + i : 95_000 + i}P${4000 + i}.mx`;
        bases.push(base);
        mdaTexts.set(
          base,
          message(`mda delivery ${i}`, `Line one of ${i}.\nLine two.\n\nEnd.`, { lf: true }),
        );
      }
      // Written in an order unlike the delivery order (a directory lists small directories in the order
      // the files were made), some already moved to cur/ by a mail reader that marked them seen.
      const order = bases.map((_, i) => (i * 7) % count);
      for (const user of ['bob', 'dave']) {
        for (const dir of ['cur', 'new', 'tmp']) await mkdir(join(mailRoot, user, dir), { recursive: true });
        for (const i of order) {
          const base = bases[i]!;
          const path = join(mailRoot, user, i % 3 === 1 ? `cur/${base}:2,S` : `new/${base}`);
          await writeFile(path, mdaTexts.get(base)!);
          await utimes(path, second(i), second(i));
        }
      }
      await prepareMaildirForDovecot(mailRoot);
      const fetched = await imapFetch(
        dovecot,
        'bob',
        'INBOX',
        '(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[])',
      );
      bobFetch = fetched.byUid;
      dovecotBases = await uidlistBases('bob');
    }, TIMEOUT);

    it(
      'Dovecot numbers them in delivery order (the time in the name, seconds then microseconds)',
      async () => {
        expect([...dovecotBases.values()]).toEqual(bases);
        expect([...bobFetch.keys()]).toEqual(bases.map((_, i) => i + 1));
      },
      TIMEOUT,
    );

    it(
      'Postwire numbers them as Dovecot does: in delivery order',
      async () => {
        const store = createMaildirStore({ root: mailRoot });
        try {
          const inbox = await (await store.user('dave')).open('INBOX');
          expect((await inbox.messages()).map((info) => info.uid)).toEqual(bases.map((_, i) => i + 1));
          const postwireBases = await uidlistBases('dave');
          // Dovecot, looking after Postwire, keeps Postwire's numbers, whatever they are.
          await prepareMaildirForDovecot(mailRoot);
          const { byUid } = await imapFetch(dovecot, 'dave', 'INBOX', '(UID FLAGS)');
          expect([...byUid.keys()]).toEqual([...postwireBases.keys()]);
          expect(await uidlistBases('dave')).toEqual(postwireBases);
          // The order: Dovecot sorts files without a UID by the delivery time in their names (seconds,
          // then the microseconds of `M…`), whether in new/ or cur/, so that UIDs follow arrival.
          expect([...postwireBases.values()]).toEqual(bases);
        } finally {
          await store.close();
        }
      },
      TIMEOUT,
    );

    it(
      'Postwire reads them with CRLF, and with Dovecot’s RFC822.SIZE, though the name holds no size',
      async () => {
        const store = createMaildirStore({ root: mailRoot });
        try {
          const inbox = await (await store.user('dave')).open('INBOX');
          const infos = await inbox.messages();
          expect(infos).toHaveLength(count);
          const dave = await uidlistBases('dave');
          const ours: { base: string; size: number; read: number; text: string }[] = [];
          const theirs: { base: string; size: number; read: number; text: string }[] = [];
          for (const info of infos) {
            const base = dave.get(info.uid)!;
            const dovecotUid = [...dovecotBases].find(([, b]) => b === base)![0];
            const data = bobFetch.get(dovecotUid)!;
            const body = Buffer.from(bytesOf(data['BODY[]']));
            expect(body.toString('utf8')).toBe(crlf(mdaTexts.get(base)!));
            expect(sorted(info.flags)).toEqual(flagsOf(data));
            expect(Math.floor(info.internalDate.getTime() / 1000)).toBe(
              internalDateSeconds(data.INTERNALDATE as string),
            );
            const bytes = await readBytes(inbox.read(info.uid));
            ours.push({ base, size: info.size, read: bytes.length, text: bytes.toString('utf8') });
            theirs.push({
              base,
              size: Number(data['RFC822.SIZE']),
              read: body.length,
              text: body.toString('utf8'),
            });
          }
          // One comparison for all, so that a failure shows the first difference rather than 24.
          expect(ours.map(({ base, size, read }) => ({ base, size, read }))).toEqual(
            theirs.map(({ base, size, read }) => ({ base, size, read })),
          );
          expect(ours[0]!.text).toBe(theirs[0]!.text);
          expect(ours.map(({ text }) => text)).toEqual(theirs.map(({ text }) => text));
        } finally {
          await store.close();
        }
      },
      TIMEOUT,
    );
  });
});

// ---------------------------------------------------------------------------------------------------------

describe.skipIf(!available)('Maildir store and Dovecot: both live on the same Maildir', () => {
  let mailRoot: string;
  let dovecot: DovecotPeer;
  let store: MailStore;
  let alice: UserMail;
  let inbox: Mailbox;
  let feed: ReturnType<typeof follow>;

  const save = async (text: string, mailbox = 'INBOX') => {
    await dovecot.doveadm(['save', '-u', 'alice', '-m', mailbox], text);
  };

  beforeAll(async () => {
    mailRoot = await mkdtemp('/tmp/pwmd-');
    dovecot = await startDovecot({ mailRoot, users: { alice: PASSWORD } });
    await save(message('first, from dovecot', 'Hi.', { lf: true }));
    store = createMaildirStore({ root: mailRoot, pollInterval: 50 });
    alice = await store.user('alice');
    inbox = await alice.open('INBOX');
    feed = follow(inbox);
  }, TIMEOUT);

  afterAll(async () => {
    await feed?.stop();
    await store?.close();
    await dovecot?.stop();
    if (mailRoot) await rm(mailRoot, { recursive: true, force: true });
  }, TIMEOUT);

  it(
    'Postwire appends while Dovecot runs: IMAP sees it with the next UID, and Dovecot’s next append follows',
    async () => {
      const before = selectResponse(await dovecot.imap('alice', PASSWORD, ['SELECT INBOX']));
      const text = message('live from postwire');
      const appended = await inbox.append(encoder.encode(text), { flags: ['\\Flagged'] });
      expect(appended.uid).toBe(before.uidNext);
      expect(appended.uidValidity).toBe(before.uidValidity);
      await handOverToDovecot(mailRoot);
      const { transcript, byUid } = await imapFetch(
        dovecot,
        'alice',
        'INBOX',
        '(UID FLAGS RFC822.SIZE BODY.PEEK[])',
        `${appended.uid}`,
      );
      expect(selectResponse(transcript)).toEqual({
        exists: before.exists + 1,
        uidValidity: before.uidValidity,
        uidNext: appended.uid + 1,
      });
      expect(flagsOf(byUid.get(appended.uid)!)).toEqual(['\\Flagged']);
      expect(Buffer.from(bytesOf(byUid.get(appended.uid)!['BODY[]'])).toString('utf8')).toBe(text);

      await save(message('live from dovecot', 'Hi.', { lf: true }));
      const change = await feed.waitFor(
        (c) => c.type === 'append' && c.message.uid === appended.uid + 1,
        'append of Dovecot’s message',
      );
      expect(change.type === 'append' && change.message.size).toBeGreaterThan(0);
      expect((await inbox.messages()).map((info) => info.uid).at(-1)).toBe(appended.uid + 1);
    },
    TIMEOUT,
  );

  it(
    'Dovecot changes a flag: an open mailbox sees it after sync(), and the feed gets a flags change',
    async () => {
      const opened = await alice.open('INBOX');
      const [first] = await opened.messages();
      expect(first!.flags).not.toContain('\\Seen');
      await dovecot.doveadm([
        'flags',
        'add',
        '-u',
        'alice',
        '\\Seen Important',
        'mailbox',
        'INBOX',
        'uid',
        '1',
      ]);
      await opened.sync();
      const [after] = await opened.messages([1]);
      expect(sorted(after!.flags)).toEqual(['Important', '\\Seen']);
      expect(after!.modseq).toBeGreaterThan(first!.modseq);
      const change = await feed.waitFor(
        (c) => c.type === 'flags' && c.uid === 1 && c.flags.includes('\\Seen'),
        'flags change of UID 1',
      );
      expect(change.type === 'flags' && sorted(change.flags)).toEqual(['Important', '\\Seen']);

      // Over IMAP too, in a session that stays selected while Dovecot stores.
      const transcript = await dovecot.imap('alice', PASSWORD, [
        'SELECT INBOX',
        'UID STORE 1 -FLAGS (Important)',
      ]);
      expect(taggedReplies(transcript).get('a2')).toMatch(/^OK/);
      await feed.waitFor(
        (c) => c.type === 'flags' && c.uid === 1 && !c.flags.includes('Important'),
        'flags change of UID 1 over IMAP',
      );
      expect((await opened.messages([1]))[0]!.flags).toEqual(['\\Seen']);
    },
    TIMEOUT,
  );

  it(
    'Dovecot expunges: the feed gets the expunge, and the message is gone from Postwire',
    async () => {
      const uids = (await inbox.messages()).map((info) => info.uid);
      const victim = uids[1]!;
      await dovecot.doveadm(['expunge', '-u', 'alice', 'mailbox', 'INBOX', 'uid', String(victim)]);
      const change = await feed.waitFor(
        (c) => c.type === 'expunge' && c.uids.includes(victim),
        `expunge of UID ${victim}`,
      );
      expect(change.type === 'expunge' && change.uids).toEqual([victim]);
      expect((await inbox.messages()).map((info) => info.uid)).toEqual(uids.filter((uid) => uid !== victim));
      // Over IMAP too.
      const last = uids.at(-1)!;
      const transcript = await dovecot.imap('alice', PASSWORD, [
        'SELECT INBOX',
        `UID STORE ${last} +FLAGS.SILENT (\\Deleted)`,
        'EXPUNGE',
      ]);
      expect(taggedReplies(transcript).get('a3')).toMatch(/^OK/);
      await feed.waitFor((c) => c.type === 'expunge' && c.uids.includes(last), `expunge of UID ${last}`);
      expect((await inbox.messages()).map((info) => info.uid)).not.toContain(last);
    },
    TIMEOUT,
  );

  it(
    'appending alternately, UIDs never collide and both agree on every message',
    async () => {
      const subjects = new Map<number, string>();
      for (const info of await inbox.messages()) {
        subjects.set(info.uid, (await inbox.structure(info.uid)).envelope.subject!);
      }
      let expectedNext = (await inbox.status()).uidNext;
      for (let round = 0; round < 6; round++) {
        const ours = `alternate postwire ${round}`;
        const result = await inbox.append(
          encoder.encode(message(ours)),
          round % 2 ? { flags: ['Work'] } : {},
        );
        expect(result.uid).toBe(expectedNext++);
        subjects.set(result.uid, ours);
        await handOverToDovecot(mailRoot);
        const theirs = `alternate dovecot ${round}`;
        await save(message(theirs, 'x', { lf: round % 2 === 0 }));
        await inbox.sync();
        const last = (await inbox.messages()).at(-1)!;
        expect(last.uid).toBe(expectedNext++);
        subjects.set(last.uid, theirs);
      }
      await handOverToDovecot(mailRoot);
      const { byUid } = await imapFetch(
        dovecot,
        'alice',
        'INBOX',
        '(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])',
      );
      const infos = await inbox.messages();
      expect([...byUid.keys()]).toEqual(infos.map((info) => info.uid));
      expect(infos.map((info) => info.uid)).toEqual([...subjects.keys()].sort((a, b) => a - b));
      for (const info of infos) {
        const data = byUid.get(info.uid)!;
        const header = Buffer.from(bytesOf(data['BODY[HEADER.FIELDS (SUBJECT)]'])).toString('utf8');
        expect(header.trim(), `UID ${info.uid}`).toBe(`Subject: ${subjects.get(info.uid)}`);
        expect(Number(data['RFC822.SIZE'])).toBe(info.size);
        expect(flagsOf(data)).toEqual(sorted(info.flags));
      }
    },
    TIMEOUT,
  );

  it(
    'appending at the same time, every message gets its own UID on both sides',
    async () => {
      const start = (await inbox.status()).uidNext;
      const ours = Array.from({ length: 8 }, (_, i) => `concurrent postwire ${i}`);
      const theirs = Array.from({ length: 8 }, (_, i) => `concurrent dovecot ${i}`);
      const results = await Promise.all([
        (async () => {
          const uids: number[] = [];
          for (const subject of ours) uids.push((await inbox.append(encoder.encode(message(subject)))).uid);
          return uids;
        })(),
        (async () => {
          for (const subject of theirs) await save(message(subject, 'x', { lf: true }));
        })(),
      ]);
      const postwireUids = results[0];
      await handOverToDovecot(mailRoot);
      await inbox.sync();
      const infos = (await inbox.messages()).filter((info) => info.uid >= start);
      expect(infos).toHaveLength(16);
      expect(new Set(infos.map((info) => info.uid)).size).toBe(16);
      const { byUid } = await imapFetch(
        dovecot,
        'alice',
        'INBOX',
        '(UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])',
        `${start}:*`,
      );
      expect([...byUid.keys()]).toEqual(infos.map((info) => info.uid));
      const subjectOf = (uid: number) =>
        Buffer.from(bytesOf(byUid.get(uid)!['BODY[HEADER.FIELDS (SUBJECT)]']))
          .toString('utf8')
          .trim()
          .replace(/^Subject: /, '');
      expect(postwireUids.map(subjectOf)).toEqual(ours);
      for (const info of infos) {
        expect((await inbox.structure(info.uid)).envelope.subject, `UID ${info.uid}`).toBe(
          subjectOf(info.uid),
        );
      }
      // Dovecot's `doveadm save` only try-locks the uidlist: while Postwire holds it, Dovecot moves the file
      // in without a UID and the next syncer (here often Postwire) numbers it. So the order among
      // Dovecot's messages is not asserted here (see the MDA test for the order of such files).
      expect(
        infos
          .map((info) => subjectOf(info.uid))
          .filter((subject) => subject.startsWith('concurrent dovecot'))
          .sort(),
      ).toEqual(theirs);
    },
    TIMEOUT,
  );

  it(
    'Postwire changes flags while Dovecot runs: IMAP sees them, and the feed never reports a false expunge',
    async () => {
      const infos = await inbox.messages();
      const target = infos[0]!.uid;
      await inbox.setFlags([target], 'add', ['\\Answered', 'PostwireKeyword']);
      await handOverToDovecot(mailRoot);
      const { byUid } = await imapFetch(dovecot, 'alice', 'INBOX', '(UID FLAGS)', String(target));
      expect(flagsOf(byUid.get(target)!)).toEqual(sorted((await inbox.messages([target]))[0]!.flags));
      expect(flagsOf(byUid.get(target)!)).toContain('PostwireKeyword');

      // Dovecot renames the file over and over while Postwire polls every 50 ms: Postwire must never see
      // the message vanish (a rename is not an expunge).
      const seen = feed.changes.length;
      const commands: string[] = ['SELECT INBOX'];
      for (let i = 0; i < 40; i++) {
        commands.push(`UID STORE ${target} ${i % 2 ? '-' : '+'}FLAGS.SILENT (\\Flagged)`, 'NOOP');
      }
      await dovecot.imap('alice', PASSWORD, commands);
      await inbox.sync();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const later = feed.changes.slice(seen);
      expect(later.filter((change) => change.type !== 'flags')).toEqual([]);
      expect((await inbox.messages()).map((info) => info.uid)).toEqual(infos.map((info) => info.uid));
    },
    TIMEOUT,
  );

  it(
    'mailboxes created, renamed and deleted by one are seen by the other',
    async () => {
      const dovecotList = async () =>
        (await dovecot.doveadm(['mailbox', 'list', '-u', 'alice'])).trim().split('\n').sort();
      const postwireList = async () =>
        (await alice.list())
          .filter((entry) => entry.exists)
          .map((entry) => dovecotName(entry.name))
          .sort();
      expect(await postwireList()).toEqual(await dovecotList());

      await alice.create('Live/Made by Postwire');
      await handOverToDovecot(mailRoot);
      expect(await dovecotList()).toEqual(expect.arrayContaining(['Live', 'Live.Made by Postwire']));
      await alice.rename('Live/Made by Postwire', 'Live/Renamed by Postwire');
      await handOverToDovecot(mailRoot);
      expect(await dovecotList()).toContain('Live.Renamed by Postwire');
      expect(await dovecotList()).not.toContain('Live.Made by Postwire');
      await alice.delete('Live/Renamed by Postwire');
      expect(await dovecotList()).not.toContain('Live.Renamed by Postwire');

      await dovecot.doveadm(['mailbox', 'create', '-u', 'alice', 'Made by Dovecot']);
      expect(await postwireList()).toContain('Made by Dovecot');
      await dovecot.doveadm(['mailbox', 'rename', '-u', 'alice', 'Made by Dovecot', 'Renamed by Dovecot']);
      expect(await postwireList()).toContain('Renamed by Dovecot');
      expect(await postwireList()).not.toContain('Made by Dovecot');
      await dovecot.doveadm(['mailbox', 'delete', '-u', 'alice', 'Renamed by Dovecot']);
      expect(await postwireList()).not.toContain('Renamed by Dovecot');
      expect(await postwireList()).toEqual(await dovecotList());
    },
    TIMEOUT,
  );

  it(
    'a mailbox Dovecot deletes while Postwire has it open is gone for Postwire: its feed says so',
    async () => {
      await dovecot.doveadm(['mailbox', 'create', '-u', 'alice', 'Doomed']);
      await save(message('doomed', 'x', { lf: true }), 'Doomed');
      const doomed = await alice.open('Doomed');
      expect(await doomed.messages()).toHaveLength(1);
      const doomedFeed = follow(doomed);
      try {
        await dovecot.doveadm(['mailbox', 'delete', '-u', 'alice', 'Doomed']);
        expect((await alice.list()).map((entry) => entry.name)).not.toContain('Doomed');
        // The poll runs every 50 ms: three seconds is plenty.
        const gone = await doomedFeed
          .waitFor((change) => change.type === 'gone', 'gone', 3000)
          .catch((error: Error) => error.message);
        expect.soft(gone).toEqual({ type: 'gone' });
        const error = await doomed.messages().then(
          () => 'no error',
          (reason: Error) => `${reason.name}: ${reason.message}`,
        );
        expect(error).toMatch(/^MailboxNotFoundError: /);
      } finally {
        await doomedFeed.stop();
      }
    },
    TIMEOUT,
  );

  it(
    'a mailbox Dovecot deletes and creates again under the same name is gone for Postwire, then new',
    async () => {
      await dovecot.doveadm(['mailbox', 'create', '-u', 'alice', 'Phoenix']);
      await save(message('phoenix', 'x', { lf: true }), 'Phoenix');
      const phoenix = await alice.open('Phoenix');
      const before = await phoenix.status();
      const phoenixFeed = follow(phoenix);
      try {
        await dovecot.doveadm(['mailbox', 'delete', '-u', 'alice', 'Phoenix']);
        await dovecot.doveadm(['mailbox', 'create', '-u', 'alice', 'Phoenix']);
        await phoenixFeed.waitFor((change) => change.type === 'gone', 'gone');
        // Dovecot only try-locks the uidlist when it creates a folder: if Postwire held the lock just then,
        // the new UIDVALIDITY is written by whichever of the two looks next. Both settle on one value.
        let theirs: Record<string, number> = {};
        let again = await alice.status('Phoenix');
        for (let attempt = 0; attempt < 40; attempt++) {
          theirs = (await imapStatus(dovecot, 'alice', ['Phoenix'])).get('Phoenix')!;
          again = await alice.status('Phoenix');
          if (theirs.UIDVALIDITY !== 0 && theirs.UIDVALIDITY === again.uidValidity) break;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        expect(theirs.UIDVALIDITY).not.toBe(before.uidValidity);
        expect({ uidValidity: again.uidValidity, messages: again.messages }).toEqual({
          uidValidity: theirs.UIDVALIDITY,
          messages: 0,
        });
      } finally {
        await phoenixFeed.stop();
      }
    },
    TIMEOUT,
  );

  it(
    'a Dovecot session that is open sees keywords Postwire adds one after the other within one second',
    async () => {
      // Dovecot re-reads dovecot-keywords only when its mtime, in whole seconds, changed; Dovecot itself
      // makes the mtime grow on every write. A second keyword Postwire adds in the same second as the first
      // must still reach a Dovecot process that read the file in between.
      const uid = (await inbox.messages())[0]!.uid;
      const session = await openImapSession(dovecot.imapPort, 'alice', PASSWORD);
      try {
        expect(await session.command('SELECT INBOX')).toMatch(/^s2 OK/m);
        for (let attempt = 1; ; attempt++) {
          const one = `SameSecondOne${attempt}`;
          const two = `SameSecondTwo${attempt}`;
          // Start just after a second begins, so that both writes fall in it.
          await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5));
          const second = Math.floor(Date.now() / 1000);
          await inbox.setFlags([uid], 'add', [one]);
          await handOverToDovecot(mailRoot);
          await session.command('NOOP');
          const first = await session.command(`UID FETCH ${uid} (FLAGS)`);
          await inbox.setFlags([uid], 'add', [two]);
          await handOverToDovecot(mailRoot);
          await session.command('NOOP');
          const after = await session.command(`UID FETCH ${uid} (FLAGS)`);
          if (Math.floor(Date.now() / 1000) !== second && attempt < 3) continue; // too slow: try again
          expect(first).toContain(one);
          const flags = fetchByUid(after).get(uid);
          const ours = sorted((await inbox.messages([uid]))[0]!.flags);
          expect.soft(flags ? flagsOf(flags) : after, after).toEqual(ours);
          // What that leaves behind: the keyword file, and what a new Dovecot session sees.
          const keywords = await readFile(join(mailRoot, 'alice', 'dovecot-keywords'), 'utf8');
          expect.soft(keywords).toContain(` ${two}\n`);
          expect.soft(keywords, keywords).not.toMatch(/unknown-/);
          const { byUid } = await imapFetch(dovecot, 'alice', 'INBOX', '(UID FLAGS)', String(uid));
          expect.soft(flagsOf(byUid.get(uid)!), 'a new session').toEqual(ours);
          const fresh = createMaildirStore({ root: mailRoot });
          try {
            const reopened = await (await fresh.user('alice')).open('INBOX');
            expect
              .soft(sorted((await reopened.messages([uid]))[0]!.flags), 'a new Postwire store')
              .toEqual(ours);
          } finally {
            await fresh.close();
          }
          break;
        }
      } finally {
        await session.close();
      }
    },
    TIMEOUT,
  );
});

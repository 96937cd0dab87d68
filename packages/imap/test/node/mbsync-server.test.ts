import { chmod, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MailStore, UserMail } from '@postwire/store';
import { createMaildirStore } from '@postwire/store/maildir';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCertificates } from '../../../core/test/support/certs.js';
import { createImapServer, type ImapServer } from '../../src/node/index.js';
import { addLocalMessage, type LocalMessage, localMaildir, runMbsync } from '../support/mbsync.js';
import { commandAvailable, type ImapEndpoint } from '../support/peer.js';
import { RawImap } from '../support/raw-imap.js';

/**
 * mbsync (isync 1.4) synchronising Postwire's IMAP server, on its Maildir store, with a local Maildir,
 * in both directions and over several runs, as a user's cron job would: the first pull of INBOX and of
 * a folder, local flag changes and a new local message pushed up, then changes made on the server (a
 * delivery through the store, an IMAP APPEND, flag changes, an expunge) pulled down, and a local
 * deletion expunged on the server. mbsync talks STARTTLS to `localhost` (isync checks DNS names only)
 * and, once, implicit TLS. The same driver (../support/mbsync.ts) is proven against Dovecot in
 * peers-dovecot.test.ts.
 */

const hasMbsync = commandAvailable('mbsync', "the IMAP server's mbsync tests (Debian package isync)");

const USER = 'alice';
const PASSWORD = 'secret';
const certificates = testCertificates();
const encoder = new TextEncoder();

const ONE = 'From: Bob <bob@example.org>\r\nSubject: one\r\n\r\nfirst body\r\n';
const TWO = 'From: Carol <carol@example.net>\r\nSubject: two\r\n\r\nsecond body\r\n';
const THREE = 'From: Dave <dave@example.com>\r\nSubject: three\r\n\r\nthird body\r\n';
const OLD = 'Subject: archived\r\n\r\nan old message\r\n';
const OLDER = 'Subject: archived too\r\n\r\nan older message\r\n';
const APPENDED = 'From: Erin <erin@example.org>\r\nSubject: appended\r\n\r\nby IMAP APPEND\r\n';

/** The command lines our STARTTLS server received (credentials redacted), and its last post-login capabilities. */
const commands: string[] = [];
let capabilities = '';
let work: string;
let store: MailStore;
let mail: UserMail;
let server: ImapServer;
let tlsServer: ImapServer;
let port: number;
let tlsPort: number;

beforeAll(async () => {
  if (!hasMbsync) return;
  work = await mkdtemp(join(tmpdir(), 'pw-imap-mbsync-'));
  await chmod(work, 0o755);
  store = createMaildirStore({ root: join(work, 'server'), fsync: false });
  mail = await store.user(USER);
  await mail.create('Archive');
  const inbox = await mail.open('INBOX');
  await inbox.append(encoder.encode(ONE), { flags: ['\\Seen'] });
  await inbox.append(encoder.encode(TWO), { flags: ['\\Flagged'] });
  await inbox.append(encoder.encode(THREE));
  await inbox.close();
  const archive = await mail.open('Archive');
  await archive.append(encoder.encode(OLD), { flags: ['\\Seen', '\\Answered'] });
  await archive.append(encoder.encode(OLDER), { flags: ['\\Seen'] });
  await archive.close();
  const options = {
    store,
    host: '127.0.0.1',
    port: 0,
    sasl: { verifiers: { lookupPassword: (user: string) => (user === USER ? PASSWORD : undefined) } },
  };
  server = createImapServer({
    ...options,
    startTls: { cert: certificates.cert, key: certificates.key },
    trace: ({ direction, line }) => {
      if (direction === 'in') commands.push(line);
      else if (/^\S+ OK \[CAPABILITY /.test(line)) capabilities = line;
    },
  });
  tlsServer = createImapServer({ ...options, tls: { cert: certificates.cert, key: certificates.key } });
  port = (await server.listen()).port;
  tlsPort = (await tlsServer.listen()).port;
});

afterAll(async () => {
  await server?.close({ timeout: 1000 });
  await tlsServer?.close({ timeout: 1000 });
  await store?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Our server, for mbsync: by name (isync checks DNS names only), STARTTLS or implicit TLS. */
function endpoint(tls: 'starttls' | 'implicit' = 'starttls'): ImapEndpoint {
  return {
    host: 'localhost',
    port: tls === 'implicit' ? tlsPort : port,
    tls,
    user: USER,
    password: PASSWORD,
    ca: certificates.ca,
  };
}

/** The server's messages of `mailbox`: UID, flags (sorted) and text. */
async function serverMessages(mailbox: string): Promise<{ uid: number; flags: string[]; text: string }[]> {
  const box = await mail.open(mailbox);
  try {
    const out = [];
    for (const info of await box.messages()) {
      const text = await new Response(box.read(info.uid)).text();
      out.push({ uid: info.uid, flags: [...info.flags].sort(), text });
    }
    return out;
  } finally {
    await box.close();
  }
}

/** The local messages as [far UID, Maildir flags, text without mbsync's X-TUID line], by far UID. */
function local(messages: readonly LocalMessage[]): [number | null, string, string][] {
  return byFarUid(messages).map((m) => [m.farUid, m.flags, m.text.replace(/^X-TUID: .*\n/m, '')]);
}

/** The local messages as [far UID, Maildir flags], by far UID. */
function farFlags(messages: readonly LocalMessage[]): [number | null, string][] {
  return byFarUid(messages).map((m) => [m.farUid, m.flags]);
}

function byFarUid(messages: readonly LocalMessage[]): LocalMessage[] {
  return [...messages].sort((a, b) => (a.farUid ?? Infinity) - (b.farUid ?? Infinity));
}

const lf = (text: string): string => text.replaceAll('\r\n', '\n');

/** Renames a local message's file to carry `flags` (in `cur/`), as a mail reader does. */
async function setLocalFlags(
  dir: string,
  mailbox: string,
  message: LocalMessage,
  flags: string,
): Promise<void> {
  const maildir = localMaildir(dir, mailbox);
  const base = message.name.replace(/:2,[A-Za-z]*$/, '');
  await rename(join(maildir, message.subdir, message.name), join(maildir, 'cur', `${base}:2,${flags}`));
}

describe.skipIf(!hasMbsync)("mbsync with Postwire's IMAP server", () => {
  const dir = (): string => join(work, 'sync');

  it('pulls INBOX and a folder into a local Maildir, flags and bytes intact', async () => {
    const inbox = await runMbsync(endpoint(), { dir: dir() });
    expect(inbox.code, inbox.stderr).toBe(0);
    expect(local(inbox.messages)).toEqual([
      [1, 'S', lf(ONE)],
      [2, 'F', lf(TWO)],
      [3, '', lf(THREE)],
    ]);
    // Seen mail goes to cur/, new mail to new/ (as mbsync does with Dovecot).
    expect(byFarUid(inbox.messages).map((m) => m.subdir)).toEqual(['cur', 'new', 'new']);

    const archive = await runMbsync(endpoint(), { dir: dir(), mailbox: 'Archive' });
    expect(archive.code, archive.stderr).toBe(0);
    expect(local(archive.messages)).toEqual([
      [1, 'RS', lf(OLD)],
      [2, 'S', lf(OLDER)],
    ]);

    // A second run without changes on either side changes nothing.
    const again = await runMbsync(endpoint(), { dir: dir() });
    expect(again.code, again.stderr).toBe(0);
    expect(local(again.messages)).toEqual(local(inbox.messages));
    expect(await serverMessages('INBOX')).toHaveLength(3);

    // mbsync upgraded with STARTTLS, authenticated with the best mechanism offered, and turned on
    // COMPRESS=DEFLATE (RFC 4978) when the server offers it: everything after ran compressed.
    expect(commands.filter((line) => /^\S+ (STARTTLS|AUTHENTICATE SCRAM-SHA-256)\b/.test(line))).not.toEqual(
      [],
    );
    if (/ COMPRESS=DEFLATE\b/.test(capabilities))
      expect(commands.filter((line) => /^\S+ COMPRESS DEFLATE$/.test(line))).toHaveLength(3); // one per run
  });

  it('pushes local flag changes and a new local message up', async () => {
    const before = await runMbsync(endpoint(), { dir: dir(), sync: 'Pull' });
    const [one, two, three] = byFarUid(before.messages);
    await setLocalFlags(dir(), 'INBOX', one!, 'FS'); // flag it
    await setLocalFlags(dir(), 'INBOX', two!, 'S'); // read it, unflag it
    await setLocalFlags(dir(), 'INBOX', three!, 'RS'); // read and answered
    await addLocalMessage(dir(), 'Subject: written locally\n\nfrom the near side\n', 'INBOX', 'S');

    const pushed = await runMbsync(endpoint(), { dir: dir() });
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(farFlags(pushed.messages)).toEqual([
      [1, 'FS'],
      [2, 'S'],
      [3, 'RS'],
      [4, 'S'],
    ]);

    const messages = await serverMessages('INBOX');
    expect(messages.map((m) => [m.uid, m.flags])).toEqual([
      [1, ['\\Flagged', '\\Seen']],
      [2, ['\\Seen']],
      [3, ['\\Answered', '\\Seen']],
      [4, ['\\Seen']],
    ]);
    // Uploaded with CRLF line ends, mbsync's X-TUID header after the local ones.
    expect(messages[3]!.text).toMatch(
      /^Subject: written locally\r\nX-TUID: \S+\r\n\r\nfrom the near side\r\n$/,
    );
    // The messages pulled earlier were not re-uploaded.
    expect(messages.slice(0, 3).map((m) => m.text)).toEqual([ONE, TWO, THREE]);
  });

  it('pulls changes made on the server: a delivery, an IMAP APPEND, flag changes and an expunge', async () => {
    const inbox = await mail.open('INBOX');
    await inbox.append(encoder.encode('Subject: delivered\r\n\r\nthrough the store\r\n'));
    await inbox.setFlags([1], 'remove', ['\\Flagged']);
    await inbox.close();

    const imap = await RawImap.connect(tlsPort, '127.0.0.1', { ca: certificates.ca });
    try {
      expect((await imap.command(`LOGIN ${USER} ${PASSWORD}`)).status).toBe('OK');
      const appended = await imap.command(['APPEND INBOX (\\Flagged) ', { literal: APPENDED }]);
      expect(appended.tagged).toMatch(/^A002 OK \[APPENDUID \d+ 6\]/);
      expect((await imap.command('SELECT INBOX')).status).toBe('OK');
      expect((await imap.command('UID STORE 2 +FLAGS.SILENT (\\Flagged \\Answered)')).status).toBe('OK');
      expect((await imap.command('UID STORE 3 +FLAGS.SILENT (\\Deleted)')).status).toBe('OK');
      expect((await imap.command('EXPUNGE')).untagged).toEqual(['* 3 EXPUNGE']);
      await imap.command('LOGOUT');
    } finally {
      await imap.close();
    }

    const run = await runMbsync(endpoint('implicit'), { dir: dir(), expunge: 'Near' });
    expect(run.code, run.stderr).toBe(0);
    expect(local(run.messages)).toEqual([
      [1, 'S', lf(ONE)],
      [2, 'FRS', lf(TWO)],
      [4, 'S', 'Subject: written locally\n\nfrom the near side\n'],
      [5, '', 'Subject: delivered\n\nthrough the store\n'],
      [6, 'F', lf(APPENDED)],
    ]);
  });

  it('expunges on the server what was deleted locally, and syncs the folder after server-side changes', async () => {
    const before = await runMbsync(endpoint(), { dir: dir(), sync: 'Pull' });
    const five = before.messages.find((m) => m.farUid === 5)!;
    await setLocalFlags(dir(), 'INBOX', five, 'ST'); // read, then trashed
    const run = await runMbsync(endpoint(), { dir: dir(), expunge: 'Both' });
    expect(run.code, run.stderr).toBe(0);
    expect(farFlags(run.messages).map(([uid]) => uid)).toEqual([1, 2, 4, 6]);
    expect((await serverMessages('INBOX')).map((m) => m.uid)).toEqual([1, 2, 4, 6]);

    const archive = await mail.open('Archive');
    await archive.setFlags([2], 'add', ['\\Flagged']);
    await archive.append(encoder.encode(ONE), { flags: ['\\Seen'] });
    await archive.close();
    await addLocalMessage(dir(), 'Subject: archived locally\n\nkept\n', 'Archive');
    const folder = await runMbsync(endpoint(), { dir: dir(), mailbox: 'Archive' });
    expect(folder.code, folder.stderr).toBe(0);
    expect(local(folder.messages)).toEqual([
      [1, 'RS', lf(OLD)],
      [2, 'FS', lf(OLDER)],
      [3, 'S', lf(ONE)],
      [4, '', 'Subject: archived locally\n\nkept\n'],
    ]);
    // mbsync numbered the local message before it pulled the far one: the UIDs in the local file names
    // are not the far UIDs here (the trap LocalMessage.farUid is for).
    expect(folder.messages.map((m) => [m.uid, m.farUid])).toEqual([
      [1, 1],
      [2, 2],
      [3, 4],
      [4, 3],
    ]);
    expect((await serverMessages('Archive')).map((m) => [m.uid, m.flags])).toEqual([
      [1, ['\\Answered', '\\Seen']],
      [2, ['\\Flagged', '\\Seen']],
      [3, ['\\Seen']],
      [4, []],
    ]);
  });
});

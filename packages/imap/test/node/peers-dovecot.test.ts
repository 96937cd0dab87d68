import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlAppend, curlCommand, curlFetch, curlImap, curlList, curlSearch } from '../support/curl-imap.js';
import { dovecotAvailable, type ImapDovecot, startImapDovecot } from '../support/dovecot-imap.js';
import { runImaplib } from '../support/imaplib.js';
import { addLocalMessage, runMbsync } from '../support/mbsync.js';
import { commandAvailable, type ImapEndpoint } from '../support/peer.js';

/**
 * Proves the real-client drivers of ../support against a real Dovecot: each step type of the imaplib
 * script, curl's URL forms, and mbsync pulling a mailbox into a local Maildir and pushing back. The same
 * drivers later run against Postwire's IMAP server.
 */

const hasDovecot = dovecotAvailable() || notInstalled('dovecot (dovecot-core, dovecot-imapd)');
const hasPython = commandAvailable('python3', 'the imaplib peer tests');
const hasCurl = commandAvailable('curl', 'the curl peer tests');
const hasMbsync = commandAvailable('mbsync', 'the mbsync peer tests (Debian package isync)');

function notInstalled(what: string): false {
  console.warn(`skipping the IMAP peer tests against Dovecot: ${what} is not installed`);
  return false;
}

const PASSWORD = 'secret';
const USERS = { alice: PASSWORD, bob: PASSWORD, carol: PASSWORD, dave: PASSWORD };

let dovecot: ImapDovecot;
let work: string;
beforeAll(async () => {
  if (!hasDovecot) return;
  dovecot = await startImapDovecot({ users: USERS });
  work = await mkdtemp(join(tmpdir(), 'pw-imap-peers-'));
});
afterAll(async () => {
  await dovecot?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Dovecot's account `user` over `tls` (IMAPS on its own port). */
function endpoint(user: string, tls: 'starttls' | 'implicit' | 'none', host = '127.0.0.1'): ImapEndpoint {
  const port = tls === 'implicit' ? dovecot.tlsPort : dovecot.port;
  return { host, port, tls, user, password: PASSWORD, ca: dovecot.ca };
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The instant of an IMAP date-time (`01-Feb-2024 10:20:30 +0100`), in ms since the epoch. */
function instant(value: unknown): number {
  const m = /^ ?(\d{1,2})-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(String(value));
  if (!m) throw new Error(`not an IMAP date-time: ${String(value)}`);
  const [, day, month, year, hour, minute, second, sign, zoneHours, zoneMinutes] = m.map(String);
  const local = Date.UTC(+year!, MONTHS.indexOf(month!), +day!, +hour!, +minute!, +second!);
  return local - (sign === '-' ? -1 : 1) * (+zoneHours! * 60 + +zoneMinutes!) * 60_000;
}

const ONE = 'Subject: one\r\nFrom: ann@example.org\r\n\r\nfirst body\r\n';
const TWO = 'Subject: two\r\n\r\nsecond body\r\n';
const THREE = 'Subject: three\r\n\r\nthird body\r\n';

describe.skipIf(!hasDovecot || !hasPython)("Python's imaplib against Dovecot", () => {
  it('runs every step type over STARTTLS and reads flags, UIDs, APPENDUID, COPYUID and EXPUNGE', async () => {
    const run = await runImaplib(endpoint('alice', 'starttls'), [
      { op: 'login', password: 'wrong' },
      { op: 'authenticate' },
      { op: 'capability' },
      { op: 'create', mailbox: 'Archive' },
      {
        op: 'append',
        mailbox: 'INBOX',
        message: ONE,
        flags: '\\Flagged',
        date: '"01-Feb-2024 10:20:30 +0100"',
      },
      { op: 'append', mailbox: 'INBOX', message: TWO.replaceAll('\r\n', '\n') },
      { op: 'append', mailbox: 'INBOX', message: THREE },
      { op: 'list' },
      { op: 'status', mailbox: 'INBOX', items: '(MESSAGES UIDNEXT UNSEEN)' },
      { op: 'select', mailbox: 'INBOX' },
      { op: 'search', criteria: 'UNSEEN' },
      { op: 'search', criteria: 'FLAGGED', uid: true },
      { op: 'fetch', set: '1:3', items: '(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[])' },
      { op: 'fetch', set: '2', items: '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])', uid: true },
      { op: 'store', set: '2', action: '+FLAGS', flags: '(\\Seen \\Deleted)', uid: true },
      { op: 'copy', set: '1', mailbox: 'Archive', uid: true },
      { op: 'expunge' },
      { op: 'search', criteria: 'ALL' },
      { op: 'status', mailbox: 'Archive', items: '(MESSAGES)' },
      { op: 'logout' },
    ]);
    const [
      badLogin,
      auth,
      capability,
      create,
      append1,
      append2,
      append3,
      list,
      status,
      select,
      unseen,
      flagged,
      fetch,
      header,
      store,
      copy,
      expunge,
      all,
      archive,
      logout,
    ] = run.steps;
    expect(run.error).toBeNull();
    expect(run.greeting).toMatch(/^\* OK .*STARTTLS/);
    expect(run.steps.every((step) => step.lines.length > 0)).toBe(true);

    expect(badLogin).toMatchObject({ status: 'NO', code: ['AUTHENTICATIONFAILED'] });
    expect(badLogin.error).toMatch(/AUTHENTICATIONFAILED/);
    expect(auth).toMatchObject({ status: 'OK', error: null });
    expect(auth.result.capabilities).toContain('UIDPLUS');
    expect(capability.result.capabilities).toEqual(expect.arrayContaining(['IMAP4rev1', 'UIDPLUS', 'MOVE']));
    expect(create.status).toBe('OK');

    const uidValidity = select.result.uidValidity!;
    expect([append1, append2, append3].map((a) => a.result.appendUid)).toEqual([
      { uidValidity, uid: 1 },
      { uidValidity, uid: 2 },
      { uidValidity, uid: 3 },
    ]);
    expect(list.result.mailboxes.map((m) => [m.name, m.delimiter]).sort()).toEqual([
      ['Archive', '.'],
      ['INBOX', '.'],
    ]);
    expect(status.result).toEqual({ mailbox: 'INBOX', items: { MESSAGES: 3, UIDNEXT: 4, UNSEEN: 3 } });
    expect(select.result).toMatchObject({ exists: 3, uidNext: 4, access: 'READ-WRITE' });
    expect(select.result.flags).toEqual(['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft']);
    expect(select.result.permanentFlags).toContain('\\*');
    expect(unseen.result.ids).toEqual([1, 2, 3]);
    expect(flagged.result.ids).toEqual([1]);

    expect(fetch.result.messages.map((m) => [m.seq, m.items.UID, m.items['RFC822.SIZE']])).toEqual([
      [1, 1, ONE.length],
      [2, 2, TWO.length],
      [3, 3, THREE.length],
    ]);
    expect(fetch.result.messages.map((m) => m.items['BODY[]'])).toEqual([ONE, TWO, THREE]);
    expect(fetch.result.messages[0]!.items.FLAGS).toContain('\\Flagged');
    // Dovecot keeps a Maildir message's INTERNALDATE as the file's mtime: the instant, not the zone.
    expect(instant(fetch.result.messages[0]!.items.INTERNALDATE)).toBe(Date.UTC(2024, 1, 1, 9, 20, 30));
    expect(header.result.messages).toEqual([
      { seq: 2, items: { UID: 2, 'BODY[HEADER.FIELDS (SUBJECT)]': 'Subject: two\r\n\r\n' } },
    ]);
    expect(store.result.messages).toHaveLength(1);
    expect(store.result.messages[0]!.items).toMatchObject({ UID: 2 });
    expect(store.result.messages[0]!.items.FLAGS).toEqual(expect.arrayContaining(['\\Seen', '\\Deleted']));

    expect(copy.result.copyUid).toMatchObject({ source: '1', destination: '1' });
    expect(expunge.result.expunged).toEqual([2]);
    expect(all.result.ids).toEqual([1, 2]);
    expect(archive.result).toEqual({ mailbox: 'Archive', items: { MESSAGES: 1 } });
    expect(logout.result.bye).toMatch(/Logging out/);
  });

  it('connects with implicit TLS and without TLS, and refuses a certificate it cannot verify', async () => {
    const steps = [
      { op: 'login' },
      { op: 'select', mailbox: 'INBOX', readOnly: true },
      { op: 'logout' },
    ] as const;
    const secure = await runImaplib(endpoint('dave', 'implicit'), steps);
    expect(secure.error).toBeNull();
    expect(secure.steps.map((s) => s.status).slice(0, 2)).toEqual(['OK', 'OK']);
    expect(secure.steps[1].result).toMatchObject({ exists: 0, access: 'READ-ONLY' });

    const plain = await runImaplib(endpoint('dave', 'none'), steps);
    expect(plain.error).toBeNull();
    expect(plain.steps[1].status).toBe('OK');

    const { ca: _, ...untrusted } = endpoint('dave', 'implicit');
    const refused = await runImaplib(untrusted, steps);
    expect(refused.error).toMatch(/CERTIFICATE_VERIFY_FAILED/);
    expect(refused.steps).toEqual([]);
  });
});

describe.skipIf(!hasDovecot || !hasCurl)('curl against Dovecot', () => {
  it('appends, lists, searches and fetches over STARTTLS, and runs any command with -X', async () => {
    const bob = endpoint('bob', 'starttls');
    const first = await curlAppend(bob, 'INBOX', ONE);
    const second = await curlAppend(bob, 'INBOX', TWO);
    expect(first.appendUid?.uid).toBe(1);
    expect(second.appendUid).toEqual({ uidValidity: first.appendUid!.uidValidity, uid: 2 });
    // curl chose CRAM-MD5 on its own, after STARTTLS.
    expect(first.transcript).toContain('> A002 STARTTLS');
    expect(first.transcript.some((line) => / AUTHENTICATE CRAM-MD5$/.test(line))).toBe(true);

    expect((await curlList(bob)).mailboxes).toEqual(['INBOX']);
    expect((await curlSearch(bob, 'INBOX', 'ALL')).ids).toEqual([1, 2]);
    expect((await curlSearch(bob, 'INBOX', 'SUBJECT two')).ids).toEqual([2]);
    expect((await curlFetch(bob, 'INBOX', 2)).output).toBe(TWO);
    expect((await curlFetch(bob, 'INBOX', 1, 'TEXT')).output).toBe('first body\r\n');

    const stored = await curlCommand(bob, 'UID STORE 1 +FLAGS (\\Flagged)', 'INBOX');
    expect(stored.untagged).toEqual([expect.stringMatching(/^\* 1 FETCH \(UID 1 FLAGS \(\\Flagged.*\)\)$/)]);
    const flags = await curlCommand(bob, 'UID FETCH 1:* (FLAGS)', 'INBOX');
    expect(flags.untagged.map((line) => line.includes('\\Flagged'))).toEqual([true, false]);
  });

  it('works over implicit TLS with the mechanism it is told, and reports a failed login', async () => {
    const plain = await curlImap(endpoint('bob', 'implicit'), {
      path: 'INBOX?ALL',
      loginOptions: 'AUTH=PLAIN',
    });
    expect(plain.code).toBe(0);
    expect(plain.transcript.some((line) => / AUTHENTICATE PLAIN /.test(line))).toBe(true);
    expect(plain.output).toMatch(/^\* SEARCH/);

    const wrong = await curlImap(
      { ...endpoint('bob', 'implicit'), password: 'wrong' },
      { path: 'INBOX?ALL' },
    );
    expect(wrong.code).toBe(67);
    expect(wrong.errors).toMatch(/curl: \(67\)/);
  });
});

describe.skipIf(!hasDovecot || !hasPython || !hasMbsync)('mbsync against Dovecot', () => {
  it('pulls a mailbox into a local Maildir and pushes a new local message back', async () => {
    const appended = await runImaplib(endpoint('carol', 'none'), [
      { op: 'login' },
      { op: 'append', mailbox: 'INBOX', message: ONE, flags: '\\Seen' },
      { op: 'append', mailbox: 'INBOX', message: TWO, flags: '\\Flagged' },
      { op: 'append', mailbox: 'INBOX', message: THREE },
      { op: 'logout' },
    ]);
    const [, a1, a2, a3] = appended.steps;
    expect([a1, a2, a3].map((step) => step.result.appendUid?.uid)).toEqual([1, 2, 3]);

    // isync checks the certificate's DNS names only: TLS needs a host name, not 127.0.0.1.
    const dir = join(work, 'mbsync-carol');
    const pulled = await runMbsync(endpoint('carol', 'starttls', 'localhost'), { dir });
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.messages.map((m) => [m.uid, m.subdir, m.flags])).toEqual([
      [1, 'cur', 'S'],
      [2, 'new', 'F'],
      [3, 'new', ''],
    ]);
    // Local copies have LF line ends and mbsync's X-TUID header.
    expect(pulled.messages.every((m) => /^X-TUID: \S+$/m.test(m.text))).toBe(true);
    expect(pulled.messages.map((m) => m.text.replace(/^X-TUID: .*\n/m, ''))).toEqual(
      [ONE, TWO, THREE].map((text) => text.replaceAll('\r\n', '\n')),
    );

    await addLocalMessage(dir, 'Subject: written locally\n\nfrom the near side\n');
    const pushed = await runMbsync(endpoint('carol', 'implicit', 'localhost'), { dir });
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(pushed.messages.map((m) => m.uid)).toEqual([1, 2, 3, 4]);

    const check = await runImaplib(endpoint('carol', 'none'), [
      { op: 'login' },
      { op: 'select', mailbox: 'INBOX' },
      { op: 'fetch', set: '4', items: '(BODY.PEEK[])', uid: true },
      { op: 'logout' },
    ]);
    expect(check.steps[1].result.exists).toBe(4);
    // Uploaded with CRLF line ends, and with an X-TUID header too.
    expect(check.steps[2].result.messages[0]!.items['BODY[]']).toMatch(
      /^Subject: written locally\r\nX-TUID: \S+\r\n\r\nfrom the near side\r\n$/,
    );
  });

  it('refuses a certificate it cannot verify, and one that names no host (isync ignores IP addresses)', async () => {
    const { ca: _, ...untrusted } = endpoint('carol', 'implicit', 'localhost');
    const refused = await runMbsync(untrusted, { dir: join(work, 'mbsync-untrusted') });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/unable to get local issuer certificate/);
    expect(refused.messages).toEqual([]);

    const byAddress = await runMbsync(endpoint('carol', 'implicit'), { dir: join(work, 'mbsync-address') });
    expect(byAddress.code).not.toBe(0);
    expect(byAddress.stderr).toMatch(/certificate owner does not match hostname 127\.0\.0\.1/);
  });
});

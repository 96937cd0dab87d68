import { createMemoryStore, type MailStore } from '@postwire/store';
import { describe, expect, it } from 'vitest';
import { ImapRecentClaims } from '../../src/index.js';
import { bound, wrapMailboxes } from '../support/wrapped-store.js';
import { type Driver, loggedIn } from './driver.js';

const encoder = new TextEncoder();

/** Two sessions of alice on one store (one simulated server), both with INBOX selected; INBOX holds `count` messages. */
async function twoSessions(count = 3, store: MailStore = createMemoryStore()): Promise<[Driver, Driver]> {
  const inbox = await (await store.user('alice')).open('INBOX');
  for (let i = 1; i <= count; i++) await inbox.append(encoder.encode(`Subject: ${i}\r\n\r\nbody ${i}\r\n`));
  await inbox.close();
  const recent = new ImapRecentClaims();
  const a = await loggedIn({}, store, recent);
  const b = await loggedIn({}, store, recent);
  expect(await a.send('s SELECT INBOX\r\n')).toContain(`* ${count} RECENT\r\n`);
  expect(await b.send('s SELECT INBOX\r\n')).toContain('* 0 RECENT\r\n');
  return [a, b];
}

describe('ImapServerSession: changes made by other sessions', () => {
  it('NOOP announces another session’s APPEND with EXISTS and RECENT, and its flag changes with FETCH', async () => {
    const [a, b] = await twoSessions();
    expect(await b.send('x APPEND INBOX (\\Seen $Hot) {3+}\r\nnew\r\n')).toMatch(
      /^\* FLAGS .*\$Hot\)\r\n\* OK \[PERMANENTFLAGS .*\r\n\* 4 EXISTS\r\n\* 0 RECENT\r\nx OK \[APPENDUID \d+ 4\] /,
    );
    await a.unsolicited();
    expect(await a.send('n NOOP\r\n')).toBe(
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Hot)\r\n' +
        '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Hot \\*)] Flags permitted.\r\n' +
        '* 4 EXISTS\r\n* 4 RECENT\r\nn OK NOOP completed\r\n',
    );
    expect(await b.send('y STORE 2 +FLAGS (\\Flagged)\r\n')).toBe(
      '* 2 FETCH (FLAGS (\\Flagged))\r\ny OK Store completed\r\n',
    );
    await a.unsolicited();
    expect(await a.send('n NOOP\r\n')).toBe(
      '* 2 FETCH (FLAGS (\\Flagged \\Recent))\r\nn OK NOOP completed\r\n',
    );
    // The session's own changes are reported once, by the command that made them.
    expect(await a.send('z STORE 1 +FLAGS.SILENT (\\Seen)\r\n')).toBe('z OK Store completed\r\n');
    await a.unsolicited();
    expect(await a.send('n NOOP\r\n')).toBe('n OK NOOP completed\r\n');
    await b.unsolicited();
    expect(await b.send('n NOOP\r\n')).toBe('* 1 FETCH (FLAGS (\\Seen))\r\nn OK NOOP completed\r\n');
  });

  it('a session that sends no command holds one flag change per message, not every change', async () => {
    const [a, b] = await twoSessions();
    for (let i = 0; i < 50; i++)
      expect(await b.send(`x${i} STORE 1:3 ${i % 2 ? '-' : '+'}FLAGS.SILENT (\\Flagged)\r\n`)).toMatch(
        / OK /,
      );
    expect(await b.send('y STORE 2 +FLAGS.SILENT (\\Seen)\r\n')).toMatch(/^y OK /);
    await a.unsolicited();
    expect(await a.send('n NOOP\r\n')).toBe(
      '* 1 FETCH (FLAGS (\\Recent))\r\n* 2 FETCH (FLAGS (\\Seen \\Recent))\r\n* 3 FETCH (FLAGS (\\Recent))\r\n' +
        'n OK NOOP completed\r\n',
    );
  });

  it('holds EXPUNGE back during FETCH, STORE and SEARCH, and sends it with UID FETCH or NOOP', async () => {
    const [a, b] = await twoSessions();
    expect(await b.send('x STORE 2 +FLAGS.SILENT (\\Deleted)\r\ny EXPUNGE\r\n')).toBe(
      'x OK Store completed\r\n* 2 EXPUNGE\r\ny OK Expunge completed\r\n',
    );
    await a.unsolicited();
    expect(await a.send('f FETCH 1:* UID\r\n')).toBe(
      '* 1 FETCH (UID 1)\r\n* 3 FETCH (UID 3)\r\n* 2 FETCH (FLAGS (\\Deleted \\Recent))\r\n' +
        'f NO [EXPUNGEISSUED] Some of the requested messages no longer exist\r\n',
    );
    expect(await a.send('s SEARCH ALL\r\n')).toBe('* SEARCH 1 3\r\ns OK Search completed\r\n');
    expect(await a.send('t STORE 3 +FLAGS.SILENT (\\Seen)\r\n')).toBe('t OK Store completed\r\n');
    expect(await a.send('u UID FETCH 3 UID\r\n')).toBe(
      '* 3 FETCH (UID 3)\r\n* 2 EXPUNGE\r\nu OK Fetch completed\r\n',
    );
    expect(await a.send('v FETCH 1:* UID\r\n')).toBe(
      '* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 3)\r\nv OK Fetch completed\r\n',
    );
  });

  it('IDLE pushes changes as they happen and ends with DONE; other input ends it with BAD', async () => {
    const [a, b] = await twoSessions(1);
    expect(await a.send('i IDLE\r\n')).toBe('+ idling\r\n');
    await b.send('x APPEND INBOX {3+}\r\nnew\r\n');
    expect(await a.unsolicited()).toBe('* 2 EXISTS\r\n* 2 RECENT\r\n');
    await b.send('y STORE 1 +FLAGS.SILENT (\\Deleted)\r\nz EXPUNGE\r\n');
    expect(await a.unsolicited()).toBe('* 1 FETCH (FLAGS (\\Deleted \\Recent))\r\n* 1 EXPUNGE\r\n');
    expect(await a.send('done\r\n')).toBe('i OK Idle completed\r\n');
    expect(await a.send('j IDLE\r\nk NOOP\r\n')).toBe('+ idling\r\nj BAD Expected DONE\r\n');
    expect(await a.send('l IDLE\r\n{5}\r\n')).toBe('+ idling\r\nl BAD Expected DONE\r\n');
    expect(await a.send('m NOOP\r\n')).toBe('m OK NOOP completed\r\n');
  });

  it('IDLE is allowed without a selected mailbox', async () => {
    const driver = await loggedIn();
    expect(await driver.send('i IDLE\r\nDONE\r\n')).toBe('+ idling\r\ni OK Idle completed\r\n');
  });

  it('a mailbox deleted under a session ends it with BYE', async () => {
    const store = createMemoryStore();
    const mail = await store.user('alice');
    await mail.create('Work');
    const driver = await loggedIn({}, store);
    await driver.send('s SELECT Work\r\n');
    await mail.delete('Work');
    await driver.unsolicited();
    expect(await driver.send('n NOOP\r\n')).toBe(
      '* BYE Selected mailbox was deleted, have to disconnect\r\n',
    );
    expect(driver.closed).toBe(true);
  });

  it('APPEND to the name of a selected mailbox renamed meanwhile goes to the mailbox that now has the name', async () => {
    const store = createMemoryStore();
    const mail = await store.user('alice');
    await mail.create('Work');
    const driver = await loggedIn({}, store);
    expect(await driver.send('s SELECT Work\r\n')).toMatch(/\r\ns OK /);
    await mail.rename('Work', 'Old');
    await mail.create('Work');
    expect(await driver.send('a APPEND Work {3+}\r\none\r\n')).toMatch(/^a OK \[APPENDUID \d+ 1\] /);
    expect((await mail.status('Work')).messages).toBe(1);
    expect((await mail.status('Old')).messages).toBe(0);
  });

  it('COPY to the name of a selected mailbox renamed meanwhile completes', async () => {
    const store = createMemoryStore();
    const mail = await store.user('alice');
    await mail.create('Work');
    const work = await mail.open('Work');
    await work.append(encoder.encode('Subject: 1\r\n\r\nbody\r\n'));
    await work.close();
    const driver = await loggedIn({}, store);
    expect(await driver.send('s SELECT Work\r\n')).toMatch(/\r\ns OK /);
    await mail.rename('Work', 'Old');
    await mail.create('Work');
    expect(await driver.send('c COPY 1 Work\r\n')).toMatch(/^c OK \[COPYUID \d+ 1 1\] /);
    expect((await mail.status('Work')).messages).toBe(1);
  });

  it('the first session to see a message has it \\Recent; IMAP4rev2 sessions never see RECENT', async () => {
    const store = createMemoryStore();
    const recent = new ImapRecentClaims();
    const rev2 = await loggedIn({}, store, recent);
    await rev2.send('e ENABLE IMAP4rev2\r\n');
    expect(await rev2.send('s SELECT INBOX\r\n')).not.toContain('RECENT');
    const rev1 = await loggedIn({}, store, recent);
    await rev1.send('s EXAMINE INBOX\r\n');
    await rev2.send('a APPEND INBOX {3+}\r\nnew\r\n');
    expect(await rev2.send('f FETCH 1 FLAGS\r\n')).toBe('* 1 FETCH (FLAGS ())\r\nf OK Fetch completed\r\n');
    await rev1.unsolicited();
    // The message was the rev2 session's to see first: it is not \Recent here, nor for later sessions.
    expect(await rev1.send('n NOOP\r\n')).toBe('* 1 EXISTS\r\n* 0 RECENT\r\nn OK NOOP completed\r\n');
    const third = await loggedIn({}, store, recent);
    expect(await third.send('s SELECT INBOX\r\n')).toContain('* 1 EXISTS\r\n* 0 RECENT\r\n');
  });
});

describe('ImapServerSession: \\Recent across RENAME', () => {
  it('a renamed mailbox keeps its claims, and so do its children: their messages are not \\Recent again', async () => {
    const store = createMemoryStore();
    const mail = await store.user('alice');
    for (const name of ['Work', 'Work/Old']) {
      await mail.create(name);
      const mailbox = await mail.open(name);
      await mailbox.append(encoder.encode('Subject: hi\r\n\r\nbody\r\n'));
      await mailbox.close();
    }
    const recent = new ImapRecentClaims();
    const first = await loggedIn({}, store, recent);
    expect(await first.send('s SELECT Work/Old\r\n')).toContain('* 1 RECENT\r\n');
    expect(await first.send('s SELECT Work\r\n')).toContain('* 1 RECENT\r\n');
    expect(await first.send('r RENAME Work Jobs\r\n')).toBe('r OK RENAME completed\r\n');
    const second = await loggedIn({}, store, recent);
    expect(await second.send('s SELECT Jobs\r\n')).toContain('* 1 EXISTS\r\n* 0 RECENT\r\n');
    expect(await second.send('s SELECT Jobs/Old\r\n')).toContain('* 1 EXISTS\r\n* 0 RECENT\r\n');
  });
});

describe('ImapServerSession: changes made while SELECT reads the mailbox', () => {
  it('an EXPUNGE made after SELECT read the messages, before it answered, is announced', async () => {
    const base = createMemoryStore();
    const other = await (await base.user('alice')).open('INBOX');
    for (let i = 1; i <= 3; i++) await other.append(encoder.encode(`Subject: ${i}\r\n\r\nbody ${i}\r\n`));
    let expungeAfterRead = true;
    const store = wrapMailboxes(base, (box) =>
      bound(box, {
        messages: async (uids) => {
          const messages = await box.messages(uids);
          if (expungeAfterRead) {
            expungeAfterRead = false;
            await other.expunge([3]);
          }
          return messages;
        },
      }),
    );
    const driver = await loggedIn({}, store);
    expect(await driver.send('s SELECT INBOX\r\n')).toContain('* 3 EXISTS\r\n');
    expect(await driver.send('n NOOP\r\n')).toBe('* 3 EXPUNGE\r\nn OK NOOP completed\r\n');
  });
});

describe('ImapServerSession: CONDSTORE and QRESYNC', () => {
  it('FETCH MODSEQ and CHANGEDSINCE, STORE UNCHANGEDSINCE with MODIFIED, SEARCH MODSEQ', async () => {
    const [a, b] = await twoSessions();
    const modseq = (await (await a.store.user('alice')).status('INBOX')).highestModseq;
    expect(await a.send('f FETCH 1 (FLAGS MODSEQ)\r\n')).toMatch(
      /^\* 1 FETCH \(FLAGS \(\\Recent\) MODSEQ \(\d+\)\)\r\nf OK Fetch completed\r\n$/,
    );
    await b.send(`x STORE 2 +FLAGS.SILENT (\\Flagged)\r\n`);
    await a.unsolicited();
    expect(await a.send(`g FETCH 1:* (UID) (CHANGEDSINCE ${modseq})\r\n`)).toBe(
      `* 2 FETCH (UID 2 MODSEQ (${modseq + 1}))\r\n` +
        `* 2 FETCH (FLAGS (\\Flagged \\Recent) MODSEQ (${modseq + 1}))\r\ng OK Fetch completed\r\n`,
    );
    expect(await a.send(`h STORE 1:3 (UNCHANGEDSINCE ${modseq}) +FLAGS (\\Seen)\r\n`)).toBe(
      `* 1 FETCH (FLAGS (\\Seen \\Recent) MODSEQ (${modseq + 2}))\r\n` +
        `* 3 FETCH (FLAGS (\\Seen \\Recent) MODSEQ (${modseq + 2}))\r\n` +
        'h OK [MODIFIED 2] Conditional store failed\r\n',
    );
    expect(await a.send(`s SEARCH MODSEQ ${modseq + 2}\r\n`)).toBe(
      `* SEARCH 1 3 (MODSEQ ${modseq + 2})\r\ns OK Search completed\r\n`,
    );
    expect(await a.send('t STATUS INBOX (HIGHESTMODSEQ)\r\n')).toBe(
      `* STATUS INBOX (HIGHESTMODSEQ ${modseq + 2})\r\nt OK Status completed\r\n`,
    );
  });

  it('STORE .SILENT with UNCHANGEDSINCE still reports the MODSEQ of each message it changed (RFC 7162 §3.1.3)', async () => {
    const [a] = await twoSessions();
    const modseq = (await (await a.store.user('alice')).status('INBOX')).highestModseq;
    expect(await a.send(`h STORE 1,3 (UNCHANGEDSINCE ${modseq}) +FLAGS.SILENT (\\Seen)\r\n`)).toBe(
      `* 1 FETCH (MODSEQ (${modseq + 1}))\r\n* 3 FETCH (MODSEQ (${modseq + 1}))\r\nh OK Store completed\r\n`,
    );
    expect(await a.send(`i UID STORE 1:3 (UNCHANGEDSINCE ${modseq}) -FLAGS.SILENT (\\Seen)\r\n`)).toBe(
      'i OK [MODIFIED 1,3] Conditional store failed\r\n',
    );
    expect(await a.send(`j UID STORE 1:3 (UNCHANGEDSINCE ${modseq + 1}) -FLAGS.SILENT (\\Seen)\r\n`)).toBe(
      `* 1 FETCH (UID 1 MODSEQ (${modseq + 2}))\r\n* 3 FETCH (UID 3 MODSEQ (${modseq + 2}))\r\nj OK Store completed\r\n`,
    );
    expect(await a.send('k STORE 2 +FLAGS.SILENT (\\Seen)\r\n')).toBe('k OK Store completed\r\n');
  });

  it('SELECT (QRESYNC …) reports VANISHED (EARLIER) and the changed messages; expunges become VANISHED', async () => {
    const [a, b] = await twoSessions(4);
    const { uidValidity, highestModseq } = await (await a.store.user('alice')).status('INBOX');
    await b.send(
      'x STORE 3 +FLAGS.SILENT (\\Deleted \\Seen)\r\ny EXPUNGE\r\nz STORE 1 +FLAGS.SILENT (\\Answered)\r\n',
    );
    await b.send('u UNSELECT\r\n');
    expect(await b.send(`s SELECT INBOX (QRESYNC (${uidValidity} ${highestModseq}))\r\n`)).toBe(
      's BAD QRESYNC is not enabled\r\n',
    );
    expect(await b.send('e ENABLE QRESYNC\r\n')).toBe('* ENABLED QRESYNC CONDSTORE\r\ne OK Enabled\r\n');
    const answer = await b.send(`s SELECT INBOX (QRESYNC (${uidValidity} ${highestModseq} 1:4))\r\n`);
    expect(answer).toContain('* VANISHED (EARLIER) 3\r\n');
    expect(answer).toMatch(/\* 1 FETCH \(FLAGS \(\\Answered\) UID 1 MODSEQ \(\d+\)\)\r\ns OK \[READ-WRITE\]/);
    expect(answer).toContain(`* OK [HIGHESTMODSEQ ${highestModseq + 3}] Highest\r\n`);
    // A stale UIDVALIDITY: a plain SELECT.
    expect(await b.send(`t SELECT INBOX (QRESYNC (${uidValidity + 1} 1))\r\n`)).not.toContain('VANISHED');
    expect(await b.send('v UID FETCH 1:10 FLAGS (CHANGEDSINCE 1 VANISHED)\r\n')).toMatch(
      /^\* VANISHED \(EARLIER\) 3\r\n\* 1 FETCH .*\r\n\* 2 FETCH .*\r\n\* 3 FETCH .*\r\nv OK Fetch completed\r\n$/,
    );
    expect(await b.send('w FETCH 1 FLAGS (VANISHED)\r\n')).toMatch(/^w BAD /);
    await a.send('d STORE 1 +FLAGS.SILENT (\\Deleted)\r\nd EXPUNGE\r\n');
    await b.unsolicited();
    expect(await b.send('n NOOP\r\n')).toMatch(
      /^\* 1 FETCH \(FLAGS \(\\Answered \\Deleted\) UID 1 MODSEQ \(\d+\)\)\r\n\* VANISHED 1\r\nn OK NOOP completed\r\n$/,
    );
    expect(await b.send('m STORE 1 +FLAGS.SILENT (\\Deleted)\r\nm EXPUNGE\r\n')).toBe(
      'm OK Store completed\r\n* VANISHED 2\r\nm OK Expunge completed\r\n',
    );
  });
});

describe('ImapServerSession: QUOTA, UNAUTHENTICATE and APPENDLIMIT', () => {
  it('GETQUOTAROOT and GETQUOTA answer the one root with STORAGE and MESSAGE; SETQUOTA is refused', async () => {
    const store = createMemoryStore({ quota: { storage: 10 * 1024, messages: 5 } });
    const driver = await loggedIn({}, store);
    await driver.send(`a APPEND INBOX {2000+}\r\n${'x'.repeat(2000)}\r\n`);
    expect(await driver.send('b GETQUOTAROOT INBOX\r\n')).toBe(
      '* QUOTAROOT INBOX ""\r\n* QUOTA "" (STORAGE 2 10 MESSAGE 1 5)\r\nb OK GETQUOTAROOT completed\r\n',
    );
    expect(await driver.send('c GETQUOTA ""\r\n')).toBe(
      '* QUOTA "" (STORAGE 2 10 MESSAGE 1 5)\r\nc OK GETQUOTA completed\r\n',
    );
    expect(await driver.send('d GETQUOTA other\r\n')).toBe('d NO [NONEXISTENT] Unknown quota root\r\n');
    expect(await driver.send('e GETQUOTAROOT Nope\r\n')).toMatch(/^e NO \[NONEXISTENT\] /);
    expect(await driver.send('f SETQUOTA "" (STORAGE 1)\r\n')).toMatch(/^f NO \[NOPERM\] /);
    const unlimited = await loggedIn();
    expect(await unlimited.send('g GETQUOTA ""\r\n')).toBe('* QUOTA "" ()\r\ng OK GETQUOTA completed\r\n');
  });

  it('UNAUTHENTICATE closes the mailbox without expunging and returns to the not-authenticated state', async () => {
    const driver = await loggedIn();
    await driver.send('a ENABLE IMAP4rev2\r\nb SELECT INBOX\r\n');
    await driver.send('c APPEND INBOX (\\Deleted) {1+}\r\nx\r\n');
    expect(await driver.send('d UNAUTHENTICATE\r\n')).toBe('d OK Unauthenticate completed\r\n');
    expect(driver.session.state).toBe('not-authenticated');
    expect(driver.session.enabled.size).toBe(0);
    expect(await driver.send('e SELECT INBOX\r\n')).toBe(
      'e BAD Command unknown or not valid in this state\r\n',
    );
    expect(await driver.send('f LOGIN alice secret\r\n')).toMatch(/^f OK /);
    expect((await (await driver.store.user('alice')).status('INBOX')).messages).toBe(1);
  });

  it('APPENDLIMIT is announced and answered by STATUS', async () => {
    const driver = await loggedIn({ limits: { maxStreamedLiteralSize: 1000 } });
    expect(driver.session.capabilities).toContain('APPENDLIMIT=1000');
    expect(await driver.send('a STATUS INBOX (APPENDLIMIT)\r\n')).toBe(
      '* STATUS INBOX (APPENDLIMIT 1000)\r\na OK Status completed\r\n',
    );
  });
});

describe('ImapServerSession: OBJECTID', () => {
  it('MAILBOXID from CREATE, STATUS and SELECT, kept by RENAME; EMAILID; THREADID is NIL', async () => {
    const driver = await loggedIn();
    const created = /^a OK \[MAILBOXID \((\w+)\)\] CREATE completed\r\n$/.exec(
      await driver.send('a CREATE Work\r\n'),
    );
    const id = created![1]!;
    expect(await driver.send('b RENAME Work Jobs\r\nc STATUS Jobs (MAILBOXID MESSAGES)\r\n')).toBe(
      `b OK RENAME completed\r\n* STATUS Jobs (MESSAGES 0 MAILBOXID (${id}))\r\nc OK Status completed\r\n`,
    );
    await driver.send('d APPEND Jobs {3+}\r\nabc\r\n');
    expect(await driver.send('e SELECT Jobs\r\n')).toContain(`* OK [MAILBOXID (${id})] Ok\r\n`);
    const [info] = await (await (await driver.store.user('alice')).open('Jobs')).messages();
    expect(await driver.send('f FETCH 1 (EMAILID THREADID)\r\n')).toBe(
      `* 1 FETCH (EMAILID (${info!.id}) THREADID NIL)\r\nf OK Fetch completed\r\n`,
    );
    expect(await driver.send(`g SEARCH EMAILID ${info!.id}\r\n`)).toBe(
      '* SEARCH 1\r\ng OK Search completed\r\n',
    );
  });

  it('with qresync off, QRESYNC is neither offered nor enabled, and CONDSTORE still is', async () => {
    const session = await loggedIn({ qresync: false });
    const capabilities = await session.send('c CAPABILITY\r\n');
    expect(capabilities).not.toContain('QRESYNC');
    expect(capabilities).toContain(' CONDSTORE ');
    expect(await session.send('e ENABLE QRESYNC\r\n')).toBe('* ENABLED\r\ne OK Enabled\r\n');
    expect(await session.send('s SELECT INBOX (QRESYNC (1 1))\r\n')).toBe('s BAD QRESYNC is not enabled\r\n');
    expect(await session.send('f ENABLE CONDSTORE QRESYNC\r\n')).toBe(
      '* ENABLED CONDSTORE\r\nf OK Enabled\r\n',
    );
    expect(await (await loggedIn()).send('c CAPABILITY\r\n')).toContain(' QRESYNC ');
  });
});

import { createMemoryStore, OverQuotaError } from '@postwire/store';
import { describe, expect, it } from 'vitest';
import { bound, wrapMailboxes } from '../support/wrapped-store.js';
import { Driver, loggedIn } from './driver.js';

const encoder = new TextEncoder();
const MESSAGE = 'Subject: Hi\r\nFrom: a@example.com\r\n\r\nBody!\r\n';
const MULTIPART =
  'Subject: Parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n' +
  '--b\r\nContent-Type: text/plain\r\n\r\none\r\n' +
  '--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: Inner\r\nX-A: 1\r\n\r\ninner body\r\n' +
  '--b--\r\n';

/** A session logged in as alice with INBOX holding `messages` (flags each) and selected (or examined). */
async function withMessages(
  messages: readonly (readonly [string, readonly string[]])[],
  command = 'SELECT',
): Promise<Driver> {
  const driver = await loggedIn();
  const inbox = await (await driver.store.user('alice')).open('INBOX');
  for (const [text, flags] of messages)
    await inbox.append(encoder.encode(text), { flags, internalDate: new Date('2024-01-02T03:04:05Z') });
  await inbox.close();
  expect(await driver.send(`s ${command} INBOX\r\n`)).toMatch(/\r\ns OK /);
  return driver;
}

async function uidValidity(driver: Driver): Promise<number> {
  return (await (await driver.store.user('alice')).status('INBOX')).uidValidity;
}

describe('ImapServerSession: APPEND', () => {
  it('streams a message into the store with its flags and date, and answers APPENDUID', async () => {
    const driver = await loggedIn();
    expect(
      await driver.send(`a APPEND INBOX (\\seen $Work) " 1-Jan-2024 10:00:00 +0100" {${MESSAGE.length}}\r\n`),
    ).toBe('+ Ready for literal data\r\n');
    expect(await driver.send(MESSAGE.slice(0, 10))).toBe('');
    const validity = await uidValidity(driver);
    expect(await driver.send(`${MESSAGE.slice(10)}\r\n`)).toBe(
      `a OK [APPENDUID ${validity} 1] Append completed\r\n`,
    );
    const inbox = await (await driver.store.user('alice')).open('INBOX');
    const [info] = await inbox.messages();
    expect(info).toMatchObject({ uid: 1, size: MESSAGE.length, flags: ['\\Seen', '$Work'] });
    expect(info!.internalDate.toISOString()).toBe('2024-01-01T09:00:00.000Z');
    await inbox.close();
  });

  it('MULTIAPPEND with LITERAL+ stores each message; APPEND to the selected mailbox reports EXISTS', async () => {
    const driver = await withMessages([]);
    const validity = await uidValidity(driver);
    expect(await driver.send('a APPEND INBOX {3+}\r\nabc (\\Draft $New) {4+}\r\nwxyz\r\n')).toBe(
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $New)\r\n' +
        '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $New \\*)] Flags permitted.\r\n' +
        '* 2 EXISTS\r\n* 2 RECENT\r\n' +
        `a OK [APPENDUID ${validity} 1:2] Append completed\r\n`,
    );
    expect(await driver.send('b FETCH 1:* (UID FLAGS)\r\n')).toBe(
      '* 1 FETCH (UID 1 FLAGS (\\Recent))\r\n* 2 FETCH (UID 2 FLAGS (\\Draft $New \\Recent))\r\nb OK Fetch completed\r\n',
    );
  });

  it('refuses before `+`: TRYCREATE for a missing mailbox, BAD for a bad date, flag or state', async () => {
    const driver = await loggedIn();
    expect(await driver.send('a APPEND Nope {3}\r\n')).toBe(
      'a NO [TRYCREATE] mailbox "Nope" does not exist\r\n',
    );
    expect(await driver.send('b APPEND INBOX "31-Feb-2024 10:00:00 +0000" {3}\r\n')).toBe(
      'b BAD Invalid date-time\r\n',
    );
    for (const date of [
      '01-Foo-2024 10:00:00 +0000',
      '01-Jan-2024 24:00:00 +0000',
      '01-Jan-2024 10:00:00 +0060',
    ])
      expect(await driver.send(`b APPEND INBOX "${date}" {3}\r\n`)).toBe('b BAD Invalid date-time\r\n');
    expect(await driver.send('c APPEND INBOX (\\Recent) {3}\r\n')).toBe('c BAD Invalid system flag\r\n');
    expect(await driver.send('c+ APPEND INBOX {3}\r\n')).toBe('* BAD Invalid tag\r\n');
    expect(await driver.send('c+ APPEND INBOX {3+}\r\nabc\r\n')).toBe('* BAD Invalid tag\r\n');
    expect(await driver.send('d APPEND INBOX (( {3}\r\n')).toMatch(/^d BAD /);
    expect(await driver.send('e APPEND INBOX "01-Jan-2024 10:00:00 +0000" "abc"\r\n')).toBe(
      'e BAD APPEND needs the message as a literal\r\n',
    );
    expect(await driver.send('f NOOP\r\n')).toBe('f OK NOOP completed\r\n');
    const fresh = new Driver();
    await fresh.start();
    expect(await fresh.send('a APPEND INBOX {3}\r\n')).toBe(
      'a BAD Command unknown or not valid in this state\r\n',
    );
    expect((await (await driver.store.user('alice')).status('INBOX')).messages).toBe(0);
  });

  it('reads and drops the rest of a non-synchronising message once refused', async () => {
    const driver = await loggedIn();
    expect(await driver.send('a APPEND Nope {3+}\r\nabc\r\nb NOOP\r\n')).toBe(
      'a NO [TRYCREATE] mailbox "Nope" does not exist\r\nb OK NOOP completed\r\n',
    );
    driver.failNextStoreRequest(new OverQuotaError());
    expect(await driver.send('c APPEND INBOX {3+}\r\nabc\r\n')).toBe('c NO [OVERQUOTA] quota exceeded\r\n');
    expect(await driver.send('d APPEND INBOX {3+}\r\nabc "bad-date" {1+}\r\nx\r\n')).toMatch(/^d BAD /);
    expect(await driver.send('e APPEND INBOX {3}\r\n')).toBe('+ Ready for literal data\r\n');
    driver.failNextStoreRequest(new OverQuotaError());
    expect(await driver.send('abc\r\n')).toBe('e NO [OVERQUOTA] quota exceeded\r\n');
    expect(await driver.send('f APPEND INBOX {3+}\r\nabc trailing\r\n')).toMatch(/^f BAD /);
    // MULTIAPPEND is all or nothing: the first messages of `d` and `f` were removed again.
    expect((await (await driver.store.user('alice')).status('INBOX')).messages).toBe(0);
  });

  it('a MULTIAPPEND whose later synchronising literal is refused before `+` stores nothing', async () => {
    const driver = await loggedIn();
    expect(await driver.send('a APPEND INBOX {3+}\r\nabc (\\Recent) {3}\r\n')).toBe(
      'a BAD Invalid system flag\r\n',
    );
    expect(await driver.send('b APPEND INBOX {3+}\r\nabc {0}\r\n')).toBe(
      "b NO Can't save a zero byte message\r\n",
    );
    expect(await driver.send('c NOOP\r\n')).toBe('c OK NOOP completed\r\n');
    expect((await (await driver.store.user('alice')).status('INBOX')).messages).toBe(0);
  });
});

describe('ImapServerSession: FETCH', () => {
  it('answers FLAGS, UID, INTERNALDATE, RFC822.SIZE, ENVELOPE, BODY and BODYSTRUCTURE', async () => {
    const driver = await withMessages([[MESSAGE, ['\\Seen']]]);
    expect(await driver.send('a FETCH 1 (FLAGS UID INTERNALDATE RFC822.SIZE)\r\n')).toBe(
      `* 1 FETCH (FLAGS (\\Seen \\Recent) UID 1 INTERNALDATE "02-Jan-2024 03:04:05 +0000" RFC822.SIZE ${MESSAGE.length})\r\n` +
        'a OK Fetch completed\r\n',
    );
    expect(await driver.send('b FETCH 1 (ENVELOPE BODY BODYSTRUCTURE)\r\n')).toBe(
      '* 1 FETCH (ENVELOPE (NIL "Hi" ((NIL NIL "a" "example.com")) ((NIL NIL "a" "example.com")) ' +
        '((NIL NIL "a" "example.com")) NIL NIL NIL NIL NIL) ' +
        'BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 7 1) ' +
        'BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 7 1 NIL NIL NIL NIL))\r\n' +
        'b OK Fetch completed\r\n',
    );
  });

  it('streams sections with partials; BODY[] without PEEK sets \\Seen and reports FLAGS', async () => {
    const driver = await withMessages([[MESSAGE, []]]);
    expect(
      await driver.send(
        'a FETCH 1 (BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[]<2.5>)\r\n',
      ),
    ).toBe(
      '* 1 FETCH (BODY[HEADER] {36}\r\nSubject: Hi\r\nFrom: a@example.com\r\n\r\n BODY[TEXT] {7}\r\nBody!\r\n ' +
        'BODY[HEADER.FIELDS (SUBJECT)] {15}\r\nSubject: Hi\r\n\r\n BODY[]<2> {5}\r\nbject)\r\n' +
        'a OK Fetch completed\r\n',
    );
    expect(await driver.send('b FETCH 1 (RFC822.HEADER BODY.PEEK[1]<3.100> BODY.PEEK[5])\r\n')).toBe(
      '* 1 FETCH (RFC822.HEADER {36}\r\nSubject: Hi\r\nFrom: a@example.com\r\n\r\n BODY[1]<3> {4}\r\ny!\r\n BODY[5] {0}\r\n)\r\n' +
        'b OK Fetch completed\r\n',
    );
    expect(await driver.send('c UID FETCH 1 BODY[]\r\n')).toBe(
      `* 1 FETCH (UID 1 BODY[] {${MESSAGE.length}}\r\n${MESSAGE} FLAGS (\\Seen \\Recent))\r\nc OK Fetch completed\r\n`,
    );
    expect(await driver.send('d FETCH 1 (FLAGS RFC822.TEXT)\r\n')).toBe(
      '* 1 FETCH (FLAGS (\\Seen \\Recent) RFC822.TEXT {7}\r\nBody!\r\n)\r\nd OK Fetch completed\r\n',
    );
  });

  it('finds the parts of a multipart and of an embedded message', async () => {
    const driver = await withMessages([[MULTIPART, []]]);
    expect(
      await driver.send(
        'a FETCH 1 (BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2.HEADER.FIELDS.NOT (X-A)] BODY.PEEK[2.TEXT] BODY.PEEK[1.TEXT] BODY.PEEK[2.1] BODY.PEEK[1.1] BODY.PEEK[3])\r\n',
      ),
    ).toBe(
      '* 1 FETCH (BODY[1] {3}\r\none BODY[1.MIME] {28}\r\nContent-Type: text/plain\r\n\r\n ' +
        'BODY[2.HEADER.FIELDS.NOT (X-A)] {18}\r\nSubject: Inner\r\n\r\n BODY[2.TEXT] {10}\r\ninner body ' +
        'BODY[1.TEXT] {0}\r\n BODY[2.1] {10}\r\ninner body BODY[1.1] {0}\r\n BODY[3] {0}\r\n)\r\n' +
        'a OK Fetch completed\r\n',
    );
  });

  it('EXAMINE: RFC822 leaves \\Seen alone, STORE and EXPUNGE are refused', async () => {
    const examined = await withMessages([['a\r\n', []]], 'EXAMINE');
    expect(await examined.send('a FETCH 1 RFC822\r\n')).toBe(
      '* 1 FETCH (RFC822 {3}\r\na\r\n)\r\na OK Fetch completed\r\n',
    );
    expect(await examined.send('b FETCH 1 FLAGS\r\n')).toBe(
      '* 1 FETCH (FLAGS (\\Recent))\r\nb OK Fetch completed\r\n',
    );
    expect(await examined.send('c STORE 1 +FLAGS (\\Seen)\r\nd EXPUNGE\r\n')).toBe(
      'c NO Mailbox is read-only\r\nd NO Mailbox is read-only\r\n',
    );
  });

  it('case 17: sequence sets are resolved without expansion; 0 and 2³² are BAD', async () => {
    const driver = await withMessages(Array.from({ length: 250 }, (_, i) => [`m${i}\r\n`, []] as const));
    const huge = `a FETCH ${Array(10_000).fill('1:*').join(',')} UID\r\n`;
    const answer = await driver.send(huge);
    expect(answer.match(/ FETCH \(UID \d+\)/g)).toHaveLength(250);
    expect(answer).toMatch(/\* 250 FETCH \(UID 250\)\r\na OK Fetch completed\r\n$/);
    expect(driver.requests.filter((op) => op === 'fetch')).toHaveLength(3);
    expect(await driver.send('b UID FETCH 1:4294967295 UID\r\n')).toMatch(/\* 250 FETCH .*\r\nb OK /);
    expect(await driver.send('c UID FETCH 300:* UID\r\n')).toBe(
      '* 250 FETCH (UID 250)\r\nc OK Fetch completed\r\n',
    );
    expect(await driver.send('d UID FETCH 251:260 FLAGS\r\n')).toBe('d OK Fetch completed\r\n');
    expect(await driver.send('e FETCH 0 UID\r\n')).toBe('e BAD Invalid sequence set\r\n');
    expect(await driver.send('f FETCH 4294967296 UID\r\n')).toBe('f BAD Invalid sequence set\r\n');
    expect(await driver.send('g FETCH 251 UID\r\n')).toBe('g BAD Invalid messageset\r\n');
    expect(await driver.send('h FETCH $ UID\r\n')).toBe('h OK Fetch completed\r\n');
    expect(await driver.send('i FETCH 1 BINARY.PEEK[1]\r\n')).toBe(
      '* 1 FETCH (BINARY[1] {4}\r\nm0\r\n)\r\ni OK Fetch completed\r\n',
    );
  });

  it('a store failure ends the FETCH with NO', async () => {
    const driver = await withMessages([['a\r\n', []]]);
    driver.failNextStoreRequest(new Error('disk on fire'));
    expect(await driver.send('a FETCH 1 FLAGS\r\n')).toBe('a NO [SERVERBUG] Internal error occurred\r\n');
  });
});

describe('ImapServerSession: a message another session expunges before it is read', () => {
  /** A session with INBOX holding three messages selected, where reading a UID of `doomed` expunges it first. */
  async function withDoomed(doomed: Set<number>): Promise<Driver> {
    const base = createMemoryStore();
    // The memory store removes a message before the promise of its expunge settles.
    const other = await (await base.user('alice')).open('INBOX');
    const store = wrapMailboxes(base, (box) =>
      bound(box, {
        read: (uid, range) => {
          if (doomed.delete(uid)) void other.expunge([uid]);
          return box.read(uid, range);
        },
      }),
    );
    for (let i = 0; i < 3; i++) await other.append(encoder.encode(MESSAGE));
    const driver = await loggedIn({}, store);
    expect(await driver.send('s SELECT INBOX\r\n')).toMatch(/\r\ns OK /);
    return driver;
  }

  it('FETCH HEADER.FIELDS and BINARY answer it empty, SEARCH BODY does not match it', async () => {
    const doomed = new Set([2]);
    const driver = await withDoomed(doomed);
    expect(await driver.send('a FETCH 1:2 BODY.PEEK[HEADER.FIELDS (Subject)]\r\n')).toBe(
      '* 1 FETCH (BODY[HEADER.FIELDS (Subject)] {15}\r\nSubject: Hi\r\n\r\n)\r\n' +
        '* 2 FETCH (BODY[HEADER.FIELDS (Subject)] {2}\r\n\r\n)\r\na OK Fetch completed\r\n',
    );
    expect(await driver.send('n NOOP\r\n')).toBe('* 2 EXPUNGE\r\nn OK NOOP completed\r\n');
    doomed.add(3);
    expect(await driver.send('b FETCH 1:2 BINARY.PEEK[1]\r\n')).toBe(
      '* 1 FETCH (BINARY[1] {7}\r\nBody!\r\n)\r\n* 2 FETCH (BINARY[1] {0}\r\n)\r\nb OK Fetch completed\r\n',
    );
    const another = await withDoomed(new Set([2]));
    expect(await another.send('c SEARCH BODY Body\r\n')).toBe('* SEARCH 1 3\r\nc OK Search completed\r\n');
  });
});

describe('ImapServerSession: BINARY', () => {
  const ATTACHMENT =
    'Subject: Bin\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n' +
    '--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9\r\n' +
    '--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n' +
    '--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-made-up\r\n\r\nabc\r\n' +
    '--b--\r\n';

  it('decodes parts: literal8 for NUL, BINARY.SIZE, UNKNOWN-CTE, and BINARY without PEEK sets \\Seen', async () => {
    const driver = await withMessages([[ATTACHMENT, []]]);
    expect(
      await driver.send('a FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1] BINARY.PEEK[2] BINARY.SIZE[2])\r\n'),
    ).toBe(
      '* 1 FETCH (BINARY[1] {5}\r\ncafé BINARY.SIZE[1] 5 BINARY[2] ~{3}\r\n\x00\x01\x02 BINARY.SIZE[2] 3)\r\n' +
        'a OK Fetch completed\r\n',
    );
    expect(await driver.send('b FETCH 1 BINARY.PEEK[2]<1.5>\r\n')).toBe(
      '* 1 FETCH (BINARY[2] {2}\r\n\x01\x02)\r\nb OK Fetch completed\r\n',
    );
    expect(await driver.send('c FETCH 1 (UID BINARY.PEEK[3])\r\n')).toBe(
      '* 1 FETCH (UID 1)\r\nc NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding\r\n',
    );
    expect(await driver.send('d FETCH 1 BINARY[1.HEADER]\r\n')).toMatch(/^d BAD /);
    expect(await driver.send('e FETCH 1 BINARY[1]\r\n')).toBe(
      '* 1 FETCH (BINARY[1] {5}\r\ncafé FLAGS (\\Seen \\Recent))\r\ne OK Fetch completed\r\n',
    );
  });
});

describe('ImapServerSession: STORE and EXPUNGE', () => {
  it('STORE FLAGS, +FLAGS, -FLAGS and .SILENT; new keywords are announced in FLAGS', async () => {
    const driver = await withMessages([
      ['a\r\n', ['\\Seen']],
      ['b\r\n', []],
    ]);
    expect(await driver.send('a STORE 1:* +FLAGS ($Later \\flagged)\r\n')).toBe(
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Later)\r\n' +
        '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Later \\*)] Flags permitted.\r\n' +
        '* 1 FETCH (FLAGS (\\Seen $Later \\Flagged \\Recent))\r\n* 2 FETCH (FLAGS ($Later \\Flagged \\Recent))\r\n' +
        'a OK Store completed\r\n',
    );
    expect(await driver.send('b UID STORE 2 -FLAGS ($Later)\r\n')).toBe(
      '* 2 FETCH (FLAGS (\\Flagged \\Recent) UID 2)\r\nb OK Store completed\r\n',
    );
    expect(await driver.send('c STORE 1 FLAGS.SILENT (\\Answered)\r\nd FETCH 1 FLAGS\r\n')).toBe(
      'c OK Store completed\r\n* 1 FETCH (FLAGS (\\Answered \\Recent))\r\nd OK Fetch completed\r\n',
    );
    expect(await driver.send('e STORE 3 +FLAGS (\\Seen)\r\nf STORE 1 +FLAGS (\\Bogus)\r\n')).toBe(
      'e BAD Invalid messageset\r\nf BAD Invalid system flag\r\n',
    );
    expect(await driver.send('g UID STORE 9 +FLAGS (\\Seen)\r\n')).toBe('g OK Store completed\r\n');
    expect(await driver.send('h STORE 1 (UNCHANGEDSINCE 1) +FLAGS (\\Seen)\r\n')).toBe(
      'h OK [MODIFIED 1] Conditional store failed\r\n',
    );
  });

  it('EXPUNGE and UID EXPUNGE renumber the session’s view as they go', async () => {
    const driver = await withMessages([
      ['1\r\n', ['\\Deleted']],
      ['2\r\n', []],
      ['3\r\n', ['\\Deleted']],
      ['4\r\n', ['\\Deleted']],
      ['5\r\n', ['\\Deleted']],
    ]);
    expect(await driver.send('a UID EXPUNGE 3:4\r\n')).toBe(
      '* 3 EXPUNGE\r\n* 3 EXPUNGE\r\na OK Expunge completed\r\n',
    );
    expect(await driver.send('b FETCH 1:* UID\r\n')).toBe(
      '* 1 FETCH (UID 1)\r\n* 2 FETCH (UID 2)\r\n* 3 FETCH (UID 5)\r\nb OK Fetch completed\r\n',
    );
    expect(await driver.send('c EXPUNGE\r\n')).toBe(
      '* 1 EXPUNGE\r\n* 2 EXPUNGE\r\nc OK Expunge completed\r\n',
    );
    expect(await driver.send('d FETCH 1:* UID\r\ne EXPUNGE\r\n')).toBe(
      '* 1 FETCH (UID 2)\r\nd OK Fetch completed\r\ne OK Expunge completed\r\n',
    );
    expect((await (await driver.store.user('alice')).status('INBOX')).messages).toBe(1);
  });
});

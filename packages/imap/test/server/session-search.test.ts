import { describe, expect, it } from 'vitest';
import { type Driver, loggedIn } from './driver.js';

const encoder = new TextEncoder();
const MESSAGES: readonly (readonly [text: string, flags: readonly string[], date: string])[] = [
  [
    'From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: Lunch plans\r\n' +
      'Date: Mon, 1 Jan 2024 23:30:00 -0500\r\nX-Tag: alpha\r\n\r\nSee you at noon.\r\n',
    ['\\Seen', '$Work'],
    '2024-01-02T10:00:00Z',
  ],
  [
    'From: =?UTF-8?Q?J=C3=B6rg?= <jorg@example.net>\r\nTo: alice@example.com\r\n' +
      'Cc: carol@example.org\r\nSubject: =?UTF-8?B?R3LDvMOfZQ==?=\r\nDate: 5 Feb 2024 08:00:00 +0000\r\n\r\n' +
      `${'x'.repeat(500)}\r\n`,
    ['\\Flagged', '\\Answered'],
    '2024-02-05T09:00:00Z',
  ],
  [
    'Subject: no date\r\nBcc: dave@example.com\r\n\r\nshort\r\n',
    ['\\Deleted', '\\Draft'],
    '2024-03-01T00:00:00Z',
  ],
];

/**
 * alice logged in with INBOX holding {@link MESSAGES} (UIDs 2, 3, 4 after a removed UID 1), selected after
 * `before` (an ENABLE).
 */
async function withMessages(before?: string): Promise<Driver> {
  const driver = await loggedIn();
  if (before !== undefined) expect(await driver.send(`e ${before}\r\n`)).toMatch(/\r\ne OK /);
  const inbox = await (await driver.store.user('alice')).open('INBOX');
  await inbox.append(encoder.encode('Subject: gone\r\n\r\n'));
  await inbox.expunge([1]);
  for (const [text, flags, date] of MESSAGES)
    await inbox.append(encoder.encode(text), { flags, internalDate: new Date(date) });
  await inbox.close();
  expect(await driver.send('s SELECT INBOX\r\n')).toMatch(/\r\ns OK /);
  return driver;
}

/** The numbers of `* SEARCH` for each criteria, by sequence number. */
async function search(driver: Driver, criteria: string, uid = false): Promise<string> {
  const answer = await driver.send(`t ${uid ? 'UID ' : ''}SEARCH ${criteria}\r\n`);
  const match = /^\* SEARCH([ \d]*(?: \(MODSEQ \d+\))?)\r\nt OK Search completed\r\n$/.exec(answer);
  if (!match) throw new Error(`unexpected answer to SEARCH ${criteria}: ${answer}`);
  return match[1]!.trim();
}

describe('ImapServerSession: SEARCH', () => {
  it('flag keys, keywords, NEW/OLD/RECENT', async () => {
    const driver = await withMessages();
    const cases: [string, string][] = [
      ['ALL', '1 2 3'],
      ['SEEN', '1'],
      ['UNSEEN', '2 3'],
      ['ANSWERED', '2'],
      ['UNANSWERED', '1 3'],
      ['FLAGGED', '2'],
      ['UNFLAGGED', '1 3'],
      ['DELETED', '3'],
      ['UNDELETED', '1 2'],
      ['DRAFT', '3'],
      ['UNDRAFT', '1 2'],
      ['KEYWORD $work', '1'],
      ['UNKEYWORD $Work', '2 3'],
      ['NEW', '2 3'],
      ['RECENT', '1 2 3'],
      ['OLD', ''],
    ];
    for (const [criteria, expected] of cases)
      expect([criteria, await search(driver, criteria)]).toEqual([criteria, expected]);
  });

  it('sequence sets, UID, sizes, dates, MODSEQ and EMAILID', async () => {
    const driver = await withMessages();
    const inbox = await (await driver.store.user('alice')).open('INBOX');
    const [first] = await inbox.messages([2]);
    await inbox.close();
    const cases: [string, string][] = [
      ['2:*', '2 3'],
      ['*', '3'],
      ['UID 3:*', '2 3'],
      ['UID 1', ''],
      ['LARGER 200', '2'],
      ['SMALLER 100', '3'],
      ['BEFORE 2-Feb-2024', '1'],
      ['ON 5-Feb-2024', '2'],
      ['SINCE 5-Feb-2024', '2 3'],
      ['SENTON 1-Jan-2024', '1'],
      ['SENTBEFORE 5-Feb-2024', '1'],
      ['SENTSINCE 5-Feb-2024', '2'],
      [`MODSEQ ${first!.modseq + 1}`, `2 3 (MODSEQ ${first!.modseq + 2})`],
      [`EMAILID ${first!.id}`, '1'],
      ['OLDER 1', '1 2 3'],
      ['YOUNGER 1', ''],
    ];
    for (const [criteria, expected] of cases)
      expect([criteria, await search(driver, criteria)]).toEqual([criteria, expected]);
  });

  it('header keys match decoded values case-insensitively', async () => {
    const driver = await withMessages();
    const cases: [string, string][] = [
      ['FROM alice', '1'],
      ['FROM "jörg"', '2'],
      ['TO ALICE@example.com', '2'],
      ['CC carol', '2'],
      ['BCC dave', '3'],
      ['SUBJECT lunch', '1'],
      ['SUBJECT "GRÜSSE"', '2'],
      ['HEADER X-Tag ALPHA', '1'],
      ['HEADER x-tag ""', '1'],
      ['HEADER Date ""', '1 2'],
    ];
    for (const [criteria, expected] of cases)
      expect([criteria, await search(driver, `CHARSET UTF-8 ${criteria}`)]).toEqual([criteria, expected]);
  });

  it('BODY and TEXT search the streamed octets, UTF-8 and case-folded', async () => {
    const driver = await withMessages();
    const cases: [string, string][] = [
      ['BODY NOON', '1'],
      ['BODY lunch', ''],
      ['TEXT lunch', '1'],
      ['TEXT "see you"', '1'],
      ['BODY ""', '1 2 3'],
      ['TEXT example', '1 2 3'],
      [`BODY ${'X'.repeat(300)}`, '2'],
      ['OR BODY short TEXT carol', '2 3'],
      ['NOT TEXT alice BODY s', '3'],
    ];
    for (const [criteria, expected] of cases)
      expect([criteria, await search(driver, criteria)]).toEqual([criteria, expected]);
    const inbox = await (await driver.store.user('alice')).open('INBOX');
    await inbox.append(encoder.encode('Subject: utf\r\n\r\nStraße und Grüße\r\n'));
    await inbox.close();
    expect(await driver.send('s SELECT INBOX\r\n')).toMatch(/s OK/);
    expect(await search(driver, 'CHARSET UTF-8 BODY "STRASSE"')).toBe('4');
    driver.failNextStoreRequest(new Error('disk on fire'));
    expect(await driver.send('f SEARCH SEEN\r\n')).toBe('f NO [SERVERBUG] Internal error occurred\r\n');
  });

  it('NOT, OR, parenthesised AND, and UID SEARCH answers UIDs', async () => {
    const driver = await withMessages();
    expect(await search(driver, 'NOT SEEN')).toBe('2 3');
    expect(await search(driver, 'OR SEEN DELETED')).toBe('1 3');
    expect(await search(driver, '(OR SEEN FLAGGED) NOT (FROM alice)')).toBe('2');
    expect(await search(driver, 'OR SEEN FLAGGED', true)).toBe('2 3');
    expect(await search(driver, '2 UNSEEN', true)).toBe('3');
  });

  it('ESEARCH with RETURN, and for IMAP4rev2 clients', async () => {
    const driver = await withMessages();
    expect(await driver.send('a SEARCH RETURN (MIN MAX COUNT) UNSEEN\r\n')).toBe(
      '* ESEARCH (TAG "a") MIN 2 MAX 3 COUNT 2\r\na OK Search completed\r\n',
    );
    expect(await driver.send('b UID SEARCH RETURN () ALL\r\n')).toBe(
      '* ESEARCH (TAG "b") UID ALL 2:4\r\nb OK Search completed\r\n',
    );
    expect(await driver.send('c SEARCH RETURN (MIN MAX ALL COUNT) KEYWORD none\r\n')).toBe(
      '* ESEARCH (TAG "c") COUNT 0\r\nc OK Search completed\r\n',
    );
    const rev2 = await withMessages('ENABLE IMAP4rev2');
    expect(await rev2.send('d SEARCH 1,3\r\n')).toBe(
      '* ESEARCH (TAG "d") ALL 1,3\r\nd OK Search completed\r\n',
    );
    expect(await rev2.send('e UID SEARCH SEEN\r\n')).toBe(
      '* ESEARCH (TAG "e") UID ALL 2\r\ne OK Search completed\r\n',
    );
  });

  it('SEARCHRES: RETURN (SAVE) keeps the result as $ for FETCH, SEARCH and STORE; a failed SEARCH empties it', async () => {
    const driver = await withMessages();
    expect(await driver.send('a SEARCH RETURN (SAVE) FLAGGED\r\n')).toBe('a OK Search completed\r\n');
    expect(await driver.send('b FETCH $ UID\r\n')).toBe('* 2 FETCH (UID 3)\r\nb OK Fetch completed\r\n');
    expect(await search(driver, 'OR $ 3')).toBe('2 3');
    expect(await driver.send('c UID SEARCH RETURN (SAVE MIN) NOT FLAGGED\r\n')).toBe(
      '* ESEARCH (TAG "c") UID MIN 2\r\nc OK Search completed\r\n',
    );
    expect(await driver.send('d UID STORE $ +FLAGS.SILENT (\\Answered)\r\n')).toBe(
      'd OK Store completed\r\n',
    );
    // SAVE with MIN alone keeps only the minimum (RFC 5182 §2.4): message 1.
    expect(await search(driver, 'ANSWERED')).toBe('1 2');
    expect(await driver.send('e SEARCH RETURN (SAVE) CHARSET KOI8-R ALL\r\n')).toMatch(/^e NO \[BADCHARSET/);
    expect(await driver.send('f FETCH $ UID\r\n')).toBe('f OK Fetch completed\r\n');
  });

  it('SEARCHRES: a SEARCH RETURN (SAVE) failed by the store empties $', async () => {
    const driver = await withMessages();
    expect(await driver.send('a SEARCH RETURN (SAVE) ALL\r\n')).toBe('a OK Search completed\r\n');
    driver.failNextStoreRequest(new Error('disk on fire'));
    expect(await driver.send('b SEARCH RETURN (SAVE) OR $ FLAGGED\r\n')).toBe(
      'b NO [SERVERBUG] Internal error occurred\r\n',
    );
    expect(await driver.send('c FETCH $ UID\r\n')).toBe('c OK Fetch completed\r\n');
  });

  it('refuses unknown charsets, matches no THREADID, and answers NO when the store fails', async () => {
    const driver = await withMessages();
    expect(await driver.send('a SEARCH CHARSET KOI8-R ALL\r\n')).toBe(
      'a NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset\r\n',
    );
    // Every THREADID is NIL (RFC 8474 §5.2): none matches.
    expect(await driver.send('e SEARCH THREADID T1\r\n')).toBe('* SEARCH\r\ne OK Search completed\r\n');
    driver.failNextStoreRequest(new Error('disk on fire'));
    expect(await driver.send('f SEARCH ALL\r\n')).toBe('f NO [SERVERBUG] Internal error occurred\r\n');
  });

  it('an empty mailbox answers an empty SEARCH; SEARCH needs a selected mailbox', async () => {
    const driver = await loggedIn();
    expect(await driver.send('a SEARCH ALL\r\n')).toBe(
      'a BAD Command unknown or not valid in this state\r\n',
    );
    await driver.send('b SELECT INBOX\r\n');
    expect(await search(driver, 'ALL')).toBe('');
  });
});

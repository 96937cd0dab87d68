import { describe, expect, it } from 'vitest';
import { type Driver, loggedIn } from './driver.js';

const encoder = new TextEncoder();

/** alice logged in, INBOX holding three messages (UIDs 1–3) and selected, and an empty Archive. */
async function withInbox(command = 'SELECT'): Promise<Driver> {
  const driver = await loggedIn();
  const mail = await driver.store.user('alice');
  await mail.create('Archive');
  const inbox = await mail.open('INBOX');
  for (const subject of ['One', 'Two', 'Three'])
    await inbox.append(encoder.encode(`Subject: ${subject}\r\n\r\nbody\r\n`), { flags: ['\\Seen'] });
  await inbox.close();
  expect(await driver.send(`s ${command} INBOX\r\n`)).toMatch(/\r\ns OK /);
  return driver;
}

async function uidsOf(driver: Driver, mailbox: string): Promise<number[]> {
  const box = await (await driver.store.user('alice')).open(mailbox);
  const uids = (await box.messages()).map((message) => message.uid);
  await box.close();
  return uids;
}

async function validity(driver: Driver, mailbox: string): Promise<number> {
  return (await (await driver.store.user('alice')).status(mailbox)).uidValidity;
}

describe('ImapServerSession: COPY', () => {
  it('COPY and UID COPY answer COPYUID with the source and target UIDs', async () => {
    const driver = await withInbox();
    const archive = await validity(driver, 'Archive');
    expect(await driver.send('a COPY 1,3 Archive\r\n')).toBe(
      `a OK [COPYUID ${archive} 1,3 1:2] Copy completed\r\n`,
    );
    expect(await driver.send('b UID COPY 2:* Archive\r\n')).toBe(
      `b OK [COPYUID ${archive} 2:3 3:4] Copy completed\r\n`,
    );
    expect(await uidsOf(driver, 'Archive')).toEqual([1, 2, 3, 4]);
    expect(await uidsOf(driver, 'INBOX')).toEqual([1, 2, 3]);
  });

  it('a copy into the selected mailbox reports EXISTS; an EXAMINEd mailbox may be copied from', async () => {
    const driver = await withInbox('EXAMINE');
    const inbox = await validity(driver, 'INBOX');
    expect(await driver.send('a COPY 2 INBOX\r\n')).toBe(
      `* 4 EXISTS\r\n* 4 RECENT\r\na OK [COPYUID ${inbox} 2 4] Copy completed\r\n`,
    );
    expect(await driver.send('b FETCH 4 UID\r\n')).toBe('* 4 FETCH (UID 4)\r\nb OK Fetch completed\r\n');
  });

  it('TRYCREATE for a missing target, BAD past the last message, OK for no UIDs, NO for store errors', async () => {
    const driver = await withInbox();
    expect(await driver.send('a COPY 1 Nope\r\n')).toMatch(/^a NO \[TRYCREATE\] .+\r\n$/);
    expect(await driver.send('b COPY 4 Archive\r\n')).toBe('b BAD Invalid messageset\r\n');
    expect(await driver.send('c UID COPY 9:10 Archive\r\n')).toBe('c OK No messages found\r\n');
    driver.failNextStoreRequest(new Error('disk on fire'));
    expect(await driver.send('d COPY 1 Archive\r\n')).toBe('d NO [SERVERBUG] Internal error occurred\r\n');
    expect(await uidsOf(driver, 'Archive')).toEqual([]);
  });

  it('messages expunged by another session are skipped and announced: no COPYUID when none is left', async () => {
    const driver = await withInbox();
    const inbox = await (await driver.store.user('alice')).open('INBOX');
    await inbox.expunge([1]);
    await inbox.close();
    await driver.unsolicited();
    expect(await driver.send('a COPY 1 Archive\r\n')).toBe('* 1 EXPUNGE\r\na OK Copy completed\r\n');
    expect(await driver.send('b UID MOVE 1 Archive\r\n')).toBe('b OK No messages found\r\n');
    expect(await uidsOf(driver, 'Archive')).toEqual([]);
  });

  it('is not valid before a mailbox is selected', async () => {
    const driver = await loggedIn();
    expect(await driver.send('a COPY 1 INBOX\r\n')).toBe(
      'a BAD Command unknown or not valid in this state\r\n',
    );
  });
});

describe('ImapServerSession: MOVE', () => {
  it('MOVE sends COPYUID untagged, then EXPUNGE for each message moved', async () => {
    const driver = await withInbox();
    const archive = await validity(driver, 'Archive');
    expect(await driver.send('a MOVE 1,3 Archive\r\n')).toBe(
      `* OK [COPYUID ${archive} 1,3 1:2] Moved UIDs.\r\n* 1 EXPUNGE\r\n* 2 EXPUNGE\r\na OK Move completed\r\n`,
    );
    expect(await driver.send('b FETCH 1:* UID\r\n')).toBe('* 1 FETCH (UID 2)\r\nb OK Fetch completed\r\n');
    expect(await driver.send('c UID MOVE 2 Archive\r\n')).toBe(
      `* OK [COPYUID ${archive} 2 3] Moved UIDs.\r\n* 1 EXPUNGE\r\nc OK Move completed\r\n`,
    );
    expect(await uidsOf(driver, 'INBOX')).toEqual([]);
    expect(await uidsOf(driver, 'Archive')).toEqual([1, 2, 3]);
  });

  it('MOVE within the selected mailbox renumbers; an EXAMINEd mailbox refuses; TRYCREATE', async () => {
    const driver = await withInbox();
    const inbox = await validity(driver, 'INBOX');
    expect(await driver.send('a MOVE 1 INBOX\r\n')).toBe(
      `* OK [COPYUID ${inbox} 1 4] Moved UIDs.\r\n* 1 EXPUNGE\r\n* 3 EXISTS\r\n* 3 RECENT\r\na OK Move completed\r\n`,
    );
    expect(await driver.send('b FETCH 1:* UID\r\n')).toBe(
      '* 1 FETCH (UID 2)\r\n* 2 FETCH (UID 3)\r\n* 3 FETCH (UID 4)\r\nb OK Fetch completed\r\n',
    );
    expect(await driver.send('c MOVE 1 Nope\r\n')).toMatch(/^c NO \[TRYCREATE\] /);
    expect(await driver.send('d EXAMINE INBOX\r\ne MOVE 1 Archive\r\n')).toMatch(
      /\r\ne NO Mailbox is read-only\r\n$/,
    );
    expect(await uidsOf(driver, 'Archive')).toEqual([]);
  });

  it('MOVE is offered in CAPABILITY', async () => {
    const driver = await loggedIn();
    expect(driver.session.capabilities).toEqual(expect.arrayContaining(['MOVE', 'UIDPLUS']));
  });
});

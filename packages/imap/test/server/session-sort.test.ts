import { describe, expect, it } from 'vitest';
import { type Driver, loggedIn } from './driver.js';

const encoder = new TextEncoder();

/** A small thread: a question, a reply, a reply to the reply, an unrelated message, and a forward. */
const MESSAGES: readonly (readonly [text: string, date: string])[] = [
  [
    'From: Carol <carol@example.com>\r\nSubject: Budget\r\nMessage-ID: <1@x>\r\n' +
      'Date: Tue, 2 Jan 2024 10:00:00 +0000\r\n\r\nq\r\n',
    '2024-01-02T10:00:00Z',
  ],
  [
    'From: alice@example.com\r\nSubject: Re: Budget\r\nMessage-ID: <2@x>\r\nIn-Reply-To: <1@x>\r\n' +
      'Date: Tue, 2 Jan 2024 11:00:00 +0000\r\n\r\na much longer answer than the others\r\n',
    '2024-01-02T11:00:00Z',
  ],
  [
    'From: Bob <bob@example.com>\r\nSubject: Lunch\r\nMessage-ID: <3@x>\r\n' +
      'Date: Mon, 1 Jan 2024 09:00:00 +0000\r\n\r\nl\r\n',
    '2024-01-03T09:00:00Z',
  ],
  [
    'From: Dan <dan@example.com>\r\nSubject: RE: Re: budget\r\nMessage-ID: <4@x>\r\n' +
      'References: <1@x> <2@x>\r\nDate: Tue, 2 Jan 2024 12:00:00 +0000\r\n\r\nr\r\n',
    '2024-01-04T12:00:00Z',
  ],
];

async function withMessages(): Promise<Driver> {
  const driver = await loggedIn();
  const inbox = await (await driver.store.user('alice')).open('INBOX');
  for (const [text, date] of MESSAGES)
    await inbox.append(encoder.encode(text), { internalDate: new Date(date) });
  await inbox.close();
  await driver.send('s SELECT INBOX\r\n');
  return driver;
}

describe('ImapServerSession: SORT', () => {
  it('sorts the messages matching the keys by each criterion, with REVERSE and the UID form', async () => {
    const driver = await withMessages();
    const cases: [string, string][] = [
      ['(DATE) UTF-8 ALL', '3 1 2 4'],
      ['(REVERSE DATE) UTF-8 ALL', '4 2 1 3'],
      ['(ARRIVAL) US-ASCII ALL', '1 2 3 4'],
      ['(SUBJECT DATE) UTF-8 ALL', '1 2 4 3'],
      ['(FROM) UTF-8 ALL', '2 3 1 4'],
      ['(DISPLAYFROM) UTF-8 ALL', '2 3 1 4'],
      ['(SIZE) UTF-8 NOT FROM bob', '1 4 2'],
      ['(REVERSE SIZE) UTF-8 SUBJECT budget', '2 4 1'],
    ];
    for (const [criteria, expected] of cases)
      expect([criteria, await driver.send(`t SORT ${criteria}\r\n`)]).toEqual([
        criteria,
        `* SORT ${expected}\r\nt OK Sort completed\r\n`,
      ]);
    expect(await driver.send('u UID SORT (REVERSE ARRIVAL) UTF-8 2:3\r\n')).toBe(
      '* SORT 3 2\r\nu OK Sort completed\r\n',
    );
  });

  it('refuses an unknown criterion or charset', async () => {
    const driver = await withMessages();
    expect(await driver.send('a SORT (COLOUR) UTF-8 ALL\r\n')).toMatch(/^a BAD /);
    expect(await driver.send('b SORT (DATE) KOI8-R ALL\r\n')).toMatch(/^b NO \[BADCHARSET/);
  });
});

describe('ImapServerSession: THREAD', () => {
  it('REFERENCES follows In-Reply-To and References; ORDEREDSUBJECT groups by base subject', async () => {
    const driver = await withMessages();
    expect(await driver.send('a THREAD REFERENCES UTF-8 ALL\r\n')).toBe(
      '* THREAD (3)(1 2 4)\r\na OK Thread completed\r\n',
    );
    expect(await driver.send('b THREAD ORDEREDSUBJECT UTF-8 ALL\r\n')).toBe(
      '* THREAD (3)(1 (2)(4))\r\nb OK Thread completed\r\n',
    );
    expect(await driver.send('c UID THREAD REFERENCES US-ASCII NOT FROM bob\r\n')).toBe(
      '* THREAD (1 2 4)\r\nc OK Thread completed\r\n',
    );
    expect(await driver.send('d THREAD SNAKES UTF-8 ALL\r\n')).toMatch(/^d BAD /);
  });
});

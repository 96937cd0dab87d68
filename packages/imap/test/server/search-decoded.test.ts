import { concatBytes } from '@postwire/core';
import { createMemoryStore, describeMessage, type Mailbox, type UserMail } from '@postwire/store';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ImapStoreBridge } from '../../src/index.js';
import { searchMessageText } from '../../src/server/message-text.js';
import type { SearchTextTerm } from '../../src/server/search.js';
import { foldCase, TextMatcher } from '../../src/server/text-matcher.js';
import { type Driver, loggedIn } from './driver.js';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
/** One octet per character: for text in a single-byte charset. */
const octets = (text: string): Uint8Array => Uint8Array.from(text, (char) => char.charCodeAt(0));
const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const message = (...parts: (string | Uint8Array)[]): Uint8Array =>
  concatBytes(parts.map((part) => (typeof part === 'string' ? utf8(part) : part)));

/** 日本語のメール in Shift_JIS. */
const SHIFT_JIS = Uint8Array.of(
  0x93,
  0xfa,
  0x96,
  0x7b,
  0x8c,
  0xea,
  0x82,
  0xcc,
  0x83,
  0x81,
  0x81,
  0x5b,
  0x83,
  0x8b,
);

const EMBEDDED =
  'From: carol@example.org\r\nSubject: =?UTF-8?B?SW5uZW5sZWJlbg==?=\r\n' +
  'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n' +
  '--alt\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n' +
  'Gem=C3=BCsesuppe im Innen=\r\nhof\r\n' +
  '--alt\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n' +
  `${base64(utf8('<p>Kürbiskerne</p>\r\n'))}\r\n--alt--\r\n`;

/** The messages of the mailbox, by sequence number from 1. */
const MESSAGES: readonly Uint8Array[] = [
  message(
    'Subject: base64\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n',
    `${base64(utf8('Le déjeuner est servi à midi, dans la véranda.\r\n'))}\r\n`,
  ),
  message(
    'Subject: qp\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n',
    'Un caf=\r\n=C3=A9 cr=C3=A8me, puis un th=\r\né vert.\r\nKaffee=\r\nhaus\r\n',
  ),
  message(
    'Subject: latin1\r\nContent-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n',
    octets('Gr\xfc\xdfe aus M\xfcnchen\r\n'),
  ),
  message(
    'Subject: cp1252\r\nContent-Type: text/plain; charset=windows-1252\r\n' +
      'Content-Transfer-Encoding: quoted-printable\r\n\r\n=93Zitat=94 kostet =80 5\r\n',
  ),
  message(
    'Subject: sjis\r\nContent-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: 8bit\r\n\r\n',
    SHIFT_JIS,
    '\r\n',
  ),
  message(
    'Subject: attachment\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n',
    '--b\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n',
    '--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n',
    `${base64(utf8('The secret-word lives in this attachment only.'))}\r\n--b--\r\n`,
  ),
  message('Subject: =?ISO-8859-1?Q?R=E9union_annuelle?=\r\n\r\nOrdre du jour joint.\r\n'),
  message(
    'Subject: forwarded\r\nContent-Type: multipart/mixed; boundary="out"\r\n\r\n',
    '--out\r\nContent-Type: text/plain\r\n\r\nForwarded below.\r\n',
    `--out\r\nContent-Type: message/rfc822\r\n\r\n${EMBEDDED}--out--\r\n`,
  ),
];

async function withMessages(): Promise<Driver> {
  const driver = await loggedIn();
  const inbox = await (await driver.store.user('alice')).open('INBOX');
  for (const bytes of MESSAGES) await inbox.append(bytes);
  await inbox.close();
  expect(await driver.send('s SELECT INBOX\r\n')).toMatch(/\r\ns OK /);
  return driver;
}

/** The sequence numbers `* SEARCH` answers. */
async function search(driver: Driver, criteria: string): Promise<string> {
  const answer = await driver.send(`t SEARCH ${criteria}\r\n`);
  const match = /^\* SEARCH([ \d]*)\r\nt OK Search completed\r\n$/.exec(answer);
  if (!match) throw new Error(`unexpected answer to SEARCH ${criteria}: ${answer}`);
  return match[1]!.trim();
}

describe('SEARCH BODY and TEXT over decoded text', () => {
  it('finds words in the decoded text parts, whatever their encoding and charset', async () => {
    const driver = await withMessages();
    const cases: [string, string][] = [
      ['BODY "déjeuner"', '1'],
      ['BODY "VÉRANDA"', '1'],
      ['BODY TGUgZMOp', ''],
      ['BODY "café crème"', '2'],
      ['BODY "thé vert"', '2'],
      ['BODY kaffeehaus', '2'],
      ['BODY "=C3"', ''],
      ['BODY "grüsse aus münchen"', '3'],
      ['BODY "“Zitat” kostet € 5"', '4'],
      ['BODY "メール"', '5'],
      ['TEXT "日本語の"', '5'],
      ['BODY attached', '6'],
      ['BODY "gemüsesuppe"', '8'],
    ];
    for (const [criteria, expected] of cases)
      expect([criteria, await search(driver, `CHARSET UTF-8 ${criteria}`)]).toEqual([criteria, expected]);
    const literal = utf8('münchen');
    expect(await search(driver, `CHARSET UTF-8 BODY {${literal.length}+}\r\nmünchen`)).toBe('3');
  });

  it('leaves attachments out, and searches headers for TEXT only', async () => {
    const driver = await withMessages();
    const cases: [string, string][] = [
      ['BODY secret-word', ''],
      ['TEXT secret-word', ''],
      ['BODY VGhlIHNlY3JldC13b3Jk', ''],
      ['TEXT octet-stream', '6'],
      ['BODY octet-stream', ''],
      ['TEXT "réunion annuelle"', '7'],
      ['TEXT "subject: réunion"', '7'],
      ['BODY "réunion"', ''],
      ['SUBJECT "réunion"', '7'],
      ['TEXT "ordre du jour"', '7'],
      ['NOT TEXT subject', ''],
      ['BODY subject', ''],
    ];
    for (const [criteria, expected] of cases)
      expect([criteria, await search(driver, `CHARSET UTF-8 ${criteria}`)]).toEqual([criteria, expected]);
  });

  it('reads the parts and headers of an embedded message', async () => {
    const driver = await withMessages();
    const cases: [string, string][] = [
      ['BODY "gemüsesuppe im innenhof"', '8'],
      ['BODY "kürbiskerne"', '8'],
      ['BODY "forwarded below"', '8'],
      ['TEXT innenleben', '8'],
      ['BODY innenleben', ''],
      ['TEXT carol@example.org', '8'],
      ['TEXT multipart/alternative', '8'],
      ['OR BODY "kürbiskerne" BODY "déjeuner"', '1 8'],
    ];
    for (const [criteria, expected] of cases)
      expect([criteria, await search(driver, `CHARSET UTF-8 ${criteria}`)]).toEqual([criteria, expected]);
  });

  it('any chunking of the message gives the same answer', async () => {
    const terms: SearchTextTerm[] = [
      { value: 'Gemüsesuppe im Innenhof', body: true },
      { value: 'kürbiskerne', body: true },
      { value: 'innenleben', body: true },
      { value: 'Innenleben', body: false },
      { value: 'forwarded below', body: false },
      { value: 'secret-word', body: false },
    ];
    const expected = [true, true, false, true, true, false];
    const cases = [
      MESSAGES[7]!,
      message('Subject: Forwarded below\r\nContent-Type: message/rfc822\r\n\r\n', EMBEDDED),
    ];
    for (const bytes of cases) {
      const structure = describeMessage(bytes);
      for (let size = 1; size <= 9; size++) {
        const read = async function* (start: number, end: number): AsyncGenerator<Uint8Array> {
          for (let at = start; at < end; at += size) yield bytes.subarray(at, Math.min(at + size, end));
        };
        expect([size, await searchMessageText(structure, read, terms)]).toEqual([size, expected]);
      }
    }
  });

  it('stops reading once every term is found', async () => {
    const bytes = MESSAGES[7]!;
    const structure = describeMessage(bytes);
    const reads: number[] = [];
    const read = async function* (start: number, end: number): AsyncGenerator<Uint8Array> {
      reads.push(start);
      yield bytes.subarray(start, end);
    };
    expect(await searchMessageText(structure, read, [{ value: 'forwarded', body: true }])).toEqual([true]);
    expect(reads).toEqual([structure.parts.children![0]!.bodyStart]);
  });

  it('falls back to the raw octets when the store has no structure for a message', async () => {
    const store = createMemoryStore();
    const mail = await store.user('alice');
    const inbox = await mail.open('INBOX');
    await inbox.append(MESSAGES[0]!);
    await inbox.close();
    const forward = (target: object, key: PropertyKey): unknown => {
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    };
    const withoutStructure = (mailbox: Mailbox): Mailbox =>
      new Proxy(mailbox, {
        get: (target, key) =>
          key === 'structure' ? () => Promise.reject(new Error('unparsable')) : forward(target, key),
      });
    const broken = new Proxy(mail, {
      get: (target, key) =>
        key === 'open'
          ? async (name: string) => withoutStructure(await target.open(name))
          : forward(target, key),
    }) as UserMail;
    const bridge = new ImapStoreBridge(broken);
    await bridge.run({ op: 'select', mailbox: 'INBOX', readOnly: true });
    const terms = [
      { value: 'TGUgZMOp', body: true },
      { value: 'déjeuner', body: true },
    ];
    expect(await bridge.run({ op: 'search-text', uids: [1], terms })).toEqual([[true, false]]);
    await bridge.close();
  });
});

/** Characters that compose, reorder, change length or depend on context when folded. */
const ALPHABET = [
  'a',
  'e',
  'E',
  '\u0301',
  '\u0323',
  'é',
  'ß',
  'S',
  's',
  'Σ',
  'σ',
  'ς',
  ' ',
  'か',
  '\u3099',
  'が',
  '日',
  '😀',
  'İ',
  'ﬃ',
];

describe('TextMatcher', () => {
  it('any split of the text into pieces gives the answer of the whole text', () => {
    const piece = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 5 });
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 8 }),
        fc.array(fc.tuple(fc.nat(40), fc.integer({ min: 1, max: 4 })), { maxLength: 4 }),
        piece,
        (pieces, slices, other) => {
          const chars = pieces.flat();
          const needles = [
            ...slices.map(([from, length]) => chars.slice(from, from + length).join('')),
            other.join(''),
          ];
          const matcher = new TextMatcher(needles);
          for (const text of pieces) matcher.feed(text.join(''));
          matcher.end();
          const folded = foldCase(chars.join(''));
          expect(matcher.found).toEqual(needles.map((needle) => folded.includes(foldCase(needle))));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('folds case, ß to ss and the final sigma, and keeps stretches apart', () => {
    const matcher = new TextMatcher(['STRASSE', 'οδοσ ', 'ab', 'café']);
    matcher.feed('Straße ΟΔΟΣ caf');
    matcher.feed('e\u0301 a');
    matcher.end();
    matcher.feed('b');
    matcher.end();
    expect(matcher.found).toEqual([true, true, false, true]);
    expect(new TextMatcher([]).done).toBe(true);
  });
});

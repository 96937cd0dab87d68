/**
 * The same IMAP conversations against Postwire's server and a real Dovecot 2.3, each serving its own copy
 * of one Maildir (written by Postwire's Maildir store, so UIDs, UIDVALIDITY, flags, keywords and
 * INTERNALDATEs are the same on both sides), compared answer by answer after normalisation. Read-only
 * conversations run first; the ones that change mail run last, in order, the same on both copies.
 *
 * Judged differences (what ../support/response-normaliser.ts makes equal, and why that is acceptable):
 *  1. Human-readable text of OK/NO/BAD/BYE (tagged and untagged) is dropped; the status and the response
 *     code are compared. The text is for humans (RFC 9051 §7.1). Whether our text is there at all is
 *     checked separately (it is not, for SELECT's codes: bug, see below).
 *  2. CAPABILITY lists (the response and the [CAPABILITY] code) are elided: the servers implement
 *     different extensions. The capabilities this file exercises are checked to be on both lists.
 *  3. `* n RECENT` counts and the \Recent flag: \Recent is session-dependent (Dovecot gives it to the
 *     first session that sees a message) and IMAP4rev2 removed it. In SELECT/EXAMINE the RECENT line
 *     must be there for IMAP4rev1 (RFC 3501 §6.3.1) and its presence is compared; elsewhere (after COPY
 *     or APPEND into the selected mailbox) Dovecot adds one next to EXISTS, which RFC 3501 §7.3.2 does not
 *     require, and it is dropped.
 *  4. Flag lists (FLAGS, PERMANENTFLAGS, FETCH FLAGS) and LIST attributes are sorted: they are sets.
 *  5. UIDVALIDITY of a mailbox created during the test is numbered by first appearance (each server picks
 *     its own, RFC 9051 §2.3.1.1). The seeded mailboxes share theirs, set to fixed values, compared exactly.
 *  6. Order of untagged responses of SELECT/EXAMINE and of LIST/LSUB lines (a LIST-STATUS line stays with
 *     its LIST): no order is defined (RFC 9051 §6.3.2, RFC 5258).
 *  7. FETCH: items sorted by name, item names upper-cased (Dovecot upper-cases the header names of
 *     `BODY[HEADER.FIELDS (From Subject)]`, we echo them as asked; names are case-insensitive), and a
 *     literal, a literal8 and a quoted string with the same octets are the same string (Dovecot sends a
 *     folded Subject as a literal in ENVELOPE, and 8-bit BINARY data as literal8 where we send a literal:
 *     RFC 3516 requires literal8 only for data with NUL, which we do send as literal8).
 *  8. BODYSTRUCTURE/BODY: type, subtype, parameter names, charset values, transfer encoding and
 *     disposition type compared case-insensitively (we upper-case them as RFC 3501's examples do, Dovecot
 *     keeps the message's spelling; all are case-insensitive by RFC 2045/2046/2183), and a body-fld-lang
 *     of one language as a string or a list of one (both are RFC 3501 body-fld-lang).
 *  9. body-fld-lines: Dovecot counts line ends, we also count a last line without one (a part before a
 *     boundary: the CRLF belongs to the boundary, RFC 2046 §5.1.1). RFC 3501 only says "size of the body
 *     in text lines"; see 'body-fld-lines of a part that does not end with a line end' for the exact values.
 * 10. LIST-EXTENDED (selection options, several patterns or RETURN): \HasChildren/\HasNoChildren are
 *     compared only when CHILDREN is asked for, special-use attributes only when SPECIAL-USE is; we send
 *     both always, Dovecot only when asked (RFC 5258 §4 and RFC 6154 §2: a server MAY give them unasked).
 * 11. ESEARCH return data sorted (Dovecot writes ALL before COUNT; RFC 4731 sets no order).
 * 12. SEARCH for a keyword no message has: Dovecot registers it and sends `* FLAGS` and PERMANENTFLAGS
 *     with it (its choice); those two untagged responses are dropped after SEARCH.
 * 13. `[BADCHARSET (…)]`: we list the charsets we support, Dovecot does not (optional, RFC 3501 §7.1).
 * 14. RFC 5530 codes we give and Dovecot does not (`[NONEXISTENT]` on SELECT/STATUS of a missing
 *     mailbox, `[CANNOT]` on DELETE INBOX) are dropped; the NO is compared, our codes are checked below.
 * 15. `* OK [UNSEEN n]` dropped from SELECT/EXAMINE — it was missing from ours (fixed, compared below).
 * 17. MAILBOXID (RFC 8474 OBJECTID) in SELECT and CREATE is dropped: Dovecot 2.3 does not offer OBJECTID.
 * 16. A partial BINARY's origin in the response item (`BINARY[1]<6>`): Dovecot gives it, we do not. RFC
 *     3516's and RFC 9051's msg-att-static have no origin for BINARY (their prose mentions one), so both
 *     forms are defensible; the item is compared without it.
 * Three results differ and are checked side by side rather than normalised: STORE in an EXAMINEd
 * mailbox (we answer NO, Dovecot OK "Store ignored"; neither changes anything, RFC 9051 §6.3.3),
 * SENTBEFORE for a message without Date (Dovecot takes sent date 0, we match no SENT* key; RFC 9051
 * §6.4.4 says nothing about a missing Date), and BODY[2.2.1] below a text part (RFC 3501 §6.4.5 gives
 * such a part no subparts: Dovecot answers with the part itself, we with an empty string).
 *
 * Bugs found, each fixed since (the tests named `fixed: …`):
 *  - SELECT/EXAMINE to an IMAP4rev1 client omits `* OK [UNSEEN n]` (RFC 3501 §6.3.1 lists it under
 *    "REQUIRED OK untagged responses").
 *  - `* OK [UIDVALIDITY n] ` etc. with an empty text: RFC 3501 §9 resp-text requires text (1*TEXT-CHAR).
 *  - SEARCH CHARSET UTF-8 BODY/TEXT does not decode a quoted-printable body (RFC 3501 §6.4.4: content
 *    transfer encodings MUST be decoded before comparing text in a charset other than US-ASCII).
 *  - SEARCH RETURN (SAVE MIN) saves every match in `$`, not only the minimum (RFC 5182 §2.4).
 * Comparisons of extensions we announce only in newer builds (SORT/THREAD, BINARY, WITHIN/SEARCHRES) skip
 * when our CAPABILITY lacks them.
 */
import { chmod, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MailStore } from '@postwire/store';
import { createMaildirStore } from '@postwire/store/maildir';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImapServer, type ImapServer } from '../../src/node/index.js';
import { dovecotAvailable, type ImapDovecot, startImapDovecot } from '../support/dovecot-imap.js';
import {
  ALTERNATIVE,
  ARCHIVE_2023_MESSAGES,
  ARCHIVE_MESSAGES,
  INBOX_MESSAGES,
  PLAIN,
} from '../support/mail-corpus.js';
import {
  type CommandParts,
  type Literal,
  RawImap,
  type RawReply,
  readableText,
} from '../support/raw-imap.js';
import { type NormaliserOptions, ResponseNormaliser } from '../support/response-normaliser.js';

const hasDovecot = dovecotAvailable();
if (!hasDovecot)
  console.warn(
    'skipping the comparison with Dovecot: dovecot (dovecot-core, dovecot-imapd) is not installed',
  );

const USER = 'alice';
const PASSWORD = 'secret';
const encoder = new TextEncoder();

let work: string;
let dovecot: ImapDovecot;
let server: ImapServer;
let store: MailStore;
let ourPort: number;

async function seed(root: string): Promise<void> {
  const seedStore = createMaildirStore({ root, fsync: false });
  const mail = await seedStore.user(USER);
  await mail.create('Archive');
  await mail.create('Archive/2023');
  await mail.create('Sent', { specialUse: '\\Sent' });
  await mail.create('Trash', { specialUse: '\\Trash' });
  await mail.create('Entwürfe');
  await mail.subscribe('INBOX');
  await mail.subscribe('Archive');
  for (const [name, messages] of [
    ['INBOX', INBOX_MESSAGES],
    ['Archive', ARCHIVE_MESSAGES],
    ['Archive/2023', ARCHIVE_2023_MESSAGES],
  ] as const) {
    const mailbox = await mail.open(name);
    for (const message of messages)
      await mailbox.append(encoder.encode(message.text), {
        flags: message.flags,
        internalDate: message.internalDate,
      });
    await mailbox.close();
  }
  await seedStore.close();
  // Fixed UIDVALIDITY values, far from the time-based ones either server gives a new mailbox.
  seeded = new Set();
  for (const [i, folder] of ['', '.Archive', '.Archive.2023', '.Sent', '.Trash', '.Entw&APw-rfe'].entries()) {
    const path = join(root, USER, folder, 'dovecot-uidlist');
    const uidlist = await readFile(path, 'utf8');
    await writeFile(path, uidlist.replace(/^(\d+) V\d+ /, `$1 V${1001 + i} `));
    seeded.add(1001 + i);
  }
}

beforeAll(async () => {
  if (!hasDovecot) return;
  work = await mkdtemp(join(tmpdir(), 'pw-imap-compare-'));
  await chmod(work, 0o755);
  const seedRoot = join(work, 'seed');
  await seed(seedRoot);
  await cp(seedRoot, join(work, 'ours'), { recursive: true, preserveTimestamps: true });
  await cp(seedRoot, join(work, 'dovecot'), { recursive: true, preserveTimestamps: true });
  dovecot = await startImapDovecot({
    users: { [USER]: PASSWORD },
    mailRoot: join(work, 'dovecot'),
    extraConfig: [
      'namespace inbox {',
      '  inbox = yes',
      '  separator = /',
      '  mailbox Sent {\n    special_use = \\Sent\n  }',
      '  mailbox Trash {\n    special_use = \\Trash\n  }',
      '}',
    ],
  });
  store = createMaildirStore({ root: join(work, 'ours'), fsync: false });
  server = createImapServer({
    store,
    host: '127.0.0.1',
    port: 0,
    allowCleartextLogin: true,
    sasl: { verifiers: { lookupPassword: (user: string) => (user === USER ? PASSWORD : undefined) } },
  });
  ourPort = (await server.listen()).port;
}, 30_000);

afterAll(async () => {
  await server?.close({ timeout: 1000 });
  await store?.close();
  await dovecot?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** The UIDVALIDITY of every mailbox of the seed: both copies share them. */
let seeded: Set<number>;

/** One conversation's normalised transcript: `C: <command>`, then the responses. */
type Transcript = string[];

/** A command as the transcript shows it (a literal as `{n}` and its text). */
function shown(command: CommandParts): string {
  if (typeof command === 'string') return command;
  return command
    .map((part) =>
      typeof part === 'string' ? part : `{${Buffer.byteLength(part.literal as string)}}${part.literal}`,
    )
    .join('');
}

/** A literal argument. */
const lit = (text: string): Literal => ({ literal: text });

/** Runs `commands` after LOGIN on a fresh connection to each server; resolves both transcripts. */
async function converse(
  commands: readonly CommandParts[],
  options: NormaliserOptions = {},
): Promise<{ ours: Transcript; dovecot: Transcript; raw: { ours: RawReply[]; dovecot: RawReply[] } }> {
  const run = async (port: number): Promise<[Transcript, RawReply[]]> => {
    const imap = await RawImap.connect(port);
    const normaliser = new ResponseNormaliser({ knownUidValidities: seeded, ...options });
    try {
      const login = await imap.command(`LOGIN ${USER} ${PASSWORD}`);
      if (login.status !== 'OK') throw new Error(`login failed: ${login.tagged}`);
      const transcript: Transcript = [];
      const replies: RawReply[] = [];
      for (const command of commands) {
        const reply = await imap.command(command);
        replies.push(reply);
        transcript.push(`C: ${shown(command)}`, ...normaliser.normalise(shown(command), reply));
      }
      return [transcript, replies];
    } finally {
      await imap.close();
    }
  };
  const [[ours, ourReplies], [theirs, theirReplies]] = await Promise.all([run(ourPort), run(dovecot.port)]);
  if (process.env.COMPARE_DUMP) await dumpRaw(commands, ourReplies, theirReplies);
  return { ours, dovecot: theirs, raw: { ours: ourReplies, dovecot: theirReplies } };
}

let dumps = 0;

/** With COMPARE_DUMP=<dir>: both servers' raw answers, one file each per conversation, to diff by hand. */
async function dumpRaw(
  commands: readonly CommandParts[],
  ours: RawReply[],
  theirs: RawReply[],
): Promise<void> {
  const text = (replies: RawReply[]) =>
    replies
      .map((reply, i) =>
        [`C: ${shown(commands[i]!)}`, ...[...reply.untagged, reply.tagged].map(readableText)].join('\n'),
      )
      .join('\n');
  const n = ++dumps;
  await writeFile(join(process.env.COMPARE_DUMP!, `${n}-ours.txt`), text(ours));
  await writeFile(join(process.env.COMPARE_DUMP!, `${n}-dovecot.txt`), text(theirs));
}

/** Runs `commands` on both servers and expects the same normalised answers. */
async function expectSameAnswers(
  commands: readonly CommandParts[],
  options: NormaliserOptions = {},
): Promise<void> {
  const { ours, dovecot } = await converse(commands, options);
  expect(ours).toEqual(dovecot);
}

const SECTIONS = [
  'BODY.PEEK[]',
  'BODY.PEEK[HEADER]',
  'BODY.PEEK[TEXT]',
  'BODY.PEEK[1]',
  'BODY.PEEK[1.MIME]',
  'BODY.PEEK[HEADER.FIELDS (From Subject)]',
  'BODY.PEEK[]<0.100>',
];

/** The capabilities this file exercises, which both servers must announce. */
const EXERCISED = [
  'IMAP4rev1',
  'LITERAL+',
  'NAMESPACE',
  'UNSELECT',
  'UIDPLUS',
  'MOVE',
  'LIST-EXTENDED',
  'LIST-STATUS',
  'SPECIAL-USE',
  'CHILDREN',
  'STATUS=SIZE',
];

describe.skipIf(!hasDovecot)('Postwire and Dovecot over the same Maildir: reading', () => {
  it('both announce the capabilities exercised here', async () => {
    const { raw } = await converse(['CAPABILITY']);
    const names = (reply: RawReply) => reply.untagged[0]!.split(' ').slice(2);
    for (const capability of EXERCISED) {
      expect(names(raw.ours[0]!), capability).toContain(capability);
      expect(names(raw.dovecot[0]!), capability).toContain(capability);
    }
    // SEARCH RETURN (ESEARCH, RFC 4731) comes with IMAP4rev2 on our side.
    expect(names(raw.dovecot[0]!)).toContain('ESEARCH');
    expect(names(raw.ours[0]!).filter((name) => name === 'ESEARCH' || name === 'IMAP4rev2')).not.toEqual([]);
  });

  it('LIST, LSUB, LIST-EXTENDED, LIST-STATUS, NAMESPACE and STATUS', async () => {
    await expectSameAnswers([
      'LIST "" "*"',
      'LIST "" "%"',
      'LIST "" "Archive/%"',
      'LIST "" "*2023"',
      'LIST "" ""',
      'LIST "Archive/" "%"',
      'LIST (SUBSCRIBED) "" "*"',
      'LSUB "" "*"',
      'LSUB "" "%"',
      'LIST "" "*" RETURN (SPECIAL-USE CHILDREN STATUS (MESSAGES UNSEEN))',
      'LIST (SPECIAL-USE) "" "*"',
      'LIST "" ("INBOX" "Sent")',
      'LIST "" "*" RETURN (SUBSCRIBED)',
      'NAMESPACE',
      'STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE)',
      'STATUS Archive (MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE)',
      'STATUS Archive/2023 (MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE)',
      'STATUS "Entw&APw-rfe" (MESSAGES)',
      'STATUS Nope (MESSAGES)',
    ]);
  });

  it('SELECT and EXAMINE: FLAGS, PERMANENTFLAGS, EXISTS, RECENT, UIDVALIDITY, UIDNEXT, READ-WRITE/READ-ONLY', async () => {
    await expectSameAnswers([
      'SELECT INBOX',
      'EXAMINE Archive',
      'SELECT Archive/2023',
      'EXAMINE INBOX',
      'SELECT Nope',
      'EXAMINE Trash',
    ]);
  });

  it('FETCH FLAGS, INTERNALDATE, RFC822.SIZE, ENVELOPE, BODYSTRUCTURE and BODY of every message', async () => {
    await expectSameAnswers([
      'EXAMINE INBOX',
      'FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)',
      'FETCH 1:* BODY',
      'UID FETCH 1:* (FLAGS)',
      'FETCH 1:* FAST',
      'FETCH 2:4 ALL',
      'EXAMINE Archive',
      'UID FETCH 1:* FULL',
      'UID FETCH 3 (BODYSTRUCTURE BODY.PEEK[1.MIME])',
    ]);
  });

  it('FETCH body sections of every message', async () => {
    await expectSameAnswers([
      'EXAMINE INBOX',
      ...INBOX_MESSAGES.map((_, i) => `FETCH ${i + 1} (${SECTIONS.join(' ')})`),
      'FETCH 3 (BODY.PEEK[2] BODY.PEEK[2.MIME] BODY.PEEK[1]<10.20>)',
      'FETCH 4 (BODY.PEEK[2] BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[2.1] BODY.PEEK[2.2.MIME] BODY.PEEK[2.HEADER.FIELDS (Subject)])',
      'FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (Subject Date Return-Path)] RFC822.HEADER RFC822.SIZE)',
      'FETCH 1 (BODY.PEEK[]<100.50> BODY.PEEK[]<2000.10>)',
      'UID FETCH 5 (BODY.PEEK[TEXT]<0.20>)',
    ]);
  });

  it('SEARCH and UID SEARCH with every kind of key', async () => {
    await expectSameAnswers([
      'EXAMINE INBOX',
      'SEARCH ALL',
      'SEARCH UNSEEN',
      'SEARCH SEEN',
      'SEARCH FLAGGED',
      'SEARCH ANSWERED',
      'SEARCH UNANSWERED UNFLAGGED',
      'SEARCH KEYWORD Work',
      'SEARCH UNKEYWORD Work',
      'SEARCH KEYWORD $Label1',
      'SEARCH KEYWORD Nothing',
      'SEARCH FROM bob',
      'SEARCH FROM "example.de"',
      'SEARCH TO alice',
      'SEARCH CC "Dave"',
      'SEARCH SUBJECT report',
      'SEARCH SUBJECT "QUARTERLY REPORT"',
      'SEARCH BODY lunch',
      'SEARCH BODY "quarterly figures"',
      'SEARCH BODY "inner report"',
      'SEARCH TEXT alice',
      'SEARCH TEXT "abc-123"',
      'SEARCH LARGER 500',
      'SEARCH SMALLER 430',
      'SEARCH SINCE 4-Jan-2024',
      'SEARCH BEFORE 4-Jan-2024',
      'SEARCH ON 4-Jan-2024',
      'SEARCH SENTSINCE 3-Jan-2024',
      'SEARCH SENTON 2-Jan-2024',
      'SEARCH 1:5 SENTBEFORE 3-Jan-2024',
      'SEARCH HEADER Message-ID "<alt-2@example.de>"',
      'SEARCH HEADER X-Tracking ""',
      'SEARCH HEADER In-Reply-To plain-1',
      'SEARCH OR FLAGGED ANSWERED',
      'SEARCH NOT SEEN',
      'SEARCH OR (FROM bob) (SUBJECT figures)',
      'SEARCH UID 2:4',
      'SEARCH UID 3:*',
      'SEARCH 2,4:*',
      'SEARCH 1:3 SEEN',
      'SEARCH NEW',
      'SEARCH OLD',
      'SEARCH DRAFT',
      'UID SEARCH ALL',
      'UID SEARCH UNSEEN',
      'UID SEARCH 2:3',
      ['SEARCH CHARSET UTF-8 SUBJECT ', lit('Grüße')],
      ['SEARCH CHARSET UTF-8 FROM ', lit('Müller')],
      ['SEARCH CHARSET UTF-8 TO ', lit('Wölfl')],
      ['SEARCH CHARSET UTF-8 TEXT ', lit('München')],
      'SEARCH CHARSET US-ASCII SUBJECT report',
      'SEARCH CHARSET X-UNKNOWN SUBJECT report',
      'SEARCH FROZEN',
    ]);
  });

  it('ESEARCH: SEARCH RETURN (MIN MAX COUNT ALL)', async () => {
    await expectSameAnswers([
      'EXAMINE INBOX',
      'SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN',
      'SEARCH RETURN () FLAGGED',
      'SEARCH RETURN (COUNT) ALL',
      'SEARCH RETURN (MIN) KEYWORD Nothing',
      'SEARCH RETURN (ALL) SEEN',
      'UID SEARCH RETURN (MIN MAX COUNT ALL) ALL',
      'UID SEARCH RETURN (ALL) NOT SEEN',
    ]);
  });

  it('FETCH of parts that do not exist, and of the part 1 of an encapsulated non-multipart message', async () => {
    await expectSameAnswers([
      'EXAMINE INBOX',
      'FETCH 2 (BODY.PEEK[3] BODY.PEEK[1.2] BODY.PEEK[2.MIME])',
      'FETCH 1 (BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2])',
      'FETCH 4 (BODY.PEEK[2.1.MIME] BODY.PEEK[2.2.MIME])',
      'EXAMINE Archive/2023',
      'FETCH 1 (BODYSTRUCTURE ENVELOPE)',
      'FETCH 1 (BODY.PEEK[2] BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[2.1] BODY.PEEK[2.1.MIME])',
    ]);
  });

  it('SORT and THREAD (RFC 5256), SORT=DISPLAY (RFC 5957), when we announce them', async (context) => {
    const { raw } = await converse(['CAPABILITY']);
    const ours = raw.ours[0]!.untagged[0]!.split(' ');
    if (!ours.includes('SORT') || !ours.includes('THREAD=REFERENCES')) context.skip();
    await expectSameAnswers([
      'EXAMINE INBOX',
      'SORT (SUBJECT) UTF-8 ALL',
      'SORT (REVERSE DATE) UTF-8 ALL',
      'SORT (DATE) UTF-8 ALL',
      'SORT (ARRIVAL) US-ASCII ALL',
      'SORT (FROM) UTF-8 ALL',
      'SORT (TO) UTF-8 ALL',
      'SORT (CC) UTF-8 ALL',
      'SORT (SIZE) UTF-8 ALL',
      'SORT (REVERSE SIZE SUBJECT) UTF-8 SEEN',
      'UID SORT (DATE) UTF-8 UNSEEN',
      ...(ours.includes('SORT=DISPLAY')
        ? ['SORT (DISPLAYFROM) UTF-8 ALL', 'SORT (DISPLAYTO) UTF-8 ALL']
        : []),
      'THREAD ORDEREDSUBJECT UTF-8 ALL',
      'THREAD REFERENCES UTF-8 ALL',
      'UID THREAD REFERENCES UTF-8 ALL',
    ]);
  });

  it('BINARY (RFC 3516): decoded parts and their sizes, when we announce it', async (context) => {
    const { raw } = await converse(['CAPABILITY']);
    if (!raw.ours[0]!.untagged[0]!.split(' ').includes('BINARY')) context.skip();
    await expectSameAnswers([
      'EXAMINE INBOX',
      'FETCH 2 (BINARY.SIZE[1] BINARY.PEEK[1] BINARY.SIZE[2])',
      'FETCH 3 (BINARY.SIZE[2] BINARY.SIZE[1] BINARY.PEEK[2])',
      'FETCH 5 (BINARY.PEEK[1] BINARY.SIZE[1] BINARY.PEEK[]<0.40>)',
      'FETCH 1 (BINARY.PEEK[1]<6.20>)',
    ]);
  });

  it('WITHIN (RFC 5032) and SEARCHRES (RFC 5182), when we announce them', async (context) => {
    const { raw } = await converse(['CAPABILITY']);
    const ours = raw.ours[0]!.untagged[0]!.split(' ');
    if (!ours.includes('WITHIN') || !ours.includes('SEARCHRES')) context.skip();
    await expectSameAnswers([
      'EXAMINE INBOX',
      'SEARCH OLDER 86400',
      'SEARCH YOUNGER 86400',
      'SEARCH RETURN (SAVE) FLAGGED',
      'FETCH $ (UID FLAGS)',
      'UID SEARCH RETURN (SAVE ALL) SEEN',
      'UID FETCH $ (UID)',
      'SEARCH $ SUBJECT lunch',
      'SEARCH RETURN (SAVE) KEYWORD Nothing',
      'FETCH $ (UID)',
    ]);
  });

  it('judged: STORE in an EXAMINEd mailbox is NO here, OK "ignored" in Dovecot; neither changes a flag', async () => {
    const { ours, dovecot, raw } = await converse([
      'EXAMINE Archive',
      'STORE 1 +FLAGS (\\Flagged)',
      'FETCH 1 (FLAGS)',
    ]);
    expect(raw.ours[1]!.status).toBe('NO');
    expect(raw.dovecot[1]).toMatchObject({ status: 'OK', tagged: expect.stringMatching(/ignored/) });
    expect(raw.ours[1]!.untagged).toEqual([]);
    expect(raw.dovecot[1]!.untagged).toEqual([]);
    // The FETCH after it: the flags as they were (\Recent aside, rule 3).
    const fetched = (transcript: string[]) => transcript.filter((line) => line.startsWith('* 1 FETCH'));
    expect(fetched(ours)).toEqual(['* 1 FETCH (FLAGS (\\Seen))']);
    expect(fetched(dovecot)).toEqual(['* 1 FETCH (FLAGS (\\Seen))']);
  });

  it('judged: SENTBEFORE matches a message without Date in Dovecot (sent date 0), not here', async () => {
    const { raw } = await converse([
      'EXAMINE INBOX',
      'SEARCH SENTBEFORE 3-Jan-2024',
      'SEARCH SENTSINCE 1-Jan-1970',
    ]);
    expect(raw.dovecot.slice(1).map((reply) => reply.untagged)).toEqual([
      ['* SEARCH 1 2 6'],
      ['* SEARCH 1 2 3 4 5 6'],
    ]);
    expect(raw.ours.slice(1).map((reply) => reply.untagged)).toEqual([
      ['* SEARCH 1 2'],
      ['* SEARCH 1 2 3 4 5'],
    ]);
  });

  it('judged: body-fld-lines of a part that does not end with a line end (Dovecot 0, ours 1)', async () => {
    const { raw } = await converse(['EXAMINE INBOX', 'FETCH 1:* BODY'], { ignoreBodyLines: false });
    // The text parts' line counts, message by message, in the order they appear.
    const lines = (replies: RawReply[]) =>
      replies[1]!.untagged.map((response) =>
        [...response.matchAll(/"7bit" \d+ (\d+)|"quoted-printable" \d+ (\d+)|"8bit" \d+ (\d+)/gi)].map((m) =>
          Number(m[1] ?? m[2] ?? m[3]),
        ),
      );
    expect(lines(raw.dovecot)).toEqual([[5], [0, 0], [1], [0, 0, 0], [3], [1]]);
    expect(lines(raw.ours)).toEqual([[5], [1, 1], [1], [1, 1, 1], [3], [1]]);
  });

  it('judged: BODY[2.2.1], below a part that is neither multipart nor message: Dovecot gives part 2.2, we give an empty string', async () => {
    const { raw } = await converse(['EXAMINE INBOX', 'FETCH 4 (BODY.PEEK[2.2.1])']);
    expect(raw.dovecot[1]!.untagged).toEqual([
      '* 4 FETCH (BODY[2.2.1] {29}\r\n<p>The inner report text.</p>)',
    ]);
    expect(raw.ours[1]!.untagged).toEqual(['* 4 FETCH (BODY[2.2.1] {0}\r\n)']);
  });

  it('our RFC 5530 response codes where Dovecot gives none', async () => {
    const { raw } = await converse(['STATUS Nope (MESSAGES)', 'SELECT Nope', 'DELETE INBOX']);
    expect(raw.ours.map((reply) => /^\S+ (NO \[\S+\])/.exec(reply.tagged)?.[1])).toEqual([
      'NO [NONEXISTENT]',
      'NO [NONEXISTENT]',
      'NO [CANNOT]',
    ]);
    expect(raw.dovecot.map((reply) => reply.status)).toEqual(['NO', 'NO', 'NO']);
  });

  it('fixed: SELECT/EXAMINE to an IMAP4rev1 client gives OK [UNSEEN n] (RFC 3501 §6.3.1)', async () => {
    const { ours, dovecot } = await converse(['SELECT INBOX', 'EXAMINE Archive'], { dropUnseenCode: false });
    expect(dovecot).toContain('* OK [UNSEEN 2]');
    expect(ours).toEqual(dovecot);
  });

  it('fixed: every status response has text after its code (RFC 3501 §9 resp-text, text = 1*TEXT-CHAR)', async () => {
    const { raw } = await converse(['SELECT INBOX', 'EXAMINE Archive', 'UID MOVE 99 Archive']);
    const empty = (replies: RawReply[]) =>
      replies
        .flatMap((reply) => [...reply.untagged, reply.tagged])
        .filter((response) => /^\S+ (OK|NO|BAD) \[[^\]]*\] ?$/.test(response));
    expect(empty(raw.dovecot)).toEqual([]);
    expect(empty(raw.ours)).toEqual([]);
  });

  it('fixed: SEARCH RETURN (SAVE MIN) saves only the minimum in $ (RFC 5182 §2.4)', async (context) => {
    const { raw } = await converse(['CAPABILITY']);
    if (!raw.ours[0]!.untagged[0]!.split(' ').includes('SEARCHRES')) context.skip();
    const { ours, dovecot } = await converse([
      'EXAMINE INBOX',
      'UID SEARCH RETURN (SAVE MIN) SEEN',
      'UID FETCH $ (UID)',
      'SEARCH RETURN (SAVE MIN MAX) SEEN',
      'FETCH $ (UID)',
    ]);
    expect(dovecot.filter((line) => /^\* \d+ FETCH /.test(line))).toEqual([
      '* 1 FETCH (UID 1)',
      '* 1 FETCH (UID 1)',
      '* 5 FETCH (UID 5)',
    ]);
    expect(ours).toEqual(dovecot);
  });

  it('fixed: SEARCH CHARSET UTF-8 BODY/TEXT decodes a quoted-printable body (RFC 3501 §6.4.4)', async () => {
    const { ours, dovecot } = await converse([
      'EXAMINE INBOX',
      ['SEARCH CHARSET UTF-8 BODY ', lit('Grüße')],
      ['SEARCH CHARSET UTF-8 TEXT ', lit('Grüße')],
    ]);
    // Message 2's text/plain part is quoted-printable: `Gr=C3=BC=C3=9Fe`; message 5's is 8bit.
    expect(dovecot.filter((line) => line.startsWith('* SEARCH'))).toEqual(['* SEARCH 2 5', '* SEARCH 2 5']);
    expect(ours).toEqual(dovecot);
  });
});

describe.skipIf(!hasDovecot)('Postwire and Dovecot over the same Maildir: changing mail, in order', () => {
  it('STORE, FETCH setting \\Seen, COPY and MOVE with COPYUID, EXPUNGE', async () => {
    await expectSameAnswers([
      'SELECT INBOX',
      'STORE 4 +FLAGS (\\Flagged $Todo)',
      'STORE 4 -FLAGS (\\Flagged)',
      'STORE 6 FLAGS (\\Seen Work)',
      'STORE 1 +FLAGS.SILENT (\\Answered)',
      'UID STORE 2 -FLAGS (Work)',
      'STORE 1:2 +FLAGS (\\Draft)',
      'FETCH 4 BODY[1]',
      'FETCH 1:* (UID FLAGS)',
      'COPY 1:2 Archive',
      'UID COPY 5 Archive/2023',
      'COPY 1 INBOX',
      'UID MOVE 3 Archive',
      'STORE 2 +FLAGS (\\Deleted)',
      'EXPUNGE',
      'FETCH 1:* (UID FLAGS)',
      'STATUS Archive (MESSAGES UIDNEXT UNSEEN)',
      'COPY 1 Nope',
      'MOVE 1 Nope',
      'STORE 99 +FLAGS (\\Seen)',
      'UID STORE 99 +FLAGS (\\Seen)',
      'EXAMINE Archive',
      'FETCH 1:* (UID FLAGS ENVELOPE)',
      'EXAMINE Archive/2023',
      'UID FETCH 1:* (UID FLAGS RFC822.SIZE)',
    ]);
  });

  it('APPEND with APPENDUID, and EXISTS in the selected mailbox', async () => {
    await expectSameAnswers([
      [
        'APPEND Archive (\\Seen) "15-Feb-2024 10:00:00 +0100" ',
        lit(PLAIN.replace('Lunch on Friday?', 'Appended')),
      ],
      ['APPEND Archive ', lit('Subject: bare\r\n\r\nno flags, no date\r\n')],
      'SELECT INBOX',
      ['APPEND INBOX (Work $Label1) ', lit(ALTERNATIVE)],
      ['APPEND Nope ', lit('Subject: nowhere\r\n\r\n.\r\n')],
      'EXAMINE Archive',
      // The message appended without a date has the time of its APPEND, which may differ by a second.
      'FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)',
      'FETCH 1:7 (INTERNALDATE)',
    ]);
  });

  it('CREATE, RENAME and DELETE', async () => {
    await expectSameAnswers([
      'CREATE Projects',
      'CREATE Projects/2024',
      'CREATE Clients/',
      'CREATE Archive',
      'CREATE INBOX',
      'LIST "" "*"',
      'STATUS Projects (MESSAGES UIDNEXT UIDVALIDITY)',
      'RENAME Projects Work',
      'RENAME Nope Other',
      'RENAME Work Archive',
      'LIST "" "*"',
      'DELETE Work',
      'DELETE Work/2024',
      'DELETE Work',
      'DELETE INBOX',
      'DELETE Nope',
      'DELETE Clients',
      'LIST "" "*"',
      'SELECT Clients',
    ]);
  });
});

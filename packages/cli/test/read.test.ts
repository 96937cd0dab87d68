import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  anyFreeDevServerPorts,
  createSelfSignedCertificate,
  type DevServer,
  startDevServer,
} from '@postwire/cli';
import { createMemoryStore, type MailStore } from '@postwire/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTransferProgress, formatBytes, progressLine } from '../src/node/progress.js';
import { fetchCommand, fetchUsage, fileNameOf, lsCommand, lsUsage } from '../src/node/read.js';
import { captureIo } from './support/capture-io.js';

/**
 * `postwire ls` and `postwire fetch` against the dev server, in-process, over IMAP and POP3: listings as
 * text and JSON, `.eml` files equal to the stored messages, incremental runs, POP3 deletion, the progress
 * bar, and failures.
 */

const tls = createSelfSignedCertificate();
const users = [
  { name: 'alice', password: 'alice-secret' },
  { name: 'bob', password: 'bob-secret' },
];
const dir = mkdtempSync(join(tmpdir(), 'postwire-read-'));
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, tls.cert);
let store: MailStore;
let server: DevServer;

const first =
  'Date: Fri, 01 Mar 2024 09:30:00 +0100\r\nFrom: =?utf-8?q?J=C3=BCrgen?= <juergen@example.test>\r\n' +
  'To: alice@example.test\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nMessage-ID: <m1@example.test>\r\n\r\nHallo\r\n';
const second =
  'From: Team: ann@example.test, ben@example.test;\r\nTo: alice@example.test\r\n' +
  'Message-ID: <m2@example.test>\r\n\r\nNo date, no subject\r\n';
const third = `Date: Sat, 02 Mar 2024 12:00:00 +0000\r\nFrom: big@example.test\r\nSubject: big\r\n\r\n${'0123456789abcdef'.repeat(32 * 1024).replace(/(.{76})/g, '$1\r\n')}\r\n`;

async function append(user: string, mailbox: string, messages: readonly string[], date?: Date) {
  const mail = await store.user(user);
  const box = await mail.open(mailbox);
  try {
    for (const message of messages)
      await box.append(new TextEncoder().encode(message), date ? { internalDate: date } : {});
  } finally {
    await box.close();
    await mail.release();
  }
}

/** The messages of a user's mailbox as stored, by UID, with their POP3 unique ids. */
async function stored(
  user: string,
  mailbox = 'INBOX',
): Promise<{ uid: number; id: string; bytes: Buffer }[]> {
  const mail = await store.user(user);
  const box = await mail.open(mailbox);
  try {
    const result = [];
    for (const { uid, id } of await box.messages()) {
      result.push({ uid, id, bytes: Buffer.from(await new Response(box.read(uid)).arrayBuffer()) });
    }
    return result;
  } finally {
    await box.close();
    await mail.release();
  }
}

beforeAll(async () => {
  store = createMemoryStore();
  server = await startDevServer({
    store,
    users,
    tls,
    ports: anyFreeDevServerPorts,
    mailAuthentication: false,
  });
  const mail = await store.user('alice');
  await mail.create('Sent', { specialUse: '\\Sent' });
  await mail.create('Archive');
  await mail.release();
  await append('alice', 'INBOX', [first]);
  await append('alice', 'INBOX', [second], new Date('2024-03-01T10:00:00Z'));
  await append('alice', 'INBOX', [third]);
  await append('alice', 'Archive', [first]);
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

type Command = typeof lsCommand;

async function run(command: Command, args: readonly string[], interactive = false) {
  const io = captureIo(interactive);
  const code = await command(args, io, { cwd: dir, env: {} });
  return { code, stdout: io.stdout, stderr: io.stderr };
}

const imap = () => ['--server', `127.0.0.1:${server.ports.imap}`, '--ca', caFile];
const pop3 = () => ['--protocol', 'pop3', '--server', `127.0.0.1:${server.ports.pop3}`, '--ca', caFile];
const alice = ['--user', 'alice', '--password', 'alice-secret'];
const bob = ['--user', 'bob', '--password', 'bob-secret'];

describe('postwire ls over IMAP', () => {
  it('lists the mailboxes with their counts and sizes', async () => {
    const { code, stdout, stderr } = await run(lsCommand, [...imap(), ...alice]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('MAILBOX  MESSAGES  UNSEEN  SIZE');
    expect(lines).toContainEqual(expect.stringMatching(/^INBOX {11}3 {7}3 {2}\d+\.\d KiB$/));
    expect(lines).toContainEqual(expect.stringMatching(/^Archive {9}1 {7}1 {2}\d+ B$/));
    expect(lines).toContainEqual(expect.stringMatching(/^Sent {12}0 {7}0 {2}0 B$/));
  });

  it('lists the mailboxes as JSON', async () => {
    const { code, stdout } = await run(lsCommand, [...imap(), ...alice, '--json']);
    expect(code).toBe(0);
    const { mailboxes } = JSON.parse(stdout);
    const sizes = (await stored('alice')).reduce((sum, message) => sum + message.bytes.length, 0);
    expect(mailboxes).toContainEqual({ path: 'INBOX', messages: 3, unseen: 3, size: sizes });
    expect(mailboxes).toContainEqual({ path: 'Sent', messages: 0, unseen: 0, size: 0, specialUse: '\\Sent' });
  });

  it("lists a mailbox's messages: UID, date, size, sender and subject, decoded", async () => {
    const { code, stdout } = await run(lsCommand, [...imap(), ...alice, '--mailbox', 'INBOX']);
    expect(code).toBe(0);
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^UID {2}DATE +SIZE {2}FROM +SUBJECT$/);
    expect(lines[1]).toMatch(
      /^ {2}1 {2}2024-0[23]-\d\d \d\d:\d\d +\d+ B {2}Jürgen <juergen@example\.test> {2}Grüße$/,
    );
    expect(lines[2]).toMatch(/^ {2}2 {2}2024-0[23]-\d\d \d\d:\d\d +\d+ B {2}Team$/);
    expect(lines[3]).toMatch(/^ {2}3 .* 525\.\d KiB {2}big@example\.test +big$/);
  });

  it("lists a mailbox's messages as JSON, the last N with --limit", async () => {
    const { code, stdout } = await run(lsCommand, [...imap(), ...alice, '--mailbox', 'INBOX', '--json']);
    expect(code).toBe(0);
    const listing = JSON.parse(stdout);
    const messages = await stored('alice');
    expect(listing).toEqual({
      mailbox: 'INBOX',
      uidValidity: expect.any(Number),
      messages: [
        {
          uid: 1,
          date: '2024-03-01T08:30:00.000Z',
          from: 'Jürgen <juergen@example.test>',
          subject: 'Grüße',
          size: messages[0]!.bytes.length,
          flags: expect.any(Array),
        },
        {
          uid: 2,
          date: '2024-03-01T10:00:00.000Z',
          from: 'Team',
          subject: '',
          size: messages[1]!.bytes.length,
          flags: expect.any(Array),
        },
        expect.objectContaining({ uid: 3, subject: 'big', size: messages[2]!.bytes.length }),
      ],
    });
    const limited = await run(lsCommand, [
      ...imap(),
      ...alice,
      '--mailbox',
      'INBOX',
      '--json',
      '--limit',
      '2',
    ]);
    expect(JSON.parse(limited.stdout).messages.map((message: { uid: number }) => message.uid)).toEqual([
      2, 3,
    ]);
  });

  it('says when a mailbox is empty, and fails on one that does not exist', async () => {
    const empty = await run(lsCommand, [...imap(), ...alice, '--mailbox', 'Sent']);
    expect(empty).toEqual({ code: 0, stdout: 'no messages in Sent\n', stderr: '' });
    const missing = await run(lsCommand, [...imap(), ...alice, '--mailbox', 'Nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /^postwire ls: EXAMINE refused: NO \[NONEXISTENT\] .*"Nope" does not exist\n$/,
    );
  });
});

describe('postwire ls over POP3', () => {
  it('lists the messages with their unique ids and, from TOP, their senders and subjects', async () => {
    const { code, stdout } = await run(lsCommand, [...pop3(), ...alice]);
    expect(code).toBe(0);
    const [one, two, three] = await stored('alice');
    const lines = stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^# {2}UIDL +DATE +SIZE {2}FROM +SUBJECT$/);
    expect(lines[1]).toContain(`1  ${one!.id}`);
    expect(lines[1]).toMatch(/Jürgen <juergen@example\.test> {2}Grüße$/);
    expect(lines[2]).toMatch(new RegExp(`^2  ${two!.id} +- +\\d+ B  Team$`));
    expect(lines[3]).toContain(`3  ${three!.id}`);
  });

  it('lists them as JSON, the last N with --limit', async () => {
    const { code, stdout } = await run(lsCommand, [...pop3(), ...alice, '--json', '--limit', '1']);
    expect(code).toBe(0);
    const [, , three] = await stored('alice');
    expect(JSON.parse(stdout)).toEqual({
      messages: [
        {
          number: 3,
          uidl: three!.id,
          date: '2024-03-02T12:00:00.000Z',
          from: 'big@example.test',
          subject: 'big',
          size: three!.bytes.length,
        },
      ],
    });
  });
});

describe('postwire fetch over IMAP', () => {
  it('writes each message to <uid>.eml, equal to the stored one; a second run writes nothing', async () => {
    const out = join(dir, 'imap-all');
    const { code, stdout, stderr } = await run(fetchCommand, [...imap(), ...alice, '--all', '--out', out]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const messages = await stored('alice');
    expect(stdout).toBe(
      `${messages.map(({ uid, bytes }) => `wrote ${join(out, `${uid}.eml`)} (${formatBytes(bytes.length)})\n`).join('')}` +
        `3 written (${formatBytes(messages.reduce((sum, { bytes }) => sum + bytes.length, 0))})\n`,
    );
    expect(readdirSync(out).sort()).toEqual(['1.eml', '2.eml', '3.eml']);
    for (const { uid, bytes } of messages)
      expect(readFileSync(join(out, `${uid}.eml`)).equals(bytes)).toBe(true);

    const again = await run(fetchCommand, [...imap(), ...alice, '--all', '--out', out]);
    expect(again).toEqual({ code: 0, stdout: '0 written (0 B), 3 already there\n', stderr: '' });
    const json = await run(fetchCommand, [...imap(), ...alice, '--all', '--out', out, '--json']);
    expect(JSON.parse(json.stdout)).toEqual({
      written: [],
      existing: [1, 2, 3].map((uid) => ({ uid, file: join(out, `${uid}.eml`) })),
      deleted: [],
      missing: [],
    });
  });

  it('fetches the UIDs asked for from a mailbox, into the working directory by default', async () => {
    const { code, stdout } = await run(fetchCommand, [
      ...imap(),
      ...alice,
      ...['--mailbox', 'Archive', '--uid', '1', '--json'],
    ]);
    expect(code).toBe(0);
    const [archived] = await stored('alice', 'Archive');
    expect(JSON.parse(stdout)).toEqual({
      written: [{ uid: 1, file: join(dir, '1.eml'), size: archived!.bytes.length }],
      existing: [],
      deleted: [],
      missing: [],
    });
    expect(readFileSync(join(dir, '1.eml')).equals(archived!.bytes)).toBe(true);
  });

  it('says which UIDs it did not find (exit 1), and fetches the others', async () => {
    const out = join(dir, 'imap-some');
    const { code, stdout, stderr } = await run(fetchCommand, [
      ...imap(),
      ...alice,
      ...['--uid', '2,99', '--uid', '3', '--out', out],
    ]);
    expect(code).toBe(1);
    expect(stderr).toBe('postwire fetch: no message 99 in INBOX\n');
    expect(stdout).toMatch(
      /^wrote .*2\.eml \(\d+ B\)\nwrote .*3\.eml \(525\.\d KiB\)\n2 written \(.*\), 1 not found\n$/,
    );
    expect(readdirSync(out).sort()).toEqual(['2.eml', '3.eml']);
    const empty = await run(fetchCommand, [...imap(), ...alice, '--mailbox', 'Sent', '--uid', '1', '--json']);
    expect(empty.code).toBe(1);
    expect(JSON.parse(empty.stdout).missing).toEqual(['1']);
  });

  it('shows a progress bar on standard error on a terminal, and nothing otherwise', async () => {
    const terminal = await run(fetchCommand, [...imap(), ...alice, '--all', '--out', join(dir, 'tty')], true);
    expect(terminal.code).toBe(0);
    expect(terminal.stderr).toContain(
      '\r\x1b[Kfetching  1/3  [........................]    0%  0 B / 525.9 KiB',
    );
    expect(terminal.stderr).toContain('\r\x1b[Kfetching  3/3  [');
    expect(terminal.stderr.endsWith('\r\x1b[K')).toBe(true);
    const piped = await run(fetchCommand, [...imap(), ...alice, '--all', '--out', join(dir, 'piped')]);
    expect(piped.stderr).toBe('');
    const nothingToDo = await run(
      fetchCommand,
      [...imap(), ...alice, '--all', '--out', join(dir, 'tty')],
      true,
    );
    expect(nothingToDo.stderr).toBe('');
  });
});

describe('postwire fetch over POP3', () => {
  it('writes <uidl>.eml files; --delete then empties the maildrop, files already there included', async () => {
    await append('bob', 'INBOX', [first, second, third]);
    const messages = await stored('bob');
    const out = join(dir, 'pop3');
    const { code, stdout } = await run(fetchCommand, [...pop3(), ...bob, '--all', '--out', out]);
    expect(code).toBe(0);
    expect(stdout).toContain('3 written');
    for (const { id, bytes } of messages)
      expect(readFileSync(join(out, `${id}.eml`)).equals(bytes)).toBe(true);

    await append('bob', 'INBOX', [first]);
    const [, , , fourth] = await stored('bob');
    const deleting = await run(fetchCommand, [
      ...pop3(),
      ...bob,
      '--all',
      '--out',
      out,
      '--delete',
      '--json',
    ]);
    expect(deleting.code).toBe(0);
    const report = JSON.parse(deleting.stdout);
    expect(report.written).toEqual([
      { uidl: fourth!.id, file: join(out, `${fourth!.id}.eml`), size: fourth!.bytes.length },
    ]);
    expect(report.existing.map((file: { uidl: string }) => file.uidl)).toEqual(messages.map(({ id }) => id));
    expect(report.deleted).toEqual([...messages, fourth!].map(({ id }) => id));
    expect(await stored('bob')).toEqual([]);
    const listing = await run(lsCommand, [...pop3(), ...bob]);
    expect(listing.stdout).toBe('no messages in the maildrop\n');
  });

  it('deletes only the messages asked for, and says which it did not find', async () => {
    await append('bob', 'INBOX', [first, second]);
    const [one, two] = await stored('bob');
    const out = join(dir, 'pop3-some');
    const { code, stdout, stderr } = await run(fetchCommand, [
      ...pop3(),
      ...bob,
      ...['--uid', `${two!.id},missing-id`, '--delete', '--out', out],
    ]);
    expect(code).toBe(1);
    expect(stderr).toBe('postwire fetch: no message missing-id\n');
    expect(stdout).toMatch(/1 written \(\d+ B\), 1 deleted from the server, 1 not found\n$/);
    expect((await stored('bob')).map(({ id }) => id)).toEqual([one!.id]);
    await run(fetchCommand, [...pop3(), ...bob, '--all', '--delete', '--out', out]);
  });

  it('deletes nothing and leaves no partial file when the connection drops during a download', async () => {
    const pop3Server = brokenPop3Server();
    await new Promise<void>((resolve) => pop3Server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = pop3Server.address() as AddressInfo;
      const out = join(dir, 'broken');
      const { code, stderr } = await run(fetchCommand, [
        ...['--protocol', 'pop3', '--server', `127.0.0.1:${port}`, '--tls', 'none'],
        ...bob,
        ...['--all', '--delete', '--out', out],
      ]);
      expect(code).toBe(1);
      expect(stderr).toMatch(/^postwire fetch: .+\n$/);
      expect(readdirSync(out)).toEqual([]);
      expect(pop3Server.commands).not.toContain('DELE 1');
      expect(pop3Server.commands).not.toContain('QUIT');
    } finally {
      await new Promise((resolve) => pop3Server.close(resolve));
    }
  });
});

/** A POP3 server that logs in anyone, lists one message, and hangs up halfway through sending it. */
function brokenPop3Server(): Server & { commands: string[] } {
  const commands: string[] = [];
  const answers: Record<string, string> = {
    CAPA: '-ERR no CAPA',
    USER: '+OK',
    PASS: '+OK logged in',
    UIDL: '+OK\r\n1 only-one\r\n.',
    LIST: '+OK\r\n1 5000\r\n.',
  };
  const server = createServer((socket) => {
    socket.write('+OK ready\r\n');
    let buffer = '';
    socket.on('data', (data) => {
      buffer += data.toString('latin1');
      for (let end = buffer.indexOf('\r\n'); end >= 0; end = buffer.indexOf('\r\n')) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        commands.push(line);
        const verb = line.split(' ')[0]!.toUpperCase();
        if (verb === 'RETR') {
          socket.end(`+OK 5000 octets\r\nSubject: cut short\r\n\r\n${'x'.repeat(1000)}`);
          return;
        }
        socket.write(`${answers[verb] ?? '-ERR unknown'}\r\n`);
      }
    });
  });
  return Object.assign(server, { commands });
}

describe('postwire ls and fetch: failures are one line, exit 1', () => {
  it('a wrong password, over IMAP and POP3', async () => {
    const wrong = ['--user', 'alice', '--password', 'wrong'];
    const overImap = await run(lsCommand, [...imap(), ...wrong]);
    expect(overImap.code).toBe(1);
    expect(overImap.stderr).toMatch(
      /^postwire ls: 127\.0\.0\.1:\d+ refused the login as "alice": .*failed\n$/,
    );
    const overPop3 = await run(fetchCommand, [...pop3(), ...wrong, '--all', '--json']);
    expect(overPop3.code).toBe(1);
    expect(overPop3.stderr).toMatch(
      /^postwire fetch: 127\.0\.0\.1:\d+ refused the login as "alice": .*failed\n$/,
    );
    expect(JSON.parse(overPop3.stdout)).toMatchObject({ code: 'AUTH_FAILED' });
  });

  it('a closed port', async () => {
    const { code, stderr } = await run(lsCommand, ['--server', '127.0.0.1:1', ...alice]);
    expect(code).toBe(1);
    expect(stderr).toBe(
      'postwire ls: cannot connect to 127.0.0.1:1: connection refused (is `postwire serve` running?)\n',
    );
  });

  it('an output directory that cannot be made', async () => {
    writeFileSync(join(dir, 'a-file'), '');
    const { code, stderr } = await run(fetchCommand, [
      ...imap(),
      ...alice,
      '--all',
      '--out',
      join(dir, 'a-file', 'sub'),
    ]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^postwire fetch: .*(ENOTDIR|EEXIST).*\n$/);
  });
});

describe('postwire ls and fetch: the command line', () => {
  it('print their usage for --help', async () => {
    expect(await run(lsCommand, ['--help'])).toEqual({ code: 0, stdout: lsUsage, stderr: '' });
    expect(await run(fetchCommand, ['-h'])).toEqual({ code: 0, stdout: fetchUsage, stderr: '' });
    expect(lsUsage).toContain('./.postwire/tls/cert.pem');
  });

  it.each([
    [lsCommand, [], 'give --user'],
    [
      lsCommand,
      ['--user', 'a', '--password', 'b', '--protocol', 'smtp'],
      '--protocol is imap or pop3, not smtp',
    ],
    [lsCommand, ['--user', 'a', '--password', 'b', '--limit', '0'], '--limit is a positive number, not 0'],
    [lsCommand, ['--user', 'a', '--password', 'b', '--limit', 'x'], '--limit is a positive number, not x'],
    [
      lsCommand,
      ['--server', 'pop.example.test:995', '--user', 'a', '--password', 'b', '--mailbox', 'X'],
      'POP3 has one mailbox',
    ],
    [lsCommand, ['--user', 'a', '--password', 'b', 'positional'], "Unexpected argument 'positional'"],
    [fetchCommand, ['--user', 'a', '--password', 'b'], 'give --all, or the messages with --uid'],
    [
      fetchCommand,
      ['--user', 'a', '--password', 'b', '--all', '--uid', '1'],
      'give --all, or the messages with --uid',
    ],
    [fetchCommand, ['--user', 'a', '--password', 'b', '--uid', 'abc'], '--uid wants a UID, not abc'],
    [
      fetchCommand,
      ['--user', 'a', '--password', 'b', '--uid', '4294967296'],
      '--uid wants a UID, not 4294967296',
    ],
    [
      fetchCommand,
      ['--protocol', 'pop3', '--user', 'a', '--password', 'b', '--uid', 'a b'],
      '--uid wants a UIDL, not a b',
    ],
    [fetchCommand, ['--user', 'a', '--password', 'b', '--all', '--delete'], '--delete is for POP3'],
  ] as const)('refuses %o %j with exit 2 and the usage', async (command, args, message) => {
    const { code, stdout, stderr } = await run(command, args);
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr).toContain(message);
    expect(stderr.endsWith(command === lsCommand ? lsUsage : fetchUsage)).toBe(true);
  });
});

describe('file names and the progress bar', () => {
  it('writes POP3 unique ids as safe file names, distinct for distinct ids', () => {
    expect(fileNameOf('Mv44dduivimko5qccrkgn6kde')).toBe('Mv44dduivimko5qccrkgn6kde');
    expect(fileNameOf('a/b\\c:d')).toBe('a%2Fb%5Cc%3Ad');
    expect(fileNameOf('.hidden..x')).toBe('%2Ehidden..x');
    expect(fileNameOf('50%')).toBe('50%25');
    expect(fileNameOf('a+b=c@d,e-f_g.h')).toBe('a+b=c@d,e-f_g.h');
  });

  it('redraws at most every interval, and when an item starts', () => {
    const io = captureIo(true);
    let now = 0;
    const progress = createTransferProgress(io, {
      verb: 'fetching',
      items: 2,
      totalBytes: 2048,
      now: () => now,
    });
    progress.advance(10); // the first draw
    progress.advance(10); // too soon
    now = 100;
    progress.advance(1004);
    progress.nextItem();
    progress.end();
    progress.end();
    expect(io.stderr.split('\r\x1b[K').slice(1)).toEqual([
      'fetching  0/2  [........................]    0%  10 B / 2.0 KiB',
      'fetching  0/2  [############............]   50%  1.0 KiB / 2.0 KiB',
      'fetching  1/2  [############............]   50%  1.0 KiB / 2.0 KiB',
      '',
    ]);
  });

  it('shows bytes alone without a total, and a full bar for an empty one', () => {
    expect(progressLine({ verb: 'sending' }, 0, 5 * 1024 ** 3)).toBe('sending  5.0 GiB');
    expect(progressLine({ verb: 'sending', totalBytes: 0 }, 0, 0)).toBe(
      `sending  [${'#'.repeat(24)}]  100%  0 B / 0 B`,
    );
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(3 * 1024 ** 5)).toBe('3072.0 TiB');
    const quiet = captureIo(false);
    const progress = createTransferProgress(quiet, { verb: 'x' });
    progress.nextItem();
    progress.advance(1);
    progress.end();
    expect(quiet.stderr).toBe('');
  });
});

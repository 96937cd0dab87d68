import { createMemoryStore } from '@postwire/store';
import { afterEach, describe, expect, it } from 'vitest';
import { testCertificates } from '../../../core/test/support/certs.js';
import { createImapServer, type ImapServer } from '../../src/node/index.js';
import { curlList } from '../support/curl-imap.js';
import { runImaplib } from '../support/imaplib.js';
import { commandAvailable, type ImapEndpoint } from '../support/peer.js';

const hasPython = commandAvailable('python3', "the IMAP server's imaplib tests");
const hasCurl = commandAvailable('curl', "the IMAP server's curl tests");
const certificates = testCertificates();
const PASSWORD = 'secret';
const servers: ImapServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close({ timeout: 1000 });
});

async function start(): Promise<{ port: number; store: ReturnType<typeof createMemoryStore> }> {
  const store = createMemoryStore();
  const errors: unknown[] = [];
  const server = createImapServer({
    store,
    host: '127.0.0.1',
    port: 0,
    startTls: { cert: certificates.cert, key: certificates.key },
    sasl: { verifiers: { lookupPassword: (user: string) => (user === 'alice' ? PASSWORD : undefined) } },
    onError: (error) => errors.push(error),
  });
  servers.push(server);
  const { port } = await server.listen();
  return { port, store };
}

function endpoint(port: number, tls: 'starttls' | 'none' = 'starttls'): ImapEndpoint {
  return { host: '127.0.0.1', port, tls, user: 'alice', password: PASSWORD, ca: certificates.ca };
}

describe.skipIf(!hasPython)("Postwire's IMAP server with Python's imaplib", () => {
  it('LOGIN over STARTTLS, CAPABILITY, CREATE, LIST, STATUS, SELECT and LOGOUT', async () => {
    const { port, store } = await start();
    const run = await runImaplib(endpoint(port), [
      { op: 'login', password: 'wrong' },
      { op: 'login' },
      { op: 'capability' },
      { op: 'create', mailbox: 'Archive' },
      { op: 'list' },
      { op: 'status', mailbox: 'INBOX', items: '(MESSAGES UIDNEXT UNSEEN)' },
      { op: 'select', mailbox: 'INBOX' },
      { op: 'logout' },
    ]);
    const [badLogin, login, capability, create, list, status, select, logout] = run.steps;
    expect(run.error).toBeNull();
    expect(run.greeting).toMatch(/^\* OK \[CAPABILITY .*STARTTLS LOGINDISABLED/);
    expect(badLogin).toMatchObject({ status: 'NO', code: ['AUTHENTICATIONFAILED'] });
    expect(login.status).toBe('OK');
    expect(capability.result.capabilities).toEqual(
      expect.arrayContaining(['IMAP4rev1', 'IMAP4rev2', 'LIST-STATUS']),
    );
    expect(capability.result.capabilities).not.toContain('STARTTLS');
    expect(create.status).toBe('OK');
    expect(list.result.mailboxes.map((m) => [m.name, m.delimiter]).sort()).toEqual([
      ['Archive', '/'],
      ['INBOX', '/'],
    ]);
    expect(status.result).toEqual({ mailbox: 'INBOX', items: { MESSAGES: 0, UIDNEXT: 1, UNSEEN: 0 } });
    const { uidValidity } = await (await store.user('alice')).status('INBOX');
    expect(select.result).toMatchObject({ exists: 0, uidNext: 1, uidValidity, access: 'READ-WRITE' });
    expect(select.result.permanentFlags).toContain('\\*');
    expect(logout.result.bye).toMatch(/Logging out/);
    expect((await (await store.user('alice')).list()).map((m) => m.name)).toEqual(['Archive', 'INBOX']);
  });

  it('AUTHENTICATE PLAIN over STARTTLS; LOGIN is refused without TLS (case 45)', async () => {
    const { port } = await start();
    const run = await runImaplib(endpoint(port), [
      { op: 'authenticate' },
      { op: 'select', mailbox: 'INBOX', readOnly: true },
    ]);
    expect(run.error).toBeNull();
    expect(run.steps[0].status).toBe('OK');
    expect(run.steps[1].result).toMatchObject({ exists: 0, access: 'READ-ONLY' });
    const plain = await runImaplib(endpoint(port, 'none'), [{ op: 'login' }]);
    expect(plain.steps[0]).toMatchObject({ status: 'NO', code: ['PRIVACYREQUIRED'] });
  });

  it('APPEND, FETCH, UID FETCH, STORE, UID STORE and EXPUNGE', async () => {
    const { port, store } = await start();
    const message = 'Subject: Hello\nFrom: Bob <bob@example.com>\n\nHi Alice!\n';
    const run = await runImaplib(endpoint(port), [
      { op: 'login' },
      { op: 'append', mailbox: 'INBOX', message, flags: '(\\Flagged)', date: '"01-Jan-2024 10:00:00 +0000"' },
      { op: 'append', mailbox: 'INBOX', message: 'Subject: Second\n\nTwo\n' },
      { op: 'append', mailbox: 'Nope', message: 'x\n' },
      { op: 'select', mailbox: 'INBOX' },
      { op: 'fetch', set: '1:*', items: '(UID FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)' },
      { op: 'fetch', set: '1', items: '(BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY[TEXT])' },
      { op: 'fetch', set: '2', items: 'BODY.PEEK[]', uid: true },
      { op: 'store', set: '1', action: '+FLAGS', flags: '(\\Deleted $Done)' },
      { op: 'store', set: '2', action: 'FLAGS.SILENT', flags: '(\\Answered)', uid: true },
      { op: 'expunge' },
      { op: 'fetch', set: '1:*', items: '(UID FLAGS)' },
      { op: 'logout' },
    ]);
    expect(run.error).toBeNull();
    const [, append, second, missing, select, all, sections, byUid, stored, silent, expunge, after] =
      run.steps;
    const { uidValidity } = await (await store.user('alice')).status('INBOX');
    expect(append).toMatchObject({ status: 'OK', result: { appendUid: { uidValidity, uid: 1 } } });
    expect(second.result.appendUid).toEqual({ uidValidity, uid: 2 });
    expect(missing).toMatchObject({ status: 'NO', code: ['TRYCREATE'] });
    expect(select.result.exists).toBe(2);
    const size = message.replaceAll('\n', '\r\n').length;
    expect(all.result.messages[0]).toMatchObject({
      seq: 1,
      items: {
        UID: 1,
        FLAGS: ['\\Flagged', '\\Recent'],
        INTERNALDATE: '01-Jan-2024 10:00:00 +0000',
        'RFC822.SIZE': size,
      },
    });
    expect(all.result.messages[0]!.items.ENVELOPE).toEqual([
      null,
      'Hello',
      [['Bob', null, 'bob', 'example.com']],
      [['Bob', null, 'bob', 'example.com']],
      [['Bob', null, 'bob', 'example.com']],
      null,
      null,
      null,
      null,
      null,
    ]);
    expect(sections.result.messages[0]!.items).toEqual({
      'BODY[HEADER.FIELDS (SUBJECT)]': 'Subject: Hello\r\n\r\n',
      'BODY[TEXT]': 'Hi Alice!\r\n',
      FLAGS: ['\\Flagged', '\\Seen', '\\Recent'],
    });
    expect(byUid.result.messages[0]!.items).toEqual({ UID: 2, 'BODY[]': 'Subject: Second\r\n\r\nTwo\r\n' });
    expect(stored.result.messages[0]!.items.FLAGS).toEqual([
      '\\Flagged',
      '\\Seen',
      '\\Deleted',
      '$Done',
      '\\Recent',
    ]);
    expect(silent).toMatchObject({ status: 'OK', result: { messages: [] } });
    expect(expunge.result.expunged).toEqual([1]);
    expect(after.result.messages).toEqual([{ seq: 1, items: { UID: 2, FLAGS: ['\\Answered', '\\Recent'] } }]);
  });

  it('SEARCH, UID SEARCH, COPY and UID COPY', async () => {
    const { port, store } = await start();
    const mail = await store.user('alice');
    await mail.create('Archive');
    const inbox = await mail.open('INBOX');
    for (const [subject, flags] of [
      ['Lunch', ['\\Seen']],
      ['Report', []],
      ['Lunch again', ['\\Flagged']],
    ] as const)
      await inbox.append(
        new TextEncoder().encode(`Subject: ${subject}\r\nFrom: bob@example.com\r\n\r\nHello\r\n`),
        {
          flags,
        },
      );
    await inbox.close();
    const run = await runImaplib(endpoint(port), [
      { op: 'login' },
      { op: 'select', mailbox: 'INBOX' },
      { op: 'search', criteria: 'UNSEEN' },
      { op: 'search', criteria: '(SUBJECT lunch NOT FLAGGED)' },
      { op: 'search', criteria: 'OR FLAGGED BODY hello', uid: true },
      { op: 'copy', set: '1:2', mailbox: 'Archive' },
      { op: 'copy', set: '3', mailbox: 'Archive', uid: true },
      { op: 'copy', set: '1', mailbox: 'Nope' },
    ]);
    expect(run.error).toBeNull();
    const [, , unseen, lunch, byUid, copy, uidCopy, missing] = run.steps;
    expect(unseen.result.ids).toEqual([2, 3]);
    expect(lunch.result.ids).toEqual([1]);
    expect(byUid.result.ids).toEqual([1, 2, 3]);
    const { uidValidity } = await mail.status('Archive');
    expect(copy.result.copyUid).toEqual({ uidValidity, source: '1:2', destination: '1:2' });
    expect(uidCopy.result.copyUid).toEqual({ uidValidity, source: '3', destination: '3' });
    expect(missing).toMatchObject({ status: 'NO', code: ['TRYCREATE'] });
    expect((await mail.status('Archive')).messages).toBe(3);
  });

  it('a FETCH of 400 envelopes is written batch by batch, in order', async () => {
    const { port, store } = await start();
    const inbox = await (await store.user('alice')).open('INBOX');
    for (let i = 1; i <= 400; i++)
      await inbox.append(
        new TextEncoder().encode(`Subject: Message ${i}\r\nFrom: a@example.com\r\n\r\n${'x'.repeat(i)}\r\n`),
      );
    await inbox.close();
    const run = await runImaplib(endpoint(port), [
      { op: 'login' },
      { op: 'select', mailbox: 'INBOX', readOnly: true },
      { op: 'fetch', set: '1:*', items: '(ENVELOPE BODYSTRUCTURE)' },
      { op: 'fetch', set: '400', items: 'BODY.PEEK[TEXT]' },
    ]);
    expect(run.error).toBeNull();
    const { messages } = run.steps[2].result;
    expect(messages.map((message) => message.seq)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    expect(run.steps[3].result.messages[0]!.items['BODY[TEXT]']).toBe(`${'x'.repeat(400)}\r\n`);
    expect((messages[399]!.items.ENVELOPE as unknown[])[1]).toBe('Message 400');
  });
});

describe.skipIf(!hasCurl)("Postwire's IMAP server with curl", () => {
  it('lists the mailboxes over STARTTLS', async () => {
    const { port, store } = await start();
    await (await store.user('alice')).create('Drafts');
    expect((await curlList(endpoint(port))).mailboxes).toEqual(['Drafts', 'INBOX']);
  });
});

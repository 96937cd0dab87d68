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
});

describe.skipIf(!hasCurl)("Postwire's IMAP server with curl", () => {
  it('lists the mailboxes over STARTTLS', async () => {
    const { port, store } = await start();
    await (await store.user('alice')).create('Drafts');
    expect((await curlList(endpoint(port))).mailboxes).toEqual(['Drafts', 'INBOX']);
  });
});

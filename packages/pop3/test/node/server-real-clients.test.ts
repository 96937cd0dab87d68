import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pop3ConnectionInfo } from '../../src/node/server.js';
import {
  certificates,
  closeServersAfterEach,
  command,
  deliver,
  inboxTexts,
  installed,
  PASSWORD,
  serverTls,
  startServer,
} from '../support/server-harness.js';

const servers = closeServersAfterEach();
const hasPython = installed('python3', "the POP3 server's poplib tests");
const hasCurl = installed('curl', "the POP3 server's curl tests");
const hasFetchmail = installed('fetchmail', "the POP3 server's fetchmail tests");

const FIRST = 'Subject: first\r\nFrom: ann@example.org\r\n\r\n.starts with a dot\r\nline 2\r\nline 3\r\n';
const SECOND = 'Subject: second\r\n\r\nhello\r\n';

let dir: string;
let caFile: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pw-pop3-'));
  caFile = join(dir, 'ca.pem');
  await writeFile(caFile, certificates.ca);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs a Python script (the standard library's poplib is the client) and returns its output lines. */
async function python(script: string, ...args: string[]): Promise<string[]> {
  const { stdout } = await command('python3', ['-c', script, ...args]);
  return stdout.trim().split('\n');
}

describe.skipIf(!hasPython)("Postwire's POP3 server with Python's poplib", () => {
  it('USER/PASS, CAPA, STAT, UIDL, TOP, RETR, DELE and QUIT; the deletion reaches the store', async () => {
    const { port, store } = await startServer(servers);
    const ids = await deliver(store, 'alice', FIRST, SECOND);
    const output = await python(
      `
import poplib, sys
p = poplib.POP3('127.0.0.1', int(sys.argv[1]))
caps = p.capa()
print(sorted(caps))
p.user('alice')
p.pass_(sys.argv[2])
print(p.stat())
print([line.decode() for line in p.uidl()[1]])
print([line.decode() for line in p.top(1, 1)[1]])
print(repr(b'\\r\\n'.join(p.retr(1)[1]).decode()))
print(p.dele(1).decode())
print(p.quit().decode())
`,
      String(port),
      PASSWORD,
    );
    expect(output).toEqual([
      "['AUTH-RESP-CODE', 'LANG', 'PIPELINING', 'RESP-CODES', 'SASL', 'TOP', 'UIDL', 'USER', 'UTF8']",
      `(2, ${FIRST.length + SECOND.length})`,
      `['1 ${ids[0]}', '2 ${ids[1]}']`,
      "['Subject: first', 'From: ann@example.org', '', '.starts with a dot']",
      `'${FIRST.slice(0, -2).replaceAll('\r\n', '\\r\\n')}'`,
      '+OK Message 1 deleted',
      '+OK pop.test signing off (1 message left)',
    ]);
    expect(await inboxTexts(store, 'alice')).toEqual([SECOND]);
  });

  it('APOP, when the server offers it', async () => {
    const { port, store } = await startServer(servers, { apop: true });
    await deliver(store, 'alice', SECOND);
    const output = await python(
      `
import poplib, sys
p = poplib.POP3('127.0.0.1', int(sys.argv[1]))
print(p.getwelcome().decode().split(' ')[-1].startswith('<'))
print(p.apop('alice', sys.argv[2]).decode())
print(p.stat())
try:
    poplib.POP3('127.0.0.1', int(sys.argv[1])).apop('alice', 'wrong')
except poplib.error_proto as error:
    print(error)
p.quit()
`,
      String(port),
      PASSWORD,
    );
    expect(output).toEqual([
      'True',
      `+OK Maildrop locked and ready, 1 message (${SECOND.length} octets)`,
      `(1, ${SECOND.length})`,
      "b'-ERR [AUTH] Authentication failed'",
    ]);
  });

  it('STLS, then USER/PASS inside TLS (before it, USER is not offered)', async () => {
    const { port, store } = await startServer(servers, {
      startTls: serverTls,
      sasl: { verifiers: { lookupPassword: () => PASSWORD } },
    });
    await deliver(store, 'alice', SECOND);
    const output = await python(
      `
import poplib, ssl, sys
p = poplib.POP3('localhost', int(sys.argv[1]))
print('USER' in p.capa(), 'STLS' in p.capa())
p.stls(context=ssl.create_default_context(cafile=sys.argv[3]))
print('USER' in p.capa(), 'STLS' in p.capa(), p.sock.version() in ('TLSv1.2', 'TLSv1.3'))
p.user('alice')
p.pass_(sys.argv[2])
print(p.retr(1)[1])
p.quit()
`,
      String(port),
      PASSWORD,
      caFile,
    );
    expect(output).toEqual(['False True', 'True False True', "[b'Subject: second', b'', b'hello']"]);
  });

  it('POP3_SSL: implicit TLS, port 995 style', async () => {
    const { port, store } = await startServer(servers, { tls: serverTls });
    await deliver(store, 'alice', FIRST);
    const output = await python(
      `
import poplib, ssl, sys
p = poplib.POP3_SSL('localhost', int(sys.argv[1]), context=ssl.create_default_context(cafile=sys.argv[3]))
p.user('alice')
p.pass_(sys.argv[2])
print(p.list()[1])
p.quit()
`,
      String(port),
      PASSWORD,
      caFile,
    );
    expect(output).toEqual([`[b'1 ${FIRST.length}']`]);
  });
});

describe.skipIf(!hasCurl)("Postwire's POP3 server with curl", () => {
  it('pop3://: LIST, RETR of one message, and UIDL through -X', async () => {
    const { port, store } = await startServer(servers);
    const ids = await deliver(store, 'alice', FIRST, SECOND);
    const url = `pop3://127.0.0.1:${port}/`;
    const user = ['--user', `alice:${PASSWORD}`];
    expect((await command('curl', ['-sS', ...user, url])).stdout).toBe(
      `1 ${FIRST.length}\r\n2 ${SECOND.length}\r\n`,
    );
    expect((await command('curl', ['-sS', ...user, `${url}1`])).stdout).toBe(FIRST);
    expect((await command('curl', ['-sS', ...user, '-X', 'UIDL', url])).stdout).toBe(
      `1 ${ids[0]}\r\n2 ${ids[1]}\r\n`,
    );
  });

  it('pop3s:// (implicit TLS) and pop3:// with --ssl-reqd (STLS), checking the certificate', async () => {
    const { port: implicit, store } = await startServer(servers, { tls: serverTls });
    const { port: upgraded } = await startServer(servers, { startTls: serverTls, store });
    await deliver(store, 'alice', SECOND);
    const args = ['-sS', '--cacert', caFile, '--user', `alice:${PASSWORD}`];
    expect((await command('curl', [...args, `pop3s://localhost:${implicit}/1`])).stdout).toBe(SECOND);
    expect((await command('curl', [...args, '--ssl-reqd', `pop3://localhost:${upgraded}/1`])).stdout).toBe(
      SECOND,
    );
  });

  it('DELE through -X with no transfer (-I): deleted at QUIT', async () => {
    const { port, store } = await startServer(servers);
    await deliver(store, 'alice', FIRST, SECOND);
    await command('curl', [
      '-sS',
      '--user',
      `alice:${PASSWORD}`,
      '-X',
      'DELE',
      '-I',
      `pop3://127.0.0.1:${port}/1`,
    ]);
    expect(await inboxTexts(store, 'alice')).toEqual([SECOND]);
  });
});

describe.skipIf(!hasFetchmail)("Postwire's POP3 server with fetchmail", () => {
  /** Runs fetchmail once with a throwaway rc file; the MDA appends each message to `mbox`. */
  async function fetchmail(port: number, options: string): Promise<string> {
    const home = await mkdtemp(join(dir, 'fetchmail-'));
    const mbox = join(home, 'mbox');
    const rc = join(home, 'fetchmailrc');
    await writeFile(
      rc,
      `poll localhost port ${port} protocol POP3\n` +
        `  user alice password "${PASSWORD}" is root here ${options}\n` +
        `  mda "/bin/sh -c 'cat >> ${mbox}; echo ===== >> ${mbox}'"\n`,
    );
    await chmod(rc, 0o600);
    await command('fetchmail', ['-f', rc, '--nodetach', '--nosyslog'], {
      ...process.env,
      FETCHMAILHOME: home,
    });
    return (await readFile(mbox, 'utf8').catch(() => '')).replaceAll('\r\n', '\n');
  }

  it('STLS and SASL, every message into the MDA, then deleted from the server', async () => {
    const sessions: Pop3ConnectionInfo[] = [];
    const { port, store } = await startServer(servers, {
      startTls: serverTls,
      onClose: (connection) => {
        sessions.push(connection);
      },
    });
    await deliver(store, 'alice', FIRST, SECOND);
    const mbox = await fetchmail(port, `sslproto tls1.2+ sslcertck sslcertfile "${caFile}"`);
    expect(mbox).toContain(
      'Subject: first\nFrom: ann@example.org\n\n.starts with a dot\nline 2\nline 3\n=====\n',
    );
    expect(mbox).toContain('Subject: second\n\nhello\n=====\n');
    expect(await inboxTexts(store, 'alice')).toEqual([]);
    expect(sessions).toMatchObject([{ secure: true, user: 'alice' }]);
  });

  it('keep and UIDL: leaves mail on the server, and a second run downloads only what is new', async () => {
    const { port, store } = await startServer(servers, { tls: serverTls });
    await deliver(store, 'alice', FIRST);
    const home = await mkdtemp(join(dir, 'fetchmail-keep-'));
    const options = `ssl sslcertck sslcertfile "${caFile}" keep`;
    const run = async () => {
      const rc = join(home, 'fetchmailrc');
      await writeFile(
        rc,
        `set idfile "${join(home, 'ids')}"\npoll localhost port ${port} protocol POP3 uidl\n` +
          `  user alice password "${PASSWORD}" is root here ${options}\n  mda "/bin/sh -c 'cat >> ${join(home, 'mbox')}'"\n`,
      );
      await chmod(rc, 0o600);
      await command('fetchmail', ['-f', rc, '--nodetach', '--nosyslog'], {
        ...process.env,
        FETCHMAILHOME: home,
      }).catch((error: { code?: number }) => {
        // Exit status 1: no new mail.
        if (error.code !== 1) throw error;
      });
      return (await readFile(join(home, 'mbox'), 'utf8')).replaceAll('\r\n', '\n');
    };
    expect((await run()).match(/^Subject: /gm)).toHaveLength(1);
    await deliver(store, 'alice', SECOND);
    const mbox = await run();
    expect(mbox.match(/^Subject: /gm)).toHaveLength(2);
    expect(mbox).toContain('Subject: second');
    expect(await inboxTexts(store, 'alice')).toEqual([FIRST, SECOND]);
  });
});

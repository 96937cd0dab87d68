import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  anyFreeDevServerPorts,
  createSelfSignedCertificate,
  type DevServer,
  startDevServer,
} from '@postwire/cli';
import { ErrorCode, TlsError } from '@postwire/core';
import { verifyDkim } from '@postwire/mailauth';
import { parseMessage } from '@postwire/mime';
import { createMemoryStore, type MailStore } from '@postwire/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519Key, keyRecord, rsaKey, zoneResolver } from '../../mailauth/test/dkim/keys.js';
import { describeFailure, printable } from '../src/node/client-command.js';
import { readSendRequest, sendCommand, sendUsage } from '../src/node/send.js';
import { captureIo } from './support/capture-io.js';

/**
 * `postwire send` against the dev server, in-process: what arrives in the recipients' INBOXes (parsed and
 * byte for byte), DKIM, `.eml` files, the progress bar, and every kind of failure.
 */

const tls = createSelfSignedCertificate();
const users = [
  { name: 'alice', password: 'alice-secret' },
  { name: 'bob', password: 'bob-secret' },
  { name: 'carol', password: 'carol-secret' },
];
const dir = mkdtempSync(join(tmpdir(), 'postwire-send-'));
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, tls.cert);
const big = randomBytes(2 * 1024 * 1024);
writeFileSync(join(dir, 'big.bin'), big);
writeFileSync(join(dir, 'notes.csv'), 'a,b\r\n1,2\r\n');
writeFileSync(join(dir, 'body.html'), '<p>Hello <b>Bob</b></p>');
writeFileSync(join(dir, 'body.txt'), 'Hello Bob\nSee attached.\n');
writeFileSync(join(dir, 'nofrom.eml'), 'Subject: nothing\r\n\r\nbody\r\n');
writeFileSync(join(dir, 'huge.eml'), `X-Long: ${'a'.repeat(1024 * 1024 + 10)}`);
const ecKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
writeFileSync(join(dir, 'ec.pem'), ecKey.export({ type: 'pkcs8', format: 'pem' }) as string);
let store: MailStore;
let server: DevServer;

beforeAll(async () => {
  store = createMemoryStore();
  server = await startDevServer({
    store,
    users,
    tls,
    ports: anyFreeDevServerPorts,
    mailAuthentication: false,
  });
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `postwire send` as alice on the submission port (STARTTLS), the CA given. */
async function send(args: readonly string[], options: { interactive?: boolean; login?: boolean } = {}) {
  const io = captureIo(options.interactive);
  const login = options.login === false ? [] : ['--user', 'alice', '--password', 'alice-secret'];
  const code = await sendCommand(
    ['--server', `127.0.0.1:${server.ports.submission}`, '--ca', caFile, ...login, ...args],
    io,
    { cwd: dir, env: {} },
  );
  return { code, stdout: io.stdout, stderr: io.stderr };
}

/** Runs `postwire send` with exactly these arguments. */
async function sendRaw(
  args: readonly string[],
  context: { cwd?: string; env?: Record<string, string> } = {},
) {
  const io = captureIo();
  const code = await sendCommand(args, io, { cwd: dir, env: {}, ...context });
  return { code, stdout: io.stdout, stderr: io.stderr };
}

/** The messages in a user's INBOX, as stored (with the dev server's Received field on top). */
async function inbox(user: string): Promise<Uint8Array[]> {
  const mail = await store.user(user);
  const mailbox = await mail.open('INBOX');
  try {
    const messages: Uint8Array[] = [];
    for (const { uid } of await mailbox.messages()) {
      messages.push(new Uint8Array(await new Response(mailbox.read(uid)).arrayBuffer()));
    }
    return messages;
  } finally {
    await mailbox.close();
    await mail.release();
  }
}

/** The stored message whose Message-ID is `id` (with angle brackets). */
async function delivered(user: string, id: string): Promise<Uint8Array> {
  for (const bytes of await inbox(user)) {
    if ((await parseMessage(bytes)).messageId === id.slice(1, -1)) return bytes;
  }
  throw new Error(`${id} is not in ${user}'s INBOX`);
}

function messageIdOf(stdout: string): string {
  return /^sent (<[^>]+>)/.exec(stdout)![1]!;
}

describe('postwire send', () => {
  it('composes text, HTML, extra fields and two attachments (one of 2 MB), which arrive intact', async () => {
    const { code, stdout, stderr } = await send([
      ...['--from', 'Alice <alice@example.test>', '--to', 'Bob <bob@example.test>'],
      ...['--cc', 'carol@example.test', '--subject', 'Quarterly numbers, Grüße'],
      ...['--text-file', 'body.txt', '--html-file', join(dir, 'body.html')],
      ...['--attach', 'notes.csv', '--attach', join(dir, 'big.bin')],
      ...['--header', 'X-Campaign: q3', '--header', 'Keywords: numbers'],
    ]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(/^sent <[0-9a-f]+@example\.test> to 127\.0\.0\.1:\d+\n/);
    expect(stdout).toContain('  accepted  bob@example.test\n  accepted  carol@example.test\n');
    const id = messageIdOf(stdout);
    for (const user of ['bob', 'carol']) {
      const message = await parseMessage(await delivered(user, id));
      expect(message.subject).toBe('Quarterly numbers, Grüße');
      expect(message.from).toEqual([
        expect.objectContaining({ name: 'Alice', address: 'alice@example.test' }),
      ]);
      expect(message.text).toBe('Hello Bob\r\nSee attached.\r\n');
      expect(message.html).toBe('<p>Hello <b>Bob</b></p>');
      const fields = message.headers.map((field) => field.name);
      expect(fields).toEqual(expect.arrayContaining(['X-Campaign', 'Keywords']));
      const [notes, bin] = message.attachments;
      expect(notes).toMatchObject({ filename: 'notes.csv', contentType: 'text/csv' });
      expect(new TextDecoder().decode(notes!.content)).toBe('a,b\r\n1,2\r\n');
      expect(bin).toMatchObject({ filename: 'big.bin', contentType: 'application/octet-stream' });
      expect(Buffer.from(bin!.content).equals(big)).toBe(true);
    }
  });

  it('keeps Bcc recipients out of the header, and prints JSON', async () => {
    const { code, stdout } = await send([
      ...['--from', 'alice@example.test', '--to', 'bob@example.test', '--bcc', 'carol@example.test'],
      ...['--subject', 'blind', '--text', 'Hi', '--json'],
    ]);
    expect(code).toBe(0);
    const result = JSON.parse(stdout);
    expect(result).toEqual({
      messageId: expect.stringMatching(/^<.+@example\.test>$/),
      server: `127.0.0.1:${server.ports.submission}`,
      accepted: ['bob@example.test', 'carol@example.test'],
      rejected: [],
      reply: expect.stringMatching(/^250 /),
    });
    const copy = new TextDecoder().decode(await delivered('carol', result.messageId));
    expect(copy).not.toMatch(/^Bcc:/im);
    expect(copy).toContain('To: bob@example.test');
  });

  it('reports the recipients the server refused and still sends to the others (exit 0)', async () => {
    const args = ['--from', 'alice@example.test', '--to', 'bob@example.test, nobody@example.test'];
    const text = await send([...args, '--text', 'partly']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('  accepted  bob@example.test\n');
    expect(text.stdout).toMatch(
      / {2}refused {3}nobody@example\.test: 550 5\.1\.1 No user nobody@example\.test/,
    );
    const json = await send([...args, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      accepted: ['bob@example.test'],
      rejected: [{ address: 'nobody@example.test', reply: expect.stringMatching(/^550 5\.1\.1 /) }],
    });
  });

  it.each([
    ['RSA', rsaKey(2048)],
    ['Ed25519', ed25519Key()],
  ])('signs with DKIM (%s), and the signature verifies at the recipient', async (_, key) => {
    const keyFile = join(dir, `dkim-${key.keyType}.pem`);
    writeFileSync(keyFile, key.privatePem);
    const { code, stdout } = await send([
      ...['--from', 'alice@example.test', '--to', 'bob@example.test', '--subject', 'signed'],
      ...['--text', 'Signed body', '--attach', 'notes.csv'],
      ...['--dkim-domain', 'example.test', '--dkim-selector', 'mail', '--dkim-key', keyFile],
    ]);
    expect(code).toBe(0);
    const message = await delivered('bob', messageIdOf(stdout));
    expect(new TextDecoder().decode(message)).toMatch(/^DKIM-Signature: /m);
    const resolver = zoneResolver({ 'mail._domainkey.example.test': [keyRecord(key)] });
    const results = await verifyDkim(message, { resolver });
    expect(results.map((result) => [result.result, result.signature?.algorithm])).toEqual([
      ['pass', key.keyType === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256'],
    ]);
  });

  it('sends a ready .eml file: the envelope from its header, its Bcc fields removed, the bytes kept', async () => {
    const eml =
      'From: Alice <alice@example.test>\r\nTo: bob@example.test\r\nBcc: carol@example.test,\r\n' +
      ' dave@elsewhere.test\r\nSubject: ready-made\r\nMessage-ID: <ready-1@example.test>\r\n' +
      '\r\nBody line 1\r\n\r\nBody line 3\r\n';
    writeFileSync(join(dir, 'ready.eml'), eml);
    const { code, stdout } = await send(['--eml', 'ready.eml']);
    expect(code).toBe(0);
    expect(stdout).toContain('sent <ready-1@example.test> to ');
    expect(stdout).toContain('  accepted  bob@example.test\n  accepted  carol@example.test\n');
    expect(stdout).toMatch(/refused {3}dave@elsewhere\.test/);
    const expected = eml.replace('Bcc: carol@example.test,\r\n dave@elsewhere.test\r\n', '');
    for (const user of ['bob', 'carol']) {
      const text = new TextDecoder().decode(await delivered(user, '<ready-1@example.test>'));
      expect(text.endsWith(expected)).toBe(true);
    }
  });

  it('sends a ready .eml file to the envelope given on the command line', async () => {
    writeFileSync(
      join(dir, 'other.eml'),
      'From: someone@example.test\nSubject: no recipients\nMessage-ID: <ready-2@example.test>\n\nLF only\n',
    );
    const { code, stdout } = await send([
      ...['--eml', 'other.eml', '--from', 'alice@example.test', '--to', 'carol@example.test'],
      '--json',
    ]);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      messageId: '<ready-2@example.test>',
      accepted: ['carol@example.test'],
    });
    const text = new TextDecoder().decode(await delivered('carol', '<ready-2@example.test>'));
    expect(text).toContain('Message-ID: <ready-2@example.test>\r\n\r\nLF only\r\n');
  });

  it('sends a ready .eml file with no header/body separator, and one without a Message-ID', async () => {
    writeFileSync(
      join(dir, 'header-only.eml'),
      'From: alice@example.test\r\nTo: bob@example.test\r\nSubject: h',
    );
    const { code, stdout } = await send(['--eml', 'header-only.eml', '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ messageId: null, accepted: ['bob@example.test'] });
    const text = await send(['--eml', 'header-only.eml']);
    expect(text.stdout).toMatch(/^sent the message to /);
  });

  it('draws a progress bar on standard error only on a terminal', async () => {
    const args = ['--from', 'alice@example.test', '--to', 'bob@example.test', '--attach', 'big.bin'];
    const terminal = await send(args, { interactive: true });
    expect(terminal.code).toBe(0);
    expect(terminal.stderr).toMatch(/\r\x1b\[Ksending {2}\[[#.]{24}\] +\d+% {2}[\d.]+ [KM]?i?B \/ 2\.7 MiB/);
    expect(terminal.stderr.endsWith('\r\x1b[K')).toBe(true);
    const piped = await send(args);
    expect(piped.stderr).toBe('');
  });

  it('takes the password from POSTWIRE_PASSWORD, and the dev server certificate from ./.postwire', async () => {
    const project = join(dir, 'project');
    mkdirSync(join(project, '.postwire', 'tls'), { recursive: true });
    writeFileSync(join(project, '.postwire', 'tls', 'cert.pem'), tls.cert);
    const { code, stdout } = await sendRaw(
      [
        ...['--server', `localhost:${server.ports.submission}`, '--user', 'alice'],
        ...['--from', 'alice@example.test', '--to', 'bob@example.test', '--json'],
      ],
      { cwd: project, env: { POSTWIRE_PASSWORD: 'alice-secret' } },
    );
    expect(code).toBe(0);
    expect(JSON.parse(stdout).accepted).toEqual(['bob@example.test']);
  });

  it('connects with implicit TLS, without checking the certificate, or without TLS', async () => {
    const message = ['--from', 'alice@example.test', '--to', 'bob@example.test'];
    const login = ['--user', 'alice', '--password', 'alice-secret'];
    const implicit = await sendRaw([
      ...['--server', `127.0.0.1:${server.ports.submissions}`, '--tls', 'implicit', '--ca', caFile],
      ...login,
      ...message,
    ]);
    expect(implicit.code).toBe(0);
    const insecure = await sendRaw([
      ...['--server', `127.0.0.1:${server.ports.submission}`, '--insecure'],
      ...login,
      ...message,
    ]);
    expect(insecure.code).toBe(0);
    const cleartext = await sendRaw([
      ...['--server', `127.0.0.1:${server.ports.submission}`, '--tls', 'none'],
      ...login,
      ...message,
    ]);
    expect(cleartext.code).toBe(0);
    const mx = await sendRaw(['--server', `127.0.0.1:${server.ports.smtp}`, '--ca', caFile, ...message]);
    expect(mx.code).toBe(0);
  });
});

describe('postwire send: failures are one line, exit 1', () => {
  const message = ['--from', 'alice@example.test', '--to', 'bob@example.test'];

  it('a wrong password', async () => {
    const { code, stdout, stderr } = await sendRaw([
      ...['--server', `127.0.0.1:${server.ports.submission}`, '--ca', caFile],
      ...['--user', 'alice', '--password', 'wrong', ...message],
    ]);
    expect({ code, stdout }).toEqual({ code: 1, stdout: '' });
    expect(stderr).toMatch(/^postwire send: 127\.0\.0\.1:\d+ refused the login as "alice": .*535[^\n]*\n$/);
  });

  it('a closed port, with a JSON error', async () => {
    const { code, stdout, stderr } = await sendRaw(['--server', '127.0.0.1:1', ...message, '--json']);
    expect(code).toBe(1);
    expect(stderr).toBe(
      'postwire send: cannot connect to 127.0.0.1:1: connection refused (is `postwire serve` running?)\n',
    );
    expect(JSON.parse(stdout)).toEqual({
      error: 'cannot connect to 127.0.0.1:1: connection refused (is `postwire serve` running?)',
      code: 'CONNECT_FAILED',
    });
  });

  it('every recipient refused', async () => {
    const { code, stdout, stderr } = await send([
      ...['--from', 'alice@example.test', '--to', 'nobody@example.test', '--to', 'none@example.test'],
      '--json',
    ]);
    expect(code).toBe(1);
    expect(stderr).toMatch(
      /^postwire send: 127\.0\.0\.1:\d+ refused every recipient: nobody@example\.test: 550 5\.1\.1 .*; none@example\.test: 550 5\.1\.1 .*\n$/,
    );
    expect(JSON.parse(stdout)).toMatchObject({
      code: 'PROTOCOL_ERROR',
      rejected: [{ address: 'nobody@example.test' }, { address: 'none@example.test' }],
    });
  });

  it('no login where the server wants one', async () => {
    const { code, stderr } = await send([...message], { login: false });
    expect(code).toBe(1);
    expect(stderr).toMatch(/refused MAIL: 530 5\.7\.0 Authentication required \(give --user to log in\)\n$/);
  });

  it('a certificate that is not trusted', async () => {
    const { code, stderr } = await sendRaw([
      ...['--server', `127.0.0.1:${server.ports.submission}`, ...message],
    ]);
    expect(code).toBe(1);
    expect(stderr).toBe(
      "postwire send: TLS handshake failed: self-signed certificate; give --ca FILE to trust the server's certificate, or --insecure not to check it\n",
    );
  });

  it('TLS from the first byte where the server waits for STARTTLS', async () => {
    const { code, stderr } = await sendRaw([
      ...['--server', `127.0.0.1:${server.ports.submission}`, '--tls', 'implicit', '--ca', caFile],
      ...message,
    ]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/does not speak TLS there yet \(try --tls starttls\)\n$/);
  });

  it('a server that hangs up at once (as one on implicit TLS does, after a while)', async () => {
    const hangUp = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => hangUp.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = hangUp.address() as AddressInfo;
      const { code, stderr } = await sendRaw(['--server', `127.0.0.1:${port}`, ...message]);
      expect(code).toBe(1);
      expect(stderr).toMatch(
        /^postwire send: .*\(if the port wants TLS from the first byte, try --tls implicit\)\n$/,
      );
    } finally {
      await new Promise((resolve) => hangUp.close(resolve));
    }
  });

  it('describes a refused STARTTLS and odd server text', () => {
    const settings = { host: 'mail.example.test', port: 25, tls: 'starttls' as const, tlsOptions: {} };
    const refused = new TlsError(ErrorCode.StartTlsRequired, 'STARTTLS is not offered');
    expect(describeFailure(refused, settings)).toBe(
      'STARTTLS is not offered (--tls none goes on without TLS)',
    );
    expect(describeFailure('odd\nthing\x1b', settings)).toBe('odd thing\\x1b');
  });
});

describe('postwire send: the command line', () => {
  it('prints its usage for --help', async () => {
    const { code, stdout } = await sendRaw(['--help']);
    expect(code).toBe(0);
    expect(stdout).toBe(sendUsage);
    expect(sendUsage).toContain('./.postwire/tls/cert.pem');
  });

  it('takes --header fields named like Object.prototype members (__proto__, constructor)', async () => {
    const request = await readSendRequest(
      [
        ...['--from', 'a@example.test', '--to', 'b@example.test', '--text', 'hi'],
        ...['--header', '__proto__: one', '--header', 'constructor: two', '--header', 'constructor: three'],
      ],
      { cwd: dir, env: {} },
    );
    if (request === 'help') throw new Error('no request');
    const chunks: Uint8Array[] = [];
    for await (const chunk of request.message.chunks()) chunks.push(chunk);
    const message = await parseMessage(Buffer.concat(chunks));
    const fields = message.headers.map((field) => `${field.name}:${field.value}`);
    expect(fields).toEqual(
      expect.arrayContaining(['__proto__: one', 'constructor: two', 'constructor: three']),
    );
  });

  it('defaults to the dev server submission port with STARTTLS', async () => {
    const request = await readSendRequest(['--from', 'a@example.test', '--to', 'b@example.test'], {
      cwd: dir,
      env: {},
    });
    expect(request).toMatchObject({
      server: { host: '127.0.0.1', port: 2587, tls: 'starttls', tlsOptions: {} },
      json: false,
    });
    const implicit = await readSendRequest(
      ['--server', '[::1]:465', '--from', 'a@example.test', '--to', 'b@example.test'],
      { cwd: dir, env: {} },
    );
    expect(implicit).toMatchObject({ server: { host: '::1', port: 465, tls: 'implicit' } });
    const hostOnly = await readSendRequest(
      ['--server', 'smtp.example.test', '--from', 'a@example.test', '--to', 'b@example.test'],
      { cwd: dir, env: {} },
    );
    expect(hostOnly).toMatchObject({ server: { host: 'smtp.example.test', port: 2587 } });
  });

  it.each([
    [['--to', 'b@example.test'], 'give --from (or --eml FILE)'],
    [['--from', 'a@example.test'], 'give at least one --to, --cc or --bcc'],
    [['--from', 'a@example.test', '--to', 'b@x.test', '--text', 'a', '--text-file', 'f'], 'not both'],
    [['--from', 'a@example.test', '--to', 'b@x.test', '--header', 'nocolon'], "--header wants 'Name: value'"],
    [['--from', 'a@example.test', '--to', 'b@x.test', '--header', 'Subject: x'], 'Subject is set through'],
    [['--from', 'not an address', '--to', 'b@x.test'], 'from is not a valid address list'],
    [
      ['--from', 'a@example.test', '--to', 'b@x.test', '--attach', 'missing.pdf'],
      'cannot read --attach missing.pdf',
    ],
    [['--from', 'a@example.test', '--to', 'b@x.test', '--attach', '.'], 'cannot read --attach .: not a file'],
    [
      ['--from', 'a@example.test', '--to', 'b@x.test', '--text-file', 'missing.txt'],
      'cannot read --text-file',
    ],
    [
      ['--eml', 'ready.eml', '--subject', 'x', '--attach', 'a'],
      '--eml sends a ready message: leave out --subject, --attach',
    ],
    [['--eml', 'missing.eml'], 'cannot read --eml missing.eml'],
    [['--eml', 'nofrom.eml'], 'nofrom.eml has no From address: give --from'],
    [['--eml', 'nofrom.eml', '--from', 'a@example.test'], 'has no To, Cc or Bcc address: give --to'],
    [['--eml', 'nofrom.eml', '--from', 'a@example.test', '--to', 'x y'], '--to is not a valid address list'],
    [['--eml', 'huge.eml'], 'has no end of its header section in its first 1 MiB'],
    [['--bogus'], "Unknown option '--bogus'"],
    [['--tls', 'sometimes'], '--tls is implicit, starttls or none, not sometimes'],
    [['--server', 'host:99999'], '--server wants host:port'],
    [['--server', 'a b'], '--server wants host:port'],
    [['--user', 'alice'], '--user needs --password, or the password in POSTWIRE_PASSWORD'],
    [['--password', 'x'], '--password goes with --user'],
    [['--ca', 'ca.pem', '--insecure'], 'give --ca or --insecure, not both'],
    [['--ca', 'missing.pem'], 'cannot read --ca'],
    [['--dkim-domain', 'example.test'], 'give --dkim-domain, --dkim-selector and --dkim-key together'],
    [
      ['--dkim-domain', 'd.test', '--dkim-selector', 's', '--dkim-key', 'missing.pem'],
      'cannot read --dkim-key',
    ],
    [
      ['--dkim-domain', 'd.test', '--dkim-selector', 's', '--dkim-key', 'ca.pem'],
      'is not a private key in PEM',
    ],
    [
      ['--dkim-domain', 'd.test', '--dkim-selector', 's', '--dkim-key', 'ec.pem'],
      'is an ec key: DKIM signs with RSA or Ed25519',
    ],
  ])('refuses %j with exit 2 and the usage', async (args, message) => {
    const { code, stdout, stderr } = await sendRaw(args);
    expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
    expect(stderr).toContain(message);
    expect(stderr.startsWith('postwire send: ')).toBe(true);
    expect(stderr.endsWith(sendUsage)).toBe(true);
  });

  it('shows server text safely on one line', () => {
    expect(printable(' 550 no\r\nsuch\tuser\x1b[31m ')).toBe('550 no such\\x09user\\x1b[31m');
  });
});

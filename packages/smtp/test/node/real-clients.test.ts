import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as connectTcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createSaslServer } from '@postwire/sasl';
import { afterEach, describe, expect, it } from 'vitest';
import { testCertificates } from '../../../core/test/support/certs.js';
import { createSmtpServer, type SmtpServer, type SmtpServerOptions } from '../../src/node/server.js';
import type { SmtpEnvelope } from '../../src/server/session.js';

const run = promisify(execFile);

interface Delivery {
  readonly envelope: SmtpEnvelope;
  /** The message as the client sent it (the server's Received header taken off). */
  readonly message: string;
  readonly received?: string;
}

/** Starts a server on loopback that records each delivered message. */
async function start(options: Partial<SmtpServerOptions> = {}) {
  const deliveries: Delivery[] = [];
  const failures: unknown[] = [];
  const server = createSmtpServer({
    hostname: 'mx.postwire.test',
    async onData({ stream, envelope }) {
      const chunks: Uint8Array[] = [];
      for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
      const message = Buffer.concat(chunks).toString('utf8');
      const received = /^Received: (?:.*\r\n[\t ])*.*\r\n/.exec(message)?.[0] ?? '';
      deliveries.push({ envelope, message: message.slice(received.length), received });
    },
    onError: (error) => failures.push(error),
    ...options,
  });
  const { port } = await server.listen();
  servers.push(server);
  return { port, deliveries, failures };
}

const servers: SmtpServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

/** Runs a Python script (the standard library's smtplib is the client) and returns its output. */
async function python(script: string, ...args: string[]): Promise<string> {
  const { stdout } = await run('python3', ['-c', script, ...args], { timeout: 20_000 });
  return stdout;
}

/** Talks to the server over a plain socket, one flight at a time (each after the server's last reply). */
async function rawSession(port: number, flights: string[]): Promise<string> {
  const socket = connectTcp(port, '127.0.0.1');
  let received = '';
  socket.on('data', (data) => {
    received += data.toString();
  });
  const replies = () => (received.match(/^\d{3} /gm) ?? []).length;
  const waitForReplies = async (count: number) => {
    for (let i = 0; i < 500 && replies() < count; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
  };
  await waitForReplies(1);
  for (const flight of flights) {
    const before = replies();
    socket.write(flight);
    await waitForReplies(before + 1);
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
  socket.destroy();
  return received;
}

describe("Postwire's SMTP server with real clients", () => {
  it("Python's smtplib: EHLO, PIPELINING and SMTPUTF8 announced, a message to two recipients", async () => {
    const { port, deliveries } = await start();
    const output = await python(
      `
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='client.test')
s.ehlo()
print(s.has_extn('pipelining'), s.has_extn('smtputf8'), s.has_extn('8bitmime'), s.esmtp_features.get('size'))
refused = s.sendmail('alice@example.org', ['bob@example.com', 'carol@example.net'], 'Subject: hi\\r\\n\\r\\n.leading dot\\r\\nbye\\r\\n')
print(refused)
s.quit()
`,
      String(port),
    );
    expect(output.trim().split('\n')).toEqual(['True True True 10240000', '{}']);
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]!.message).toBe('Subject: hi\r\n\r\n.leading dot\r\nbye\r\n');
    expect(deliveries[0]!.envelope.from?.address).toBe('alice@example.org');
    expect(deliveries[0]!.envelope.recipients.map((recipient) => recipient.to.address)).toEqual([
      'bob@example.com',
      'carol@example.net',
    ]);
  });

  it("Python's smtplib: STARTTLS, then a message inside TLS", async () => {
    const certificates = testCertificates();
    const { port, deliveries } = await start({
      startTls: { cert: certificates.cert, key: certificates.key },
    });
    const dir = await mkdtemp(join(tmpdir(), 'pw-smtp-'));
    try {
      await writeFile(join(dir, 'ca.pem'), certificates.ca);
      const output = await python(
        `
import smtplib, ssl, sys
s = smtplib.SMTP('localhost', int(sys.argv[1]))
s.ehlo()
print(s.has_extn('starttls'))
s.starttls(context=ssl.create_default_context(cafile=sys.argv[2]))
s.ehlo()
print(s.has_extn('starttls'), s.sock.version())
s.sendmail('a@example.org', ['b@example.com'], 'Subject: tls\\r\\n\\r\\nsecret\\r\\n')
s.quit()
`,
        String(port),
        join(dir, 'ca.pem'),
      );
      expect(output.trim().split('\n')).toEqual(['True', 'False TLSv1.3']);
      expect(deliveries.map((delivery) => delivery.message)).toEqual(['Subject: tls\r\n\r\nsecret\r\n']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("Python's smtplib: AUTH PLAIN, LOGIN and CRAM-MD5 after STARTTLS; no cleartext mechanism before it (case 45)", async () => {
    const certificates = testCertificates();
    const sasl = createSaslServer({
      mechanisms: ['PLAIN', 'LOGIN', 'CRAM-MD5'],
      verifiers: { lookupPassword: async (username) => (username === 'alice' ? 'alicepw' : undefined) },
    });
    const users: (string | undefined)[] = [];
    const { port, deliveries } = await start({
      requireAuth: true,
      sasl,
      startTls: { cert: certificates.cert, key: certificates.key },
      onMailFrom: (_from, _parameters, connection) => {
        users.push(connection.user);
      },
    });
    const dir = await mkdtemp(join(tmpdir(), 'pw-smtp-'));
    try {
      await writeFile(join(dir, 'ca.pem'), certificates.ca);
      const output = await python(
        `
import smtplib, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
s = smtplib.SMTP('localhost', port)
s.ehlo()
print('before', s.esmtp_features.get('auth'))
try:
    s.sendmail('a@example.org', ['b@example.com'], 'Subject: x\\r\\n\\r\\nx\\r\\n')
except smtplib.SMTPSenderRefused as e:
    print('refused', e.smtp_code)
s.quit()
for mechanism in ['PLAIN', 'LOGIN', 'CRAM-MD5']:
    s = smtplib.SMTP('localhost', port)
    s.starttls(context=ssl.create_default_context(cafile=ca))
    s.ehlo()
    s.user, s.password = 'alice', 'alicepw'
    code, _ = s.auth(mechanism, getattr(s, 'auth_' + mechanism.lower().replace('-', '_')))
    print(mechanism, code)
    s.sendmail('alice@example.org', ['b@example.com'], 'Subject: ' + mechanism + '\\r\\n\\r\\nx\\r\\n')
    s.quit()
s = smtplib.SMTP('localhost', port)
s.starttls(context=ssl.create_default_context(cafile=ca))
s.ehlo()
try:
    s.login('alice', 'wrong')
except smtplib.SMTPAuthenticationError as e:
    print('bad password', e.smtp_code)
s.quit()
`,
        String(port),
        join(dir, 'ca.pem'),
      );
      expect(output.trim().split('\n')).toEqual([
        // Before TLS only CRAM-MD5, which does not reveal the password, is offered (case 45).
        'before  CRAM-MD5',
        'refused 530',
        'PLAIN 235',
        'LOGIN 235',
        'CRAM-MD5 235',
        'bad password 535',
      ]);
      expect(deliveries).toHaveLength(3);
      expect(users).toEqual(['alice', 'alice', 'alice']);
      expect(deliveries[0]!.received).toMatch(
        /^Received: from \S+ \(\S+ \[127\.0\.0\.1\]\)\r\n\tby mx\.postwire\.test \(Postwire\) with ESMTPSA id /,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("Python's smtplib: SMTPUTF8 addresses", async () => {
    const { port, deliveries } = await start();
    await python(
      `
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]))
s.ehlo()
s.sendmail('jörg@bücher.example', ['ünïcode@example.org'], 'Subject: utf8\\r\\n\\r\\nok\\r\\n'.encode(), mail_options=['SMTPUTF8'])
s.quit()
`,
      String(port),
    );
    expect(deliveries[0]!.envelope.from?.address).toBe('jörg@bücher.example');
    expect(deliveries[0]!.envelope.recipients[0]!.to.address).toBe('ünïcode@example.org');
  });

  it("Python's smtplib: LMTP, one result per recipient", async () => {
    const { port, deliveries } = await start({
      protocol: 'lmtp',
      async onData({ stream, envelope }) {
        for await (const _ of stream as unknown as AsyncIterable<Uint8Array>) {
          // Read the message to its end.
        }
        deliveries.push({ envelope, message: '' });
        return envelope.recipients.map((recipient) =>
          recipient.to.localPart === 'full'
            ? { code: 452, enhancedCode: '4.2.2', lines: ['Mailbox full'] }
            : { code: 250, enhancedCode: '2.0.0', lines: ['Delivered'] },
        );
      },
    });
    // Python's LMTP class reads one reply after DATA (its sendmail is SMTP's), so it sends to one
    // recipient; the per-recipient replies are checked on the wire below.
    const output = await python(
      `
import smtplib, sys
s = smtplib.LMTP('127.0.0.1', int(sys.argv[1]))
s.ehlo()
print(s.sendmail('a@example.org', ['ok@example.com'], 'Subject: lmtp\\r\\n\\r\\nx\\r\\n'))
s.quit()
`,
      String(port),
    );
    expect(output.trim()).toBe('{}');
    const transcript = await rawSession(port, [
      'LHLO c\r\n',
      'MAIL FROM:<a@example.org>\r\nRCPT TO:<ok@example.com>\r\nRCPT TO:<full@example.com>\r\nDATA\r\n',
      'Subject: two\r\n\r\nx\r\n.\r\n',
      'QUIT\r\n',
    ]);
    expect(transcript).toContain('250 2.0.0 Delivered\r\n452 4.2.2 Mailbox full\r\n221 ');
    expect(deliveries).toHaveLength(2);
  });

  it('swaks: pipelining, and STARTTLS', async () => {
    const certificates = testCertificates();
    const { port, deliveries } = await start({
      startTls: { cert: certificates.cert, key: certificates.key },
    });
    const swaks = (...extra: string[]) =>
      run(
        'swaks',
        [
          '--server',
          '127.0.0.1',
          '--port',
          String(port),
          '--from',
          'a@example.org',
          '--to',
          'b@example.com',
          ...extra,
        ],
        { timeout: 20_000 },
      );
    const pipelined = await swaks('--pipeline', '--header', 'Subject: pipelined');
    expect(pipelined.stdout).toMatch(/<-\s+250 2\.0\.0 Message accepted/);
    const tls = await swaks('--tls', '--header', 'Subject: over tls');
    expect(tls.stdout).toMatch(/TLS started/);
    expect(tls.stdout).toMatch(/<~\s+250 2\.0\.0 Message accepted/);
    expect(deliveries.map((delivery) => /^Subject: (.*)$/m.exec(delivery.message)?.[1]?.trim())).toEqual([
      'pipelined',
      'over tls',
    ]);
  });

  it('curl smtp:// uploads a message', async () => {
    const { port, deliveries } = await start();
    const dir = await mkdtemp(join(tmpdir(), 'pw-smtp-'));
    try {
      await writeFile(join(dir, 'message.eml'), 'Subject: from curl\r\n\r\nHello from curl.\r\n');
      await run(
        'curl',
        [
          '--silent',
          '--show-error',
          `smtp://127.0.0.1:${port}/client.test`,
          '--mail-from',
          'curl@example.org',
          '--mail-rcpt',
          'sink@example.com',
          '-T',
          join(dir, 'message.eml'),
        ],
        { timeout: 20_000 },
      );
      expect(deliveries.map((delivery) => delivery.message)).toEqual([
        'Subject: from curl\r\n\r\nHello from curl.\r\n',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a connection dropped in the middle of DATA delivers nothing', async () => {
    let streamFailed: unknown;
    const { port, deliveries } = await start({
      async onData({ stream, envelope }) {
        try {
          for await (const _ of stream as unknown as AsyncIterable<Uint8Array>) {
            // Read until the stream ends or fails.
          }
          deliveries.push({ envelope, message: '' });
        } catch (error) {
          streamFailed = error;
          throw error;
        }
      },
    });
    const socket = connectTcp(port, '127.0.0.1');
    const said: string[] = [];
    socket.on('data', (data) => said.push(data.toString()));
    const waitFor = async (pattern: RegExp) => {
      for (let i = 0; i < 200 && !pattern.test(said.join('')); i++)
        await new Promise((resolve) => setTimeout(resolve, 10));
    };
    await waitFor(/^220 /m);
    socket.write('EHLO c\r\n');
    await waitFor(/^250 /m);
    socket.write('MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n');
    await waitFor(/^354 /m);
    socket.write('Subject: half\r\n\r\nthe first half');
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.destroy();
    for (let i = 0; i < 100 && streamFailed === undefined; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(streamFailed).toBeInstanceOf(Error);
    expect(deliveries).toEqual([]);
  });
});

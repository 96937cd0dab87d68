import { existsSync } from 'node:fs';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { testCertificates } from '../../../core/test/support/certs.js';
import { runCommand } from '../../../core/test/support/peer-process.js';
import { createSmtpServer, type SmtpServer, type SmtpServerOptions } from '../../src/node/server.js';
import type { SmtpReply } from '../../src/protocol/reply.js';
import type { SmtpEnvelope } from '../../src/server/session.js';
import { aiosmtpdAvailable, startAiosmtpd } from '../support/aiosmtpd.js';
import { type PostfixPeer, postfixAvailable, startPostfix } from '../support/postfix.js';

/**
 * Real SMTP servers: the aiosmtpd and Postfix harnesses proven with Python's smtplib, and Postfix
 * (its SMTP and LMTP clients, and smtp-source) delivering into Postwire's server.
 */

const SMTP_SOURCE = '/usr/sbin/smtp-source';
const hasAiosmtpd = aiosmtpdAvailable();
const hasPostfix = postfixAvailable();
const hasSmtpSource = hasPostfix && existsSync(SMTP_SOURCE);
if (!hasAiosmtpd) {
  console.log(
    'aiosmtpd tests skipped: /usr/bin/python3 cannot import aiosmtpd (.ci/run installs python3-aiosmtpd).',
  );
}
if (!hasPostfix) {
  console.log(
    'Postfix tests skipped: Postfix is not installed or the tests do not run as root (.ci/run installs it).',
  );
} else if (!hasSmtpSource) {
  console.log(`smtp-source test skipped: ${SMTP_SOURCE} is missing.`);
}

/** Things to stop after each test, last started first. */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Runs a Python script (the standard library's smtplib is the client) and returns its output. */
async function python(script: string, ...args: string[]): Promise<string> {
  const { stdout } = await runCommand('python3', ['-c', script, ...args], { timeout: 20_000 });
  return stdout;
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

interface Delivery {
  readonly envelope: SmtpEnvelope;
  readonly message: string;
  readonly secure: boolean;
  readonly clientName: string | undefined;
}

/**
 * Postwire's server on loopback, recording each message it accepts. `replies` answers each message
 * (in LMTP, one reply per recipient); by default every message is accepted.
 */
async function startOurs(
  options: Partial<SmtpServerOptions> = {},
  replies?: (envelope: SmtpEnvelope) => readonly SmtpReply[],
) {
  const deliveries: Delivery[] = [];
  const failures: unknown[] = [];
  const server: SmtpServer = createSmtpServer({
    hostname: 'mx.postwire.test',
    host: '127.0.0.1',
    async onData({ stream, envelope }, connection) {
      const message = await readAll(stream);
      deliveries.push({ envelope, message, secure: connection.secure, clientName: connection.clientName });
      return replies?.(envelope);
    },
    onError: (error) => failures.push(error),
    ...options,
  });
  const { port } = await server.listen();
  cleanups.push(() => server.close({ timeout: 1000 }));
  return { port, deliveries, failures };
}

/** A TCP relay in front of `port` that records what the client wrote. */
async function recordingProxy(port: number) {
  const written: Buffer[] = [];
  const sockets: net.Socket[] = [];
  const proxy = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port });
    sockets.push(client, upstream);
    client.on('data', (chunk: Buffer) => written.push(chunk));
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        proxy.close(() => resolve());
      }),
  );
  return {
    port: (proxy.address() as net.AddressInfo).port,
    /** The command lines the client sent (message content left out: lines after DATA up to `.`). */
    commands(): string[] {
      const lines = Buffer.concat(written).toString('utf8').split('\r\n');
      const commands: string[] = [];
      let inData = false;
      for (const line of lines) {
        if (inData) inData = line !== '.';
        else if (line) {
          commands.push(line);
          inData = /^DATA$/i.test(line);
        }
      }
      return commands;
    },
  };
}

/** Splits off the `Received:` header at the top of a message: [header, rest]. */
function splitReceived(message: string): [string, string] {
  const header = /^Received: (?:.*\r\n[\t ])*.*\r\n/.exec(message)?.[0] ?? '';
  return [header, message.slice(header.length)];
}

describe.skipIf(!hasAiosmtpd)('the aiosmtpd harness', () => {
  it('takes a message from smtplib: envelope, SMTPUTF8, a refused recipient, the bytes as sent', async () => {
    const peer = await startAiosmtpd({
      recipientReplies: { 'nobody@example.com': '550 5.1.1 No such user' },
    });
    cleanups.push(peer.stop);
    const output = await python(
      `
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='client.test', timeout=10)
s.ehlo()
print(s.has_extn('smtputf8'), s.has_extn('auth'), s.has_extn('starttls'))
print(s.sendmail('jörg@example.org', ['bob@example.com', 'nobody@example.com'], 'Subject: hi\\r\\n\\r\\n.dot\\r\\nbye\\r\\n'.encode(), mail_options=['SMTPUTF8']))
s.quit()
`,
      String(peer.port),
    );
    expect(output.trim().split('\n')).toEqual([
      'True False False',
      "{'nobody@example.com': (550, b'5.1.1 No such user')}",
    ]);
    const messages = await peer.messages();
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({
      from: 'jörg@example.org',
      recipients: ['bob@example.com'],
      smtputf8: true,
      heloName: 'client.test',
      tls: null,
      user: null,
    });
    expect(messages[0]!.mailOptions).toContain('SMTPUTF8');
    expect(messages[0]!.data.toString('utf8')).toBe('Subject: hi\r\n\r\n.dot\r\nbye\r\n');
  });

  it('offers AUTH only on TLS (STARTTLS or implicit), refuses a wrong password, enforces its size limit', async () => {
    const peer = await startAiosmtpd({
      startTls: true,
      implicitTls: true,
      auth: { users: { alice: 'alicepw' } },
      sizeLimit: 2000,
    });
    cleanups.push(peer.stop);
    const output = await python(
      `
import smtplib, ssl, sys
port, tls_port = int(sys.argv[1]), int(sys.argv[2])
context = ssl._create_unverified_context()
s = smtplib.SMTP('127.0.0.1', port, timeout=10)
s.ehlo()
print('cleartext', s.has_extn('auth'), s.esmtp_features.get('size'))
s.starttls(context=context)
s.ehlo()
print('starttls', s.esmtp_features.get('auth', '').split())
try:
    s.login('alice', 'wrong')
except smtplib.SMTPAuthenticationError as e:
    print('wrong', e.smtp_code)
s.login('alice', 'alicepw')
s.sendmail('alice@example.org', ['bob@example.com'], 'Subject: starttls\\r\\n\\r\\nx\\r\\n')
try:
    s.sendmail('alice@example.org', ['bob@example.com'], 'Subject: big\\r\\n\\r\\n' + 'x' * 3000 + '\\r\\n')
except smtplib.SMTPSenderRefused as e:
    print('too big', e.smtp_code)
s.quit()
s = smtplib.SMTP_SSL('127.0.0.1', tls_port, context=context, timeout=10)
s.ehlo()
s.login('alice', 'alicepw')
s.sendmail('alice@example.org', ['carol@example.com'], 'Subject: implicit\\r\\n\\r\\nx\\r\\n')
s.quit()
`,
      String(peer.port),
      String(peer.tlsPort),
    );
    expect(output.trim().split('\n')).toEqual([
      'cleartext False 2000',
      "starttls ['LOGIN', 'PLAIN']",
      'wrong 535',
      'too big 552',
    ]);
    const messages = await peer.messages();
    expect(messages.map((message) => [message.recipients[0], message.user, message.tls])).toEqual([
      ['bob@example.com', 'alice', 'TLSv1.3'],
      ['carol@example.com', 'alice', 'TLSv1.3'],
    ]);
  });
});

describe.skipIf(!hasPostfix)('the Postfix harness', () => {
  it('delivers what smtplib sends (STARTTLS, implicit TLS, SMTPUTF8) and what sendmail drops into its Maildir', async () => {
    const postfix = await startPostfix({ implicitTls: true });
    cleanups.push(postfix.stop);
    const output = await python(
      `
import smtplib, ssl, sys
port, tls_port = int(sys.argv[1]), int(sys.argv[2])
context = ssl._create_unverified_context()
s = smtplib.SMTP('127.0.0.1', port, local_hostname='client.test', timeout=10)
s.ehlo()
print(*[s.has_extn(name) for name in ['pipelining', 'chunking', 'dsn', 'smtputf8', 'starttls', '8bitmime']])
s.starttls(context=context)
s.ehlo()
print(s.sendmail('alice@example.org', ['bob@example.com', 'jörg@example.net'], 'Subject: two\\r\\n\\r\\n.dot\\r\\nbye\\r\\n'.encode(), mail_options=['SMTPUTF8']))
s.quit()
s = smtplib.SMTP_SSL('127.0.0.1', tls_port, context=context, timeout=10)
print(s.sendmail('alice@example.org', ['carol@example.com'], 'Subject: implicit\\r\\n\\r\\nx\\r\\n'))
s.quit()
`,
      String(postfix.port),
      String(postfix.tlsPort),
    );
    expect(output.trim().split('\n')).toEqual(['True True True True True True', '{}', '{}']);
    await postfix.sendmail(
      ['-f', 'root@example.org', 'dave@example.com'],
      'Subject: dropped\n\nvia sendmail\n',
    );

    const messages = await postfix.waitForMessages(4);
    const byRecipient = new Map(messages.map((message) => [message.recipient, message]));
    expect([...byRecipient.keys()].sort()).toEqual([
      'bob@example.com',
      'carol@example.com',
      'dave@example.com',
      'jörg@example.net',
    ]);
    for (const recipient of ['bob@example.com', 'jörg@example.net']) {
      const message = byRecipient.get(recipient)!;
      expect(message.from).toBe('alice@example.org');
      expect(message.message.toString('utf8')).toBe('Subject: two\r\n\r\n.dot\r\nbye\r\n');
      expect(message.received).toMatch(/by postfix\.postwire\.test \(Postfix\) with UTF8SMTPS id /);
    }
    expect(byRecipient.get('carol@example.com')!.received).toMatch(/ with ESMTPS id /);
    // A local submission: Postfix adds the headers it lacks (Message-Id, Date, From).
    expect(byRecipient.get('dave@example.com')!.message.toString()).toMatch(
      /^Subject: dropped\r\n(?:.+\r\n)+\r\nvia sendmail\r\n$/,
    );
  }, 30_000);

  it('takes a message in BDAT chunks (CHUNKING) on a raw connection', async () => {
    const postfix = await startPostfix({ startTls: false });
    cleanups.push(postfix.stop);
    const first = 'Subject: chunks\r\n\r\n';
    const second = 'in two BDAT chunks\r\n';
    const transcript = await rawSession(postfix.port, [
      'EHLO client.test\r\n',
      'MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n',
      `BDAT ${first.length}\r\n${first}`,
      `BDAT ${second.length} LAST\r\n${second}`,
      'QUIT\r\n',
    ]);
    expect(transcript).toMatch(/^250[- ]CHUNKING\r\n/m);
    expect(transcript).toMatch(/^250 2\.0\.0 Ok: \d+ bytes queued as /m);
    const [message] = await postfix.waitForMessages(1);
    expect(message!.message.toString()).toBe(first + second);
  }, 30_000);
});

const RELAYED =
  'Subject: relayed\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n.leading dot\r\nGrüße aus Köln\r\n';

/** Submits RELAYED to Postfix with smtplib, with DSN parameters; prints what sendmail() refused. */
const SUBMIT = `
import smtplib, sys
port, recipients = int(sys.argv[1]), sys.argv[2].split(',')
s = smtplib.SMTP('127.0.0.1', port, local_hostname='client.test', timeout=10)
print(s.sendmail('alice@example.org', recipients, sys.argv[3].encode(),
                 mail_options=['RET=HDRS', 'ENVID=env-1', 'BODY=8BITMIME'], rcpt_options=['NOTIFY=SUCCESS,FAILURE']))
s.quit()
`;

/** Waits for Postfix's log line on its delivery attempt to `recipient`, and returns it. */
async function deliveryLine(postfix: PostfixPeer, recipient: string): Promise<string> {
  const pattern = new RegExp(`^.* to=<${recipient.replace(/\./g, '\\.')}>, .* status=.*$`, 'm');
  return pattern.exec(await postfix.waitForLog(pattern))![0];
}

describe.skipIf(!hasPostfix)("Postfix delivering into Postwire's server", () => {
  it('relays over SMTP: DATA (its client has no BDAT), the DSN parameters, the bytes, both Received headers', async () => {
    const ours = await startOurs();
    const proxy = await recordingProxy(ours.port);
    const postfix = await startPostfix({ relay: { port: proxy.port } });
    cleanups.push(postfix.stop);
    const output = await python(SUBMIT, String(postfix.port), 'bob@example.com,carol@example.net', RELAYED);
    expect(output.trim()).toBe('{}');

    for (const recipient of ['bob@example.com', 'carol@example.net']) {
      expect(await deliveryLine(postfix, recipient)).toMatch(
        /, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, .*, dsn=2\.0\.0, status=sent \(250 2\.0\.0 /,
      );
    }
    expect(ours.failures).toEqual([]);
    // Both recipients went in one transaction, as Postfix groups them per next hop.
    expect(ours.deliveries).toHaveLength(1);
    const [delivery] = ours.deliveries;
    expect(delivery!.clientName).toBe('postfix.postwire.test');
    const { envelope } = delivery!;
    expect(envelope.from?.address).toBe('alice@example.org');
    expect(envelope.mailParameters).toMatchObject({ ret: 'HDRS', envid: 'env-1', body: '8BITMIME' });
    expect(envelope.mailParameters.size).toBeGreaterThan(RELAYED.length);
    expect(
      envelope.recipients.map(({ to, parameters }) => [to.address, parameters.notify, parameters.orcpt]),
    ).toEqual([
      ['bob@example.com', ['SUCCESS', 'FAILURE'], { type: 'rfc822', address: 'bob@example.com' }],
      ['carol@example.net', ['SUCCESS', 'FAILURE'], { type: 'rfc822', address: 'carol@example.net' }],
    ]);

    // What Postfix's SMTP client chose with CHUNKING and PIPELINING offered: DATA, and QUIT written
    // together with the end of the message.
    const verbs = proxy.commands().map((line) => line.split(' ')[0]!.toUpperCase());
    expect(verbs).toEqual(['EHLO', 'MAIL', 'RCPT', 'RCPT', 'DATA', 'QUIT']);

    const [ourReceived, rest] = splitReceived(delivery!.message);
    expect(ourReceived).toMatch(
      /^Received: from postfix\.postwire\.test \(postfix\.postwire\.test \[127\.0\.0\.1\]\)\r\n\tby mx\.postwire\.test \(Postwire\) with ESMTP id \S+;/,
    );
    const [postfixReceived, original] = splitReceived(rest);
    expect(postfixReceived).toMatch(
      /^Received: from client\.test \(unknown \[127\.0\.0\.1\]\)\r\n\tby postfix\.postwire\.test \(Postfix\) with ESMTP id /,
    );
    expect(original).toBe(RELAYED);
  }, 30_000);

  it('relays over STARTTLS when Postfix requires TLS', async () => {
    const certificates = testCertificates();
    const ours = await startOurs({ startTls: { cert: certificates.cert, key: certificates.key } });
    const postfix = await startPostfix({
      relay: { port: ours.port, tls: 'encrypt' },
      mainCf: { smtp_tls_loglevel: '1' },
    });
    cleanups.push(postfix.stop);
    await python(SUBMIT, String(postfix.port), 'bob@example.com', RELAYED);
    expect(await deliveryLine(postfix, 'bob@example.com')).toMatch(/ status=sent \(250 2\.0\.0 /);
    expect(await postfix.readLog()).toMatch(
      /TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: TLSv1\.3/,
    );
    expect(ours.deliveries).toHaveLength(1);
    expect(ours.deliveries[0]!.secure).toBe(true);
    expect(splitReceived(ours.deliveries[0]!.message)[0]).toMatch(/ with ESMTPS id /);
  }, 30_000);

  it('delivers over LMTP: one result per recipient, logged by Postfix, and its bounce for the refused one', async () => {
    const ours = await startOurs({ protocol: 'lmtp' }, (envelope) =>
      envelope.recipients.map(({ to }): SmtpReply => {
        if (to.localPart === 'gone') return { code: 550, enhancedCode: '5.1.1', lines: ['No such mailbox'] };
        if (to.localPart === 'full') return { code: 452, enhancedCode: '4.2.2', lines: ['Mailbox full'] };
        return { code: 250, enhancedCode: '2.0.0', lines: ['Delivered'] };
      }),
    );
    const postfix = await startPostfix({ relay: { port: ours.port, protocol: 'lmtp' } });
    cleanups.push(postfix.stop);
    const output = await python(
      SUBMIT,
      String(postfix.port),
      'ok@example.com,gone@example.com,full@example.com',
      RELAYED,
    );
    expect(output.trim()).toBe('{}');

    expect(await deliveryLine(postfix, 'ok@example.com')).toMatch(
      /, relay=127\.0\.0\.1\[127\.0\.0\.1\]:\d+, .*, dsn=2\.0\.0, status=sent \(250 2\.0\.0 Delivered\)$/,
    );
    expect(await deliveryLine(postfix, 'gone@example.com')).toMatch(
      /, dsn=5\.1\.1, status=bounced \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 550 5\.1\.1 No such mailbox \(in reply to end of DATA command\)\)$/,
    );
    expect(await deliveryLine(postfix, 'full@example.com')).toMatch(
      /, dsn=4\.2\.2, status=deferred \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 452 4\.2\.2 Mailbox full \(in reply to end of DATA command\)\)$/,
    );
    // The message, then Postfix's bounce to the sender for the one refused for good.
    expect(await deliveryLine(postfix, 'alice@example.org')).toMatch(
      / status=sent \(250 2\.0\.0 Delivered\)$/,
    );
    expect(ours.deliveries).toHaveLength(2);

    const [message, bounce] = ours.deliveries;
    // One transaction for the three (Postfix orders them its own way).
    expect(message!.envelope.recipients.map(({ to }) => to.address).sort()).toEqual([
      'full@example.com',
      'gone@example.com',
      'ok@example.com',
    ]);
    expect(splitReceived(message!.message)[0]).toMatch(/\tby mx\.postwire\.test \(Postwire\) with LMTP id /);
    expect(bounce!.envelope.from).toBeNull();
    expect(bounce!.envelope.recipients.map(({ to }) => to.address)).toEqual(['alice@example.org']);
    expect(bounce!.message).toMatch(/^Content-Type: multipart\/report; report-type=delivery-status;/m);
    expect(bounce!.message).toMatch(/^Original-Envelope-Id: env-1\r\n/m);
    expect(bounce!.message).toMatch(
      /^Final-Recipient: rfc822; gone@example\.com\r\nOriginal-Recipient: rfc822;gone@example\.com\r\nAction: failed\r\nStatus: 5\.1\.1\r\n/m,
    );
    expect(bounce!.message).not.toMatch(/Final-Recipient: rfc822; (?:ok|full)@/);
  }, 30_000);

  it.skipIf(!hasSmtpSource)(
    'smtp-source: 200 messages over 10 sessions all arrive, none twice',
    async () => {
      const ours = await startOurs();
      await runCommand(
        SMTP_SOURCE,
        [
          '-s',
          '10',
          '-m',
          '200',
          '-d',
          '-N',
          '-l',
          '2048',
          '-M',
          'client.test',
          '-f',
          'load@example.org',
          '-t',
          'sink@example.com',
          `127.0.0.1:${ours.port}`,
        ],
        { timeout: 30_000 },
      );
      expect(ours.failures).toEqual([]);
      expect(ours.deliveries).toHaveLength(200);
      const recipients = new Set(ours.deliveries.map(({ envelope }) => envelope.recipients[0]!.to.address));
      expect(recipients.size).toBe(200);
      // smtp-source's body: 2,048 bytes of numbered lines of X, the same in every message.
      const body = (message: string) => message.slice(message.indexOf('\r\n\r\n') + 4);
      const first = body(ours.deliveries[0]!.message);
      expect(first).toMatch(/^(?:\d?X+\r\n){26}$/);
      for (const { envelope, message } of ours.deliveries) {
        expect(envelope.from?.address).toBe('load@example.org');
        expect(envelope.recipients).toHaveLength(1);
        expect(body(message)).toBe(first);
      }
    },
    30_000,
  );
});

/** Talks to a server over a plain socket, one flight at a time, each after all replies to the last. */
async function rawSession(port: number, flights: string[]): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (data) => {
    received += data.toString();
  });
  socket.on('error', () => {});
  const replies = () => (received.match(/^\d{3} /gm) ?? []).length;
  const waitForReplies = async (count: number) => {
    const end = Date.now() + 10_000;
    while (replies() < count && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 10));
  };
  let expected = 1;
  await waitForReplies(expected);
  for (const flight of flights) {
    // One reply per command line; a BDAT chunk's data is not a command.
    expected += flight.startsWith('BDAT') ? 1 : flight.split('\r\n').length - 1;
    socket.write(flight);
    await waitForReplies(expected);
  }
  socket.destroy();
  return received;
}

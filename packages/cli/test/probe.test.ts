import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createImapServer, type ImapServer } from '@postwire/imap/node';
import { createPop3Server, type Pop3Server } from '@postwire/pop3/node';
import { createSmtpServer, type SmtpServer } from '@postwire/smtp/node';
import { createMemoryStore } from '@postwire/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCertificates } from '../../core/test/support/certs.js';
import { type Script, scriptedServer } from '../../core/test/support/scripted-server.js';
import { dovecotAvailable, startImapDovecot } from '../../imap/test/support/dovecot-imap.js';
import { startPop3Dovecot } from '../../pop3/test/support/client-dovecot.js';
import { formatProbeReport, PROBE_USAGE, type ProbeReport, probe, probeCommand } from '../src/node/probe.js';
import { captureIo } from './support/capture-io.js';

/**
 * `postwire probe` against Postwire's own SMTP, LMTP, IMAP and POP3 servers (STARTTLS and implicit TLS,
 * a certificate from a throwaway CA and a self-signed one), against scripted servers for what a good
 * server never does, and through the command line.
 */

const certs = testCertificates();
const selfSigned = selfSignedCertificate();
const tlsFiles = { key: certs.key, cert: certs.cert };
const closers: (() => Promise<void>)[] = [];
const ports: Record<string, number> = {};

/** A self-signed certificate for `self.postwire.test`, made by the openssl command line. */
function selfSignedCertificate(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'postwire-probe-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
        ...['-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
        ...['-subj', '/O=Postwire/CN=self.postwire.test', '-addext', 'subjectAltName=DNS:self.postwire.test'],
      ],
      { stdio: 'pipe' },
    );
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function start(name: string, server: SmtpServer | ImapServer | Pop3Server): Promise<void> {
  ports[name] = (await server.listen()).port;
  closers.push(() => server.close({ timeout: 100 }));
}

beforeAll(async () => {
  const store = createMemoryStore();
  const smtp = { hostname: 'mx.postwire.test', host: '127.0.0.1', port: 0, onAuth: () => true };
  const imap = { store, host: '127.0.0.1', port: 0, onAuth: () => true, greeting: 'Postwire ready' };
  const pop3 = { hostname: 'pop.postwire.test', store, host: '127.0.0.1', port: 0, onAuth: () => true };
  await Promise.all([
    start('smtp', createSmtpServer({ ...smtp, startTls: tlsFiles })),
    start('smtps', createSmtpServer({ ...smtp, tls: tlsFiles })),
    start('smtpPlain', createSmtpServer(smtp)),
    start('smtpSelfSigned', createSmtpServer({ ...smtp, tls: selfSigned })),
    start('lmtp', createSmtpServer({ ...smtp, protocol: 'lmtp', startTls: tlsFiles })),
    start('imap', createImapServer({ ...imap, startTls: tlsFiles })),
    start('imaps', createImapServer({ ...imap, tls: tlsFiles })),
    start('pop3', createPop3Server({ ...pop3, startTls: tlsFiles })),
    start('pop3s', createPop3Server({ ...pop3, tls: tlsFiles })),
  ]);
});

afterAll(async () => {
  await Promise.all(closers.map((close) => close()));
});

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = captureIo();
  const code = await probeCommand(args, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

const TLS_ISSUED = {
  subject: 'CN=localhost',
  issuer: 'CN=Postwire Test CA',
  subjectAltName: 'DNS:localhost, IP Address:127.0.0.1',
  selfSigned: false,
};

function expectCertificate(report: ProbeReport): void {
  const certificate = report.tls!.certificate;
  expect(certificate).toMatchObject(TLS_ISSUED);
  expect(certificate.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  expect(certificate.validFrom).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  expect(Date.parse(certificate.validTo) - Date.parse(certificate.validFrom)).toBe(86_400_000);
}

describe('SMTP', () => {
  it('reports the greeting, STARTTLS, TLS 1.3, the certificate, and AUTH only after TLS', async () => {
    const report = await probe({ host: '127.0.0.1', port: ports.smtp! });
    expect(report).toMatchObject({
      host: '127.0.0.1',
      port: ports.smtp,
      protocol: 'smtp',
      authMechanismsBeforeTls: [],
      authMechanisms: ['PLAIN', 'LOGIN'],
      tls: { mode: 'starttls', version: 'TLSv1.3', authorized: false },
    });
    expect(report.greeting).toMatch(/^220 mx\.postwire\.test /);
    expect(report.tls!.authorizationError).toMatch(
      /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/,
    );
    expect(report.tls!.cipher).toMatch(/^TLS_/);
    expectCertificate(report);
    expect(report.capabilitiesBeforeTls).toContain('STARTTLS');
    expect(report.capabilities).not.toContain('STARTTLS');
    expect(report.capabilities).toContain('AUTH PLAIN LOGIN');
    expect(report.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('trusts the certificate with its CA, and checks the name against the servername', async () => {
    const trusted = await probe({ host: '127.0.0.1', port: ports.smtp!, ca: certs.ca });
    expect(trusted.tls).toMatchObject({ authorized: true });
    expect(trusted.tls!.authorizationError).toBeUndefined();
    const byName = await probe({
      host: '127.0.0.1',
      port: ports.smtp!,
      ca: [certs.ca],
      servername: 'localhost',
    });
    expect(byName.tls!.authorized).toBe(true);
    const wrongName = await probe({
      host: '127.0.0.1',
      port: ports.smtp!,
      ca: certs.ca,
      servername: 'mx.other.test',
    });
    expect(wrongName.tls).toMatchObject({
      authorized: false,
      authorizationError: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
  });

  it('fails on an untrusted certificate with rejectUnauthorized', async () => {
    await expect(probe({ host: '127.0.0.1', port: ports.smtp!, rejectUnauthorized: true })).rejects.toThrow(
      /^the certificate of 127\.0\.0\.1:\d+ is not trusted: UNABLE_TO/,
    );
    const report = await probe({
      host: '127.0.0.1',
      port: ports.smtp!,
      ca: certs.ca,
      rejectUnauthorized: true,
    });
    expect(report.tls!.authorized).toBe(true);
  });

  it('speaks TLS from the first byte with tls: implicit', async () => {
    const report = await probe({ host: '127.0.0.1', port: ports.smtps!, tls: 'implicit' });
    expect(report).toMatchObject({
      protocol: 'smtp',
      tls: { mode: 'implicit', version: 'TLSv1.3' },
      capabilitiesBeforeTls: [],
      authMechanismsBeforeTls: [],
      authMechanisms: ['PLAIN', 'LOGIN'],
    });
    expectCertificate(report);
    expect(report.capabilities).not.toContain('STARTTLS');
  });

  it('reports a self-signed certificate as such', async () => {
    const report = await probe({ host: '127.0.0.1', port: ports.smtpSelfSigned!, tls: 'implicit' });
    expect(report.tls).toMatchObject({
      authorized: false,
      authorizationError: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    });
    expect(report.tls!.certificate).toMatchObject({
      subject: 'O=Postwire, CN=self.postwire.test',
      issuer: 'O=Postwire, CN=self.postwire.test',
      subjectAltName: 'DNS:self.postwire.test',
      selfSigned: true,
    });
  });

  it('stays in plaintext with tls: none, and when STARTTLS is not offered', async () => {
    const none = await probe({ host: '127.0.0.1', port: ports.smtp!, tls: 'none' });
    expect(none.tls).toBeUndefined();
    expect(none.capabilities).toEqual(none.capabilitiesBeforeTls);
    expect(none.capabilities).toContain('STARTTLS');
    expect(none.authMechanisms).toEqual([]);
    const plain = await probe({ host: '127.0.0.1', port: ports.smtpPlain! });
    expect(plain.tls).toBeUndefined();
    expect(plain.capabilities).not.toContain('STARTTLS');
  });

  it('fails when STARTTLS is asked for but not offered', async () => {
    await expect(probe({ host: '127.0.0.1', port: ports.smtpPlain!, tls: 'starttls' })).rejects.toMatchObject(
      {
        code: 'STARTTLS_REQUIRED',
        message: expect.stringMatching(/^127\.0\.0\.1:\d+ does not offer STARTTLS$/),
      },
    );
  });

  it('speaks LMTP (LHLO) when told to', async () => {
    const report = await probe({ host: '127.0.0.1', port: ports.lmtp!, protocol: 'lmtp' });
    expect(report).toMatchObject({
      protocol: 'lmtp',
      tls: { mode: 'starttls' },
      authMechanisms: ['PLAIN', 'LOGIN'],
    });
    expect(report.greeting).toMatch(/^220 mx\.postwire\.test/);
  });
});

describe('IMAP', () => {
  it('reads the greeting and CAPABILITY, STARTTLS, and AUTH= after TLS', async () => {
    const report = await probe({ host: '127.0.0.1', port: ports.imap! });
    expect(report).toMatchObject({ protocol: 'imap', tls: { mode: 'starttls', version: 'TLSv1.3' } });
    expect(report.greeting).toMatch(/^\* OK .*Postwire ready$/);
    expectCertificate(report);
    expect(report.capabilitiesBeforeTls).toEqual(expect.arrayContaining(['STARTTLS', 'LOGINDISABLED']));
    expect(report.authMechanismsBeforeTls).toEqual([]);
    expect(report.capabilities).not.toContain('STARTTLS');
    expect(report.authMechanisms).toEqual(expect.arrayContaining(['PLAIN']));
  });

  it('speaks TLS from the first byte', async () => {
    const report = await probe({ host: '127.0.0.1', port: ports.imaps!, tls: 'implicit', ca: certs.ca });
    expect(report).toMatchObject({ protocol: 'imap', tls: { mode: 'implicit', authorized: true } });
    expect(report.authMechanisms).toEqual(expect.arrayContaining(['PLAIN']));
  });
});

describe('POP3', () => {
  it('reads the greeting and CAPA, STLS, and SASL after TLS', async () => {
    const report = await probe({ host: '127.0.0.1', port: ports.pop3! });
    expect(report).toMatchObject({ protocol: 'pop3', tls: { mode: 'starttls', version: 'TLSv1.3' } });
    expect(report.greeting).toMatch(/^\+OK /);
    expectCertificate(report);
    expect(report.capabilitiesBeforeTls).toContain('STLS');
    expect(report.authMechanismsBeforeTls).toEqual([]);
    expect(report.authMechanisms).toEqual(expect.arrayContaining(['PLAIN']));
  });

  it('speaks TLS from the first byte', async () => {
    const report = await probe({ host: '127.0.0.1', port: ports.pop3s!, tls: 'implicit' });
    expect(report).toMatchObject({ protocol: 'pop3', tls: { mode: 'implicit' } });
    expect(report.authMechanisms).toEqual(expect.arrayContaining(['PLAIN']));
  });
});

describe('odd and hostile servers', () => {
  /** Starts a scripted server for one test, closed after the suite. */
  async function scripted(greeting: string, script: Script = () => undefined) {
    const server = await scriptedServer(greeting, script);
    closers.push(server.close);
    return server;
  }

  it('reports a refusal in the SMTP greeting', async () => {
    const { port } = await scripted('554 5.7.1 No service for you\r\n');
    await expect(probe({ host: '127.0.0.1', port })).rejects.toMatchObject({
      code: 'CONNECT_FAILED',
      message: `127.0.0.1:${port} refused the connection: 554 5.7.1 No service for you`,
    });
  });

  it('keeps a multi-line greeting, falls back to HELO, and leaves when QUIT is not answered', async () => {
    const server = await scripted('220-mx.odd.test first\r\n220 \x1b[31mred\r\n', (line) =>
      line.startsWith('EHLO')
        ? '502 5.5.1 EHLO? Never heard of it\r\n'
        : line.startsWith('HELO')
          ? '250 ok\r\n'
          : undefined,
    );
    const report = await probe({ host: '127.0.0.1', port: server.port });
    expect(report).toMatchObject({
      protocol: 'smtp',
      greeting: '220-mx.odd.test first\n220 \x1b[31mred',
      capabilities: [],
      authMechanisms: [],
    });
    expect(report.tls).toBeUndefined();
    expect(server.lines).toEqual(['EHLO postwire-probe', 'HELO postwire-probe', 'QUIT']);
    const text = formatProbeReport(report);
    expect(text).toContain(`Greeting          220-mx.odd.test first\n${' '.repeat(18)}220 \\x1b[31mred\n`);
    expect(text).toContain('TLS               none\n');
    expect(text).toContain('Capabilities      none\n');
    expect(text).not.toContain('before TLS');
  });

  it('fails when EHLO and HELO, or LHLO, are refused', async () => {
    const { port } = await scripted('220 mx.odd.test\r\n', () => '500 5.5.2 What?\r\n');
    await expect(probe({ host: '127.0.0.1', port })).rejects.toThrow(
      `127.0.0.1:${port} refused EHLO: 500 5.5.2 What?`,
    );
    await expect(probe({ host: '127.0.0.1', port, protocol: 'lmtp' })).rejects.toMatchObject({
      code: 'PROTOCOL_ERROR',
      message: `127.0.0.1:${port} refused LHLO: 500 5.5.2 What?`,
    });
  });

  it('fails when STARTTLS is refused, or its handshake fails or stalls', async () => {
    const ehlo = '250-mx.odd.test\r\n250 STARTTLS\r\n';
    const refusing = await scripted('220 mx.odd.test\r\n', (line) =>
      line.startsWith('EHLO') ? ehlo : '454 4.7.0 TLS not available\r\n',
    );
    await expect(probe({ host: '127.0.0.1', port: refusing.port })).rejects.toMatchObject({
      code: 'STARTTLS_REQUIRED',
      message: `127.0.0.1:${refusing.port} refused STARTTLS: 454 4.7.0 TLS not available`,
    });
    const breaking = await scripted('220 mx.odd.test\r\n', (line, socket) => {
      if (line.startsWith('EHLO')) return ehlo;
      socket.write('220 2.0.0 Go ahead\r\n');
      setTimeout(() => socket.end('this is no TLS\r\n'), 50);
      return undefined;
    });
    await expect(probe({ host: '127.0.0.1', port: breaking.port, tls: 'starttls' })).rejects.toMatchObject({
      code: 'TLS_FAILED',
      message: expect.stringMatching(
        new RegExp(`^TLS handshake with 127\\.0\\.0\\.1:${breaking.port} failed: `),
      ),
    });
    const stalling = await scripted('220 mx.odd.test\r\n', (line) =>
      line.startsWith('EHLO') ? ehlo : '220 2.0.0 Go ahead\r\n',
    );
    await expect(probe({ host: '127.0.0.1', port: stalling.port, timeout: 300 })).rejects.toMatchObject({
      code: 'TIMEOUT',
      message: `the TLS handshake with 127.0.0.1:${stalling.port} timed out after 300 ms`,
    });
  });

  it('fails on malformed replies and over-long lines, naming what was read', async () => {
    const garbled = await scripted('220 mx.odd.test\r\n', () => 'hello there\r\n');
    await expect(probe({ host: '127.0.0.1', port: garbled.port })).rejects.toMatchObject({
      code: 'PROTOCOL_ERROR',
      message: `cannot read the EHLO reply from 127.0.0.1:${garbled.port}: malformed reply line "hello there"`,
    });
    const long = await scripted('220 mx.odd.test\r\n', () => `250 ${'x'.repeat(9000)}\r\n`);
    await expect(probe({ host: '127.0.0.1', port: long.port })).rejects.toThrow(
      `cannot read the EHLO reply from 127.0.0.1:${long.port}: line exceeds the limit of 8192 bytes`,
    );
    const longGreeting = await scripted('x'.repeat(9000));
    await expect(probe({ host: '127.0.0.1', port: longGreeting.port })).rejects.toThrow(
      `the greeting from 127.0.0.1:${longGreeting.port} is longer than 8192 bytes`,
    );
  });

  it('reports a server that closes or resets the connection', async () => {
    const closing = await scripted('220 mx.odd.test\r\n', (_, socket) => {
      socket.end();
      return undefined;
    });
    await expect(probe({ host: '127.0.0.1', port: closing.port })).rejects.toMatchObject({
      code: 'CONNECTION_CLOSED',
      message: `127.0.0.1:${closing.port} closed the connection while the probe waited for the EHLO reply`,
    });
    const resetting = await scripted('220 mx.odd.test\r\n', (_, socket) => {
      socket.resetAndDestroy();
      return undefined;
    });
    await expect(probe({ host: '127.0.0.1', port: resetting.port })).rejects.toMatchObject({
      code: 'CONNECTION_CLOSED',
      message: `the connection to 127.0.0.1:${resetting.port} failed while waiting for the EHLO reply: read ECONNRESET`,
    });
  });

  it('recognises no mail server, and a greeting of another protocol than asked for', async () => {
    const web = await scripted('HTTP/1.1 400 Bad Request\r\n');
    await expect(probe({ host: '127.0.0.1', port: web.port })).rejects.toMatchObject({
      code: 'PROTOCOL_ERROR',
      message: `unexpected greeting from 127.0.0.1:${web.port}: "HTTP/1.1 400 Bad Request"`,
    });
    await expect(probe({ host: '127.0.0.1', port: ports.smtp!, protocol: 'imap' })).rejects.toThrow(
      new RegExp(`^unexpected greeting from 127\\.0\\.0\\.1:${ports.smtp} \\(expected IMAP\\): "220 mx`),
    );
    await expect(probe({ host: '127.0.0.1', port: ports.imap!, protocol: 'pop3' })).rejects.toThrow(
      '(expected POP3): "* OK',
    );
  });

  it('times out on a server that never greets, or never finishes the handshake', async () => {
    const port = await silent();
    await expect(probe({ host: '127.0.0.1', port, timeout: 200 })).rejects.toMatchObject({
      code: 'TIMEOUT',
      message: `timed out after 200 ms waiting for the greeting from 127.0.0.1:${port} (if the server speaks TLS from the first byte, use --tls implicit)`,
    });
    await expect(probe({ host: '127.0.0.1', port, timeout: 200, tls: 'implicit' })).rejects.toMatchObject({
      code: 'TIMEOUT',
      message: `the TLS handshake with 127.0.0.1:${port} timed out after 200 ms`,
    });
  });

  it('waits out a timeout longer than a timer can hold (2^31 ms) instead of timing out at once', async () => {
    // The server answers the TLS ClientHello a while later by closing: a wait that is still running then
    // fails the handshake; one that overflowed to 1 ms has timed out long before.
    const sockets = new Set<Socket>();
    const server: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.once('data', () => setTimeout(() => socket.destroy(), 100));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(
      () =>
        new Promise((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        }),
    );
    const { port } = server.address() as { port: number };
    await expect(probe({ host: '127.0.0.1', port, timeout: 2 ** 32, tls: 'implicit' })).rejects.toMatchObject(
      {
        code: 'TLS_FAILED',
      },
    );
  });

  it('fails a TLS handshake with a server that speaks plaintext', async () => {
    await expect(probe({ host: '127.0.0.1', port: ports.smtpPlain!, tls: 'implicit' })).rejects.toMatchObject(
      {
        code: 'TLS_FAILED',
        message: expect.stringMatching(
          new RegExp(`^TLS handshake with 127\\.0\\.0\\.1:${ports.smtpPlain} failed: `),
        ),
      },
    );
  });

  it('reports a closed port', async () => {
    const port = await closedPort();
    await expect(probe({ host: '127.0.0.1', port })).rejects.toMatchObject({
      code: 'CONNECT_FAILED',
      message: `cannot connect to 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`,
    });
  });

  it('IMAP: a BYE greeting, capabilities from the greeting or the tagged OK, BYE, STARTTLS refused', async () => {
    const bye = await scripted('* BYE Too many connections\r\n');
    await expect(probe({ host: '127.0.0.1', port: bye.port })).rejects.toThrow(
      `127.0.0.1:${bye.port} refused the connection: * BYE Too many connections`,
    );
    const fromGreeting = await scripted('* PREAUTH [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n', (line) =>
      line.endsWith('CAPABILITY')
        ? '* OK [ALERT] Not now\r\na NO Not now\r\n'
        : `* BYE Logging out\r\n${line.split(' ')[0]} OK done\r\n`,
    );
    const report = await probe({ host: '127.0.0.1', port: fromGreeting.port });
    expect(report).toMatchObject({
      protocol: 'imap',
      capabilities: ['IMAP4rev1', 'AUTH=PLAIN'],
      authMechanisms: ['PLAIN'],
    });
    expect(fromGreeting.lines).toEqual(['a CAPABILITY', 'b LOGOUT']);
    const fromTagged = await scripted('* OK hi\r\n', (line) =>
      line.endsWith('CAPABILITY')
        ? 'a OK [CAPABILITY IMAP4rev2 STARTTLS auth=scram-sha-256] done\r\n'
        : 'b NO [ALERT] No TLS today\r\n',
    );
    await expect(probe({ host: '127.0.0.1', port: fromTagged.port })).rejects.toMatchObject({
      code: 'STARTTLS_REQUIRED',
      message: `127.0.0.1:${fromTagged.port} refused STARTTLS: NO No TLS today`,
    });
    const none = await probe({ host: '127.0.0.1', port: fromTagged.port, tls: 'none' });
    expect(none).toMatchObject({
      capabilities: ['IMAP4rev2', 'STARTTLS', 'auth=scram-sha-256'],
      authMechanisms: ['SCRAM-SHA-256'],
    });
    const bare = await scripted('* OK hi\r\n', (line) => `${line.split(' ')[0]} BAD What?\r\n`);
    expect((await probe({ host: '127.0.0.1', port: bare.port })).capabilities).toEqual([]);
    const leaving = await scripted('* OK hi\r\n', () => '* BYE Shutting down\r\n');
    await expect(probe({ host: '127.0.0.1', port: leaving.port })).rejects.toMatchObject({
      code: 'CONNECTION_CLOSED',
      message: `127.0.0.1:${leaving.port} said BYE: Shutting down`,
    });
    const literal = await scripted('* OK hi\r\n', () => '* CAPABILITY {99999999999}\r\n');
    await expect(probe({ host: '127.0.0.1', port: literal.port })).rejects.toThrow(
      `cannot read the response to CAPABILITY from 127.0.0.1:${literal.port}: `,
    );
    const garbled = await scripted('* OK hi\r\n', () => 'a MAYBE\r\n');
    await expect(probe({ host: '127.0.0.1', port: garbled.port })).rejects.toThrow(
      `cannot read the response to CAPABILITY from 127.0.0.1:${garbled.port}: `,
    );
  });

  it('POP3: a refusing greeting, no CAPA, dot-stuffed CAPA lines, STLS refused, a garbled status', async () => {
    const busy = await scripted('-ERR [SYS/TEMP] Busy\r\n');
    await expect(probe({ host: '127.0.0.1', port: busy.port })).rejects.toThrow(
      `127.0.0.1:${busy.port} refused the connection: -ERR [SYS/TEMP] Busy`,
    );
    const old = await scripted('+OK RFC 1939 only\r\n', (line) =>
      line === 'QUIT' ? '+OK bye\r\n' : '-ERR what?\r\n',
    );
    const report = await probe({ host: '127.0.0.1', port: old.port });
    expect(report).toMatchObject({ protocol: 'pop3', capabilities: [], authMechanisms: [] });
    expect(old.lines).toEqual(['CAPA', 'QUIT']);
    const refusing = await scripted('+OK hi\r\n', (line) =>
      line === 'CAPA' ? '+OK\r\n..X-DOT\r\nSTLS\r\nSASL CRAM-MD5\r\n.\r\n' : '-ERR [SYS/TEMP] Not now\r\n',
    );
    await expect(probe({ host: '127.0.0.1', port: refusing.port })).rejects.toThrow(
      `127.0.0.1:${refusing.port} refused STLS: -ERR [SYS/TEMP] Not now`,
    );
    const plain = await probe({ host: '127.0.0.1', port: refusing.port, tls: 'none' });
    expect(plain).toMatchObject({
      capabilities: ['.X-DOT', 'STLS', 'SASL CRAM-MD5'],
      authMechanisms: ['CRAM-MD5'],
    });
    const garbled = await scripted('+OK hi\r\n', () => 'maybe\r\n');
    await expect(probe({ host: '127.0.0.1', port: garbled.port })).rejects.toThrow(
      `cannot read the CAPA response from 127.0.0.1:${garbled.port}: not a POP3 status line: "maybe"`,
    );
  });
});

/** A server that accepts connections and never writes. */
async function silent(): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(
    () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as { port: number }).port;
}

/** A port nothing listens on: one just closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('probe() arguments', () => {
  it('refuses a bad port, timeout, TLS mode or protocol', async () => {
    await expect(probe({ host: '127.0.0.1', port: 0 })).rejects.toThrow('0 is not a port (1 to 65535)');
    await expect(probe({ host: '127.0.0.1', port: 1.5 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(probe({ host: '127.0.0.1', port: 25, timeout: 0 })).rejects.toThrow('positive number');
    await expect(probe({ host: '127.0.0.1', port: 25, tls: 'always' as 'auto' })).rejects.toThrow(
      '"always" is not a TLS mode',
    );
    await expect(probe({ host: '127.0.0.1', port: 25, protocol: 'toString' as 'smtp' })).rejects.toThrow(
      '"toString" is not a protocol',
    );
  });
});

describe('postwire probe', () => {
  it('prints an aligned summary', async () => {
    const { code, stdout, stderr } = await run(`127.0.0.1:${ports.smtp}`);
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(stdout).toMatch(new RegExp(`^Server {12}127\\.0\\.0\\.1:${ports.smtp} \\(SMTP\\)\n`));
    expect(stdout).toMatch(/\nGreeting {10}220 mx\.postwire\.test .*\n/);
    expect(stdout).toMatch(/\nTLS {15}TLSv1\.3, TLS_\w+, after STARTTLS\n/);
    expect(stdout).toContain('\nCertificate       CN=localhost\n');
    expect(stdout).toContain('\n  issuer          CN=Postwire Test CA\n');
    expect(stdout).toMatch(/\n {2}valid {11}\d{4}-\S+Z to \d{4}-\S+Z\n/);
    expect(stdout).toContain('\n  names           DNS:localhost, IP Address:127.0.0.1\n');
    expect(stdout).toMatch(/\n {2}SHA-256 {9}([0-9A-F]{2}:){31}[0-9A-F]{2}\n/);
    expect(stdout).toMatch(/\n {2}trusted {9}no \(UNABLE_TO_\w+\)\n/);
    expect(stdout).toMatch(/\nCapabilities {6}PIPELINING, .*AUTH PLAIN LOGIN\n/s);
    expect(stdout).toMatch(/\n {2}before TLS {6}PIPELINING, .*STARTTLS\n/s);
    expect(stdout).toContain('\nAuth              PLAIN, LOGIN\n  before TLS      none\n');
    expect(stdout).toMatch(/\nTime {14}\d+ ms\n$/);
    // Lists wrap at 100 columns; only the fingerprint is longer.
    for (const line of stdout.split('\n').filter((line) => !line.includes('SHA-256'))) {
      expect(line.length).toBeLessThanOrEqual(100);
    }
  });

  it('trusts a CA from a file, fails with --verify when untrusted, and shows a self-signed certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postwire-probe-ca-'));
    try {
      writeFileSync(join(dir, 'ca.pem'), certs.ca);
      const trusted = await run(
        '--ca',
        join(dir, 'ca.pem'),
        '--verify',
        '--tls=implicit',
        `127.0.0.1:${ports.imaps}`,
      );
      expect(trusted.code).toBe(0);
      expect(trusted.stdout).toContain('\n  trusted         yes\n');
      expect(trusted.stdout).toMatch(/\nTLS {15}TLSv1\.3, TLS_\w+, implicit TLS\n/);
      expect(trusted.stdout).not.toContain('before TLS');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const refused = await run(
      '--verify',
      `--servername=self.postwire.test`,
      '--tls',
      'implicit',
      `127.0.0.1:${ports.smtpSelfSigned}`,
    );
    expect(refused).toEqual({
      code: 1,
      stdout: '',
      stderr: `postwire probe: the certificate of 127.0.0.1:${ports.smtpSelfSigned} is not trusted: DEPTH_ZERO_SELF_SIGNED_CERT\n`,
    });
    const shown = await run('--tls', 'implicit', `127.0.0.1:${ports.smtpSelfSigned}`);
    expect(shown.stdout).toContain('\n  trusted         no (DEPTH_ZERO_SELF_SIGNED_CERT), self-signed\n');
  });

  it('prints the report as JSON with --json', async () => {
    const { code, stdout } = await run(
      '--json',
      '--protocol',
      'pop3',
      '--timeout',
      '5000',
      `127.0.0.1:${ports.pop3}`,
    );
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as ProbeReport;
    expect(report).toMatchObject({
      host: '127.0.0.1',
      port: ports.pop3,
      protocol: 'pop3',
      tls: { mode: 'starttls', version: 'TLSv1.3', authorized: false, certificate: TLS_ISSUED },
      authMechanismsBeforeTls: [],
    });
    expect(report.capabilitiesBeforeTls).toContain('STLS');
    expect(report.authMechanisms).toContain('PLAIN');
  });

  it('prints one line on stderr, and { error } with --json, for a failure (exit 1)', async () => {
    const port = await closedPort();
    const human = await run(`127.0.0.1:${port}`);
    expect(human).toEqual({
      code: 1,
      stdout: '',
      stderr: `postwire probe: cannot connect to 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`,
    });
    const json = await run('--json', `127.0.0.1:${port}`);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({
      error: `cannot connect to 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`,
      code: 'CONNECT_FAILED',
    });
    expect(json.stderr).toBe(human.stderr);
    const v6 = await run(`[::1]:${port}`);
    expect(v6.code).toBe(1);
    expect(v6.stderr).toMatch(new RegExp(`^postwire probe: cannot connect to \\[::1\\]:${port}: .*\n$`));
  });

  it('times out on a silent server', async () => {
    const port = await silent();
    const result = await run('--timeout', '150', `127.0.0.1:${port}`);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^postwire probe: timed out after 150 ms waiting for the greeting from /);
  });

  it('shows the usage for bad arguments (exit 2), and for --help (exit 0)', async () => {
    const cases: [string[], string][] = [
      [[], 'no host:port given'],
      [['localhost'], 'expected host:port (such as mail.example.com:587 or [::1]:25), not localhost'],
      [['localhost:0'], 'expected host:port'],
      [['localhost:65536'], 'expected host:port'],
      [['::1:25'], 'expected host:port'],
      [['--protocol=smtps', 'localhost:25'], '--protocol is smtp, lmtp, imap or pop3, not smtps'],
      [['--tls', 'always', 'localhost:25'], '--tls is auto, implicit, starttls or none, not always'],
      [['--timeout', '0', 'localhost:25'], '--timeout is a positive number of milliseconds, not 0'],
      [['--timeout', '1e3', 'localhost:25'], '--timeout is a positive number of milliseconds, not 1e3'],
      [['localhost:25', '--timeout'], '--timeout needs a value'],
      [['--servername=', 'localhost:25'], '--servername needs a value'],
      [['--bogus', 'localhost:25'], 'unknown option --bogus'],
      [['localhost:25', 'localhost:26'], 'one host:port only (localhost:25 and localhost:26 given)'],
      [['--ca', '/nonexistent/ca.pem', 'localhost:25'], 'cannot read --ca /nonexistent/ca.pem: ENOENT'],
    ];
    for (const [args, message] of cases) {
      const { code, stdout, stderr } = await run(...args);
      expect({ args, code, stdout }).toEqual({ args, code: 2, stdout: '' });
      expect(stderr).toContain(`postwire probe: ${message}`);
      expect(stderr).toContain(PROBE_USAGE);
    }
    expect(await run('--json', '-h')).toEqual({ code: 0, stdout: PROBE_USAGE, stderr: '' });
    expect(await run('--help')).toEqual({ code: 0, stdout: PROBE_USAGE, stderr: '' });
  });

  it('formats a certificate without names and a plaintext report', () => {
    const report: ProbeReport = {
      host: '::1',
      port: 24,
      protocol: 'lmtp',
      greeting: '220 lmtp.test',
      capabilitiesBeforeTls: [],
      tls: {
        mode: 'implicit',
        version: 'TLSv1.2',
        cipher: 'ECDHE-ECDSA-AES256-GCM-SHA384',
        authorized: true,
        certificate: {
          subject: 'CN=lmtp.test',
          issuer: 'CN=CA',
          validFrom: '2026-01-01T00:00:00Z',
          validTo: '2027-01-01T00:00:00Z',
          fingerprint256: 'AA:BB',
          selfSigned: false,
        },
      },
      capabilities: ['PIPELINING'],
      authMechanisms: [],
      authMechanismsBeforeTls: [],
      durationMs: 3,
    };
    expect(formatProbeReport(report)).toBe(
      [
        'Server            [::1]:24 (LMTP)',
        'Greeting          220 lmtp.test',
        'TLS               TLSv1.2, ECDHE-ECDSA-AES256-GCM-SHA384, implicit TLS',
        'Certificate       CN=lmtp.test',
        '  issuer          CN=CA',
        '  valid           2026-01-01T00:00:00Z to 2027-01-01T00:00:00Z',
        '  names           none',
        '  SHA-256         AA:BB',
        '  trusted         yes',
        'Capabilities      PIPELINING',
        'Auth              none',
        'Time              3 ms',
        '',
      ].join('\n'),
    );
  });
});

describe.runIf(dovecotAvailable())('Dovecot', () => {
  it('probes its IMAP and POP3, with STARTTLS and on implicit TLS', { timeout: 30_000 }, async () => {
    const [imap, pop3] = await Promise.all([
      startImapDovecot({ users: { probe: 'secret' } }),
      startPop3Dovecot({ users: { probe: 'secret' }, tls: tlsFiles }),
    ]);
    try {
      const imapStartTls = await probe({ host: '127.0.0.1', port: imap.port, ca: imap.ca });
      expect(imapStartTls).toMatchObject({ protocol: 'imap', tls: { mode: 'starttls', authorized: true } });
      expect(imapStartTls.greeting).toMatch(/^\* OK /);
      expect(imapStartTls.capabilitiesBeforeTls).toContain('STARTTLS');
      expect(imapStartTls.authMechanisms).toContain('PLAIN');
      const imaps = await probe({ host: '127.0.0.1', port: imap.tlsPort, tls: 'implicit', ca: imap.ca });
      expect(imaps).toMatchObject({ protocol: 'imap', tls: { mode: 'implicit', authorized: true } });
      const pop3StartTls = await probe({ host: '127.0.0.1', port: pop3.port, ca: certs.ca });
      expect(pop3StartTls).toMatchObject({ protocol: 'pop3', tls: { mode: 'starttls', authorized: true } });
      expect(pop3StartTls.capabilitiesBeforeTls).toContain('STLS');
      expect(pop3StartTls.authMechanisms).toContain('PLAIN');
      expectCertificate(pop3StartTls);
      const pop3s = await probe({ host: '127.0.0.1', port: pop3.securePort!, tls: 'implicit' });
      expect(pop3s).toMatchObject({ protocol: 'pop3', tls: { mode: 'implicit', version: 'TLSv1.3' } });
    } finally {
      await Promise.all([imap.stop(), pop3.stop()]);
    }
  });
});

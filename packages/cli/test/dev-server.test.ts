import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { anyFreeDevServerPorts, type DevServer, startDevServer } from '@postwire/cli';
import { createImapClient } from '@postwire/imap/node';
import type { DnsResolver } from '@postwire/mailauth';
import { createPop3Client } from '@postwire/pop3/node';
import { SmtpReplyError } from '@postwire/smtp';
import { createSmtpClient } from '@postwire/smtp/node';
import { createMemoryStore } from '@postwire/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** A self-signed certificate for localhost and 127.0.0.1, made by the openssl command line. */
function certificate(): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'postwire-cli-cert-'));
  try {
    execFileSync(
      'openssl',
      [
        ...[
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-days',
          '1',
        ],
        ...['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=localhost'],
        ...['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
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

const tls = certificate();
const noDns: DnsResolver = {
  txt: async () => null,
  a: async () => null,
  aaaa: async () => null,
  mx: async () => null,
  ptr: async () => null,
};
const users = [
  { name: 'alice', password: 'alice-secret' },
  { name: 'bob', password: 'bob-secret' },
];
const message = (to: string, subject: string) =>
  `From: alice@example.test\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@example.test>\r\n\r\nHello\r\n`;

async function inboxSubjects(server: DevServer, user: { name: string; password: string }): Promise<string[]> {
  const imap = await createImapClient({
    host: '127.0.0.1',
    port: server.ports.imap,
    starttls: 'required',
    tls: { ca: tls.cert, servername: 'localhost' },
    auth: { username: user.name, password: user.password },
  });
  try {
    await imap.open('INBOX');
    const subjects: string[] = [];
    for await (const item of imap.fetch('1:*', { envelope: true }))
      subjects.push(item.envelope?.subject ?? '');
    return subjects;
  } finally {
    await imap.logout();
  }
}

describe('startDevServer', () => {
  let server: DevServer;
  beforeAll(async () => {
    server = await startDevServer({
      store: createMemoryStore(),
      users,
      tls,
      ports: anyFreeDevServerPorts,
      mailAuthentication: { resolver: noDns },
    });
  });
  afterAll(() => server.close());

  it('takes mail on submission (STARTTLS, AUTH) for a user, who reads it over IMAP and POP3', async () => {
    const smtp = createSmtpClient({
      host: '127.0.0.1',
      port: server.ports.submission,
      starttls: 'required',
      tls: { ca: tls.cert, servername: 'localhost' },
      auth: { username: 'alice', password: 'alice-secret' },
    });
    const result = await smtp.send({
      envelope: { from: 'alice@example.test', to: ['bob@example.test'] },
      message: message('bob@example.test', 'submitted'),
    });
    await smtp.close();
    expect(result.accepted).toEqual(['bob@example.test']);
    expect(await inboxSubjects(server, users[1]!)).toContain('submitted');
    const pop3 = await createPop3Client({
      host: '127.0.0.1',
      port: server.ports.pop3s,
      secure: true,
      tls: { ca: tls.cert, servername: 'localhost' },
      auth: { username: 'bob', password: 'bob-secret' },
    });
    const listing = await pop3.list();
    expect(listing.length).toBeGreaterThan(0);
    await pop3.quit();
  });

  it('takes mail for a user on the MX port, with Authentication-Results, and refuses unknown users', async () => {
    const smtp = createSmtpClient({ host: '127.0.0.1', port: server.ports.smtp, starttls: 'never' });
    await smtp.send({
      envelope: { from: 'someone@elsewhere.test', to: ['alice@any.domain.test'] },
      message: message('alice@any.domain.test', 'inbound'),
    });
    await expect(
      smtp.send({
        envelope: { from: 'someone@elsewhere.test', to: ['nobody@example.test'] },
        message: message('x', 'lost'),
      }),
    ).rejects.toThrow(SmtpReplyError);
    await smtp.close();
    expect(await inboxSubjects(server, users[0]!)).toEqual(['inbound']);
  });

  it('serves the Thunderbird autoconfiguration', async () => {
    const response = await fetch(
      `http://127.0.0.1:${server.ports.autoconfig}/mail/config-v1.1.xml?emailaddress=alice%40example.test`,
    );
    expect(response.status).toBe(200);
    const xml = await response.text();
    expect(xml).toContain('<domain>example.test</domain>');
    expect(xml).toContain(`<port>${server.ports.imaps}</port>`);
    expect(xml).toContain('<socketType>STARTTLS</socketType>');
    expect((await fetch(`http://127.0.0.1:${server.ports.autoconfig}/other`)).status).toBe(404);
  });

  it('answers a request whose target is no URL with 400, and keeps serving', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      let text = '';
      const socket = connect(server.ports.autoconfig, '127.0.0.1', () =>
        socket.write('GET //[ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'),
      );
      socket.on('data', (chunk) => {
        text += chunk.toString('latin1');
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    expect((await fetch(`http://127.0.0.1:${server.ports.autoconfig}/mail/config-v1.1.xml`)).status).toBe(
      200,
    );
  });
});

describe('startDevServer with a catch-all user', () => {
  it('keeps mail for any address in that user’s INBOX, from submission and the MX port', async () => {
    const server = await startDevServer({
      store: createMemoryStore(),
      users,
      tls,
      ports: anyFreeDevServerPorts,
      catchAll: 'alice',
      mailAuthentication: false,
    });
    try {
      const submission = createSmtpClient({
        host: '127.0.0.1',
        port: server.ports.submissions,
        secure: true,
        tls: { ca: tls.cert, servername: 'localhost' },
        auth: { username: 'bob', password: 'bob-secret' },
      });
      await submission.send({
        envelope: { from: 'bob@example.test', to: ['customer@gmail.example', 'bob@example.test'] },
        message: message('customer@gmail.example', 'receipt'),
      });
      await submission.close();
      expect(await inboxSubjects(server, users[0]!)).toEqual(['receipt']);
      expect(await inboxSubjects(server, users[1]!)).toEqual(['receipt']);
    } finally {
      await server.close();
    }
  });

  it('refuses a catch-all user that does not exist, and an empty user list', async () => {
    const base = { store: createMemoryStore(), tls, ports: anyFreeDevServerPorts };
    await expect(startDevServer({ ...base, users, catchAll: 'carol' })).rejects.toThrow(/not a user/);
    await expect(startDevServer({ ...base, users: [] })).rejects.toThrow(/at least one user/);
  });
});

/**
 * The `test-server` example: a mail server inside an application's own Vitest suite.
 *
 * An application that sends mail (here, password-reset emails) wants its tests to exercise the real
 * path: compose, connect, STARTTLS, log in, send. Rather than mock the SMTP client, the test starts
 * Postwire's dev server in-process on free ports, points the application's mail settings at it, lets
 * the application send, then looks at what arrived, over IMAP as a mail client would, or straight in
 * the server's store. The server keeps everything in memory and, with a catch-all user, takes mail for
 * any address without relaying it anywhere: no message can leave the test.
 *
 * Run it with `npx vitest run --project examples test-server`.
 */
import {
  anyFreeDevServerPorts,
  createSelfSignedCertificate,
  type DevServer,
  startDevServer,
} from '@postwire/cli';
import { AuthenticationError } from '@postwire/core';
import { createImapClient } from '@postwire/imap/node';
import { parseMessage } from '@postwire/mime';
import { createSmtpClient } from '@postwire/smtp/node';
import { createMemoryStore, type MailStore } from '@postwire/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// ---------------------------------------------------------------------------------------------------
// The application code under test. In a real project this lives in the application's sources and
// reads its settings from its configuration; only the settings differ between production and tests.
// ---------------------------------------------------------------------------------------------------

/** How the application reaches its submission server. */
interface MailSettings {
  host: string;
  port: number;
  username: string;
  password: string;
  /** The CA to trust, for a server with a self-signed certificate (the test's). */
  ca?: string;
  /** The sender of the application's mail. */
  from: string;
  /** Where the application's web pages are, for the links in its mail. */
  baseUrl: string;
}

/** Sends the password-reset email with the link that carries `token`; resolves with its Message-ID. */
async function sendPasswordReset(
  settings: MailSettings,
  user: { name: string; email: string },
  token: string,
): Promise<string> {
  const link = `${settings.baseUrl}/reset-password?token=${encodeURIComponent(token)}`;
  const smtp = createSmtpClient({
    host: settings.host,
    port: settings.port,
    starttls: 'required',
    tls: settings.ca === undefined ? {} : { ca: settings.ca },
    auth: { username: settings.username, password: settings.password },
  });
  try {
    // `send` composes the message itself (with @postwire/mime) from these options.
    const result = await smtp.send({
      message: {
        from: settings.from,
        to: { name: user.name, address: user.email },
        subject: 'Reset your password',
        text: `Hello ${user.name},\n\nTo choose a new password, open ${link}\nThe link works for one hour.\n`,
        html: `<p>Hello ${user.name},</p><p><a href="${link}">Choose a new password</a> (the link works for one hour).</p>`,
      },
    });
    return result.messageId!;
  } finally {
    await smtp.close();
  }
}

// ---------------------------------------------------------------------------------------------------
// The tests.
// ---------------------------------------------------------------------------------------------------

// One throw-away certificate for the whole file: the server presents it, the clients trust it as their CA.
const tls = createSelfSignedCertificate();
// The server's only user: the application logs in as it to send, and the test logs in as it to read.
// As the catch-all, it receives the mail for every address, whoever the application writes to.
const mailbox = { name: 'app', password: 'app-secret' };

let store: MailStore;
let server: DevServer;
let settings: MailSettings;

beforeAll(async () => {
  store = createMemoryStore();
  server = await startDevServer({
    store,
    users: [mailbox],
    catchAll: mailbox.name,
    tls,
    // Port 0 everywhere: any free port, so that test files running in parallel never collide.
    ports: anyFreeDevServerPorts,
    // No SPF/DKIM/DMARC checks: they would ask the DNS about the test's made-up domains.
    mailAuthentication: false,
  });
  // The application's settings, pointed at the server: the real ports it got, the certificate to trust.
  settings = {
    host: server.host,
    port: server.ports.submission,
    username: mailbox.name,
    password: mailbox.password,
    ca: tls.cert,
    from: 'Example App <no-reply@app.example>',
    baseUrl: 'https://app.example',
  };
});

afterAll(async () => {
  await server?.close();
});

describe('password reset email', () => {
  it('arrives with a link carrying the token (read over IMAP)', async () => {
    const messageId = await sendPasswordReset(
      settings,
      { name: 'Ann', email: 'ann@example.com' },
      'tok/123+',
    );

    // Read it back as a mail client would: IMAP with STARTTLS, trusting the test's certificate.
    const imap = await createImapClient({
      host: server.host,
      port: server.ports.imap,
      starttls: 'required',
      tls: { ca: tls.cert },
      auth: { username: mailbox.name, password: mailbox.password },
    });
    try {
      await imap.open('INBOX');
      // Find it by its Message-ID, so that the other tests' mail in the same INBOX does not matter.
      const uids = await imap.search({ header: { 'Message-ID': messageId } }, { uid: true });
      expect(uids).toHaveLength(1);
      const [fetched] = await imap.fetchAll(uids, { envelope: true, bodies: [''] }, { uid: true });
      expect(fetched!.envelope?.subject).toBe('Reset your password');

      const message = await parseMessage((await fetched!.body(''))!.content);
      expect(message.to).toEqual([expect.objectContaining({ name: 'Ann', address: 'ann@example.com' })]);
      expect(message.from).toEqual([expect.objectContaining({ address: 'no-reply@app.example' })]);
      expect(message.text).toContain('https://app.example/reset-password?token=tok%2F123%2B');
      expect(message.html).toContain('href="https://app.example/reset-password?token=tok%2F123%2B"');
    } finally {
      await imap.logout();
    }
  });

  it('arrives once per request, to the right address (read straight from the store)', async () => {
    const first = await sendPasswordReset(settings, { name: 'Bob', email: 'bob@example.org' }, 'first');
    const second = await sendPasswordReset(settings, { name: 'Bob', email: 'bob@example.org' }, 'second');

    // The store is what the IMAP and POP3 servers read: the quickest way to see every stored message.
    const mail = await store.user(mailbox.name);
    const inbox = await mail.open('INBOX');
    const forBob = [];
    try {
      for (const { uid } of await inbox.messages()) {
        const message = await parseMessage(inbox.read(uid));
        if (message.to.some((to) => 'address' in to && to.address === 'bob@example.org'))
          forBob.push(message);
      }
    } finally {
      await inbox.close();
      await mail.release();
    }
    expect(forBob.map((message) => `<${message.messageId}>`)).toEqual([first, second]);
    expect(forBob[1]!.text).toContain('token=second');
    // The server says how the message came in: authenticated submission (ESMTPSA: STARTTLS and AUTH).
    const received = forBob[1]!.headers.find((field) => field.name === 'Received');
    expect(received?.value).toMatch(/with ESMTPSA/);
  });

  it('fails loudly when the mail settings hold a wrong password', async () => {
    await expect(
      sendPasswordReset({ ...settings, password: 'wrong' }, { name: 'Cy', email: 'cy@example.net' }, 'x'),
    ).rejects.toBeInstanceOf(AuthenticationError);
  });
});

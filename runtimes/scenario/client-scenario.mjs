// The scenario every runtime runs: MIME, every SASL mechanism, and full client sessions of SMTP, POP3 and
// IMAP over plain TCP, STARTTLS and implicit TLS against the servers the test started. It uses only
// web-standard APIs and the connector it is given, and throws on the first thing that is not as expected;
// the report names each step that passed.

import { createImapClient } from '@postwire/imap';
import { composeMessage, parseMessage } from '@postwire/mime';
import { createPop3Client } from '@postwire/pop3';
import { createSaslClient, createSaslServer } from '@postwire/sasl';
import { createSmtpClient } from '@postwire/smtp';

const text = new TextDecoder();

function check(condition, what) {
  if (!condition) throw new Error(`scenario: ${what}`);
}

async function readAll(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return text.decode(await new Blob(chunks).arrayBuffer());
}

/** MIME: compose a message with an attachment and a UTF-8 subject, parse it back. */
async function mime() {
  const composed = composeMessage({
    from: 'Ann <ann@example.org>',
    to: 'bob@example.org',
    subject: 'Grüße aus Köln',
    text: 'Hello from every runtime.',
    attachments: [{ filename: 'data.bin', content: new Uint8Array([0, 1, 2, 255]) }],
  });
  const parsed = await parseMessage(await composed.bytes());
  check(parsed.subject === 'Grüße aus Köln', `parsed subject ${parsed.subject}`);
  check(parsed.text?.trim() === 'Hello from every runtime.', 'parsed text');
  check(parsed.attachments.length === 1 && parsed.attachments[0].content.length === 4, 'attachment');
}

/** SASL: every mechanism, client against server, in memory. */
async function sasl() {
  const server = createSaslServer({
    verifiers: {
      lookupPassword: (name) => (name === 'alice' ? 'wonderland' : undefined),
      token: (name, token) => name === 'alice' && token === 'token-1',
      external: (identity) => (identity === 'alice' ? 'alice' : false),
      anonymous: () => true,
    },
  });
  const context = { secure: true, externalIdentity: 'alice' };
  const cases = [
    ['SCRAM-SHA-256', { username: 'alice', password: 'wonderland' }],
    ['SCRAM-SHA-1', { username: 'alice', password: 'wonderland' }],
    ['CRAM-MD5', { username: 'alice', password: 'wonderland' }],
    ['PLAIN', { username: 'alice', password: 'wonderland' }],
    ['LOGIN', { username: 'alice', password: 'wonderland' }],
    ['OAUTHBEARER', { username: 'alice', accessToken: 'token-1' }],
    ['XOAUTH2', { username: 'alice', accessToken: 'token-1' }],
    ['EXTERNAL', { external: true }],
    ['ANONYMOUS', { anonymous: 'trace' }],
  ];
  for (const [mechanism, credentials] of cases) {
    const client = createSaslClient({ ...credentials, mechanisms: [mechanism] });
    const exchange = await client.start(server.mechanisms(context), context);
    const serverSide = server.createExchange(context);
    let outcome = await serverSide.start(exchange.mechanism, exchange.initialResponse);
    while (outcome.type === 'challenge')
      outcome = await serverSide.respond(await exchange.respond(outcome.text));
    check(outcome.type === 'success', `${mechanism}: ${outcome.reason}`);
  }
}

/**
 * A client's options for one of the target's servers (`smtp`, `pop3`, `imap`), reached `how`: `plain` (no TLS,
 * cleartext login allowed), `starttls` (required), or `implicit` TLS on the server's TLS port.
 */
function connection(connector, target, how, tls, server) {
  return {
    connector,
    host: target.host,
    port: how === 'implicit' ? target[`${server}Tls`] : target[server],
    secure: how === 'implicit',
    starttls: how === 'plain' ? 'never' : 'required',
    ...(tls && { tls }),
    auth: { ...target.user, ...(how === 'plain' && { allowCleartext: true }) },
  };
}

/** SMTP: a message sent with AUTH, over the transport `secure`/`starttls` say. */
async function smtp(connector, target, how, tls, subject) {
  const client = createSmtpClient({
    ...connection(connector, target, how, tls, 'smtp'),
    name: 'client.postwire.test',
  });
  try {
    const result = await client.send({
      message: {
        from: `${target.user.username}@localhost`,
        to: `${target.user.username}@localhost`,
        subject,
        text: 'x',
      },
    });
    check(result.accepted.length === 1, 'SMTP recipient accepted');
  } finally {
    await client.close();
  }
}

/** POP3: log in, list, and retrieve the messages whose subjects are given. */
async function pop3(connector, target, how, tls, subjects) {
  const client = await createPop3Client({
    ...connection(connector, target, how, tls, 'pop3'),
  });
  try {
    const listing = await client.list();
    const retrieved = new Set();
    for (const { message } of listing) {
      const head = await readAll(await client.top(message, 0));
      const subject = subjects.find((each) => head.includes(`Subject: ${each}\r\n`));
      if (subject && (await readAll(await client.retr(message))).includes(`Subject: ${subject}\r\n`)) {
        retrieved.add(subject);
      }
    }
    check(retrieved.size === subjects.length, `POP3 RETR of ${subjects.join(', ')}`);
  } finally {
    await client.quit();
  }
}

/** IMAP: log in, select, append, search, fetch, and IDLE until a second session appends. */
async function imap(connector, target, how, tls, subject) {
  const options = {
    ...connection(connector, target, how, tls, 'imap'),
  };
  const client = await createImapClient(options);
  const other = await createImapClient(options);
  try {
    await client.open('INBOX');
    const message = `From: ann@example.org\r\nTo: alice@localhost\r\nSubject: ${subject}\r\n\r\nappended\r\n`;
    await client.append('INBOX', message, { flags: ['\\Seen'] });
    const uids = await client.search({ subject }, { uid: true });
    check(uids.length === 1, `IMAP SEARCH found ${uids.length}`);
    let body = '';
    for await (const fetched of client.fetch(
      uids,
      { uid: true, envelope: true, bodies: [''] },
      { uid: true },
    )) {
      check(fetched.envelope?.subject === subject, 'IMAP FETCH envelope');
      for await (const part of fetched.bodies) body += await part.text();
    }
    check(body === message, 'IMAP FETCH body');

    const count = client.mailbox.exists;
    const controller = new AbortController();
    const seen = new Promise((resolve) =>
      client.addEventListener('exists', (event) => event.detail.count > count && resolve()),
    );
    const idling = client.idle({ signal: controller.signal });
    await other.append('INBOX', message.replace(subject, `${subject} (2)`));
    await seen;
    controller.abort();
    await idling;
  } finally {
    await other.logout();
    await client.logout();
  }
}

/**
 * Runs the scenario. `targets` are servers ({ name, host, smtp?, smtpTls?, pop3, pop3Tls, imap, imapTls,
 * user, ca? }); `ways` the transports to try (`plain`, `starttls`, `implicit`); `trustsCa` says whether the
 * runtime takes a CA per connection (Workers trust the runtime's configured roots instead).
 */
export async function runClientScenario({ connector, targets, ways, trustsCa = true, runtime }) {
  // Each step is also told on stderr as it passes, so that a run that hangs shows where.
  const passed = {
    steps: [],
    push(step) {
      this.steps.push(step);
      console.error(`${runtime}: ${step} passed`);
    },
  };
  await mime();
  passed.push('mime');
  await sasl();
  passed.push('sasl');
  for (const target of targets) {
    for (const how of ways) {
      const tls =
        how === 'plain' ? undefined : { servername: 'localhost', ...(trustsCa && { ca: target.ca }) };
      const tag = `${runtime} ${target.name} ${how} ${Math.random().toString(36).slice(2)}`;
      const subject = `appended by ${tag}`;
      const subjects = [subject];
      if (target.smtp) {
        await smtp(connector, target, how, tls, `sent by ${tag}`);
        subjects.push(`sent by ${tag}`);
        passed.push(`smtp ${target.name} ${how}`);
      }
      await imap(connector, target, how, tls, subject);
      passed.push(`imap ${target.name} ${how}`);
      await pop3(connector, target, how, tls, subjects);
      passed.push(`pop3 ${target.name} ${how}`);
    }
  }
  return passed.steps;
}

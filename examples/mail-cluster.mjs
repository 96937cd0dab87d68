// One front end of a mail service that runs several over one PostgreSQL database, as a provider that
// receives mail for its users does: an SMTP server taking mail for the users (MX-style: anyone may deliver
// to them, no AUTH, nothing relayed), and IMAP and POP3 servers where they read it, all over
// `@postwire/store-postgres`. Start it several times against one database, behind a load balancer or on
// other ports: a message delivered through any front end reaches an IDLE session on any other at once
// (LISTEN/NOTIFY), UIDs never collide, and a POP3 maildrop stays locked across all of them.
//
//   DATABASE_URL=postgresql://user:password@host/database node mail-cluster.mjs
//
// DATABASE_URL is required; the schema is created or brought up to date on start, once however many
// front ends start together. SMTP_PORT, IMAP_PORT, POP3_PORT choose the ports (default: any free port)
// and HOST the address (default 127.0.0.1); the ports are printed on one line. Users: alice (password
// wonderland) and bob (password builder). There is no TLS here, so logins are allowed only on a loopback
// HOST; elsewhere give the servers `startTls` with a certificate, as custom-auth.mjs does. SIGINT or
// SIGTERM closes the servers, then the store and the connection pool.
import { hostname } from 'node:os';
import { concatBytes } from '@postwire/core';
import { createImapServer } from '@postwire/imap/node';
import { createPop3Server } from '@postwire/pop3/node';
import { createSaslServer } from '@postwire/sasl';
import { createSmtpServer } from '@postwire/smtp/node';
import { createPostgresStore, pgSqlClient } from '@postwire/store-postgres';
import pg from 'pg';

const env = process.env;
if (!env.DATABASE_URL) {
  console.error('mail-cluster: set DATABASE_URL, e.g. postgresql://user:password@host/database');
  process.exit(1);
}
const host = env.HOST ?? '127.0.0.1';
const port = (name) => Number(env[name] ?? 0);
// In greetings and Received: fields, so that a message's trace tells which front end took it.
const serverName = hostname();
const onError = (error) => console.error(`mail-cluster: ${error?.message ?? error}`);

const pool = new pg.Pool({ connectionString: env.DATABASE_URL });
pool.on('error', () => {}); // an idle client the server dropped; the pool replaces it
const store = await createPostgresStore({ sql: pgSqlClient(pool), migrate: true });

// A real service checks its own user table (see custom-auth.mjs); each name is its address's local part.
const passwords = new Map([
  ['alice', 'wonderland'],
  ['bob', 'builder'],
]);
const sasl = createSaslServer({
  verifiers: { lookupPassword: (name) => passwords.get(name) },
  // Without TLS a password crosses the network readable: only where it never leaves the machine.
  allowCleartext: /^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(host),
});
const userOf = (mailbox) => mailbox.localPart.toLowerCase();

const smtp = createSmtpServer({
  hostname: serverName,
  host,
  port: port('SMTP_PORT'),
  onRcptTo: (to) =>
    passwords.has(userOf(to))
      ? undefined
      : { code: 550, enhancedCode: '5.1.1', lines: ['No such user here'] },
  // The sender hears 250 only once this resolves: by then the message is committed in the database.
  async onData(message) {
    const chunks = [];
    for await (const chunk of message) chunks.push(chunk);
    const bytes = concatBytes(chunks);
    // One copy per user, however many of their addresses the envelope names.
    for (const user of new Set(message.envelope.recipients.map(({ to }) => userOf(to)))) {
      const inbox = await (await store.user(user)).open('INBOX');
      await inbox.append(bytes).finally(() => inbox.close());
    }
  },
  onError,
});
const imap = createImapServer({ host, port: port('IMAP_PORT'), store, sasl, onError });
const pop3 = createPop3Server({ hostname: serverName, host, port: port('POP3_PORT'), store, sasl, onError });

const ports = {
  smtp: (await smtp.listen()).port,
  imap: (await imap.listen()).port,
  pop3: (await pop3.listen()).port,
};
console.log(
  `mail-cluster on ${serverName}: SMTP ${host}:${ports.smtp}, IMAP ${host}:${ports.imap}, POP3 ${host}:${ports.pop3}`,
);

const stop = async () => {
  await Promise.all([smtp.close(), imap.close(), pop3.close()]);
  await store.close();
  await pool.end();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

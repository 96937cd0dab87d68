// One mail server process over the PostgreSQL store, for the tests that run several: `imap` or `pop3`, on a
// free loopback port, with alice's password `secret` and cleartext logins allowed (loopback only). Prints
// `{"port":…}` once listening, and serves until killed. Run from source by tsx (see tsxCommand).
// `imap-maildir <directory>` is the same IMAP server over a Maildir there, for the benchmark's comparison.
// `imap-distributed` is the IMAP server with the store's `database: 'distributed'`, through a client that refuses
// what PostgreSQL alone has (support/distributed.ts), on a database whose transactions are SERIALIZABLE.
import { createImapServer } from '@postwire/imap/node';
import { createPop3Server } from '@postwire/pop3/node';
import type { MailStore } from '@postwire/store';
import { createMaildirStore } from '@postwire/store/maildir';
import pg from 'pg';
import { createPostgresStore, pgSqlClient } from '../../src/index.js';
import { distributedClient } from './distributed.js';

const [kind, location] = process.argv.slice(2);

async function openStore(): Promise<MailStore> {
  if (kind === 'imap-maildir') return createMaildirStore({ root: location! });
  const pool = new pg.Pool({ connectionString: location, max: 8 });
  // A killed server (or a test's shutdown) ends connections: the pool reports them, nothing more to do.
  pool.on('error', () => {});
  if (kind === 'imap-distributed')
    return createPostgresStore({
      sql: distributedClient(pool),
      database: 'distributed',
      migrate: true,
      pollInterval: 200,
    });
  return createPostgresStore({ sql: pgSqlClient(pool), migrate: true, pollInterval: 500 });
}

const store = await openStore();
const sasl = {
  allowCleartext: true,
  verifiers: { lookupPassword: (name: string) => (name === 'alice' ? 'secret' : undefined) },
};
const server =
  kind === 'pop3'
    ? createPop3Server({ hostname: 'pop.postwire.test', host: '127.0.0.1', port: 0, store, sasl })
    : createImapServer({ host: '127.0.0.1', port: 0, store, sasl, allowCleartextLogin: true });
const { port } = await server.listen();
process.stdout.write(`${JSON.stringify({ port })}\n`);

// Child process of pop3.ts: runs our POP3 server over the Maildir store at argv[2] (the same files Dovecot
// serves), on a free loopback port, alone in its process so that it has a core of its own. Run by plain
// Node on the built packages, as the other child processes of the bench. One user (argv[3], password
// argv[4]), logging in with SASL in cleartext as the Dovecot peer allows. The first message to the parent
// gives the port; the parent's `stop` closes the server and exits.

import { createPop3Server } from '@postwire/pop3/node';
import { createMaildirStore } from '@postwire/store/maildir';

const [root, user, password] = process.argv.slice(2);

const server = createPop3Server({
  hostname: 'pop.bench.example',
  host: '127.0.0.1',
  port: 0,
  store: createMaildirStore({ root }),
  sasl: {
    verifiers: { lookupPassword: (name) => (name === user ? password : undefined) },
    allowCleartext: true,
  },
});
const { port } = await server.listen();
process.on('message', async (request) => {
  if (request !== 'stop') return;
  await server.close({ timeout: 1000 });
  // process.exit, not a disconnect: --cpu-prof writes its profile at exit.
  process.exit(0);
});
// Orphaned (the bench process died): go too.
process.on('disconnect', () => process.exit(0));
process.send({ port });

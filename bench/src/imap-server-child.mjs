// Child process of imap.ts: runs our IMAP server over the Maildir store at argv[2] (a copy of the files
// Dovecot serves), on a free loopback port, alone in its process so that it has a core of its own and
// nothing else in its heap. Run by plain Node on the built packages, as the other child processes of the
// bench. Every user (one Maildir each under the root) has the password argv[3], given with LOGIN in
// cleartext as the Dovecot peer allows. No connection limits (Dovecot's are per user and IP, and the
// bench uses a user per session). Messages from the parent: `cpu` (answered with the user + system CPU
// time used so far, in µs), `memory` (answered with RSS, heap used + external, and the young generation's
// resident size, in bytes, after full collections; needs --expose-gc) and `stop`. The first message to the
// parent gives the port.

import { getHeapSpaceStatistics } from 'node:v8';
import { createImapServer } from '@postwire/imap/node';
import { createMaildirStore } from '@postwire/store/maildir';

const [root, password] = process.argv.slice(2);

let failures = 0;
const server = createImapServer({
  host: '127.0.0.1',
  port: 0,
  maxConnections: Number.POSITIVE_INFINITY,
  maxConnectionsPerIp: Number.POSITIVE_INFINITY,
  store: createMaildirStore({ root }),
  sasl: {
    verifiers: { lookupPassword: (name) => (/^[a-z0-9]+$/.test(name) ? password : undefined) },
    allowCleartext: true,
  },
  allowCleartextLogin: true,
  onError(error) {
    // A failing store or session shows here rather than only as a slow or short answer.
    if (failures++ < 5) console.error('imap-server-child:', error);
  },
});
const { port } = await server.listen();

function gc() {
  if (!globalThis.gc) throw new Error('run with --expose-gc');
  for (let i = 0; i < 4; i++) globalThis.gc();
}

process.on('message', async (request) => {
  if (request.type === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.send({ type: 'cpu', micros: user + system });
  } else if (request.type === 'memory') {
    gc();
    // Let the sockets' pending callbacks run, then collect what they left.
    await new Promise((resolve) => setTimeout(resolve, 100));
    gc();
    const usage = process.memoryUsage();
    const young = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
    process.send({
      type: 'memory',
      rss: usage.rss,
      heap: usage.heapUsed + usage.external,
      young: young?.physical_space_size ?? 0,
    });
  } else if (request.type === 'stop') {
    await server.close({ timeout: 1000 });
    // process.exit, not a disconnect: --cpu-prof writes its profile at exit.
    process.exit(0);
  }
});
// Orphaned (the bench process died): go too.
process.on('disconnect', () => process.exit(0));
process.send({ type: 'listening', port });

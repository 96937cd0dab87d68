// Child process of smtp-server.ts: runs one SMTP server, ours or smtp-server (nodemailer's), on a free
// loopback port, alone in its process so that it has a core of its own and nothing else in its heap. Run
// by plain Node on the built packages, as the other child processes of the bench (tsx would add its
// keepNames wrapper to every function of our sources, which costs memory per closure). Both servers accept
// every message with a hook that reads it to its end. Messages from the parent: `cpu` (answered with the
// user + system CPU time used so far, in µs), `memory` (answered with RSS and heap used + external, in bytes,
// after full collections) and `stop`. The first message to the
// parent gives the port.
import { createSmtpServer } from '@postwire/smtp/node';
import { SMTPServer } from 'smtp-server';

/** The servers' size limit: our default (Postfix's), given to smtp-server too. */
const SIZE_LIMIT = 10_240_000;

const which = process.argv[2];

async function start() {
  if (which === 'ours') {
    const server = createSmtpServer({
      hostname: 'mx.bench.example',
      host: '127.0.0.1',
      port: 0,
      // smtp-server has no connection limits by default; ours allows 1,000, and 50 per address.
      maxConnections: Number.POSITIVE_INFINITY,
      maxConnectionsPerIp: Number.POSITIVE_INFINITY,
      limits: { messageSize: SIZE_LIMIT },
      // smtp-server hands its hook the message as received; ours would prepend a Received header.
      receivedHeader: false,
      // No onData: the default reads the message to its end and accepts it.
    });
    const { port } = await server.listen();
    return { port, close: () => server.close({ timeout: 1000 }) };
  }
  if (which === 'smtp-server') {
    const server = new SMTPServer({
      name: 'mx.bench.example',
      logger: false,
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      disableReverseLookup: true,
      size: SIZE_LIMIT,
      onData(stream, _session, callback) {
        stream.on('data', () => {});
        stream.on('end', () => callback());
      },
    });
    server.on('error', () => {});
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      port: server.server.address().port,
      close: () =>
        new Promise((resolve) => {
          server.close(() => resolve());
          // Connections still open would hold close() for closeTimeout (30 s).
          for (const connection of server.connections) connection.close();
        }),
    };
  }
  throw new Error(`unknown server ${which}`);
}

function gc() {
  if (!globalThis.gc) throw new Error('run with --expose-gc');
  for (let i = 0; i < 4; i++) globalThis.gc();
}

const server = await start();
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
    process.send({ type: 'memory', rss: usage.rss, heap: usage.heapUsed + usage.external });
  } else if (request.type === 'stop') {
    await server.close();
    // process.exit, not a disconnect: --cpu-prof writes its profile at exit.
    process.exit(0);
  }
});
process.send({ type: 'listening', port: server.port });

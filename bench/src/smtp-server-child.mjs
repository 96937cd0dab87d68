// Child process of smtp-server.ts: runs one SMTP server, ours, smtp-server (nodemailer's) or the limit, on a
// free loopback port, alone in its process so that it has a core of its own and nothing else in its heap. Run
// by plain Node on the built packages, as the other child processes of the bench (tsx would add its
// keepNames wrapper to every function of our sources, which costs memory per closure). Both servers accept
// every message with a hook that reads it to its end. Messages from the parent: `cpu` (answered with the
// user + system CPU time used so far, in µs), `memory` (answered with RSS and heap used + external, in bytes,
// after full collections) and `stop`. The first message to the
// parent gives the port.
import * as net from 'node:net';
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
  if (which === 'limit') {
    const server = net.createServer(answerTheLoad);
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      port: server.address().port,
      close: () => new Promise((resolve) => server.close(() => resolve())),
    };
  }
  throw new Error(`unknown server ${which}`);
}

const END_OF_DATA = Buffer.from('\r\n.\r\n');

/**
 * The limit: the least any SMTP server must do for the load of smtp-server.ts, which is to write each
 * reply once the command or the message's end has arrived. It answers every command as the load expects
 * without checking it, finds a message's end with `Buffer.indexOf` and keeps nothing of the message. What it
 * reaches bounds what a server in Node can reach on this machine. The replies to the commands of one
 * chunk go out in one write, as a pipelining server sends them.
 */
function answerTheLoad(socket) {
  socket.setNoDelay(true);
  socket.on('error', () => {});
  let inData = false;
  /** Command mode: the start of a line not ended yet. Data mode: the last bytes seen (a CRLF at the start). */
  let carry = Buffer.alloc(0);
  socket.write('220 limit.bench.example ESMTP\r\n');
  socket.on('data', (chunk) => {
    let replies = '';
    let bytes = chunk;
    while (bytes.length > 0) {
      if (inData) {
        const keep = END_OF_DATA.length - 1;
        // The end may straddle the previous chunk and this one.
        const straddling = Buffer.concat([carry, bytes.subarray(0, keep)]).indexOf(END_OF_DATA);
        const within = straddling >= 0 ? -1 : bytes.indexOf(END_OF_DATA);
        if (straddling < 0 && within < 0) {
          carry = Buffer.from(
            bytes.length >= keep ? bytes.subarray(-keep) : Buffer.concat([carry, bytes]).subarray(-keep),
          );
          break;
        }
        const end = (straddling >= 0 ? straddling - carry.length : within) + END_OF_DATA.length;
        replies += '250 2.0.0 Ok: queued\r\n';
        inData = false;
        carry = Buffer.alloc(0);
        bytes = bytes.subarray(end);
        continue;
      }
      const text = Buffer.concat([carry, bytes]);
      const lineEnd = text.indexOf('\r\n');
      if (lineEnd < 0) {
        carry = text;
        break;
      }
      const verb = text.subarray(0, 4).toString('latin1').toUpperCase();
      bytes = text.subarray(lineEnd + 2);
      carry = Buffer.alloc(0);
      if (verb === 'EHLO') replies += '250-limit.bench.example\r\n250-PIPELINING\r\n250 SIZE 10240000\r\n';
      else if (verb === 'DATA') {
        replies += '354 End data with <CR><LF>.<CR><LF>\r\n';
        inData = true;
        carry = Buffer.from('\r\n');
      } else if (verb === 'QUIT') {
        socket.end(`${replies}221 2.0.0 Bye\r\n`);
        return;
      } else replies += '250 2.1.0 Ok\r\n';
    }
    if (replies) socket.write(replies);
  });
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

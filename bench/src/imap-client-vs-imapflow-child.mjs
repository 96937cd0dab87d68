// Child process of imap-client-vs-imapflow.ts: one IMAP client (argv[2]: `ours`, `imapflow`, or `socket`, a
// do-nothing reader that shows what the server can give any client) doing one workload (argv[3]:
// `envelopes` or `bodies`) against the server on port argv[4], as user argv[5] with password argv[6], alone
// in its process so that its peak memory is its own. Run by plain Node on the built packages; only the
// library measured is imported. Each `run` message from the parent is one session: connect, log in, EXAMINE
// the workload's mailbox, one timed FETCH 1:* whose every message is consumed and checked against its record
// in the JSON file argv[7] (one record a message, in order), LOGOUT; answered with the seconds the fetch
// took and the CPU time the process used meanwhile, the messages and body octets that came, and the first
// mismatch. `memory` is answered with the
// kernel's high-water mark of this process's RSS (VmHWM: getrusage's maxrss would include the parent's size
// at fork), the highest JS memory sampled, and the RSS before the first fetch; `stop` ends the process.

import { readFileSync } from 'node:fs';

const [library, workload, portText, user, password, expectedFile] = process.argv.slice(2);
const port = Number(portText);
/** Each message's record, as `record` makes it from what was fetched. */
const expected = JSON.parse(readFileSync(expectedFile, 'utf8'));
/** The mailbox each workload reads. */
const MAILBOX = { envelopes: 'INBOX', bodies: 'Bodies' }[workload];
/** Octets of each body kept to tell which message it is. */
const HEAD_OCTETS = 48;

/** A field of /proc/self/status, in bytes. */
function statusBytes(field) {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return Number(match[1]) * 1024;
}

/** A message's flags as the records hold them: sorted, without `\Recent` (Dovecot shows it to one session). */
const flagList = (flags) =>
  [...flags]
    .filter((flag) => flag.toLowerCase() !== '\\recent')
    .sort()
    .join(' ');

/** What one run saw: messages, body octets, characters of decoded text, and the first message unlike its record. */
class Tally {
  messages = 0;
  octets = 0;
  decoded = 0;
  mismatch = undefined;

  /** The next message, as its record. */
  record(text) {
    const want = expected[this.messages++];
    if (text !== want) this.mismatch ??= `${JSON.stringify(text)}, expected ${JSON.stringify(want)}`;
  }
}

/**
 * Our client: `fetch` as an async iterator. For envelopes, what imapflow does before it yields a message is
 * done here: the subject and display names decoded from RFC 2047 (`@postwire/mime`'s decoder) and the date
 * parsed with `new Date`. For bodies, the one part of each message is iterated chunk by chunk as it streams.
 */
async function oursSession() {
  const { createImapClient } = await import('@postwire/imap/node');
  const { decodeEncodedWords } = await import('@postwire/mime');
  const imap = await createImapClient({
    host: '127.0.0.1',
    port,
    starttls: 'never',
    auth: { username: user, password, allowCleartext: true },
  });
  // The FETCH items imapflow sends (it enables CONDSTORE and adds UID and MODSEQ to every FETCH).
  await imap.enable(['CONDSTORE']);
  await imap.open(MAILBOX, { readOnly: true });
  const decode = (text) => (text === null ? '' : decodeEncodedWords(text).text);
  const tally = new Tally();
  const start = markStart();
  if (workload === 'envelopes') {
    for await (const message of imap.fetch('1:*', { uid: true, flags: true, envelope: true, modseq: true })) {
      const envelope = message.envelope;
      tally.decoded +=
        decode(envelope.subject).length + (envelope.date ? new Date(envelope.date).getDate() : 0);
      for (const list of [envelope.from, envelope.sender, envelope.replyTo, envelope.to, envelope.cc]) {
        for (const address of list ?? []) tally.decoded += decode(address.name).length;
      }
      tally.record(`${message.seq} ${envelope.messageId} ${flagList(message.flags)}`);
    }
  } else {
    for await (const message of imap.fetch('1:*', { uid: true, modseq: true, bodies: [''] })) {
      let head = '';
      for await (const part of message.bodies) {
        for await (const chunk of part) {
          if (head.length < HEAD_OCTETS) {
            const take = Math.min(chunk.length, HEAD_OCTETS - head.length);
            head += Buffer.from(chunk.buffer, chunk.byteOffset, take).toString('latin1');
          }
          tally.octets += chunk.length;
        }
      }
      tally.record(`${message.seq} ${head}`);
    }
  }
  const times = elapsed(start);
  await imap.logout();
  return { ...times, ...tally };
}

/**
 * imapflow: `fetch` as an async generator, which yields each message parsed (envelope decoded, `source` a
 * Buffer of the whole message). Its `download()` streams a message, but asks for it 64 KiB at a time, one
 * round trip each: slower for whole messages (see the method text of docs/benchmarks.md).
 */
async function imapflowSession() {
  const { ImapFlow } = await import('imapflow');
  const client = new ImapFlow({
    host: '127.0.0.1',
    port,
    secure: false,
    auth: { user, pass: password },
    logger: false,
  });
  await client.connect();
  await client.mailboxOpen(MAILBOX, { readOnly: true });
  const tally = new Tally();
  const start = markStart();
  if (workload === 'envelopes') {
    for await (const message of client.fetch('1:*', { flags: true, envelope: true })) {
      const envelope = message.envelope;
      tally.decoded +=
        (envelope.subject ?? '').length + (envelope.date instanceof Date ? envelope.date.getDate() : 0);
      for (const list of [envelope.from, envelope.sender, envelope.replyTo, envelope.to, envelope.cc]) {
        for (const address of list ?? []) tally.decoded += (address.name ?? '').length;
      }
      tally.record(`${message.seq} ${envelope.messageId} ${flagList(message.flags)}`);
    }
  } else {
    for await (const message of client.fetch('1:*', { source: true })) {
      tally.octets += message.source.length;
      tally.record(`${message.seq} ${message.source.toString('latin1', 0, HEAD_OCTETS)}`);
    }
  }
  const times = elapsed(start);
  await client.logout();
  return { ...times, ...tally };
}

/**
 * The do-nothing reader: node:net, LOGIN, ENABLE CONDSTORE and EXAMINE pipelined, then the FETCH that
 * imapflow sends, every octet counted and none parsed, until its tagged OK. The messages are not checked:
 * answered with the octets that came.
 */
async function socketSession() {
  const { connect } = await import('node:net');
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  let tail = '';
  let wireOctets = 0;
  /** Resolves once the server's output ends with `ending` (a line), counting every octet. */
  const until = (ending) =>
    new Promise((resolve, reject) => {
      const onData = (chunk) => {
        wireOctets += chunk.length;
        tail = (tail + chunk.toString('latin1', Math.max(0, chunk.length - 256))).slice(-256);
        if (!ending.test(tail)) return;
        socket.off('data', onData);
        socket.off('error', reject);
        resolve();
      };
      socket.on('data', onData);
      socket.once('error', reject);
    });
  await until(/^\* OK .*\r\n$/m);
  socket.write(`a LOGIN ${user} ${password}\r\nb ENABLE CONDSTORE\r\nc EXAMINE ${MAILBOX}\r\n`);
  await until(/^c OK .*\r\n$/m);
  const items = workload === 'envelopes' ? '(FLAGS ENVELOPE MODSEQ UID)' : '(BODY.PEEK[] MODSEQ UID)';
  wireOctets = 0;
  const start = markStart();
  socket.write(`d FETCH 1:* ${items}\r\n`);
  await until(/\r\nd OK .*\r\n$/);
  const times = elapsed(start);
  socket.end('e LOGOUT\r\n');
  return { ...times, wireOctets };
}

/** The highest JS memory seen (V8 heap used + external, array buffers included), sampled every 10 ms. */
let peakJsMemory = 0;
setInterval(() => {
  const { heapUsed, external } = process.memoryUsage();
  peakJsMemory = Math.max(peakJsMemory, heapUsed + external);
}, 10).unref();

let rssBeforeFetch;
/** The fetch starts: the first time, the process's RSS is noted (modules loaded, logged in). */
function markStart() {
  rssBeforeFetch ??= process.memoryUsage.rss();
  return { time: process.hrtime.bigint(), cpu: process.cpuUsage() };
}
/** Wall-clock seconds since `start`, and the CPU seconds (user + system) the process used meanwhile. */
function elapsed(start) {
  const { user, system } = process.cpuUsage(start.cpu);
  return { seconds: Number(process.hrtime.bigint() - start.time) / 1e9, cpuSeconds: (user + system) / 1e6 };
}

process.on('message', async (request) => {
  try {
    if (request === 'run') {
      const session = { ours: oursSession, imapflow: imapflowSession, socket: socketSession }[library];
      process.send({ type: 'ran', ...(await session()) });
    } else if (request === 'memory') {
      process.send({ type: 'memory', peakRss: statusBytes('VmHWM'), peakJsMemory, rssBeforeFetch });
    } else if (request === 'stop') {
      process.exit(0);
    }
  } catch (error) {
    process.send({ type: 'failed', message: String(error?.stack ?? error) });
  }
});
// Orphaned (the bench process died): go too.
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready' });

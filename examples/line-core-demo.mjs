// A small SMTP-flavoured server and client built only from @postwire/core and @postwire/sasl, on
// loopback. The client logs in with SCRAM-SHA-256, then sends a message that carries an SMTP
// smuggling attempt; the server's dot-stuffed block decoder ends only at CRLF.CRLF and flags the
// stray line endings. Both sides print their protocol trace, with the credentials redacted.
import { DotStuffedEncoder, decodeLatin1, LineDecoder, LineReader, Tracer, utf8 } from '@postwire/core';
import { connect, createListener } from '@postwire/core/node';
import { createSaslClient, createSaslServer, deriveScramCredentials } from '@postwire/sasl';

const credentials = await deriveScramCredentials('correct horse', 'SHA-256');
const sasl = createSaslServer({
  mechanisms: ['SCRAM-SHA-256'],
  verifiers: {
    scramCredentials: async (username, mechanism) =>
      username === 'alice' && mechanism === 'SCRAM-SHA-256' ? credentials : undefined,
  },
});

const show = (side) => (event) =>
  console.log(`${side} ${event.direction === 'in' ? '<' : '>'} ${event.line}`);

/** Takes a transport's writable stream; `send` writes one traced protocol line. */
function lineWriter(transport, tracer) {
  const writer = transport.writable.getWriter();
  const send = async (line) => {
    tracer.sent(line);
    await writer.write(utf8(`${line}\r\n`));
  };
  return { writer, send };
}

const listener = createListener({
  async onConnection({ transport }) {
    const tracer = new Tracer(show('  server'), 'server');
    const { send } = lineWriter(transport, tracer);
    const reader = new LineReader(transport.readable, new LineDecoder({ maxLineLength: 512 }));
    const context = { secure: transport.info.secure };
    const readLine = async () => {
      const event = await reader.next();
      if (event?.type !== 'line') return undefined;
      const line = decodeLatin1(event.line);
      tracer.received(line);
      return line;
    };
    await send('220 demo.postwire.test ESMTP ready');
    for (let line = await readLine(); line !== undefined; line = await readLine()) {
      const [verb = '', ...args] = line.split(' ');
      switch (verb.toUpperCase()) {
        case 'EHLO':
          await send('250-demo.postwire.test');
          await send(`250 AUTH ${sasl.mechanisms(context).join(' ')}`);
          break;
        case 'AUTH': {
          const exchange = sasl.createExchange(context);
          let outcome = await exchange.start(args[0] ?? '', args[1]);
          while (outcome.type === 'challenge') {
            await send(`334 ${outcome.text}`);
            outcome = await exchange.respond((await readLine()) ?? '*');
          }
          if (outcome.type === 'success') {
            await send(`235 2.7.0 Authenticated as ${outcome.identity.username}`);
          } else {
            await send(`535 5.7.8 Authentication failed (${outcome.reason})`);
          }
          break;
        }
        case 'DATA': {
          await send('354 End data with <CR><LF>.<CR><LF>');
          reader.decoder.readDotBlock();
          let size = 0;
          let problem;
          for (
            let event = await reader.next();
            event && event.type !== 'block-end';
            event = await reader.next()
          ) {
            if (event.type === 'bytes') size += event.data.length;
            if (event.type === 'error') problem = event.error;
          }
          await send(
            problem ? `550 5.5.2 Message refused: ${problem.message}` : `250 2.0.0 Accepted ${size} bytes`,
          );
          break;
        }
        case 'QUIT':
          await send('221 2.0.0 Bye');
          await transport.close();
          return {};
        default:
          await send('502 5.5.2 Command not implemented in this demo');
      }
    }
    return {};
  },
});

const { host, port } = await listener.listen();
console.log(`demo server listening on ${host}:${port}\n`);

const transport = await connect({ host, port, timeout: 5000 });
const tracer = new Tracer(show('client'), 'client');
const { writer, send } = lineWriter(transport, tracer);
const reader = new LineReader(transport.readable, new LineDecoder());
const readReply = async () => {
  const lines = [];
  for (;;) {
    const event = await reader.next();
    if (event?.type !== 'line') throw new Error('connection closed');
    const line = decodeLatin1(event.line);
    tracer.received(line);
    lines.push(line);
    if (line[3] !== '-') return lines;
  }
};

await readReply();
await send('EHLO client.postwire.test');
const offered =
  (await readReply())
    .find((line) => line.startsWith('250 AUTH'))
    ?.split(' ')
    .slice(2) ?? [];
const exchange = await createSaslClient({ username: 'alice', password: 'correct horse' }).start(offered, {
  secure: transport.info.secure,
});
await send(`AUTH ${exchange.mechanism} ${exchange.initialResponse ?? ''}`.trim());
let reply = await readReply();
while (reply[0].startsWith('334')) {
  await send(await exchange.respond(reply[0].slice(4)));
  reply = await readReply();
}
await exchange.complete();
console.log('client: the server proved it knows the SCRAM credentials\n');

const smuggling = 'Subject: hello\r\n\r\nHi!\n.\nMAIL FROM:<ceo@bank.test>\r\nRCPT TO:<victim@bank.test>\r\n';
const wire = async (message, normalize) => {
  await send('DATA');
  await readReply();
  const encoder = new DotStuffedEncoder({ normalize });
  for (const piece of encoder.encode(utf8(message))) await writer.write(piece);
  await writer.write(encoder.end());
  tracer.sent(`[${message.length} bytes of message, ${normalize ? 'stray CR/LF normalised' : 'sent raw'}]`);
  return readReply();
};
await wire(smuggling, false);
await wire(smuggling, true);
await send('QUIT');
await readReply();
await transport.close();
await listener.close();
console.log('\nThe raw smuggling attempt was refused; the normalised one was accepted as one message.');

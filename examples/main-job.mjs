// The main job, as the README runs it: start `postwire serve` on its defaults (a Maildir under
// ./.postwire, a self-signed certificate made on first start, user dev:dev), send a message through
// SMTP submission with Postwire's client, read it back over IMAP and over POP3, print every protocol
// line of the three sessions (credentials redacted), and keep serving until Ctrl-C.
// `node main-job.mjs --once` stops the server after the transcript, as CI does.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { createImapClient } from '@postwire/imap/node';
import { createPop3Client } from '@postwire/pop3/node';
import { createSmtpClient } from '@postwire/smtp/node';

const once = process.argv.includes('--once');
const cliDirectory = dirname(createRequire(import.meta.url).resolve('@postwire/cli/package.json'));
const server = spawn(process.execPath, [join(cliDirectory, 'dist/node/bin.js'), 'serve', '--json'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const firstLine = await new Promise((resolve, reject) => {
  server.once('exit', (code) =>
    reject(new Error(`postwire serve exited with status ${code} before it was ready`)),
  );
  createInterface({ input: server.stdout }).once('line', resolve);
});
const settings = JSON.parse(firstLine);
console.log(`postwire serve is up: ${JSON.stringify(settings.ports)}\n`);

const user = settings.users[0];
const tls = { ca: readFileSync(settings.certificate, 'utf8'), servername: 'localhost' };
const auth = { username: user.name, password: user.password };
const show = (protocol) => (event) =>
  console.log(`${protocol} ${event.direction === 'in' ? 'S:' : 'C:'} ${event.line}`);
const messageId = `<main-job.${Date.now()}@localhost>`;
const subject = `Hello from Postwire (${new Date().toISOString()})`;

const smtp = createSmtpClient({
  host: settings.host,
  port: settings.ports.submission,
  starttls: 'required',
  tls,
  auth,
  trace: show('SMTP'),
});
const sent = await smtp.send({
  envelope: { from: `${user.name}@localhost`, to: [`${user.name}@localhost`] },
  message: [
    `From: ${user.name}@localhost`,
    `To: ${user.name}@localhost`,
    `Subject: ${subject}`,
    `Message-ID: ${messageId}`,
    `Date: ${new Date().toUTCString()}`,
    '',
    'Sent through SMTP submission, read back through IMAP and POP3.',
    '',
  ].join('\r\n'),
});
await smtp.close();
console.log(`\nsent to ${sent.accepted.join(', ')}\n`);

const imap = await createImapClient({
  host: settings.host,
  port: settings.ports.imap,
  starttls: 'required',
  tls,
  auth,
  trace: show('IMAP'),
});
await imap.open('INBOX');
const [uid] = await imap.search({ header: { 'Message-ID': messageId } }, { uid: true });
for await (const message of imap.fetch([uid], { envelope: true }, { uid: true })) {
  console.log(`\nIMAP read UID ${message.uid}: "${message.envelope?.subject}"\n`);
}
await imap.logout();

const pop3 = await createPop3Client({
  host: settings.host,
  port: settings.ports.pop3,
  starttls: 'required',
  tls,
  auth,
  trace: show('POP3'),
});
const { messages } = await pop3.stat();
const text = await new Response(await pop3.retr(messages)).text();
await pop3.quit();
console.log(`\nPOP3 read message ${messages} of ${messages}: "${/^Subject: (.*)$/m.exec(text)?.[1]}"\n`);

if (once) {
  server.kill('SIGINT');
} else {
  console.log('The server keeps serving; press Ctrl-C to stop it.');
  process.on('SIGINT', () => server.kill('SIGINT'));
}
await new Promise((resolve) => server.once('exit', resolve));

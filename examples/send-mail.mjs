// Compose a message (text, HTML and two attachments) with @postwire/mime and send it through an SMTP
// submission server with @postwire/smtp. One attachment is made in memory; the other is the file named on
// the command line (this script itself when none is named), streamed from disk as the message is sent.
//
//   node send-mail.mjs [file-to-attach]
//
// The server comes from the environment; the defaults suit `postwire serve` started in this directory:
//   SMTP_HOST      default 127.0.0.1
//   SMTP_PORT      default 2587 (submission with STARTTLS); 465 and 2465 mean implicit TLS instead
//   SMTP_USER      default dev (also the sender's and recipient's local part: dev@localhost)
//   SMTP_PASSWORD  default dev
//   SMTP_CA        the certificate to trust for a self-signed server, default ./.postwire/tls/cert.pem
//                  (the one `postwire serve` makes) when that file exists; otherwise the system's CAs
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { composeMessage } from '@postwire/mime';
import { createSmtpClient } from '@postwire/smtp/node';

const env = process.env;
const host = env.SMTP_HOST || '127.0.0.1';
const port = Number(env.SMTP_PORT || 2587);
const user = env.SMTP_USER || 'dev';
const password = env.SMTP_PASSWORD || 'dev';
const caFile = env.SMTP_CA || (existsSync('.postwire/tls/cert.pem') ? '.postwire/tls/cert.pem' : undefined);
const address = user.includes('@') ? user : `${user}@localhost`;
const attachPath = process.argv[2] ?? fileURLToPath(import.meta.url);

// An attachment made in memory: a small CSV report (a string or a Uint8Array both work).
const report = ['day,messages,bytes', '2024-05-01,12,48213', '2024-05-02,7,19920', ''].join('\r\n');

const message = composeMessage({
  from: { name: 'Postwire example', address },
  to: address,
  subject: 'Monthly report, with attachments',
  text: 'Hello,\n\nThe report is attached, with the file you asked for.\n',
  html: '<p>Hello,</p><p>The <b>report</b> is attached, with the file you asked for.</p>',
  attachments: [
    { filename: 'report.csv', contentType: 'text/csv', content: report },
    // A Node read stream is an async iterable of bytes: the file is read while the message is sent.
    { filename: basename(attachPath), content: createReadStream(attachPath) },
  ],
});

const smtp = createSmtpClient({
  host,
  port,
  secure: port === 465 || port === 2465, // implicit TLS from the first byte (RFC 8314)
  starttls: 'required', // on the other ports: STARTTLS, or the password is never sent
  tls: caFile === undefined ? {} : { ca: readFileSync(caFile, 'utf8') },
  auth: { username: user, password },
});
try {
  // The composed message brings its envelope: the From address and every To, Cc and Bcc.
  const result = await smtp.send({ message });
  console.log(`Sent ${result.messageId} through ${result.server}`);
  console.log(`  accepted: ${result.accepted.join(', ') || '(none)'}`);
  console.log(`  rejected: ${result.rejected.join(', ') || '(none)'}`);
  const { code, enhancedCode, lines } = result.reply;
  console.log(`  server said: ${[code, enhancedCode, ...lines].filter(Boolean).join(' ')}`);
} finally {
  await smtp.close();
}

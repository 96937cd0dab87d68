// Logins checked by the application's own user table: an SMTP submission server, an IMAP server and a
// POP3 server sharing one `@postwire/sasl` server. Its verifiers look users up in a table of the
// application's (scrypt password hashes for PLAIN and LOGIN, stored SCRAM keys for SCRAM-SHA-256), and it
// adds a mechanism of the application's own, X-TOKEN, which takes a token the application issued.
// Mail sent through submission to a user of the table lands in that user's INBOX, read over IMAP and POP3.
//
//   node custom-auth.mjs      serves until Ctrl-C; SMTP_PORT, IMAP_PORT, POP3_PORT choose the ports
//                             (default: any free port), and the ports, users and a token are printed
//
// Clients trust the self-signed certificate written to ./custom-auth-cert.pem and log in as usual
// (`auth: { username: 'alice', password: 'wonderland' }`), or with the token through the client side of
// X-TOKEN, given to the client as a custom mechanism:
//
//   const xToken = {
//     name: 'X-TOKEN',
//     cleartext: true,
//     start: () => ({
//       initialResponse: new TextEncoder().encode(`alice ${token}`),
//       respond: async () => { throw new Error('X-TOKEN sends no challenge'); },
//     }),
//   };
//   await createImapClient({ host, port, starttls: 'required', tls: { ca },
//     auth: { custom: [xToken], mechanisms: ['X-TOKEN'] } });
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { createSelfSignedCertificate } from '@postwire/cli';
import { concatBytes } from '@postwire/core';
import { createImapServer } from '@postwire/imap/node';
import { createPop3Server } from '@postwire/pop3/node';
import { createSaslServer, deriveScramCredentials } from '@postwire/sasl';
import { createSmtpServer } from '@postwire/smtp/node';
import { createMemoryStore } from '@postwire/store';

const host = '127.0.0.1';
const hostname = 'localhost';
const hashPassword = promisify(scrypt);

// ---- The application's user table: what it would keep in its own database. -------------------------
// No password is stored: an scrypt hash checks PLAIN and LOGIN, SCRAM keys (RFC 5802) check SCRAM.
const users = new Map();
async function addUser(name, password) {
  const salt = randomBytes(16);
  users.set(name, {
    scrypt: { salt, hash: await hashPassword(password, salt, 32) },
    scram: { 'SCRAM-SHA-256': await deriveScramCredentials(password, 'SHA-256') },
  });
}
await addUser('alice', 'wonderland');
await addUser('bob', 'builder');

// An unknown name is checked against a decoy, so that it costs the same time as a wrong password.
const decoy = { salt: randomBytes(16), hash: randomBytes(32) };
async function checkPassword(name, password) {
  const user = users.get(name);
  const { salt, hash } = user?.scrypt ?? decoy;
  const given = await hashPassword(password, salt, 32);
  return timingSafeEqual(given, hash) && user !== undefined ? name : false;
}

// Tokens the application issued (an API key, a one-time login link …), kept as SHA-256 digests.
const tokens = new Map();
const digest = (token) => createHash('sha256').update(token).digest('hex');
function issueToken(name) {
  const token = randomBytes(24).toString('base64url');
  tokens.set(digest(token), name);
  return token;
}

// ---- A mechanism of the application's own: X-TOKEN, "name SP token" as the initial response. --------
const xTokenServer = {
  name: 'X-TOKEN',
  cleartext: true, // the token travels readable: offered only inside TLS, like PLAIN
  start: () => async (response) => {
    // A client that sent no initial response gets an empty challenge, and answers it with the same text.
    if (response === undefined) return { type: 'challenge', challenge: new Uint8Array() };
    const [name = '', token = '', ...rest] = new TextDecoder().decode(response).split(' ');
    if (rest.length > 0 || !name || !token) return { type: 'failure', reason: 'malformed' };
    return tokens.get(digest(token)) === name
      ? { type: 'success', identity: { username: name } }
      : { type: 'failure', reason: 'invalid-credentials', username: name };
  },
};

// ---- One SASL server for the three protocols. --------------------------------------------------------
const mechanisms = ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256', 'PLAIN', 'LOGIN', 'X-TOKEN'];
const sasl = createSaslServer({
  verifiers: {
    password: (name, password) => checkPassword(name, password),
    scramCredentials: (name, mechanism) => users.get(name)?.scram[mechanism],
  },
  custom: [xTokenServer],
  mechanisms, // SCRAM-SHA-256-PLUS only where TLS gives channel binding
  throttle: {
    onSuccess: (context, identity, mechanism) =>
      console.log(`login: ${identity.username} with ${mechanism} from ${context.remoteAddress}`),
    onFailure: (context, name, mechanism) =>
      console.log(`login refused: ${name ?? '?'} with ${mechanism} from ${context.remoteAddress}`),
  },
});

// ---- The servers, over one mail store. ----------------------------------------------------------------
const certificate = createSelfSignedCertificate();
const certificateFile = resolve('custom-auth-cert.pem');
await writeFile(certificateFile, certificate.cert);
const tls = { key: certificate.key, cert: certificate.cert };
const store = createMemoryStore();
const port = (name) => Number(process.env[name] ?? 0);

const smtp = createSmtpServer({
  hostname,
  host,
  port: port('SMTP_PORT'),
  startTls: tls,
  requireAuth: true, // submission: MAIL waits for AUTH
  sasl,
  onRcptTo: (to) =>
    users.has(to.localPart) ? undefined : { code: 550, enhancedCode: '5.1.1', lines: ['No such user here'] },
  async onData(message) {
    const chunks = [];
    for await (const chunk of message) chunks.push(chunk);
    for (const { to } of message.envelope.recipients) {
      const inbox = await (await store.user(to.localPart)).open('INBOX');
      await inbox.append(concatBytes(chunks)).finally(() => inbox.close());
    }
  },
});
const imap = createImapServer({ host, port: port('IMAP_PORT'), store, sasl, startTls: tls });
const pop3 = createPop3Server({ hostname, host, port: port('POP3_PORT'), store, sasl, startTls: tls });

const ports = {
  smtp: (await smtp.listen()).port,
  imap: (await imap.listen()).port,
  pop3: (await pop3.listen()).port,
};
console.log(`custom-auth: logins checked by the application's user table
  SMTP submission  ${host}:${ports.smtp}  STARTTLS, AUTH required
  IMAP             ${host}:${ports.imap}  STARTTLS
  POP3             ${host}:${ports.pop3}  STLS
  Mechanisms       ${mechanisms.join(' ')} (inside TLS)
  Users            alice (password wonderland), bob (password builder)
  X-TOKEN          alice ${issueToken('alice')}
  Certificate      ${certificateFile}
Press Ctrl-C to stop.`);

const stop = async () => {
  await Promise.all([smtp.close(), imap.close(), pop3.close()]);
  await store.close();
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);

// Download mail over POP3 into a directory of .eml files, in either of the two habits of POP3 users, with
// the client's `sync()`:
//
//   node pop3-download.mjs [directory]            leave the mail on the server (the default): download only
//                                                 the messages whose UIDL was not seen before
//   node pop3-download.mjs --delete [directory]   download every message, and delete it from the server once
//                                                 its file is safely written (those downloaded by an earlier
//                                                 run are deleted without being downloaded again)
//
// The directory defaults to ./pop3-mail; the UIDLs downloaded are remembered in <directory>/.pop3-uidl.json,
// written after each message, so an interrupted run (which deletes nothing: POP3 deletes only at QUIT)
// downloads nothing twice. The server is the dev server (`npx postwire serve`) unless POP3_HOST, POP3_PORT
// (1110, STLS), POP3_USER and POP3_PASSWORD (dev, dev) and POP3_CA (./.postwire/tls/cert.pem) say otherwise.
import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createPop3Client } from '@postwire/pop3/node';

const env = process.env;
const remove = process.argv.includes('--delete');
const directory = resolve(
  process.argv.slice(2).find((argument) => !argument.startsWith('--')) ?? 'pop3-mail',
);
const stateFile = join(directory, '.pop3-uidl.json');
// A UIDL is up to 70 printable characters, `/` and `..` included: anything but letters, digits, `_` and `-`
// is written as %XX, so that the file name stays in the directory.
const fileName = (uid) => `${uid.replace(/[^\w-]/g, (c) => `%${c.charCodeAt(0).toString(16)}`)}.eml`;

await mkdir(directory, { recursive: true });
const state = await readFile(stateFile, 'utf8').then(JSON.parse, () => ({ uids: [] }));
const saveState = async () => {
  await writeFile(`${stateFile}.part`, `${JSON.stringify(state, null, 2)}\n`);
  await rename(`${stateFile}.part`, stateFile);
};

const pop3 = await createPop3Client({
  host: env.POP3_HOST ?? '127.0.0.1',
  port: Number(env.POP3_PORT ?? 1110),
  starttls: 'required',
  tls: { ca: readFileSync(env.POP3_CA ?? '.postwire/tls/cert.pem', 'utf8'), servername: 'localhost' },
  auth: { username: env.POP3_USER ?? 'dev', password: env.POP3_PASSWORD ?? 'dev' },
});

// UIDL, then RETR of each message not in `since` (pipelined when the server allows), each handed to
// `onMessage`; with `keep: false`, DELE after each one is written, and DELE of the messages of `since` still
// on the server; then QUIT, where the server deletes. Any failure drops the connection without QUIT.
const result = await pop3.sync({
  since: state.uids,
  keep: !remove,
  async onMessage({ uid, size, stream }) {
    // Written to a temporary file, flushed to the disk, then renamed: a file that exists is whole.
    const temporary = join(directory, `.${fileName(uid)}.part`);
    const file = await open(temporary, 'w');
    try {
      await file.writeFile(stream);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, join(directory, fileName(uid)));
    console.log(`  ${fileName(uid)} (${size} octets)`);
  },
  async onDownloaded(uid) {
    state.uids.push(uid);
    await saveState();
  },
});

// The UIDLs downloaded of the messages still on the server: those not to download next time.
state.uids = [...result.retained];
await saveState();
console.log(
  remove
    ? `pop3-download --delete: ${result.downloaded.length} downloaded, ${result.deleted.length} deleted from the server`
    : `pop3-download: ${result.downloaded.length} downloaded (not seen before), ${result.retained.length} left on the server`,
);
if (result.skipped.length > 0) console.log(`  the server refused to send ${result.skipped.join(', ')}`);

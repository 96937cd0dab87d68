// Mirror an IMAP mailbox into a directory of .eml files (one `<uid>.eml` per message), incrementally:
// the first run downloads everything; later runs reopen the mailbox with QRESYNC (RFC 7162) from the
// UIDVALIDITY and HIGHESTMODSEQ saved last time, so the server itself says which messages vanished (their
// files are deleted) and whose flags changed, and only the new messages are fetched (UID FETCH … with
// CHANGEDSINCE). When the UIDVALIDITY changed, what is held is void and everything is downloaded again.
// A server with CONDSTORE but not QRESYNC is asked for its UIDs (to find the ones gone) and the changed flags.
//
//   node imap-sync.mjs [directory]       default ./mirror; the state is kept in <directory>/.imap-sync.json
//
// The server is the dev server (`npx postwire serve`) unless IMAP_HOST, IMAP_PORT (1143, STARTTLS),
// IMAP_USER and IMAP_PASSWORD (dev, dev), IMAP_CA (./.postwire/tls/cert.pem) and IMAP_MAILBOX (INBOX) say
// otherwise; IMAP_TRACE=1 prints the commands sent. Safe to interrupt: each file is written whole or not at
// all, and the state only once a run is over, so a run after an interrupted one starts from the last one
// that finished.
import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createImapClient } from '@postwire/imap/node';

const env = process.env;
const path = env.IMAP_MAILBOX ?? 'INBOX';
const directory = resolve(process.argv[2] ?? 'mirror');
const stateFile = join(directory, '.imap-sync.json');
const fileOf = (uid) => join(directory, `${uid}.eml`);
// \Recent belongs to one session (IMAP4rev1), not to the message: it is not mirrored.
const kept = (flags = []) => flags.filter((flag) => flag !== '\\Recent');

// The state of the last run: { mailbox, uidValidity, highestModseq, uidNext, messages: { uid: flags } }.
await mkdir(directory, { recursive: true });
const saved = await readFile(stateFile, 'utf8').then(JSON.parse, () => undefined);

console.log(`imap-sync: ${path} → ${directory}`);
const imap = await createImapClient({
  host: env.IMAP_HOST ?? '127.0.0.1',
  port: Number(env.IMAP_PORT ?? 1143),
  starttls: 'required',
  tls: { ca: readFileSync(env.IMAP_CA ?? '.postwire/tls/cert.pem', 'utf8'), servername: 'localhost' },
  auth: { username: env.IMAP_USER ?? 'dev', password: env.IMAP_PASSWORD ?? 'dev' },
  ...(env.IMAP_TRACE && {
    trace: ({ direction, line }) => direction === 'out' && console.log(`  C: ${line}`),
  }),
});

const previous = saved?.mailbox === path && saved.highestModseq !== undefined ? saved : undefined;
const known = Object.keys(previous?.messages ?? {}).map(Number);
// EXAMINE: a mirror only reads. With a saved state, QRESYNC (the client enables it first); else CONDSTORE.
const mailbox = await imap.open(path, {
  readOnly: true,
  condstore: true,
  ...(previous && {
    qresync: {
      uidValidity: previous.uidValidity,
      modseq: previous.highestModseq,
      ...(known.length > 0 && { knownUids: known }),
    },
  }),
});
console.log(`  UIDVALIDITY ${mailbox.uidValidity}, HIGHESTMODSEQ ${mailbox.highestModseq}`);

const messages = {}; // what the mirror holds once this run is over: UID → flags
let deleted = 0;
let fetchFrom = 1;
let changedSince;
if (previous === undefined || mailbox.uidValidity !== previous.uidValidity) {
  // First run, or the UIDs now name other messages: start again from an empty directory.
  console.log(
    previous === undefined
      ? '  no saved state: full download'
      : `  UIDVALIDITY changed (was ${previous.uidValidity}): the mirror is void, full download`,
  );
  for (const name of await readdir(directory)) {
    if (name.endsWith('.eml')) {
      await rm(join(directory, name));
      deleted++;
    }
  }
} else {
  let vanished;
  if (mailbox.qresync) {
    // The server told us in its answer to SELECT/EXAMINE: VANISHED (EARLIER) and FETCH FLAGS.
    vanished = known.filter((uid) => mailbox.qresync.vanished?.has(uid) === true);
    const changed = mailbox.qresync.changed.filter(({ uid, flags }) => uid in previous.messages && flags);
    console.log(
      `  QRESYNC since HIGHESTMODSEQ ${previous.highestModseq}: ${vanished.length} vanished, ${changed.length} with changed flags`,
    );
    Object.assign(messages, previous.messages);
    for (const { uid, flags } of changed) messages[uid] = kept(flags);
  } else {
    // CONDSTORE alone: the UIDs still there say which are gone, and FETCH CHANGEDSINCE whose flags changed.
    const present = new Set(mailbox.exists > 0 ? await imap.search({ all: true }, { uid: true }) : []);
    vanished = known.filter((uid) => !present.has(uid));
    Object.assign(messages, previous.messages);
    let changed = 0;
    if (mailbox.exists > 0) {
      const since = { uid: true, changedSince: previous.highestModseq };
      for await (const { uid, flags } of imap.fetch('1:*', { uid: true, flags: true }, since)) {
        if (!(uid in messages)) continue; // a new message: downloaded below
        messages[uid] = kept(flags);
        changed++;
      }
    }
    console.log(
      `  CONDSTORE since HIGHESTMODSEQ ${previous.highestModseq}: ${vanished.length} gone, ${changed} changed`,
    );
  }
  for (const uid of vanished) {
    await rm(fileOf(uid), { force: true });
    delete messages[uid];
    deleted++;
  }
  fetchFrom = previous.uidNext;
  changedSince = previous.highestModseq;
}

// The new messages: UIDs from the saved UIDNEXT on (and, under CONDSTORE, only those changed since the saved
// HIGHESTMODSEQ, which new messages always are). Each body is streamed to a file, never held whole.
let downloaded = 0;
if (mailbox.exists > 0 && mailbox.uidNext > fetchFrom) {
  const fetch = imap.fetch(
    `${fetchFrom}:*`,
    { uid: true, flags: true, bodies: [''] },
    { uid: true, ...(changedSince !== undefined && { changedSince }) },
  );
  for await (const message of fetch) {
    // `n:*` always names the highest UID, even below n: skip what the mirror already has.
    if (message.uid < fetchFrom) continue;
    const temporary = `${fileOf(message.uid)}.part`;
    for await (const part of message.bodies) await writeFile(temporary, part.content);
    await rename(temporary, fileOf(message.uid));
    messages[message.uid] = kept(message.flags); // set once the bodies are read, if the server sent it last
    downloaded++;
  }
}
await imap.logout();

const state = {
  mailbox: path,
  uidValidity: mailbox.uidValidity,
  highestModseq: mailbox.highestModseq,
  uidNext: mailbox.uidNext,
  messages,
};
await writeFile(`${stateFile}.part`, `${JSON.stringify(state, null, 2)}\n`);
await rename(`${stateFile}.part`, stateFile);
console.log(
  `  ${downloaded} downloaded, ${deleted} deleted: ${Object.keys(messages).length} messages in ${directory}`,
);

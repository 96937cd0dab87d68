// The PostgreSQL store on whichever runtime runs this file, through a real driver against a real database:
// migrate, a user and its INBOX, an append stored in many chunks, reads whole and by range, flags, expunge, and
// a second store on a pool of its own (another process, as far as the database can tell) that hears of each
// change by LISTEN/NOTIFY. It throws on the first thing that is not as expected; the report names each step
// that passed.

import { createPostgresStore } from '@postwire/store-postgres';

const text = new TextEncoder();

/** Small, so that the message below spans several chunk rows and a range read crosses their borders. */
const CHUNK_SIZE = 1000;

/** How long the second store may take to hear of a change: no poll runs meanwhile, only NOTIFY can tell it. */
const NOTIFY_DEADLINE = 5_000;

function check(condition, what) {
  if (!condition) throw new Error(`store-postgres scenario: ${what}`);
}

function sameBytes(a, b) {
  return a.length === b.length && a.every((octet, index) => octet === b[index]);
}

async function readStream(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return new Uint8Array(await new Blob(chunks).arrayBuffer());
}

/** A message of about 5 KB, several chunks long. */
function message(runtime) {
  const lines = Array.from(
    { length: 160 },
    (_, n) => `line ${String(n).padStart(3, '0')} of the body, from ${runtime}`,
  );
  return text.encode(
    `From: ann@example.org\r\nTo: alice@example.org\r\nSubject: chunked on ${runtime}\r\n\r\n${lines.join('\r\n')}\r\n`,
  );
}

/** `bytes` as a stream of pieces that do not line up with the store's chunks. */
function streamInPieces(bytes, pieceSize) {
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(offset, offset + pieceSize));
      offset += pieceSize;
    },
  });
}

/**
 * The changes of `mailbox`, subscribed to now (before anything changes): `next(what)` resolves with the next
 * one, or rejects when none comes within {@link NOTIFY_DEADLINE}. The feed ends when the mailbox closes.
 */
function follow(mailbox) {
  const changes = mailbox.changes()[Symbol.asyncIterator]();
  let pending = changes.next();
  return {
    async next(what) {
      let timer;
      const late = new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`store-postgres scenario: ${what} did not reach the follower in time`)),
          NOTIFY_DEADLINE,
        );
      });
      try {
        const { value, done } = await Promise.race([pending, late]);
        check(!done, `the follower's feed ended before ${what}`);
        pending = changes.next();
        return value;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/**
 * Runs the scenario. `openDatabase()` gives a new connection pool of the driver at hand as `{ sql, end }`:
 * `sql` the store's `SqlClient`, `end()` closing the pool; each store gets a pool of its own, as two
 * processes would. Resolves with the names of the steps that passed, once every store and pool is closed.
 */
export async function runStorePostgresScenario({ openDatabase, runtime }) {
  // Each step is also told on stderr as it passes, so that a run that hangs shows where.
  const passed = {
    steps: [],
    push(step) {
      this.steps.push(step);
      console.error(`${runtime}: ${step} passed`);
    },
  };
  const writerDatabase = openDatabase();
  const followerDatabase = openDatabase();
  const stores = [];
  try {
    const writer = await createPostgresStore({
      sql: writerDatabase.sql,
      migrate: true,
      chunkSize: CHUNK_SIZE,
    });
    stores.push(writer);
    // An hour between polls: within this scenario, only a notification can bring the follower a change.
    const follower = await createPostgresStore({ sql: followerDatabase.sql, pollInterval: 3_600_000 });
    stores.push(follower);
    passed.push('migrate');

    const alice = await writer.user('alice');
    const mailboxes = await alice.list();
    check(
      mailboxes.some((entry) => entry.name === 'INBOX'),
      `a new user's mailboxes: ${JSON.stringify(mailboxes)}`,
    );
    const inbox = await alice.open('INBOX');
    const aliceElsewhere = await follower.user('alice');
    const followed = await aliceElsewhere.open('INBOX');
    passed.push('user and INBOX');

    const bytes = message(runtime);
    const feed = follow(followed);
    const { uid } = await inbox.append(streamInPieces(bytes, 700), { flags: ['$Chunked'] });
    const { rows } = await writerDatabase.sql.query(
      'SELECT count(*)::int AS chunks FROM postwire_body_chunks',
    );
    check(
      rows[0].chunks === Math.ceil(bytes.length / CHUNK_SIZE),
      `${bytes.length} octets in ${rows[0].chunks} chunks`,
    );
    passed.push('append in chunks');

    const appended = await feed.next('the append');
    check(
      appended.type === 'append' && appended.message.uid === uid && appended.message.size === bytes.length,
      `the follower saw ${JSON.stringify(appended)}`,
    );
    check(sameBytes(await followed.readBytes(uid), bytes), 'the follower reads the message');
    passed.push('append seen by the follower');

    check(sameBytes(await inbox.readBytes(uid), bytes), 'readBytes of the whole message');
    const range = { start: CHUNK_SIZE - 10, end: 3 * CHUNK_SIZE + 10 };
    const inRange = bytes.subarray(range.start, range.end);
    check(sameBytes(await inbox.readBytes(uid, range), inRange), 'readBytes of a range across chunks');
    passed.push('readBytes');
    check(sameBytes(await readStream(inbox.read(uid)), bytes), 'read() of the whole message');
    check(sameBytes(await readStream(inbox.read(uid, range)), inRange), 'read() of a range across chunks');
    passed.push('read stream');

    await inbox.setFlags([uid], 'add', ['\\Seen']);
    const [flagged] = await inbox.messages([uid]);
    check(
      flagged.flags.includes('\\Seen') && flagged.flags.includes('$Chunked'),
      `flags now ${flagged.flags}`,
    );
    const flagChange = await feed.next('the flags');
    check(
      flagChange.type === 'flags' && flagChange.uid === uid && flagChange.flags.includes('\\Seen'),
      `the follower saw ${JSON.stringify(flagChange)}`,
    );
    passed.push('setFlags');

    check((await inbox.expunge([uid])).join() === String(uid), 'expunge removes the message');
    check((await inbox.messages()).length === 0, 'INBOX empty after the expunge');
    const removal = await feed.next('the expunge');
    check(
      removal.type === 'expunge' && removal.uids.join() === String(uid),
      `the follower saw ${JSON.stringify(removal)}`,
    );
    passed.push('expunge');

    await inbox.close();
    await followed.close();
    await alice.release();
    await aliceElsewhere.release();
  } finally {
    // Stores first: each gives back the connection it listens on, which the pool's end would wait for.
    for (const store of stores) await store.close();
    await writerDatabase.end();
    await followerDatabase.end();
  }
  passed.push('closed');
  return passed.steps;
}

/**
 * A child process that writes into a Maildir store, for the crash and concurrency tests of
 * `maildir-crash.test.ts`. Run it as `node --import <tsx loader> maildir-writer.ts <mode> <root> ...`;
 * it reports on stdout, one line per event, so that the parent knows what was acknowledged before it
 * killed the child:
 *
 * - `loop <root> <first seq>`: appends messages `first`, `first + 1`, … until killed, printing
 *   `begin <seq> <size>` before each append and `appended <seq> <uid>` once it resolved.
 * - `burst <root> <first seq> <count> [flag]`: appends `count` messages (waiting for `go` on stdin
 *   first), and with `flag` sets flags on each of its own messages after appending it; prints
 *   `appended <seq> <uid>` lines (and `flagged <uid> <modseq>`), then `done`.
 * - `commands <root>`: runs the commands read from stdin, one a line, and answers each with
 *   `ok <json>`: `append <seq>` (answers `{ uid, modseq }`), `flag <uid> <flag>` and `expunge <uid>`
 *   (answer the store's result), `churn <n>` (appends and expunges n messages, one by one; answers
 *   the HIGHESTMODSEQ), `structures <first uid> <last uid>` (answers the subjects, `null` for a UID with
 *   no message), `lock` (tries the maildrop lock of INBOX: answers `"locked"` or `"busy"`), `unlock`,
 *   `quit`.
 * - `lock <root>`: takes the maildrop lock of INBOX, prints `locked`, and holds it until killed.
 *
 * Also the module the parent imports {@link messageBytes} from, so that both sides agree on the bytes.
 */
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import type { MailboxLock } from '../../src/types.js';

/** The user every test writes as. */
export const USER = 'alice';

const encoder = new TextEncoder();

/** A small deterministic hash of a sequence number (for sizes and body text). */
function mix(seq: number): number {
  let x = (seq + 0x9e3779b9) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** The body size of message `seq`: every third message is 1–3 MB, the others up to 40 kB. */
export function bodySize(seq: number): number {
  const h = mix(seq);
  return seq % 3 === 0 ? 1_000_000 + (h % 2_000_000) : 100 + (h % 40_000);
}

/** The whole message number `seq`, CRLF line endings, `Subject: seq <seq>`; the same bytes every time. */
export function messageBytes(seq: number): Uint8Array {
  const header = encoder.encode(
    `From: Writer <writer@example.org>\r\nTo: alice@example.org\r\nSubject: seq ${seq}\r\n` +
      `Message-ID: <seq-${seq}@example.org>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\n`,
  );
  const size = bodySize(seq);
  const body = new Uint8Array(size);
  const line = encoder.encode(
    `${seq.toString(36)}:${mix(seq).toString(36)} the quick brown fox jumps over the lazy dog `.repeat(2),
  );
  // Lines of varying length, each ending in CRLF (the last one too: no line of one byte is left over).
  let at = 0;
  for (let n = 0; at < size; n++) {
    let length = Math.min(20 + ((mix(seq + n) >>> 3) % 60), size - at);
    if (size - at - length < 2) length = size - at;
    body.set(line.subarray(0, Math.min(length - 2, line.length)), at);
    body.fill(0x2e, at + Math.min(length - 2, line.length), at + length - 2);
    body[at + length - 2] = 13;
    body[at + length - 1] = 10;
    at += length;
  }
  const whole = new Uint8Array(header.length + size);
  whole.set(header, 0);
  whole.set(body, header.length);
  return whole;
}

/** The message as a stream of 64 kB chunks, yielding to the event loop between them (a slow client). */
export async function* chunked(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  for (let at = 0; at < bytes.length; at += 64 * 1024) {
    yield bytes.subarray(at, at + 64 * 1024);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(argv: string[]): Promise<void> {
  const { createMaildirStore } = await import('../../src/node/maildir.js');
  const { MailboxInUseError } = await import('../../src/errors.js');
  const [mode, root, ...rest] = argv;
  if (!mode || !root) throw new Error('usage: maildir-writer <mode> <root> ...');
  const store = createMaildirStore({ root, pollInterval: 50 });
  const inbox = await (await store.user(USER)).open('INBOX');
  switch (mode) {
    case 'loop': {
      say('ready');
      for (let seq = Number(rest[0]); ; seq++) {
        const bytes = messageBytes(seq);
        say(`begin ${seq} ${bytes.length}`);
        const result = await inbox.append(bytes.length > 100_000 ? chunked(bytes) : bytes);
        say(`appended ${seq} ${result.uid}`);
      }
    }
    case 'burst': {
      const first = Number(rest[0]);
      const count = Number(rest[1]);
      const flag = rest[2] === 'flag';
      const lines = createInterface({ input: process.stdin });
      say('ready');
      await new Promise<void>((resolve) => lines.once('line', () => resolve()));
      lines.close();
      for (let seq = first; seq < first + count; seq++) {
        const result = await inbox.append(small(seq));
        say(`appended ${seq} ${result.uid}`);
        if (flag) {
          const flags = await inbox.setFlags([result.uid], 'add', ['\\Seen', `$seq${seq % 3}`]);
          say(`flagged ${result.uid} ${flags.changed[0]?.modseq ?? 0}`);
        }
      }
      say('done');
      break;
    }
    case 'commands': {
      let held: MailboxLock | undefined;
      say('ready');
      for await (const line of createInterface({ input: process.stdin })) {
        const [command, a, b] = line.split(' ');
        if (command === 'append') {
          const result = await inbox.append(small(Number(a)));
          say(`ok ${JSON.stringify({ uid: result.uid, modseq: result.modseq })}`);
        } else if (command === 'flag') {
          say(`ok ${JSON.stringify(await inbox.setFlags([Number(a)], 'add', [b!]))}`);
        } else if (command === 'expunge') {
          say(`ok ${JSON.stringify(await inbox.expunge([Number(a)]))}`);
        } else if (command === 'churn') {
          // Appends and expunges `a` messages one by one: many log lines for few messages.
          for (let i = 0; i < Number(a); i++) {
            const { uid } = await inbox.append(small(100_000 + i));
            await inbox.expunge([uid]);
          }
          say(`ok ${JSON.stringify((await inbox.status()).highestModseq)}`);
        } else if (command === 'structures') {
          await inbox.sync();
          const uids = Array.from({ length: Number(b) - Number(a) + 1 }, (_, i) => Number(a) + i);
          const structures = await inbox.structures(uids);
          say(`ok ${JSON.stringify(structures.map((structure) => structure?.envelope.subject ?? null))}`);
        } else if (command === 'lock') {
          try {
            held = await inbox.lock();
            say('ok "locked"');
          } catch (error) {
            if (!(error instanceof MailboxInUseError)) throw error;
            say('ok "busy"');
          }
        } else if (command === 'unlock') {
          await held?.release();
          held = undefined;
          say('ok null');
        } else if (command === 'quit') {
          break;
        } else {
          say(`error unknown command ${line}`);
        }
      }
      break;
    }
    case 'lock': {
      await inbox.lock();
      say('locked');
      await new Promise(() => setInterval(() => {}, 1000));
      break;
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
  await store.close();
}

/** A small message (no body of megabytes), for the tests that append many. */
export function small(seq: number): Uint8Array {
  return encoder.encode(
    `From: Writer <writer@example.org>\r\nTo: alice@example.org\r\nSubject: seq ${seq}\r\n` +
      `Message-ID: <seq-${seq}@example.org>\r\n\r\nBody of message ${seq}.\r\n${'x'.repeat(seq % 200)}\r\n`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}

import { cpus, totalmem } from 'node:os';
import type { RuntimeRow } from './runtimes.js';

/** One row of docs/benchmarks.md: a workload, our figure and each peer's, higher is better. */
export interface Row {
  readonly workload: string;
  readonly unit: string;
  readonly ours: number;
  readonly peers: Readonly<Record<string, number>>;
  /** For costs such as memory: the advantage is then peer ÷ ours. */
  readonly lowerIsBetter?: boolean;
}

function format(value: number): string {
  return value >= 100 ? value.toFixed(0) : value.toFixed(1);
}

/** An advantage with two decimals, or two significant digits below 0.1 (so that 0.004 is not shown as 0.00). */
function ratio(value: number): string {
  return value >= 0.1 ? value.toFixed(2) : value.toPrecision(2);
}

/** The Markdown table of the rows: one line per peer, or one without a peer for a row that has none. */
export function renderTable(rows: readonly Row[]): string[] {
  const lines = [
    '| Workload | Postwire | Peer | Peer figure | Advantage (×) |',
    '| --- | ---: | --- | ---: | ---: |',
  ];
  for (const row of rows) {
    const peers = Object.entries(row.peers);
    if (peers.length === 0) lines.push(`| ${row.workload} | ${format(row.ours)} ${row.unit} | — | — | — |`);
    for (const [peer, figure] of peers) {
      lines.push(
        `| ${row.workload} | ${format(row.ours)} ${row.unit} | ${peer} | ${format(figure)} ${row.unit} | ${ratio(row.lowerIsBetter ? figure / row.ours : row.ours / figure)} |`,
      );
    }
  }
  return lines;
}

/** Renders the rows as the Markdown page, with the machine and Node version they were measured on. */
/** Where the cross-runtime section starts and ends, so that `pnpm bench:runtimes` can replace it alone. */
export const RUNTIMES_START = '<!-- runtimes: written by bench/src/runtimes-only.ts and run.ts -->';
export const RUNTIMES_END = '<!-- runtimes end -->';

/**
 * The section of the figures across runtimes: one column per runtime, each figure from the same script in
 * the same run, and what was measured.
 */
export function renderRuntimeSection(
  rows: readonly RuntimeRow[],
  versions: Readonly<Record<string, string>>,
): string {
  const runtimes = Object.keys(versions);
  return [
    RUNTIMES_START,
    '## Across runtimes',
    '',
    `The same script (runtimes/bench/throughput.mjs, on the built packages) on each runtime in turn: ${runtimes
      .map((name) => `${name} ${versions[name]}`)
      .join(', ')}. workerd runs it bundled by esbuild for the`,
    '`workerd` condition. Each figure is the median of timed rounds after warm-up; higher is better.',
    '',
    `| Workload | ${runtimes.join(' | ')} |`,
    `| --- | ${runtimes.map(() => '---:').join(' | ')} |`,
    ...rows.map(
      (row) =>
        `| ${row.workload} | ${runtimes.map((name) => `${format(row.figures[name] ?? Number.NaN)} ${row.unit}`).join(' | ')} |`,
    ),
    '',
    'MIME: `parseMessage` on two messages the script composes itself, so that every runtime parses the same',
    'bytes: an HTML newsletter (8,200 paragraphs of Latin-1 text and links, quoted-printable) and five 1,000,000-byte',
    "attachments of pseudo-random bytes (base64). IMAP: `fetch('1:*', { bodies: [''] })` of a mailbox of 100",
    "messages of 102,400 bytes on Postwire's dev server (a Node child process), each body read whole with",
    "`bytes()`, over plain TCP through that runtime's connector (`@postwire/core/node`, `/deno`, `/bun`,",
    '`/workers`), without COMPRESS, so that the figure is the client on that runtime rather than a TLS library.',
    RUNTIMES_END,
  ].join('\n');
}

/** Where the PostgreSQL store's section starts and ends, so that `pnpm bench:store-postgres` can replace it alone. */
export const STORE_POSTGRES_START =
  '<!-- store-postgres: written by bench/src/store-postgres-only.ts and run.ts -->';
export const STORE_POSTGRES_END = '<!-- store-postgres end -->';

/** The PostgreSQL store's section: the rows, the database's CPU, and how throughput scales with processes. */
export function renderStorePostgresSection(
  rows: readonly Row[],
  databaseCores: Readonly<Record<number, number>>,
): string {
  const cores = Object.entries(databaseCores)
    .map(([processes, used]) => `${used.toFixed(2)} with ${processes}`)
    .join(', ');
  return [
    STORE_POSTGRES_START,
    '## The PostgreSQL store',
    '',
    ...renderTable(rows),
    '',
    'IMAP server processes (`createImapServer` over `createPostgresStore` with `pg`, or over `createMaildirStore`,',
    "each a child process run from source by tsx) on one PostgreSQL 15 started by the store's test harness with",
    'fsync and synchronous commits on, as the Maildir store flushes every message; each configuration on a fresh',
    'database (or directory). Eight connections from the benchmark process, spread round-robin over the',
    'processes, append 10,240-byte messages for 3 s (each APPEND awaited); then each fetches `BODY.PEEK[]` of',
    'UIDs 1 to 200 (a warm-up, not counted), then of those of UIDs 201 to 800, 200 at a time (counted: messages',
    `no earlier round read). PostgreSQL's own CPU while appending, in cores: ${cores}.`,
    '',
    'How it scales: on this 2-core machine the client, every server process and PostgreSQL share two cores,',
    'so more processes add no CPU and the appends slow down as they contend; PostgreSQL itself stays under',
    "one core, with the mailbox's row lock serialising appends to one mailbox and group commit amortising the",
    'flushes. Across machines, each front end brings its own cores, and the database becomes the limit at the',
    'mailbox row: appends to one mailbox are serial (a commit each), appends to different mailboxes run in',
    'parallel. FETCH reads small messages ahead in UID order, a query per MiB of them, where the Maildir',
    'store opens and reads a file per message: from one process that puts it ahead of Maildir. More',
    'processes on these two cores only share them with the database and the client, and FETCH slows; across',
    'machines, front ends add cores, and a read replica (`replica`) takes the body reads off the primary.',
    STORE_POSTGRES_END,
  ].join('\n');
}

/** `page` with the section between `start` and `end` replaced by `section` (added at the end when absent). */
export function replaceSection(page: string, start: string, end: string, section: string): string {
  const from = page.indexOf(start);
  const to = page.indexOf(end);
  return from >= 0 && to > from
    ? `${page.slice(0, from)}${section}${page.slice(to + end.length)}`
    : `${page.trimEnd()}\n\n${section}\n`;
}

export function renderReport(
  rows: readonly Row[],
  date: Date,
  runtimes?: { readonly rows: readonly RuntimeRow[]; readonly versions: Readonly<Record<string, string>> },
  storePostgres?: { readonly rows: readonly Row[]; readonly databaseCores: Readonly<Record<number, number>> },
): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const lines = [
    '# Benchmarks',
    '',
    'Generated by `pnpm bench` (bench/src/run.ts). Every figure in a row was measured in the same run, side by side;',
    'each is the median of several timed runs after warm-up. The advantage is how many times better Postwire does:',
    'ours ÷ peer for throughput, peer ÷ ours for memory and time.',
    '',
    `- Date: ${date.toISOString().slice(0, 10)}`,
    `- Machine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `- Node: ${process.version} (${process.platform}/${process.arch})`,
    '',
    ...renderTable(rows),
  ];
  lines.push(
    '',
    'The line-decoder target is a ratio of at least 0.50 against `Buffer.indexOf` scanning the same bytes for LF,',
    'which finds line ends but neither joins lines across chunks, checks limits nor rejects bare CR/LF.',
    "In `crlf` mode (the servers' default) the decoder looks at every byte twice, for LF and for a stray CR,",
    'so half the single-byte scan is its ceiling; `lenient` mode scans once. A counted literal is not scanned',
    'at all, which is why that row exceeds the limit. Figures on this shared 2-core machine vary by about ±20 %',
    "from run to run; each row's figures come from interleaved runs, so the ratios are steadier than the figures.",
    '',
    'MIME: each parser parses the same bytes in memory (mailparser with its HTML/text conversions off) and',
    'builds its full result, text and HTML decoded to strings. Targets: 3× the faster peer on every parse',
    'row, at least half of the bare base64 decode of the same attachments, under 100 MB peak RSS while',
    'streaming 1 GB (each parser in its own child process on the built packages; the peers hold the whole',
    'message), and 2× nodemailer when composing. The newsletter row is the closest to its target: half its',
    'time is UTF-8 decoding by `TextDecoder`, most of the rest quoted-printable decoding (four bytes at a time).',
    '',
    "DKIM: `signDkim` and `verifyDkim` (with `nodeSha256` from `@postwire/mailauth/node`) against mailauth 4.13.3's",
    '`dkimSign` and `dkimVerify` (its later releases need Node 22), in the benchmark process, with the same',
    'freshly made keys (RSA-2048, Ed25519), each given as PKCS #8 PEM text, and relaxed/relaxed. Messages: a',
    '10,240-byte text/plain reply (lines of 1 to 900 characters, runs of spaces, trailing white space) and a',
    '1,000,000-byte multipart/mixed message with a base64 attachment. Key records come from the same in-memory',
    "answers (our `DnsResolver`, mailauth's `resolver` option; no real DNS), the RSA one split into 255-byte",
    "strings. Before timing, each library must pass its own and the other's signature on every message, and",
    'fail it with a body byte changed. A verification is of the message as received (Return-Path and Received',
    "above mailauth's signature) and must pass; a signing returns the DKIM-Signature field. Messages a second,",
    'one operation at a time, each awaited: batches of 10 to 150 per timed run, 15 interleaved rounds after 2',
    'of warm-up, median. Postwire keeps the keys it imported (the 256 most recently used, by their text), as a',
    'verifier meets the same few keys again and again; mailauth 4.13.3 imports the key on every call. Target: 2×',
    'mailauth on every row.',
    '',
    'Store: our figures are calls of the store API in the benchmark process, one at a time and each awaited,',
    "as a server's session makes them; the peer is Debian's Dovecot, started by the store's test harness on the",
    'same temporary directory of the same disk (`mail_location = maildir:<root>/%u`) and driven over one loopback',
    'IMAP connection with the commands pipelined: one `APPEND` per message with a LITERAL+ literal (`{n+}`, no',
    'continuation round trip) and one `UID STORE +FLAGS.SILENT (\\Flagged)` per message, so Dovecot also pays',
    'for parsing IMAP and a socket, which our figures do not include. Each append round fills an empty INBOX',
    'with 500 messages of 10,240 bytes and then flags each; the rows are medians of 5 interleaved rounds.',
    "fsync on is each side's default: the store flushes the message file, the directory it lands in and `dovecot-uidlist`",
    "(not its own index log, which can be rebuilt from the files); Dovecot's `mail_fsync = optimized` flushes the message, the directories and its",
    'uidlist when it saves, but not flag changes. For fsync off the store runs with `fsync: false` and Dovecot',
    'is reloaded with `mail_fsync = never`. The 100,000-message Maildir (messages of about 1 KB, all in `cur/`,',
    '90 % `\\Seen`) is written directly, with a `dovecot-uidlist` that numbers them, as either server would',
    'have left it: neither side assigns UIDs, each builds its own index. "First time" means without the',
    'server\'s index (`postwire-index`, or `dovecot.index*` deleted), "again" with the index the previous open',
    "left. Ours is `store.user()`, `open('INBOX')` and `status()` in a fresh Node process on the built",
    "packages; Dovecot's is `SELECT INBOX` in a fresh IMAP session (a fresh `imap` process, as",
    "`service_count = 1`), timed at the client after LOGIN. Peak RSS is the kernel's high-water mark (VmHWM)",
    'of that process, so ours includes Node itself (about 47 MB with the store loaded). The files are in the',
    'page cache for both (just written), and the same-disk figures swing more than the in-memory ones here.',
    '',
    "SMTP server: ours (`createSmtpServer` from `@postwire/smtp/node`) against smtp-server (nodemailer's), each in a",
    'child process of its own on the built packages, with the load generator in the benchmark process, so that',
    'on this 2-core machine the server under test has a core and the generator the other (it needs under half',
    'of one at 21,000 msg/s). Both accept every message with a hook that reads it to its end: our default `onData`,',
    'and for smtp-server an `onData` that drains the stream and calls back at its end. Both without TLS and AUTH',
    "(smtp-server: `authOptional`, `disabledCommands: ['STARTTLS', 'AUTH']`), no reverse DNS lookup, no logging,",
    'the same 10,240,000-byte size limit, no connection limits, and no `Received:` header (smtp-server adds none).',
    'The generator is one node:net client for both: 50 connections, each says EHLO once, then pipelines',
    '`MAIL FROM`, `RCPT TO` and `DATA` in one write, waits for the 354, writes a 10,240-byte message (CRLF lines',
    'of about 80 characters, every 32nd dot-stuffed) and its `.` line in one write, waits for the 250, and',
    'repeats. Messages accepted are counted for 3 s after 1 s of warm-up; 3 rounds, each server in turn, and the',
    "row is the median. Target: 2× smtp-server. The CPU row is the server process's user + system time over the",
    "same 3 s divided by the messages accepted: on this machine the generator shares the cores, so a server's",
    'cost per message is the steadier measure. The limit is a do-nothing server in Node (smtp-server-child.mjs):',
    'it answers each command as the generator expects without checking it, finds the end of a message with',
    '`Buffer.indexOf` and keeps nothing, in the same two writes per message as the others. It reaches about',
    '2.5× smtp-server, so 2× is not out of reach of Node here. But a server pays more for its writes the slower',
    'it answers (loopback TCP charges the wake-up of the waiting generator to the writer): 10 µs of busy work a',
    'message added to the limit raised its CPU time per message by 14 µs, 25 µs by 34 µs. 2× smtp-server thus',
    "leaves a server about 6 µs of work a message beyond the limit's; ours costs some 30 µs of CPU time a message",
    'more than the limit (parsing and checking each command, dot-unstuffing, the hooks, the message stream).',
    'Memory per idle connection: a fresh server process per figure (ours and smtp-server);',
    '100 connections come and go first, then the RSS and the JS heap used plus external memory (after full',
    'collections) are taken before and after 1,000 connections are opened (greeting and EHLO) and left idle;',
    'the difference over 1,000, in KB of 1,024 bytes, is the median of 3 rounds per server.',
    "The smtp-source rows drive the same three server children with Postfix's `smtp-source` (HELO, no pipelining).",
    '',
    "SMTP client: ours (`createSmtpClient`, pooled) against nodemailer's pooled SMTP transport, each with 5",
    'connections and 50 sends in flight, sending the same 10,240-byte message with an envelope to one sink in a',
    'child process: our server (which offers CHUNKING, so our client sends MAIL, RCPT and `BDAT LAST` with the',
    'message in one write) and smtp-server (no CHUNKING: both clients use DATA). 3 interleaved rounds of 3 s',
    'after 1 s of warm-up, median. Target: 2× nodemailer.',
    '',
    'POP3: 1,000 messages of 102,400 bytes (CRLF lines of 76 octets, every 16th dot-stuffed), already `\\Seen`',
    'in one Maildir that Dovecot and our server (`createPop3Server` over `createMaildirStore`, in a child process',
    'on the built packages, as the mail uid) both serve. A figure is one whole session, connect to QUIT, in MB/s',
    'of message bytes. Our client uses `sync({ keep: true })` (UIDL, LIST, RETR pipelined 32 ahead) and reads',
    'each stream to its end; node-pop3 issues UIDL, then one RETR at a time and gets strings. 9 interleaved',
    'rounds after a warm-up, median. Targets: client 2× node-pop3, server 0.8× Dovecot. The limit is a do-nothing',
    'client: USER and PASS, then every RETR and QUIT in one write, and nothing done with what comes back but',
    'counting the terminators. What it gets from Dovecot bounds what any client can get from Dovecot here.',
    'The server row moves more than the others from day to day here: 0.91 on 2026-11-24, 0.68 to 0.74 on',
    '2026-11-25, when the code of 2026-11-24, built and run in the same hour, gave 0.72.',
    '',
    'IMAP server: ours (`createImapServer` over `createMaildirStore`, in a child process on the built packages, as',
    "the mail uid) against Dovecot (started by the store's test harness: its default process model, a login process",
    'and an `imap` process per session, and `mail_fsync = optimized`), each serving its own identical copy of the',
    'same Maildirs, written straight into `cur/` with a `dovecot-uidlist`, so neither assigns UIDs; each builds its',
    'index and caches in the warm-up round. One client in the benchmark process drives both (imap-load-client.ts):',
    'it reads every response whole, literals included, and each workload checks what came back, so that a server',
    'cannot look fast by answering short. FETCH ENVELOPE: `FETCH 1:* (FLAGS ENVELOPE)` over 10,000 messages of',
    '0.8–7.6 KB (median 2.7 KB) with varied headers (display names plain, quoted and RFC 2047-encoded, groups, Cc,',
    'Reply-To, folded and encoded subjects, DKIM and Received lines), timed from the command to its tagged OK in a',
    'session that already ran EXAMINE; each message must come once with its Message-ID in its envelope and its',
    'flags. FETCH BODY: `FETCH 1:* BODY.PEEK[]` over 1,000 messages of 102,400 bytes, each literal of the right',
    "size and starting with that message's octets; MB/s of message. 7 interleaved rounds after a warm-up, median.",
    'Sessions: 200 sessions at once, each of its own user (Dovecot allows 10 per user and address) with a',
    '28-message INBOX: connect, LOGIN, SELECT, then `FETCH 1:10 (FLAGS ENVELOPE)` and `STORE` of three messages not',
    'yet flagged `+FLAGS (\\Flagged)` pipelined (10 envelopes and 3 flag updates counted), IDLE (the `+`, then DONE),',
    'LOGOUT, each step waiting for its tagged OK; sessions a second over the wall time of all 200, 5 rounds after',
    'a warm-up, median. If our server answers IDLE with BAD, both servers skip it and the row says so. Memory per',
    'idle session: a fresh server process per round; 200 sessions of other users are opened (LOGIN, SELECT, IDLE)',
    "and closed first, so that one-time costs and V8's young generation growing to its working size (some 30 MB)",
    "are in the baseline; then the process's RSS (after full collections) before and after 200 idle sessions,",
    "less the resident pages of V8's young generation (the allocation nursery, one per process, whose resident",
    'size follows the allocations of the moments before, not the sessions held: it moved the raw RSS figure by 6',
    'to 28 KB per session from round to round; the console shows the raw RSS and the JS heap too), divided by',
    "200, in KB of 1,024 bytes; it includes each user's state in the store. Dovecot's figure is per",
    '`imap` process (one per session) from /proc: RSS, which counts the shared libraries in every process, and PSS,',
    'which splits shared pages among the processes that share them. 5 rounds, median. With more than 128 sessions',
    "Dovecot's IDLE falls back from inotify to polling (the kernel's default `max_user_instances` per uid), and its",
    'log says so. Targets: 0.5× Dovecot on each throughput row, under 50 KB per idle session.',
    '',
    'IMAP client: ours (`createImapClient` from `@postwire/imap/node`) against imapflow, each in a child process of',
    "its own on the built packages (plain Node, none of the bench's loaders), against one Dovecot (the store's test",
    'harness) serving one Maildir written once: INBOX with the 10,000 small messages of the IMAP server rows, and a',
    'folder `Bodies` with 1,000 messages of 1,000,000 octets. A run is one session: connect, log in, EXAMINE, one',
    "FETCH timed from the call to the loop's end, LOGOUT. imapflow enables CONDSTORE and adds UID and MODSEQ to",
    'every FETCH; ours asks for the same items, so Dovecot sends both the same bytes. Envelopes: `FETCH 1:* (FLAGS',
    "ENVELOPE MODSEQ UID)` (imapflow: `fetch('1:*', { flags: true, envelope: true })`), each message consumed as",
    'imapflow hands it over: subject and display names decoded from RFC 2047 (for ours by the consumer, with',
    "`@postwire/mime`'s `decodeEncodedWords`) and the date parsed with `new Date`. Bodies: `FETCH 1:* (BODY.PEEK[]",
    "MODSEQ UID)`: ours with `fetch('1:*', { bodies: [''] })`, each part iterated chunk by chunk as it streams;",
    "imapflow with `fetch('1:*', { source: true })`, each message one Buffer. imapflow's `download()` streams a",
    'message too, but asks for it 64 KiB at a time, a round trip each: about 300 MB/s here, a third of its fetch,',
    'so the fetch is its fair best. Every run checks each message against what was written (sequence number,',
    "Message-ID and flags; a body's first 48 octets, and the total octets). The do-nothing socket reader sends the",
    'same FETCH and only counts octets up to the tagged OK: what Dovecot can give any client on this machine. 7',
    'rounds after a warm-up, each client once a round, the first rotating; every figure is a median. The CPU rows',
    "are the user + system time of the client's process (all its threads) during the fetch: this 2-core machine is",
    'shared and Dovecot needs a core of it, so they are the steadier measure of what each client costs; a client',
    'that reads bodies as fast as the socket reader cannot beat it by much in MB/s. Memory: each child runs one',
    "workload for all its rounds. Peak RSS is the kernel's high-water mark (VmHWM) of its process, which counts",
    'Node itself (some 45 MB, most of it pages of the node binary that a busy process touches) and the modules',
    '(about 8 MB for ours, 28 MB for imapflow). Peak JS memory is the highest V8 heap used + external memory',
    '(Buffers included) sampled every 10 ms: above all the young generation V8 grows to under a high allocation',
    'rate and, for bodies, the socket reads: every read is a new Buffer, which V8 frees only once some 64 MB of',
    'them are garbage. What either client holds is small by comparison (forcing a collection mid-fetch: about',
    '1 MB above the idle heap for ours, 3.5 MB for imapflow while fetching bodies). Targets: 2× imapflow on each',
    'throughput row, half its memory.',
    '',
  );
  if (runtimes) lines.push(renderRuntimeSection(runtimes.rows, runtimes.versions), '');
  if (storePostgres)
    lines.push(renderStorePostgresSection(storePostgres.rows, storePostgres.databaseCores), '');
  return lines.join('\n');
}

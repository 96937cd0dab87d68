import { existsSync } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ProtocolError, streamChunks } from '@postwire/core';
import type { ImapClient, StatusItem } from '@postwire/imap';
import { createImapClient } from '@postwire/imap/node';
import {
  type Address,
  decodeEncodedWords,
  type EnvelopeAddress,
  parseDate,
  parseMessageSync,
} from '@postwire/mime';
import type { Pop3Client } from '@postwire/pop3';
import { createPop3Client } from '@postwire/pop3/node';
import {
  type ClientCommandContext,
  clientTls,
  describeFailure,
  printable,
  readServerSettings,
  runClientCommand,
  SERVER_OPTIONS,
  type ServerDefaults,
  type ServerSettings,
} from './client-command.js';
import { type CliIo, type ExitCode, UsageError } from './io.js';
import { createTransferProgress, formatBytes, type TransferProgress } from './progress.js';

/** The protocols `postwire ls` and `postwire fetch` read mail with. */
export type ReadProtocol = 'imap' | 'pop3';

/** The dev server's ports, with STARTTLS (STLS); the implicit-TLS ones, well-known and the dev server's. */
const READ_DEFAULTS: Readonly<Record<ReadProtocol, ServerDefaults>> = {
  imap: { host: '127.0.0.1', port: 1143, implicitTlsPorts: new Set([993, 1993]) },
  pop3: { host: '127.0.0.1', port: 1110, implicitTlsPorts: new Set([995, 1995]) },
};

/** Ports that are POP3's, when `--protocol` is not given. */
const POP3_PORTS = new Set([110, 995, 1110, 1995]);

const SERVER_HELP = `The server:
  --protocol imap|pop3      default imap, or pop3 when --server names port 110, 995, 1110 or 1995
  --server HOST[:PORT]      default 127.0.0.1:1143 for IMAP, 127.0.0.1:1110 for POP3 (postwire serve)
  --tls MODE                starttls (STLS in POP3; required before logging in), implicit, or none;
                            default implicit on ports 993, 995, 1993 and 1995, else starttls
  --user NAME               log in as NAME, with --password PASSWORD or the password in POSTWIRE_PASSWORD
  --ca FILE                 trust the CA certificates in this PEM file. Without --ca, a loopback server's
                            certificate is checked against ./.postwire/tls/cert.pem when that file
                            exists: the one postwire serve made in this directory
  --insecure                do not check the server's certificate
  --json                    the result as JSON`;

/** The help text of `postwire ls`. */
export const lsUsage = `Usage: postwire ls --user NAME [--mailbox NAME] [options]

Lists what a mailbox holds, over IMAP or POP3. IMAP: without --mailbox, the mailboxes with their
message counts; with it, the mailbox's messages (UID, date, size, from, subject). POP3: the messages
(number, unique id, date, size, from, subject; the last from the header that TOP sends).

  --mailbox NAME            an IMAP mailbox to list the messages of (INBOX, Sent …)
  --limit N                 only the last N messages
${SERVER_HELP}
`;

/** The help text of `postwire fetch`. */
export const fetchUsage = `Usage: postwire fetch --user NAME (--all | --uid ID …) [--out DIR] [options]

Downloads messages, over IMAP or POP3, to DIR/<id>.eml: the IMAP UID, or the POP3 unique id (UIDL, with
characters unsafe in a file name written %XX). Each message is written as it arrives, to a temporary
file renamed when complete, and a file that is already there is not downloaded again: run it again to
fetch only what is new. On a terminal, a progress bar shows on standard error.

  --all                     every message
  --uid ID                  this message (repeat, or a comma-separated list): a UID, or a POP3 UIDL
  --mailbox NAME            the IMAP mailbox (default INBOX)
  --out DIR                 where the files go (default the working directory; made if missing)
  --delete                  POP3: delete from the server each message fetched, or already there, once the
                            session ends well; nothing is deleted when anything fails
${SERVER_HELP}
`;

/** What `postwire ls` and `postwire fetch` share of their command line. */
interface ReadRequest {
  readonly protocol: ReadProtocol;
  readonly server: ServerSettings;
  readonly mailbox: string | undefined;
  readonly json: boolean;
}

/** `postwire ls`, read from its command line. */
export interface LsRequest extends ReadRequest {
  readonly limit: number | undefined;
}

/** `postwire fetch`, read from its command line. */
export interface FetchRequest extends ReadRequest {
  /** Every message, or those with these ids (IMAP UIDs or POP3 UIDLs, as text). */
  readonly select: 'all' | readonly string[];
  readonly out: string;
  readonly delete: boolean;
}

const READ_OPTIONS = {
  ...SERVER_OPTIONS,
  protocol: { type: 'string' },
  mailbox: { type: 'string' },
} as const;

interface ReadValues {
  protocol?: string;
  server?: string;
  user?: string;
  mailbox?: string;
  json?: boolean;
}

async function readReadRequest(values: ReadValues, context: ClientCommandContext): Promise<ReadRequest> {
  const protocol = values.protocol ?? guessProtocol(values.server);
  if (protocol !== 'imap' && protocol !== 'pop3')
    throw new UsageError(`--protocol is imap or pop3, not ${protocol}`);
  if (values.user === undefined)
    throw new UsageError('give --user (and --password, or the password in POSTWIRE_PASSWORD)');
  if (protocol === 'pop3' && values.mailbox !== undefined)
    throw new UsageError('POP3 has one mailbox: --mailbox is for IMAP');
  const server = await readServerSettings(values, READ_DEFAULTS[protocol], context);
  return { protocol, server, mailbox: values.mailbox, json: values.json === true };
}

function guessProtocol(server: string | undefined): string {
  const port = /:(\d+)$/.exec(server ?? '')?.[1];
  return port !== undefined && POP3_PORTS.has(Number(port)) ? 'pop3' : 'imap';
}

function connectImap(server: ServerSettings): Promise<ImapClient> {
  return createImapClient({ ...clientTls(server), auth: server.auth! });
}

function connectPop3(server: ServerSettings): Promise<Pop3Client> {
  return createPop3Client({ ...clientTls(server), auth: server.auth! });
}

/** Runs `work` on an IMAP session, then logs out (or drops the connection when `work` failed). */
async function withImap<T>(server: ServerSettings, work: (client: ImapClient) => Promise<T>): Promise<T> {
  const client = await connectImap(server);
  let result: T;
  try {
    result = await work(client);
  } catch (error) {
    await client.close().catch(() => {});
    throw error;
  }
  await client.logout().catch(() => {});
  return result;
}

/**
 * Runs `work` on a POP3 session, then QUIT, where the server deletes what was marked; when `work`
 * failed, the connection is dropped without QUIT, so nothing is deleted.
 */
async function withPop3<T>(server: ServerSettings, work: (client: Pop3Client) => Promise<T>): Promise<T> {
  const client = await connectPop3(server);
  let result: T;
  try {
    result = await work(client);
  } catch (error) {
    await client.close().catch(() => {});
    throw error;
  }
  await client.quit();
  return result;
}

// --- postwire ls ---------------------------------------------------------------------------------------

/** A mailbox as `postwire ls` lists it. */
export interface ListedMailbox {
  /** The mailbox's name, as the server gives it. */
  readonly path: string;
  /** Absent for a mailbox that cannot be opened (`\Noselect`). */
  readonly messages?: number;
  /** Messages without `\Seen`; absent for a mailbox that cannot be opened. */
  readonly unseen?: number;
  /** Octets, when the server has STATUS=SIZE (RFC 8438). */
  readonly size?: number;
  /** The mailbox's SPECIAL-USE attribute (`\Sent`, `\Trash` …), when it has one. */
  readonly specialUse?: string;
}

/** A message as `postwire ls` lists it. */
export interface ListedMessage {
  /** IMAP. */
  readonly uid?: number;
  /** POP3: the number in this session, and the unique id. */
  readonly number?: number;
  /** POP3: the unique id (UIDL). */
  readonly uidl?: string;
  /** ISO 8601: the Date field, else (IMAP) the arrival time; `null` when neither is known. */
  readonly date: string | null;
  /** The first From address, with its display name; `''` when there is none. */
  readonly from: string;
  /** The Subject, decoded; `''` when there is none. */
  readonly subject: string;
  /** Octets. */
  readonly size: number;
  /** IMAP. */
  readonly flags?: readonly string[];
}

/** `postwire ls`: mailboxes, or a mailbox's messages. See {@link lsUsage}. */
export function lsCommand(
  args: readonly string[],
  io: CliIo,
  context: ClientCommandContext = {},
): Promise<ExitCode> {
  return runClientCommand<LsRequest>(io, {
    name: 'ls',
    usage: lsUsage,
    async parse() {
      const { values } = parseArgs({
        args: [...args],
        strict: true,
        allowPositionals: false,
        options: { ...READ_OPTIONS, limit: { type: 'string' } },
      });
      if (values.help) return 'help';
      const limit = values.limit === undefined ? undefined : Number(values.limit);
      if (limit !== undefined && !(/^\d+$/.test(values.limit!) && limit > 0))
        throw new UsageError(`--limit is a positive number, not ${values.limit}`);
      return { ...(await readReadRequest(values, context)), limit };
    },
    run: (request) => list(request, io),
    describe: (error, request) => ({ text: describeFailure(error, request.server) }),
  });
}

async function list(request: LsRequest, io: CliIo): Promise<ExitCode> {
  const json = (value: unknown) => io.out(`${JSON.stringify(value, null, 2)}\n`);
  if (request.protocol === 'pop3') {
    const messages = await withPop3(request.server, (client) => listPop3(client, request.limit));
    if (request.json) json({ messages });
    else io.out(messagesText(messages, 'pop3', 'the maildrop'));
  } else if (request.mailbox === undefined) {
    const mailboxes = await withImap(request.server, listMailboxes);
    if (request.json) json({ mailboxes });
    else io.out(mailboxesText(mailboxes));
  } else {
    const mailbox = request.mailbox;
    const listing = await withImap(request.server, (client) => listImap(client, mailbox, request.limit));
    if (request.json) json({ mailbox, ...listing });
    else io.out(messagesText(listing.messages, 'imap', mailbox));
  }
  return 0;
}

async function listMailboxes(client: ImapClient): Promise<ListedMailbox[]> {
  const items: StatusItem[] = ['MESSAGES', 'UNSEEN'];
  if (client.capabilities.has('STATUS=SIZE')) items.push('SIZE');
  const entries = await client.list({ status: items, specialUse: true });
  return entries.map((entry) => ({
    path: entry.path,
    ...(entry.status?.messages !== undefined && { messages: entry.status.messages }),
    ...(entry.status?.unseen !== undefined && { unseen: entry.status.unseen }),
    ...(entry.status?.size !== undefined && { size: entry.status.size }),
    ...(entry.specialUse !== undefined && { specialUse: entry.specialUse }),
  }));
}

async function listImap(
  client: ImapClient,
  mailbox: string,
  limit: number | undefined,
): Promise<{ uidValidity: number | null; messages: ListedMessage[] }> {
  const opened = await client.open(mailbox, { readOnly: true });
  const messages: ListedMessage[] = [];
  if (opened.exists > 0) {
    const first = limit === undefined ? 1 : Math.max(1, opened.exists - limit + 1);
    const query = { uid: true, flags: true, internalDate: true, size: true, envelope: true };
    for await (const message of client.fetch(`${first}:${opened.exists}`, query)) {
      const { envelope } = message;
      const date = (envelope?.date && parseDate(envelope.date)?.date) || message.internalDate;
      messages.push({
        uid: message.uid!,
        date: date?.toISOString() ?? null,
        from: envelopeSender(envelope?.from?.[0]),
        subject: envelope?.subject ? decodeEncodedWords(envelope.subject).text : '',
        size: message.size ?? 0,
        flags: message.flags ?? [],
      });
    }
  }
  messages.sort((a, b) => a.uid! - b.uid!);
  return { uidValidity: opened.uidValidity ?? null, messages };
}

async function listPop3(client: Pop3Client, limit: number | undefined): Promise<ListedMessage[]> {
  const [ids, sizes] = await Promise.all([client.uidl(), client.list()]);
  const sizeOf = new Map(sizes.map(({ message, size }) => [message, size]));
  const wanted = limit === undefined ? ids : ids.slice(-limit);
  // TOP n 0 gives the header and the blank line, all a listing needs. Every TOP goes out at once (in one
  // write, with PIPELINING); the answers come in order and are read in order.
  const tops = wanted.map(({ message }) => {
    const top = client.top(message, 0);
    top.catch(() => {}); // awaited below, unless an earlier one failed
    return top;
  });
  const messages: ListedMessage[] = [];
  for (const [index, { message, uid }] of wanted.entries()) {
    const chunks: Uint8Array[] = [];
    for await (const chunk of streamChunks(await tops[index]!)) chunks.push(chunk);
    const parsed = parseMessageSync(Buffer.concat(chunks));
    messages.push({
      number: message,
      uidl: uid,
      date: parsed.date?.date?.toISOString() ?? null,
      from: addressText(parsed.from[0]),
      subject: parsed.subject ?? '',
      size: sizeOf.get(message) ?? 0,
    });
  }
  return messages;
}

function envelopeSender(address: EnvelopeAddress | undefined): string {
  if (!address?.mailbox) return '';
  const email = address.host === null ? address.mailbox : `${address.mailbox}@${address.host}`;
  const name = address.name ? decodeEncodedWords(address.name).text : '';
  return name === '' ? email : `${name} <${email}>`;
}

function addressText(address: Address | undefined): string {
  if (address === undefined) return '';
  if ('group' in address) return address.group;
  return address.name === '' ? address.address : `${address.name} <${address.address}>`;
}

function mailboxesText(mailboxes: readonly ListedMailbox[]): string {
  const count = (value: number | undefined) => (value === undefined ? '-' : String(value));
  const withSize = mailboxes.some((mailbox) => mailbox.size !== undefined);
  return table(
    ['MAILBOX', 'MESSAGES', 'UNSEEN', ...(withSize ? ['SIZE'] : [])],
    mailboxes.map((mailbox) => [
      printable(mailbox.path),
      count(mailbox.messages),
      count(mailbox.unseen),
      ...(withSize ? [mailbox.size === undefined ? '-' : formatBytes(mailbox.size)] : []),
    ]),
    new Set([1, 2, 3]),
  );
}

function messagesText(messages: readonly ListedMessage[], protocol: ReadProtocol, where: string): string {
  if (messages.length === 0) return `no messages in ${where}\n`;
  const common = (message: ListedMessage) => [
    localDate(message.date),
    formatBytes(message.size),
    truncate(printable(message.from), 40),
    printable(message.subject),
  ];
  if (protocol === 'imap') {
    return table(
      ['UID', 'DATE', 'SIZE', 'FROM', 'SUBJECT'],
      messages.map((message) => [String(message.uid), ...common(message)]),
      new Set([0, 2]),
    );
  }
  return table(
    ['#', 'UIDL', 'DATE', 'SIZE', 'FROM', 'SUBJECT'],
    messages.map((message) => [String(message.number), printable(message.uidl!), ...common(message)]),
    new Set([0, 3]),
  );
}

/** `2024-05-01 14:03` in the local time zone; `-` when unknown. */
function localDate(iso: string | null): string {
  if (iso === null) return '-';
  const date = new Date(iso);
  const two = (value: number) => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}`;
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/** Aligned columns, two spaces apart; the last is not padded. */
function table(headers: readonly string[], rows: readonly string[][], rightAligned: ReadonlySet<number>) {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => row[column]!.length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => {
        if (column === cells.length - 1) return cell;
        return rightAligned.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!);
      })
      .join('  ')
      .trimEnd();
  return `${[headers, ...rows].map(line).join('\n')}\n`;
}

// --- postwire fetch ------------------------------------------------------------------------------------

/** A message `postwire fetch` wrote, or found already there. */
export interface FetchedFile {
  /** IMAP. */
  readonly uid?: number;
  /** POP3. */
  readonly uidl?: string;
  /** The path of the `.eml` file. */
  readonly file: string;
  /** Octets written; absent for a file that was already there. */
  readonly size?: number;
}

/** What `postwire fetch` did. */
export interface FetchReport {
  /** Files downloaded now. */
  readonly written: FetchedFile[];
  /** Files already there: not downloaded again. */
  readonly existing: FetchedFile[];
  /** POP3 `--delete`: the unique ids of the messages deleted from the server. */
  readonly deleted: string[];
  /** Ids asked for with `--uid` that the server does not have. */
  readonly missing: string[];
}

/** `postwire fetch`: downloads messages to `.eml` files. See {@link fetchUsage}. */
export function fetchCommand(
  args: readonly string[],
  io: CliIo,
  context: ClientCommandContext = {},
): Promise<ExitCode> {
  return runClientCommand<FetchRequest>(io, {
    name: 'fetch',
    usage: fetchUsage,
    async parse() {
      const { values } = parseArgs({
        args: [...args],
        strict: true,
        allowPositionals: false,
        options: {
          ...READ_OPTIONS,
          uid: { type: 'string', multiple: true },
          all: { type: 'boolean' },
          out: { type: 'string' },
          delete: { type: 'boolean' },
        },
      });
      if (values.help) return 'help';
      const request = await readReadRequest(values, context);
      if ((values.uid === undefined) === (values.all !== true))
        throw new UsageError('give --all, or the messages with --uid');
      const uids = (values.uid ?? []).flatMap((text) => text.split(',')).map((text) => text.trim());
      for (const uid of uids) {
        if (request.protocol === 'imap' ? !isUid(uid) : !/^[\x21-\x7e]{1,70}$/.test(uid))
          throw new UsageError(`--uid wants ${request.protocol === 'imap' ? 'a UID' : 'a UIDL'}, not ${uid}`);
      }
      if (values.delete && request.protocol !== 'pop3')
        throw new UsageError('--delete is for POP3 (an IMAP fetch leaves the mailbox as it is)');
      return {
        ...request,
        select: values.all ? 'all' : uids,
        out: resolve(context.cwd ?? process.cwd(), values.out ?? '.'),
        delete: values.delete === true,
      };
    },
    run: (request) => fetchMessages(request, io),
    describe: (error, request) => ({ text: describeFailure(error, request.server) }),
  });
}

/** A message the server has, and where it goes. */
interface Planned {
  readonly id: string;
  readonly size: number;
  readonly file: string;
}

async function fetchMessages(request: FetchRequest, io: CliIo): Promise<ExitCode> {
  await mkdir(request.out, { recursive: true });
  const report =
    request.protocol === 'imap'
      ? await withImap(request.server, (client) => fetchImap(client, request, io))
      : await withPop3(request.server, (client) => fetchPop3(client, request, io));
  const where = request.protocol === 'imap' ? ` in ${request.mailbox ?? 'INBOX'}` : '';
  for (const id of report.missing) io.err(`postwire fetch: no message ${printable(id)}${where}\n`);
  if (request.json) {
    io.out(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const lines = report.written.map((file) => `wrote ${file.file} (${formatBytes(file.size!)})`);
    const bytes = report.written.reduce((sum, file) => sum + file.size!, 0);
    const summary = [`${report.written.length} written (${formatBytes(bytes)})`];
    if (report.existing.length > 0) summary.push(`${report.existing.length} already there`);
    if (request.delete) summary.push(`${report.deleted.length} deleted from the server`);
    if (report.missing.length > 0) summary.push(`${report.missing.length} not found`);
    lines.push(summary.join(', '));
    io.out(`${lines.join('\n')}\n`);
  }
  return report.missing.length > 0 ? 1 : 0;
}

/** An IMAP UID: 1 to 2^32−1 (RFC 9051 §2.3.1.1), without leading zeros. */
function isUid(text: string): boolean {
  return /^[1-9]\d{0,9}$/.test(text) && Number(text) <= 0xffff_ffff;
}

/** The messages asked for that the server has, in its order, and the ids it does not have. */
function plan(
  request: FetchRequest,
  available: readonly { id: string; size: number }[],
  fileName: (id: string) => string,
): { planned: Planned[]; missing: string[] } {
  const wanted = request.select === 'all' ? undefined : new Set(request.select);
  const planned = available
    .filter(({ id }) => wanted === undefined || wanted.has(id))
    .map(({ id, size }) => ({ id, size, file: join(request.out, fileName(id)) }));
  const found = new Set(planned.map(({ id }) => id));
  const missing = request.select === 'all' ? [] : [...new Set(request.select)].filter((id) => !found.has(id));
  return { planned, missing };
}

async function fetchImap(client: ImapClient, request: FetchRequest, io: CliIo): Promise<FetchReport> {
  const opened = await client.open(request.mailbox ?? 'INBOX', { readOnly: true });
  const available: { id: string; size: number }[] = [];
  if (opened.exists > 0) {
    const range = request.select === 'all' ? '1:*' : request.select.map(Number);
    for await (const message of client.fetch(range, { uid: true, size: true }, { uid: true }))
      available.push({ id: String(message.uid), size: message.size ?? 0 });
  }
  available.sort((a, b) => Number(a.id) - Number(b.id));
  const { planned, missing } = plan(request, available, (uid) => `${uid}.eml`);
  const [existing, absent] = partition(planned, (message) => existsSync(message.file));
  const written: FetchedFile[] = [];
  const progress = startProgress(io, absent);
  try {
    const byUid = new Map(absent.map((message) => [Number(message.id), message]));
    if (absent.length > 0) {
      const uids = absent.map(({ id }) => Number(id));
      for await (const message of client.fetch(uids, { uid: true, bodies: [''] }, { uid: true })) {
        const wanted = byUid.get(message.uid!);
        if (wanted === undefined) continue;
        const part = await message.body('');
        if (part === undefined) throw new ProtocolError(`the server sent no content for UID ${message.uid}`);
        progress.nextItem();
        const size = await writeMessage(wanted.file, part, progress);
        byUid.delete(message.uid!);
        written.push({ uid: message.uid!, file: wanted.file, size });
      }
    }
    // Expunged between the listing and the download.
    for (const uid of byUid.keys()) missing.push(String(uid));
  } finally {
    progress.end();
  }
  return {
    written,
    existing: existing.map(({ id, file }) => ({ uid: Number(id), file })),
    deleted: [],
    missing,
  };
}

async function fetchPop3(client: Pop3Client, request: FetchRequest, io: CliIo): Promise<FetchReport> {
  const [ids, sizes] = await Promise.all([client.uidl(), client.list()]);
  const sizeOf = new Map(sizes.map(({ message, size }) => [message, size]));
  const numberOf = new Map(ids.map(({ message, uid }) => [uid, message]));
  const available = ids.map(({ message, uid }) => ({ id: uid, size: sizeOf.get(message) ?? 0 }));
  const { planned, missing } = plan(request, available, (uidl) => `${fileNameOf(uidl)}.eml`);
  const [existing, absent] = partition(planned, (message) => existsSync(message.file));
  const toDownload = new Set(absent);
  const written: FetchedFile[] = [];
  const marked: string[] = [];
  const progress = startProgress(io, absent);
  try {
    for (const message of planned) {
      const number = numberOf.get(message.id)!;
      if (toDownload.has(message)) {
        progress.nextItem();
        const size = await writeMessage(message.file, streamChunks(await client.retr(number)), progress);
        written.push({ uidl: message.id, file: message.file, size });
      }
      if (request.delete) {
        await client.dele(number);
        marked.push(message.id);
      }
    }
  } finally {
    progress.end();
  }
  return {
    written,
    existing: existing.map(({ id, file }) => ({ uidl: id, file })),
    // Deleted at QUIT, which withPop3 sends once this has returned: a failed QUIT fails the command.
    deleted: marked,
    missing,
  };
}

function startProgress(io: CliIo, messages: readonly Planned[]): TransferProgress {
  const totalBytes = messages.reduce((sum, message) => sum + message.size, 0);
  return createTransferProgress(io, { verb: 'fetching', items: messages.length, totalBytes });
}

function partition<T>(items: readonly T[], test: (item: T) => boolean): [T[], T[]] {
  const yes: T[] = [];
  const no: T[] = [];
  for (const item of items) (test(item) ? yes : no).push(item);
  return [yes, no];
}

/**
 * A POP3 unique id as a file name: the characters that are unsafe in one (on any system) or that could
 * make it hidden or special are written `%XX`, as is `%`, so that different ids give different names.
 */
export function fileNameOf(id: string): string {
  return id.replace(
    /[^A-Za-z0-9._+=@,-]|^\./g,
    (character) => `%${character.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`,
  );
}

/**
 * Writes a message to `file` as its chunks arrive, through a temporary file in the same directory that
 * is renamed once complete: an interrupted download leaves no `.eml` that a later run would skip.
 */
async function writeMessage(
  file: string,
  chunks: AsyncIterable<Uint8Array>,
  progress: TransferProgress,
): Promise<number> {
  const partial = join(dirname(file), `.${basename(file)}.part`);
  const handle = await open(partial, 'w');
  let size = 0;
  try {
    for await (const chunk of chunks) {
      await handle.write(chunk);
      size += chunk.length;
      progress.advance(chunk.length);
    }
  } catch (error) {
    await handle.close();
    await rm(partial, { force: true });
    throw error;
  }
  await handle.close();
  await rename(partial, file);
  return size;
}

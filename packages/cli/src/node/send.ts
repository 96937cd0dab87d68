import { createPrivateKey } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeLatin1, InvalidArgumentError } from '@postwire/core';
import type { DkimSigner } from '@postwire/mailauth';
import {
  type Address,
  type AttachmentInput,
  type ComposedMessage,
  type ComposeOptions,
  composeMessage,
  parseAddressList,
  parseMessageSync,
} from '@postwire/mime';
import { type SmtpReply, SmtpReplyError, type SmtpSendResult } from '@postwire/smtp';
import { createSmtpClient } from '@postwire/smtp/node';
import {
  type ClientCommandContext,
  clientTls,
  describeFailure,
  endpoint,
  printable,
  readInput,
  readServerSettings,
  runClientCommand,
  SERVER_OPTIONS,
  type ServerDefaults,
  type ServerSettings,
} from './client-command.js';
import { type CliIo, type ExitCode, UsageError } from './io.js';
import { createTransferProgress, type TransferProgress } from './progress.js';

// --- postwire send -------------------------------------------------------------------------------------

/** The help text of `postwire send`. */
export const sendUsage = `Usage: postwire send --from ADDRESS --to ADDRESS [options]
       postwire send --eml FILE [options]

Composes a message (text, HTML, attachments, extra header fields) and sends it over SMTP with AUTH, or
sends a ready one. Without --server it goes to the dev server's submission port, 127.0.0.1:2587, with
STARTTLS (postwire serve).

The message:
  --from ADDRESS            the author, and the envelope's sender
  --to, --cc, --bcc ADDRESS recipients (repeat, or a comma-separated list); Bcc stays out of the header
  --subject TEXT
  --text TEXT               the plain-text body; or --text-file FILE (UTF-8)
  --html-file FILE          an HTML body (UTF-8); with a text body, the two are alternatives
  --attach FILE             attach a file (repeat); read while it is sent, its type from its extension
  --header 'Name: value'    an extra header field (repeat)
  --eml FILE                send this RFC 5322 message as it is instead; its envelope comes from --from,
                            --to, --cc and --bcc when given, else from its From (Sender), To, Cc and Bcc
                            fields, and its Bcc fields are removed before it is sent
The server:
  --server HOST[:PORT]      default 127.0.0.1:2587
  --tls MODE                starttls (required before anything else is sent), implicit, or none;
                            default implicit on ports 465 and 2465, else starttls
  --user NAME               log in as NAME, with --password PASSWORD or the password in POSTWIRE_PASSWORD
  --ca FILE                 trust the CA certificates in this PEM file. Without --ca, a loopback server's
                            certificate is checked against ./.postwire/tls/cert.pem when that file
                            exists: the one postwire serve made in this directory
  --insecure                do not check the server's certificate
Signing:
  --dkim-domain DOMAIN --dkim-selector SELECTOR --dkim-key FILE
                            sign with DKIM (an RSA or Ed25519 private key in PEM)
Output:
  --json                    the result as JSON

Exit status: 0 when the server took the message for at least one recipient (those it refused are listed),
1 when the message was not sent, 2 for a mistake in the command line.
`;

/** The dev server's submission port, with STARTTLS. */
const SMTP_DEFAULTS: ServerDefaults = {
  host: '127.0.0.1',
  port: 2587,
  implicitTlsPorts: new Set([465, 2465]),
};

/** The most of an `--eml` file read to find the end of its header section. */
const MAX_EML_HEADER = 1024 * 1024;

/** A message ready to go: its bytes as they are read, its envelope, and what to report. */
interface OutgoingMessage {
  readonly envelope: { readonly from: string; readonly to: readonly string[] };
  readonly messageId: string | undefined;
  readonly chunks: () => AsyncIterable<Uint8Array>;
  /** For the progress bar. */
  readonly estimatedSize: number;
}

/** `postwire send`, read from its command line. */
export interface SendRequest {
  readonly server: ServerSettings;
  readonly message: OutgoingMessage;
  readonly dkim?: DkimSigner;
  readonly json: boolean;
}

/**
 * `postwire send`: composes a message (or takes an `.eml` file), sends it over SMTP, and prints which
 * recipients the server took and the Message-ID. See {@link sendUsage}.
 */
export function sendCommand(
  args: readonly string[],
  io: CliIo,
  context: ClientCommandContext = {},
): Promise<ExitCode> {
  return runClientCommand<SendRequest>(io, {
    name: 'send',
    usage: sendUsage,
    parse: () => readSendRequest(args, context),
    run: (request) => send(request, io),
    describe: describeSendFailure,
  });
}

/** Reads the command line of `postwire send`; the files it names are checked, not read yet. */
export async function readSendRequest(
  args: readonly string[],
  context: ClientCommandContext = {},
): Promise<SendRequest | 'help'> {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    allowPositionals: false,
    options: {
      ...SERVER_OPTIONS,
      from: { type: 'string' },
      to: { type: 'string', multiple: true },
      cc: { type: 'string', multiple: true },
      bcc: { type: 'string', multiple: true },
      subject: { type: 'string' },
      text: { type: 'string' },
      'text-file': { type: 'string' },
      'html-file': { type: 'string' },
      attach: { type: 'string', multiple: true },
      header: { type: 'string', multiple: true },
      eml: { type: 'string' },
      'dkim-domain': { type: 'string' },
      'dkim-selector': { type: 'string' },
      'dkim-key': { type: 'string' },
    },
  });
  if (values.help) return 'help';
  const cwd = context.cwd ?? process.cwd();
  const server = await readServerSettings(values, SMTP_DEFAULTS, context);
  const dkim = await readDkimSigner(values, cwd);
  const message =
    values.eml === undefined ? await composeFromOptions(values, cwd) : await readEml(values, cwd);
  return { server, message, json: values.json === true, ...(dkim && { dkim }) };
}

interface ComposeValues {
  from?: string;
  to?: string[];
  cc?: string[];
  bcc?: string[];
  subject?: string;
  text?: string;
  'text-file'?: string;
  'html-file'?: string;
  attach?: string[];
  header?: string[];
  eml?: string;
}

async function composeFromOptions(values: ComposeValues, cwd: string): Promise<OutgoingMessage> {
  if (values.from === undefined) throw new UsageError('give --from (or --eml FILE)');
  const recipients = [...(values.to ?? []), ...(values.cc ?? []), ...(values.bcc ?? [])];
  if (recipients.length === 0) throw new UsageError('give at least one --to, --cc or --bcc');
  if (values.text !== undefined && values['text-file'] !== undefined)
    throw new UsageError('give --text or --text-file, not both');
  const textFile = values['text-file'];
  const htmlFile = values['html-file'];
  const text = textFile === undefined ? values.text : await readInput(resolve(cwd, textFile), '--text-file');
  const html = htmlFile === undefined ? undefined : await readInput(resolve(cwd, htmlFile), '--html-file');
  let estimatedSize = 2048 + (text?.length ?? 0) * 1.1 + (html?.length ?? 0) * 1.1;
  const attachments: AttachmentInput[] = [];
  for (const file of values.attach ?? []) {
    const path = resolve(cwd, file);
    let size: number;
    try {
      const stats = await stat(path);
      if (!stats.isFile()) throw new Error('not a file');
      size = stats.size;
    } catch (error) {
      throw new UsageError(`cannot read --attach ${file}: ${(error as Error).message}`);
    }
    estimatedSize += base64Size(size) + 256;
    attachments.push({ filename: basename(path), content: fileChunks(path) });
  }
  // A Map: a field named like an Object.prototype member (`__proto__`, `constructor`) is a field like any other.
  const headers = new Map<string, string[]>();
  for (const line of values.header ?? []) {
    const match = /^([\x21-\x39\x3b-\x7e]+):[ \t]*(.*)$/.exec(line);
    if (!match) throw new UsageError(`--header wants 'Name: value', not ${JSON.stringify(line)}`);
    const name = match[1]!;
    headers.set(name, [...(headers.get(name) ?? []), match[2]!]);
  }
  const options: ComposeOptions = {
    from: values.from,
    ...(values.to && { to: values.to.join(', ') }),
    ...(values.cc && { cc: values.cc.join(', ') }),
    ...(values.bcc && { bcc: values.bcc.join(', ') }),
    ...(values.subject !== undefined && { subject: values.subject }),
    ...(text !== undefined && { text }),
    ...(html !== undefined && { html }),
    attachments,
    headers: Object.fromEntries(headers),
    smtputf8: [values.from, ...recipients].some((address) => /[^\x00-\x7f]/.test(address)),
  };
  let composed: ComposedMessage;
  try {
    composed = composeMessage(options);
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw new UsageError(error.message);
    throw error;
  }
  return {
    envelope: composed.envelope,
    messageId: composed.messageId,
    chunks: () => composed,
    estimatedSize: Math.round(estimatedSize),
  };
}

/** A file's bytes, opened only when the first is asked for: a message never sent never opens it. */
async function* fileChunks(path: string, start = 0): AsyncGenerator<Uint8Array> {
  yield* createReadStream(path, { start });
}

/** The size of `bytes` octets in base64 with 76-character lines (RFC 2045 §6.8). */
function base64Size(bytes: number): number {
  const characters = Math.ceil(bytes / 3) * 4;
  return characters + Math.ceil(characters / 76) * 2;
}

const COMPOSE_ONLY = ['subject', 'text', 'text-file', 'html-file', 'attach', 'header'] as const;

/** A ready message: its header section is read (for the envelope, and to drop Bcc), the rest streamed. */
async function readEml(values: ComposeValues, cwd: string): Promise<OutgoingMessage> {
  const given = COMPOSE_ONLY.filter((option) => values[option] !== undefined);
  if (given.length > 0)
    throw new UsageError(`--eml sends a ready message: leave out --${given.join(', --')}`);
  const path = resolve(cwd, values.eml!);
  const { header, size } = await readHeaderSection(path, values.eml!);
  const parsed = parseMessageSync(header);
  const from =
    values.from === undefined
      ? (mailboxes(parsed.sender)[0] ?? mailboxes(parsed.from)[0])
      : mailboxes(addressOption('--from', values.from))[0];
  if (from === undefined) throw new UsageError(`${values.eml} has no From address: give --from`);
  const recipientOptions = { to: values.to, cc: values.cc, bcc: values.bcc };
  const givenRecipients = Object.entries(recipientOptions).filter(([, list]) => list !== undefined);
  const to =
    givenRecipients.length > 0
      ? givenRecipients.flatMap(([name, list]) =>
          list!.flatMap((each) => mailboxes(addressOption(`--${name}`, each))),
        )
      : [...mailboxes(parsed.to), ...mailboxes(parsed.cc), ...mailboxes(parsed.bcc)];
  if (to.length === 0) throw new UsageError(`${values.eml} has no To, Cc or Bcc address: give --to`);
  const head = withoutBcc(header);
  return {
    envelope: { from, to: [...new Set(to)] },
    messageId: parsed.messageId === undefined ? undefined : `<${parsed.messageId}>`,
    estimatedSize: size - header.length + head.length,
    async *chunks() {
      yield head;
      yield* fileChunks(path, header.length);
    },
  };
}

function addressOption(option: string, text: string): Address[] {
  const { addresses, defects } = parseAddressList(text);
  if (addresses.length === 0 || defects.length > 0)
    throw new UsageError(`${option} is not a valid address list: ${text}`);
  return addresses;
}

function mailboxes(addresses: readonly Address[]): string[] {
  return addresses
    .flatMap((address) => ('group' in address ? address.members : [address]))
    .map((mailbox) => mailbox.address)
    .filter((address) => address !== '');
}

/** The header section of a file and the blank line after it (all of it when there is none). */
async function readHeaderSection(path: string, name: string): Promise<{ header: Uint8Array; size: number }> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw new UsageError(`cannot read --eml ${name}: ${(error as Error).message}`);
  }
  try {
    const { size } = await handle.stat();
    const buffer = new Uint8Array(Math.min(size, MAX_EML_HEADER));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    const text = decodeLatin1(buffer.subarray(0, bytesRead));
    const blank = /\r?\n\r?\n/.exec(text);
    if (blank === null && size > MAX_EML_HEADER)
      throw new UsageError(`--eml ${name} has no end of its header section in its first 1 MiB`);
    const end = blank === null ? bytesRead : blank.index + blank[0].length;
    return { header: buffer.slice(0, end), size };
  } finally {
    await handle.close();
  }
}

/** The header section without its Bcc fields, which must not reach the recipients (RFC 5322 §3.6.3). */
function withoutBcc(header: Uint8Array): Uint8Array {
  let dropping = false;
  const kept = decodeLatin1(header)
    .split(/(?<=\n)/)
    .filter((line) => {
      if (line[0] !== ' ' && line[0] !== '\t') dropping = /^bcc[ \t]*:/i.test(line);
      return !dropping;
    });
  return Buffer.from(kept.join(''), 'latin1');
}

interface DkimValues {
  'dkim-domain'?: string;
  'dkim-selector'?: string;
  'dkim-key'?: string;
}

async function readDkimSigner(values: DkimValues, cwd: string): Promise<DkimSigner | undefined> {
  const domain = values['dkim-domain'];
  const selector = values['dkim-selector'];
  const keyFile = values['dkim-key'];
  if (domain === undefined && selector === undefined && keyFile === undefined) return undefined;
  if (domain === undefined || selector === undefined || keyFile === undefined)
    throw new UsageError('give --dkim-domain, --dkim-selector and --dkim-key together');
  const privateKey = await readInput(resolve(cwd, keyFile), '--dkim-key');
  let keyType: string | undefined;
  try {
    keyType = createPrivateKey(privateKey).asymmetricKeyType;
  } catch (error) {
    throw new UsageError(`--dkim-key ${keyFile} is not a private key in PEM: ${(error as Error).message}`);
  }
  if (keyType !== 'rsa' && keyType !== 'ed25519')
    throw new UsageError(`--dkim-key ${keyFile} is an ${keyType} key: DKIM signs with RSA or Ed25519`);
  return {
    domain,
    selector,
    privateKey,
    algorithm: keyType === 'ed25519' ? 'ed25519-sha256' : 'rsa-sha256',
  };
}

async function send(request: SendRequest, io: CliIo): Promise<ExitCode> {
  const { server, message } = request;
  const client = createSmtpClient({
    ...clientTls(server),
    ...(server.auth && { auth: server.auth }),
    ...(request.dkim && { dkim: request.dkim }),
  });
  const progress = createTransferProgress(io, { verb: 'sending', totalBytes: message.estimatedSize });
  let result: SmtpSendResult;
  try {
    progress.nextItem();
    result = await client.send({ envelope: message.envelope, message: counted(message.chunks(), progress) });
  } finally {
    progress.end();
    await client.close().catch(() => {});
  }
  const rejected = result.recipients
    .filter((recipient) => !recipient.accepted)
    .map((recipient) => ({ address: recipient.address, reply: replyLine(recipient.reply) }));
  if (request.json) {
    io.out(
      `${JSON.stringify(
        {
          messageId: message.messageId ?? null,
          server: endpoint(server),
          accepted: result.accepted,
          rejected,
          reply: replyLine(result.reply),
        },
        null,
        2,
      )}\n`,
    );
  } else {
    const lines = [`sent ${message.messageId ?? 'the message'} to ${endpoint(server)}`];
    for (const address of result.accepted) lines.push(`  accepted  ${address}`);
    for (const { address, reply } of rejected) lines.push(`  refused   ${address}: ${printable(reply)}`);
    io.out(`${lines.join('\n')}\n`);
  }
  return 0;
}

async function* counted(chunks: AsyncIterable<Uint8Array>, progress: TransferProgress) {
  for await (const chunk of chunks) {
    yield chunk;
    progress.advance(chunk.length);
  }
}

function replyLine(reply: SmtpReply): string {
  return [reply.code, reply.enhancedCode, reply.lines.join(' ')]
    .filter((part) => part !== undefined)
    .join(' ');
}

function describeSendFailure(
  error: unknown,
  request: SendRequest,
): { text: string; details?: Record<string, unknown> } {
  if (!(error instanceof SmtpReplyError)) return { text: describeFailure(error, request.server) };
  const where = endpoint(request.server);
  if (error.command === 'RCPT' && error.recipients.length > 0) {
    const rejected = error.recipients.map(({ address, reply }) => ({ address, reply: replyLine(reply) }));
    const list = rejected.map(({ address, reply }) => `${address}: ${reply}`).join('; ');
    return { text: printable(`${where} refused every recipient: ${list}`), details: { rejected } };
  }
  let text = `${where} refused ${error.command}: ${replyLine(error.reply)}`;
  if (error.reply.code === 530 && !request.server.auth) text += ' (give --user to log in)';
  return { text: printable(text) };
}

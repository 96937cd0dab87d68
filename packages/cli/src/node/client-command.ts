import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import {
  AuthenticationError,
  ConnectionError,
  ErrorCode,
  PostwireError,
  type TlsClientOptions,
  TlsError,
} from '@postwire/core';
import { type CliIo, type ExitCode, UsageError } from './io.js';

// Reaching a mail server: the options, TLS and error wording shared by send, ls and fetch.

/** When TLS starts: from the first byte, after STARTTLS (STLS in POP3; required), or never. */
export type ClientTlsMode = 'implicit' | 'starttls' | 'none';

/** What a client command reads besides its arguments; by default the process's. */
export interface ClientCommandContext {
  /** For `POSTWIRE_PASSWORD`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where `.postwire/tls/cert.pem` is looked for. */
  readonly cwd?: string;
}

/** Where a command connects, how, and as whom: from `--server`, `--tls`, `--ca`, `--insecure`, `--user`. */
export interface ServerSettings {
  readonly host: string;
  readonly port: number;
  readonly tls: ClientTlsMode;
  readonly tlsOptions: TlsClientOptions;
  /** The CA file trusted: given with `--ca`, or the dev server's found in the working directory. */
  readonly caFile?: string;
  readonly auth?: { readonly username: string; readonly password: string; readonly allowCleartext: boolean };
}

/** How a protocol's server is reached when the command line does not say. */
export interface ServerDefaults {
  readonly host: string;
  readonly port: number;
  /** Ports where TLS starts at once (`--tls implicit` is then the default). */
  readonly implicitTlsPorts: ReadonlySet<number>;
}

/** The `node:util` `parseArgs` options every client command takes. */
export const SERVER_OPTIONS = {
  server: { type: 'string' },
  tls: { type: 'string' },
  user: { type: 'string' },
  password: { type: 'string' },
  ca: { type: 'string' },
  insecure: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The values of {@link SERVER_OPTIONS}. */
export interface ServerOptionValues {
  server?: string;
  tls?: string;
  user?: string;
  password?: string;
  ca?: string;
  insecure?: boolean;
}

/** Where `postwire serve` keeps its self-signed certificate, under the working directory. */
export const DEV_SERVER_CERTIFICATE = '.postwire/tls/cert.pem';

/** Reads the server options of a client command; throws {@link UsageError} for a mistake in them. */
export async function readServerSettings(
  values: ServerOptionValues,
  defaults: ServerDefaults,
  context: ClientCommandContext = {},
): Promise<ServerSettings> {
  const { host, port } = values.server === undefined ? defaults : parseServer(values.server, defaults.port);
  const tls = values.tls ?? (defaults.implicitTlsPorts.has(port) ? 'implicit' : 'starttls');
  if (tls !== 'implicit' && tls !== 'starttls' && tls !== 'none')
    throw new UsageError(`--tls is implicit, starttls or none, not ${tls}`);
  if (values.ca !== undefined && values.insecure) throw new UsageError('give --ca or --insecure, not both');
  const cwd = context.cwd ?? process.cwd();
  let caFile = values.ca === undefined ? undefined : resolve(cwd, values.ca);
  if (caFile === undefined && !values.insecure && isLoopback(host)) {
    const found = resolve(cwd, DEV_SERVER_CERTIFICATE);
    if (existsSync(found)) caFile = found;
  }
  const tlsOptions: TlsClientOptions = values.insecure
    ? { rejectUnauthorized: false }
    : caFile === undefined
      ? {}
      : { ca: await readInput(caFile, '--ca') };
  const password = values.password ?? (context.env ?? process.env).POSTWIRE_PASSWORD;
  if (values.user === undefined && values.password !== undefined)
    throw new UsageError('--password goes with --user');
  if (values.user !== undefined && password === undefined)
    throw new UsageError('--user needs --password, or the password in POSTWIRE_PASSWORD');
  return {
    host,
    port,
    tls,
    tlsOptions,
    ...(caFile === undefined ? {} : { caFile }),
    ...(values.user === undefined
      ? {}
      : { auth: { username: values.user, password: password!, allowCleartext: tls === 'none' } }),
  };
}

/** The TLS settings of `@postwire/smtp`'s, `@postwire/imap`'s and `@postwire/pop3`'s clients. */
export function clientTls(server: ServerSettings) {
  return {
    host: server.host,
    port: server.port,
    secure: server.tls === 'implicit',
    starttls: server.tls === 'starttls' ? ('required' as const) : ('never' as const),
    tls: server.tlsOptions,
  };
}

/** `host:port`, `[v6]:port`, or a host alone (the default port). */
export function parseServer(text: string, defaultPort: number): { host: string; port: number } {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]/]+))(?::(\d{1,5}))?$/.exec(text);
  const port = match?.[3] === undefined ? defaultPort : Number(match[3]);
  if (!match || port < 1 || port > 65_535)
    throw new UsageError(
      `--server wants host:port (such as mail.example.com:587 or [::1]:1143), not ${text}`,
    );
  return { host: (match[1] ?? match[2])!, port };
}

/** `host:port`, with brackets around an IPv6 address. */
export function endpoint(server: { host: string; port: number }): string {
  return server.host.includes(':') ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

function isLoopback(host: string): boolean {
  if (host.toLowerCase() === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** Certificate problems that trusting the right CA (`--ca`) solves. */
const UNTRUSTED_CERTIFICATE = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * A failure to reach or use a server as one line for the person at the terminal: what happened, and
 * what to try when it is one of the usual mistakes (no server there, a wrong password, an untrusted
 * certificate, TLS on the wrong port).
 */
export function describeFailure(error: unknown, server: ServerSettings): string {
  const where = endpoint(server);
  const cause = (error as { cause?: { code?: string } }).cause?.code;
  let text = error instanceof Error ? error.message : String(error);
  if (error instanceof ConnectionError && cause === 'ECONNREFUSED') {
    text = `cannot connect to ${where}: connection refused`;
    if (isLoopback(server.host)) text += ' (is `postwire serve` running?)';
  } else if (error instanceof AuthenticationError && server.auth) {
    text = `${where} refused the login as "${server.auth.username}": ${text}`;
  } else if (error instanceof TlsError && cause !== undefined && UNTRUSTED_CERTIFICATE.has(cause)) {
    text += `; give --ca FILE to trust the server's certificate, or --insecure not to check it`;
  } else if (error instanceof TlsError && cause === 'ERR_SSL_WRONG_VERSION_NUMBER') {
    const other = server.tls === 'implicit' ? 'starttls' : 'implicit';
    text = `TLS handshake with ${where} failed: the server does not speak TLS there yet (try --tls ${other})`;
  } else if (error instanceof TlsError && error.code === ErrorCode.StartTlsRequired) {
    text += ' (--tls none goes on without TLS)';
  } else if (error instanceof ConnectionError && error.code === ErrorCode.ConnectionClosed) {
    if (server.tls !== 'implicit') text += ' (if the port wants TLS from the first byte, try --tls implicit)';
  }
  return printable(text);
}

/** Server text on one terminal line: line breaks become spaces, other control characters `\xNN`. */
export function printable(text: string): string {
  return text
    .trim()
    .replace(/\r?\n/g, ' ')
    .replace(
      /[\x00-\x1f\x7f-\x9f]/g,
      (character) => `\\x${character.charCodeAt(0).toString(16).padStart(2, '0')}`,
    );
}

/** A file named on the command line, read whole; a {@link UsageError} when it cannot be. */
export async function readInput(file: string, option: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${option} ${file}: ${(error as Error).message}`);
  }
}

/** What a client command does once its command line was read. */
export interface ClientCommand<Request extends { readonly json: boolean }> {
  readonly name: string;
  readonly usage: string;
  /** Reads the command line; throws {@link UsageError} (or a `parseArgs` error) for a mistake. */
  parse(): Promise<Request | 'help'>;
  /** Does the work; throws for a failure. */
  run(request: Request): Promise<ExitCode>;
  /** The failure as one line, and more for `--json` (the `error` and `code` members are added). */
  describe(error: unknown, request: Request): { text: string; details?: Record<string, unknown> };
}

/**
 * Runs a client command: `--help` prints the usage (exit 0); a mistake in the command line prints it
 * with the mistake (exit 2); any other failure is one line on standard error, and with `--json` also
 * `{ "error", "code" }` on standard output (exit 1).
 */
export async function runClientCommand<Request extends { readonly json: boolean }>(
  io: CliIo,
  command: ClientCommand<Request>,
): Promise<ExitCode> {
  let request: Request | 'help';
  try {
    request = await command.parse();
  } catch (error) {
    if (!(error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')))
      throw error;
    io.err(`postwire ${command.name}: ${(error as Error).message}\n\n${command.usage}`);
    return 2;
  }
  if (request === 'help') {
    io.out(command.usage);
    return 0;
  }
  try {
    return await command.run(request);
  } catch (error) {
    const { text, details } = command.describe(error, request);
    io.err(`postwire ${command.name}: ${text}\n`);
    if (request.json) {
      const code = error instanceof PostwireError ? error.code : undefined;
      io.out(`${JSON.stringify({ error: text, ...(code && { code }), ...details }, null, 2)}\n`);
    }
    return 1;
  }
}

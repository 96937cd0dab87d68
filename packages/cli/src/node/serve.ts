import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createMemoryStore } from '@postwire/store';
import { createMaildirStore } from '@postwire/store/maildir';
import { loadOrCreateCertificate } from './certificate.js';
import {
  type DevServer,
  type DevServerPorts,
  type DevServerUser,
  defaultDevServerPorts,
  startDevServer,
} from './dev-server.js';
import { type CliIo, type ExitCode, UsageError } from './io.js';

/** The help text of `postwire serve`. */
export const serveUsage = `Usage: postwire serve [options]

Starts a mail server for development: SMTP (MX-style and submission), IMAP and POP3, each with STARTTLS
and implicit TLS, on loopback high ports, with client autoconfiguration over HTTP.

Options:
  --user NAME:PASSWORD    a user (repeat for more); default dev:dev
  --config FILE           a JSON file: { "users": [{ "name", "password" }], "catchAll", "hostname", "ports" }
  --catch-all             keep mail for any address in the first user's INBOX (the config's
                          "catchAll" names another user)
  --memory                keep mail in memory, not in a Maildir
  --data DIR              the Maildir and the generated certificate live here (default ./.postwire)
  --cert FILE --key FILE  a certificate and key to use instead of a generated self-signed one
  --host ADDRESS          where to listen (default 127.0.0.1)
  --hostname NAME         the server's name in greetings and client settings (default localhost)
  --smtp-port N, --submission-port N, --submissions-port N, --imap-port N, --imaps-port N,
  --pop3-port N, --pop3s-port N, --http-port N      change one listener's port (0: any free port)
  --no-auth-checks        do not check SPF, DKIM, ARC and DMARC on incoming mail
  --dns ADDRESS[:PORT]    DNS server for those checks (repeat for more; default the system's)
  --json                  print the settings as one JSON line instead of text
`;

const PORT_OPTIONS: Record<string, keyof DevServerPorts> = {
  'smtp-port': 'smtp',
  'submission-port': 'submission',
  'submissions-port': 'submissions',
  'imap-port': 'imap',
  'imaps-port': 'imaps',
  'pop3-port': 'pop3',
  'pop3s-port': 'pop3s',
  'http-port': 'autoconfig',
};

/** The settings of `postwire serve`, from its command line and config file. */
export interface ServeSettings {
  /** Where every listener binds (`--host`, default `127.0.0.1`). */
  readonly host?: string;
  /** The server's name in greetings and client settings (`--hostname`). */
  readonly hostname: string;
  /** The ports given on the command line; the others keep their defaults. */
  readonly ports: Partial<DevServerPorts>;
  /** The users who can log in (`--user`, the config file; default `dev:dev`). */
  readonly users: DevServerUser[];
  /** The user who gets mail for any other address (`--catch-all`, the config's `catchAll`). */
  readonly catchAll?: string;
  /** Keep mail in memory instead of a Maildir (`--memory`). */
  readonly memory: boolean;
  /** The directory for the Maildir and the TLS certificate (`--data`, default `.postwire`). */
  readonly dataDirectory: string;
  /** A certificate and key to use instead of the self-signed one (`--cert`, `--key`). */
  readonly certificate?: {
    /** The certificate file (PEM). */
    readonly certFile: string;
    /** The private key file (PEM). */
    readonly keyFile: string;
  };
  /** Check SPF, DKIM, ARC and DMARC on incoming mail (off with `--no-auth-checks`). */
  readonly authChecks: boolean;
  /** The DNS servers for those checks (`--dns`); empty for the system's. */
  readonly dnsServers: string[];
  /** Print the settings as one JSON line instead of text (`--json`). */
  readonly json: boolean;
}

/** Reads the command line of `postwire serve` (and the config file it names). */
export async function readServeSettings(args: readonly string[]): Promise<ServeSettings> {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    allowPositionals: false,
    options: {
      user: { type: 'string', multiple: true },
      config: { type: 'string' },
      'catch-all': { type: 'boolean' },
      memory: { type: 'boolean' },
      data: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      host: { type: 'string' },
      hostname: { type: 'string' },
      'no-auth-checks': { type: 'boolean' },
      dns: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      ...Object.fromEntries(Object.keys(PORT_OPTIONS).map((name) => [name, { type: 'string' as const }])),
    },
  });
  const config = values.config === undefined ? {} : await readConfig(values.config);
  const users = [...(config.users ?? []), ...(values.user ?? []).map(parseUser)];
  if (users.length === 0) users.push({ name: 'dev', password: 'dev' });
  const ports: Partial<DevServerPorts> = { ...config.ports };
  for (const [option, listener] of Object.entries(PORT_OPTIONS)) {
    const text = (values as Record<string, unknown>)[option];
    if (typeof text === 'string') ports[listener] = parsePort(text, option);
  }
  if ((values.cert === undefined) !== (values.key === undefined))
    throw new UsageError('give --cert and --key together');
  const catchAll = values['catch-all'] ? users[0]!.name : config.catchAll;
  return {
    hostname: values.hostname ?? config.hostname ?? 'localhost',
    ports,
    users,
    memory: values.memory === true,
    dataDirectory: resolve(values.data ?? '.postwire'),
    authChecks: values['no-auth-checks'] !== true,
    dnsServers: values.dns ?? [],
    json: values.json === true,
    ...(values.host === undefined ? {} : { host: values.host }),
    ...(catchAll === undefined ? {} : { catchAll }),
    ...(values.cert === undefined ? {} : { certificate: { certFile: values.cert, keyFile: values.key! } }),
  };
}

/**
 * `postwire serve`: starts the dev server, prints what a mail client needs, and serves until `stop` settles
 * (by default, until SIGINT or SIGTERM, listened for once the server is up), then closes every listener
 * (sessions get their protocol's goodbye) and returns 0.
 */
export async function serveCommand(
  args: readonly string[],
  io: CliIo,
  stop?: Promise<void>,
): Promise<ExitCode> {
  const settings = await readServeSettings(args);
  const hostnames = [...new Set([settings.hostname, 'localhost', '127.0.0.1', '::1'])];
  const tls = settings.certificate
    ? {
        cert: await readFile(settings.certificate.certFile, 'utf8'),
        key: await readFile(settings.certificate.keyFile, 'utf8'),
      }
    : await loadOrCreateCertificate(join(settings.dataDirectory, 'tls'), { hostnames });
  const store = settings.memory
    ? createMemoryStore()
    : createMaildirStore({ root: join(settings.dataDirectory, 'mail') });
  const server = await startDevServer({
    store,
    users: settings.users,
    tls,
    hostname: settings.hostname,
    ports: settings.ports,
    mailAuthentication: settings.authChecks && { dnsServers: settings.dnsServers },
    log: (line) => io.err(`${new Date().toISOString()} ${line}\n`),
    ...(settings.host === undefined ? {} : { host: settings.host }),
    ...(settings.catchAll === undefined ? {} : { catchAll: settings.catchAll }),
  });
  const certificate = 'certFile' in tls ? tls.certFile : settings.certificate!.certFile;
  io.out(
    settings.json
      ? `${JSON.stringify(describe(server, settings, certificate))}\n`
      : settingsText(server, settings, certificate),
  );
  await (stop ?? waitForSignal());
  io.err('stopping…\n');
  await server.close();
  return 0;
}

/** The settings a mail client (or a script) needs, as data. */
function describe(server: DevServer, settings: ServeSettings, certificateFile: string) {
  return {
    host: server.host,
    hostname: server.hostname,
    ports: server.ports,
    users: server.users,
    ...(server.catchAll === undefined ? {} : { catchAll: server.catchAll }),
    store: settings.memory ? 'memory' : join(settings.dataDirectory, 'mail'),
    certificate: certificateFile,
    autoconfig: `http://${hostPort(server.host, server.ports.autoconfig)}/mail/config-v1.1.xml`,
  };
}

/** The settings as the person at the terminal reads them. */
function settingsText(server: DevServer, settings: ServeSettings, certificateFile: string): string {
  const at = (port: number) => hostPort(server.host, port);
  const { ports } = server;
  const rows: [string, string][] = [
    ['SMTP, MX-style (no AUTH)', `${at(ports.smtp)}  STARTTLS`],
    ['SMTP submission (AUTH)', `${at(ports.submission)}  STARTTLS,  ${at(ports.submissions)}  TLS`],
    ['IMAP', `${at(ports.imap)}  STARTTLS,  ${at(ports.imaps)}  TLS`],
    ['POP3', `${at(ports.pop3)}  STARTTLS,  ${at(ports.pop3s)}  TLS`],
    ['Autoconfiguration', `http://${at(ports.autoconfig)}/mail/config-v1.1.xml`],
    ['Users (name, password)', server.users.map((user) => `${user.name} ${user.password}`).join(';  ')],
    [
      'Delivery',
      server.catchAll === undefined
        ? 'to the user named by the address (alice or alice@any.domain)'
        : `any address not a user's goes to ${server.catchAll} (catch-all)`,
    ],
    ['Mail kept', settings.memory ? 'in memory' : `Maildir under ${join(settings.dataDirectory, 'mail')}`],
    ['TLS certificate', certificateFile],
    ['Incoming mail checks', settings.authChecks ? 'SPF, DKIM, ARC, DMARC (Authentication-Results)' : 'off'],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`);
  return `postwire dev mail server, ${server.hostname}\n${lines.join('\n')}\nPress Ctrl-C to stop.\n`;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Resolves on the first SIGINT or SIGTERM. */
function waitForSignal(): Promise<void> {
  return new Promise((resolveStop) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolveStop();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

function parseUser(text: string): DevServerUser {
  const colon = text.indexOf(':');
  if (colon <= 0 || colon === text.length - 1)
    throw new UsageError(`--user wants NAME:PASSWORD, not "${text}"`);
  return { name: text.slice(0, colon), password: text.slice(colon + 1) };
}

function parsePort(text: string, option: string): number {
  const port = Number(text);
  if (!/^[0-9]{1,5}$/.test(text) || port > 65_535)
    throw new UsageError(`--${option} wants a port number, not "${text}"`);
  return port;
}

interface ServeConfig {
  users?: DevServerUser[];
  catchAll?: string;
  hostname?: string;
  ports?: Partial<DevServerPorts>;
}

async function readConfig(file: string): Promise<ServeConfig> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`cannot read the config file ${file}: ${(error as Error).message}`);
  }
  const config = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as ServeConfig;
  const validUsers =
    config.users === undefined ||
    (Array.isArray(config.users) &&
      config.users.every(
        (user) => typeof user?.name === 'string' && user.name !== '' && typeof user.password === 'string',
      ));
  const valid =
    typeof parsed === 'object' &&
    parsed !== null &&
    !Array.isArray(parsed) &&
    validUsers &&
    (config.catchAll === undefined || isName(config.catchAll)) &&
    (config.hostname === undefined || isName(config.hostname)) &&
    (config.ports === undefined || isPortsObject(config.ports));
  if (!valid) {
    throw new UsageError(
      `the config file ${file} wants { "users": [{ "name": "…", "password": "…" }], "catchAll": "…", ` +
        `"hostname": "…", "ports": { ${Object.entries(defaultDevServerPorts)
          .map(([name, port]) => `"${name}": ${port}`)
          .join(', ')} } } (each optional, a port 0 to 65535)`,
    );
  }
  return config;
}

function isName(value: unknown): boolean {
  return typeof value === 'string' && value !== '';
}

/** An object of known listener names, each with a port number (0 for any free port). */
function isPortsObject(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.entries(value).every(
      ([name, port]) =>
        Object.hasOwn(defaultDevServerPorts, name) && Number.isInteger(port) && port >= 0 && port <= 65_535,
    )
  );
}

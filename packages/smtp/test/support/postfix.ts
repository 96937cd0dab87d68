import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { join } from 'node:path';
import { type TestCertificates, testCertificates } from '../../../core/test/support/certs.js';
import {
  freePorts,
  type PeerProcess,
  runCommand,
  spawnPeer,
  waitForGreeting,
} from '../../../core/test/support/peer-process.js';

/**
 * A throwaway Postfix (Debian's 3.7) as a real MTA for tests: its own config, queue and data
 * directories in a temporary directory, listening on 127.0.0.1 high ports only, its master process
 * run in the foreground by this harness and stopped by its PID. By default it delivers every message
 * into one Maildir (`virtual(8)`, one file per recipient); with `relay` it sends everything on to
 * another server (ours) over SMTP or LMTP. See /work/shared/PEERS.md, "SMTP peers".
 */

const POSTFIX = '/usr/sbin/postfix';
const MASTER = '/usr/lib/postfix/sbin/master';
const SENDMAIL = '/usr/sbin/sendmail';
/** The uid/gid that `virtual(8)` delivers as (nobody: Postfix refuses root). */
const MAIL_ID = 65534;
/** How long `postfix check` and the master get to start and greet. */
const START_DEADLINE = 15_000;
/** Default wait of `waitForMessages` and `waitForLog`. */
const WAIT_DEADLINE = 10_000;

/** True when Postfix is installed and this process is root (Postfix's daemons need it). */
export function postfixAvailable(): boolean {
  return existsSync(POSTFIX) && existsSync(MASTER) && existsSync(SENDMAIL) && process.getuid?.() === 0;
}

/** Options of {@link startPostfix}. */
export interface PostfixOptions {
  /** `myhostname`: the greeting, the EHLO reply, its Received headers; default `postfix.postwire.test`. */
  readonly hostname?: string;
  /** Offer STARTTLS on `port` (`smtpd_tls_security_level = may`); default true. */
  readonly startTls?: boolean;
  /** Also listen with implicit TLS (RFC 8314, `smtpd_tls_wrappermode`) on `tlsPort`. */
  readonly implicitTls?: boolean;
  /** The certificate of both TLS modes; default `testCertificates()` (for `localhost` and 127.0.0.1). */
  readonly certificates?: TestCertificates;
  /** `message_size_limit` in bytes; default Postfix's 10,240,000. */
  readonly sizeLimit?: number;
  /**
   * Send every message on to `127.0.0.1:port` (as `default_transport`) instead of the Maildir:
   * over SMTP (default) or LMTP, with TLS `none` (default), `may` or `encrypt` (STARTTLS required,
   * the certificate not verified).
   */
  readonly relay?: {
    readonly port: number;
    readonly protocol?: 'smtp' | 'lmtp';
    readonly tls?: 'none' | 'may' | 'encrypt';
  };
  /** More `main.cf` settings, written last (so they override the harness's). */
  readonly mainCf?: Readonly<Record<string, string>>;
}

/** One message file Postfix delivered into the Maildir (one per recipient). */
export interface PostfixMessage {
  readonly file: string;
  /** The envelope sender, from `Return-Path:` (`''` for `<>`). */
  readonly from: string;
  /** The envelope recipient, from `Delivered-To:`. */
  readonly recipient: string;
  /** Postfix's own `Received:` header (CRLF line ends, folded as written). */
  readonly received: string;
  /**
   * The message as the client sent it: the file without the headers Postfix prepended
   * (`Return-Path`, `X-Original-To`, `Delivered-To`, its `Received`), LF line ends turned back to CRLF.
   */
  readonly message: Buffer;
}

/** A running Postfix. */
export interface PostfixPeer {
  /** The PID of the master process. */
  readonly pid: number;
  readonly hostname: string;
  /** SMTP (with STARTTLS unless `startTls: false`). */
  readonly port: number;
  /** Implicit TLS, when `implicitTls` was asked. */
  readonly tlsPort?: number;
  /** The instance's `config_directory` (for `postconf -c`, `postqueue -c`, `sendmail -C`). */
  readonly configDir: string;
  /** Postfix's log (`maillog_file`). */
  readonly logPath: string;
  readLog(): Promise<string>;
  /** Polls the log until `pattern` matches (default deadline 10 s); resolves the whole log. */
  waitForLog(pattern: RegExp, timeout?: number): Promise<string>;
  /** The messages in the Maildir so far, in delivery order (empty in `relay` mode). */
  messages(): Promise<PostfixMessage[]>;
  /** Polls until at least `count` messages are in the Maildir (default deadline 10 s). */
  waitForMessages(count: number, timeout?: number): Promise<PostfixMessage[]>;
  /** Submits `message` through Postfix's `sendmail -C <configDir> …args` (the pickup route, no SMTP). */
  sendmail(args: readonly string[], message: string | Uint8Array): Promise<void>;
  /** Stops the master (SIGTERM, then SIGKILL) and removes the directory. */
  stop(): Promise<void>;
}

/** Starts a throwaway Postfix; see {@link PostfixOptions}. Check {@link postfixAvailable} first. */
export async function startPostfix(options: PostfixOptions = {}): Promise<PostfixPeer> {
  // Another process may take the port between our probe and the master's bind: try again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (attempt >= 3 || !(error instanceof PortTakenError)) throw error;
    }
  }
}

class PortTakenError extends Error {}

async function startOnce(options: PostfixOptions): Promise<PostfixPeer> {
  // Short: Postfix's unix sockets live under the queue directory. Searchable by all: virtual(8)
  // delivers as nobody, and the directory from mkdtemp is 0700.
  const dir = await mkdtemp('/tmp/pwpf-');
  await chmod(dir, 0o755);
  const configDir = join(dir, 'etc');
  const logPath = join(dir, 'maillog');
  const mailDir = join(dir, 'mail');
  const hostname = options.hostname ?? 'postfix.postwire.test';
  let master: PeerProcess | undefined;
  const stop = async (): Promise<void> => {
    await master?.stop();
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  };
  try {
    const [port, tlsPort] = (await freePorts(options.implicitTls ? 2 : 1)) as [number, number | undefined];
    await mkdir(configDir);
    await mkdir(join(dir, 'queue'));
    await mkdir(join(dir, 'data'));
    await chown(join(dir, 'data'), postfixUid(), 0);
    await mkdir(mailDir);
    await chown(mailDir, MAIL_ID, MAIL_ID);
    const certificates = options.certificates ?? testCertificates();
    // One file, key first, as smtpd_tls_chain_files wants it.
    await writeFile(join(configDir, 'chain.pem'), `${certificates.key}${certificates.cert}`, { mode: 0o600 });
    await writeFile(
      join(configDir, 'main.cf'),
      mainCf({ dir, configDir, logPath, mailDir, hostname, options }),
    );
    await writeFile(join(configDir, 'master.cf'), masterCf(port, tlsPort));
    // Postfix waits (300 ms at a time) for a table or config file modified in the current second to settle.
    const past = new Date(Date.now() - 10_000);
    for (const name of ['main.cf', 'master.cf', 'chain.pem']) await utimes(join(configDir, name), past, past);
    // Creates the queue directories with their owners, and fails on a config it cannot use.
    // Outside a terminal it says why only in its log.
    await runCommand(POSTFIX, ['-c', configDir, 'check'], { timeout: START_DEADLINE }).catch(
      async (error) => {
        throw new Error(`${(error as Error).message}${await readFile(logPath, 'utf8').catch(() => '')}`);
      },
    );

    master = spawnPeer(MASTER, ['-c', configDir, '-s']);
    const deadline = Date.now() + START_DEADLINE;
    try {
      await waitForGreeting(master, port, { deadline });
      if (tlsPort !== undefined) await waitForGreeting(master, tlsPort, { tls: true, deadline });
    } catch (error) {
      const log = await readFile(logPath, 'utf8').catch(() => '');
      const message = `postfix: ${(error as Error).message}\n${master.output()}${log}`;
      // If a port is taken, the master exits at once without a word (its log is not up yet).
      const taken =
        !master.running() && (await anyTaken([port, ...(tlsPort !== undefined ? [tlsPort] : [])]));
      throw taken ? new PortTakenError(message) : new Error(message);
    }

    const messages = () => readMaildir(mailDir, hostname);
    const readLog = () => readFile(logPath, 'utf8').catch(() => '');
    return {
      pid: master.pid,
      hostname,
      port,
      ...(tlsPort !== undefined ? { tlsPort } : {}),
      configDir,
      logPath,
      readLog,
      async waitForLog(pattern, timeout = WAIT_DEADLINE) {
        const end = Date.now() + timeout;
        for (;;) {
          const log = await readLog();
          if (pattern.test(log)) return log;
          if (Date.now() >= end) throw new Error(`postfix: the log did not show ${pattern} in time:\n${log}`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      },
      messages,
      async waitForMessages(count, timeout = WAIT_DEADLINE) {
        const end = Date.now() + timeout;
        for (;;) {
          const found = await messages();
          if (found.length >= count) return found;
          if (Date.now() >= end) {
            throw new Error(
              `postfix: ${found.length} of ${count} messages delivered in time:\n${await readLog()}`,
            );
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      },
      async sendmail(args, message) {
        await runCommand(SENDMAIL, ['-C', configDir, ...args], { input: message });
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** True if one of the loopback ports cannot be bound (another process listens on it). */
async function anyTaken(ports: readonly number[]): Promise<boolean> {
  for (const port of ports) {
    const server = net.createServer();
    const taken = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(true));
      server.listen(port, '127.0.0.1', () => resolve(false));
    });
    await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
    if (taken) return true;
  }
  return false;
}

let cachedPostfixUid: number | undefined;

/** The uid of the `postfix` user (`data_directory` must belong to it). */
function postfixUid(): number {
  if (cachedPostfixUid === undefined) {
    const line = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((entry) => entry.startsWith('postfix:'));
    if (!line) throw new Error('no postfix user in /etc/passwd');
    cachedPostfixUid = Number(line.split(':')[2]);
  }
  return cachedPostfixUid;
}

function mainCf(c: {
  dir: string;
  configDir: string;
  logPath: string;
  mailDir: string;
  hostname: string;
  options: PostfixOptions;
}): string {
  const { options } = c;
  const relay = options.relay;
  const delivery: Record<string, string> = relay
    ? {
        default_transport:
          relay.protocol === 'lmtp' ? `lmtp:inet:127.0.0.1:${relay.port}` : `smtp:[127.0.0.1]:${relay.port}`,
        [`${relay.protocol ?? 'smtp'}_tls_security_level`]: relay.tls ?? 'none',
      }
    : {
        // Every domain is ours; every recipient gets a file in the one Maildir.
        virtual_mailbox_domains: 'static:all',
        virtual_mailbox_base: c.mailDir,
        virtual_mailbox_maps: 'static:Maildir/',
        virtual_uid_maps: `static:${MAIL_ID}`,
        virtual_gid_maps: `static:${MAIL_ID}`,
      };
  const settings: Record<string, string> = {
    compatibility_level: '3.6',
    config_directory: c.configDir,
    queue_directory: join(c.dir, 'queue'),
    data_directory: join(c.dir, 'data'),
    // postfix-files and dynamicmaps.cf of the installed Postfix.
    meta_directory: '/etc/postfix',
    // Without it errors go only to syslog; a file outside maillog_file_prefixes is refused.
    maillog_file: c.logPath,
    maillog_file_prefixes: c.dir,
    myhostname: c.hostname,
    mydomain: 'postwire.test',
    myorigin: '$myhostname',
    mydestination: '',
    inet_interfaces: 'loopback-only',
    inet_protocols: 'ipv4',
    mynetworks: '127.0.0.0/8',
    smtpd_peername_lookup: 'no',
    alias_maps: '',
    alias_database: '',
    // Clients on 127.0.0.1 would otherwise count as local: cleanup would add Date, Message-ID, From.
    local_header_rewrite_clients: '',
    biff: 'no',
    smtputf8_enable: 'yes',
    smtpd_tls_security_level: options.startTls === false ? 'none' : 'may',
    smtpd_tls_chain_files: join(c.configDir, 'chain.pem'),
    ...(options.sizeLimit !== undefined ? { message_size_limit: String(options.sizeLimit) } : {}),
    ...delivery,
    ...options.mainCf,
  };
  return `${Object.entries(settings)
    .map(([name, value]) => `${name} = ${value}`)
    .join('\n')}\n`;
}

/** The services a mail system needs, none chrooted (the queue directory is a fresh one). */
function masterCf(port: number, tlsPort: number | undefined): string {
  const services = [
    `127.0.0.1:${port} inet n - n - - smtpd`,
    ...(tlsPort !== undefined
      ? [
          `127.0.0.1:${tlsPort} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes -o smtpd_tls_security_level=encrypt`,
        ]
      : []),
    'pickup unix n - n 60 1 pickup',
    'cleanup unix n - n - 0 cleanup',
    'qmgr unix n - n 300 1 qmgr',
    'tlsmgr unix - - n 1000? 1 tlsmgr',
    'rewrite unix - - n - - trivial-rewrite',
    'bounce unix - - n - 0 bounce',
    'defer unix - - n - 0 bounce',
    'trace unix - - n - 0 bounce',
    'verify unix - - n - 1 verify',
    'flush unix n - n 1000? 0 flush',
    'proxymap unix - - n - - proxymap',
    'proxywrite unix - - n - 1 proxymap',
    'smtp unix - - n - - smtp',
    'relay unix - - n - - smtp',
    'showq unix n - n - - showq',
    'error unix - - n - - error',
    'retry unix - - n - - error',
    'discard unix - - n - - discard',
    'local unix - n n - - local',
    'virtual unix - n n - - virtual',
    'lmtp unix - - n - - lmtp',
    'anvil unix - - n - 1 anvil',
    'scache unix - - n - 1 scache',
    'postlog unix-dgram n - n - 1 postlogd',
  ];
  return `${services.join('\n')}\n`;
}

/** Maildir file names start with seconds and end their unique part with `M<microseconds>`. */
function deliveryTime(name: string): [number, number] {
  const match = /^(\d+)\.[^.]*?M(\d+)/.exec(name);
  return match ? [Number(match[1]), Number(match[2])] : [Number.MAX_SAFE_INTEGER, 0];
}

async function readMaildir(mailDir: string, hostname: string): Promise<PostfixMessage[]> {
  const root = join(mailDir, 'Maildir');
  const files: string[] = [];
  for (const sub of ['new', 'cur']) {
    const names = await readdir(join(root, sub)).catch(() => [] as string[]);
    files.push(...names.map((name) => join(sub, name)));
  }
  files.sort((a, b) => {
    const [as, au] = deliveryTime(a.slice(4));
    const [bs, bu] = deliveryTime(b.slice(4));
    return as - bs || au - bu || a.localeCompare(b);
  });
  return Promise.all(
    files.map(async (file) => parseDelivered(join(root, file), await readFile(join(root, file)), hostname)),
  );
}

/** Splits off the headers Postfix prepends to a delivered message. */
function parseDelivered(file: string, data: Buffer, hostname: string): PostfixMessage {
  // latin1 keeps every byte; UTF-8 addresses are decoded at the end.
  let text = data.toString('latin1').replace(/\r?\n/g, '\r\n');
  const take = (name: string): string => {
    const match = new RegExp(`^${name}: ((?:.*\\r\\n[\\t ])*.*)\\r\\n`, 'i').exec(text);
    if (!match) return '';
    text = text.slice(match[0].length);
    return match[1]!;
  };
  const from = take('Return-Path').replace(/^<|>$/g, '');
  take('X-Original-To');
  const recipient = take('Delivered-To');
  const ours = new RegExp(
    `^Received: (?:.*\\r\\n[\\t ])*?\\s*by ${hostname.replace(/\./g, '\\.')} \\(Postfix`,
  ).test(text);
  const received = ours ? `Received: ${take('Received')}\r\n` : '';
  const utf8 = (value: string) => Buffer.from(value, 'latin1').toString('utf8');
  return {
    file,
    from: utf8(from),
    recipient: utf8(recipient),
    received,
    message: Buffer.from(text, 'latin1'),
  };
}

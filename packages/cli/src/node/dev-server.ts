import { isIP } from 'node:net';
import { concatBytes } from '@postwire/core';
import { createImapServer, type ImapServer } from '@postwire/imap/node';
import type { DnsResolver } from '@postwire/mailauth';
import { createNodeDnsResolver } from '@postwire/mailauth/node';
import { createPop3Server, type Pop3Server } from '@postwire/pop3/node';
import { createSaslServer } from '@postwire/sasl';
import type { SmtpMailbox, SmtpReply } from '@postwire/smtp';
import { createSmtpServer, type SmtpIncomingMessage, type SmtpServer } from '@postwire/smtp/node';
import type { MailStore } from '@postwire/store';
import { type AutoconfigServer, startAutoconfigServer } from './autoconfig.js';

/** A user of the dev server: a login, and the mailbox its mail goes to. */
export interface DevServerUser {
  /** The login, also the local part of the user's address. */
  readonly name: string;
  /** The password for AUTH, IMAP LOGIN and POP3 PASS. */
  readonly password: string;
}

/** The dev server's listeners. Port 0 takes any free port. */
export interface DevServerPorts {
  /** MX-style SMTP: mail for the users from anyone, no AUTH needed. */
  smtp: number;
  /** Submission with STARTTLS (RFC 6409), AUTH required. */
  submission: number;
  /** Submission on implicit TLS (RFC 8314), AUTH required. */
  submissions: number;
  /** IMAP with STARTTLS. */
  imap: number;
  /** IMAP on implicit TLS. */
  imaps: number;
  /** POP3 with STLS. */
  pop3: number;
  /** POP3 on implicit TLS. */
  pop3s: number;
  /** HTTP for Thunderbird-style client autoconfiguration. */
  autoconfig: number;
}

/** The default ports: the well-known ones moved to high ports, so that no privilege is needed. */
export const defaultDevServerPorts: Readonly<DevServerPorts> = Object.freeze({
  smtp: 2525,
  submission: 2587,
  submissions: 2465,
  imap: 1143,
  imaps: 1993,
  pop3: 1110,
  pop3s: 1995,
  autoconfig: 8025,
});

/** Every listener on any free port (port 0): for tests, so that servers running side by side never collide. */
export const anyFreeDevServerPorts: Readonly<DevServerPorts> = Object.freeze({
  smtp: 0,
  submission: 0,
  submissions: 0,
  imap: 0,
  imaps: 0,
  pop3: 0,
  pop3s: 0,
  autoconfig: 0,
});

/** Options of {@link startDevServer}. */
export interface DevServerOptions {
  /** Where every listener binds (default `127.0.0.1`). */
  host?: string;
  /** The name in greetings, `Received:` fields and the client settings (default `localhost`). */
  hostname?: string;
  /** The listeners' ports (default {@link defaultDevServerPorts}). */
  ports?: Partial<DevServerPorts>;
  /** Where mail is kept, shared by the SMTP, IMAP and POP3 servers. */
  store: MailStore;
  /** The users; their names are also their addresses' local parts. At least one. */
  users: readonly DevServerUser[];
  /** The user who gets mail for any address that is no user's: every message is kept, nothing relayed. */
  catchAll?: string;
  /** The certificate and key for STARTTLS and implicit TLS (PEM). */
  tls: {
    /** The private key (PEM). */
    key: string;
    /** The certificate chain (PEM). */
    cert: string;
  };
  /**
   * Check SPF, DKIM, ARC and DMARC on incoming mail and write `Authentication-Results` (default true),
   * asking the system's DNS servers, the ones named (`address` or `address:port`), or a resolver.
   */
  mailAuthentication?:
    | boolean
    | {
        /** The DNS servers to ask (`address` or `address:port`) instead of the system's. */
        dnsServers?: readonly string[];
        /** The resolver to ask instead of DNS servers. */
        resolver?: DnsResolver;
      };
  /** Logins without TLS (default: only when `host` is a loopback address). */
  allowCleartextLogin?: boolean;
  /** Told of each delivery and of failures, one line each. */
  log?: (line: string) => void;
}

/** Where each listener ended up, and how to stop them. */
export interface DevServer {
  /** The address every listener is bound to. */
  readonly host: string;
  /** The name in greetings, `Received:` fields and the client settings. */
  readonly hostname: string;
  /** The port each listener is on (the real ones, when 0 was asked). */
  readonly ports: Readonly<DevServerPorts>;
  /** The users who can log in. */
  readonly users: readonly DevServerUser[];
  /** The user who gets mail for any other address, if any. */
  readonly catchAll?: string;
  /** Closes every listener (sessions get their protocol's goodbye), then the store. */
  close(): Promise<void>;
}

/**
 * Starts the dev mail server: SMTP (MX-style, and submission with STARTTLS and on implicit TLS), IMAP and
 * POP3 (each with STARTTLS and on implicit TLS) over one store, and the autoconfiguration endpoint.
 * Messages for a user's name (`alice` or `alice@any.domain`) go to that user's INBOX; with `catchAll`,
 * every other recipient's mail goes to that user's INBOX. Nothing is ever relayed elsewhere.
 */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const host = options.host ?? '127.0.0.1';
  const hostname = options.hostname ?? 'localhost';
  const log = options.log ?? (() => {});
  const users = new Map(options.users.map((user) => [user.name.toLowerCase(), user]));
  if (users.size === 0) throw new TypeError('the dev server needs at least one user');
  const catchAll = options.catchAll?.toLowerCase();
  if (catchAll !== undefined && !users.has(catchAll))
    throw new TypeError(`the catch-all user "${catchAll}" is not a user`);
  const cleartext = options.allowCleartextLogin ?? isLoopback(host);
  const sasl = createSaslServer({
    verifiers: { lookupPassword: (name) => users.get(name.toLowerCase())?.password },
    allowCleartext: cleartext,
  });
  const tls = { key: options.tls.key, cert: options.tls.cert };
  const ports = { ...defaultDevServerPorts, ...options.ports };
  const { store } = options;

  const userOf = (mailbox: SmtpMailbox): string | undefined => {
    const byAddress = users.get(mailbox.address.toLowerCase()) ?? users.get(mailbox.localPart.toLowerCase());
    return byAddress?.name ?? (catchAll === undefined ? undefined : users.get(catchAll)?.name);
  };
  const deliver = async (message: SmtpIncomingMessage): Promise<SmtpReply | undefined> => {
    const chunks: Uint8Array[] = [];
    for await (const chunk of message) chunks.push(chunk);
    const bytes = concatBytes(chunks);
    const owners = new Set(message.envelope.recipients.map(({ to }) => userOf(to)!));
    for (const owner of owners) {
      const inbox = await (await store.user(owner)).open('INBOX');
      try {
        await inbox.append(bytes);
      } finally {
        await inbox.close();
      }
    }
    const to = message.envelope.recipients.map(({ to: recipient }) => recipient.address).join(', ');
    log(`delivered ${bytes.length} bytes from <${message.envelope.from?.address ?? ''}> to ${to}`);
    return undefined;
  };
  const acceptRecipient = (to: SmtpMailbox): SmtpReply | undefined =>
    userOf(to) === undefined
      ? {
          code: 550,
          enhancedCode: '5.1.1',
          lines: [`No user ${to.address} here (start with --catch-all to keep all mail)`],
        }
      : undefined;
  const onError = (error: unknown) => log(`error: ${(error as Error).message ?? String(error)}`);

  const checks = options.mailAuthentication ?? true;
  const resolver =
    checks === false
      ? undefined
      : typeof checks === 'object' && checks.resolver !== undefined
        ? checks.resolver
        : createNodeDnsResolver({
            timeout: 1_000,
            tries: 1,
            ...(typeof checks === 'object' && checks.dnsServers ? { servers: checks.dnsServers } : {}),
          });
  const smtp = (port: number, submission: 'starttls' | 'implicit' | false): SmtpServer =>
    createSmtpServer({
      hostname,
      host,
      port,
      sasl,
      ...(submission === 'implicit' ? { tls } : { startTls: tls }),
      ...(submission === false ? {} : { requireAuth: true }),
      ...(resolver === undefined ? {} : { mailAuthentication: { resolver } }),
      onRcptTo: acceptRecipient,
      onData: deliver,
      onError,
    });
  const imap = (port: number, implicit: boolean): ImapServer =>
    createImapServer({
      host,
      port,
      store,
      sasl,
      allowCleartextLogin: cleartext,
      ...(implicit ? { tls } : { startTls: tls }),
      onError,
    });
  const pop3 = (port: number, implicit: boolean): Pop3Server =>
    createPop3Server({
      hostname,
      host,
      port,
      store,
      sasl,
      ...(implicit ? { tls } : { startTls: tls }),
      onError,
    });

  const servers: { listen(): Promise<{ port: number }>; close(): Promise<void> }[] = [];
  const bound: Partial<DevServerPorts> = {};
  let autoconfig: AutoconfigServer | undefined;
  try {
    const listeners: [
      keyof DevServerPorts,
      { listen(): Promise<{ port: number }>; close(): Promise<void> },
    ][] = [
      ['smtp', smtp(ports.smtp, false)],
      ['submission', smtp(ports.submission, 'starttls')],
      ['submissions', smtp(ports.submissions, 'implicit')],
      ['imap', imap(ports.imap, false)],
      ['imaps', imap(ports.imaps, true)],
      ['pop3', pop3(ports.pop3, false)],
      ['pop3s', pop3(ports.pop3s, true)],
    ];
    for (const [name, server] of listeners) {
      bound[name] = (await server.listen()).port;
      servers.push(server);
    }
    autoconfig = await startAutoconfigServer({
      host,
      port: ports.autoconfig,
      hostname,
      ports: bound as Omit<DevServerPorts, 'autoconfig'>,
    });
    bound.autoconfig = autoconfig.port;
  } catch (error) {
    await Promise.allSettled(servers.map((server) => server.close()));
    await store.close();
    throw error;
  }
  return {
    host,
    hostname,
    ports: bound as DevServerPorts,
    users: [...users.values()],
    ...(catchAll === undefined ? {} : { catchAll: users.get(catchAll)!.name }),
    async close() {
      await Promise.allSettled([...servers.map((server) => server.close()), autoconfig!.close()]);
      await store.close();
    },
  };
}

/** Whether `host` is a loopback address (or `localhost`). */
function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

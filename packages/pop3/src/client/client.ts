import {
  type Connector,
  InvalidArgumentError,
  ProtocolError,
  type StartTlsPolicy,
  type TlsClientOptions,
  type TraceHook,
} from '@postwire/core';
import { createSaslClient, type SaslClientOptions } from '@postwire/sasl';
import type { Pop3Capabilities } from '../protocol/capabilities.js';
import {
  type Pop3ScanListing,
  type Pop3UniqueIdListing,
  parseScanListing,
  parseUniqueIdListing,
} from '../protocol/response.js';
import { defaultPop3ClientTimeouts, Pop3ClientSession, type Pop3ClientTimeouts } from './session.js';
import { type Pop3SyncOptions, type Pop3SyncResult, syncMaildrop } from './sync.js';

/**
 * Credentials: `@postwire/sasl`'s client options, used with AUTH (RFC 5034) and its strongest mechanism
 * in common with the server, or with USER/PASS when the server offers no SASL mechanism the client can
 * use. USER/PASS, like PLAIN, goes only inside TLS unless `allowCleartext` is set.
 */
export interface Pop3AuthOptions extends SaslClientOptions {
  /**
   * Log in with APOP (RFC 1939 §7) instead, never chosen otherwise: the password stays off the wire, but
   * the server must keep it in the clear and MD5 is weak. Needs `username` and `password`, and a
   * greeting that carries a timestamp.
   */
  apop?: boolean;
}

/** Options of {@link createPop3Client}. */
export interface Pop3ClientOptions {
  /** The server's host name or address. */
  readonly host: string;
  /** Default 995 with `secure`, else 110. */
  readonly port?: number;
  /** Implicit TLS from the first byte (POP3S, RFC 8314). */
  readonly secure?: boolean;
  /**
   * STLS (RFC 2595): `required` refuses to go on in cleartext (nothing is sent after a missing or refused
   * STLS, catalogue case 8), `opportunistic` (default) upgrades when offered, `never` stays in cleartext.
   */
  readonly starttls?: StartTlsPolicy;
  /** TLS settings, for implicit TLS and STLS. */
  readonly tls?: TlsClientOptions;
  /** The credentials, and the mechanisms that may use them. */
  readonly auth: Pop3AuthOptions;
  /** Milliseconds to wait; see {@link Pop3ClientTimeouts}. */
  readonly timeouts?: Partial<Pop3ClientTimeouts>;
  /** Cancels everything: the connection closes without QUIT, so nothing is deleted. */
  readonly signal?: AbortSignal;
  /** Sees every command and status line (credentials redacted, message text never), for debugging. */
  readonly trace?: TraceHook;
  /** Opens the connection: `@postwire/core/node`'s `connect` on Node. */
  readonly connector: Connector;
}

/** The answer to STAT: the messages in the maildrop and their total size in octets. */
export interface Pop3Stat {
  /** The number of messages. */
  readonly messages: number;
  /** Their total size in octets. */
  readonly size: number;
}

/**
 * A logged-in POP3 session (the TRANSACTION state, RFC 1939 §5). Messages are named by their number in
 * this session; commands may be issued without waiting for earlier ones, and go out together when the
 * server offers PIPELINING. A `-ERR` rejects with a `Pop3ResponseError`; a failed connection
 * rejects every pending command and makes the client unusable.
 */
export interface Pop3Client {
  /** What the server announces after login (CAPA, RFC 2449); empty for a server without CAPA. */
  readonly capabilities: Pop3Capabilities;
  /** The connection is inside TLS (POP3S or STLS). */
  readonly secure: boolean;
  /** The number of messages and their total size. */
  stat(): Promise<Pop3Stat>;
  /** Every message's number and size. */
  list(): Promise<Pop3ScanListing[]>;
  /** One message's number and size. */
  list(message: number): Promise<Pop3ScanListing>;
  /** Every message's unique id; a malformed or repeated id is refused (catalogue case 27). */
  uidl(): Promise<Pop3UniqueIdListing[]>;
  /** One message's unique id. */
  uidl(message: number): Promise<Pop3UniqueIdListing>;
  /**
   * A message, streamed as the server sends it, dot-stuffing removed. Resolves once the server said
   * `+OK`. Read (or cancel) each stream before awaiting the response to a later command: responses
   * come in order on one connection, and an unread message holds back the ones after it.
   */
  retr(message: number): Promise<ReadableStream<Uint8Array>>;
  /** A message's header, the blank line, and the first `lines` lines of its body, streamed like {@link retr}. */
  top(message: number, lines: number): Promise<ReadableStream<Uint8Array>>;
  /** Marks a message deleted; the server deletes it at {@link quit}, and {@link rset} unmarks it. */
  dele(message: number): Promise<void>;
  /** Unmarks every message marked deleted. */
  rset(): Promise<void>;
  /** Does nothing, but keeps the connection alive. */
  noop(): Promise<void>;
  /**
   * Ends the session: the server deletes the marked messages, then the connection closes. Rejects when
   * the server does not confirm it (`-ERR`, or a failed connection), in which case nothing may have
   * been deleted.
   */
  quit(): Promise<void>;
  /** Drops the connection without QUIT: nothing marked is deleted. */
  close(): Promise<void>;
  /**
   * Downloads the messages not seen before, by UIDL, into a callback or a store mailbox, deletes them
   * from the server unless `keep`, and ends the session: see {@link Pop3SyncOptions}.
   */
  sync(options: Pop3SyncOptions): Promise<Pop3SyncResult>;
}

/**
 * Connects to a POP3 server and logs in, over any runtime's connector; resolves with the client in the
 * TRANSACTION state. On Node, `createPop3Client` from `@postwire/pop3/node` fills in the connector.
 * Rejects with a `TlsError` (STLS required but missing or refused, or a failed handshake), an
 * `AuthenticationError` (credentials refused, or no login method both sides allow), a
 * `Pop3ResponseError` (a refusal with a code such as `IN-USE` or `LOGIN-DELAY`, or a greeting that
 * is `-ERR`), a `ProtocolError` (a response nobody asked for, catalogue case 7), or a connection,
 * timeout or abort error.
 */
export async function createPop3Client(options: Pop3ClientOptions): Promise<Pop3Client> {
  const timeouts = { ...defaultPop3ClientTimeouts, ...options.timeouts };
  for (const [name, value] of Object.entries(timeouts)) {
    if (!(value > 0 && value <= 2 ** 31 - 1)) {
      throw new InvalidArgumentError(`timeouts.${name} must be a positive number of milliseconds`);
    }
  }
  const { apop = false, ...saslOptions } = options.auth;
  if (apop && (saslOptions.username === undefined || saslOptions.password === undefined)) {
    throw new InvalidArgumentError('APOP needs a username and a password');
  }
  const session = await Pop3ClientSession.open({
    connector: options.connector,
    host: options.host,
    port: options.port ?? (options.secure ? 995 : 110),
    secure: options.secure === true,
    ...(options.tls ? { tls: options.tls } : {}),
    starttls: options.starttls ?? 'opportunistic',
    login: {
      ...(saslOptions.username !== undefined ? { username: saslOptions.username } : {}),
      ...(saslOptions.password !== undefined ? { password: saslOptions.password } : {}),
      apop,
      allowCleartext: saslOptions.allowCleartext === true,
      sasl: createSaslClient(saslOptions),
    },
    timeouts,
    ...(options.trace ? { trace: options.trace } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return pop3Client(session);
}

function pop3Client(session: Pop3ClientSession): Pop3Client {
  const client: Pop3Client = {
    get capabilities() {
      return session.capabilities;
    },
    get secure() {
      return session.secure;
    },
    async stat() {
      const status = await session.command({ verb: 'STAT' });
      const match = /^([0-9]{1,10}) ([0-9]{1,15})(?: |$)/.exec(status.text);
      if (!match)
        throw new ProtocolError(`malformed STAT response ${JSON.stringify(status.text.slice(0, 64))}`);
      return { messages: Number(match[1]), size: Number(match[2]) };
    },
    list: (async (message?: number) => {
      if (message === undefined) return (await session.listing({ verb: 'LIST' })).map(parseScanListing);
      const status = await session.command({ verb: 'LIST', message });
      return answerFor(message, parseScanListing(status.text));
    }) as Pop3Client['list'],
    uidl: (async (message?: number) => {
      if (message === undefined) return uniqueIds(await session.listing({ verb: 'UIDL' }));
      const status = await session.command({ verb: 'UIDL', message });
      return answerFor(message, parseUniqueIdListing(status.text));
    }) as Pop3Client['uidl'],
    async retr(message) {
      return (await session.message({ verb: 'RETR', message })).stream;
    },
    async top(message, lines) {
      return (await session.message({ verb: 'TOP', message, lines })).stream;
    },
    async dele(message) {
      await session.command({ verb: 'DELE', message });
    },
    async rset() {
      await session.command({ verb: 'RSET' });
    },
    async noop() {
      await session.command({ verb: 'NOOP' });
    },
    quit: () => session.quit(),
    close: () => session.close(),
    sync: (options) => syncMaildrop(session, client, options),
  };
  return client;
}

/** A one-message answer must be about the message asked for. */
function answerFor<T extends { readonly message: number }>(message: number, answer: T): T {
  if (answer.message !== message) {
    throw new ProtocolError(`the server answered about message ${answer.message} instead of ${message}`);
  }
  return answer;
}

/** A UIDL listing, each id unique in the maildrop (RFC 1939 §7, catalogue case 27). */
function uniqueIds(lines: readonly string[]): Pop3UniqueIdListing[] {
  const listing = lines.map(parseUniqueIdListing);
  const seen = new Set<string>();
  for (const { uid } of listing) {
    if (seen.has(uid)) throw new ProtocolError(`the unique id ${JSON.stringify(uid)} is listed twice`);
    seen.add(uid);
  }
  return listing;
}

import {
  concatBytes,
  createDeadline,
  type Deadline,
  InvalidArgumentError,
  resolveLimits,
  TimeoutError,
  type TraceHook,
} from '@postwire/core';
import {
  type ConnectionHandler,
  createListener,
  DeflateTransport,
  type GoodbyeReason,
  type ListenerOptions,
  LiveSessions,
  listenerSettings,
  type NodeTransport,
  type ServerConnection,
  type ServerTlsOptions,
} from '@postwire/core/node';
import {
  createPasswordSaslServer,
  createSaslServer,
  isSaslServer,
  type SaslConnectionContext,
  type SaslServer,
  type SaslServerExchange,
  type SaslServerOptions,
  type SaslServerOutcome,
  toSessionStep,
  transportContext,
  type VerifierResult,
} from '@postwire/sasl';
import type { MailStore, UserMail } from '@postwire/store';
import type { LiteralSource } from '../protocol/writer.js';
import {
  type ImapAuthStep,
  type ImapServerEvent,
  type ImapServerLimits,
  ImapServerSession,
} from '../server/session.js';
import { ImapRecentClaims, ImapStoreBridge } from '../server/store-bridge.js';
import { LiteralReadAhead } from './read-ahead.js';

/** What the hooks know of the connection. */
export interface ImapConnectionInfo {
  /** The client's address: the socket's peer, or the one a trusted PROXY header declared. */
  readonly remoteAddress: string;
  /** The client's port. */
  readonly remotePort: number;
  /** True on implicit TLS, and after STARTTLS. */
  readonly secure: boolean;
  /** The user who logged in. */
  readonly user?: string;
}

/** A user name and password given with LOGIN or AUTHENTICATE PLAIN/LOGIN, for `onAuth`. */
export interface ImapCredentials {
  /** The user name, as given. */
  readonly username: string;
  /** The password. */
  readonly password: string;
}

/** Options of {@link createImapServer}. */
export interface ImapServerOptions
  extends Pick<
    ListenerOptions,
    | 'host'
    | 'port'
    | 'maxConnections'
    | 'maxConnectionsPerIp'
    | 'commandTimeout'
    | 'handshakeTimeout'
    | 'proxyProtocol'
  > {
  /** The mail served: each user's mailboxes. */
  readonly store: MailStore;
  /** LOGIN and AUTHENTICATE through `@postwire/sasl`: a server, or the options to make one. Give `sasl` or `onAuth`. */
  readonly sasl?: SaslServer | SaslServerOptions;
  /** LOGIN and AUTHENTICATE PLAIN/LOGIN checked by this function: `true` accepts, a string accepts as that user. */
  onAuth?(
    credentials: ImapCredentials,
    connection: ImapConnectionInfo,
  ): VerifierResult | Promise<VerifierResult>;
  /** Implicit TLS from the first byte (port 993). */
  readonly tls?: ServerTlsOptions;
  /** The TLS settings of STARTTLS; without them STARTTLS is not offered. */
  readonly startTls?: ServerTlsOptions;
  /**
   * Allow LOGIN and cleartext SASL before TLS (off by default: LOGINDISABLED, case 45). It applies to `onAuth`
   * and to `sasl` given as options; a ready-made SASL server's own `allowCleartext` decides for it.
   */
  readonly allowCleartextLogin?: boolean;
  /**
   * Offer COMPRESS=DEFLATE (RFC 4978) after login; on by default, as Dovecot with its zlib plugin. A
   * connection that compresses holds about 300 KiB of zlib state; the limits apply to the inflated bytes
   * (catalogue case 18).
   */
  readonly compress?: boolean;
  /**
   * Offer QRESYNC (RFC 7162); on by default. Turned off, clients fall back to CONDSTORE alone: a way to
   * test a client's path for servers without QRESYNC.
   */
  readonly qresync?: boolean;
  /** Bounds on what each session reads, and on bad commands and failed logins; see `defaultImapServerLimits`. */
  readonly limits?: Partial<ImapServerLimits>;
  /**
   * Sessions logged in at once as one user from one client address (default 10, Dovecot's
   * `mail_max_userip_connections`; case 19). A login beyond it is refused with `NO`.
   */
  readonly maxConnectionsPerUserIp?: number;
  /** Milliseconds from connect to a successful login before `* BYE` (default 3 minutes, as Dovecot; case 53). */
  readonly loginTimeout?: number;
  /**
   * Milliseconds a write may wait for a client that does not read before the connection is dropped
   * (default 5 minutes; case 55). Output is written as the client takes it, never piled up.
   */
  readonly outputTimeout?: number;
  /** Milliseconds without traffic before `* BYE` (RFC 9051 §5.4's autologout: at least 30 minutes, the default). */
  readonly idleTimeout?: number;
  /** The greeting's text. */
  readonly greeting?: string;
  /** Receives each command and response line, credentials redacted. */
  readonly trace?: TraceHook;
  /** Runs before the greeting: a string refuses with `* BYE` and that text. */
  onConnect?(connection: ImapConnectionInfo): string | undefined | Promise<string | undefined>;
  /** Called once per connection when it has closed. */
  onClose?(connection: ImapConnectionInfo): void | Promise<void>;
  /**
   * Failures that end one connection or one command (a hook that threw, a store error, a broken socket, a
   * failed TLS handshake or PROXY header). Those the listener sees itself (the handshakes, a goodbye that
   * failed, the listening socket's own) carry only the client's address: `remotePort` is `0`, and
   * `remoteAddress` `unknown` for the socket.
   */
  onError?(error: unknown, connection: ImapConnectionInfo): void;
}

/** A listening IMAP server. */
export interface ImapServer {
  /** Starts accepting connections; resolves with the bound address and port. */
  listen(): Promise<{
    /** The address bound to. */
    host: string;
    /** The port bound to. */
    port: number;
  }>;
  /**
   * Stops accepting, ends every session with `* BYE`, and resolves once all are closed and each `onClose`
   * has settled (waiting up to `timeout`, default 10 s, for each of the two).
   */
  close(options?: { timeout?: number }): Promise<void>;
}

/** Bad commands after which each read waits {@link ERROR_SLEEP_MS} (catalogue case 51). */
const ERROR_SLEEP_AFTER = 10;
const ERROR_SLEEP_MS = 1000;
/** What {@link SessionRun}'s wait for input gives when a mailbox change woke it. */
const WOKEN = Symbol('woken');
/** RFC 9051 §5.4: the autologout timer is at least 30 minutes. */
const IDLE_TIMEOUT = 30 * 60_000;
/** Buffered output written before the next store request runs. */
const OUTPUT_FLUSH = 64 * 1024;
/**
 * FETCH bodies: a chunk this large is written as it is; smaller ones, and the response text around them,
 * are gathered into writes of about this size.
 */
const WRITE_SIZE = 64 * 1024;
/** Octets of FETCH bodies written without waiting for the client to take them; beyond, writing waits. */
const WRITE_WINDOW = 2 * 1024 * 1024;
/**
 * Octets of FETCH bodies read ahead of their turn, and bodies at most: while one is written the next are
 * read, without holding more than this (a body larger than the whole holds a chunk or two at a time).
 */
const READ_AHEAD = 4 * 1024 * 1024;
const MAX_READ_AHEAD = 32;
/** The Node layer's limits (catalogue cases 19, 53 and 55), each a positive integer or `Infinity`. */
const NODE_LIMITS = { maxConnectionsPerUserIp: 10, loginTimeout: 180_000, outputTimeout: 300_000 };
/**
 * Bytes per second that buy a command more time beyond `commandTimeout` (Postfix's smtpd_min_data_rate):
 * a large APPEND at a fair rate completes, a client that trickles bytes does not.
 */
const MIN_DATA_RATE = 500;
/** The longest delay a deadline takes. */
const MAX_DELAY = 2 ** 31 - 1;

/**
 * An IMAP server for Node: the core listener (connection limits, deadlines, PROXY, implicit TLS) around
 * one {@link ImapServerSession} per connection, serving a `@postwire/store` store.
 * @throws InvalidArgumentError for both or neither of `sasl` and `onAuth`, or a bad limit.
 */
export function createImapServer(options: ImapServerOptions): ImapServer {
  if ((options.sasl === undefined) === (options.onAuth === undefined))
    throw new InvalidArgumentError('give either sasl or onAuth');
  const allowCleartext = options.allowCleartextLogin ?? false;
  const sasl: SaslServer = options.sasl
    ? isSaslServer(options.sasl)
      ? options.sasl
      : createSaslServer({ allowCleartext, ...options.sasl })
    : createPasswordSaslServer(options.onAuth!, { allowCleartext });
  // Frozen, these limits resolve once for every session (see resolveLimits).
  const sessionLimits = options.limits && Object.freeze({ ...options.limits });
  // One session made here, and dropped, so that invalid limits throw from createImapServer rather than
  // on the first connection.
  new ImapServerSession({ limits: sessionLimits });
  const recent = new ImapRecentClaims();
  const limits = resolveLimits(NODE_LIMITS, {
    maxConnectionsPerUserIp: options.maxConnectionsPerUserIp,
    loginTimeout: options.loginTimeout,
    outputTimeout: options.outputTimeout,
  });
  const shared: Shared = {
    limits,
    logins: new UserIpLogins(limits.maxConnectionsPerUserIp),
    sessions: new LiveSessions(),
  };
  const listener = createListener({
    ...listenerSettings(options),
    idleTimeout: options.idleTimeout ?? IDLE_TIMEOUT,
    onConnection(connection) {
      const remoteAddress = connection.remoteAddress;
      // One object literal, not a spread of shared options: V8 gives each object spread from another and
      // then extended a hidden class of its own, some 240 bytes per session.
      // The session asks for the mechanisms as it starts, before the run that tracks the transport exists.
      let run: SessionRun | undefined;
      const session = new ImapServerSession({
        limits: sessionLimits,
        greeting: options.greeting,
        trace: options.trace,
        startTls: options.startTls !== undefined,
        connectDecision: options.onConnect !== undefined,
        compress: options.compress ?? true,
        qresync: options.qresync ?? true,
        secure: connection.transport.info.secure,
        authMechanisms: (secure) =>
          sasl.mechanisms(
            transportContext(run?.transport ?? connection.transport, { secure, remoteAddress }),
          ),
        cleartextLogin: (secure) => sasl.allowsCleartext({ secure, remoteAddress }),
      });
      shared.sessions.add();
      run = new SessionRun(session, connection, options, sasl, recent, shared);
      void run.serve();
      return run;
    },
    async onRefused({ transport }) {
      await transport.write(
        new TextEncoder().encode('* BYE [UNAVAILABLE] Too many connections, try again later\r\n'),
      );
    },
    onError(error, remoteAddress) {
      options.onError?.(error, { remoteAddress: remoteAddress ?? 'unknown', remotePort: 0, secure: false });
    },
  });
  return {
    listen: () => listener.listen(),
    close: (closeOptions) => shared.sessions.close(listener, closeOptions),
  };
}

/**
 * What the connections of one server share: the Node layer's limits, who is logged in from where, and the
 * sessions `close()` waits for.
 */
interface Shared {
  readonly limits: Readonly<typeof NODE_LIMITS>;
  readonly logins: UserIpLogins;
  readonly sessions: LiveSessions;
}

/** The sessions logged in now per user and client address, capped (catalogue case 19). */
class UserIpLogins {
  readonly #max: number;
  readonly #counts = new Map<string, number>();

  constructor(max: number) {
    this.#max = max;
  }

  /** Counts a login of `user` from `address`: its key for {@link leave}, or `undefined` when over the cap. */
  enter(user: string, address: string): string | undefined {
    // An address never holds a space, so the key is unambiguous.
    const key = `${address} ${user}`;
    const count = this.#counts.get(key) ?? 0;
    if (count >= this.#max) return undefined;
    this.#counts.set(key, count + 1);
    return key;
  }

  leave(key: string): void {
    const count = (this.#counts.get(key) ?? 1) - 1;
    if (count > 0) this.#counts.set(key, count);
    else this.#counts.delete(key);
  }
}

/** One connection's loop: feeds the session, writes its output, and answers its decisions. */
class SessionRun implements ConnectionHandler {
  readonly #session: ImapServerSession;
  readonly #connection: ServerConnection;
  readonly #options: ImapServerOptions;
  readonly #sasl: SaslServer;
  readonly #recent: ImapRecentClaims;
  readonly #shared: Shared;
  /** From connect to a successful login (case 53); dropped once logged in. */
  #loginDeadline: Deadline | undefined;
  /** Runs while a write waits for the client to read (case 55). */
  readonly #stallDeadline: Deadline;
  readonly #commandTimeout: number;
  #transport: NodeTransport | DeflateTransport;
  /** The read in progress until the loop takes what it gave; it outlives waits that a mailbox change ended. */
  #reading: Promise<Uint8Array | undefined> | undefined;
  /** Set once `#reading` has settled. */
  #readSettled = false;
  /**
   * Ends the loop's wait for input (the wait's resolve): with the settled read, or with {@link WOKEN} when
   * the session has something to say (a change during IDLE).
   */
  #wake: ((input: Promise<Uint8Array | undefined> | typeof WOKEN) => void) | undefined;
  /** A change came while the loop was not waiting (writing, or handling an event): the next wait ends at once. */
  #woken = false;
  #bridge: ImapStoreBridge | undefined;
  #exchange: SaslServerExchange | undefined;
  /** An event taken from the session while streaming bodies ahead, to be handled next. */
  #held: ImapServerEvent | undefined;
  #output: Uint8Array[] = [];
  #outputBytes = 0;
  /** Writes started and not yet taken by the operating system, oldest first. */
  readonly #unwritten: { readonly done: Promise<void>; readonly size: number }[] = [];
  #unwrittenBytes = 0;
  #closing = false;
  /** The loop, from {@link serve}. */
  #served: Promise<void> | undefined;
  /** A FETCH's bodies are being written: the loop is taking the session's events ahead. */
  #streaming = false;
  /** The key of this session's login in the user+IP count. */
  #login: string | undefined;
  /** Writes in progress. */
  #writing = 0;
  /** Set once the output stalled and the connection was dropped. */
  #dropped = false;
  /** When the command in progress began (its first byte), and its bytes so far. */
  #commandStart = 0;
  #commandBytes = 0;
  /**
   * The loop waits for the application (a hook, a SASL verifier, the store), not for the connection: a
   * close is acted on at once, since the loop may never come back to see it.
   */
  #inApplication = false;
  /** `onClose` has been called. */
  #closeReported = false;

  constructor(
    session: ImapServerSession,
    connection: ServerConnection,
    options: ImapServerOptions,
    sasl: SaslServer,
    recent: ImapRecentClaims,
    shared: Shared,
  ) {
    this.#session = session;
    this.#connection = connection;
    this.#options = options;
    this.#sasl = sasl;
    this.#recent = recent;
    this.#shared = shared;
    this.#transport = connection.transport;
    this.#loginDeadline = this.#newLoginDeadline();
    this.#stallDeadline = createDeadline(shared.limits.outputTimeout, () => this.#stalled(), {
      start: false,
    });
    this.#commandTimeout = connection.commandDeadline.ms;
  }

  /** The transport now (after STARTTLS, the TLS one): its channel binding and client certificate decide what AUTH offers. */
  get transport(): NodeTransport | DeflateTransport {
    return this.#transport;
  }

  get #info(): ImapConnectionInfo {
    const user = this.#session.user;
    return {
      remoteAddress: this.#connection.remoteAddress,
      remotePort: this.#connection.remotePort,
      secure: this.#session.secure,
      ...(user !== undefined ? { user } : {}),
    };
  }

  get #context(): SaslConnectionContext {
    return transportContext(this.#transport, {
      secure: this.#session.secure,
      remoteAddress: this.#connection.remoteAddress,
      connection: this.#info,
    });
  }

  /** Runs the loop until the session or the connection ends; once, whatever the number of calls. */
  serve(): Promise<void> {
    this.#served ??= this.#serve();
    return this.#served;
  }

  async #serve(): Promise<void> {
    const closed = (): void => {
      if (this.#inApplication) this.#abandon();
    };
    this.#connection.transport.closed.then(closed, closed);
    try {
      while (!this.#closing) {
        const event = this.#held ?? this.#session.next();
        this.#held = undefined;
        if (!event) {
          await this.#flush();
          // Every write is done (unless a goodbye has started one since): an idle session holds no stall timer.
          if (this.#writing === 0) this.#stallDeadline.clear();
          const chunk = await this.#input();
          this.#wake = undefined;
          if (chunk === WOKEN) continue;
          this.#reading = undefined;
          this.#readSettled = false;
          if (chunk === undefined) break;
          this.#received(chunk);
          continue;
        }
        if (event.type === 'write' || event.type === 'close') this.#take(event);
        else {
          // No command is held: the time the application takes to answer is not the client's.
          if (event.type !== 'stream') this.#answered();
          // STARTTLS and COMPRESS end with the connection; everything else waits for the application.
          this.#inApplication = event.type !== 'starttls' && event.type !== 'compress';
          await this.#handle(event);
          this.#inApplication = false;
        }
      }
    } catch (error) {
      // Once the close was reported, what fails is only the dead connection.
      if (!this.#dropped && !this.#closeReported) this.#report(error);
    } finally {
      this.#inApplication = false;
      this.#leave();
      await this.#flush().catch(() => {});
      this.#stallDeadline.clear();
      await this.#bridge?.close().catch((error: unknown) => this.#report(error));
      // Frees the compression state at once; the listener's close knows only the transport under it.
      if (this.#transport instanceof DeflateTransport) await this.#transport.close();
      await this.#connection.close();
      await this.#closed();
    }
  }

  /**
   * The connection closed while the loop waits for the application: the login deadline stops, the
   * session's place in the user+IP count is given back, and `onClose` is called now, not once (if ever)
   * the application answers.
   */
  #abandon(): void {
    this.#leave();
    void this.#closed();
  }

  /** Stops the login deadline and gives the session's place in the user+IP count back. */
  #leave(): void {
    this.#loginDeadline?.clear();
    if (this.#login !== undefined) this.#shared.logins.leave(this.#login);
    this.#login = undefined;
  }

  /** Tells the application the connection has closed; once, whichever way it learns of it first. */
  async #closed(): Promise<void> {
    if (this.#closeReported) return;
    this.#closeReported = true;
    await this.#shared.sessions.end(
      () => this.#options.onClose?.(this.#info),
      (error) => this.#report(error),
    );
  }

  /**
   * The next chunk from the client, or {@link WOKEN} when a mailbox change came first; the caller then
   * unsets `#wake` and, unless woken, `#reading` and `#readSettled`.
   */
  #input(): Promise<Uint8Array | undefined | typeof WOKEN> {
    // Case 51: a client past ERROR_SLEEP_AFTER bad commands waits a second for each read, as Postfix's
    // smtpd_error_sleep_time; the session ends it at its bad-command limit.
    if (this.#reading === undefined && this.#session.badCommands >= ERROR_SLEEP_AFTER)
      return new Promise((resolve) => setTimeout(resolve, ERROR_SLEEP_MS)).then(() => this.#wait());
    return this.#wait();
  }

  /**
   * Waits for the read in progress (started if none is) or a wake, whichever comes first: one promise,
   * which either settles. The read has one reaction, whatever the number of wakes before it settles.
   */
  #wait(): Promise<Uint8Array | undefined | typeof WOKEN> {
    let reading = this.#reading;
    if (reading === undefined) {
      const read = this.#transport.read();
      const settled = (): void => {
        this.#readSettled = true;
        this.#wake?.(read);
      };
      read.then(settled, settled);
      this.#reading = reading = read;
    }
    if (this.#readSettled) return reading;
    if (this.#woken) {
      this.#woken = false;
      return Promise.resolve(WOKEN);
    }
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  /**
   * Feeds the session, and runs the whole-command deadline from a command's first byte (case 53), pushed
   * back by {@link MIN_DATA_RATE} for each byte. The session's answer to input that ended a line stops it.
   */
  #received(chunk: Uint8Array): void {
    this.#session.receive(chunk);
    const deadline = this.#connection.commandDeadline;
    const now = performance.now();
    if (!deadline.pending) {
      this.#commandStart = now;
      this.#commandBytes = 0;
    }
    this.#commandBytes += chunk.length;
    const due = this.#commandStart + this.#commandTimeout + (this.#commandBytes * 1000) / MIN_DATA_RATE;
    deadline.reset(
      due === Number.POSITIVE_INFINITY ? due : Math.min(MAX_DELAY, Math.max(1, Math.ceil(due - now))),
    );
  }

  /** No login within `loginTimeout`: `* BYE`, and the connection closes. */
  #loginExpired(): void {
    void this.goodbye('timeout')
      .catch((error: unknown) => this.#report(error))
      .finally(() => this.#connection.close());
  }

  /** A write has waited `outputTimeout` for a client that does not read: the connection is dropped. */
  #stalled(): void {
    if (this.#writing === 0) return;
    this.#dropped = true;
    this.#report(new TimeoutError(`the client read nothing for ${this.#shared.limits.outputTimeout} ms`));
    this.#transport.destroy();
  }

  /**
   * Says goodbye for the listener (shutdown, or a timeout): `* BYE`, then the listener closes. During a
   * FETCH's stream the loop takes the session's output itself, up to the BYE: the bodies go out whole.
   */
  async goodbye(reason: GoodbyeReason): Promise<void> {
    this.#session.shutdown(reason === 'shutdown' ? 'shutdown' : 'timeout');
    if (this.#streaming) return this.serve();
    for (let event = this.#session.next(); event; event = this.#session.next())
      if (event.type === 'write' || event.type === 'close') this.#take(event);
    await this.#flush();
  }

  async #handle(event: Exclude<ImapServerEvent, { type: 'write' | 'close' }>): Promise<void> {
    const session = this.#session;
    switch (event.type) {
      case 'connect': {
        let refusal: string | undefined;
        try {
          refusal = (await this.#options.onConnect?.(this.#info)) ?? undefined;
        } catch (error) {
          this.#report(error);
          refusal = 'Temporary failure, try again later';
        }
        session.respond(refusal);
        return;
      }
      case 'starttls':
        await this.#flush();
        this.#transport = await this.#transport.startTls();
        session.respond();
        return;
      case 'unauthenticated':
        // The connection may log in again, as anyone: the login deadline runs afresh.
        await this.#bridge?.close();
        this.#bridge = undefined;
        if (this.#login !== undefined) this.#shared.logins.leave(this.#login);
        this.#login = undefined;
        this.#loginDeadline ??= this.#newLoginDeadline();
        this.#loginDeadline.reset();
        return;
      case 'compress':
        // RFC 4978 §3: the tagged OK goes out as it is; every byte after it is compressed, both ways.
        await this.#flush();
        this.#transport = new DeflateTransport(this.#transport);
        session.respond();
        return;
      case 'login':
        this.#authStep(
          await this.#loggedIn(
            await this.#sasl.verifyPassword(event.username, event.password, this.#context),
          ),
        );
        return;
      case 'authenticate':
        this.#exchange = this.#sasl.createExchange(this.#context);
        this.#authStep(
          await this.#loggedIn(await this.#exchange.start(event.mechanism, event.initialResponse)),
        );
        return;
      case 'auth-response':
        this.#authStep(await this.#loggedIn(await this.#exchange!.respond(event.line)));
        return;
      case 'stream':
        this.#streaming = true;
        try {
          await this.#stream(event.source);
        } finally {
          this.#streaming = false;
        }
        return;
      case 'store':
        // A long FETCH or STORE writes between its store requests: its responses do not pile up.
        if (this.#outputBytes >= OUTPUT_FLUSH) await this.#flush();
        try {
          session.storeDone(await this.#bridge!.run(event.request));
        } catch (error) {
          if (typeof (error as { code?: unknown } | undefined)?.code !== 'string') this.#report(error);
          session.storeFailed(error);
        }
        return;
    }
  }

  /**
   * Opens the store of a user who logged in, before the session hears of the success; the session knows
   * the user by the store's canonical name (case 23: `ａｌｉｃｅ` is `alice`). A login beyond
   * `maxConnectionsPerUserIp` is refused with `NO [LIMIT]`.
   */
  async #loggedIn(outcome: SaslServerOutcome): Promise<ImapAuthStep> {
    // A verifier or SASL hook that threw: the client hears a temporary failure, the application of why.
    if (outcome.type === 'failure' && outcome.cause !== undefined) this.#report(outcome.cause);
    const step = toSessionStep(outcome);
    if (step.type !== 'success') return step;
    let mail: UserMail;
    try {
      mail = await this.#options.store.user(step.username);
    } catch (error) {
      this.#report(error);
      return { type: 'failure', reason: 'temporary' };
    }
    // After UNAUTHENTICATE the connection logs in afresh: its earlier login no longer counts.
    if (this.#login !== undefined) this.#shared.logins.leave(this.#login);
    this.#login = this.#shared.logins.enter(mail.user, this.#connection.remoteAddress);
    if (this.#login === undefined) {
      await mail.release();
      return { type: 'failure', reason: 'connection-limit' };
    }
    this.#bridge = new ImapStoreBridge(mail, {
      recent: this.#recent,
      onChange: (change) => {
        this.#session.mailboxChanged(change);
        if (this.#wake) this.#wake(WOKEN);
        else this.#woken = true;
      },
    });
    this.#loginDeadline?.clear();
    this.#loginDeadline = undefined;
    return { type: 'success', username: mail.user };
  }

  /** Answers the session's login step; a SASL exchange that has ended is dropped. */
  #authStep(step: ImapAuthStep): void {
    if (step.type !== 'challenge') this.#exchange = undefined;
    this.#session.authStep(step);
  }

  #newLoginDeadline(): Deadline {
    return createDeadline(this.#shared.limits.loginTimeout, () => this.#loginExpired());
  }

  #take(event: Extract<ImapServerEvent, { type: 'write' | 'close' }>): void {
    if (event.type === 'close') this.#closing = true;
    else {
      this.#buffer(event.data);
      this.#answered();
    }
  }

  /**
   * No command is held (an answer went out, or the application is to answer a complete command): none is
   * in progress on the client's side, so its deadline stops.
   */
  #answered(): void {
    if (!this.#session.busy) this.#connection.commandDeadline.clear();
  }

  #buffer(data: Uint8Array): void {
    this.#output.push(data);
    this.#outputBytes += data.length;
  }

  /**
   * Writes a FETCH body, and those of the responses the session has queued after it: the session's
   * writes and bodies are taken ahead until anything else comes (held, and handled once every body before
   * it has been read), the next bodies are read while one is written ({@link READ_AHEAD}), and the octets
   * go out with the response text around them in writes of about {@link WRITE_SIZE}, up to
   * {@link WRITE_WINDOW} of them not yet taken by the client. What is left under a write stays buffered,
   * for the next flush.
   */
  async #stream(source: LiteralSource): Promise<void> {
    const queue: (Uint8Array | LiteralReadAhead)[] = [];
    let current = new LiteralReadAhead(source);
    let ahead = Math.min(current.size, READ_AHEAD);
    let literals = 1;
    try {
      for (;;) {
        while (this.#held === undefined && ahead < READ_AHEAD && literals < MAX_READ_AHEAD) {
          const event = this.#session.next();
          if (event === undefined) break;
          if (event.type === 'write') {
            queue.push(event.data);
            this.#answered();
          } else if (event.type === 'stream') {
            const literal = new LiteralReadAhead(event.source);
            queue.push(literal);
            ahead += Math.min(literal.size, READ_AHEAD);
            literals++;
          } else this.#held = event;
        }
        for (let chunk = await current.take(); chunk; chunk = await current.take()) {
          if (chunk.length >= WRITE_SIZE) {
            this.#push();
            this.#start(chunk);
          } else {
            this.#buffer(chunk);
            if (this.#outputBytes < WRITE_SIZE) continue;
            this.#push();
          }
          await this.#settle(WRITE_WINDOW);
        }
        ahead -= Math.min(current.size, READ_AHEAD);
        literals--;
        let next = queue.shift();
        for (; next instanceof Uint8Array; next = queue.shift()) this.#buffer(next);
        if (next === undefined) return;
        current = next;
      }
    } catch (error) {
      current.cancel();
      for (const item of queue) if (item instanceof LiteralReadAhead) item.cancel();
      throw error;
    }
  }

  /** Writes what is buffered, and waits until every write started is done. */
  async #flush(): Promise<void> {
    this.#push();
    await this.#settle(0);
  }

  /** Starts writing what is buffered, without waiting for it. */
  #push(): void {
    const output = this.#output;
    if (output.length === 0) return;
    this.#output = [];
    this.#outputBytes = 0;
    this.#start(output.length === 1 ? output[0]! : concatBytes(output));
  }

  #start(data: Uint8Array): void {
    const done = this.#write(data);
    done.catch(() => {});
    this.#unwritten.push({ done, size: data.length });
    this.#unwrittenBytes += data.length;
  }

  /** Waits until at most `limit` octets of the writes started are still unwritten (none for 0). */
  async #settle(limit: number): Promise<void> {
    while (this.#unwritten.length > 0 && (limit === 0 || this.#unwrittenBytes > limit)) {
      const write = this.#unwritten.shift()!;
      this.#unwrittenBytes -= write.size;
      await write.done;
    }
  }

  /**
   * Writes to the client, pushing the stall deadline back to `outputTimeout` from now. The deadline is left
   * to lapse rather than cleared after each write, which would cost a timer per write: it only counts when
   * it expires with a write still waiting.
   */
  async #write(data: Uint8Array): Promise<void> {
    this.#writing++;
    this.#stallDeadline.reset();
    try {
      await this.#transport.write(data);
    } finally {
      this.#writing--;
    }
  }

  #report(error: unknown): void {
    this.#options.onError?.(error, this.#info);
  }
}

import {
  consumeStream,
  createDeadline,
  type Deadline,
  ErrorCode,
  InvalidArgumentError,
  resolveLimits,
  type TraceHook,
} from '@postwire/core';
import {
  createListener,
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
  type MaybePromise,
  type SaslConnectionContext,
  type SaslServer,
  type SaslServerExchange,
  type SaslServerOptions,
  type SaslServerOutcome,
  type SaslThrottle,
  toSessionStep,
  transportContext,
  type VerifierResult,
} from '@postwire/sasl';
import type { MailStore } from '@postwire/store';
import { Pop3ResponseCode, type Pop3Status, serializePop3Status } from '../protocol/response.js';
import { verifyApopDigest } from '../server/apop.js';
import {
  openStoreMaildrop,
  type Pop3Maildrop,
  type Pop3MessageSource,
  type StoreMaildropOptions,
} from '../server/maildrop.js';
import {
  type Pop3AuthStep,
  type Pop3ServerEvent,
  type Pop3ServerLimits,
  Pop3ServerSession,
  type Pop3ServerSessionOptions,
} from '../server/session.js';

/** What the hooks know of the connection. */
export interface Pop3ConnectionInfo {
  /** The client's address: the socket's peer, or the one a trusted PROXY header declared. */
  readonly remoteAddress: string;
  /** The client's port. */
  readonly remotePort: number;
  /** True on implicit TLS, and after STLS. */
  readonly secure: boolean;
  /** The TLS version and cipher suite, on TLS. */
  readonly tls?: {
    /** The TLS version, such as `TLSv1.3`. */
    readonly protocol?: string;
    /** The cipher suite, as OpenSSL names it. */
    readonly cipher?: string;
  };
  /** The user who logged in, once the maildrop is open. */
  readonly user?: string;
}

/** A user name and password given with USER/PASS, or AUTH PLAIN or LOGIN, for `onAuth`. */
export interface Pop3Credentials {
  /** The user name, as given. */
  readonly username: string;
  /** The password. */
  readonly password: string;
}

/** A hook's answer: nothing accepts; a status with `ok: false` refuses with it. */
// biome-ignore lint/suspicious/noConfusingVoidType: a hook written as `async () => {}` returns void, and accepts.
export type Pop3HookResult = Pop3Status | undefined | void;

/** Looks up a user's shared secret for APOP, or `undefined` for an unknown user. */
export type Pop3ApopLookup = (
  username: string,
  context: SaslConnectionContext,
) => MaybePromise<string | undefined>;

/** Options of {@link createPop3Server}. */
export interface Pop3ServerOptions
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
  /** The server's name, in the greeting and the APOP challenge. */
  readonly hostname: string;
  /** Limits on command lines, bad commands and failed logins; the ones not given keep their defaults. */
  readonly limits?: Partial<Pop3ServerLimits>;
  /** Implicit TLS from the first byte (RFC 8314, port 995 style). */
  readonly tls?: ServerTlsOptions;
  /** The TLS settings of STLS (RFC 2595); without them STLS is not offered. */
  readonly startTls?: ServerTlsOptions;
  /**
   * Milliseconds without traffic before the session ends with `-ERR`, deleting nothing: RFC 1939 §3's
   * autologout timer, at least 10 minutes (the default, 600,000).
   */
  readonly idleTimeout?: number;
  /**
   * Milliseconds from connect to a successful login before the session ends with `-ERR`, however much the
   * client talks meanwhile (default 3 minutes, as Dovecot; case 53).
   */
  readonly loginTimeout?: number;
  /** The store whose users' INBOX are the maildrops; give `store` or `maildrop`. */
  readonly store?: MailStore;
  /** How the store maildrop behaves (the mailbox served, `\Seen` on retrieved messages). */
  readonly storeMaildrop?: StoreMaildropOptions;
  /**
   * Opens and locks a user's maildrop, for mail that lives outside a `@postwire/store` store. Throw an
   * error with `code: 'IN_USE'` (such as the store's `MailboxInUseError`) when it is locked: the client
   * hears `-ERR [IN-USE]` (case 26); any other error gives `-ERR [SYS/TEMP]`.
   */
  maildrop?(user: string, connection: Pop3ConnectionInfo): Pop3Maildrop | Promise<Pop3Maildrop>;
  /**
   * USER/PASS and AUTH (RFC 5034) through `@postwire/sasl`: a server, or the options to make one. Its
   * mechanisms are offered, and cleartext logins (USER/PASS, PLAIN, LOGIN) only on TLS unless it allows
   * cleartext (catalogue cases 29, 45). Give `sasl` or `onAuth`.
   */
  readonly sasl?: SaslServer | SaslServerOptions;
  /**
   * USER/PASS, AUTH PLAIN and LOGIN, on TLS only, checked by this function: `true` accepts the user name
   * given, a string accepts as that user, `false` refuses.
   */
  onAuth?(
    credentials: Pop3Credentials,
    connection: Pop3ConnectionInfo,
  ): VerifierResult | Promise<VerifierResult>;
  /**
   * APOP (RFC 1939 §7), off by default (case 28). `true` takes the secrets from the `lookupPassword`
   * verifier of `sasl` given as options (with its throttle); otherwise give the lookup here.
   */
  readonly apop?:
    | boolean
    | {
        /** Gives a user's shared secret. */
        readonly lookupPassword: Pop3ApopLookup;
      };
  /**
   * Seconds a user must wait between logins, announced as LOGIN-DELAY (RFC 2449 §6.5) and enforced by this
   * server: a login that comes too soon gets `-ERR [LOGIN-DELAY]` once its credentials are right.
   */
  readonly loginDelay?: number;
  /** Days messages stay on the server, or `never`, announced as EXPIRE; `0` deletes retrieved mail at QUIT. */
  readonly expire?: number | 'never';
  /** Text announced as IMPLEMENTATION (none by default). */
  readonly implementation?: string;
  /** Offer UTF8 and LANG (RFC 6856); default true. */
  readonly utf8?: boolean;
  /** Receives each command and status line, credentials redacted. */
  readonly trace?: TraceHook;
  /** Runs before the greeting: a refusal is sent instead, and the connection closes. */
  onConnect?(connection: Pop3ConnectionInfo): Pop3HookResult | Promise<Pop3HookResult>;
  /** Called once per connection when it has closed, whatever closed it. */
  onClose?(connection: Pop3ConnectionInfo): void | Promise<void>;
  /**
   * Failures that end one connection or one command (a hook that threw, a maildrop error, a broken socket,
   * a failed TLS handshake or PROXY header). Those the listener sees itself (the handshakes, a goodbye that
   * failed, the listening socket's own) carry only the client's address: `remotePort` is `0`, and
   * `remoteAddress` `unknown` for the socket.
   */
  onError?(error: unknown, connection: Pop3ConnectionInfo): void;
}

/** A listening POP3 server. */
export interface Pop3Server {
  /** Starts accepting connections; resolves with the bound address and port. */
  listen(): Promise<{
    /** The address bound to. */
    host: string;
    /** The port bound to. */
    port: number;
  }>;
  /**
   * Stops accepting, ends every session with `-ERR [SYS/TEMP]` (deleting nothing), and resolves once all
   * are closed, their maildrops released and each `onClose` settled (waiting up to `timeout`, default 10 s,
   * for each of the two). A QUIT whose deletions are under way gets its real answer once they are done.
   */
  close(options?: { timeout?: number }): Promise<void>;
}

/** RFC 1939 §3: the autologout timer is at least 10 minutes. */
const IDLE_TIMEOUT = 600_000;
/** Dovecot's login timeout: 3 minutes from connect to a successful login (case 53). */
const LOGIN_TIMEOUT = 180_000;
/** Output gathered beyond this is written at once, so that a message streams with backpressure. */
const FLUSH_BYTES = 64 * 1024;
/** Output pieces this large are written as they are; smaller ones are copied together first. */
const DIRECT_WRITE_BYTES = 16 * 1024;
/** The most a session's output buffer holds: larger output goes out in several writes. */
const OUTPUT_BUFFER_BYTES = 128 * 1024;
/** The least it is made with. */
const MIN_OUTPUT_BUFFER_BYTES = 4 * 1024;

const HOOK_FAILED: Pop3Status = {
  ok: false,
  code: Pop3ResponseCode.SysTemp,
  text: 'Temporary failure, try again later',
};

/** What every session of a server shares. */
interface Shared {
  readonly options: Pop3ServerOptions;
  readonly sasl: SaslServer | undefined;
  readonly apop: Pop3ApopLookup | undefined;
  readonly throttle: SaslThrottle;
  readonly openMaildrop: (user: string, connection: Pop3ConnectionInfo) => Promise<Pop3Maildrop>;
  /** The last login of each user, for LOGIN-DELAY. */
  readonly lastLogin: Map<string, number>;
  /** Milliseconds from connect to a successful login. */
  readonly loginTimeout: number;
  /** The sessions `close()` waits for. */
  readonly sessions: LiveSessions;
}

/**
 * A POP3 server for Node: the core listener (connection limits, deadlines, PROXY, implicit TLS) around one
 * {@link Pop3ServerSession} per connection, serving maildrops from a `@postwire/store` store or the
 * application's own.
 * @throws InvalidArgumentError when neither or both of `store` and `maildrop` are given, both `sasl` and
 * `onAuth`, none of `sasl`, `onAuth` and `apop`, `apop: true` without a `lookupPassword` verifier, or a
 * `loginTimeout` that is not a positive integer.
 */
export function createPop3Server(options: Pop3ServerOptions): Pop3Server {
  if ((options.store === undefined) === (options.maildrop === undefined)) {
    throw new InvalidArgumentError('give either store or maildrop');
  }
  if (options.sasl && options.onAuth) throw new InvalidArgumentError('give either sasl or onAuth, not both');
  const saslOptions = options.sasl && !isSaslServer(options.sasl) ? options.sasl : undefined;
  const sasl = options.sasl
    ? isSaslServer(options.sasl)
      ? options.sasl
      : createSaslServer(options.sasl)
    : options.onAuth && createPasswordSaslServer(options.onAuth);
  const apop =
    options.apop === true
      ? saslOptions?.verifiers?.lookupPassword
      : options.apop
        ? options.apop.lookupPassword
        : undefined;
  if (options.apop === true && !apop) {
    throw new InvalidArgumentError('apop: true needs sasl options with a lookupPassword verifier');
  }
  if (!sasl && !apop) throw new InvalidArgumentError('give sasl, onAuth or apop: a way to log in');
  const { loginTimeout } = resolveLimits(
    { loginTimeout: LOGIN_TIMEOUT },
    { loginTimeout: options.loginTimeout },
  );
  const sessionOptions: Pop3ServerSessionOptions = {
    hostname: options.hostname,
    ...(options.limits ? { limits: options.limits } : {}),
    startTls: options.startTls !== undefined,
    apop: apop !== undefined,
    connectDecision: options.onConnect !== undefined,
    ...(options.expire !== undefined ? { expire: options.expire } : {}),
    ...(options.loginDelay !== undefined ? { loginDelay: options.loginDelay } : {}),
    ...(options.implementation !== undefined ? { implementation: options.implementation } : {}),
    ...(options.utf8 !== undefined ? { utf8: options.utf8 } : {}),
    ...(options.trace ? { trace: options.trace } : {}),
  };
  // A session checks the limits, `expire` and `loginDelay`: made once here, it refuses bad ones now
  // rather than at the first connection.
  new Pop3ServerSession({ ...sessionOptions, trace: undefined });
  const { store, storeMaildrop } = options;
  const shared: Shared = {
    options,
    sasl,
    apop,
    throttle: saslOptions?.throttle ?? {},
    openMaildrop: store
      ? (user) => openStoreMaildrop(store, user, storeMaildrop)
      : async (user, connection) => options.maildrop!(user, connection),
    lastLogin: new Map(),
    loginTimeout,
    sessions: new LiveSessions(),
  };
  const listener = createListener({
    ...listenerSettings(options),
    idleTimeout: options.idleTimeout ?? IDLE_TIMEOUT,
    onConnection(connection) {
      const remoteAddress = connection.remoteAddress;
      // The session asks for the mechanisms as it starts, before the run that tracks the transport exists.
      let run: SessionRun | undefined;
      const session = new Pop3ServerSession({
        ...sessionOptions,
        ...(sasl
          ? {
              authMechanisms: (secure: boolean) =>
                sasl.mechanisms(
                  transportContext(run?.transport ?? connection.transport, { secure, remoteAddress }),
                ),
              cleartextLogin: (secure: boolean) => sasl.allowsCleartext({ secure, remoteAddress }),
            }
          : { cleartextLogin: () => false }),
      });
      if (connection.transport.info.secure) session.markSecure();
      shared.sessions.add();
      run = new SessionRun(session, connection, shared);
      const started = run;
      void started.serve();
      return { goodbye: (reason) => started.goodbye(reason === 'shutdown' ? 'shutdown' : 'timeout') };
    },
    async onRefused({ transport }) {
      await transport.write(
        serializePop3Status({
          ok: false,
          code: Pop3ResponseCode.SysTemp,
          text: 'Too many connections, try again later',
        }),
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

/** One connection's loop: feeds the session, writes its output, and answers its decisions. */
class SessionRun {
  readonly #session: Pop3ServerSession;
  readonly #connection: ServerConnection;
  readonly #shared: Shared;
  #transport: NodeTransport;
  /** From connect to a successful login (case 53); cleared once the maildrop is open. */
  readonly #loginDeadline: Deadline;
  #maildrop: Pop3Maildrop | undefined;
  #exchange: SaslServerExchange | undefined;
  /** Output not yet written: it goes out together when the session waits, or once it is large. */
  #output: Uint8Array[] = [];
  #outputBytes = 0;
  /** Where small output pieces are joined, kept from one flush to the next; absent while a flush uses it. */
  #buffer: Uint8Array | undefined;
  /** The session has closed: its `close` event was seen. */
  #closing = false;
  /** The update of a QUIT, from the maildrop's deletions to the session's answer; a goodbye waits for it. */
  #updating: Promise<void> | undefined;
  /**
   * The loop waits for the application (a hook, a SASL verifier, the maildrop), not for the connection: a
   * close is reported at once, since the loop may never come back to see it.
   */
  #inApplication = false;
  /** `onClose` has been called. */
  #closeReported = false;

  constructor(session: Pop3ServerSession, connection: ServerConnection, shared: Shared) {
    this.#session = session;
    this.#connection = connection;
    this.#shared = shared;
    this.#transport = connection.transport;
    this.#loginDeadline = createDeadline(shared.loginTimeout, () => this.#loginExpired());
  }

  /** The transport now (after STARTTLS, the TLS one): its channel binding and client certificate decide what AUTH offers. */
  get transport(): NodeTransport {
    return this.#transport;
  }

  get #info(): Pop3ConnectionInfo {
    const session = this.#session;
    const { tlsProtocol, tlsCipher } = this.#transport.info;
    return {
      remoteAddress: this.#connection.remoteAddress,
      remotePort: this.#connection.remotePort,
      secure: session.secure,
      ...(session.secure
        ? {
            tls: {
              ...(tlsProtocol !== undefined ? { protocol: tlsProtocol } : {}),
              ...(tlsCipher !== undefined ? { cipher: tlsCipher } : {}),
            },
          }
        : {}),
      ...(session.user !== undefined ? { user: session.user } : {}),
    };
  }

  get #context(): SaslConnectionContext {
    return transportContext(this.#transport, {
      secure: this.#session.secure,
      remoteAddress: this.#connection.remoteAddress,
      connection: this.#info,
    });
  }

  async serve(): Promise<void> {
    const closed = (): void => {
      this.#loginDeadline.clear();
      if (this.#inApplication) void this.#closed();
    };
    this.#connection.transport.closed.then(closed, closed);
    try {
      while (!this.#closing) {
        const event = this.#session.next();
        if (!event) {
          await this.#flush();
          this.#armDeadline();
          const chunk = await this.#transport.read();
          if (chunk === undefined) break;
          this.#session.receive(chunk);
          continue;
        }
        if (event.type === 'write' || event.type === 'close') {
          this.#take(event);
          // Commands pipelined in one read are answered as they come: their output is written once
          // large, so that a flood of LIST or UIDL is never all held in memory.
          if (this.#outputBytes >= FLUSH_BYTES) await this.#flush();
          continue;
        }
        // No command is held: the time the application takes to answer is not the client's.
        if (!this.#session.busy) this.#connection.commandDeadline.clear();
        // The handshake of STLS ends with the connection; everything else waits for the application.
        this.#inApplication = event.type !== 'stls';
        await this.#handle(event);
        this.#inApplication = false;
      }
    } catch (error) {
      // Once the close was reported, what fails is only the dead connection.
      if (!this.#closeReported) this.#report(error);
    } finally {
      this.#inApplication = false;
      this.#loginDeadline.clear();
      this.#connection.commandDeadline.clear();
      await this.#flush().catch(() => {});
      await this.#release();
      await this.#connection.close();
      await this.#closed();
    }
  }

  /** Tells the application the connection has closed; once, whichever way it learns of it first. */
  async #closed(): Promise<void> {
    if (this.#closeReported) return;
    this.#closeReported = true;
    await this.#shared.sessions.end(
      () => this.#shared.options.onClose?.(this.#info),
      (error) => this.#report(error),
    );
  }

  /** Says goodbye for the listener (shutdown, idle, timeout): `-ERR`, then the listener closes. */
  async goodbye(reason: 'shutdown' | 'timeout'): Promise<void> {
    this.#session.shutdown(reason);
    await this.#updating;
    this.#drain();
    await this.#flush();
  }

  /** No login within `loginTimeout`: `-ERR`, and the connection closes. */
  #loginExpired(): void {
    void this.goodbye('timeout')
      .catch((error: unknown) => this.#report(error))
      .finally(() => this.#connection.close());
  }

  /** Runs the whole-command deadline while part of a command is buffered (case 53). */
  #armDeadline(): void {
    const { commandDeadline } = this.#connection;
    if (!this.#session.busy) commandDeadline.clear();
    else if (!commandDeadline.pending) commandDeadline.reset();
  }

  async #handle(event: Exclude<Pop3ServerEvent, { type: 'write' | 'close' }>): Promise<void> {
    const session = this.#session;
    switch (event.type) {
      case 'connect':
        session.respond(await this.#hook(() => this.#shared.options.onConnect?.(this.#info)));
        return;
      case 'password': {
        const outcome = await this.#shared.sasl!.verifyPassword(
          event.username,
          event.password,
          this.#context,
        );
        session.authStep(this.#authStep(outcome));
        return;
      }
      case 'apop':
        session.authStep(await this.#apop(event.username, event.digest, event.challenge));
        return;
      case 'auth': {
        this.#exchange = this.#shared.sasl?.createExchange(this.#context);
        const outcome = this.#exchange
          ? await this.#exchange.start(event.mechanism, event.initialResponse)
          : ({ type: 'failure', reason: 'mechanism-unavailable' } as const);
        session.authStep(this.#authStep(outcome));
        return;
      }
      case 'auth-response':
        // A `+` challenge only ever comes from the exchange of the AUTH command in progress.
        session.authStep(this.#authStep(await this.#exchange!.respond(event.line)));
        return;
      case 'open':
        await this.#open(event.username);
        return;
      case 'retrieve':
        await this.#retrieve(event.message);
        return;
      case 'update':
        this.#updating = this.#update(event.deleted, event.retrieved);
        await this.#updating;
        return;
      case 'stls':
        // The +OK goes out before the handshake starts.
        await this.#flush();
        this.#transport = await this.#transport.startTls();
        session.respond();
        return;
    }
  }

  /** The session's step for a login outcome; a verifier or SASL hook that threw is reported. */
  #authStep(outcome: SaslServerOutcome): Pop3AuthStep {
    if (outcome.type === 'failure' && outcome.cause !== undefined) this.#report(outcome.cause);
    return toSessionStep(outcome);
  }

  /** QUIT's update: the maildrop deletes, and the session answers with the outcome. */
  async #update(deleted: readonly number[], retrieved: readonly number[]): Promise<void> {
    const maildrop = this.#maildrop!;
    const pick = (numbers: readonly number[]) => numbers.map((number) => maildrop.messages[number - 1]!);
    try {
      await maildrop.update({ deleted: pick(deleted), retrieved: pick(retrieved) });
      this.#session.respond();
    } catch (error) {
      this.#report(error);
      this.#session.respond({
        ok: false,
        code: Pop3ResponseCode.SysTemp,
        text: 'Some deleted messages not removed',
      });
    }
  }

  /** APOP: the user's secret, the digest compared in constant time, and the SASL throttle's hooks. */
  async #apop(username: string, digest: string, challenge: string): Promise<Pop3AuthStep> {
    const { apop, throttle } = this.#shared;
    const context = this.#context;
    try {
      if ((await throttle.beforeAttempt?.(context)) === false)
        return { type: 'failure', reason: 'throttled' };
      const secret = await apop!(username, context);
      if (!verifyApopDigest(challenge, secret, digest)) {
        await throttle.onFailure?.(context, username, 'APOP');
        return { type: 'failure', reason: 'invalid-credentials' };
      }
      await throttle.onSuccess?.(context, { username }, 'APOP');
      return { type: 'success', username };
    } catch (error) {
      this.#report(error);
      return { type: 'failure', reason: 'temporary' };
    }
  }

  /** Opens the maildrop of a user who logged in, after the LOGIN-DELAY check. */
  async #open(user: string): Promise<void> {
    const { loginDelay } = this.#shared.options;
    const { lastLogin } = this.#shared;
    const now = Date.now();
    const last = lastLogin.get(user);
    if (loginDelay !== undefined && last !== undefined && now - last < loginDelay * 1000) {
      this.#session.respond({ ok: false, code: Pop3ResponseCode.LoginDelay, text: 'Logged in too recently' });
      return;
    }
    let maildrop: Pop3Maildrop;
    try {
      maildrop = await this.#shared.openMaildrop(user, this.#info);
    } catch (error) {
      const inUse = (error as { code?: unknown } | undefined)?.code === ErrorCode.InUse;
      if (!inUse) this.#report(error);
      this.#session.respond(
        inUse
          ? { ok: false, code: Pop3ResponseCode.InUse, text: 'Maildrop is locked by another session' }
          : { ok: false, code: Pop3ResponseCode.SysTemp, text: 'Cannot open the maildrop' },
      );
      return;
    }
    this.#maildrop = maildrop;
    if (this.#session.state === 'closed') return;
    try {
      this.#session.respond({ messages: maildrop.messages });
    } catch (error) {
      this.#report(error);
      this.#maildrop = undefined;
      await maildrop.release();
      this.#session.respond({
        ok: false,
        code: Pop3ResponseCode.SysPerm,
        text: 'The maildrop cannot be served',
      });
      return;
    }
    this.#loginDeadline.clear();
    if (loginDelay !== undefined) {
      for (const [name, time] of lastLogin) if (now - time >= loginDelay * 1000) lastLogin.delete(name);
      lastLogin.set(user, now);
    }
  }

  /** Streams one message to the client with backpressure, as RETR or TOP. */
  async #retrieve(number: number): Promise<void> {
    const session = this.#session;
    const maildrop = this.#maildrop!;
    let source: Pop3MessageSource;
    try {
      source = await maildrop.retrieve(maildrop.messages[number - 1]!);
    } catch (error) {
      this.#report(error);
      session.respond({ ok: false, code: Pop3ResponseCode.SysTemp, text: 'Cannot read the message' });
      return;
    }
    session.respond();
    try {
      if (source instanceof Uint8Array) {
        if (source.length > 0) await this.#messageData(source);
      } else if (source instanceof ReadableStream) {
        await consumeStream(source, (chunk) => this.#messageData(chunk));
      } else {
        for await (const chunk of source) if (!(await this.#messageData(chunk))) break;
      }
    } catch (error) {
      this.#report(error);
      session.abortMessage();
      this.#drain();
      return;
    }
    session.messageEnd();
  }

  /** Hands one chunk of the message to the session, and writes once enough is gathered; false once TOP is done. */
  async #messageData(chunk: Uint8Array): Promise<boolean> {
    const more = this.#session.messageData(chunk);
    this.#drain();
    if (this.#outputBytes >= FLUSH_BYTES) await this.#flush();
    return more;
  }

  /** Takes the events a message's bytes produced. */
  #drain(): void {
    for (let event = this.#session.next(); event; event = this.#session.next()) {
      if (event.type === 'write' || event.type === 'close') this.#take(event);
    }
  }

  #take(event: Extract<Pop3ServerEvent, { type: 'write' | 'close' }>): void {
    if (event.type === 'close') {
      this.#closing = true;
      return;
    }
    this.#output.push(event.data);
    this.#outputBytes += event.data.length;
  }

  /**
   * Writes the output gathered so far, in order: large pieces as they are, and the small ones between
   * them (status lines, a message's lines cut where dots were stuffed) copied together into the output
   * buffer, so that they go out in few writes without a new allocation each time. The buffer is filled
   * again only once the operating system has taken what it held.
   */
  async #flush(): Promise<void> {
    const output = this.#output;
    if (output.length === 0) return;
    const bytes = this.#outputBytes;
    this.#output = [];
    this.#outputBytes = 0;
    const transport = this.#transport;
    if (output.length === 1) {
      await transport.write(output[0]!);
      return;
    }
    let buffer = this.#buffer;
    // Taken while in use: a flush that runs meanwhile (a goodbye) gets a buffer of its own.
    this.#buffer = undefined;
    if (buffer === undefined || (buffer.length < bytes && buffer.length < OUTPUT_BUFFER_BYTES)) {
      buffer = new Uint8Array(Math.min(OUTPUT_BUFFER_BYTES, Math.max(MIN_OUTPUT_BUFFER_BYTES, bytes)));
    }
    const writes: Promise<void>[] = [];
    let start = 0;
    let end = 0;
    for (const data of output) {
      const length = data.length;
      if (length >= DIRECT_WRITE_BYTES) {
        if (end > start) writes.push(transport.write(buffer.subarray(start, end)));
        start = end;
        writes.push(transport.write(data));
        continue;
      }
      if (end + length > buffer.length) {
        if (end > start) writes.push(transport.write(buffer.subarray(start, end)));
        await Promise.all(writes);
        writes.length = 0;
        start = end = 0;
      }
      buffer.set(data, end);
      end += length;
    }
    if (end > start) writes.push(transport.write(buffer.subarray(start, end)));
    await Promise.all(writes);
    this.#buffer = buffer;
  }

  /** Runs a hook; one that throws gets the client a temporary failure. */
  async #hook(run: () => Pop3HookResult | Promise<Pop3HookResult>): Promise<Pop3Status | undefined> {
    try {
      return (await run()) ?? undefined;
    } catch (error) {
      this.#report(error);
      return HOOK_FAILED;
    }
  }

  /** Unlocks the maildrop, whatever ended the session. */
  async #release(): Promise<void> {
    const maildrop = this.#maildrop;
    this.#maildrop = undefined;
    try {
      await maildrop?.release();
    } catch (error) {
      this.#report(error);
    }
  }

  #report(error: unknown): void {
    this.#shared.options.onError?.(error, this.#info);
  }
}

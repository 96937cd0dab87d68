import { Readable } from 'node:stream';
import {
  concatBytes,
  createDeadline,
  type Deadline,
  InvalidArgumentError,
  PushStream,
  resolveLimits,
  utf8,
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
  authenticateMessage,
  checkSpf,
  type DnsResolver,
  formatAuthenticationResults,
  type Sha256Factory,
  type SpfCheck,
} from '@postwire/mailauth';
import { createNodeDnsResolver, nodeSha256 } from '@postwire/mailauth/node';
import {
  createPasswordSaslServer,
  createSaslServer,
  isSaslServer,
  type SaslServer,
  type SaslServerExchange,
  type SaslServerOptions,
  type SaslServerOutcome,
  toSessionStep,
  transportContext,
  type VerifierResult,
} from '@postwire/sasl';
import type { MailParameters, RcptParameters } from '../protocol/command.js';
import type { SmtpMailbox } from '../protocol/path.js';
import type { SmtpReply } from '../protocol/reply.js';
import {
  authenticatedMessage,
  type SmtpAuthenticatedMessage,
  type SmtpMessageAuthentication,
  type SmtpSpamVerdict,
  spamHeaders,
} from '../server/mail-authentication.js';
import {
  type SmtpEnvelope,
  type SmtpServerEvent,
  SmtpServerSession,
  type SmtpServerSessionOptions,
} from '../server/session.js';
import type { SmtpXclient, SmtpXforward } from '../server/xclient.js';

export {
  refuseDmarcReject,
  refuseSpfFail,
  type SmtpAuthenticatedMessage,
  type SmtpMessageAuthentication,
  type SmtpSpamVerdict,
  spamHeaders,
} from '../server/mail-authentication.js';

/** What the hooks know of the connection. */
export interface SmtpConnectionInfo {
  /**
   * The client's address: the socket's peer, the one a trusted PROXY header declared, or the one an
   * allowed XCLIENT named (`unknown` when it said `[UNAVAILABLE]`).
   */
  readonly remoteAddress: string;
  /** The client's port, from the same source as `remoteAddress` (`0` when unknown). */
  readonly remotePort: number;
  /** The client's host name, when XCLIENT gave one. */
  readonly remoteName?: string;
  /** True on implicit TLS, and after STARTTLS. */
  readonly secure: boolean;
  /** The TLS version and cipher suite, on TLS. */
  readonly tls?: {
    /** The TLS version, such as `TLSv1.3`. */
    readonly protocol?: string;
    /** The cipher suite, as OpenSSL names it. */
    readonly cipher?: string;
  };
  /** The name the client gave in an accepted HELO, EHLO or LHLO (or XCLIENT HELO). */
  readonly clientName?: string;
  /** The user the client authenticated as (AUTH, or XCLIENT LOGIN). */
  readonly user?: string;
  /** The connection's own peer (the proxy that sent XCLIENT), when XCLIENT changed the client's address or port. */
  readonly peer?: {
    /** The peer's address. */
    readonly address: string;
    /** The peer's port. */
    readonly port: number;
  };
  /** Everything XCLIENT said, when an allowed client used it. */
  readonly xclient?: SmtpXclient;
  /** What XFORWARD said about the up-stream client, for the transaction to come or in progress. */
  readonly forwarded?: SmtpXforward;
}

/** A message being received, as `onData` gets it. */
export interface SmtpIncomingMessage extends AsyncIterable<Uint8Array> {
  /**
   * The message's bytes (dot-stuffing removed, the server's `Received:` header first), to be read to its
   * end, once, in one of three ways: `for await (const chunk of message)` (the cheapest), `stream` (a
   * web stream, made on first use) or `nodeStream()`. Reading fails if the client drops the connection
   * or the message is refused mid-way, and then nothing may be delivered.
   */
  readonly stream: ReadableStream<Uint8Array>;
  /** The same bytes as a Node stream, made on the first call. */
  nodeStream(): Readable;
  /** The transaction's envelope. */
  readonly envelope: SmtpEnvelope;
  /** Octets of the message received from the client so far (no `Received:` header); final once it ended. */
  readonly size: number;
  /**
   * With `mailAuthentication`: what SPF, DKIM, ARC and DMARC (and the classifier) found, as the
   * `Authentication-Results` field (and the `X-Spam-` fields) leading the message's bytes say.
   */
  readonly authentication?: SmtpMessageAuthentication;
}

/**
 * A hook's answer: nothing (or `undefined`) accepts with the default reply; a reply with a 4xx or 5xx
 * code refuses. `onData` in LMTP may return one reply per recipient.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: a hook written as `async () => {}` returns void, and accepts.
export type SmtpHookResult = SmtpReply | undefined | void;

/**
 * Mail authentication of received messages (`@postwire/mailauth`): SPF at MAIL FROM, then DKIM, ARC and
 * DMARC once the message has ended, reported in an `Authentication-Results` field (RFC 8601) at the top
 * of the message that `onData` gets. Authentication-Results fields that claim this server's authserv-id
 * are removed from incoming messages (RFC 8601 §5). A message is held in memory (up to `limits.messageSize`)
 * until it is checked.
 */
export interface SmtpMailAuthenticationOptions {
  /** Where the records are looked up (default: `createNodeDnsResolver()`, the system's DNS servers). */
  readonly resolver?: DnsResolver;
  /** The authserv-id of the field written and of the fields removed (default: the server's `hostname`). */
  readonly authservId?: string;
  /** The SHA-256 for DKIM and ARC (default: `nodeSha256`). */
  readonly sha256?: Sha256Factory;
  /**
   * Judges the SPF result of each MAIL FROM (of the HELO name for `<>`): a 4xx or 5xx reply refuses the
   * sender, such as `refuseSpfFail`'s `550 5.7.23` (RFC 7372). Default: accept. SPF is not checked for a
   * client that authenticated (AUTH, or XCLIENT LOGIN): on submission the client's address says nothing
   * about the sender's domain, and the field says `auth=pass` instead.
   */
  spf?(check: SpfCheck, connection: SmtpConnectionInfo): SmtpHookResult | Promise<SmtpHookResult>;
  /**
   * A spam classifier, run on the message as it will be delivered once it is authenticated: its verdict
   * is written as SpamAssassin's `X-Spam-` fields above the Authentication-Results field (incoming
   * `X-Spam-Flag`, `-Status`, `-Score` and `-Level` fields are removed first), and is
   * `authentication.spam`. Nothing written for `undefined`.
   */
  classify?(
    message: SmtpAuthenticatedMessage,
    connection: SmtpConnectionInfo,
  ): SmtpSpamVerdict | undefined | Promise<SmtpSpamVerdict | undefined>;
  /**
   * Decides on the authenticated (and classified) message before `onData` gets it: a 4xx or 5xx reply
   * refuses it, such as `refuseDmarcReject`'s `550 5.7.1`, and `onData` is not called. Default: accept.
   * To quarantine or tag, accept, and file it in `onData` by `message.authentication`.
   */
  verdict?(
    authentication: SmtpMessageAuthentication,
    message: SmtpAuthenticatedMessage,
    connection: SmtpConnectionInfo,
  ): SmtpHookResult | Promise<SmtpHookResult>;
}

/** A user name and password given with AUTH PLAIN or LOGIN, for `onAuth`. */
export interface SmtpCredentials {
  /** The user name, as given. */
  readonly username: string;
  /** The password. */
  readonly password: string;
}

/** Options of {@link createSmtpServer}. */
export interface SmtpServerOptions
  extends Omit<
      SmtpServerSessionOptions,
      'startTls' | 'authMechanisms' | 'connectDecision' | 'xclient' | 'xforward'
    >,
    Pick<
      ListenerOptions,
      | 'host'
      | 'port'
      | 'maxConnections'
      | 'maxConnectionsPerIp'
      | 'idleTimeout'
      | 'commandTimeout'
      | 'handshakeTimeout'
      | 'proxyProtocol'
    > {
  /** Implicit TLS from the first byte (RFC 8314, port 465 style). */
  readonly tls?: ServerTlsOptions;
  /** The TLS settings of STARTTLS; without them STARTTLS is not offered. */
  readonly startTls?: ServerTlsOptions;
  /**
   * AUTH (RFC 4954) through `@postwire/sasl`: a server, or the options to make one. Its mechanisms are
   * offered, and cleartext ones only on TLS unless it allows cleartext (catalogue case 45). For user names
   * and passwords alone, `onAuth` is shorter; give one or the other.
   */
  readonly sasl?: SaslServer | SaslServerOptions;
  /**
   * AUTH PLAIN and LOGIN, on TLS only (case 45), checked by this function: `true` accepts the user name
   * given, a string accepts as that user, `false` refuses. It is the `password` verifier of a
   * `@postwire/sasl` server made for it; for other mechanisms, throttling or cleartext, give `sasl`.
   */
  onAuth?(
    credentials: SmtpCredentials,
    connection: SmtpConnectionInfo,
  ): VerifierResult | Promise<VerifierResult>;
  /**
   * Which clients may use XCLIENT (Postfix): given the connection's address, true for a proxy or filter
   * that may say who the client is. Offered and accepted only for them.
   */
  xclient?(remoteAddress: string): boolean;
  /** Which clients may use XFORWARD (Postfix): given the connection's address, true for a trusted filter. */
  xforward?(remoteAddress: string): boolean;
  /**
   * The most milliseconds from an accepted MAIL to the end of its message; past it the client gets
   * `421 4.4.2` and is closed. Default: no limit but the per-command one.
   */
  readonly transactionTimeout?: number;
  /**
   * Runs before the greeting (and again after XCLIENT, for the client it named): a 4xx or 5xx reply is
   * sent instead of the greeting, such as `554 5.7.1`, and the connection closes.
   */
  onConnect?(connection: SmtpConnectionInfo): SmtpHookResult | Promise<SmtpHookResult>;
  /** Answers HELO, EHLO or LHLO; the default accepts any name. */
  onHelo?(domain: string, connection: SmtpConnectionInfo): SmtpHookResult | Promise<SmtpHookResult>;
  /** Answers MAIL FROM; the default accepts any sender. */
  onMailFrom?(
    from: SmtpMailbox | null,
    parameters: MailParameters,
    connection: SmtpConnectionInfo,
  ): SmtpHookResult | Promise<SmtpHookResult>;
  /** Answers RCPT TO; the default accepts any recipient. */
  onRcptTo?(
    to: SmtpMailbox,
    parameters: RcptParameters,
    connection: SmtpConnectionInfo,
  ): SmtpHookResult | Promise<SmtpHookResult>;
  /** Answers VRFY; the default is `252 2.5.2` (not verified, but mail will be tried). */
  onVrfy?(argument: string, connection: SmtpConnectionInfo): SmtpHookResult | Promise<SmtpHookResult>;
  /** Answers EXPN; the default is `502 5.5.1` (mailing lists are not disclosed). */
  onExpn?(argument: string, connection: SmtpConnectionInfo): SmtpHookResult | Promise<SmtpHookResult>;
  /**
   * The message, with its envelope, as a web stream (or a Node stream) that must be read to its end.
   * Resolve once the message is stored: only then does the client get 250.
   */
  onData?(
    message: SmtpIncomingMessage,
    connection: SmtpConnectionInfo,
  ): SmtpHookResult | readonly SmtpReply[] | Promise<SmtpHookResult | readonly SmtpReply[]>;
  /** Authenticate received mail (SPF, DKIM, ARC, DMARC) and report it in the message; see the options. */
  readonly mailAuthentication?: SmtpMailAuthenticationOptions;
  /** Called once per connection when it has closed, whatever closed it. */
  onClose?(connection: SmtpConnectionInfo): void | Promise<void>;
  /**
   * Failures that end one connection (a hook that threw, a broken socket, a failed TLS handshake or PROXY
   * header). Those the listener sees itself (the handshakes, a goodbye that failed, the listening socket's
   * own) carry only the client's address: `remotePort` is `0`, and `remoteAddress` `unknown` for the socket.
   */
  onError?(error: unknown, connection: SmtpConnectionInfo): void;
}

/** A listening SMTP or LMTP server. */
export interface SmtpServer {
  /** Starts accepting connections; resolves with the bound address and port. */
  listen(): Promise<{
    /** The address bound to. */
    host: string;
    /** The port bound to. */
    port: number;
  }>;
  /**
   * Stops accepting, ends every session with `421`, and resolves once all are closed and each `onClose`
   * has settled (waiting up to `timeout`, default 10 s, for each of the two). A message whose end was
   * received gets its real answer first, once `onData` gives it within the goodbye time (5 s): a client
   * told `421` for a message that was stored would send it again.
   */
  close(options?: { timeout?: number }): Promise<void>;
}

const TOO_MANY_CONNECTIONS = new TextEncoder().encode('421 4.7.0 Too many connections, try again later\r\n');

/** The server options that are the session's own settings, the same for every connection. */
const SESSION_SETTINGS = [
  'protocol',
  'limits',
  'bareLineEndings',
  'smtputf8',
  'eightBitMime',
  'dsn',
  'chunking',
  'requireAuth',
  'receivedHeader',
  'requireTls',
] as const satisfies readonly (keyof SmtpServerSessionOptions)[];

/** A hook threw: the client hears a temporary failure, so that its mail is retried, never lost. */
const HOOK_FAILED: SmtpReply = {
  code: 451,
  enhancedCode: '4.3.0',
  lines: ['Temporary failure, try again later'],
};

/**
 * An SMTP (or LMTP) server for Node: the core listener (connection limits, deadlines, PROXY, TLS) around
 * one {@link SmtpServerSession} per connection, with the application's decisions as async hooks.
 * @throws InvalidArgumentError when both `sasl` and `onAuth` are given, `transactionTimeout` is not a
 * positive integer, or the authserv-id of `mailAuthentication` cannot be written in a header.
 */
export function createSmtpServer(options: SmtpServerOptions): SmtpServer {
  if (options.sasl && options.onAuth) throw new InvalidArgumentError('give either sasl or onAuth, not both');
  const { transactionTimeout } = resolveLimits(
    { transactionTimeout: Number.POSITIVE_INFINITY },
    { transactionTimeout: options.transactionTimeout },
  );
  const sasl = options.sasl
    ? isSaslServer(options.sasl)
      ? options.sasl
      : createSaslServer(options.sasl)
    : options.onAuth && createPasswordSaslServer(options.onAuth);
  const authentication = options.mailAuthentication && mailAuthentication(options);
  // The session's settings, picked once: a connection's options hold only what differs per connection.
  const sessionSettings: SmtpServerSessionOptions = {
    hostname: options.hostname,
    startTls: options.startTls !== undefined,
    connectDecision: options.onConnect !== undefined,
  };
  for (const key of SESSION_SETTINGS) {
    if (options[key] !== undefined) Object.assign(sessionSettings, { [key]: options[key] });
  }
  const sessions = new LiveSessions();
  const listener = createListener({
    ...listenerSettings(options),
    onConnection(connection) {
      const remoteAddress = connection.remoteAddress;
      // The session asks for the mechanisms as it starts, before the run that tracks the transport exists.
      let run: SessionRun | undefined;
      const session = new SmtpServerSession({
        ...sessionSettings,
        remoteAddress,
        xclient: options.xclient?.(remoteAddress) === true,
        xforward: options.xforward?.(remoteAddress) === true,
        ...(sasl
          ? {
              authMechanisms: (secure: boolean) =>
                sasl.mechanisms(
                  transportContext(run?.transport ?? connection.transport, { secure, remoteAddress }),
                ),
            }
          : {}),
      });
      if (connection.transport.info.secure) session.markSecure();
      sessions.add();
      run = new SessionRun(session, connection, options, {
        sessions,
        sasl,
        ...(transactionTimeout !== Number.POSITIVE_INFINITY ? { transactionTimeout } : {}),
        ...(authentication ? { authentication } : {}),
      });
      const started = run;
      void started.serve();
      return { goodbye: (reason) => started.goodbye(reason === 'shutdown' ? 'shutdown' : 'timeout') };
    },
    async onRefused({ transport }) {
      await transport.write(TOO_MANY_CONNECTIONS);
    },
    onError(error, remoteAddress) {
      options.onError?.(error, { remoteAddress: remoteAddress ?? 'unknown', remotePort: 0, secure: false });
    },
  });
  return {
    listen: () => listener.listen(),
    close: (closeOptions) => sessions.close(listener, closeOptions),
  };
}

/** `mailAuthentication` with its defaults filled in, once per server. */
interface MailAuthentication {
  readonly resolver: DnsResolver;
  readonly authservId: string;
  readonly sha256: Sha256Factory;
  readonly hooks: SmtpMailAuthenticationOptions;
}

/** The server's mail authentication settings; the authserv-id is checked now, not at the first message. */
function mailAuthentication(options: SmtpServerOptions): MailAuthentication {
  const hooks = options.mailAuthentication!;
  const authservId = hooks.authservId ?? options.hostname;
  formatAuthenticationResults({ authservId, results: [] });
  return {
    resolver: hooks.resolver ?? createNodeDnsResolver(),
    authservId,
    sha256: hooks.sha256 ?? nodeSha256,
    hooks,
  };
}

/** A message held whole until it is authenticated: the server's `Received:` header and the client's bytes. */
interface HeldMessage {
  readonly envelope: SmtpEnvelope;
  received?: Uint8Array;
  readonly chunks: Uint8Array[];
}

/** Whether a hook's answer refuses. */
function refuses(answer: SmtpReply | undefined): answer is SmtpReply {
  return answer !== undefined && answer.code >= 400;
}

/** The message being received: where its bytes go, and the application's answer to come. */
interface MessageInProgress {
  readonly content: PushStream;
  readonly result: Promise<SmtpHookResult | readonly SmtpReply[]>;
  /** Records the message's final size at its end. */
  end(size: number): void;
}

/** One connection's loop: feeds the session, writes its output, and runs the hooks for its decisions. */
class SessionRun {
  readonly #session: SmtpServerSession;
  readonly #connection: ServerConnection;
  readonly #options: SmtpServerOptions;
  readonly #sessions: LiveSessions;
  readonly #sasl: SaslServer | undefined;
  readonly #authentication: MailAuthentication | undefined;
  /** With mail authentication: the SPF result of the transaction's MAIL FROM. */
  #spf: SpfCheck | undefined;
  /** With mail authentication: the message being received, held until it ends. */
  #held: HeldMessage | undefined;
  /** From an accepted MAIL to the end of its message (`transactionTimeout`). */
  readonly #transactionDeadline: Deadline | undefined;
  /** Read and written through the Node transport's fast path, without web streams. */
  #transport: NodeTransport;
  #message: MessageInProgress | undefined;
  /** The answer to come for the message that ended: a goodbye waits for it. */
  #storing: Promise<unknown> | undefined;
  /** The SASL exchange of the AUTH command in progress. */
  #exchange: SaslServerExchange | undefined;
  /** Replies not yet written: they go out together when the session waits for the client. */
  #replies: Uint8Array[] = [];
  /**
   * The loop waits for the application (a hook, a SASL verifier, `onData`), not for the connection: a
   * close is reported at once, since the loop may never come back to see it.
   */
  #inApplication = false;
  /** `onClose` has been called. */
  #closeReported = false;

  constructor(
    session: SmtpServerSession,
    connection: ServerConnection,
    options: SmtpServerOptions,
    settings: {
      readonly sessions: LiveSessions;
      readonly sasl: SaslServer | undefined;
      readonly transactionTimeout?: number;
      readonly authentication?: MailAuthentication;
    },
  ) {
    this.#session = session;
    this.#connection = connection;
    this.#options = options;
    this.#sessions = settings.sessions;
    this.#sasl = settings.sasl;
    this.#authentication = settings.authentication;
    this.#transport = connection.transport;
    if (settings.transactionTimeout !== undefined) {
      this.#transactionDeadline = createDeadline(settings.transactionTimeout, () => this.#expire(), {
        start: false,
      });
    }
  }

  /** The transport now (after STARTTLS, the TLS one): its channel binding and client certificate decide what AUTH offers. */
  get transport(): NodeTransport {
    return this.#transport;
  }

  get #info(): SmtpConnectionInfo {
    const session = this.#session;
    const xclient = session.xclient;
    const peer = { address: this.#connection.remoteAddress, port: this.#connection.remotePort };
    const address = xclient?.address === undefined ? peer.address : (xclient.address ?? 'unknown');
    const port = xclient?.port === undefined ? peer.port : (xclient.port ?? 0);
    const name = xclient?.name === '[TEMPUNAVAIL]' ? undefined : xclient?.name;
    const { tlsProtocol, tlsCipher } = this.#transport.info;
    const clientName = session.clientName;
    return {
      remoteAddress: address,
      remotePort: port,
      ...(name ? { remoteName: name } : {}),
      secure: session.secure,
      ...(session.secure
        ? {
            tls: {
              ...(tlsProtocol !== undefined ? { protocol: tlsProtocol } : {}),
              ...(tlsCipher !== undefined ? { cipher: tlsCipher } : {}),
            },
          }
        : {}),
      ...(clientName !== undefined ? { clientName } : {}),
      ...(session.user !== undefined ? { user: session.user } : {}),
      ...(address !== peer.address || port !== peer.port ? { peer } : {}),
      ...(xclient ? { xclient } : {}),
      ...(session.forwarded ? { forwarded: session.forwarded } : {}),
    };
  }

  async serve(): Promise<void> {
    const closed = (): void => {
      if (this.#inApplication) this.#abandon();
    };
    this.#connection.transport.closed.then(closed, closed);
    try {
      for (;;) {
        const event = this.#session.next();
        if (!event) {
          await this.#flush();
          this.#armDeadlines();
          const value = await this.#transport.read();
          if (value === undefined) break;
          this.#session.receive(value);
          if (!this.#connection.commandDeadline.pending) this.#connection.commandDeadline.reset();
          continue;
        }
        if (event.type === 'close') break;
        if (event.type === 'write') {
          this.#replies.push(event.data);
          continue;
        }
        // The command is complete: the time the application takes to answer it is not the client's.
        if (this.#answeredByApplication(event)) this.#connection.commandDeadline.clear();
        // The handshake of STARTTLS ends with the connection; everything else waits for the application.
        this.#inApplication = event.type !== 'starttls';
        await this.#handle(event);
        this.#inApplication = false;
      }
    } catch (error) {
      // Once the close was reported, what fails is only the dead connection.
      if (!this.#closeReported) this.#options.onError?.(error, this.#info);
    } finally {
      this.#inApplication = false;
      this.#transactionDeadline?.clear();
      await this.#flush().catch(() => {});
      this.#dropMessage(new Error('the connection closed before the message ended'));
      await this.#connection.close();
      await this.#closed();
    }
  }

  /**
   * The connection closed while the loop waits for the application: the message in progress fails and
   * `onClose` is called now, not once (if ever) the application answers.
   */
  #abandon(): void {
    this.#transactionDeadline?.clear();
    this.#dropMessage(new Error('the connection closed before the message ended'));
    void this.#closed();
  }

  /**
   * Whether the answer to `event` waits for the application (a hook, SASL, `onData`); the others are
   * answered at once, and the command deadline need not stop for them.
   */
  #answeredByApplication(event: SmtpServerEvent): boolean {
    const options = this.#options;
    switch (event.type) {
      case 'connect':
        return options.onConnect !== undefined;
      case 'helo':
        return options.onHelo !== undefined;
      case 'mail':
        return options.onMailFrom !== undefined || this.#authentication !== undefined;
      case 'rcpt':
        return options.onRcptTo !== undefined;
      case 'vrfy':
        return options.onVrfy !== undefined;
      case 'expn':
        return options.onExpn !== undefined;
      case 'auth':
      case 'auth-response':
      case 'message-end':
        return true;
      default:
        return false;
    }
  }

  /** Says goodbye for the listener (shutdown, idle, timeout): `421`, then the listener closes. */
  async goodbye(reason: 'shutdown' | 'timeout'): Promise<void> {
    // Given, the answer is among the session's output before the goodbye goes on.
    await this.#storing?.catch(() => {});
    await this.#flush();
    this.#session.shutdown(reason);
    for (let event = this.#session.next(); event; event = this.#session.next()) {
      if (event.type === 'write') await this.#transport.write(event.data);
    }
  }

  /**
   * Runs the whole-request deadline while the client is in the middle of a command or a message (case
   * 53), and the transaction deadline from MAIL to the end of the message.
   */
  #armDeadlines(): void {
    const { commandDeadline } = this.#connection;
    if (this.#session.busy) {
      if (!commandDeadline.pending) commandDeadline.reset();
    } else {
      commandDeadline.clear();
    }
    const transaction = this.#transactionDeadline;
    if (!transaction) return;
    if (!this.#session.inTransaction) transaction.clear();
    else if (!transaction.pending) transaction.reset();
  }

  /** The transaction took too long: `421 4.4.2`, and the connection closes; the message is dropped. */
  #expire(): void {
    this.#dropMessage(new Error('the transaction took longer than transactionTimeout'));
    void this.goodbye('timeout')
      .catch((error: unknown) => this.#options.onError?.(error, this.#info))
      .finally(() => this.#connection.close());
  }

  /** Tells the application the connection has closed; once, whichever way it learns of it first. */
  async #closed(): Promise<void> {
    if (this.#closeReported) return;
    this.#closeReported = true;
    await this.#sessions.end(
      () => this.#options.onClose?.(this.#info),
      (error) => this.#options.onError?.(error, this.#info),
    );
  }

  async #handle(event: Exclude<SmtpServerEvent, { type: 'write' | 'close' }>): Promise<void> {
    const session = this.#session;
    const options = this.#options;
    switch (event.type) {
      case 'connect':
        this.#respond(await this.#hook(() => options.onConnect?.(this.#info)));
        return;
      case 'helo':
        this.#respond(await this.#hook(() => options.onHelo?.(event.domain, this.#info)));
        return;
      case 'mail':
        this.#respond(await this.#mailFrom(event));
        return;
      case 'rcpt':
        this.#respond(await this.#hook(() => options.onRcptTo?.(event.to, event.parameters, this.#info)));
        return;
      case 'vrfy':
        this.#respond(await this.#hook(() => options.onVrfy?.(event.argument, this.#info)));
        return;
      case 'expn':
        this.#respond(await this.#hook(() => options.onExpn?.(event.argument, this.#info)));
        return;
      case 'message-start':
        if (this.#authentication) this.#held = { envelope: event.envelope, chunks: [] };
        else this.#message = this.#startMessage(event.envelope);
        this.#respond();
        return;
      case 'message-data':
        if (this.#held) {
          if (event.trace) this.#held.received = event.data;
          else this.#held.chunks.push(event.data);
          return;
        }
        // A stream the application cancelled drops further bytes: its answer still decides.
        await this.#message?.content.push(event.data);
        return;
      case 'message-abort':
        this.#dropMessage(new Error(`the message was given up: ${event.reason}`));
        return;
      case 'message-end': {
        // The transaction and command deadlines cover the client's part; storing the message is the
        // application's.
        this.#transactionDeadline?.clear();
        this.#connection.commandDeadline.clear();
        const held = this.#held;
        if (held) {
          this.#held = undefined;
          const delivered = this.#deliverAuthenticated(held, event.size);
          this.#storing = delivered;
          const answer = await delivered;
          this.#storing = undefined;
          this.#respond(answer);
          return;
        }
        const message = this.#message;
        this.#message = undefined;
        message?.end(event.size);
        message?.content.end();
        this.#storing = message?.result;
        const answer = await message?.result;
        this.#storing = undefined;
        this.#respond(answer);
        return;
      }
      case 'auth': {
        const info = this.#info;
        const context = transportContext(this.#transport, {
          secure: session.secure,
          remoteAddress: info.remoteAddress,
          connection: info,
        });
        this.#exchange = this.#sasl?.createExchange(context);
        const outcome = this.#exchange
          ? await this.#exchange.start(event.mechanism, event.initialResponse)
          : ({ type: 'failure', reason: 'mechanism-unavailable' } as const);
        session.authStep(this.#authStep(outcome));
        return;
      }
      case 'auth-response': {
        const outcome = this.#exchange
          ? await this.#exchange.respond(event.line)
          : ({ type: 'failure', reason: 'cancelled' } as const);
        session.authStep(this.#authStep(outcome));
        return;
      }
      case 'starttls':
        // The 220 goes out before the handshake starts.
        await this.#flush();
        this.#transport = await this.#transport.startTls();
        this.#respond();
        return;
    }
  }

  /** The session's step for an AUTH outcome; a verifier or SASL hook that threw is reported. */
  #authStep(outcome: SaslServerOutcome): ReturnType<typeof toSessionStep> {
    if (outcome.type === 'failure' && outcome.cause !== undefined) {
      this.#options.onError?.(outcome.cause, this.#info);
    }
    return toSessionStep(outcome);
  }

  /**
   * Answers the pending decision; an answer the session cannot take (a malformed reply, a wrong number
   * of LMTP replies) is the application's error, and the client hears a temporary failure instead, so
   * that the session stays in step and a message is retried, never lost.
   */
  #respond(answer?: SmtpHookResult | readonly SmtpReply[]): void {
    try {
      this.#session.respond(answer ?? undefined);
    } catch (error) {
      this.#options.onError?.(error, this.#info);
      this.#session.respond(HOOK_FAILED);
    }
  }

  /**
   * MAIL FROM: the application's `onMailFrom`, then, with mail authentication and unless the client
   * authenticated, the SPF check and the application's judgement of it.
   */
  async #mailFrom(event: Extract<SmtpServerEvent, { type: 'mail' }>): Promise<SmtpReply | undefined> {
    const answer = await this.#hook(() =>
      this.#options.onMailFrom?.(event.from, event.parameters, this.#info),
    );
    const authentication = this.#authentication;
    this.#spf = undefined;
    if (!authentication || refuses(answer) || this.#session.user !== undefined) return answer;
    const info = this.#info;
    const check = await checkSpf({
      ip: info.remoteAddress,
      sender: event.from?.address ?? '',
      helo: info.clientName ?? '',
      resolver: authentication.resolver,
      receiver: authentication.authservId,
    });
    const verdict = await this.#hook(() => authentication.hooks.spf?.(check, info));
    if (refuses(verdict)) return verdict;
    this.#spf = check;
    return answer ?? verdict;
  }

  /**
   * The end of a held message: authenticates it, then, unless the verdict hook refuses it, hands it whole
   * to `onData`. A failure of the checks or of a hook gets the client a temporary failure.
   */
  async #deliverAuthenticated(
    held: HeldMessage,
    size: number,
  ): Promise<SmtpHookResult | readonly SmtpReply[]> {
    let judged: { readonly message: SmtpAuthenticatedMessage; readonly verdict: SmtpReply | undefined };
    try {
      judged = await this.#judge(held);
    } catch (error) {
      this.#options.onError?.(error, this.#info);
      return HOOK_FAILED;
    }
    const { message, verdict } = judged;
    if (refuses(verdict)) return verdict;
    const incoming = this.#startMessage(message.envelope, message.authentication);
    incoming.end(size);
    await incoming.content.push(message.bytes);
    incoming.content.end();
    return (await incoming.result) ?? verdict;
  }

  /**
   * Authenticates a held message, writes the Authentication-Results field (and the classifier's fields)
   * at its top, and asks the verdict hook about it. Only the message to deliver is kept.
   */
  async #judge(
    held: HeldMessage,
  ): Promise<{ message: SmtpAuthenticatedMessage; verdict: SmtpReply | undefined }> {
    const { resolver, authservId, sha256, hooks } = this.#authentication!;
    const info = this.#info;
    const { envelope } = held;
    const client = concatBytes(held.chunks);
    held.chunks.length = 0;
    const authentication = await authenticateMessage(client, {
      resolver,
      ip: info.remoteAddress,
      helo: info.clientName ?? '',
      mailFrom: envelope.from?.address ?? '',
      authservId,
      sha256,
      ...(this.#spf ? { spf: this.#spf } : {}),
      ...(info.user !== undefined ? { authenticatedUser: info.user } : {}),
    });
    const classify = hooks.classify;
    const bytes = authenticatedMessage(
      authentication.field,
      held.received,
      client,
      authservId,
      classify !== undefined,
    );
    let message: SmtpAuthenticatedMessage = { envelope, bytes, authentication };
    const spam = await classify?.(message, info);
    if (spam) {
      message = {
        envelope,
        bytes: concatBytes([utf8(spamHeaders(spam)), bytes]),
        authentication: { ...authentication, spam },
      };
    }
    const verdict = (await hooks.verdict?.(message.authentication, message, info)) ?? undefined;
    return { message, verdict };
  }

  /** Hands a new message to `onData`, and keeps where its bytes go and the answer to come. */
  #startMessage(envelope: SmtpEnvelope, authentication?: SmtpMessageAuthentication): MessageInProgress {
    const content = new PushStream();
    const session = this.#session;
    let finalSize: number | undefined;
    let nodeStream: Readable | undefined;
    const message: SmtpIncomingMessage = {
      get stream() {
        return content.stream;
      },
      nodeStream: () => {
        nodeStream ??= Readable.from(content, { objectMode: false });
        return nodeStream;
      },
      [Symbol.asyncIterator]: () => content[Symbol.asyncIterator](),
      envelope,
      get size() {
        return finalSize ?? session.messageSize;
      },
      ...(authentication ? { authentication } : {}),
    };
    const onData = this.#options.onData ?? discard;
    const result = Promise.resolve()
      .then(() => onData(message, this.#info))
      .catch((error: unknown) => {
        this.#options.onError?.(error, this.#info);
        return HOOK_FAILED;
      });
    // An application that answers (or fails) before reading the message to its end reads no more of it:
    // the rest is dropped as it arrives, so that the session is never held up behind a stream nobody reads.
    void result.then(() => content.discard());
    return {
      content,
      result,
      end: (size) => {
        finalSize = size;
      },
    };
  }

  /** Writes the replies gathered so far, in one write. */
  async #flush(): Promise<void> {
    if (this.#replies.length === 0) return;
    const replies = this.#replies;
    this.#replies = [];
    await this.#transport.write(replies.length === 1 ? replies[0]! : concatBytes(replies));
  }

  /** Runs a hook; one that throws gets the client a temporary failure. */
  async #hook(run: () => SmtpHookResult | Promise<SmtpHookResult>): Promise<SmtpReply | undefined> {
    try {
      return (await run()) ?? undefined;
    } catch (error) {
      this.#options.onError?.(error, this.#info);
      return HOOK_FAILED;
    }
  }

  /** Errors the message stream so that the application delivers nothing; a held message is let go. */
  #dropMessage(reason: Error): void {
    this.#held = undefined;
    const message = this.#message;
    this.#message = undefined;
    message?.content.fail(reason);
  }
}

/** The default `onData`: reads the message to its end and accepts it. */
async function discard(message: SmtpIncomingMessage): Promise<undefined> {
  for await (const _ of message) {
    // Read to the end.
  }
}

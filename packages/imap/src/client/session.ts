import {
  AbortError,
  AuthenticationError,
  ClientConnection,
  ConnectionError,
  type Connector,
  connectClient,
  createDeadline,
  type Deadline,
  decodeLatin1,
  ErrorCode,
  InvalidArgumentError,
  ProtocolError,
  type StartTlsPolicy,
  shouldStartTls,
  TimeoutError,
  type TlsClientOptions,
  TlsError,
  type TraceHook,
  Tracer,
  utf8,
} from '@postwire/core';
import type { SaslClient, SaslClientConnection, SaslClientExchange } from '@postwire/sasl';
import { type ImapCommand, type ImapCommandBody, serializeCommand } from '../protocol/command.js';
import type { ImapLimits } from '../protocol/limits.js';
import {
  type Fragment,
  ImapReader,
  type LiteralStartEvent,
  type NonSyncLiterals,
  tagOf,
} from '../protocol/reader.js';
import {
  type ContinuationResponse,
  type DataResponse,
  type ImapResponse,
  parseResponse,
  type ResponseOptions,
  type StatusResponse,
} from '../protocol/response.js';
import { ImapWriter, type LiteralSource, type OutputPart } from '../protocol/writer.js';
import { canCompress } from './compress.js';
import { ImapResponseError } from './errors.js';
import type { ImapEmit } from './events.js';
import type { MailboxTracker } from './mailbox-state.js';

/** How long the client waits, in milliseconds. */
export interface ImapClientTimeouts {
  /** The TCP connect, and the TLS handshake with implicit TLS (default 30 s). */
  readonly connect: number;
  /** The server's greeting (default 30 s). */
  readonly greeting: number;
  /**
   * Silence from the server while a response is awaited (default 5 minutes); when it passes the
   * connection is given up. It does not run during IDLE, nor while the application is slow to read a
   * fetched body.
   */
  readonly command: number;
}

/** The defaults of {@link ImapClientTimeouts}. */
export const defaultImapClientTimeouts: ImapClientTimeouts = {
  connect: 30_000,
  greeting: 30_000,
  command: 300_000,
};

/**
 * The client's defaults for the shared grammar's limits: a response line may be long (a SEARCH of a large
 * mailbox without ESEARCH, a THREAD), everything else as on the server.
 */
export const defaultImapClientLimits: Partial<ImapLimits> = { maxLineLength: 8 * 1024 * 1024 };

/** A tagged status response. */
export type TaggedResponse = Extract<StatusResponse, { type: 'tagged' }>;
/** An untagged response: data, or a status (OK, NO, BAD, PREAUTH, BYE). */
export type UntaggedResponse =
  | DataResponse
  | Extract<
      StatusResponse,
      {
        /** The response's kind. */
        type: 'status';
      }
    >;

/** Where the octets of a streamed FETCH body literal go. */
export interface LiteralSink {
  /** A piece of the literal; a returned promise makes the client stop reading until it settles. */
  data(chunk: Uint8Array): Promise<void> | undefined;
  /** The literal is complete. */
  end(): void;
}

/** How a command takes the responses meant for it; every member is optional. */
export interface CommandHandler {
  /** An untagged response, offered to the commands in flight oldest first; `true` claims it. */
  untagged?(response: UntaggedResponse): boolean;
  /**
   * A streamed body literal begins. `partial` is the response read so far, closed after the literal
   * (`undefined` when it cannot be read); a sink claims it.
   */
  literal?(start: LiteralStartEvent, partial: ImapResponse | undefined): LiteralSink | undefined;
  /** A `+` that no literal of a command waits for (AUTHENTICATE, IDLE). */
  continuation?(response: ContinuationResponse): void;
  /**
   * The command will not end well: a response meant for it could not be read (it fails with `error` when
   * it completes), or the connection failed.
   */
  failed?(error: Error): void;
}

/** A command to run. */
export interface CommandSpec {
  /**
   * The command; one still being prepared (an APPEND whose content is read first) holds the commands
   * after it until it is ready, so that commands go out in the order asked for. For `exec`, a function
   * writing it with the writer.
   */
  readonly command:
    | ImapCommandBody
    | Promise<ImapCommandBody>
    | ((tag: string, writer: ImapWriter) => OutputPart[]);
  /** The name in errors, for a command given as a promise or a function. */
  readonly name?: string;
  readonly handler?: CommandHandler;
  /** Waits for every command before it, and holds back those after it, until it completes. */
  readonly exclusive?: boolean;
  /** The server may stay silent as long as it likes (IDLE): no response timeout. */
  readonly silent?: boolean;
  /** Resolve with a `NO` or `BAD` rather than reject. */
  readonly allowFailure?: boolean;
  readonly signal?: AbortSignal | undefined;
  /** Milliseconds the caller waits for the answer. */
  readonly timeout?: number | undefined;
}

/** How a session logs in. */
export interface ImapLogin {
  readonly sasl: SaslClient;
  /** For LOGIN, when no SASL mechanism is in common. */
  readonly username?: string;
  readonly password?: string;
  /** LOGIN may go without TLS. */
  readonly allowCleartext: boolean;
}

/** How one connection is opened and set up. */
export interface ImapSessionOptions {
  readonly connector: Connector;
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly tls?: TlsClientOptions;
  readonly starttls: StartTlsPolicy;
  /** `undefined`: only a PREAUTH server can be used. */
  readonly login: ImapLogin | undefined;
  /** Send COMPRESS DEFLATE after login when the server offers it and the transport can compress. */
  readonly compress: boolean;
  readonly limits: Partial<ImapLimits>;
  readonly timeouts: ImapClientTimeouts;
  readonly trace?: TraceHook;
  readonly signal?: AbortSignal;
  readonly emit: ImapEmit;
}

/** A command queued or sent, and what its caller waits for. */
interface Request {
  readonly tag: string;
  readonly name: string;
  readonly spec: CommandSpec;
  state: 'queued' | 'writing' | 'sent';
  /** The server may stay silent (IDLE until its DONE is sent). */
  silent: boolean;
  /** A response meant for it could not be read. */
  error: Error | undefined;
  /** The caller has its answer (or gave up): later outcomes are dropped. */
  settled: boolean;
  resolve(response: TaggedResponse): void;
  reject(error: Error): void;
}

/** The codes of a refused login that are about the credentials (RFC 5530). */
const CREDENTIAL_CODES = new Set(['AUTHENTICATIONFAILED', 'AUTHORIZATIONFAILED', 'EXPIRED']);
/** The commands that leave the open mailbox as soon as they are sent. */
const DESELECTING = new Set(['SELECT', 'EXAMINE', 'CLOSE', 'UNSELECT']);
const CLOSE_PARENTHESIS = utf8(')');
const DROP: LiteralSink = { data: () => undefined, end: () => {} };
const ANNOUNCEMENT_END = /\{\d+[+-]?\}(?=\r\n$)/;

/**
 * One connection to an IMAP server, set up (greeting, STARTTLS by policy, login, capabilities) and able
 * to run commands. Commands are written in the order asked for, without waiting for earlier answers
 * (pipelining), except those that change the session's state (SELECT, STARTTLS, AUTHENTICATE, IDLE …),
 * which wait for the others. Responses are read as they arrive: untagged ones go to the oldest command in
 * flight that claims them, then update the open mailbox and become events; tagged ones complete their
 * command. A tagged response for a command not (fully) sent, a `+` nobody waits for, or anything after
 * the STARTTLS `OK` fails the session (catalogue cases 7, 10, 11). A response that cannot be read fails
 * only the command it was meant for.
 */
export class ImapClientSession {
  readonly #options: ImapSessionOptions;
  readonly #tracer: Tracer;
  readonly #reader: ImapReader;
  readonly #deadline: Deadline;
  #connection!: ClientConnection;
  readonly #queue: Request[] = [];
  readonly #inflight: Request[] = [];
  #tags = 0;
  #writing = false;
  /** The command whose text is still being prepared (an APPEND's content read into memory). */
  #preparing: Request | undefined;
  #wakeWriter: (() => void) | undefined;
  /** The command whose literal waits for a `+`, and how to tell it. */
  #continuation: { readonly request: Request; readonly go: (proceed: boolean) => void } | undefined;
  #sink: LiteralSink | undefined;
  #sinkOwner: Request | undefined;
  /** A wait a command asked for after the response being handled (a fetch whose reader is behind). */
  #hold: Promise<void> | undefined;
  #release: (() => void) | undefined;
  readonly #queuedListeners = new Set<() => void>();
  #greeted = false;
  #greeting!: {
    resolve(response: Extract<StatusResponse, { type: 'status' }>): void;
    reject(error: Error): void;
  };
  readonly #greetingPromise: Promise<Extract<StatusResponse, { type: 'status' }>>;
  #capabilities = new Set<string>();
  #capabilityUpdates = 0;
  readonly #enabled = new Set<string>();
  #mailbox: MailboxTracker | undefined;
  /** STARTTLS was accepted: anything more before the handshake is an injection (case 7). */
  #tlsPending = false;
  #compressed = false;
  #ready = false;
  #bye: Extract<StatusResponse, { type: 'status' }> | undefined;
  /** Why the session ended, as told to the commands pending then. */
  #failure: Error | undefined;
  readonly #onAbort = (): void => {
    this.#connection.abort(new AbortError(undefined, { cause: this.#options.signal?.reason }));
  };

  private constructor(options: ImapSessionOptions) {
    this.#options = options;
    this.#tracer = new Tracer(options.trace, 'client');
    this.#reader = new ImapReader({
      side: 'client',
      limits: { ...defaultImapClientLimits, ...options.limits },
    });
    this.#deadline = createDeadline(options.timeouts.command, () => this.#timedOut(), { start: false });
    this.#greetingPromise = new Promise((resolve, reject) => {
      this.#greeting = { resolve, reject };
    });
    this.#greetingPromise.catch(() => {});
  }

  /** Connects, upgrades, logs in and reads the capabilities; rejects (and closes) on any failure. */
  static async open(options: ImapSessionOptions): Promise<ImapClientSession> {
    const session = new ImapClientSession(options);
    const { signal } = options;
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    const transport = await connectClient({ ...options, timeout: options.timeouts.connect });
    session.#connection = new ClientConnection(transport, session.server, {
      receive: (bytes) => session.#receive(bytes),
      failed: (error) => session.#failed(error),
    });
    signal?.addEventListener('abort', session.#onAbort, { once: true });
    session.#deadline.reset(options.timeouts.greeting);
    try {
      if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
      await session.#setUp();
    } catch (error) {
      // A broken connection (an injection, a forged answer) is the cause, whatever step noticed it.
      const failure = session.failure;
      await session.close();
      throw failure ?? error;
    }
    session.#ready = true;
    return session;
  }

  /** `host:port` of the server. */
  get server(): string {
    return `${this.#options.host}:${this.#options.port}`;
  }

  /** The connection is inside TLS. */
  get secure(): boolean {
    return this.#connection.transport.info.secure;
  }

  /** Both directions are compressed (COMPRESS=DEFLATE). */
  get compressed(): boolean {
    return this.#compressed;
  }

  /** The capabilities last announced (upper case); after STARTTLS and login, those announced then. */
  get capabilities(): ReadonlySet<string> {
    return this.#capabilities;
  }

  /** What ENABLE turned on (upper case). */
  get enabled(): ReadonlySet<string> {
    return this.#enabled;
  }

  /** Mailbox names and strings travel as UTF-8 (UTF8=ACCEPT or IMAP4rev2 enabled). */
  get utf8(): boolean {
    return this.#enabled.has('UTF8=ACCEPT') || this.#enabled.has('IMAP4REV2');
  }

  /** The open mailbox, kept up to date; `undefined` when none is open. */
  get mailbox(): MailboxTracker | undefined {
    return this.#mailbox;
  }

  /** The first failure of the connection, or `undefined` while it is usable. */
  get failure(): Error | undefined {
    return this.#failure ?? this.#connection.failure;
  }

  /** The grammar's options for this session's responses. */
  get responseOptions(): ResponseOptions {
    return { utf8Accept: this.utf8, maxDepth: this.#reader.limits.maxDepth };
  }

  /** Whether the server announced `capability`. */
  has(capability: string): boolean {
    return this.#capabilities.has(capability.toUpperCase());
  }

  /** Makes `mailbox` the open one (SELECT or EXAMINE succeeded). */
  select(mailbox: MailboxTracker): void {
    this.#mailbox = mailbox;
  }

  /**
   * Runs a command: queues it, writes it in its turn and resolves with its tagged `OK` (rejects with an
   * {@link ImapResponseError} on `NO` or `BAD`). The caller's signal or timeout rejects at once: a command
   * not yet written is dropped, one written has its answer read and dropped, and one half-written (a
   * literal being streamed) ends the connection, since it cannot be taken back.
   */
  run(spec: CommandSpec): Promise<TaggedResponse> {
    // A command still being prepared may never be written (given up, or the connection failed first):
    // its failure then has no one to report to.
    if (spec.command instanceof Promise) spec.command.catch(() => {});
    const failure = this.failure;
    if (failure) return Promise.reject(failure);
    if (spec.signal?.aborted) return Promise.reject(new AbortError(undefined, { cause: spec.signal.reason }));
    return new Promise((resolve, reject) => {
      const command = spec.command;
      const name =
        typeof command === 'function' || command instanceof Promise
          ? (spec.name ?? 'command')
          : `${'uid' in command && command.uid ? 'UID ' : ''}${command.name}`;
      let cleanUp = (): void => {};
      const request: Request = {
        tag: `A${++this.#tags}`,
        name,
        spec,
        state: 'queued',
        silent: spec.silent === true,
        error: undefined,
        settled: false,
        resolve: (response) => {
          if (request.settled) return;
          request.settled = true;
          cleanUp();
          resolve(response);
        },
        reject: (error) => {
          if (request.settled) return;
          request.settled = true;
          cleanUp();
          reject(error);
        },
      };
      cleanUp = this.#guard(request);
      this.#queue.push(request);
      // A command behind the one being read must be reachable: stop waiting for a slow fetch reader.
      this.#release?.();
      for (const listener of this.#queuedListeners) listener();
      void this.#writeLoop();
    });
  }

  /** Asks the reader to wait for `promise` after the response being handled (a fetch's consumer is behind). */
  pause(promise: Promise<void>): void {
    this.#hold = promise;
  }

  /** Calls `listener` whenever a command is queued (IDLE ends itself then); returns the unsubscribe. */
  onQueued(listener: () => void): () => void {
    this.#queuedListeners.add(listener);
    return () => this.#queuedListeners.delete(listener);
  }

  /** Writes a line that is not a command (a SASL response, IDLE's `DONE`); an answer is then due. */
  async writeLine(line: string): Promise<void> {
    if (/[\r\n]/.test(line)) throw new InvalidArgumentError('a line cannot hold CR or LF');
    for (const request of this.#inflight) request.silent = false;
    this.#rearm();
    this.#tracer.sent(line);
    await this.#connection.write(utf8(`${line}\r\n`));
  }

  /** Closes the connection at once. */
  async close(): Promise<void> {
    await this.#connection.close(
      new ConnectionError(ErrorCode.ConnectionClosed, 'the IMAP session was closed'),
    );
  }

  async #setUp(): Promise<void> {
    const greeting = await this.#greetingPromise;
    if (greeting.status === 'BYE') throw new ImapResponseError('CONNECT', { ...greeting, status: 'BYE' });
    if (greeting.status === 'PREAUTH') {
      // Case 9: a cleartext PREAUTH cannot be upgraded, and is not to be trusted.
      if (!this.secure && this.#options.starttls === 'required')
        throw new TlsError(
          ErrorCode.StartTlsRequired,
          'the server sent PREAUTH in cleartext, and STARTTLS is required',
        );
      if (this.#capabilities.size === 0) await this.#readCapabilities();
      return;
    }
    if (this.#capabilities.size === 0) await this.#readCapabilities();
    if (shouldStartTls(this.#options.starttls, this.has('STARTTLS'), this.secure)) await this.#startTls();
    const updates = this.#capabilityUpdates;
    await this.#logIn();
    // The capabilities change with login; a server that did not announce them again is asked.
    if (this.#capabilityUpdates === updates) await this.#readCapabilities();
    if (this.#options.compress && this.has('COMPRESS=DEFLATE') && canCompress(this.#connection.transport))
      await this.run({
        command: { name: 'COMPRESS', mechanism: 'DEFLATE' },
        exclusive: true,
        allowFailure: true,
      });
  }

  async #readCapabilities(): Promise<void> {
    await this.run({ command: { name: 'CAPABILITY' } });
  }

  async #startTls(): Promise<void> {
    const response = await this.run({
      command: { name: 'STARTTLS' },
      exclusive: true,
      allowFailure: true,
    });
    if (response.status !== 'OK') {
      if (this.#options.starttls === 'required')
        throw new TlsError(
          ErrorCode.StartTlsRequired,
          `STARTTLS refused: ${response.status} ${response.text}`,
        );
      return;
    }
    if (this.#connection.failure) throw this.#connection.failure;
    await this.#connection.startTls(() => this.#reader.reset());
    this.#tlsPending = false;
    // Case 10, RFC 9051 §6.2.1: what was announced in cleartext may have been forged.
    this.#capabilities = new Set();
    await this.#readCapabilities();
  }

  async #logIn(): Promise<void> {
    const login = this.#options.login;
    if (!login)
      throw new AuthenticationError('no credentials were given, and the server did not send PREAUTH');
    const transport = this.#connection.transport;
    const connection: SaslClientConnection = {
      secure: this.secure,
      channelBinding: (type) => transport.channelBinding?.(type),
    };
    const offered = [...this.#capabilities]
      .filter((name) => name.startsWith('AUTH='))
      .map((name) => name.slice(5));
    if (offered.length > 0 && login.sasl.selectMechanism(offered, connection) !== undefined) {
      const exchange = await login.sasl.start(offered, connection, { initialResponse: this.has('SASL-IR') });
      return this.#authenticate(exchange);
    }
    const { username, password } = login;
    if (username === undefined || password === undefined || this.has('LOGINDISABLED'))
      throw new AuthenticationError('no login method in common with the server (cleartext ones need TLS)');
    if (!this.secure && !login.allowCleartext)
      throw new AuthenticationError('LOGIN would send the password in cleartext: use TLS or allowCleartext');
    const response = await this.run({
      command: { name: 'LOGIN', username, password },
      exclusive: true,
      allowFailure: true,
    });
    if (response.status !== 'OK') throw refusal('LOGIN', response);
  }

  /** AUTHENTICATE (RFC 9051 §6.2.2) with SASL-IR (RFC 4959) when offered. */
  async #authenticate(exchange: SaslClientExchange): Promise<void> {
    let failure: unknown;
    const answer = async (challenge: string): Promise<void> => {
      let line: string;
      try {
        line = await exchange.respond(challenge);
      } catch (error) {
        failure ??= error;
        line = '*';
      }
      await this.writeLine(line).catch(() => {});
    };
    const initial = exchange.initialResponse;
    const response = await this.run({
      command: {
        name: 'AUTHENTICATE',
        mechanism: exchange.mechanism,
        ...(initial !== undefined && { initialResponse: initial === '=' ? '' : initial }),
      },
      exclusive: true,
      allowFailure: true,
      handler: {
        continuation: (continuation) => {
          void answer(continuation.text);
        },
      },
    });
    if (failure) throw failure;
    if (response.status !== 'OK') throw refusal(`AUTHENTICATE ${exchange.mechanism}`, response);
    await exchange.complete();
  }

  /** Cancels `request` on its caller's signal or timeout; returns what undoes the watch. */
  #guard(request: Request): () => void {
    const { signal, timeout } = request.spec;
    if (!signal && timeout === undefined) return () => {};
    const cancel = (error: Error): void => {
      if (request.settled) return;
      const queued = this.#queue.indexOf(request);
      if (queued !== -1) {
        this.#queue.splice(queued, 1);
        // The writer may be waiting on it (a SELECT waits for the others): the next command may go now.
        this.#wake();
      } else if (request.state === 'writing') this.#connection.abort(error);
      request.reject(error);
    };
    const onAbort = (): void => cancel(new AbortError(undefined, { cause: signal?.reason }));
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer =
      timeout === undefined
        ? undefined
        : setTimeout(
            () => cancel(new TimeoutError(`${request.name} got no answer within ${timeout} ms`)),
            timeout,
          );
    return () => {
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(timer);
    };
  }

  /** Writes the queued commands in order, each in its turn. */
  async #writeLoop(): Promise<void> {
    if (this.#writing) return;
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#connection.failure) {
        const request = this.#queue[0]!;
        if (!this.#mayWrite(request)) {
          await new Promise<void>((resolve) => {
            this.#wakeWriter = resolve;
          });
          continue;
        }
        this.#queue.shift();
        await this.#write(request);
      }
    } finally {
      this.#writing = false;
    }
  }

  #mayWrite(request: Request): boolean {
    if (this.#inflight.some((other) => other.spec.exclusive)) return false;
    return !request.spec.exclusive || this.#inflight.length === 0;
  }

  async #write(request: Request): Promise<void> {
    let parts: OutputPart[];
    try {
      const command = request.spec.command;
      this.#preparing = request;
      parts = this.#serialize(request, command instanceof Promise ? await command : command);
    } catch (error) {
      request.reject(error as Error);
      return;
    } finally {
      this.#preparing = undefined;
    }
    if (request.settled || this.#connection.failure) return;
    request.state = 'writing';
    this.#inflight.push(request);
    if (DESELECTING.has(request.name)) this.#mailbox = undefined;
    this.#rearm();
    // The literal whose content comes next, and the one whose content was just sent (for the trace).
    let literal: string | undefined;
    let sent: string | undefined;
    try {
      for (let i = 0; i < parts.length; i++) {
        const part = parts[i]!;
        if (part.kind === 'stream') {
          [sent, literal] = [literal, undefined];
          await this.#stream(part.source);
          continue;
        }
        if (part.kind === 'await-continuation') continue;
        // Set before the bytes go: the answer may come before the write is reported done.
        if (i === parts.length - 1) request.state = 'sent';
        const proceed =
          parts[i + 1]?.kind === 'await-continuation' ? this.#expectContinuation(request) : undefined;
        if (literal !== undefined) [sent, literal] = [literal, undefined];
        else if (this.#tracer.enabled) [sent, literal] = [undefined, this.#traceSent(part.data, sent)];
        await this.#connection.write(part.data);
        if (proceed && !(await proceed)) return;
      }
    } catch (error) {
      // A literal of the wrong size, or a failed write: the stream is out of step.
      this.#connection.abort(error as Error);
    }
  }

  #serialize(
    request: Request,
    command: ImapCommandBody | ((tag: string, writer: ImapWriter) => OutputPart[]),
  ): OutputPart[] {
    const writer = new ImapWriter({
      side: 'client',
      nonSyncLiterals: this.#nonSyncLiterals(),
      utf8: this.utf8,
      maxNonSyncLiteral: this.#reader.limits.maxNonSyncLiteral,
    });
    if (typeof command === 'function') return command(request.tag, writer);
    return serializeCommand({ ...command, tag: request.tag } as ImapCommand, writer, {
      utf8Accept: this.utf8,
    });
  }

  #nonSyncLiterals(): NonSyncLiterals {
    if (this.has('LITERAL+')) return 'plus';
    return this.has('LITERAL-') ? 'minus' : 'none';
  }

  /** Streams a literal's chunks, exactly as many octets as announced. */
  async #stream(source: LiteralSource): Promise<void> {
    let written = 0;
    for await (const chunk of source.chunks) {
      written += chunk.length;
      if (written > source.size)
        throw new InvalidArgumentError(`the content is longer than the ${source.size} octets announced`);
      await this.#connection.write(chunk);
    }
    if (written !== source.size)
      throw new InvalidArgumentError(`the content is ${written} octets, not the ${source.size} announced`);
  }

  /** Resolves `true` on the server's `+`, `false` when the command was answered instead. */
  #expectContinuation(request: Request): Promise<boolean> {
    return new Promise((resolve) => {
      this.#continuation = { request, go: resolve };
    });
  }

  /**
   * Traces the lines of a command's text (a literal's content never); returns the announcement (`{n}`
   * or `{n+}`) when a literal's content follows. After a non-synchronising literal the line goes on
   * without a break, so an empty rest is not traced as a line of its own.
   */
  #traceSent(data: Uint8Array, previous: string | undefined): string | undefined {
    const text = decodeLatin1(data);
    const lines = text.split('\r\n').slice(0, -1);
    if (previous?.endsWith('+}') && lines[0] === '') lines.shift();
    for (const line of lines) this.#tracer.sent(line);
    return ANNOUNCEMENT_END.exec(text)?.[0];
  }

  #receive(bytes: Uint8Array): Promise<void> | undefined {
    if (this.#tlsPending) {
      this.#connection.fail(new ProtocolError(`${this.server} sent more after its STARTTLS response`));
      return undefined;
    }
    this.#reader.push(bytes);
    this.#rearm();
    return this.#drain();
  }

  /** Handles the events decoded so far, waiting (without the deadline) while a slow reader catches up. */
  #drain(): Promise<void> | undefined {
    for (let event = this.#reader.next(); event; event = this.#reader.next()) {
      if (this.#connection.failure) return undefined;
      if (this.#tlsPending) {
        // Case 7: a response after the STARTTLS OK came before TLS, and must never be read.
        this.#connection.fail(new ProtocolError(`${this.server} sent more after its STARTTLS response`));
        return undefined;
      }
      let wait: Promise<void> | undefined;
      switch (event.type) {
        case 'message':
          this.#message(event.fragments);
          break;
        case 'literal-start':
          this.#sink = this.#literalStart(event);
          break;
        case 'literal-data': {
          const sink = this.#sink ?? DROP;
          const pending = sink.data(event.data);
          if (event.remaining === 0) {
            sink.end();
            this.#sink = undefined;
          }
          wait = pending && this.#pause(pending);
          break;
        }
        case 'error':
          this.#connection.fail(event.error);
          return undefined;
      }
      const hold = this.#hold;
      this.#hold = undefined;
      if (!wait && hold) wait = this.#pause(hold);
      if (wait) {
        this.#deadline.clear();
        return wait.then(() => {
          if (this.#connection.failure) return undefined;
          this.#rearm();
          return this.#drain();
        });
      }
    }
    return undefined;
  }

  /**
   * Waits for `promise` unless a command is queued or in flight behind the one being read: its answer
   * lies past the rest of this one, so the rest is read (and held) rather than waited for. A command
   * queued while waiting ends the wait.
   */
  #pause(promise: Promise<void>): Promise<void> | undefined {
    if (this.#queue.length > 0 || this.#inflight.length > 1) return undefined;
    return new Promise<void>((resolve) => {
      this.#release = resolve;
      promise.then(resolve, resolve);
    }).finally(() => {
      this.#release = undefined;
    });
  }

  #message(fragments: readonly Fragment[]): void {
    if (this.#tracer.enabled)
      for (const fragment of fragments) if (fragment instanceof Uint8Array) this.#tracer.received(fragment);
    const owner = this.#sinkOwner;
    this.#sinkOwner = undefined;
    let response: ImapResponse;
    try {
      response = parseResponse(fragments, this.responseOptions);
    } catch (error) {
      this.#unreadable(error as Error, tagOf(fragments), owner);
      return;
    }
    if (response.type === 'tagged') this.#tagged(response);
    else if (response.type === 'continuation') this.#continued(response);
    else this.#untagged(response);
  }

  /**
   * A response that cannot be read fails the command it was for, never the session: the command it
   * completes (when its tag is readable), the one that took its literal, else the oldest in flight.
   */
  #unreadable(cause: Error, tag: string | undefined, owner: Request | undefined): void {
    const tagged = tag === undefined ? undefined : this.#inflight.find((request) => request.tag === tag);
    const request = tagged ?? owner ?? this.#inflight[0];
    if (!this.#greeted || !request || (tag !== undefined && !tagged)) {
      this.#connection.fail(
        new ProtocolError(`${this.server} sent a response that cannot be read: ${cause.message}`, { cause }),
      );
      return;
    }
    const error = new ProtocolError(`${request.name}: a response cannot be read: ${cause.message}`, {
      cause,
    });
    request.error ??= error;
    request.spec.handler?.failed?.(error);
    if (tagged) this.#complete(tagged, error);
  }

  #literalStart(start: LiteralStartEvent): LiteralSink {
    let partial: ImapResponse | undefined;
    try {
      const fragments: Fragment[] = [
        ...start.prefix,
        { kind: 'streamed', size: start.size, binary: start.binary },
        CLOSE_PARENTHESIS,
      ];
      partial = parseResponse(fragments, this.responseOptions);
    } catch {
      partial = undefined;
    }
    for (const request of this.#inflight) {
      const sink = request.spec.handler?.literal?.(start, partial);
      if (sink) {
        this.#sinkOwner = request;
        return sink;
      }
    }
    return DROP;
  }

  #tagged(response: TaggedResponse): void {
    const request = this.#inflight.find((candidate) => candidate.tag === response.tag);
    // Case 11: an answer to a command never sent, or an OK to one not yet fully sent, is forged.
    if (!this.#greeted || !request || (request.state !== 'sent' && response.status === 'OK')) {
      this.#connection.fail(
        new ProtocolError(
          `${this.server} answered a command it was not sent: ${JSON.stringify(response.tag)}`,
        ),
      );
      return;
    }
    if (request.name === 'STARTTLS' && response.status === 'OK') {
      // Nothing more is read in cleartext: TLS takes the socket with no read in flight.
      this.#tlsPending = true;
      this.#connection.holdReading();
    } else if (request.name === 'COMPRESS' && response.status === 'OK') this.#compress();
    else if (response.code?.code === 'CAPABILITY') this.#setCapabilities(response.code.capabilities);
    if (response.status === 'OK' || request.spec.allowFailure)
      this.#complete(request, request.error ?? response);
    else
      this.#complete(request, new ImapResponseError(request.name, { ...response, status: response.status }));
  }

  /**
   * RFC 4978 §3: every byte after COMPRESS's tagged OK is compressed, both ways. Switched while that
   * response is handled, before the connection reads on; bytes the server sent behind it in the same
   * read have already left the inflater's reach, so they fail the session rather than be misread.
   */
  #compress(): void {
    if (this.#reader.holding) {
      this.#connection.fail(
        new ProtocolError(`${this.server} sent more in the same read as its COMPRESS response`),
      );
      return;
    }
    const transport = this.#connection.transport;
    if (!canCompress(transport)) return;
    transport.compress();
    this.#compressed = true;
  }

  /** The command is answered: its caller gets the outcome, and the next command may go. */
  #complete(request: Request, outcome: TaggedResponse | Error): void {
    if (this.#continuation?.request === request) {
      this.#continuation.go(false);
      this.#continuation = undefined;
    }
    this.#inflight.splice(this.#inflight.indexOf(request), 1);
    if (outcome instanceof Error) request.reject(outcome);
    else request.resolve(outcome);
    this.#wake();
    this.#rearm();
  }

  /** Lets a waiting writer look at the queue again. */
  #wake(): void {
    const wake = this.#wakeWriter;
    this.#wakeWriter = undefined;
    wake?.();
  }

  #continued(response: ContinuationResponse): void {
    const waiting = this.#continuation;
    if (waiting) {
      this.#continuation = undefined;
      waiting.go(true);
      return;
    }
    const request = this.#greeted
      ? this.#inflight.find((candidate) => candidate.spec.handler?.continuation)
      : undefined;
    if (!request) {
      this.#connection.fail(new ProtocolError(`${this.server} sent a continuation nobody asked for`));
      return;
    }
    request.spec.handler!.continuation!(response);
  }

  #untagged(response: UntaggedResponse): void {
    if (!this.#greeted) {
      this.#greet(response);
      return;
    }
    if (response.type === 'CAPABILITY') this.#setCapabilities(response.capabilities);
    else if (response.type === 'ENABLED')
      for (const name of response.capabilities) this.#enabled.add(name.toUpperCase());
    else if (response.type === 'status') {
      if (response.code?.code === 'CAPABILITY') this.#setCapabilities(response.code.capabilities);
      if (response.status === 'BYE') this.#bye = response;
      if (this.#ready && response.code?.code === 'ALERT')
        this.#options.emit('alert', { text: response.text });
    }
    let claimed = false;
    // An ESEARCH names the command it answers (its TAG correlator, RFC 4731): only that one may claim it.
    const correlated = response.type === 'ESEARCH' && response.tag !== undefined ? response.tag : undefined;
    for (const request of this.#inflight) {
      if (correlated !== undefined && request.tag !== correlated) continue;
      if (request.spec.handler?.untagged?.(response)) {
        claimed = true;
        break;
      }
    }
    this.#mailbox?.apply(response, claimed, this.#ready ? this.#options.emit : undefined);
  }

  /** The first response: `OK`, `PREAUTH` or `BYE`, or the session fails (case 11). */
  #greet(response: UntaggedResponse): void {
    this.#greeted = true;
    if (
      response.type !== 'status' ||
      (response.status !== 'OK' && response.status !== 'PREAUTH' && response.status !== 'BYE')
    ) {
      this.#connection.fail(new ProtocolError(`${this.server} sent an invalid greeting`));
      return;
    }
    if (response.code?.code === 'CAPABILITY') this.#setCapabilities(response.code.capabilities);
    this.#greeting.resolve(response);
    this.#rearm();
  }

  #setCapabilities(capabilities: readonly string[]): void {
    this.#capabilities = new Set(capabilities.map((name) => name.toUpperCase()));
    this.#capabilityUpdates++;
  }

  /** Runs the response deadline while an answer is awaited. */
  #rearm(): void {
    if (!this.#greeted) return;
    if (this.#inflight.some((request) => !request.silent))
      this.#deadline.reset(this.#options.timeouts.command);
    else this.#deadline.clear();
  }

  #timedOut(): void {
    const ms = this.#greeted ? this.#options.timeouts.command : this.#options.timeouts.greeting;
    this.#connection.abort(new TimeoutError(`no response from ${this.server} within ${ms} ms`));
  }

  /** The session failed: everything pending fails with it. */
  #failed(cause: Error): void {
    this.#deadline.clear();
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    const bye = this.#bye;
    const error =
      bye && cause instanceof ConnectionError && cause.code === ErrorCode.ConnectionClosed
        ? new ConnectionError(
            ErrorCode.ConnectionClosed,
            `${this.server} closed the connection: BYE ${bye.text}`,
            {
              cause,
            },
          )
        : cause;
    this.#failure = error;
    this.#greeting.reject(error);
    this.#continuation?.go(false);
    this.#continuation = undefined;
    this.#sink = undefined;
    const preparing = this.#preparing ? [this.#preparing] : [];
    for (const request of [...this.#inflight.splice(0), ...preparing, ...this.#queue.splice(0)]) {
      request.spec.handler?.failed?.(error);
      request.reject(error);
    }
    this.#release?.();
    this.#wake();
    if (this.#ready) this.#options.emit('close', { error });
  }
}

/**
 * A refused login: `NO` alone or a code about the credentials is an {@link AuthenticationError}; any other
 * code (`UNAVAILABLE`, `PRIVACYREQUIRED`, `CONTACTADMIN` …) stays an {@link ImapResponseError}.
 */
function refusal(command: string, response: TaggedResponse): Error {
  const error = new ImapResponseError(command, {
    ...response,
    status: response.status === 'OK' ? 'NO' : response.status,
  });
  const code = response.code?.code;
  if (code !== undefined && !CREDENTIAL_CODES.has(code)) return error;
  return new AuthenticationError(`${command} refused: ${response.text}`, { cause: error });
}

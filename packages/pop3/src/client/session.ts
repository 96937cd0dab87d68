import {
  AbortError,
  AuthenticationError,
  ClientConnection,
  ConnectionError,
  type Connector,
  concatBytes,
  connectClient,
  createDeadline,
  type Deadline,
  ErrorCode,
  ProtocolError,
  PushStream,
  type StartTlsPolicy,
  shouldStartTls,
  TimeoutError,
  type TlsClientOptions,
  TlsError,
  type TraceHook,
  Tracer,
  utf8,
} from '@postwire/core';
import type { SaslClient, SaslClientConnection } from '@postwire/sasl';
import { apopDigest, parseApopTimestamp } from '../protocol/apop.js';
import { type Pop3Capabilities, parsePop3Capabilities } from '../protocol/capabilities.js';
import { type Pop3Command, serializePop3Command } from '../protocol/command.js';
import { Pop3ResponseCode, type Pop3Status } from '../protocol/response.js';
import { Pop3ResponseError } from './errors.js';

import { type Pop3ResponseEvent, Pop3ResponseReader, type Pop3ResponseShape } from './response-reader.js';

/** How long the client waits, in milliseconds. */
export interface Pop3ClientTimeouts {
  /** The TCP connect, and the TLS handshake with implicit TLS or STLS (default 30 s). */
  readonly connect: number;
  /** The server's greeting (default 30 s). */
  readonly greeting: number;
  /**
   * Silence from the server while a response is awaited (default 5 minutes). It does not run while the
   * application is slow to read a message stream.
   */
  readonly command: number;
}

/** The defaults of {@link Pop3ClientTimeouts}. */
export const defaultPop3ClientTimeouts: Pop3ClientTimeouts = {
  connect: 30_000,
  greeting: 30_000,
  command: 300_000,
};

/** How a session logs in. */
export interface Pop3Login {
  /** For APOP and USER/PASS. */
  readonly username?: string;
  readonly password?: string;
  /** Log in with APOP rather than SASL or USER/PASS. */
  readonly apop: boolean;
  /** USER/PASS may go without TLS. */
  readonly allowCleartext: boolean;
  readonly sasl: SaslClient;
}

/** How one connection is opened and set up. */
export interface Pop3SessionOptions {
  readonly connector: Connector;
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly tls?: TlsClientOptions;
  readonly starttls: StartTlsPolicy;
  readonly login: Pop3Login;
  readonly timeouts: Pop3ClientTimeouts;
  readonly trace?: TraceHook;
  readonly signal?: AbortSignal;
}

/** The longest command line with its CRLF (RFC 2449 §4), which bounds AUTH's initial response (RFC 5034 §4). */
const MAX_COMMAND_LINE = 255;

/** What a response resolves with: its status, with the listing or the message that follows it. */
interface Response {
  readonly status: Pop3Status;
  readonly lines?: readonly string[];
  readonly message?: PushStream;
}

/** A SASL challenge, or the status that ends the exchange. */
type AuthResponse = { readonly challenge: string } | { readonly status: Pop3Status };

/** A command sent (or waiting to be sent) and the response it waits for. */
interface Request {
  readonly shape: Pop3ResponseShape;
  /** The command line with its CRLF; empty for the greeting. */
  readonly bytes: Uint8Array;
  readonly line: string;
  readonly secret: boolean;
  readonly timeout: number;
  readonly resolve: (response: Response | AuthResponse) => void;
  readonly reject: (error: Error) => void;
  status?: Pop3Status;
  lines?: string[];
  message?: PushStream;
}

/**
 * One connection to a POP3 server, set up (greeting, CAPA, STLS by policy, login) and able to run
 * commands. Commands go out in the order they are asked for: all at once when the server offers
 * PIPELINING (RFC 2449 §6.6), else each after the previous response is complete. The responses are read
 * as they arrive against the list of those awaited, so a response nobody asked for fails the session
 * (catalogue cases 7 and 8), and nothing read before STLS is used after it. Any failure of the
 * connection itself makes the session unusable.
 */
export class Pop3ClientSession {
  readonly #options: Pop3SessionOptions;
  readonly #tracer: Tracer;
  readonly #responses = new Pop3ResponseReader();
  readonly #deadline: Deadline;
  #connection!: ClientConnection;
  /** Commands sent whose responses are not complete, oldest first. */
  readonly #inflight: Request[] = [];
  /** Commands waiting for the previous response (no PIPELINING). */
  readonly #queued: Request[] = [];
  #outbox: Uint8Array[] = [];
  #written: Promise<void> = Promise.resolve();
  #pipelining = false;
  #capabilities: Pop3Capabilities = parsePop3Capabilities([]);
  /** The server answered CAPA (RFC 2449); without it, USER/PASS is assumed. */
  #capa = false;
  #timestamp: string | undefined;
  /** The next status line answers STLS: reading stops after it, so that TLS can take the socket. */
  #holdAfterResponse = false;
  readonly #onAbort = (): void => {
    this.abort(this.#options.signal?.reason);
  };

  private constructor(options: Pop3SessionOptions) {
    this.#options = options;
    this.#tracer = new Tracer(options.trace, 'client');
    this.#deadline = createDeadline(options.timeouts.command, () => this.#timedOut(), { start: false });
  }

  /** Connects, logs in and reads the capabilities of the TRANSACTION state; rejects (and closes) on any failure. */
  static async open(options: Pop3SessionOptions): Promise<Pop3ClientSession> {
    const { signal } = options;
    const session = new Pop3ClientSession(options);
    const transport = await connectClient({ ...options, timeout: options.timeouts.connect });
    session.#connection = new ClientConnection(transport, session.server, {
      receive: (bytes) => session.#receive(bytes),
      failed: (error) => session.#failed(error),
    });
    signal?.addEventListener('abort', session.#onAbort, { once: true });
    try {
      if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
      await session.#setUp();
    } catch (error) {
      await session.close();
      throw error;
    }
    return session;
  }

  /** What the server announces in the TRANSACTION state (or before login, if it answered CAPA only then). */
  get capabilities(): Pop3Capabilities {
    return this.#capabilities;
  }

  /** The connection is inside TLS. */
  get secure(): boolean {
    return this.#connection.transport.info.secure;
  }

  /** `host:port` of the server. */
  get server(): string {
    return `${this.#options.host}:${this.#options.port}`;
  }

  async #setUp(): Promise<void> {
    const greeting = await this.#greeting();
    if (!greeting.ok) throw new Pop3ResponseError('CONNECT', greeting);
    this.#timestamp = parseApopTimestamp(greeting.text);
    await this.#readCapabilities();
    if (shouldStartTls(this.#options.starttls, this.#capabilities.stls, this.secure)) await this.#startTls();
    await this.#logIn();
    if (this.#capa) await this.#readCapabilities();
    this.#pipelining = this.#capabilities.pipelining;
  }

  #greeting(): Promise<Pop3Status> {
    return new Promise<Response | AuthResponse>((resolve, reject) => {
      this.#transmit({
        shape: 'single',
        bytes: new Uint8Array(0),
        line: '',
        secret: false,
        timeout: this.#options.timeouts.greeting,
        resolve,
        reject,
      });
    }).then((response) => (response as Response).status);
  }

  /** CAPA; a server without it (RFC 1939 only) has no capabilities. */
  async #readCapabilities(): Promise<void> {
    const response = await this.#request('lines', { verb: 'CAPA' });
    this.#capa = response.status.ok;
    this.#capabilities = parsePop3Capabilities(response.lines ?? []);
  }

  async #startTls(): Promise<void> {
    this.#holdAfterResponse = true;
    const { status } = await this.#request('single', { verb: 'STLS' });
    if (!status.ok) {
      this.#connection.resumeReading();
      if (this.#options.starttls === 'required') {
        throw new TlsError(ErrorCode.StartTlsRequired, `STLS refused: ${status.text}`);
      }
      return;
    }
    // Case 7: what the server sent after its +OK came before TLS, and must never be read as a response.
    if (this.#connection.failure) throw this.#connection.failure;
    if (this.#responses.buffered > 0) {
      throw this.#connection.fail(new ProtocolError(`${this.server} sent more after its STLS response`));
    }
    await this.#written;
    await this.#connection.startTls(() => this.#responses.reset());
    // RFC 2595 §4: the capabilities announced in cleartext may have been forged.
    await this.#readCapabilities();
  }

  async #logIn(): Promise<void> {
    const login = this.#options.login;
    if (login.apop) return this.#apop(login);
    const transport = this.#connection.transport;
    const connection: SaslClientConnection = {
      secure: this.secure,
      channelBinding: (type) => transport.channelBinding?.(type),
    };
    const offered = this.#capabilities.sasl;
    if (offered.length > 0 && login.sasl.selectMechanism(offered, connection) !== undefined) {
      return this.#authenticate(login.sasl, connection);
    }
    const { username, password } = login;
    if (username === undefined || password === undefined || (this.#capa && !this.#capabilities.user)) {
      throw new AuthenticationError(
        'no login method in common with the server (cleartext SASL mechanisms need TLS)',
      );
    }
    if (!this.secure && !login.allowCleartext) {
      throw new AuthenticationError(
        'USER/PASS would send the password in cleartext: use TLS or allowCleartext',
      );
    }
    for (const command of [
      { verb: 'USER', name: username },
      { verb: 'PASS', password },
    ] as const) {
      const { status } = await this.#request('single', command);
      if (!status.ok) throw refusal(command.verb, status);
    }
  }

  async #apop(login: Pop3Login): Promise<void> {
    if (this.#timestamp === undefined) {
      throw new AuthenticationError('APOP was asked for but the server offers no APOP timestamp');
    }
    const digest = apopDigest(this.#timestamp, login.password!);
    const { status } = await this.#request('single', { verb: 'APOP', name: login.username!, digest });
    if (!status.ok) throw refusal('APOP', status);
  }

  /** AUTH (RFC 5034) with the strongest mechanism both sides have. */
  async #authenticate(sasl: SaslClient, connection: SaslClientConnection): Promise<void> {
    const exchange = await sasl.start(this.#capabilities.sasl, connection);
    const { mechanism, initialResponse } = exchange;
    // An initial response that would make the line too long waits for the server's empty challenge.
    const inline =
      initialResponse !== undefined && `AUTH ${mechanism} ${initialResponse}\r\n`.length <= MAX_COMMAND_LINE;
    let held = inline || initialResponse === undefined ? undefined : initialResponse.replace(/^=$/, '');
    let response = await this.#auth(
      serializePop3Command(
        inline ? { verb: 'AUTH', mechanism, initialResponse } : { verb: 'AUTH', mechanism },
      ),
      false,
    );
    while ('challenge' in response) {
      let answer: string;
      if (held !== undefined) {
        answer = held;
        held = undefined;
      } else {
        try {
          answer = await exchange.respond(response.challenge);
        } catch (error) {
          await this.#auth('*', false);
          throw error;
        }
      }
      response = await this.#auth(answer, true);
    }
    if (!response.status.ok) throw refusal('AUTH', response.status);
    await exchange.complete();
  }

  /** Sends a command whose response is one line; rejects with a {@link Pop3ResponseError} on `-ERR`. */
  async command(command: Pop3Command): Promise<Pop3Status> {
    const { status } = await this.#request('single', command);
    if (!status.ok) throw new Pop3ResponseError(command.verb, status);
    return status;
  }

  /** Sends a command answered by a listing (LIST, UIDL, CAPA); resolves with its lines. */
  async listing(command: Pop3Command): Promise<readonly string[]> {
    const { status, lines } = await this.#request('lines', command);
    if (!status.ok) throw new Pop3ResponseError(command.verb, status);
    return lines!;
  }

  /** Sends RETR or TOP; resolves as soon as the `+OK` came, with the message streaming behind it. */
  async message(command: Pop3Command): Promise<PushStream> {
    const { status, message } = await this.#request('block', command);
    if (!status.ok) throw new Pop3ResponseError(command.verb, status);
    return message!;
  }

  /**
   * QUIT: the server deletes the messages marked with DELE (the UPDATE state, RFC 1939 §6) and the
   * connection closes. Rejects when the server could not confirm it (`-ERR`, or the session failed),
   * in which case nothing may have been deleted.
   */
  async quit(): Promise<void> {
    try {
      await this.command({ verb: 'QUIT' });
    } finally {
      await this.close();
    }
  }

  /** Closes the connection at once, without QUIT: nothing is deleted. */
  async close(): Promise<void> {
    await this.#connection.close(
      new ConnectionError(ErrorCode.ConnectionClosed, 'the POP3 session was closed'),
    );
  }

  /** Fails everything pending with an {@link AbortError} and closes the connection, without QUIT. */
  abort(reason?: unknown): void {
    this.#connection.abort(new AbortError(undefined, { cause: reason }));
  }

  #request(shape: 'single' | 'lines' | 'block', command: Pop3Command): Promise<Response> {
    return this.#send(shape, serializePop3Command(command), false) as Promise<Response>;
  }

  #auth(line: string, secret: boolean): Promise<AuthResponse> {
    if (/[\r\n]/.test(line)) return Promise.reject(new ProtocolError('a SASL response cannot hold CR or LF'));
    return this.#send('auth', line, secret) as Promise<AuthResponse>;
  }

  #send(shape: Pop3ResponseShape, line: string, secret: boolean): Promise<Response | AuthResponse> {
    if (this.#connection.failure) return Promise.reject(this.#connection.failure);
    return new Promise((resolve, reject) => {
      const request: Request = {
        shape,
        bytes: utf8(`${line}\r\n`),
        line,
        secret,
        timeout: this.#options.timeouts.command,
        resolve,
        reject,
      };
      if (this.#pipelining || (this.#inflight.length === 0 && this.#queued.length === 0)) {
        this.#transmit(request);
      } else {
        this.#queued.push(request);
      }
    });
  }

  /** Writes a request (with the others of the same tick, in one write) and awaits its response. */
  #transmit(request: Request): void {
    this.#inflight.push(request);
    this.#responses.expect(request.shape);
    if (this.#inflight.length === 1) this.#deadline.reset(request.timeout);
    if (request.bytes.length === 0) return;
    if (request.secret) this.#tracer.redactNextClientLine();
    this.#tracer.sent(request.line);
    this.#outbox.push(request.bytes);
    if (this.#outbox.length === 1) queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    if (this.#connection.failure || this.#outbox.length === 0) return;
    const data = this.#outbox.length === 1 ? this.#outbox[0]! : concatBytes(this.#outbox);
    this.#outbox = [];
    this.#written = this.#connection.write(data).catch(() => {});
  }

  /** Reads the responses in `bytes`; returns a promise while a message's reader is behind. */
  #receive(bytes: Uint8Array): Promise<void> | undefined {
    this.#responses.push(bytes);
    this.#rearm();
    return this.#drain();
  }

  /** Applies the events decoded so far, pausing (without the deadline) while a slow reader catches up. */
  #drain(): Promise<void> | undefined {
    for (let event = this.#responses.next(); event; event = this.#responses.next()) {
      const wait = this.#handle(event);
      if (!wait) continue;
      this.#deadline.clear();
      return wait.then(() => {
        if (this.#connection.failure) return;
        this.#rearm();
        return this.#drain();
      });
    }
    return undefined;
  }

  /** Applies one event to the oldest request; returns a promise when the pump must wait for a slow reader. */
  #handle(event: Pop3ResponseEvent): Promise<void> | undefined {
    const request = this.#inflight[0]!;
    switch (event.type) {
      case 'status':
        this.#tracer.received(event.line);
        if (!event.multiline) {
          if (this.#holdAfterResponse) {
            this.#holdAfterResponse = false;
            this.#connection.holdReading();
          }
          this.#complete();
          request.resolve({ status: event.status });
        } else if (request.shape === 'lines') {
          request.status = event.status;
          request.lines = [];
        } else {
          request.message = new PushStream();
          request.resolve({ status: event.status, message: request.message });
        }
        return undefined;
      case 'continuation':
        this.#tracer.received(event.line);
        this.#complete();
        request.resolve({ challenge: event.challenge });
        return undefined;
      case 'line':
        this.#tracer.received(event.line);
        request.lines!.push(event.line);
        return undefined;
      case 'bytes':
        return request.message!.push(event.data);
      case 'end':
        this.#complete();
        if (request.message) request.message.end();
        else request.resolve({ status: request.status!, lines: request.lines! });
        return undefined;
    }
  }

  /** The oldest response is complete: the next queued command may go. */
  #complete(): void {
    this.#inflight.shift();
    const next = this.#queued.shift();
    if (next) this.#transmit(next);
    this.#rearm();
  }

  /** Runs the response deadline while a response is awaited. */
  #rearm(): void {
    const request = this.#inflight[0];
    if (request) this.#deadline.reset(request.timeout);
    else this.#deadline.clear();
  }

  #timedOut(): void {
    const timeout = this.#inflight[0]?.timeout ?? this.#options.timeouts.command;
    this.#connection.abort(new TimeoutError(`no response from ${this.server} within ${timeout} ms`));
  }

  /** The session failed: everything pending fails with it. */
  #failed(error: Error): void {
    this.#deadline.clear();
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    for (const request of [...this.#inflight.splice(0), ...this.#queued.splice(0)]) {
      if (request.message) request.message.fail(error);
      else request.reject(error);
    }
  }
}

/**
 * A refused login. `-ERR` alone or `[AUTH]` is about the credentials (an {@link AuthenticationError});
 * any other code (`IN-USE`, `LOGIN-DELAY`, `SYS/TEMP` …) is not, and stays a {@link Pop3ResponseError}.
 */
function refusal(command: string, status: Pop3Status): Error {
  const error = new Pop3ResponseError(command, status);
  if (status.code !== undefined && status.code !== Pop3ResponseCode.Auth) return error;
  return new AuthenticationError(`${command} refused: ${status.text}`, { cause: error });
}

import { concatBytes, type Transport } from '@postwire/core';
import {
  createListener,
  type ListenerOptions,
  type ServerConnection,
  type ServerTlsOptions,
} from '@postwire/core/node';
import type { SaslServer, SaslServerExchange, SaslServerOutcome } from '@postwire/sasl';
import type { MailParameters, RcptParameters } from '../protocol/command.js';
import type { SmtpMailbox } from '../protocol/path.js';
import type { SmtpReply } from '../protocol/reply.js';
import {
  type SmtpAuthStep,
  type SmtpEnvelope,
  SmtpServerSession,
  type SmtpServerSessionOptions,
} from '../server/session.js';

/** What the hooks know of the connection. */
export interface SmtpConnectionInfo {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** True on implicit TLS, and after STARTTLS. */
  readonly secure: boolean;
  /** The name the client gave in HELO, EHLO or LHLO. */
  readonly clientName?: string;
  /** The user the client authenticated as (AUTH). */
  readonly user?: string;
}

/**
 * A hook's answer: nothing (or `undefined`) accepts with the default reply; a reply with a 4xx or 5xx
 * code refuses. `onData` in LMTP may return one reply per recipient.
 */
// biome-ignore lint/suspicious/noConfusingVoidType: a hook written as `async () => {}` returns void, and accepts.
export type SmtpHookResult = SmtpReply | undefined | void;

/** Options of {@link createSmtpServer}. */
export interface SmtpServerOptions
  extends Omit<SmtpServerSessionOptions, 'startTls' | 'authMechanisms'>,
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
   * AUTH (RFC 4954) through a `@postwire/sasl` server: its mechanisms are offered, and cleartext ones only
   * on TLS unless it allows cleartext (catalogue case 45).
   */
  readonly sasl?: SaslServer;
  onHelo?(domain: string, connection: SmtpConnectionInfo): SmtpHookResult | Promise<SmtpHookResult>;
  onMailFrom?(
    from: SmtpMailbox | null,
    parameters: MailParameters,
    connection: SmtpConnectionInfo,
  ): SmtpHookResult | Promise<SmtpHookResult>;
  onRcptTo?(
    to: SmtpMailbox,
    parameters: RcptParameters,
    connection: SmtpConnectionInfo,
  ): SmtpHookResult | Promise<SmtpHookResult>;
  /**
   * The message, as a web stream of its bytes (dot-stuffing removed) that must be read to its end; the
   * stream errors if the client drops the connection or the message is refused mid-way, and then nothing
   * may be delivered. Resolve once the message is stored: only then does the client get 250.
   */
  onData?(
    message: ReadableStream<Uint8Array>,
    envelope: SmtpEnvelope,
    connection: SmtpConnectionInfo,
  ): SmtpHookResult | readonly SmtpReply[] | Promise<SmtpHookResult | readonly SmtpReply[]>;
  /** Failures that end one connection (a hook that threw, a broken socket). */
  onError?(error: unknown, connection: SmtpConnectionInfo): void;
}

/** A listening SMTP or LMTP server. */
export interface SmtpServer {
  listen(): Promise<{ host: string; port: number }>;
  /** Stops accepting, ends every session with `421`, and resolves once all are closed. */
  close(options?: { timeout?: number }): Promise<void>;
}

/** A hook threw: the client hears a temporary failure, so that its mail is retried, never lost. */
const HOOK_FAILED: SmtpReply = {
  code: 451,
  enhancedCode: '4.3.0',
  lines: ['Temporary failure, try again later'],
};

/**
 * An SMTP (or LMTP) server for Node: the core listener (connection limits, deadlines, PROXY, TLS) around
 * one {@link SmtpServerSession} per connection, with the application's decisions as async hooks.
 */
export function createSmtpServer(options: SmtpServerOptions): SmtpServer {
  const listener = createListener({
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.startTls ? { startTls: options.startTls } : {}),
    ...(options.maxConnections !== undefined ? { maxConnections: options.maxConnections } : {}),
    ...(options.maxConnectionsPerIp !== undefined
      ? { maxConnectionsPerIp: options.maxConnectionsPerIp }
      : {}),
    ...(options.idleTimeout !== undefined ? { idleTimeout: options.idleTimeout } : {}),
    ...(options.commandTimeout !== undefined ? { commandTimeout: options.commandTimeout } : {}),
    ...(options.handshakeTimeout !== undefined ? { handshakeTimeout: options.handshakeTimeout } : {}),
    ...(options.proxyProtocol !== undefined ? { proxyProtocol: options.proxyProtocol } : {}),
    onConnection(connection) {
      const sasl = options.sasl;
      const remoteAddress = connection.remoteAddress;
      const session = new SmtpServerSession({
        ...options,
        startTls: options.startTls !== undefined,
        remoteAddress,
        ...(sasl ? { authMechanisms: (secure: boolean) => sasl.mechanisms({ secure, remoteAddress }) } : {}),
      });
      if (connection.transport.info.secure) session.markSecure();
      const run = new SessionRun(session, connection, options);
      void run.serve();
      return { goodbye: (reason) => run.goodbye(reason === 'shutdown' ? 'shutdown' : 'timeout') };
    },
    async onRefused({ transport }) {
      const writer = transport.writable.getWriter();
      await writer.write(new TextEncoder().encode('421 4.7.0 Too many connections, try again later\r\n'));
      writer.releaseLock();
    },
  });
  return {
    listen: () => listener.listen(),
    close: (closeOptions) => listener.close(closeOptions),
  };
}

/** One connection's loop: feeds the session, writes its output, and runs the hooks for its decisions. */
class SessionRun {
  readonly #session: SmtpServerSession;
  readonly #connection: ServerConnection;
  readonly #options: SmtpServerOptions;
  #transport: Transport;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #clientName: string | undefined;
  /** The message being received: where its bytes go, and the application's answer to come. */
  #message: { writer: WritableStreamDefaultWriter<Uint8Array>; result: Promise<unknown> } | undefined;
  /** The SASL exchange of the AUTH command in progress. */
  #exchange: SaslServerExchange | undefined;
  /** Replies not yet written: they go out together when the session waits for the client. */
  #replies: Uint8Array[] = [];

  constructor(session: SmtpServerSession, connection: ServerConnection, options: SmtpServerOptions) {
    this.#session = session;
    this.#connection = connection;
    this.#options = options;
    this.#transport = connection.transport;
    this.#reader = this.#transport.readable.getReader();
    this.#writer = this.#transport.writable.getWriter();
  }

  get #info(): SmtpConnectionInfo {
    return {
      remoteAddress: this.#connection.remoteAddress,
      remotePort: this.#connection.remotePort,
      secure: this.#session.secure,
      ...(this.#clientName !== undefined ? { clientName: this.#clientName } : {}),
      ...(this.#session.user !== undefined ? { user: this.#session.user } : {}),
    };
  }

  async serve(): Promise<void> {
    try {
      for (;;) {
        const event = this.#session.next();
        if (!event) {
          await this.#flush();
          // The whole-request deadline runs while the client is in the middle of a command or a message.
          if (this.#session.busy) {
            if (!this.#connection.commandDeadline.pending) this.#connection.commandDeadline.reset();
          } else {
            this.#connection.commandDeadline.clear();
          }
          const { done, value } = await this.#reader.read();
          if (done) break;
          this.#session.receive(value);
          if (!this.#connection.commandDeadline.pending) this.#connection.commandDeadline.reset();
          continue;
        }
        if (event.type === 'close') break;
        if (event.type === 'write') {
          this.#replies.push(event.data);
          continue;
        }
        await this.#handle(event);
      }
    } catch (error) {
      this.#options.onError?.(error, this.#info);
    } finally {
      await this.#flush().catch(() => {});
      this.#dropMessage(new Error('the connection closed before the message ended'));
      await this.#connection.close();
    }
  }

  /** Says goodbye for the listener (shutdown, idle, timeout): `421`, then the listener closes. */
  async goodbye(reason: 'shutdown' | 'timeout'): Promise<void> {
    await this.#flush();
    this.#session.shutdown(reason);
    for (let event = this.#session.next(); event; event = this.#session.next()) {
      if (event.type === 'write') await this.#writer.write(event.data);
    }
  }

  async #handle(event: NonNullable<ReturnType<SmtpServerSession['next']>>): Promise<void> {
    const session = this.#session;
    switch (event.type) {
      case 'helo':
        this.#clientName = event.domain;
        session.respond(await this.#hook(() => this.#options.onHelo?.(event.domain, this.#info)));
        return;
      case 'mail':
        session.respond(
          await this.#hook(() => this.#options.onMailFrom?.(event.from, event.parameters, this.#info)),
        );
        return;
      case 'rcpt':
        session.respond(
          await this.#hook(() => this.#options.onRcptTo?.(event.to, event.parameters, this.#info)),
        );
        return;
      case 'message-start': {
        const pipe = new TransformStream<Uint8Array, Uint8Array>();
        const onData = this.#options.onData ?? discard;
        const result = Promise.resolve()
          .then(() => onData(pipe.readable, event.envelope, this.#info))
          .then(
            (answer) => answer,
            (error: unknown) => {
              this.#options.onError?.(error, this.#info);
              return HOOK_FAILED;
            },
          );
        this.#message = { writer: pipe.writable.getWriter(), result };
        session.respond();
        return;
      }
      case 'message-data':
        // A stream the application cancelled refuses further bytes: its answer still decides.
        await this.#message?.writer.write(event.data).catch(() => {});
        return;
      case 'message-abort':
        this.#dropMessage(new Error(`the message was refused: ${event.reason}`));
        return;
      case 'message-end': {
        const message = this.#message;
        this.#message = undefined;
        await message?.writer.close().catch(() => {});
        const answer = (await message?.result) as SmtpReply | readonly SmtpReply[] | undefined;
        session.respond(answer ?? undefined);
        return;
      }
      case 'auth': {
        const transport = this.#transport;
        this.#exchange = this.#options.sasl?.createExchange({
          secure: this.#session.secure,
          remoteAddress: this.#connection.remoteAddress,
          channelBinding: (type) => transport.channelBinding?.(type),
        });
        const outcome = this.#exchange
          ? await this.#exchange.start(event.mechanism, event.initialResponse)
          : ({ type: 'failure', reason: 'mechanism-unavailable' } as const);
        session.authStep(authStep(outcome));
        return;
      }
      case 'auth-response': {
        const outcome = this.#exchange
          ? await this.#exchange.respond(event.line)
          : ({ type: 'failure', reason: 'cancelled' } as const);
        session.authStep(authStep(outcome));
        return;
      }
      case 'starttls':
        // The 220 goes out before the handshake starts.
        await this.#flush();
        this.#reader.releaseLock();
        this.#writer.releaseLock();
        try {
          this.#transport = await this.#transport.startTls();
        } finally {
          this.#reader = this.#transport.readable.getReader();
          this.#writer = this.#transport.writable.getWriter();
        }
        session.respond();
        return;
    }
  }

  /** Writes the replies gathered so far, in one write. */
  async #flush(): Promise<void> {
    if (this.#replies.length === 0) return;
    const replies = this.#replies;
    this.#replies = [];
    await this.#writer.write(replies.length === 1 ? replies[0]! : concatBytes(replies));
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

  /** Errors the message stream so that the application delivers nothing. */
  #dropMessage(reason: Error): void {
    const message = this.#message;
    this.#message = undefined;
    message?.writer.abort(reason).catch(() => {});
  }
}

/** The default `onData`: reads the message to its end and accepts it. */
async function discard(message: ReadableStream<Uint8Array>): Promise<undefined> {
  const reader = message.getReader();
  while (!(await reader.read()).done) {
    // Read to the end.
  }
}

/** A SASL exchange's outcome as the session's authentication step. */
function authStep(outcome: SaslServerOutcome): SmtpAuthStep {
  if (outcome.type === 'success') return { type: 'success', username: outcome.identity.username };
  return outcome;
}

import {
  AbortError,
  AuthenticationError,
  ClientConnection,
  ConnectionError,
  type Connector,
  concatBytes,
  connectClient,
  DotStuffedEncoder,
  decodeUtf8,
  ErrorCode,
  LineDecoder,
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
import { CrlfNormalizer } from '@postwire/mime';
import type { SaslClient } from '@postwire/sasl';
import { parseEhloReply, type SmtpCapabilities } from '../protocol/capabilities.js';
import { type SmtpCommand, serializeCommand } from '../protocol/command.js';
import { isPositive, ReplyAssembler, type SmtpReply } from '../protocol/reply.js';
import { SmtpReplyError } from './errors.js';
import type { SmtpRecipientResult, TransactionPlan } from './transaction.js';

/** How long the client waits, in milliseconds (RFC 5321 §4.5.3.2 gives the minimums for commands and data). */
export interface SmtpClientTimeouts {
  /** The TCP connect, and the TLS handshake with implicit TLS (default 30 s). */
  readonly connect: number;
  /** The server's `220` greeting (default 30 s). */
  readonly greeting: number;
  /** The reply to a command, and each write of the message to be taken by the server (default 5 minutes). */
  readonly command: number;
  /** The reply to the end of a message (default 10 minutes). */
  readonly data: number;
}

/** The defaults of {@link SmtpClientTimeouts}. */
export const defaultSmtpClientTimeouts: SmtpClientTimeouts = {
  connect: 30_000,
  greeting: 30_000,
  command: 300_000,
  data: 600_000,
};

/** How one connection is opened and set up. */
export interface SmtpConnectionOptions {
  /** Opens the connection. */
  readonly connector: Connector;
  /** The server's host name or address. */
  readonly host: string;
  /** The server's port. */
  readonly port: number;
  /** Implicit TLS from the first byte. */
  readonly secure: boolean;
  /** TLS settings, for implicit TLS and STARTTLS. */
  readonly tls?: TlsClientOptions;
  /** When to upgrade with STARTTLS. */
  readonly starttls: StartTlsPolicy;
  /** The name said in EHLO, LHLO or HELO. */
  readonly name: string;
  /** Speak LMTP (LHLO, a reply per recipient) instead of SMTP. */
  readonly lmtp: boolean;
  /** Authenticates the connection, when given. */
  readonly sasl?: SaslClient;
  /** Milliseconds to wait for each step. */
  readonly timeouts: SmtpClientTimeouts;
  /** Sees every command and reply line, credentials redacted. */
  readonly trace?: TraceHook;
}

/** A message body to send: a list of chunks, read once. */
export type MessageSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** The size of a BDAT chunk when the message comes as a stream. */
const CHUNK_SIZE = 256 * 1024;
/** A message up to this size goes in one write with its envelope when the server pipelines BDAT. */
const ONE_WRITE_LIMIT = 1024 * 1024;

/** The parts of a sent message the session reports; the client adds the envelope. */
export interface SmtpTransactionOutcome {
  /** Each recipient's outcome. */
  readonly recipients: readonly SmtpRecipientResult[];
  /** The reply to the message (the last one, in LMTP). */
  readonly reply: SmtpReply;
}

/**
 * One connection to an SMTP or LMTP server, set up (greeting, EHLO with HELO fallback, STARTTLS by
 * policy, AUTH) and able to send messages one after another. Replies are read as they come: a reply
 * the client did not ask for (a response injection, catalogue cases 7 and 8) fails the session, and
 * nothing read before STARTTLS is used after it. Any failure of the connection itself makes the
 * session unusable ({@link usable}).
 */
export class SmtpClientSession {
  readonly #options: SmtpConnectionOptions;
  readonly #tracer: Tracer;
  #connection!: ClientConnection;
  readonly #decoder = new LineDecoder({ mode: 'lenient', maxLineLength: 4096 });
  readonly #assembler = new ReplyAssembler();
  /** Replies asked for and not yet received. */
  #outstanding = 0;
  /** Replies received before anyone asked for them (pipelined ones). */
  readonly #queued: SmtpReply[] = [];
  #waiter: { resolve(reply: SmtpReply): void; reject(error: Error): void } | undefined;
  /** Fails the write in progress: a write the server does not take ends as soon as the connection fails. */
  #writeFailed: ((error: Error) => void) | undefined;
  #capabilities!: SmtpCapabilities;
  /** A transaction ended half-way: the next one starts with RSET. */
  #needsReset = false;
  /** Replies received since the last {@link send} began. */
  #answered = 0;
  #messages = 0;
  /** The transaction in progress asked for SMTPUTF8: its paths may be UTF-8. */
  #smtputf8 = false;
  #mechanism: string | undefined;
  /** The next reply answers STARTTLS: reading stops after it, so that TLS can take the socket. */
  #holdAfterReply = false;

  private constructor(options: SmtpConnectionOptions) {
    this.#options = options;
    this.#tracer = new Tracer(options.trace, 'client');
  }

  /** Connects and sets the session up; rejects (and closes) on any failure. */
  static async open(options: SmtpConnectionOptions, signal?: AbortSignal): Promise<SmtpClientSession> {
    const session = new SmtpClientSession(options);
    // The greeting is the first reply.
    session.#outstanding = 1;
    const transport = await connectClient({ ...options, timeout: options.timeouts.connect, signal });
    session.#connection = new ClientConnection(transport, session.server, {
      receive: (bytes) => session.#receive(bytes),
      failed: (error) => session.#rejectWaiter(error),
    });
    try {
      await session.#guard(signal, () => session.#setUp());
    } catch (error) {
      await session.close();
      throw error;
    }
    return session;
  }

  /** What the server announced in its last EHLO (after STARTTLS, the one on TLS). */
  get capabilities(): SmtpCapabilities {
    return this.#capabilities;
  }

  /** The connection is inside TLS. */
  get secure(): boolean {
    return this.#connection.transport.info.secure;
  }

  /** The session can take another message. */
  get usable(): boolean {
    return this.#connection.failure === undefined;
  }

  /** Messages sent (accepted or not) on this connection. */
  get messages(): number {
    return this.#messages;
  }

  /**
   * The server answered anything of the last {@link send}. When it did not, that message cannot have
   * been accepted, and may be sent again on another connection.
   */
  get answered(): boolean {
    return this.#answered > 0;
  }

  /** The SASL mechanism the session logged in with; `undefined` when it did not authenticate. */
  get mechanism(): string | undefined {
    return this.#mechanism;
  }

  /** `host:port` of the server. */
  get server(): string {
    return `${this.#options.host}:${this.#options.port}`;
  }

  async #setUp(): Promise<void> {
    const [greeting] = await this.#replies(1, this.#options.timeouts.greeting);
    if (greeting!.code !== 220) throw new SmtpReplyError('CONNECT', greeting!);
    await this.#hello();
    if (shouldStartTls(this.#options.starttls, this.#capabilities.startTls, this.secure)) {
      await this.#startTls();
    }
    if (this.#options.sasl) await this.#authenticate(this.#options.sasl);
  }

  /** EHLO (LHLO in LMTP), falling back to HELO when the server does not know EHLO. */
  async #hello(): Promise<void> {
    const verb = this.#options.lmtp ? 'LHLO' : 'EHLO';
    const reply = await this.#command({ verb, domain: this.#options.name });
    if (isPositive(reply)) {
      this.#capabilities = parseEhloReply(reply);
      this.#assembler.enhancedStatusCodes = this.#capabilities.enhancedStatusCodes;
      return;
    }
    if (this.#options.lmtp || (reply.code !== 500 && reply.code !== 502))
      throw new SmtpReplyError(verb, reply);
    const helo = await this.#command({ verb: 'HELO', domain: this.#options.name });
    if (!isPositive(helo)) throw new SmtpReplyError('HELO', helo);
    this.#capabilities = parseEhloReply({ code: 250, lines: [helo.lines[0] ?? ''] });
  }

  async #startTls(): Promise<void> {
    this.#holdAfterReply = true;
    const reply = await this.#command({ verb: 'STARTTLS' });
    if (reply.code !== 220) {
      this.#connection.resumeReading();
      if (this.#options.starttls === 'required') {
        throw new TlsError(
          ErrorCode.StartTlsRequired,
          `STARTTLS refused: ${reply.code} ${reply.lines.join(' ')}`,
        );
      }
      return;
    }
    // Case 7: anything the server sent after its 220 came before TLS, and must not be read as a reply.
    if (this.#connection.failure) throw this.#connection.failure;
    if (this.#decoder.buffered > 0) throw new ProtocolError('the server sent more after its STARTTLS reply');
    await this.#connection.startTls(() => this.#decoder.reset());
    await this.#hello();
  }

  async #authenticate(sasl: SaslClient): Promise<void> {
    const transport = this.#connection.transport;
    if (this.#capabilities.auth.length === 0) throw new AuthenticationError('the server does not offer AUTH');
    const exchange = await sasl.start(this.#capabilities.auth, {
      secure: this.secure,
      channelBinding: (type) => transport.channelBinding?.(type),
    });
    let reply = await this.#command(
      exchange.initialResponse === undefined
        ? { verb: 'AUTH', mechanism: exchange.mechanism }
        : { verb: 'AUTH', mechanism: exchange.mechanism, initialResponse: exchange.initialResponse },
    );
    while (reply.code === 334) {
      let response: string;
      try {
        response = await exchange.respond(reply.lines[0] ?? '');
      } catch (error) {
        await this.#line('*');
        throw error;
      }
      reply = await this.#line(response);
    }
    if (reply.code !== 235) {
      throw new AuthenticationError(
        `AUTH ${exchange.mechanism} refused: ${reply.code} ${reply.lines.join(' ')}`,
        {
          cause: new SmtpReplyError('AUTH', reply),
        },
      );
    }
    await exchange.complete();
    this.#mechanism = exchange.mechanism;
  }

  /**
   * Sends one message. Resolves with each recipient's result once the server took the message for at
   * least one; rejects with an {@link SmtpReplyError} when it refused the sender, every recipient, or
   * the message.
   */
  async send(
    plan: TransactionPlan,
    source: MessageSource,
    knownBytes: Uint8Array | undefined,
    signal?: AbortSignal,
  ): Promise<SmtpTransactionOutcome> {
    if (this.#connection.failure) throw this.#connection.failure;
    this.#messages++;
    this.#answered = 0;
    this.#smtputf8 = plan.smtputf8;
    return this.#guard(signal, () => this.#transaction(plan, source, knownBytes));
  }

  async #transaction(
    plan: TransactionPlan,
    source: MessageSource,
    knownBytes: Uint8Array | undefined,
  ): Promise<SmtpTransactionOutcome> {
    const pipelining = this.#capabilities.pipelining;
    const lmtp = this.#options.lmtp;
    const reset = this.#needsReset;
    const commands: SmtpCommand[] = [
      ...(reset ? [{ verb: 'RSET' } as const] : []),
      plan.mail,
      ...plan.recipients,
    ];
    this.#needsReset = true;
    // With PIPELINING and BDAT, a whole message known in advance goes with its envelope in one write.
    let body: Uint8Array | undefined;
    if (pipelining && plan.chunking && knownBytes !== undefined && knownBytes.length <= ONE_WRITE_LIMIT) {
      body = plan.binary ? knownBytes : new CrlfNormalizer().normalize(knownBytes);
    }
    if (!plan.chunking) commands.push({ verb: 'DATA' });
    // In LMTP the end of the message gets one reply per accepted recipient: count them all until the
    // RCPT replies tell how many were accepted.
    const endReplies = lmtp ? plan.recipients.length : 1;
    const replies = pipelining
      ? await this.#pipeline(commands, body, endReplies)
      : await this.#oneByOne(commands);
    if (reset) {
      const resetReply = replies.shift()!;
      if (!isPositive(resetReply)) throw new SmtpReplyError('RSET', resetReply);
    }
    const mailReply = replies.shift()!;
    const results: SmtpRecipientResult[] = plan.recipients.map((command, i) => {
      const reply = replies[i] ?? mailReply;
      return { address: command.to.address, accepted: isPositive(reply), reply };
    });
    const accepted = results.filter((result) => result.accepted).length;
    const ending = plan.chunking ? 'BDAT' : 'DATA';
    if (body) {
      // The server answers the BDAT once, or in LMTP once per accepted recipient.
      const expected = lmtp && isPositive(mailReply) ? Math.max(accepted, 1) : 1;
      if (!this.#connection.failure) this.#outstanding -= endReplies - expected;
      const finals = await this.#replies(expected, this.#options.timeouts.data);
      if (!isPositive(mailReply)) throw new SmtpReplyError('MAIL', mailReply);
      if (accepted === 0) throw allRefused(results);
      return this.#finish(results, finals, ending);
    }
    if (!isPositive(mailReply)) throw new SmtpReplyError('MAIL', mailReply);
    if (plan.chunking) {
      if (accepted === 0) throw allRefused(results);
      return this.#finish(results, await this.#sendChunks(plan, source, lmtp ? accepted : 1), ending);
    }
    const dataReply = replies[plan.recipients.length];
    if (dataReply?.code !== 354) {
      if (accepted === 0) throw allRefused(results);
      throw new SmtpReplyError('DATA', dataReply ?? mailReply);
    }
    if (accepted === 0) {
      // A server that says 354 with no recipient: end the empty message at once.
      await this.#write(utf8('.\r\n'), 1, ['.']);
      await this.#replies(1, this.#options.timeouts.data);
      throw allRefused(results);
    }
    const encoder = new DotStuffedEncoder();
    for await (const chunk of source) {
      const pieces = encoder.encode(chunk);
      if (pieces.length > 0) await this.#write(pieces.length === 1 ? pieces[0]! : concatBytes(pieces));
    }
    const expected = lmtp ? accepted : 1;
    await this.#write(encoder.end(), expected, ['.']);
    return this.#finish(results, await this.#replies(expected, this.#options.timeouts.data), ending);
  }

  /** Sends the message in BDAT chunks; returns the `finals` replies to the last one. */
  async #sendChunks(plan: TransactionPlan, source: MessageSource, finals: number): Promise<SmtpReply[]> {
    const pipelining = this.#capabilities.pipelining;
    const normalizer = plan.binary ? undefined : new CrlfNormalizer();
    let pending: Uint8Array[] = [];
    let pendingSize = 0;
    let unread = 0;
    let refusal: SmtpReply | undefined;
    const flush = async (last: boolean): Promise<void> => {
      // RFC 3030: no chunk goes after a refused one. Pipelined, the refusal may already be in.
      if (this.#queued.some((reply) => !isPositive(reply))) {
        const replies = await this.#replies(unread, this.#options.timeouts.data);
        throw new SmtpReplyError('BDAT', replies.find((reply) => !isPositive(reply))!);
      }
      const data = concatBytes(pending);
      pending = [];
      pendingSize = 0;
      const line = `BDAT ${data.length}${last ? ' LAST' : ''}`;
      await this.#write(concatBytes([utf8(`${line}\r\n`), data]), last ? finals : 1, [line]);
      if (last) return;
      unread++;
      if (!pipelining) {
        const [reply] = await this.#replies(1, this.#options.timeouts.data);
        unread--;
        if (!isPositive(reply!)) throw new SmtpReplyError('BDAT', reply!);
      }
    };
    for await (const chunk of source) {
      const data = normalizer ? normalizer.normalize(chunk) : chunk;
      pending.push(data);
      pendingSize += data.length;
      if (pendingSize >= CHUNK_SIZE) await flush(false);
    }
    await flush(true);
    for (const reply of await this.#replies(unread, this.#options.timeouts.data)) {
      if (!isPositive(reply)) refusal ??= reply;
    }
    const last = await this.#replies(finals, this.#options.timeouts.data);
    if (refusal) throw new SmtpReplyError('BDAT', refusal);
    return last;
  }

  /** Matches the replies to the end of a message with the recipients; in SMTP, one reply for all. */
  #finish(
    results: SmtpRecipientResult[],
    finals: readonly SmtpReply[],
    ending: string,
  ): SmtpTransactionOutcome {
    this.#needsReset = false;
    if (!this.#options.lmtp) {
      const reply = finals[0]!;
      if (!isPositive(reply)) throw new SmtpReplyError(ending, reply, results);
      return { recipients: results, reply };
    }
    // LMTP: one reply per recipient the server accepted, in order (RFC 2033 §4.2).
    let next = 0;
    const merged = results.map((result) => {
      if (!result.accepted) return result;
      const reply = finals[next++]!;
      return { address: result.address, accepted: isPositive(reply), reply };
    });
    if (!merged.some((result) => result.accepted)) throw allRefused(merged);
    return { recipients: merged, reply: finals[finals.length - 1]! };
  }

  /** Sends commands in one write (PIPELINING), a whole message's BDAT after them when given. */
  async #pipeline(
    commands: readonly SmtpCommand[],
    body: Uint8Array | undefined,
    endReplies: number,
  ): Promise<SmtpReply[]> {
    const lines = commands.map((command) => this.#serialize(command));
    const parts = lines.map((line) => utf8(`${line}\r\n`));
    if (body) {
      const bdat = `BDAT ${body.length} LAST`;
      lines.push(bdat);
      parts.push(utf8(`${bdat}\r\n`), body);
    }
    await this.#write(concatBytes(parts), commands.length + (body ? endReplies : 0), lines);
    return this.#replies(commands.length, this.#options.timeouts.command);
  }

  /** Sends commands one at a time: none after a refused MAIL, and no DATA when no recipient was accepted. */
  async #oneByOne(commands: readonly SmtpCommand[]): Promise<SmtpReply[]> {
    const replies: SmtpReply[] = [];
    let recipients = 0;
    for (const command of commands) {
      if (command.verb === 'DATA' && recipients === 0) break;
      const reply = await this.#command(command);
      replies.push(reply);
      if (command.verb === 'MAIL' && !isPositive(reply)) break;
      if (command.verb === 'RCPT' && isPositive(reply)) recipients++;
    }
    return replies;
  }

  #serialize(command: SmtpCommand): string {
    return serializeCommand(command, { smtputf8: this.#smtputf8 });
  }

  /** Says QUIT and closes; never throws. */
  async quit(): Promise<void> {
    if (!this.#connection.failure) {
      try {
        await this.#command({ verb: 'QUIT' }, 5_000);
      } catch {
        // The connection closes either way.
      }
    }
    await this.close();
  }

  /** Closes the connection at once. */
  async close(): Promise<void> {
    await this.#connection.close(
      new ConnectionError(ErrorCode.ConnectionClosed, 'the SMTP session was closed'),
    );
  }

  /** Sends one command and waits for its reply. */
  async #command(command: SmtpCommand, timeout = this.#options.timeouts.command): Promise<SmtpReply> {
    const line = this.#serialize(command);
    await this.#write(utf8(`${line}\r\n`), 1, [line]);
    const [reply] = await this.#replies(1, timeout);
    return reply!;
  }

  /** Sends a line that is not a command (a SASL response) and waits for the reply. */
  async #line(line: string): Promise<SmtpReply> {
    if (/[\r\n]/.test(line)) throw new ProtocolError('a SASL response cannot hold CR or LF');
    this.#tracer.redactNextClientLine();
    await this.#write(utf8(`${line}\r\n`), 1, [line]);
    const [reply] = await this.#replies(1, this.#options.timeouts.command);
    return reply!;
  }

  /** Writes bytes that ask for `replies` replies; `lines` are what the trace shows of them (message text never). */
  async #write(bytes: Uint8Array, replies = 0, lines: readonly string[] = []): Promise<void> {
    if (this.#connection.failure) throw this.#connection.failure;
    for (const line of lines) this.#tracer.sent(line);
    this.#outstanding += replies;
    // A server that stops reading is given up like one that stops answering (RFC 5321 §4.5.3.2).
    const timeout = this.#options.timeouts.command;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#connection.abort(new TimeoutError(`${this.server} took nothing more within ${timeout} ms`));
      }, timeout);
      // An abort or a timeout closes the transport, whose close waits for this very write: the send
      // fails at once instead.
      this.#writeFailed = (error) => {
        clearTimeout(timer);
        this.#writeFailed = undefined;
        reject(error);
      };
      this.#connection.write(bytes).then(
        () => {
          clearTimeout(timer);
          this.#writeFailed = undefined;
          resolve();
        },
        (error: unknown) => this.#writeFailed?.(error as Error),
      );
    });
  }

  /** The next `count` replies, each within `timeout` ms. */
  async #replies(count: number, timeout: number): Promise<SmtpReply[]> {
    if (this.#outstanding < 0)
      throw this.#connection.fail(new ProtocolError(`${this.server} sent more replies than asked for`));
    const replies: SmtpReply[] = [];
    while (replies.length < count) replies.push(this.#queued.shift() ?? (await this.#nextReply(timeout)));
    return replies;
  }

  #nextReply(timeout: number): Promise<SmtpReply> {
    if (this.#connection.failure) return Promise.reject(this.#connection.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#connection.abort(new TimeoutError(`no reply from ${this.server} within ${timeout} ms`));
      }, timeout);
      this.#waiter = {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  /** Runs an operation that an abort signal cancels by closing the connection. */
  async #guard<T>(signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T> {
    if (!signal) return run();
    if (signal.aborted) throw new AbortError(undefined, { cause: signal.reason });
    const onAbort = (): void => {
      this.#connection.abort(new AbortError(undefined, { cause: signal.reason }));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      return await run();
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** Reads replies as they arrive. */
  #receive(bytes: Uint8Array): void {
    this.#decoder.push(bytes);
    for (let event = this.#decoder.next(); event; event = this.#decoder.next()) {
      if (event.type === 'error') {
        this.#connection.fail(
          new ProtocolError(`a reply line from ${this.server} is malformed: ${event.error.message}`),
        );
        return;
      }
      if (event.type !== 'line') continue;
      const text = decodeUtf8(event.line);
      this.#tracer.received(text);
      let reply: SmtpReply | undefined;
      try {
        reply = this.#assembler.push(text);
      } catch (error) {
        this.#connection.fail(error as Error);
        return;
      }
      if (!reply) continue;
      if (this.#holdAfterReply) {
        this.#holdAfterReply = false;
        this.#connection.holdReading();
      }
      if (this.#outstanding === 0) {
        this.#connection.fail(
          new ProtocolError(`${this.server} sent a reply the client did not ask for: ${reply.code}`),
        );
        return;
      }
      // 421: the server is closing. It answers everything still pending, as Postfix's client reads it.
      const closing = reply.code === 421;
      for (let copies = closing ? this.#outstanding : 1; copies > 0; copies--) this.#deliver(reply);
      if (closing) {
        this.#connection.fail(
          new ConnectionError(ErrorCode.ConnectionClosed, `${this.server} is closing the connection`),
        );
        return;
      }
    }
  }

  #deliver(reply: SmtpReply): void {
    this.#outstanding--;
    this.#answered++;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter) waiter.resolve(reply);
    else this.#queued.push(reply);
  }

  /** The session failed: the waiting reply never comes, and the write in progress never ends. */
  #rejectWaiter(error: Error): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(error);
    this.#writeFailed?.(error);
  }
}

function allRefused(results: readonly SmtpRecipientResult[]): SmtpReplyError {
  // Temporary when any refusal was: the message may still go later.
  const reply = results.find((result) => result.reply.code < 500)?.reply ?? results[0]!.reply;
  return new SmtpReplyError('RCPT', reply, results);
}

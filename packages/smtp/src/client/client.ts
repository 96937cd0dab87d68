import {
  AbortError,
  ConnectionError,
  type Connector,
  ErrorCode,
  InvalidArgumentError,
  PostwireError,
  type StartTlsPolicy,
  streamChunks,
  type TlsClientOptions,
  type TraceHook,
} from '@postwire/core';
import type { DkimSigner, DkimSignOptions } from '@postwire/mailauth';
import { createSaslClient, type SaslClientOptions } from '@postwire/sasl';
import type { SmtpCapabilities } from '../protocol/capabilities.js';
import type { SmtpReply } from '../protocol/reply.js';
import { dkimSigners, needsSigning, SignedMessage, signMessage } from './dkim.js';
import { SmtpReplyError } from './errors.js';
import { messageEnvelope, prepareMessage, type SmtpMessageInput } from './message.js';
import { isComposedMessage } from './message-kind.js';
import { defaultSmtpClientTimeouts, SmtpClientSession, type SmtpClientTimeouts } from './session.js';
import { planTransaction, type SmtpRecipientResult, type SmtpSendEnvelope } from './transaction.js';

/** An EHLO name: a domain of letters, digits and hyphens, or an address literal such as `[192.0.2.1]`. */
const EHLO_NAME =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[\x21-\x5a\x5e-\x7e]+\])$/;

/** How a pooled client shares its connections. */
export interface SmtpPoolOptions {
  /** Connections open at once (default 5). */
  readonly maxConnections?: number;
  /** Messages sent on one connection before it is replaced (default 100). */
  readonly maxMessages?: number;
  /** At most `messages` messages started per `perMilliseconds` across the pool. */
  readonly rateLimit?: {
    /** How many messages may start in each period. */
    readonly messages: number;
    /** The period, in milliseconds. */
    readonly perMilliseconds: number;
  };
  /** An idle connection is closed after this many milliseconds (default 30,000). */
  readonly idleTimeout?: number;
}

/** The MX records of a domain, as `node:dns`'s `resolveMx` gives them. */
export interface MxRecord {
  /** The mail exchanger's host name. */
  readonly exchange: string;
  /** The preference; lower is preferred. */
  readonly priority: number;
}

/**
 * Finds a domain's mail exchangers. Resolve with `[]` when the domain has no MX records (the domain's own
 * address is then used, RFC 5321 §5.1); reject when the lookup fails.
 */
export type MxResolver = (domain: string) => Promise<readonly MxRecord[]>;

/** Options of {@link createSmtpClient}. */
export interface SmtpClientOptions {
  /** The server; omit it with `mx` to deliver straight to each recipient domain's mail exchangers. */
  readonly host?: string;
  /** Default: 465 with `secure`, 24 for LMTP, else 587 (25 with `mx`). */
  readonly port?: number;
  /** Implicit TLS from the first byte (RFC 8314, port 465). */
  readonly secure?: boolean;
  /**
   * STARTTLS: `required` refuses to go on in cleartext (nothing is sent after a missing or refused
   * STARTTLS), `opportunistic` (default) upgrades when offered, `never` stays in cleartext.
   */
  readonly starttls?: StartTlsPolicy;
  /** TLS settings, for implicit TLS and STARTTLS. */
  readonly tls?: TlsClientOptions;
  /**
   * Credentials for AUTH (RFC 4954) through `@postwire/sasl`: the strongest mechanism both sides have is
   * used, and cleartext ones (PLAIN, LOGIN) only inside TLS unless `allowCleartext` is set.
   */
  readonly auth?: SaslClientOptions;
  /** The name said in EHLO (default: the runtime adapter's, else `localhost`). */
  readonly name?: string;
  /** Speak LMTP (RFC 2033): LHLO, and one result per recipient after the message. */
  readonly lmtp?: boolean;
  /** Keep connections open and reuse them; `true` for the defaults of {@link SmtpPoolOptions}. */
  readonly pool?: boolean | SmtpPoolOptions;
  /** Direct delivery to each recipient domain's MX hosts, by preference, through this resolver. */
  readonly mx?: MxResolver;
  /** Milliseconds to wait; see {@link SmtpClientTimeouts}. */
  readonly timeouts?: Partial<SmtpClientTimeouts>;
  /** Cancels everything the client does. */
  readonly signal?: AbortSignal;
  /** Sees every command and reply line (credentials redacted), for debugging. */
  readonly trace?: TraceHook;
  /**
   * Sign every message with DKIM (RFC 6376, RFC 8463), unless a send says otherwise
   * ({@link SmtpSendOptions.dkim}): one DKIM-Signature field per signer, put in front of the message.
   */
  readonly dkim?: DkimSigner | readonly DkimSigner[];
  /**
   * How DKIM signs: the SHA-256 (the Node client uses the native one), the clock for `t=` and `x=`, the
   * largest header read.
   */
  readonly dkimOptions?: DkimSignOptions;
  /** Opens connections: `@postwire/core/node`'s `connect` on Node. */
  readonly connector: Connector;
}

/** What {@link SmtpClient.send} takes. */
export interface SmtpSendOptions {
  /** The message. */
  readonly message: SmtpMessageInput;
  /** The envelope; optional for a composed message (its From/Sender and To/Cc/Bcc are used). */
  readonly envelope?: SmtpSendEnvelope;
  /**
   * Sign this message with DKIM with these signers instead of the client's `dkim` (`[]`: with none).
   * A signed message is read into memory and signed once, before any connection: whatever its form
   * (bytes, a stream, a composed message), the fields go in front of the very bytes every server gets.
   * Compose options are then composed once, with 7-bit content unless they set `eightBit` (RFC 6376
   * §5.3), and their own `dkim` signers sign too. An unusable signer or key rejects the send with an
   * `SmtpSigningError` before anything is sent.
   */
  readonly dkim?: DkimSigner | readonly DkimSigner[];
  /** Cancels this send. */
  readonly signal?: AbortSignal;
}

/** What happened to a message. */
export interface SmtpSendResult {
  /** The envelope the message was sent with. */
  readonly envelope: {
    /** The reverse path; `null` for `<>`. */
    readonly from: string | null;
    /** The recipients' addresses. */
    readonly to: readonly string[];
  };
  /** The recipients the message was accepted for. */
  readonly accepted: readonly string[];
  /** The recipients it was refused for (their replies are in `recipients`). */
  readonly rejected: readonly string[];
  /** Each recipient's result, in envelope order. */
  readonly recipients: readonly SmtpRecipientResult[];
  /** The server's reply to the message (in LMTP, the last recipient's; with `mx`, the last server's). */
  readonly reply: SmtpReply;
  /** The Message-ID of a message composed by the client or by `@postwire/mime`. */
  readonly messageId?: string;
  /** `host:port` of the server that took it (the last one, with `mx` and several domains). */
  readonly server: string;
}

/** What {@link SmtpClient.verify} found: the server is reachable, and accepts the client's TLS and login. */
export interface SmtpVerifyResult {
  /** `host:port` of the server. */
  readonly server: string;
  /** The connection is inside TLS (implicit, or after STARTTLS). */
  readonly secure: boolean;
  /** What the server announced in EHLO (after STARTTLS, the one on TLS). */
  readonly capabilities: SmtpCapabilities;
  /** The SASL mechanism that logged in; absent when the client has no `auth`. */
  readonly mechanism?: string;
}

/** An SMTP or LMTP client: send messages, then close. */
export interface SmtpClient {
  /**
   * Sends a message. Resolves when the server accepted it for at least one recipient (see `rejected`);
   * rejects with an {@link SmtpReplyError} (`temporary` or `permanent`) when it was refused, an
   * `SmtpExtensionError` when it needs an extension the server lacks, an `SmtpSigningError` when it
   * cannot be signed, or a connection, TLS, authentication, timeout or abort error.
   */
  send(options: SmtpSendOptions): Promise<SmtpSendResult>;
  /**
   * Checks the settings without sending anything: connects, greets, upgrades with STARTTLS by policy and
   * logs in when `auth` is given, exactly as `send` would. Rejects with the error `send` would give
   * (connection, TLS, authentication, timeout, abort). With a pool the checked connection is kept for
   * the next message; without one it is closed with QUIT. Needs `host`: a client with only `mx` has no
   * single server to check.
   */
  verify(options?: { readonly signal?: AbortSignal }): Promise<SmtpVerifyResult>;
  /**
   * Ends every connection (QUIT) and refuses further sends. A message being sent is finished first; a
   * send still waiting for a connection (pooled, or looking up MX hosts) is refused with a
   * `ConnectionError` whose code is `CONNECTION_CLOSED`.
   */
  close(): Promise<void>;
}

/**
 * Creates an SMTP (or LMTP) client over any runtime's connector. On Node, `createSmtpClient` from
 * `@postwire/smtp/node` fills in the connector, the EHLO name and the MX resolver.
 */
export function createSmtpClient(options: SmtpClientOptions): SmtpClient {
  if (!options.host && !options.mx)
    throw new InvalidArgumentError('an SMTP client needs a host, or an MX resolver');
  if (options.name !== undefined && !EHLO_NAME.test(options.name)) {
    // Catalogue case 31: a name with CR, LF, `<`, `>` or a space would break out of the EHLO line.
    throw new InvalidArgumentError(
      `${JSON.stringify(options.name.slice(0, 64))} is not a domain or an address literal`,
    );
  }
  const sasl = options.auth ? createSaslClient(options.auth) : undefined;
  const timeouts = { ...defaultSmtpClientTimeouts, ...options.timeouts };
  const poolOptions = options.pool === true ? {} : options.pool || undefined;
  const port = options.port ?? (options.secure ? 465 : options.lmtp ? 24 : options.mx ? 25 : 587);
  const pools = new Map<string, ConnectionPool>();
  const limiter = poolOptions?.rateLimit ? new RateLimiter(poolOptions.rateLimit) : undefined;
  let closed = false;

  const poolFor = (host: string): ConnectionPool => {
    let pool = pools.get(host);
    if (!pool) {
      pool = new ConnectionPool(
        (signal) =>
          SmtpClientSession.open(
            {
              connector: options.connector,
              host,
              port,
              secure: options.secure === true,
              ...(options.tls ? { tls: options.tls } : {}),
              starttls: options.starttls ?? 'opportunistic',
              name: options.name ?? 'localhost',
              lmtp: options.lmtp === true,
              ...(sasl ? { sasl } : {}),
              timeouts,
              ...(options.trace ? { trace: options.trace } : {}),
            },
            signal,
          ),
        poolOptions,
      );
      pools.set(host, pool);
    }
    return pool;
  };

  const sendTo = async (
    host: string,
    envelope: SmtpSendEnvelope,
    message: OutgoingMessage,
    signal: AbortSignal | undefined,
  ): Promise<SmtpSendResult> => {
    if (closed) throw clientClosed();
    const pool = poolFor(host);
    for (let attempt = 0; ; attempt++) {
      const session = await pool.acquire(signal);
      const reused = session.messages > 0;
      let ok = false;
      try {
        const { capabilities } = session;
        const plan = planTransaction(envelope, {}, capabilities, session.secure);
        const prepared =
          message instanceof SignedMessage
            ? message.prepared
            : await prepareMessage(message, capabilities, plan.smtputf8);
        // RFC 9422 §4.1: more recipients than the server's RCPTMAX go in several transactions (a message
        // known as bytes can be sent again; a stream goes once and the server refuses the excess).
        const rcptMax = capabilities.limits?.rcptMax;
        const batches =
          rcptMax !== undefined && prepared.bytes !== undefined
            ? inBatches(envelope.to, rcptMax)
            : [envelope.to];
        const recipients: SmtpRecipientResult[] = [];
        let reply: SmtpReply | undefined;
        let refusal: unknown;
        for (const to of batches) {
          const checked = planTransaction({ ...envelope, to }, prepared.facts, capabilities, session.secure);
          await limiter?.take(signal);
          try {
            const outcome = await session.send(checked, prepared.source, prepared.bytes, signal);
            recipients.push(...outcome.recipients);
            reply = outcome.reply;
          } catch (error) {
            if (!(error instanceof SmtpReplyError) || batches.length === 1 || !session.usable) throw error;
            const refused = to.map((address) => ({ address, accepted: false, reply: error.reply }));
            recipients.push(...(error.recipients.length > 0 ? error.recipients : refused));
            refusal = error;
          }
        }
        if (!reply) throw refusal;
        ok = true;
        return result(envelope, recipients, reply, session.server, prepared.messageId);
      } catch (error) {
        ok = error instanceof SmtpReplyError && session.usable;
        if (reused && attempt === 0 && isStale(session, error)) continue;
        throw error;
      } finally {
        pool.release(session, ok);
      }
    }
  };

  const sendMessage = async ({
    message,
    envelope,
    dkim,
    signal: sendSignal,
  }: SmtpSendOptions): Promise<SmtpSendResult> => {
    if (closed) throw new InvalidArgumentError('this SMTP client is closed');
    const signal = anySignal(options.signal, sendSignal);
    if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    const resolved = envelope ?? messageEnvelope(message);
    if (!resolved) throw new InvalidArgumentError('a message given as bytes or a stream needs an envelope');
    const signers = dkimSigners(dkim ?? options.dkim);
    let outgoing: OutgoingMessage = message;
    if (needsSigning(message, signers)) {
      outgoing = await signMessage(message, resolved, signers, options.dkimOptions);
      if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
    }
    if (options.host) return sendTo(options.host, resolved, outgoing, signal);
    return deliverDirect(options.mx!, resolved, outgoing, signal, sendTo);
  };

  return {
    async send(sendOptions) {
      try {
        return await sendMessage(sendOptions);
      } finally {
        closeStream(sendOptions.message);
      }
    },
    async verify({ signal: verifySignal } = {}) {
      if (closed) throw new InvalidArgumentError('this SMTP client is closed');
      if (!options.host)
        throw new InvalidArgumentError('verify needs a host: an MX client has no one server');
      const signal = anySignal(options.signal, verifySignal);
      if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
      const pool = poolFor(options.host);
      const session = await pool.acquire(signal);
      const { server, secure, capabilities, mechanism } = session;
      pool.release(session, true);
      return { server, secure, capabilities, ...(mechanism ? { mechanism } : {}) };
    },
    async close() {
      closed = true;
      await Promise.all([...pools.values()].map((pool) => pool.close()));
      pools.clear();
    },
  };
}

/** What a send still waiting for a connection gets once the client is closed. */
function clientClosed(): ConnectionError {
  return new ConnectionError(ErrorCode.ConnectionClosed, 'the SMTP client was closed');
}

/**
 * Closes a message given as a stream once its send is over, read or not (a refused sender or recipients,
 * a failed connection): a web stream is cancelled, a Node stream destroyed, an iterator returned. One
 * read to its end is unharmed.
 */
function closeStream(message: SmtpMessageInput): void {
  if (message instanceof ReadableStream) {
    if (!message.locked) message.cancel().catch(() => {});
    return;
  }
  if (typeof message !== 'object' || message instanceof Uint8Array || !(Symbol.asyncIterator in message))
    return;
  if (isComposedMessage(message)) return;
  const stream = message as AsyncIterable<Uint8Array> & {
    destroy?: () => void;
    return?: () => Promise<unknown>;
  };
  if (typeof stream.destroy === 'function') stream.destroy();
  else stream.return?.().catch(() => {});
}

/** A message as the client sends it: as given, or signed with DKIM into its final bytes. */
type OutgoingMessage = SmtpMessageInput | SignedMessage;

/**
 * A pooled connection the server gave up while it was idle: it closed without answering the message,
 * or answered its first command with `421`. The message was not taken, so it goes once more on a fresh
 * connection.
 */
function isStale(session: SmtpClientSession, error: unknown): boolean {
  if (error instanceof ConnectionError) return !session.answered;
  return (
    error instanceof SmtpReplyError &&
    error.reply.code === 421 &&
    (error.command === 'MAIL' || error.command === 'RSET')
  );
}

function result(
  envelope: SmtpSendEnvelope,
  recipients: readonly SmtpRecipientResult[],
  reply: SmtpReply,
  server: string,
  messageId: string | undefined,
): SmtpSendResult {
  return {
    envelope: { from: envelope.from || null, to: envelope.to },
    accepted: recipients.filter((each) => each.accepted).map((each) => each.address),
    rejected: recipients.filter((each) => !each.accepted).map((each) => each.address),
    recipients,
    reply,
    server,
    ...(messageId ? { messageId } : {}),
  };
}

/**
 * Direct delivery: the recipients grouped by domain, each group sent to its domain's MX hosts in order of
 * preference (the domain itself when it has none). A host that cannot be reached or answers 4yz gives way
 * to the next; a 5yz answer is final. A null MX (RFC 7505) refuses the domain's recipients at once.
 */
async function deliverDirect(
  resolve: MxResolver,
  envelope: SmtpSendEnvelope,
  message: OutgoingMessage,
  signal: AbortSignal | undefined,
  sendTo: (
    host: string,
    envelope: SmtpSendEnvelope,
    message: OutgoingMessage,
    signal: AbortSignal | undefined,
  ) => Promise<SmtpSendResult>,
): Promise<SmtpSendResult> {
  const stream = isStream(message)
    ? new ReadOnce(message as ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>)
    : undefined;
  if (stream && new Set(envelope.to.map(domainOf)).size > 1) {
    throw new InvalidArgumentError('a message stream can go to one domain only; give bytes for several');
  }
  const byDomain = new Map<string, string[]>();
  for (const address of envelope.to) {
    const domain = domainOf(address);
    byDomain.set(domain, [...(byDomain.get(domain) ?? []), address]);
  }
  const outcomes = new Map<string, SmtpRecipientResult>();
  let last: SmtpSendResult | undefined;
  let lastError: unknown;
  for (const [domain, to] of byDomain) {
    const records = [...(await resolve(domain))].sort((a, b) => a.priority - b.priority);
    const nullMx = records.length === 1 && (records[0]!.exchange === '' || records[0]!.exchange === '.');
    if (nullMx) {
      const reply: SmtpReply = {
        code: 556,
        enhancedCode: '5.1.10',
        lines: [`${domain} does not accept mail (null MX)`],
      };
      for (const address of to) outcomes.set(address, { address, accepted: false, reply });
      lastError = new SmtpReplyError('RCPT', reply);
      continue;
    }
    const hosts = records.length > 0 ? records.map((record) => record.exchange) : [domain];
    for (const host of hosts) {
      try {
        last = await sendTo(host, { ...envelope, to }, stream ?? message, signal);
        for (const each of last.recipients) outcomes.set(each.address, each);
        lastError = undefined;
        break;
      } catch (error) {
        lastError = error;
        if (error instanceof AbortError) throw error;
        const refusals = error instanceof SmtpReplyError ? error.recipients : [];
        for (const each of refusals) outcomes.set(each.address, each);
        const temporary = !(error instanceof SmtpReplyError) || error.temporary;
        // A stream a host began to read cannot go to the next one: what is left of it is not the message.
        if (!temporary || !(error instanceof PostwireError) || stream?.started) break;
      }
    }
  }
  const recipients = envelope.to.map((address) => outcomes.get(address)).filter((each) => each !== undefined);
  if (!recipients.some((each) => each.accepted) || !last) throw lastError;
  return result(envelope, recipients, last.reply, last.server, last.messageId);
}

/** A message stream that tells whether its reading began. */
class ReadOnce implements AsyncIterable<Uint8Array> {
  readonly #stream: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;
  #started = false;

  constructor(stream: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>) {
    this.#stream = stream;
  }

  /** Some of the stream was asked for. */
  get started(): boolean {
    return this.#started;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    this.#started = true;
    const stream = this.#stream;
    yield* stream instanceof ReadableStream ? streamChunks(stream) : stream;
  }
}

/** The recipients in groups of at most `size`. */
function inBatches(recipients: readonly string[], size: number): (readonly string[])[] {
  const batches: (readonly string[])[] = [];
  for (let i = 0; i < recipients.length; i += size) batches.push(recipients.slice(i, i + size));
  return batches;
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

function isStream(message: OutgoingMessage): boolean {
  return (
    typeof message === 'object' &&
    !(message instanceof SignedMessage) &&
    !(message instanceof Uint8Array) &&
    Symbol.asyncIterator in message &&
    !('envelope' in message)
  );
}

/** One signal that aborts when either does. */
function anySignal(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  if (!a || !b) return a ?? b;
  return AbortSignal.any([a, b]);
}

type Opener = (signal: AbortSignal | undefined) => Promise<SmtpClientSession>;

/**
 * The connections to one server. Without pool options every send gets a fresh connection that is closed
 * after it; with them, idle connections are reused up to `maxMessages` each, at most `maxConnections` are
 * open, and senders beyond that wait their turn.
 */
class ConnectionPool {
  readonly #open: Opener;
  readonly #pooled: boolean;
  readonly #maxConnections: number;
  readonly #maxMessages: number;
  readonly #idleTimeout: number;
  readonly #idle: { session: SmtpClientSession; timer: ReturnType<typeof setTimeout> }[] = [];
  readonly #waiting: (() => void)[] = [];
  #count = 0;
  /** {@link close} was called: connections still sending are closed when they come back, not kept idle. */
  #closed = false;

  constructor(open: Opener, options: SmtpPoolOptions | undefined) {
    this.#open = open;
    this.#pooled = options !== undefined;
    this.#maxConnections = options?.maxConnections ?? (this.#pooled ? 5 : Number.POSITIVE_INFINITY);
    this.#maxMessages = options?.maxMessages ?? 100;
    this.#idleTimeout = options?.idleTimeout ?? 30_000;
    for (const [name, value] of [
      ['maxConnections', this.#maxConnections],
      ['maxMessages', this.#maxMessages],
      ['idleTimeout', this.#idleTimeout],
    ] as const) {
      if (!(value > 0)) throw new InvalidArgumentError(`pool ${name} must be a positive number`);
    }
  }

  async acquire(signal: AbortSignal | undefined): Promise<SmtpClientSession> {
    for (;;) {
      if (this.#closed) throw clientClosed();
      const idle = this.#idle.pop();
      if (idle) {
        clearTimeout(idle.timer);
        if (idle.session.usable) return idle.session;
        this.#count--;
        continue;
      }
      if (this.#count < this.#maxConnections) {
        this.#count++;
        try {
          return await this.#open(signal);
        } catch (error) {
          this.#count--;
          this.#wake();
          throw error;
        }
      }
      if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          this.#waiting.splice(this.#waiting.indexOf(wake), 1);
          reject(new AbortError(undefined, { cause: signal?.reason }));
        };
        const wake = (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        this.#waiting.push(wake);
      });
    }
  }

  /**
   * Takes a connection back: kept for the next message when pooled, in good shape and the pool is not
   * closed, else closed.
   */
  release(session: SmtpClientSession, reusable: boolean): void {
    // RFC 9422: a server's MAILMAX bounds the transactions of one session too.
    const maxMessages = Math.min(
      this.#maxMessages,
      session.capabilities?.limits?.mailMax ?? Number.POSITIVE_INFINITY,
    );
    if (this.#pooled && !this.#closed && reusable && session.usable && session.messages < maxMessages) {
      const timer = setTimeout(() => {
        const index = this.#idle.findIndex((each) => each.session === session);
        if (index >= 0) this.#idle.splice(index, 1);
        this.#count--;
        void session.quit();
      }, this.#idleTimeout);
      (timer as { unref?(): void }).unref?.();
      this.#idle.push({ session, timer });
    } else {
      this.#count--;
      void session.quit();
    }
    this.#wake();
  }

  #wake(): void {
    this.#waiting.shift()?.();
  }

  async close(): Promise<void> {
    this.#closed = true;
    const idle = this.#idle.splice(0);
    for (const { timer } of idle) clearTimeout(timer);
    this.#count -= idle.length;
    for (const wake of this.#waiting.splice(0)) wake();
    await Promise.all(idle.map(({ session }) => session.quit()));
  }
}

/** Spaces message starts so that at most `messages` begin in any `perMilliseconds` window. */
class RateLimiter {
  readonly #messages: number;
  readonly #window: number;
  readonly #starts: number[] = [];

  constructor(limit: { readonly messages: number; readonly perMilliseconds: number }) {
    if (!(limit.messages >= 1) || !(limit.perMilliseconds > 0)) {
      throw new InvalidArgumentError('rateLimit needs messages >= 1 and perMilliseconds > 0');
    }
    this.#messages = limit.messages;
    this.#window = limit.perMilliseconds;
  }

  async take(signal: AbortSignal | undefined): Promise<void> {
    for (;;) {
      const now = Date.now();
      while (this.#starts.length > 0 && this.#starts[0]! <= now - this.#window) this.#starts.shift();
      if (this.#starts.length < this.#messages) {
        this.#starts.push(now);
        return;
      }
      const wait = this.#starts[0]! + this.#window - now;
      if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }, wait);
        const onAbort = (): void => {
          clearTimeout(timer);
          reject(new AbortError(undefined, { cause: signal?.reason }));
        };
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }
}

import type { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import {
  ConnectionError,
  decodeUtf8,
  ErrorCode,
  InvalidArgumentError,
  LineDecoder,
  type LineEvent,
  PostwireError,
  ProtocolError,
  startTimer,
  TimeoutError,
  TlsError,
} from '@postwire/core';
import { ImapReader, type ImapResponse, parseResponse, type ReaderErrorEvent } from '@postwire/imap';
import { parsePop3Capabilities, parsePop3Status } from '@postwire/pop3';
import { isPositive, parseEhloReply, ReplyAssembler, type SmtpReply } from '@postwire/smtp';
import { type CliIo, type ExitCode, UsageError } from './io.js';

/** The protocols a probe speaks. */
export type ProbeProtocol = 'smtp' | 'lmtp' | 'imap' | 'pop3';

/**
 * When TLS starts: from the first byte (`implicit`), after the protocol's STARTTLS (`starttls`, an error
 * when the server does not offer it), never (`none`), or `auto`: implicit on the implicit-TLS ports
 * (465, 993, 995 and the dev server's 2465, 1993, 1995), else STARTTLS when the server offers it.
 */
export type ProbeTlsMode = 'implicit' | 'starttls' | 'none' | 'auto';

/** Options of {@link probe}. */
export interface ProbeOptions {
  /** The server's host name or address. */
  host: string;
  /** The server's port. */
  port: number;
  /** Default: guessed from the greeting (`220` SMTP, or LMTP on port 24; `* OK` IMAP; `+OK` POP3). */
  protocol?: ProbeProtocol;
  /** Default `auto`. */
  tls?: ProbeTlsMode;
  /** Milliseconds for the whole probe, connection and handshakes included; default 10,000. */
  timeout?: number;
  /** The name sent in SNI and checked against the certificate; default `host`. */
  servername?: string;
  /** CA certificates (PEM) to trust instead of the system's, to check a private CA's certificates. */
  ca?: string | readonly string[];
  /** Fail on a certificate that does not verify; default `false`: the report says it is untrusted. */
  rejectUnauthorized?: boolean;
}

/** The server's certificate, as the probe saw it. */
export interface ProbeCertificate {
  /** The subject's distinguished name, its parts joined by `, ` (`CN=mail.example.com`). */
  subject: string;
  /** The issuer's distinguished name, written as `subject` is. */
  issuer: string;
  /** Start of validity, ISO 8601. */
  validFrom: string;
  /** End of validity, ISO 8601. */
  validTo: string;
  /** As OpenSSL writes it: `DNS:mail.example.com, IP Address:192.0.2.1`. */
  subjectAltName?: string;
  /** SHA-256 of the certificate's DER, colon-separated hex. */
  fingerprint256: string;
  /** Issued by itself and signed by its own key. */
  selfSigned: boolean;
}

/** The TLS session the probe negotiated. */
export interface ProbeTls {
  /** TLS from the first byte, or after STARTTLS (STLS in POP3). */
  mode: 'implicit' | 'starttls';
  /** `TLSv1.3`, `TLSv1.2`. */
  version: string;
  /** The cipher suite, as OpenSSL names it. */
  cipher: string;
  /** The certificate chains to a trusted CA and names the server. */
  authorized: boolean;
  /** Why it is not trusted (`DEPTH_ZERO_SELF_SIGNED_CERT`, `ERR_TLS_CERT_ALTNAME_INVALID` …). */
  authorizationError?: string;
  /** The server's certificate. */
  certificate: ProbeCertificate;
}

/** What {@link probe} found. */
export interface ProbeReport {
  /** The host probed. */
  host: string;
  /** The port probed. */
  port: number;
  /** The protocol the server speaks, as given or guessed. */
  protocol: ProbeProtocol;
  /** The greeting as sent, its lines joined by `\n`. */
  greeting: string;
  /** Capabilities announced in plaintext; empty on implicit TLS. */
  capabilitiesBeforeTls: string[];
  /** Absent when the probe stayed in plaintext. */
  tls?: ProbeTls;
  /**
   * What the server announces (EHLO keyword lines, IMAP CAPABILITY atoms, CAPA lines), after TLS when
   * there was TLS, else the same as `capabilitiesBeforeTls`.
   */
  capabilities: string[];
  /** The SASL mechanisms offered, after TLS when there was TLS. */
  authMechanisms: string[];
  /** The SASL mechanisms offered in plaintext; empty on implicit TLS. */
  authMechanismsBeforeTls: string[];
  /** From the start to the last capability listing (the goodbye is not counted). */
  durationMs: number;
}

/** The well-known ports, and the dev server's high ones: the protocol each serves and whether TLS starts at once. */
const PORTS: ReadonlyMap<number, { readonly protocol: ProbeProtocol; readonly implicitTls: boolean }> =
  new Map([
    [25, { protocol: 'smtp', implicitTls: false }], // RFC 5321 relay
    [587, { protocol: 'smtp', implicitTls: false }], // RFC 6409 submission
    [465, { protocol: 'smtp', implicitTls: true }], // RFC 8314 submissions
    [2525, { protocol: 'smtp', implicitTls: false }],
    [2587, { protocol: 'smtp', implicitTls: false }],
    [2465, { protocol: 'smtp', implicitTls: true }],
    [24, { protocol: 'lmtp', implicitTls: false }], // RFC 2033
    [143, { protocol: 'imap', implicitTls: false }],
    [993, { protocol: 'imap', implicitTls: true }], // RFC 8314
    [1143, { protocol: 'imap', implicitTls: false }],
    [1993, { protocol: 'imap', implicitTls: true }],
    [110, { protocol: 'pop3', implicitTls: false }],
    [995, { protocol: 'pop3', implicitTls: true }], // RFC 8314
    [1110, { protocol: 'pop3', implicitTls: false }],
    [1995, { protocol: 'pop3', implicitTls: true }],
  ]);

const PROTOCOL_NAMES: Record<ProbeProtocol, string> = {
  smtp: 'SMTP',
  lmtp: 'LMTP',
  imap: 'IMAP',
  pop3: 'POP3',
};
const PROTOCOLS: ReadonlySet<string> = new Set(Object.keys(PROTOCOL_NAMES));
const TLS_MODES: ReadonlySet<string> = new Set(['auto', 'implicit', 'starttls', 'none']);
const DEFAULT_TIMEOUT = 10_000;
/** The longest line read, CRLF excluded: far beyond any greeting or capability line (RFC 5321: 512). */
const MAX_LINE = 8192;
/** The name given in EHLO and LHLO. */
const CLIENT_NAME = 'postwire-probe';
/** How long QUIT or LOGOUT may take to be answered before the connection is dropped anyway. */
const GOODBYE_WAIT = 1000;

/**
 * Connects to a mail server and reports what it shows a client: the greeting, the capabilities and
 * SASL mechanisms before and after TLS, and the TLS version, cipher and certificate (trusted or not).
 * Nothing is sent beyond the greeting's answers, STARTTLS and QUIT (or LOGOUT): no login, no mail.
 * @throws InvalidArgumentError for a bad port, timeout, protocol or TLS mode.
 * @throws ConnectionError (`CONNECT_FAILED` when the connection cannot be opened or the server refuses
 * it in its greeting, `CONNECTION_CLOSED` when it closes early), TimeoutError, TlsError (a failed
 * handshake, STARTTLS not offered or refused, an untrusted certificate with `rejectUnauthorized`),
 * ProtocolError (an unexpected greeting or reply).
 */
export async function probe(options: ProbeOptions): Promise<ProbeReport> {
  const started = performance.now();
  const { host, port } = options;
  const timeout = options.timeout ?? DEFAULT_TIMEOUT;
  const mode = options.tls ?? 'auto';
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new InvalidArgumentError(`${port} is not a port (1 to 65535)`);
  if (!Number.isInteger(timeout) || timeout < 1)
    throw new InvalidArgumentError('the timeout is a positive number of milliseconds');
  if (!TLS_MODES.has(mode)) throw new InvalidArgumentError(`${JSON.stringify(mode)} is not a TLS mode`);
  if (options.protocol !== undefined && !PROTOCOLS.has(options.protocol))
    throw new InvalidArgumentError(`${JSON.stringify(options.protocol)} is not a protocol`);

  const known = PORTS.get(port);
  const implicit = mode === 'implicit' || (mode === 'auto' && known?.implicitTls === true);
  const name = options.servername ?? host;
  const tlsOptions: tls.ConnectionOptions = {
    // SNI carries host names only (RFC 6066 §3).
    servername: net.isIP(name) === 0 ? name : undefined,
    checkServerIdentity: (_, certificate) => tls.checkServerIdentity(name, certificate),
    ca: options.ca === undefined ? undefined : typeof options.ca === 'string' ? options.ca : [...options.ca],
    // Checked below, so that an untrusted certificate is reported rather than only refused.
    rejectUnauthorized: false,
  };
  const channel = await ProbeChannel.open({
    host,
    port,
    tls: implicit ? tlsOptions : undefined,
    deadline: started + timeout,
    timeout,
  });
  try {
    let secured = implicit ? channel.describeTls('implicit') : undefined;
    if (secured) trust(secured, options, channel.where);
    const first = await channel.peekLine('the greeting').catch((error: Error) => {
      // A server on implicit TLS waits for the client's hello, then gives up: say what may be wrong.
      if (implicit || !(error instanceof ConnectionError || error instanceof TimeoutError)) throw error;
      error.message += ' (if the server speaks TLS from the first byte, use --tls implicit)';
      throw error;
    });
    const greeted = greetingProtocol(first);
    const protocol =
      options.protocol ?? (greeted === 'smtp' && known?.protocol === 'lmtp' ? 'lmtp' : greeted);
    if (protocol === undefined || family(protocol) !== (greeted && family(greeted))) {
      const expected = protocol ? ` (expected ${PROTOCOL_NAMES[protocol]})` : '';
      throw new ProtocolError(
        `unexpected greeting from ${channel.where}${expected}: ${JSON.stringify(first)}`,
      );
    }
    const dialogue = DIALOGUES[protocol](channel, protocol);
    const greeting = await dialogue.greet();
    const plain = await dialogue.capabilities();
    let announced = plain;
    if (!implicit && (mode === 'starttls' || (mode === 'auto' && plain.startTls))) {
      if (!plain.startTls) {
        throw new TlsError(
          ErrorCode.StartTlsRequired,
          `${channel.where} does not offer ${dialogue.startTlsName}`,
        );
      }
      await dialogue.startTls(tlsOptions);
      secured = channel.describeTls('starttls');
      trust(secured, options, channel.where);
      announced = await dialogue.capabilities();
    }
    const durationMs = Math.round(performance.now() - started);
    await dialogue.quit();
    return {
      host,
      port,
      protocol,
      greeting,
      capabilitiesBeforeTls: implicit ? [] : plain.list,
      ...(secured && { tls: secured }),
      capabilities: announced.list,
      authMechanisms: announced.auth,
      authMechanismsBeforeTls: implicit ? [] : plain.auth,
      durationMs,
    };
  } finally {
    channel.close();
  }
}

/** With `rejectUnauthorized`, an untrusted certificate ends the probe. */
function trust(secured: ProbeTls, options: ProbeOptions, where: string): void {
  if (options.rejectUnauthorized && !secured.authorized) {
    throw new TlsError(
      ErrorCode.Tls,
      `the certificate of ${where} is not trusted: ${secured.authorizationError ?? 'unknown reason'}`,
    );
  }
}

/** The protocol a greeting line speaks, if any: what `--protocol` may leave out. */
function greetingProtocol(line: string): ProbeProtocol | undefined {
  if (/^[2-5]\d\d(?:[ -]|$)/.test(line)) return 'smtp';
  if (/^\* (?:OK|PREAUTH|BYE)\b/i.test(line)) return 'imap';
  if (/^(?:\+OK|-ERR)\b/i.test(line)) return 'pop3';
  return undefined;
}

/** LMTP greets as SMTP does. */
function family(protocol: ProbeProtocol): ProbeProtocol {
  return protocol === 'lmtp' ? 'smtp' : protocol;
}

// --- The connection -------------------------------------------------------------------------------------

/** A protocol's reader of responses: bytes in, one response out at a time (`undefined`: more bytes). */
interface Framer<T> {
  push(chunk: Uint8Array): void;
  next(): T | undefined;
}

interface ChannelOptions {
  readonly host: string;
  readonly port: number;
  /** TLS from the first byte. */
  readonly tls: tls.ConnectionOptions | undefined;
  /** When the probe's time is up (`performance.now()` clock). */
  readonly deadline: number;
  /** The whole probe's time, for messages. */
  readonly timeout: number;
}

/**
 * The socket of one probe: received chunks queue up until a protocol's framer takes them, every wait
 * ends at the probe's deadline, and STARTTLS swaps the socket (and drops plaintext received before it).
 */
class ProbeChannel {
  readonly where: string;
  readonly #deadline: number;
  readonly #timeout: number;
  #socket: net.Socket;
  #queue: Uint8Array[] = [];
  #ended = false;
  #failure: Error | undefined;
  #wake: (() => void) | undefined;

  private constructor(socket: net.Socket, where: string, options: ChannelOptions) {
    this.where = where;
    this.#deadline = options.deadline;
    this.#timeout = options.timeout;
    this.#socket = socket;
    this.#attach(socket);
  }

  /** Connects (with the TLS handshake, for implicit TLS). */
  static open(options: ChannelOptions): Promise<ProbeChannel> {
    const where = endpoint(options.host, options.port);
    const target = { host: options.host, port: options.port };
    const socket = options.tls ? tls.connect({ ...options.tls, ...target }) : net.connect(target);
    let connected = false;
    socket.once('connect', () => {
      connected = true;
    });
    return settle(socket, options.tls ? 'secureConnect' : 'connect', options.deadline, {
      timedOut: () =>
        new TimeoutError(
          connected
            ? `the TLS handshake with ${where} timed out after ${options.timeout} ms`
            : `connecting to ${where} timed out after ${options.timeout} ms`,
        ),
      failed: (error) =>
        connected
          ? new TlsError(ErrorCode.Tls, `TLS handshake with ${where} failed: ${error.message}`, {
              cause: error,
            })
          : new ConnectionError(ErrorCode.ConnectFailed, `cannot connect to ${where}: ${error.message}`, {
              cause: error,
            }),
    }).then(() => new ProbeChannel(socket, where, options));
  }

  write(line: string): void {
    this.#socket.write(`${line}\r\n`);
  }

  /** The first line received, left in the queue for the protocol's framer. */
  async peekLine(what: string): Promise<string> {
    for (;;) {
      const received = Buffer.concat(this.#queue);
      const end = received.indexOf(0x0a);
      if (end >= 0) return decodeUtf8(received.subarray(0, end)).replace(/\r$/, '');
      if (received.length > MAX_LINE) {
        throw new ProtocolError(`${what} from ${this.where} is longer than ${MAX_LINE} bytes`);
      }
      await this.#received(what);
    }
  }

  /** The next response the framer reads; `what` names it in errors. */
  async read<T>(framer: Framer<T>, what: string): Promise<T> {
    for (;;) {
      let response: T | undefined;
      try {
        response = framer.next();
      } catch (error) {
        throw new ProtocolError(`cannot read ${what} from ${this.where}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      if (response !== undefined) return response;
      if (this.#queue.length === 0) await this.#received(what);
      framer.push(this.#queue.shift()!);
    }
  }

  /** Upgrades to TLS after the server agreed to STARTTLS; whatever it sent in plaintext since is dropped. */
  async startTls(options: tls.ConnectionOptions): Promise<void> {
    const plain = this.#socket;
    this.#detach(plain);
    plain.on('error', () => {});
    this.#queue = [];
    const secure = tls.connect({ ...options, socket: plain });
    await settle(secure, 'secureConnect', this.#deadline, {
      timedOut: () =>
        new TimeoutError(`the TLS handshake with ${this.where} timed out after ${this.#timeout} ms`),
      failed: (error) =>
        new TlsError(ErrorCode.Tls, `TLS handshake with ${this.where} failed: ${error.message}`, {
          cause: error,
        }),
    });
    this.#socket = secure;
    this.#attach(secure);
  }

  /** The TLS session of the (secure) socket. */
  describeTls(mode: ProbeTls['mode']): ProbeTls {
    const socket = this.#socket as tls.TLSSocket;
    const error = socket.authorizationError as Error | string | null;
    return {
      mode,
      version: socket.getProtocol() ?? 'unknown',
      cipher: socket.getCipher().name,
      authorized: socket.authorized,
      ...(!socket.authorized && { authorizationError: String(error) }),
      certificate: describeCertificate(socket.getPeerX509Certificate()!),
    };
  }

  close(): void {
    this.#socket.destroy();
  }

  /** Waits for a chunk (or the end, an error, the deadline). */
  async #received(what: string): Promise<void> {
    for (;;) {
      if (this.#queue.length > 0) return;
      if (this.#failure) {
        throw new ConnectionError(
          ErrorCode.ConnectionClosed,
          `the connection to ${this.where} failed while waiting for ${what}: ${this.#failure.message}`,
          { cause: this.#failure },
        );
      }
      if (this.#ended) {
        throw new ConnectionError(
          ErrorCode.ConnectionClosed,
          `${this.where} closed the connection while the probe waited for ${what}`,
        );
      }
      const left = this.#deadline - performance.now();
      if (left <= 0) {
        throw new TimeoutError(`timed out after ${this.#timeout} ms waiting for ${what} from ${this.where}`);
      }
      await new Promise<void>((resolve) => {
        const timer = startTimer(left, resolve);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#queue.push(chunk);
    this.#wake?.();
  };

  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#wake?.();
  };

  readonly #onError = (error: Error): void => {
    this.#failure ??= error;
    this.#wake?.();
  };

  #attach(socket: net.Socket): void {
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onEnd);
    socket.on('error', this.#onError);
  }

  #detach(socket: net.Socket): void {
    socket.off('data', this.#onData);
    socket.off('end', this.#onEnd);
    socket.off('close', this.#onEnd);
    socket.off('error', this.#onError);
  }
}

/** Waits for a socket's `event`, failing on an error, an early close or the deadline; the socket is destroyed on failure. */
function settle(
  socket: net.Socket,
  event: 'connect' | 'secureConnect',
  deadline: number,
  errors: { timedOut(): Error; failed(error: Error): Error },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off(event, onReady);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const fail = (error: Error): void => {
      cleanup();
      socket.on('error', () => {});
      socket.destroy();
      reject(error);
    };
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const onError = (error: Error): void => fail(errors.failed(error));
    const onClose = (): void => fail(errors.failed(new Error('the connection closed')));
    const timer = startTimer(Math.max(0, deadline - performance.now()), () => fail(errors.timedOut()));
    socket.once(event, onReady);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
}

function describeCertificate(certificate: X509Certificate): ProbeCertificate {
  return {
    subject: distinguishedName(certificate.subject),
    issuer: distinguishedName(certificate.issuer),
    validFrom: isoDate(certificate.validFrom),
    validTo: isoDate(certificate.validTo),
    ...(certificate.subjectAltName !== undefined && { subjectAltName: certificate.subjectAltName }),
    fingerprint256: certificate.fingerprint256,
    selfSigned: certificate.checkIssued(certificate) && certificate.verify(certificate.publicKey),
  };
}

/** Node writes one attribute a line (`C=DE\nO=Example\nCN=mail.example.com`). */
function distinguishedName(text: string): string {
  return text.split('\n').join(', ');
}

/** `Mar  1 10:00:00 2026 GMT` as ISO 8601. */
function isoDate(text: string): string {
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? text : date.toISOString().replace('.000Z', 'Z');
}

function endpoint(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

// --- The dialogues ---------------------------------------------------------------------------------------

/** What one capability listing announces. */
interface Announced {
  /** As sent: EHLO keyword lines, IMAP capability atoms, CAPA lines. */
  readonly list: string[];
  /** SASL mechanisms, upper-cased. */
  readonly auth: string[];
  readonly startTls: boolean;
}

/** One protocol's side of a probe: greet, list capabilities, start TLS, leave. */
interface Dialogue {
  /** The protocol's name for STARTTLS, for messages. */
  readonly startTlsName: string;
  /** Reads the greeting; throws when the server refuses the connection in it. */
  greet(): Promise<string>;
  capabilities(): Promise<Announced>;
  /** Asks for TLS, checks the answer and performs the handshake. */
  startTls(options: tls.ConnectionOptions): Promise<void>;
  quit(): Promise<void>;
}

const DIALOGUES: Record<ProbeProtocol, (channel: ProbeChannel, protocol: ProbeProtocol) => Dialogue> = {
  smtp: smtpDialogue,
  lmtp: smtpDialogue,
  imap: imapDialogue,
  pop3: pop3Dialogue,
};

/** Lines as text, from the shared line decoder. */
class Lines implements Framer<string> {
  readonly #decoder = new LineDecoder({ mode: 'lenient', maxLineLength: MAX_LINE });

  push(chunk: Uint8Array): void {
    this.#decoder.push(chunk);
  }

  next(): string | undefined {
    const event = this.#decoder.next();
    if (event === undefined) return undefined;
    if (event.type === 'error') throw event.error;
    return decodeUtf8((event as LineEvent).line);
  }
}

/** SMTP replies (RFC 5321 §4.2), with their lines as sent. */
class SmtpReplies implements Framer<{ reply: SmtpReply; raw: string[] }> {
  readonly #lines = new Lines();
  readonly #assembler = new ReplyAssembler();
  #raw: string[] = [];

  push(chunk: Uint8Array): void {
    this.#lines.push(chunk);
  }

  next(): { reply: SmtpReply; raw: string[] } | undefined {
    for (let line = this.#lines.next(); line !== undefined; line = this.#lines.next()) {
      this.#raw.push(line);
      const reply = this.#assembler.push(line);
      if (reply) {
        const raw = this.#raw;
        this.#raw = [];
        return { reply, raw };
      }
    }
    return undefined;
  }
}

function smtpDialogue(channel: ProbeChannel, protocol: ProbeProtocol): Dialogue {
  let replies = new SmtpReplies();
  const hello = protocol === 'lmtp' ? 'LHLO' : 'EHLO';
  const command = async (line: string, what: string) => {
    channel.write(line);
    return (await channel.read(replies, what)).reply;
  };
  return {
    startTlsName: 'STARTTLS',
    async greet() {
      const { reply, raw } = await channel.read(replies, 'the greeting');
      if (reply.code !== 220) throw refused(channel.where, raw.join(' '));
      return raw.join('\n');
    },
    async capabilities() {
      const reply = await command(`${hello} ${CLIENT_NAME}`, `the ${hello} reply`);
      if (!isPositive(reply)) {
        // RFC 5321 §4.1.1.1: a server without extensions refuses EHLO and takes HELO.
        const helo = protocol === 'smtp' && (await command(`HELO ${CLIENT_NAME}`, 'the HELO reply'));
        if (!helo || !isPositive(helo)) throw unexpected(channel.where, hello, reply);
        return { list: [], auth: [], startTls: false };
      }
      const parsed = parseEhloReply(reply);
      return { list: reply.lines.slice(1), auth: [...parsed.auth], startTls: parsed.startTls };
    },
    async startTls(options) {
      const reply = await command('STARTTLS', 'the STARTTLS reply');
      if (reply.code !== 220) throw notStarted(channel.where, 'STARTTLS', replyLine(reply));
      await channel.startTls(options);
      replies = new SmtpReplies();
    },
    async quit() {
      channel.write('QUIT');
      await goodbye(channel.read(replies, 'the QUIT reply'));
    },
  };
}

/** IMAP responses, framed by the shared reader (literals included) and parsed by the shared grammar. */
class ImapResponses implements Framer<ImapResponse> {
  readonly #reader = new ImapReader({ side: 'client', streamLiteral: () => false });

  push(chunk: Uint8Array): void {
    this.#reader.push(chunk);
  }

  next(): ImapResponse | undefined {
    const event = this.#reader.next();
    if (event === undefined) return undefined;
    // Client side, with no literal streamed, the reader yields whole responses or errors.
    if (event.type !== 'message') throw (event as ReaderErrorEvent).error;
    return parseResponse(event.fragments);
  }
}

function imapDialogue(channel: ProbeChannel): Dialogue {
  let responses = new ImapResponses();
  let tags = 0;
  let greetingCapabilities: string[] | undefined;
  /** Sends a command and reads to its tagged response, handing each untagged one to `untagged`. */
  const command = async (name: string, untagged: (response: ImapResponse) => void = () => {}) => {
    const tag = String.fromCharCode(0x61 + tags++);
    channel.write(`${tag} ${name}`);
    for (;;) {
      const response = await channel.read(responses, `the response to ${name}`);
      if (response.type === 'tagged' && response.tag === tag) return response;
      if (response.type === 'status' && response.status === 'BYE' && name !== 'LOGOUT') {
        throw new ConnectionError(ErrorCode.ConnectionClosed, `${channel.where} said BYE: ${response.text}`);
      }
      untagged(response);
    }
  };
  return {
    startTlsName: 'STARTTLS',
    async greet() {
      const line = await channel.peekLine('the greeting');
      const response = await channel.read(responses, 'the greeting');
      if (response.type !== 'status' || (response.status !== 'OK' && response.status !== 'PREAUTH')) {
        throw refused(channel.where, line);
      }
      if (response.code?.code === 'CAPABILITY') greetingCapabilities = [...response.code.capabilities];
      return line;
    },
    async capabilities() {
      let list: string[] | undefined;
      const done = await command('CAPABILITY', (response) => {
        if (response.type === 'CAPABILITY') list = [...response.capabilities];
      });
      if (done.code?.code === 'CAPABILITY') list ??= [...done.code.capabilities];
      list ??= greetingCapabilities ?? [];
      greetingCapabilities = undefined;
      const auth = list.filter((name) => /^AUTH=/i.test(name)).map((name) => name.slice(5).toUpperCase());
      return { list, auth, startTls: list.some((name) => name.toUpperCase() === 'STARTTLS') };
    },
    async startTls(options) {
      const done = await command('STARTTLS');
      if (done.status !== 'OK') throw notStarted(channel.where, 'STARTTLS', `${done.status} ${done.text}`);
      await channel.startTls(options);
      responses = new ImapResponses();
    },
    async quit() {
      await goodbye(command('LOGOUT'));
    },
  };
}

function pop3Dialogue(channel: ProbeChannel): Dialogue {
  let lines = new Lines();
  const read = async (what: string) => {
    const text = await channel.read(lines, what);
    try {
      return { text, status: parsePop3Status(text) };
    } catch (error) {
      throw new ProtocolError(`cannot read ${what} from ${channel.where}: ${(error as Error).message}`);
    }
  };
  const status = (line: string, what: string) => {
    channel.write(line);
    return read(what);
  };
  return {
    startTlsName: 'STLS',
    async greet() {
      const greeting = await read('the greeting');
      if (!greeting.status.ok) throw refused(channel.where, greeting.text);
      return greeting.text;
    },
    async capabilities() {
      const capa = await status('CAPA', 'the CAPA response');
      const list: string[] = [];
      // RFC 1939 servers have no CAPA: nothing is announced.
      if (capa.status.ok) {
        for (;;) {
          const line = await channel.read(lines, 'the CAPA response');
          if (line === '.') break;
          list.push(line.startsWith('.') ? line.slice(1) : line);
        }
      }
      const parsed = parsePop3Capabilities(list);
      return { list, auth: [...parsed.sasl], startTls: parsed.stls };
    },
    async startTls(options) {
      const stls = await status('STLS', 'the STLS response');
      if (!stls.status.ok) throw notStarted(channel.where, 'STLS', stls.text);
      await channel.startTls(options);
      lines = new Lines();
    },
    async quit() {
      await goodbye(status('QUIT', 'the QUIT response'));
    },
  };
}

/** Waits a little for the answer to QUIT or LOGOUT, whatever it is: the report does not depend on it. */
async function goodbye(answer: Promise<unknown>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    answer.catch(() => {}),
    new Promise((resolve) => {
      timer = setTimeout(resolve, GOODBYE_WAIT);
    }),
  ]);
  clearTimeout(timer);
}

function refused(where: string, greeting: string): ConnectionError {
  return new ConnectionError(ErrorCode.ConnectFailed, `${where} refused the connection: ${greeting}`);
}

function unexpected(where: string, command: string, reply: SmtpReply): ProtocolError {
  return new ProtocolError(`${where} refused ${command}: ${replyLine(reply)}`);
}

function notStarted(where: string, command: string, answer: string): TlsError {
  return new TlsError(ErrorCode.StartTlsRequired, `${where} refused ${command}: ${answer}`);
}

function replyLine(reply: SmtpReply): string {
  return [reply.code, reply.enhancedCode, reply.lines.join(' ')]
    .filter((part) => part !== undefined)
    .join(' ');
}

// --- The command ------------------------------------------------------------------------------------------

/** The usage of `postwire probe`, for its errors and the dispatcher's help. */
export const PROBE_USAGE = `usage: postwire probe [--json] [--protocol smtp|lmtp|imap|pop3] [--tls auto|implicit|starttls|none]
                      [--timeout ms] [--servername name] [--ca file] [--verify] host:port

Connects to a mail server and shows its greeting, capabilities, TLS version and certificate, and the
SASL mechanisms it offers before and after TLS. Nothing is sent beyond EHLO, CAPABILITY or CAPA,
STARTTLS and QUIT.

  --json             the report as JSON
  --protocol p       default: from the greeting (LMTP on port 24)
  --tls mode         auto (default): implicit on 465, 993, 995, 2465, 1993, 1995, else STARTTLS when offered
  --timeout ms       for the whole probe (default 10000)
  --servername name  for SNI and the certificate check (default: the host)
  --ca file          trust the CA certificates in this PEM file instead of the system's
  --verify           fail when the certificate is not trusted (default: report it)
`;

const VALUE_FLAGS = new Set(['--protocol', '--tls', '--timeout', '--servername', '--ca']);

/** `postwire probe [--json] [--protocol p] [--tls mode] [--timeout ms] [--servername name] host:port` */
export async function probeCommand(args: readonly string[], io: CliIo): Promise<ExitCode> {
  let json = false;
  let options: ProbeOptions;
  try {
    const parsed = parseProbeArgs(args);
    if (parsed === 'help') {
      io.out(PROBE_USAGE);
      return 0;
    }
    ({ json, options } = parsed);
  } catch (error) {
    // Only UsageErrors: the arguments are all that is checked here.
    io.err(`postwire probe: ${(error as UsageError).message}\n${PROBE_USAGE}`);
    return 2;
  }
  try {
    const report = await probe(options);
    io.out(json ? `${JSON.stringify(report, null, 2)}\n` : formatProbeReport(report));
    return 0;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    io.err(`postwire probe: ${printable(message)}\n`);
    if (json) {
      const code = error instanceof PostwireError ? error.code : undefined;
      io.out(`${JSON.stringify({ error: message, ...(code && { code }) }, null, 2)}\n`);
    }
    return 1;
  }
}

function parseProbeArgs(args: readonly string[]): { json: boolean; options: ProbeOptions } | 'help' {
  let json = false;
  let target: string | undefined;
  const values = new Map<string, string>();
  let verify = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const equals = arg.indexOf('=');
    const flag = arg.startsWith('--') && equals > 0 ? arg.slice(0, equals) : arg;
    if (flag === '--help' || flag === '-h') return 'help';
    if (flag === '--json') json = true;
    else if (flag === '--verify') verify = true;
    else if (VALUE_FLAGS.has(flag)) {
      const value = flag === arg ? args[++i] : arg.slice(equals + 1);
      if (value === undefined || value === '') throw new UsageError(`${flag} needs a value`);
      values.set(flag, value);
    } else if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
    else if (target !== undefined) throw new UsageError(`one host:port only (${target} and ${arg} given)`);
    else target = arg;
  }
  if (target === undefined) throw new UsageError('no host:port given');
  const { host, port } = parseTarget(target);
  const protocol = values.get('--protocol');
  if (protocol !== undefined && !PROTOCOLS.has(protocol))
    throw new UsageError(`--protocol is smtp, lmtp, imap or pop3, not ${protocol}`);
  const mode = values.get('--tls');
  if (mode !== undefined && !TLS_MODES.has(mode))
    throw new UsageError(`--tls is auto, implicit, starttls or none, not ${mode}`);
  const timeoutText = values.get('--timeout');
  const timeout = timeoutText === undefined ? undefined : Number(timeoutText);
  if (timeout !== undefined && !(/^\d+$/.test(timeoutText!) && timeout > 0))
    throw new UsageError(`--timeout is a positive number of milliseconds, not ${timeoutText}`);
  const caFile = values.get('--ca');
  let ca: string | undefined;
  if (caFile !== undefined) {
    try {
      ca = readFileSync(caFile, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read --ca ${caFile}: ${(error as Error).message}`);
    }
  }
  const servername = values.get('--servername');
  return {
    json,
    options: {
      host,
      port,
      ...(protocol !== undefined && { protocol: protocol as ProbeProtocol }),
      ...(mode !== undefined && { tls: mode as ProbeTlsMode }),
      ...(timeout !== undefined && { timeout }),
      ...(servername !== undefined && { servername }),
      ...(ca !== undefined && { ca }),
      ...(verify && { rejectUnauthorized: true }),
    },
  };
}

/** `host:port`, `[v6]:port`. */
function parseTarget(target: string): { host: string; port: number } {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(target);
  const port = Number(match?.[3]);
  if (!match || port < 1 || port > 65535) {
    throw new UsageError(`expected host:port (such as mail.example.com:587 or [::1]:25), not ${target}`);
  }
  return { host: (match[1] ?? match[2])!, port };
}

const LABEL_WIDTH = 18;
const LINE_WIDTH = 100;

/** The report for a person: one aligned line per finding. */
export function formatProbeReport(report: ProbeReport): string {
  const rows: [string, string][] = [
    ['Server', `${endpoint(report.host, report.port)} (${PROTOCOL_NAMES[report.protocol]})`],
    ['Greeting', report.greeting],
  ];
  const { tls: secured } = report;
  if (secured) {
    const { certificate } = secured;
    const how = secured.mode === 'implicit' ? 'implicit TLS' : 'after STARTTLS';
    const trust = secured.authorized ? 'yes' : `no (${secured.authorizationError})`;
    rows.push(
      ['TLS', `${secured.version}, ${secured.cipher}, ${how}`],
      ['Certificate', certificate.subject],
      ['  issuer', certificate.issuer],
      ['  valid', `${certificate.validFrom} to ${certificate.validTo}`],
      ['  names', certificate.subjectAltName ?? 'none'],
      ['  SHA-256', certificate.fingerprint256],
      ['  trusted', certificate.selfSigned ? `${trust}, self-signed` : trust],
    );
  } else {
    rows.push(['TLS', 'none']);
  }
  const starttls = secured?.mode === 'starttls';
  rows.push(['Capabilities', list(report.capabilities)]);
  if (starttls) rows.push(['  before TLS', list(report.capabilitiesBeforeTls)]);
  rows.push(['Auth', list(report.authMechanisms)]);
  if (starttls) rows.push(['  before TLS', list(report.authMechanismsBeforeTls)]);
  rows.push(['Time', `${report.durationMs} ms`]);
  const indent = ' '.repeat(LABEL_WIDTH);
  return rows
    .map(([label, value]) => label.padEnd(LABEL_WIDTH) + printable(value).split('\n').join(`\n${indent}`))
    .join('\n')
    .concat('\n');
}

/** Items joined by `, `, wrapped to the line width under the value column; `none` for none. */
function list(items: readonly string[]): string {
  if (items.length === 0) return 'none';
  const lines: string[] = [];
  let line = '';
  for (const item of items) {
    const next = line === '' ? item : `${line}, ${item}`;
    if (line !== '' && LABEL_WIDTH + next.length > LINE_WIDTH) {
      lines.push(`${line},`);
      line = item;
    } else {
      line = next;
    }
  }
  lines.push(line);
  return lines.join('\n');
}

/** A server's text on a terminal: control characters (escape sequences) shown as `\xNN`, line breaks kept. */
function printable(text: string): string {
  return text.replace(
    /[\x00-\x09\x0b-\x1f\x7f-\x9f]/g,
    (character) => `\\x${character.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

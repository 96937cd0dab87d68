import {
  BareLineEndingError,
  decodeUtf8Strict,
  InvalidArgumentError,
  LineDecoder,
  type LineDecoderEvent,
  LineTooLongError,
  resolveLimits,
  startsWithKeyword,
} from '@postwire/core';
import { CrlfNormalizer } from '@postwire/mime';
import type { SaslFailureReason, SaslSessionStep } from '@postwire/sasl';
import { ehloReply } from '../protocol/capabilities.js';
import {
  type MailParameters,
  parseCommand,
  type RcptParameters,
  type SmtpCommand,
  SmtpCommandError,
} from '../protocol/command.js';
import type { SmtpMailbox } from '../protocol/path.js';
import { type SmtpReply, serializeReply } from '../protocol/reply.js';
import { receivedHeader } from './received.js';
import {
  applyXforward,
  parseXclient,
  type SmtpXclient,
  type SmtpXforward,
  XCLIENT_ATTRIBUTES,
  XFORWARD_ATTRIBUTES,
} from './xclient.js';

/** Limits of a server session, with Postfix-like defaults. */
export type SmtpServerLimits = {
  /** A command line, in octets without its CRLF (RFC 5321 §4.5.3.1.4: 512 with it). */
  readonly commandLine: number;
  /** A line of message text, in octets without its CRLF (RFC 5321 §4.5.3.1.6: 1000 with it). */
  readonly textLine: number;
  /** Recipients of one transaction; more get `452 4.5.3` (Postfix: 1000). */
  readonly recipients: number;
  /** Size of one message in octets (Postfix `message_size_limit`: 10,240,000). */
  readonly messageSize: number;
  /** Bad commands before the session ends with 421 (Postfix `smtpd_hard_error_limit`: 20). */
  readonly badCommands: number;
  /** An AUTH command or SASL response line (RFC 4954 §4: 12,288, Postfix `smtpd_sasl_response_limit`). */
  readonly authLine: number;
  /**
   * Commands before authentication when it is required (`requireAuth`), AUTH and QUIT not counted; the
   * next one ends the session with 421 (smtp-server's `maxAllowedUnauthenticatedCommands`: 10).
   */
  readonly unauthenticatedCommands: number;
  /** Failed AUTH exchanges before the session ends with 421 (catalogue case 44: Dovecot and Stalwart, 3). */
  readonly authFailures: number;
};

/** The defaults of {@link SmtpServerLimits}. */
export const defaultSmtpServerLimits: SmtpServerLimits = {
  commandLine: 510,
  textLine: 998,
  recipients: 1000,
  messageSize: 10_240_000,
  badCommands: 20,
  authLine: 12_288,
  unauthenticatedCommands: 10,
  authFailures: 3,
};

/** Options of {@link SmtpServerSession}. */
export interface SmtpServerSessionOptions {
  /** The server's name, in the greeting and the EHLO reply. */
  readonly hostname: string;
  /** `smtp` (default) or `lmtp` (RFC 2033: LHLO, one reply per recipient after the message). */
  readonly protocol?: 'smtp' | 'lmtp';
  /** Limits on lines, commands, recipients, message size and failed logins; the ones not given keep their defaults. */
  readonly limits?: Partial<SmtpServerLimits>;
  /**
   * Bare CR or LF from the client (catalogue case 2): `reject` (default) refuses the command or the
   * message; `normalize` takes it as CRLF. Only CRLF `.` CRLF ever ends a message (case 1).
   */
  readonly bareLineEndings?: 'reject' | 'normalize';
  /** Offer STARTTLS (the transport can upgrade, and is not yet TLS). */
  readonly startTls?: boolean;
  /** Offer SMTPUTF8 (RFC 6531); default true. */
  readonly smtputf8?: boolean;
  /** Offer 8BITMIME (RFC 6152); default true. */
  readonly eightBitMime?: boolean;
  /** Offer DSN (RFC 3461); default true. */
  readonly dsn?: boolean;
  /** Offer CHUNKING and BINARYMIME (RFC 3030: BDAT); default true. */
  readonly chunking?: boolean;
  /**
   * The SASL mechanisms to offer in EHLO `AUTH`, given whether the session is on TLS (usually a
   * `@postwire/sasl` server's `mechanisms()`); none, or no function, means no AUTH (RFC 4954).
   */
  readonly authMechanisms?: (secure: boolean) => readonly string[];
  /** Submission (RFC 6409): MAIL is refused with `530 5.7.0` until the client authenticates. */
  readonly requireAuth?: boolean;
  /** The client's IP address, for the `Received:` header. */
  readonly remoteAddress?: string;
  /** Prepend a `Received:` header to each message (RFC 5321 §4.4); default true. */
  readonly receivedHeader?: boolean;
  /**
   * Ask the application before greeting: the session starts with a `connect` decision and writes its
   * `220` only once that is answered (a 4xx or 5xx answer is written instead, and the session closes).
   */
  readonly connectDecision?: boolean;
  /** Offer REQUIRETLS (RFC 8689) on TLS sessions; default true. */
  readonly requireTls?: boolean;
  /**
   * Offer and accept XCLIENT (Postfix) from this client, which may then say who the client really is:
   * only for a proxy or filter the application trusts. Others are refused with `550 5.7.0`.
   */
  readonly xclient?: boolean;
  /** Offer and accept XFORWARD (Postfix) from this client: only for a filter the application trusts. */
  readonly xforward?: boolean;
}

/** How a SASL exchange step ended, for {@link SmtpServerSession.authStep}: `334` and the challenge, success or a failure. */
export type SmtpAuthStep = SaslSessionStep;

/** Why authentication failed: `@postwire/sasl`'s failure reasons. */
export type SmtpAuthFailure = SaslFailureReason;

/** The reply for each way authentication fails (RFC 4954 §6, RFC 5248). */
const AUTH_FAILURES: Record<SmtpAuthFailure, SmtpReply> = {
  'invalid-credentials': reply(535, '5.7.8', 'Authentication credentials invalid'),
  'authorization-failed': reply(535, '5.7.8', 'Authentication credentials invalid'),
  cancelled: reply(501, '5.0.0', 'Authentication cancelled'),
  malformed: reply(501, '5.5.2', 'Cannot decode the response'),
  'too-long': reply(500, '5.5.6', 'Authentication exchange line is too long'),
  'mechanism-unavailable': reply(504, '5.5.4', 'Unrecognized authentication type'),
  'encryption-required': reply(538, '5.7.11', 'Encryption required for requested authentication mechanism'),
  throttled: reply(454, '4.7.0', 'Too many failed attempts, try again later'),
  temporary: reply(454, '4.7.0', 'Temporary authentication failure'),
};

/** The envelope of the transaction in progress. */
export interface SmtpEnvelope {
  /** The reverse path; `null` for `<>`. */
  readonly from: SmtpMailbox | null;
  /** The MAIL FROM parameters. */
  readonly mailParameters: MailParameters;
  /** The recipients the application accepted, in order. */
  readonly recipients: readonly {
    /** The recipient. */
    readonly to: SmtpMailbox;
    /** The RCPT TO parameters. */
    readonly parameters: RcptParameters;
  }[];
  /** What XFORWARD said about the up-stream client for this transaction, when it was used. */
  readonly forwarded?: SmtpXforward;
}

/**
 * What the session needs the application (through its driver) to do. Events marked "decision" wait
 * for {@link SmtpServerSession.respond}: the session reads no further input until then.
 */
export type SmtpServerEvent =
  /** Bytes to write to the client. */
  | {
      /** Write bytes. */
      readonly type: 'write';
      /** The bytes. */
      readonly data: Uint8Array;
    }
  /**
   * Decision (with `connectDecision`, and again after XCLIENT): admit the client (the default `220`
   * greeting), or refuse it with a 4xx or 5xx reply, after which the session closes.
   */
  | {
      /** Admit or refuse the client. */
      readonly type: 'connect';
    }
  /**
   * Run a SASL exchange: respond through {@link SmtpServerSession.authStep} with its first outcome (the
   * initial response is as written: base64, `=` for empty, or absent).
   */
  | {
      /** Start a SASL exchange. */
      readonly type: 'auth';
      /** The mechanism, upper-cased. */
      readonly mechanism: string;
      /** The initial response, when given. */
      readonly initialResponse?: string;
    }
  /** The client's answer to a `334` challenge (base64, or `*` to cancel): respond through `authStep`. */
  | {
      /** A response to a challenge. */
      readonly type: 'auth-response';
      /** The client's line. */
      readonly line: string;
    }
  /** Decision: accept the client's HELO/EHLO/LHLO name (default `250`). */
  | {
      /** A greeting command. */
      readonly type: 'helo';
      /** The command. */
      readonly verb: 'HELO' | 'EHLO' | 'LHLO';
      /** The client's name, as given. */
      readonly domain: string;
    }
  /** Decision: accept the sender (default `250 2.1.0`). */
  | {
      /** MAIL FROM. */
      readonly type: 'mail';
      /** The reverse path; `null` for `<>`. */
      readonly from: SmtpMailbox | null;
      /** The MAIL FROM parameters. */
      readonly parameters: MailParameters;
    }
  /** Decision: accept the recipient (default `250 2.1.5`). */
  | {
      /** RCPT TO. */
      readonly type: 'rcpt';
      /** The recipient. */
      readonly to: SmtpMailbox;
      /** The RCPT TO parameters. */
      readonly parameters: RcptParameters;
    }
  /** Decision: answer VRFY (default `252 2.5.2`: not verified, but mail will be tried, RFC 5321 §3.5.3). */
  | {
      /** VRFY. */
      readonly type: 'vrfy';
      /** The argument, as written. */
      readonly argument: string;
    }
  /** Decision: answer EXPN (default `502 5.5.1`: lists are not disclosed, RFC 5321 §7.3). */
  | {
      /** EXPN. */
      readonly type: 'expn';
      /** The argument, as written. */
      readonly argument: string;
    }
  /** Decision: accept a message for this envelope (default `354`). */
  | {
      /** DATA or the first BDAT. */
      readonly type: 'message-start';
      /** The transaction's envelope. */
      readonly envelope: SmtpEnvelope;
    }
  /**
   * Message bytes, dot-stuffing removed, in order. `trace` marks the server's own `Received:` header, which
   * comes first (with `receivedHeader`), apart from the client's bytes.
   */
  | {
      /** Message bytes. */
      readonly type: 'message-data';
      /** The bytes. */
      readonly data: Uint8Array;
      /** Set on the server's own `Received:` header. */
      readonly trace?: true;
    }
  /**
   * Decision: the message is complete (default `250 2.0.0`). In LMTP, respond with one reply per
   * recipient, in order.
   */
  | {
      /** The message is complete. */
      readonly type: 'message-end';
      /** The transaction's envelope. */
      readonly envelope: SmtpEnvelope;
      /** The message's size in octets, as received. */
      readonly size: number;
    }
  /** The message was given up (the data after `message-start` must be discarded): why. */
  | {
      /** The message was given up. */
      readonly type: 'message-abort';
      /**
       * Why: too large, a bare CR or LF, a line too long, or a reset of the transaction (RSET, HELO,
       * STARTTLS) between BDAT chunks.
       */
      readonly reason: 'size' | 'bare-line-ending' | 'line-too-long' | 'reset';
    }
  /**
   * Decision: start TLS now, on the bytes after the `220` just written; respond once the handshake is
   * done (the session then starts afresh, as RFC 3207 requires), or with a reply if it failed.
   */
  | {
      /** Start TLS. */
      readonly type: 'starttls';
    }
  /** Close the connection once everything written is sent. */
  | {
      /** Close the connection. */
      readonly type: 'close';
    };

type Decision =
  | 'connect'
  | 'helo'
  | 'mail'
  | 'rcpt'
  | 'vrfy'
  | 'expn'
  | 'message-start'
  | 'message-end'
  | 'starttls'
  | 'auth';

/** States of the session (RFC 5321 §4.1.4 ordering). */
enum Phase {
  /** Before HELO/EHLO/LHLO. */
  Greeted,
  /** After HELO/EHLO/LHLO, no transaction. */
  Ready,
  /** After MAIL. */
  Mail,
  /** Reading the message after DATA. */
  Data,
  /** After QUIT, or an error that ends the session. */
  Closed,
}

function reply(code: number, enhancedCode: string | undefined, text: string): SmtpReply {
  return enhancedCode ? { code, enhancedCode, lines: [text] } : { code, lines: [text] };
}

/** Limits already resolved, by the object given: the sessions of one server share theirs. */
const RESOLVED_LIMITS = new WeakMap<Partial<SmtpServerLimits>, SmtpServerLimits>();

/** The limits of a session: the defaults, or those given resolved once per limits object. */
function sessionLimits(limits: Partial<SmtpServerLimits> | undefined): SmtpServerLimits {
  if (!limits) return defaultSmtpServerLimits;
  let resolved = RESOLVED_LIMITS.get(limits);
  if (!resolved) {
    resolved = resolveLimits(defaultSmtpServerLimits, limits);
    RESOLVED_LIMITS.set(limits, resolved);
  }
  return resolved;
}

/** The replies of every transaction, made and serialized once (see {@link serialized}). */
const SENDER_OK = reply(250, '2.1.0', 'Sender OK');
const RECIPIENT_OK = reply(250, '2.1.5', 'Recipient OK');
const START_DATA = reply(354, undefined, 'End data with <CR><LF>.<CR><LF>');
const MESSAGE_ACCEPTED = reply(250, '2.0.0', 'Message accepted');
const RESET = reply(250, '2.0.0', 'Reset');
const OK = reply(250, '2.0.0', 'OK');

/** The wire form of replies written again and again: the constant ones, and an application's own. */
const SERIALIZED = new WeakMap<SmtpReply, Uint8Array>();

/** A reply's bytes, serialized once per reply object. */
function serialized(answer: SmtpReply): Uint8Array {
  let bytes = SERIALIZED.get(answer);
  if (!bytes) {
    bytes = serializeReply(answer);
    SERIALIZED.set(answer, bytes);
  }
  return bytes;
}

/**
 * A server's SMTP or LMTP session as a state machine, sans I/O: bytes from the client go in through
 * {@link receive}; {@link next} returns what to do — bytes to write, and decisions for the application
 * (accept a sender, a recipient, a message), answered through {@link respond}. Commands pipelined
 * behind a decision wait until it is answered. Only CRLF `.` CRLF ends a message; commands pipelined
 * where the client must wait for a reply end the session with `554 5.5.0` (catalogue case 3).
 */
export class SmtpServerSession {
  readonly #options: SmtpServerSessionOptions;
  readonly #limits: SmtpServerLimits;
  readonly #lmtp: boolean;
  readonly #decoder: LineDecoder;
  readonly #events: SmtpServerEvent[] = [];
  #phase = Phase.Greeted;
  #pending: { readonly decision: Decision; readonly command?: SmtpCommand } | undefined;
  /** The client used EHLO or LHLO: extensions (PIPELINING among them) are on. */
  #extended = false;
  #tls = false;
  #from: SmtpMailbox | null = null;
  #mailParameters: MailParameters = { other: new Map() };
  #recipients: { to: SmtpMailbox; parameters: RcptParameters }[] = [];
  #size = 0;
  #aborted: keyof typeof ABORT_REPLIES | undefined;
  #badCommands = 0;
  /** The authenticated user, once AUTH succeeded. */
  #user: string | undefined;
  /** A `334` challenge was sent: the next line is the client's answer. */
  #challenged = false;
  /** The name the client gave in HELO, EHLO or LHLO. */
  #clientName = '';
  /**
   * The BDAT chunk being read: its bytes are read whatever the reply, so they are never taken as commands.
   * A chunk `discarded` behind a failed one is refused without counting as a bad command.
   */
  #chunk:
    | {
        readonly size: number;
        readonly last: boolean;
        readonly refusal?: SmtpReply;
        readonly discarded?: boolean;
      }
    | undefined;
  /**
   * A BDAT chunk before the last failed: the chunks the client pipelined behind it are refused and
   * discarded (RFC 3030), not counted as bad commands, until a last chunk or another command.
   */
  #discardingChunks = false;
  /** The transaction's message comes in BDAT chunks (DATA is then refused, RFC 3030 §3). */
  #chunking = false;
  /** Stray CR and LF in BDAT text (not BINARYMIME): found (reject) or made CRLF (normalize). */
  #strayCr = false;
  #normalizer: CrlfNormalizer | undefined;
  /** What XCLIENT said about the client, once it was used. */
  #xclient: SmtpXclient | undefined;
  /** What XFORWARD said for the next transaction, once it was used. */
  #xforward: SmtpXforward | undefined;
  #unauthenticatedCommands = 0;
  #authFailures = 0;
  /** A QUIT came right behind the end of the message: it is answered after the message's reply. */
  #quitBehindData = false;

  constructor(options: SmtpServerSessionOptions) {
    this.#options = options;
    this.#limits = sessionLimits(options.limits);
    this.#lmtp = options.protocol === 'lmtp';
    this.#decoder = new LineDecoder({
      mode: options.bareLineEndings === 'normalize' ? 'lenient' : 'crlf',
      maxLineLength: Math.max(this.#limits.commandLine, this.#limits.authLine),
    });
    this.#greet();
  }

  /** Whether the session runs over TLS (after STARTTLS, or from the start when the driver says so). */
  get secure(): boolean {
    return this.#tls;
  }

  /** The user the client authenticated as (AUTH, or XCLIENT LOGIN), if it did. */
  get user(): string | undefined {
    return this.#user;
  }

  /** The name the client gave in an accepted HELO, EHLO or LHLO, or the one XCLIENT HELO gave. */
  get clientName(): string | undefined {
    return this.#xclient?.helo ?? (this.#clientName || undefined);
  }

  /** What XCLIENT said about the client (its address, name, HELO name…), once an allowed client used it. */
  get xclient(): SmtpXclient | undefined {
    return this.#xclient;
  }

  /** What XFORWARD said about the up-stream client for the transaction to come or in progress. */
  get forwarded(): SmtpXforward | undefined {
    return this.#xforward;
  }

  /** True from an accepted MAIL to the end of its transaction (the message's end, RSET, a refusal). */
  get inTransaction(): boolean {
    return this.#phase === Phase.Mail || this.#phase === Phase.Data;
  }

  /** Octets of the message in progress received so far (dot-stuffing removed, no `Received:` header). */
  get messageSize(): number {
    return this.#size;
  }

  /** Marks the session as on TLS from the start (implicit TLS, RFC 8314). */
  markSecure(): void {
    this.#tls = true;
  }

  /** Bytes received from the client. */
  receive(bytes: Uint8Array): void {
    if (this.#phase !== Phase.Closed) this.#decoder.push(bytes);
  }

  /** The next thing to do, or `undefined` when more input (or a pending decision's answer) is needed. */
  next(): SmtpServerEvent | undefined {
    while (this.#events.length === 0 && !this.#pending && this.#phase !== Phase.Closed) {
      if (!this.#step()) break;
    }
    return this.#events.shift();
  }

  /**
   * Answers the pending decision: `undefined` accepts it with the default reply; a reply refuses it (or,
   * for `message-end` in LMTP, an array gives one reply per recipient). A 2xx or 3xx reply is written in
   * place of the default one. Once the session has closed (after `shutdown()`), answers are ignored.
   * @throws InvalidArgumentError for a reply that cannot be written (see `serializeReply`), or a wrong
   * number of replies to a message; nothing is written and the decision stays pending.
   */
  respond(answer?: SmtpReply | readonly SmtpReply[]): void {
    if (this.#phase === Phase.Closed) return;
    const pending = this.#pending;
    if (!pending) throw new Error('no decision is pending');
    if (Array.isArray(answer)) for (const each of answer as readonly SmtpReply[]) serialized(each);
    else if (answer !== undefined) serialized(answer as SmtpReply);
    this.#pending = undefined;
    const refusal = Array.isArray(answer) ? undefined : (answer as SmtpReply | undefined);
    const refused = refusal !== undefined && refusal.code >= 400;
    switch (pending.decision) {
      case 'connect':
        if (refused) this.#close(refusal);
        else this.#write(refusal ?? this.#greeting());
        return;
      case 'vrfy':
        this.#write(refusal ?? reply(252, '2.5.2', 'Cannot verify the user, but will accept the message'));
        return;
      case 'expn':
        this.#write(refusal ?? reply(502, '5.5.1', 'EXPN not available'));
        return;
      case 'helo':
        if (refused) {
          this.#write(refusal);
          return;
        }
        this.#resetTransaction();
        this.#phase = Phase.Ready;
        this.#extended = pending.command?.verb !== 'HELO';
        this.#clientName = (pending.command as { domain: string }).domain;
        this.#write(
          refusal ?? this.#heloReply(pending.command as { verb: 'HELO' | 'EHLO' | 'LHLO'; domain: string }),
        );
        return;
      case 'mail': {
        if (refused) {
          this.#write(refusal);
          return;
        }
        const command = pending.command as Extract<SmtpCommand, { verb: 'MAIL' }>;
        this.#from = command.from;
        this.#mailParameters = command.parameters;
        this.#phase = Phase.Mail;
        this.#write(refusal ?? SENDER_OK);
        return;
      }
      case 'rcpt': {
        if (refused) {
          this.#write(refusal);
          return;
        }
        const command = pending.command as Extract<SmtpCommand, { verb: 'RCPT' }>;
        this.#recipients.push({ to: command.to, parameters: command.parameters });
        this.#write(refusal ?? RECIPIENT_OK);
        return;
      }
      case 'message-start':
        if (pending.command?.verb === 'BDAT') {
          this.#readChunk(pending.command, refused ? refusal : undefined);
          return;
        }
        if (refused) {
          this.#write(refusal);
          return;
        }
        this.#phase = Phase.Data;
        this.#size = 0;
        this.#aborted = undefined;
        this.#decoder.readDotBlock({
          bareLineEndings: this.#options.bareLineEndings === 'normalize' ? 'normalize' : 'reject',
          maxLineLength: this.#limits.textLine,
        });
        if (this.#options.receivedHeader !== false) {
          this.#events.push({ type: 'message-data', data: this.#received(), trace: true });
        }
        this.#write(refusal ?? START_DATA);
        return;
      case 'message-end': {
        const replies = Array.isArray(answer)
          ? (answer as readonly SmtpReply[])
          : this.#lmtp
            ? this.#recipients.map(() => refusal ?? MESSAGE_ACCEPTED)
            : [refusal ?? MESSAGE_ACCEPTED];
        // One reply per recipient in LMTP, one in SMTP: any other count would put the client out of step.
        if (replies.length !== (this.#lmtp ? this.#recipients.length : 1)) {
          this.#pending = pending;
          throw new InvalidArgumentError(
            `a message needs ${this.#lmtp ? `one reply per recipient (${this.#recipients.length})` : 'one reply'}, not ${replies.length}`,
          );
        }
        for (const each of replies) this.#write(each);
        // The message is complete: resetting the transaction gives up nothing.
        this.#chunking = false;
        this.#resetTransaction();
        this.#quitAfterData();
        return;
      }
      case 'auth':
        this.#pending = pending;
        throw new Error('answer authentication through authStep()');
      case 'starttls':
        if (refusal) {
          this.#write(refusal);
          return;
        }
        // RFC 3207 §4.2: everything learnt from the client before TLS is forgotten.
        this.#tls = true;
        this.#phase = Phase.Greeted;
        this.#extended = false;
        this.#user = undefined;
        this.#resetTransaction();
        return;
    }
  }

  /**
   * Answers the pending `auth` or `auth-response` with the SASL exchange's outcome. Each failure counts
   * as a bad command, and after `limits.authFailures` of them the session ends with 421 (case 44).
   */
  authStep(step: SmtpAuthStep): void {
    if (this.#phase === Phase.Closed) return;
    if (this.#pending?.decision !== 'auth') throw new Error('no authentication is pending');
    this.#pending = undefined;
    switch (step.type) {
      case 'challenge':
        this.#challenged = true;
        this.#write({ code: 334, lines: [step.text] });
        return;
      case 'success':
        this.#user = step.username;
        this.#write(reply(235, '2.7.0', 'Authentication successful'));
        return;
      default:
        this.#authFailed(step.reason);
    }
  }

  /** Replies to a failed exchange; after `limits.authFailures` of them, ends the session. */
  #authFailed(reason: SmtpAuthFailure): void {
    if (!this.#bad(AUTH_FAILURES[reason]) && ++this.#authFailures >= this.#limits.authFailures) {
      this.#close(reply(421, '4.7.0', `${this.#options.hostname} Too many failed authentications`));
    }
  }

  /** Ends the session at the server's wish: `421 4.3.2` on shutdown, `421 4.4.2` on a timeout; then close. */
  shutdown(reason: 'shutdown' | 'timeout' = 'shutdown'): void {
    if (this.#phase === Phase.Closed) return;
    this.#close(
      reason === 'timeout'
        ? reply(421, '4.4.2', `${this.#options.hostname} Timeout exceeded`)
        : reply(421, '4.3.2', `${this.#options.hostname} Service shutting down`),
    );
  }

  /**
   * True while the client is in the middle of something: a partial command, a message, a BDAT chunk.
   * A driver arms its whole-request deadline then (catalogue case 53).
   */
  get busy(): boolean {
    return this.#decoder.buffered > 0 || this.#phase === Phase.Data || this.#chunk !== undefined;
  }

  /** Processes one decoder event; false when more input is needed. */
  #step(): boolean {
    const event = this.#decoder.next();
    if (!event) return false;
    if (this.#phase === Phase.Data) {
      this.#onMessageEvent(event);
      return true;
    }
    if (this.#chunk && event.type === 'bytes') {
      this.#onChunkBytes(event.data);
      if (event.remaining === 0) this.#chunkEnd();
      return true;
    }
    switch (event.type) {
      case 'line':
        this.#onCommandLine(event.line);
        break;
      case 'error':
        this.#onLineError(event.error);
        break;
    }
    return true;
  }

  #onMessageEvent(event: LineDecoderEvent): void {
    switch (event.type) {
      case 'bytes':
        if (this.#aborted) return;
        this.#size += event.data.length;
        if (this.#size > this.#limits.messageSize) {
          this.#abort('size');
          return;
        }
        this.#events.push({ type: 'message-data', data: event.data });
        return;
      case 'error':
        if (this.#aborted) return;
        this.#abort(event.error instanceof LineTooLongError ? 'line-too-long' : 'bare-line-ending');
        return;
      case 'block-end': {
        this.#phase = Phase.Mail;
        // The end of a message ends a group (case 3): nothing but a QUIT may wait behind it.
        if (this.#decoder.buffered > 0 && !this.#takeQuitBehindData()) {
          this.#close(SYNCHRONIZATION_ERROR);
          return;
        }
        if (!this.#aborted) {
          this.#pending = { decision: 'message-end' };
          this.#events.push({ type: 'message-end', envelope: this.#envelope(), size: this.#size });
          return;
        }
        this.#write(ABORT_REPLIES[this.#aborted]);
        this.#resetTransaction();
        this.#quitAfterData();
        return;
      }
    }
  }

  /** Starts reading a BDAT chunk's bytes; a refusal is replied once they are read. */
  #readChunk(command: Extract<SmtpCommand, { verb: 'BDAT' }>, refusal?: SmtpReply, discarded = false): void {
    this.#chunk = refusal
      ? { size: command.size, last: command.last, refusal, discarded }
      : { size: command.size, last: command.last };
    if (!refusal && !this.#chunking) {
      this.#chunking = true;
      this.#size = 0;
      this.#aborted = undefined;
      this.#strayCr = false;
      this.#normalizer =
        this.#options.bareLineEndings === 'normalize' && this.#mailParameters.body !== 'BINARYMIME'
          ? new CrlfNormalizer()
          : undefined;
      if (this.#options.receivedHeader !== false)
        this.#events.push({ type: 'message-data', data: this.#received(), trace: true });
    }
    if (command.size === 0) this.#chunkEnd();
    else this.#decoder.readBytes(command.size);
  }

  #onChunkBytes(data: Uint8Array): void {
    if (this.#chunk?.refusal || this.#aborted) return;
    this.#size += data.length;
    if (this.#size > this.#limits.messageSize) {
      this.#abort('size');
      return;
    }
    if (this.#mailParameters.body !== 'BINARYMIME' && this.#options.bareLineEndings !== 'normalize') {
      if (this.#hasStrayLineEnding(data)) {
        this.#abort('bare-line-ending');
        return;
      }
    }
    this.#events.push({
      type: 'message-data',
      data: this.#normalizer ? this.#normalizer.normalize(data) : data,
    });
  }

  /** Looks for a CR not followed by LF, or an LF not after CR, across chunks (case 5). */
  #hasStrayLineEnding(data: Uint8Array): boolean {
    let afterCr = this.#strayCr;
    for (let i = 0; i < data.length; i++) {
      const byte = data[i]!;
      if (afterCr !== (byte === 0x0a)) return true;
      afterCr = byte === 0x0d;
    }
    this.#strayCr = afterCr;
    return false;
  }

  #chunkEnd(): void {
    const chunk = this.#chunk!;
    this.#chunk = undefined;
    if (chunk.refusal) {
      this.#discardingChunks = !chunk.last;
      if (chunk.discarded) this.#write(chunk.refusal);
      else this.#bad(chunk.refusal);
      return;
    }
    if (
      this.#aborted ||
      (chunk.last &&
        this.#strayCr &&
        this.#options.bareLineEndings !== 'normalize' &&
        this.#mailParameters.body !== 'BINARYMIME')
    ) {
      if (!this.#aborted) this.#abort('bare-line-ending');
      this.#write(ABORT_REPLIES[this.#aborted!]);
      this.#resetTransaction();
      this.#discardingChunks = !chunk.last;
      return;
    }
    if (!chunk.last) {
      this.#write(reply(250, '2.0.0', `${chunk.size} octets received`));
      return;
    }
    this.#pending = { decision: 'message-end' };
    this.#events.push({ type: 'message-end', envelope: this.#envelope(), size: this.#size });
  }

  #abort(reason: keyof typeof ABORT_REPLIES): void {
    this.#aborted = reason;
    this.#events.push({ type: 'message-abort', reason });
  }

  #onLineError(error: LineTooLongError | BareLineEndingError): void {
    if (this.#challenged && error instanceof LineTooLongError) {
      // A SASL response past the limit ends the exchange (case 46); the next line is a command again.
      this.#challenged = false;
      this.#authFailed('too-long');
      return;
    }
    if (error instanceof BareLineEndingError) {
      // Reject mode (case 2): a bare CR or LF in a command ends the session, as Postfix does.
      this.#close(reply(521, '5.5.2', 'Bare CR or LF received'));
      return;
    }
    this.#bad(reply(500, '5.5.6', 'Line too long'));
  }

  #onCommandLine(bytes: Uint8Array): void {
    if (this.#challenged) {
      this.#challenged = false;
      this.#pending = { decision: 'auth' };
      this.#events.push({ type: 'auth-response', line: decodeUtf8Strict(bytes) ?? '' });
      return;
    }
    if (bytes.length > this.#limits.commandLine && !startsWithKeyword(bytes, 'AUTH')) {
      this.#bad(reply(500, '5.5.6', 'Line too long'));
      return;
    }
    const line = decodeUtf8Strict(bytes);
    if (line === undefined) {
      this.#bad(reply(500, '5.5.2', 'Command is not valid UTF-8'));
      return;
    }
    let command: SmtpCommand;
    try {
      command = parseCommand(line, {
        smtputf8: this.#mailParameters.smtputf8 === true && this.#phase === Phase.Mail,
      });
    } catch (error) {
      if (!(error instanceof SmtpCommandError)) throw error;
      if (!this.#unauthenticated()) this.#bad(reply(error.replyCode, error.enhancedCode, error.message));
      return;
    }
    this.#dispatch(command);
  }

  /**
   * Counts a command from a client that must authenticate and has not: past the limit, the session ends
   * with 421 instead of answering it.
   */
  #unauthenticated(): boolean {
    if (!this.#options.requireAuth || this.#user !== undefined) return false;
    if (++this.#unauthenticatedCommands <= this.#limits.unauthenticatedCommands) return false;
    this.#close(reply(421, '4.7.0', `${this.#options.hostname} Too many unauthenticated commands`));
    return true;
  }

  #dispatch(command: SmtpCommand): void {
    const verb = command.verb;
    if (verb !== 'BDAT') this.#discardingChunks = false;
    if (verb === 'QUIT') {
      this.#close(reply(221, '2.0.0', `${this.#options.hostname} Bye`));
      return;
    }
    // STARTTLS discards what was pipelined behind it instead (case 6).
    if (verb !== 'STARTTLS' && this.#mustWait(verb)) return;
    if (verb !== 'AUTH' && this.#unauthenticated()) return;
    switch (verb) {
      case 'EHLO':
      case 'HELO':
      case 'LHLO':
        if ((verb === 'LHLO') !== this.#lmtp) {
          this.#bad(reply(500, '5.5.1', this.#lmtp ? 'LMTP needs LHLO' : 'Command not recognized'));
          return;
        }
        this.#decide('helo', command, { type: 'helo', verb, domain: command.domain });
        return;
      case 'AUTH':
        this.#auth(command);
        return;
      case 'MAIL':
        if (this.#options.requireAuth && this.#user === undefined) {
          this.#write(reply(530, '5.7.0', 'Authentication required'));
          return;
        }
        if (this.#phase === Phase.Greeted) {
          this.#bad(reply(503, '5.5.1', `Send ${this.#lmtp ? 'LHLO' : 'HELO/EHLO'} first`));
          return;
        }
        if (this.#phase === Phase.Mail) {
          this.#bad(reply(503, '5.5.1', 'Nested MAIL command'));
          return;
        }
        this.#mail(command);
        return;
      case 'RCPT':
        if (this.#phase !== Phase.Mail) {
          this.#bad(reply(503, '5.5.1', 'Need MAIL before RCPT'));
          return;
        }
        if (this.#recipients.length >= this.#limits.recipients) {
          this.#write(reply(452, '4.5.3', 'Too many recipients'));
          return;
        }
        this.#decide('rcpt', command, {
          type: 'rcpt',
          to: command.to,
          parameters: command.parameters,
        });
        return;
      case 'DATA':
        if (this.#phase !== Phase.Mail) {
          this.#bad(reply(503, '5.5.1', 'Need MAIL before DATA'));
          return;
        }
        if (this.#chunking || this.#mailParameters.body === 'BINARYMIME') {
          this.#bad(reply(503, '5.5.1', 'DATA cannot follow BDAT, nor carry BINARYMIME'));
          return;
        }
        if (this.#recipients.length === 0) {
          this.#bad(reply(554, '5.5.1', 'No valid recipients'));
          return;
        }
        this.#decide('message-start', command, { type: 'message-start', envelope: this.#envelope() });
        return;
      case 'BDAT':
        if (this.#options.chunking === false) {
          this.#readChunk(command, reply(502, '5.5.1', 'BDAT not available'), this.#discardingChunks);
        } else if (this.#phase !== Phase.Mail) {
          this.#readChunk(command, reply(503, '5.5.1', 'Need MAIL before BDAT'), this.#discardingChunks);
        } else if (this.#recipients.length === 0) {
          this.#readChunk(command, reply(554, '5.5.1', 'No valid recipients'), this.#discardingChunks);
        } else if (this.#chunking) {
          this.#readChunk(command);
        } else {
          this.#decide('message-start', command, { type: 'message-start', envelope: this.#envelope() });
        }
        return;
      case 'RSET':
        this.#resetTransaction();
        this.#write(RESET);
        return;
      case 'NOOP':
        this.#write(OK);
        return;
      case 'HELP':
        this.#write(reply(214, '2.0.0', 'See RFC 5321'));
        return;
      case 'VRFY':
        this.#decide('vrfy', command, { type: 'vrfy', argument: command.argument });
        return;
      case 'EXPN':
        this.#decide('expn', command, { type: 'expn', argument: command.argument });
        return;
      case 'XCLIENT':
        this.#xclientCommand(command.attributes);
        return;
      case 'XFORWARD':
        this.#xforwardCommand(command.attributes);
        return;
      case 'STARTTLS':
        if (!this.#options.startTls || this.#tls) {
          this.#bad(reply(502, '5.5.1', 'STARTTLS not available'));
          return;
        }
        // RFC 3207 §4.2 and case 6: whatever the client pipelined behind STARTTLS is discarded.
        this.#decoder.reset();
        this.#write(reply(220, '2.0.0', 'Ready to start TLS'));
        this.#pending = { decision: 'starttls' };
        this.#events.push({ type: 'starttls' });
        return;
      default:
        this.#bad(reply(502, '5.5.1', 'Command not implemented'));
        return;
    }
  }

  /**
   * XCLIENT (Postfix): an allowed client says who the client really is; the session goes back to its
   * greeting, keeping TLS and what XCLIENT said, and greets afresh (through a `connect` decision when
   * there is one, so that the application judges the client XCLIENT named).
   */
  #xclientCommand(attributes: ReadonlyMap<string, string>): void {
    const refusal = this.#forwardingRefusal(this.#options.xclient);
    if (refusal) {
      this.#bad(refusal);
      return;
    }
    let xclient: SmtpXclient;
    try {
      xclient = parseXclient(attributes);
    } catch (error) {
      if (!(error instanceof SmtpCommandError)) throw error;
      this.#bad(reply(error.replyCode, error.enhancedCode, error.message));
      return;
    }
    this.#xclient = { ...this.#xclient, ...xclient };
    this.#resetTransaction();
    this.#phase = Phase.Greeted;
    this.#extended = false;
    this.#clientName = '';
    this.#user = this.#xclient.login ?? undefined;
    this.#greet();
  }

  /** XFORWARD (Postfix): an allowed client says who the up-stream client of the next transaction was. */
  #xforwardCommand(attributes: ReadonlyMap<string, string>): void {
    const refusal = this.#forwardingRefusal(this.#options.xforward);
    if (refusal) {
      this.#bad(refusal);
      return;
    }
    try {
      this.#xforward = applyXforward(this.#xforward ?? {}, attributes);
    } catch (error) {
      if (!(error instanceof SmtpCommandError)) throw error;
      this.#bad(reply(error.replyCode, error.enhancedCode, error.message));
      return;
    }
    this.#write(reply(250, '2.0.0', 'OK'));
  }

  /** Why XCLIENT or XFORWARD cannot be used now: the client is not allowed, or a transaction is open. */
  #forwardingRefusal(allowed: boolean | undefined): SmtpReply | undefined {
    if (!allowed) return reply(550, '5.7.0', 'Insufficient authorization');
    if (this.inTransaction) return reply(503, '5.5.1', 'Mail transaction in progress');
    return undefined;
  }

  #auth(command: Extract<SmtpCommand, { verb: 'AUTH' }>): void {
    if (!this.#extended || (this.#options.authMechanisms?.(this.#tls).length ?? 0) === 0) {
      this.#bad(reply(503, '5.5.1', 'AUTH not available'));
      return;
    }
    if (this.#user !== undefined) {
      this.#bad(reply(503, '5.5.1', 'Already authenticated'));
      return;
    }
    if (this.#phase !== Phase.Ready) {
      this.#bad(reply(503, '5.5.1', 'AUTH not allowed during a mail transaction'));
      return;
    }
    this.#pending = { decision: 'auth' };
    this.#events.push(
      command.initialResponse === undefined
        ? { type: 'auth', mechanism: command.mechanism }
        : { type: 'auth', mechanism: command.mechanism, initialResponse: command.initialResponse },
    );
  }

  #mail(command: Extract<SmtpCommand, { verb: 'MAIL' }>): void {
    const { parameters } = command;
    const authOffered = (this.#options.authMechanisms?.(this.#tls).length ?? 0) > 0;
    if (parameters.other.size > 0 || (parameters.auth !== undefined && !authOffered)) {
      this.#bad(reply(555, '5.5.4', 'Unsupported MAIL parameter'));
      return;
    }
    if (parameters.requireTls && this.#options.requireTls === false) {
      this.#bad(reply(555, '5.5.4', 'REQUIRETLS not offered'));
      return;
    }
    // RFC 8689 §3: REQUIRETLS is only given on a session that itself runs over TLS.
    if (parameters.requireTls && !this.#tls) {
      this.#bad(reply(530, '5.7.10', 'REQUIRETLS needs a TLS session'));
      return;
    }
    if (parameters.smtputf8 && this.#options.smtputf8 === false) {
      this.#bad(reply(555, '5.5.4', 'SMTPUTF8 not offered'));
      return;
    }
    if (parameters.body === 'BINARYMIME' && this.#options.chunking === false) {
      this.#bad(reply(555, '5.5.4', 'BINARYMIME not offered'));
      return;
    }
    if (parameters.body === '8BITMIME' && this.#options.eightBitMime === false) {
      this.#bad(reply(555, '5.5.4', '8BITMIME not offered'));
      return;
    }
    if ((parameters.ret || parameters.envid !== undefined) && this.#options.dsn === false) {
      this.#bad(reply(555, '5.5.4', 'DSN not offered'));
      return;
    }
    if (parameters.size !== undefined && parameters.size > this.#limits.messageSize) {
      this.#write(reply(552, '5.3.4', 'Message size exceeds fixed limit'));
      return;
    }
    this.#decide('mail', command, { type: 'mail', from: command.from, parameters });
  }

  /**
   * The synchronisation check (RFC 2920, case 3): without PIPELINING every command, and with it the
   * commands that end a group, must be the last input so far. Input already waiting behind them means
   * a client that did not wait: `554 5.5.0` and close.
   */
  #mustWait(verb: string): boolean {
    const endsGroup = !this.#extended || GROUP_ENDERS.has(verb);
    if (!endsGroup || this.#decoder.buffered === 0) return false;
    this.#close(SYNCHRONIZATION_ERROR);
    return true;
  }

  /**
   * Takes a QUIT that is all the input waiting behind the end of a message: Postfix's client writes it
   * with the end of the message, and it cannot start a transaction. Anything else is refused.
   */
  #takeQuitBehindData(): boolean {
    const event = this.#decoder.next();
    if (event?.type !== 'line' || this.#decoder.buffered > 0) return false;
    if (decodeUtf8Strict(event.line)?.toUpperCase() !== 'QUIT') return false;
    this.#quitBehindData = true;
    return true;
  }

  /** Answers the QUIT that came behind the message, once the message has its reply. */
  #quitAfterData(): void {
    if (!this.#quitBehindData) return;
    this.#quitBehindData = false;
    this.#close(reply(221, '2.0.0', `${this.#options.hostname} Bye`));
  }

  #decide(decision: Decision, command: SmtpCommand, event: SmtpServerEvent): void {
    this.#pending = { decision, command };
    this.#events.push(event);
  }

  #heloReply(command: { verb: 'HELO' | 'EHLO' | 'LHLO'; domain: string }): SmtpReply {
    if (command.verb === 'HELO') return reply(250, undefined, this.#options.hostname);
    const keywords: [string, string[]][] = [
      ['PIPELINING', []],
      ['SIZE', [String(this.#limits.messageSize)]],
      ['ENHANCEDSTATUSCODES', []],
      ['LIMITS', [`RCPTMAX=${this.#limits.recipients}`]],
    ];
    if (this.#options.eightBitMime !== false) keywords.push(['8BITMIME', []]);
    if (this.#options.smtputf8 !== false) keywords.push(['SMTPUTF8', []]);
    if (this.#options.dsn !== false) keywords.push(['DSN', []]);
    if (this.#options.chunking !== false) keywords.push(['CHUNKING', []], ['BINARYMIME', []]);
    if (this.#options.startTls && !this.#tls) keywords.push(['STARTTLS', []]);
    if (this.#tls && this.#options.requireTls !== false) keywords.push(['REQUIRETLS', []]);
    const mechanisms = this.#options.authMechanisms?.(this.#tls) ?? [];
    if (mechanisms.length > 0) keywords.push(['AUTH', [...mechanisms]]);
    if (this.#options.xclient) keywords.push(['XCLIENT', XCLIENT_ATTRIBUTES]);
    if (this.#options.xforward) keywords.push(['XFORWARD', XFORWARD_ATTRIBUTES]);
    return ehloReply(this.#options.hostname, `greets ${command.domain}`, keywords);
  }

  #greeting(): SmtpReply {
    return reply(220, undefined, `${this.#options.hostname} ${this.#lmtp ? 'LMTP' : 'ESMTP'} Postwire`);
  }

  /** Greets the client, or asks the application first. */
  #greet(): void {
    if (this.#options.connectDecision) {
      this.#pending = { decision: 'connect' };
      this.#events.push({ type: 'connect' });
    } else {
      this.#write(this.#greeting());
    }
  }

  /** The `Received:` header, with the client as XCLIENT named it when it did. */
  #received(): Uint8Array {
    const id = [...crypto.getRandomValues(new Uint8Array(6))]
      .map((byte) => byte.toString(16).padStart(2, '0'))
      .join('');
    const xclient = this.#xclient ?? {};
    const remoteAddress =
      xclient.address === undefined ? this.#options.remoteAddress : (xclient.address ?? undefined);
    const remoteName = xclient.name === '[TEMPUNAVAIL]' ? undefined : (xclient.name ?? undefined);
    return receivedHeader({
      clientName: xclient.helo ?? this.#clientName,
      ...(remoteAddress ? { remoteAddress } : {}),
      ...(remoteName ? { remoteName } : {}),
      hostname: this.#options.hostname,
      lmtp: this.#lmtp,
      extended: xclient.protocol ? xclient.protocol === 'ESMTP' : this.#extended,
      secure: this.#tls,
      authenticated: this.#user !== undefined,
      utf8: this.#mailParameters.smtputf8 === true,
      ...(this.#recipients.length === 1 ? { recipient: this.#recipients[0]!.to.address } : {}),
      id: id.toUpperCase(),
      date: new Date(),
    });
  }

  #envelope(): SmtpEnvelope {
    return {
      from: this.#from,
      mailParameters: this.#mailParameters,
      recipients: [...this.#recipients],
      ...(this.#xforward ? { forwarded: this.#xforward } : {}),
    };
  }

  #resetTransaction(): void {
    // RFC 3030: a reset between BDAT chunks gives up the message received so far.
    if (this.#chunking && !this.#aborted) this.#events.push({ type: 'message-abort', reason: 'reset' });
    if (this.#phase === Phase.Mail || this.#phase === Phase.Data) this.#phase = Phase.Ready;
    this.#from = null;
    this.#mailParameters = { other: new Map() };
    this.#recipients = [];
    this.#size = 0;
    this.#aborted = undefined;
    this.#chunking = false;
    this.#strayCr = false;
    this.#normalizer = undefined;
    // XFORWARD speaks for one transaction only (Postfix resets it after RSET or the message's end).
    this.#xforward = undefined;
  }

  /** Replies to a bad command; after too many, ends the session (catalogue case 51) and returns true. */
  #bad(answer: SmtpReply): boolean {
    this.#write(answer);
    if (++this.#badCommands < this.#limits.badCommands) return false;
    this.#close(reply(421, '4.7.0', `${this.#options.hostname} Too many errors`));
    return true;
  }

  #write(answer: SmtpReply): void {
    this.#events.push({ type: 'write', data: serialized(answer) });
  }

  #close(answer: SmtpReply): void {
    this.#write(answer);
    this.#phase = Phase.Closed;
    this.#pending = undefined;
    this.#decoder.reset();
    this.#events.push({ type: 'close' });
  }
}

const SYNCHRONIZATION_ERROR = reply(554, '5.5.0', 'Error: SMTP protocol synchronization');

/** Commands that must end a pipelined group (RFC 2920 §3.1), AUTH among them. */
const GROUP_ENDERS = new Set(['EHLO', 'HELO', 'LHLO', 'DATA', 'VRFY', 'EXPN', 'NOOP', 'AUTH']);

/** The reply to a message given up mid-way, by why. */
const ABORT_REPLIES = {
  size: reply(552, '5.3.4', 'Message size exceeds fixed limit'),
  'bare-line-ending': reply(550, '5.5.2', 'Bare CR or LF in message text'),
  'line-too-long': reply(500, '5.5.6', 'Line too long in message text'),
} as const;

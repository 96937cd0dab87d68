import {
  DotStuffedEncoder,
  decodeUtf8Strict,
  InvalidArgumentError,
  LineDecoder,
  resolveLimits,
  startsWithKeyword,
  type TraceHook,
  Tracer,
} from '@postwire/core';
import type { SaslFailureReason, SaslSessionStep } from '@postwire/sasl';
import { Pop3Capability, serializePop3Capabilities } from '../protocol/capabilities.js';
import { type Pop3Command, Pop3CommandError, parsePop3Command } from '../protocol/command.js';
import {
  formatScanListing,
  formatUniqueIdListing,
  POP3_UNIQUE_ID,
  Pop3ResponseCode,
  type Pop3Status,
  serializePop3MultiLine,
  serializePop3Status,
} from '../protocol/response.js';
import { apopChallenge } from './apop.js';
import type { Pop3MaildropMessage } from './maildrop.js';
import { TopFilter } from './top.js';

/** Limits of a server session, with Dovecot-like defaults. */
export type Pop3ServerLimits = {
  /**
   * A command line, in octets without its CRLF: a longer one gets `-ERR` and counts as a bad command
   * (catalogue case 50: 512 with the CRLF; RFC 2449 §4 asks clients for at most 255).
   */
  readonly commandLine: number;
  /**
   * An AUTH command or SASL response line (RFC 4954's 12,288), and the hard cap on any line: past it the
   * session answers `-ERR` and closes (case 50).
   */
  readonly authLine: number;
  /** Bad commands (unknown, malformed, out of place) before the session ends (Dovecot: 20; case 51). */
  readonly badCommands: number;
  /** Failed logins (USER/PASS, APOP, AUTH) before the session ends (case 44: Dovecot and Stalwart, 3). */
  readonly authFailures: number;
};

/** The defaults of {@link Pop3ServerLimits}. */
export const defaultPop3ServerLimits: Pop3ServerLimits = {
  commandLine: 510,
  authLine: 12_288,
  badCommands: 20,
  authFailures: 3,
};

/** Options of {@link Pop3ServerSession}. */
export interface Pop3ServerSessionOptions {
  /** The server's name, in the greeting and the APOP challenge. */
  readonly hostname: string;
  /** Limits on command lines, bad commands and failed logins; the ones not given keep their defaults. */
  readonly limits?: Partial<Pop3ServerLimits>;
  /** Offer STLS (RFC 2595): the transport can upgrade, and is not yet TLS. */
  readonly startTls?: boolean;
  /**
   * Offer APOP (RFC 1939 §7): the greeting then carries a `<timestamp@host>` challenge. Off by default,
   * as APOP rests on MD5 and a secret the server keeps in the clear (catalogue case 28).
   */
  readonly apop?: boolean;
  /**
   * The SASL mechanisms to offer in CAPA `SASL` and take with AUTH (RFC 5034), given whether the
   * session is on TLS (usually a `@postwire/sasl` server's `mechanisms()`); none means no SASL.
   */
  readonly authMechanisms?: (secure: boolean) => readonly string[];
  /**
   * Whether USER/PASS may be used, given whether the session is on TLS. Default: on TLS only; before it
   * USER is not in CAPA and USER/PASS are refused with `-ERR [AUTH]`, as a failed login (case 29, 45).
   */
  readonly cleartextLogin?: (secure: boolean) => boolean;
  /**
   * Ask the application before greeting: the session starts with a `connect` decision and greets only
   * once it is answered (a refusal is written instead, and the session closes).
   */
  readonly connectDecision?: boolean;
  /**
   * CAPA `EXPIRE` (RFC 2449 §6.7): days messages stay on the server, or `never`. `0` means the client
   * may not leave mail on the server: messages sent whole with RETR are deleted at QUIT as if by DELE.
   */
  readonly expire?: number | 'never';
  /** CAPA `LOGIN-DELAY` (RFC 2449 §6.5): the seconds a user must wait between logins. */
  readonly loginDelay?: number;
  /** CAPA `IMPLEMENTATION` (RFC 2449 §6.9): text naming the server's software, when it wants to say. */
  readonly implementation?: string;
  /** Offer UTF8 (with `USER`: UTF-8 names and passwords) and LANG (RFC 6856); default true. */
  readonly utf8?: boolean;
  /** Receives each command and status line, credentials redacted (message text is not traced). */
  readonly trace?: TraceHook;
}

/** How a login step ended, for {@link Pop3ServerSession.authStep}: `+` and a challenge (SASL only), success or a failure. */
export type Pop3AuthStep = SaslSessionStep;

/** The maildrop an `open` decision is answered with: its messages, numbered from 1 in this order. */
export interface Pop3MaildropListing {
  /** The messages, in number order. */
  readonly messages: readonly Pop3MaildropMessage[];
}

/** An answer to a decision: a listing (for `open`), or a status (`ok: false` refuses). */
export type Pop3ServerAnswer = Pop3Status | Pop3MaildropListing;

/**
 * What the session needs the application (through its driver) to do. Events marked "decision" wait for
 * {@link Pop3ServerSession.respond} (or `authStep` for the login events): the session reads no further
 * commands until then.
 */
export type Pop3ServerEvent =
  /** Bytes to write to the client. */
  | {
      /** Write bytes. */
      readonly type: 'write';
      /** The bytes. */
      readonly data: Uint8Array;
    }
  /** Decision (with `connectDecision`): admit the client, or refuse it with a status, then close. */
  | {
      /** Admit or refuse the client. */
      readonly type: 'connect';
    }
  /** Check USER and PASS: answer through `authStep` with `success` or `failure`. */
  | {
      /** Check a password. */
      readonly type: 'password';
      /** The user name from USER. */
      readonly username: string;
      /** The password from PASS. */
      readonly password: string;
    }
  /**
   * Check an APOP digest against the greeting's challenge (see `verifyApopDigest`): answer through
   * `authStep` with `success` or `failure`.
   */
  | {
      /** Check an APOP digest. */
      readonly type: 'apop';
      /** The user name. */
      readonly username: string;
      /** The client's digest, in lowercase hex. */
      readonly digest: string;
      /** The greeting's challenge (`<timestamp@host>`). */
      readonly challenge: string;
    }
  /** Start a SASL exchange: answer through `authStep` with its first outcome. */
  | {
      /** Start a SASL exchange. */
      readonly type: 'auth';
      /** The mechanism, upper-cased. */
      readonly mechanism: string;
      /** The initial response, when given. */
      readonly initialResponse?: string;
    }
  /** The client's answer to a `+` challenge (base64, or `*` to cancel): answer through `authStep`. */
  | {
      /** A response to a challenge. */
      readonly type: 'auth-response';
      /** The client's line. */
      readonly line: string;
    }
  /**
   * Decision: the user logged in; open and lock the maildrop, and respond with its listing, or refuse
   * (`[IN-USE]` when locked, `[LOGIN-DELAY]`, `[SYS/TEMP]`): the session then stays in AUTHORIZATION.
   */
  | {
      /** Open the maildrop. */
      readonly type: 'open';
      /** The user who logged in. */
      readonly username: string;
    }
  /**
   * Decision: send message number `message` (of the listing), whole or, with `lines`, as TOP. Respond to
   * start it, then hand its bytes to `messageData` and end with `messageEnd`; or refuse with a status.
   */
  | {
      /** Send a message. */
      readonly type: 'retrieve';
      /** The message number, from 1. */
      readonly message: number;
      /** For TOP: the body lines to send after the header. */
      readonly lines?: number;
    }
  /**
   * Decision: the UPDATE state after QUIT (RFC 1939 §6). Remove `deleted` (message numbers); `retrieved`
   * were sent whole. Respond when done (the client is told, and the session closes), or refuse.
   */
  | {
      /** Apply the deletions. */
      readonly type: 'update';
      /** The message numbers marked deleted. */
      readonly deleted: readonly number[];
      /** The message numbers sent whole. */
      readonly retrieved: readonly number[];
    }
  /**
   * Decision: start TLS now, on the bytes after the `+OK` just written; respond once the handshake is
   * done (the session then forgets what the client said before, RFC 2595 §4).
   */
  | {
      /** Start TLS. */
      readonly type: 'stls';
    }
  /** Close the connection once everything written is sent. */
  | {
      /** Close the connection. */
      readonly type: 'close';
    };

/** The RFC 1939 state of a session, and `closed` at the end. */
export type Pop3ServerState = 'authorization' | 'transaction' | 'update' | 'closed';

type Decision = 'connect' | 'login' | 'open' | 'retrieve' | 'update' | 'stls';

/** A message being sent for RETR or TOP. */
interface Outgoing {
  readonly index: number;
  readonly encoder: DotStuffedEncoder;
  readonly top: TopFilter | undefined;
}

function status(ok: boolean, text: string, code?: string): Pop3Status {
  return code === undefined ? { ok, text } : { ok, code, text };
}

const CLEARTEXT_REFUSED = status(
  false,
  'Cleartext authentication disallowed on non-secure connections',
  Pop3ResponseCode.Auth,
);

/** The response to each way a login fails (RFC 2449 §8, RFC 3206, RFC 5034). */
const AUTH_FAILURES: Record<SaslFailureReason, Pop3Status> = {
  'invalid-credentials': status(false, 'Authentication failed', Pop3ResponseCode.Auth),
  'authorization-failed': status(false, 'Authorization failed', Pop3ResponseCode.Auth),
  cancelled: status(false, 'Authentication cancelled'),
  malformed: status(false, 'Cannot decode the response'),
  'too-long': status(false, 'Authentication line too long'),
  'mechanism-unavailable': status(false, 'Unrecognized authentication mechanism'),
  'encryption-required': CLEARTEXT_REFUSED,
  throttled: status(false, 'Too many failed attempts, try again later', Pop3ResponseCode.SysTemp),
  temporary: status(false, 'Temporary authentication failure', Pop3ResponseCode.SysTemp),
};

/** Commands of the AUTHORIZATION state (RFC 1939 §4, and the extensions'). */
const AUTHORIZATION = new Set(['USER', 'PASS', 'APOP', 'AUTH', 'STLS', 'UTF8', 'CAPA', 'LANG', 'QUIT']);
/** Commands of the TRANSACTION state (RFC 1939 §5, and the extensions'). */
const TRANSACTION = new Set([
  'STAT',
  'LIST',
  'RETR',
  'DELE',
  'NOOP',
  'RSET',
  'TOP',
  'UIDL',
  'CAPA',
  'LANG',
  'QUIT',
]);

/**
 * A server's POP3 session as a state machine, sans I/O (RFC 1939, with CAPA, STLS, AUTH, RESP-CODES and
 * UTF8): bytes from the client go in through {@link receive}; {@link next} returns what to do — bytes to
 * write, and decisions for the application (check a login, open the maildrop, send a message, delete at
 * QUIT), answered through {@link respond} or {@link authStep}. Pipelined commands wait behind a decision.
 * Messages are only deleted in the UPDATE state after QUIT; a dropped connection, a timeout or a QUIT
 * before login deletes nothing (catalogue case 25).
 */
export class Pop3ServerSession {
  readonly #options: Pop3ServerSessionOptions;
  readonly #limits: Pop3ServerLimits;
  readonly #decoder: LineDecoder;
  readonly #tracer: Tracer;
  /** Events not yet taken: `#events[#taken…]`, a queue without `shift` (a message gives one per piece). */
  readonly #events: Pop3ServerEvent[] = [];
  #taken = 0;
  readonly #challenge: string | undefined;
  #state: Pop3ServerState = 'authorization';
  #pending: Decision | undefined;
  #tls = false;
  /** The name given with USER, waiting for PASS. */
  #userName: string | undefined;
  /** The user whose maildrop is being opened or is open. */
  #user: string | undefined;
  /** The maildrop was opened: the session reached TRANSACTION. */
  #opened = false;
  /** A `+` challenge was sent: the next line is the client's answer. */
  #challenged = false;
  #utf8 = false;
  #badCommands = 0;
  #authFailures = 0;
  #uids: readonly string[] = [];
  #sizes: readonly number[] = [];
  #deleted = new Uint8Array(0);
  #retrieved = new Uint8Array(0);
  #outgoing: Outgoing | undefined;
  /** A `retrieve` decision waiting for its answer: RETR (no lines) or TOP. */
  #retrieve: { readonly index: number; readonly lines?: number } | undefined;

  /** @throws InvalidArgumentError for a bad limit, `expire` or `loginDelay`. */
  constructor(options: Pop3ServerSessionOptions) {
    const { expire, loginDelay } = options;
    if (expire !== undefined && expire !== 'never' && !(Number.isInteger(expire) && expire >= 0)) {
      throw new InvalidArgumentError('expire is a number of days from 0, or "never"');
    }
    if (loginDelay !== undefined && !(Number.isInteger(loginDelay) && loginDelay >= 0)) {
      throw new InvalidArgumentError('loginDelay is a number of seconds from 0');
    }
    this.#options = options;
    this.#limits = resolveLimits(defaultPop3ServerLimits, options.limits);
    this.#decoder = new LineDecoder({ mode: 'lenient', maxLineLength: this.#limits.authLine });
    this.#tracer = new Tracer(options.trace, 'server');
    this.#challenge = options.apop ? apopChallenge(options.hostname) : undefined;
    if (options.connectDecision) this.#decide('connect', { type: 'connect' });
    else this.#greet();
  }

  /** The RFC 1939 state: `authorization`, `transaction`, `update` (after QUIT), or `closed`. */
  get state(): Pop3ServerState {
    return this.#state;
  }

  /** Whether the session runs over TLS (after STLS, or from the start when the driver says so). */
  get secure(): boolean {
    return this.#tls;
  }

  /** The user who logged in, once the maildrop is open. */
  get user(): string | undefined {
    return this.#opened ? this.#user : undefined;
  }

  /** The greeting's APOP challenge (`<…@host>`), when APOP is on. */
  get apopChallenge(): string | undefined {
    return this.#challenge;
  }

  /** True after the client sent UTF8 (RFC 6856). */
  get utf8(): boolean {
    return this.#utf8;
  }

  /**
   * True while the client is in the middle of a command (part of a line is buffered): a driver arms its
   * whole-command deadline then (catalogue case 53).
   */
  get busy(): boolean {
    return this.#decoder.buffered > 0;
  }

  /** Marks the session as on TLS from the start (implicit TLS, port 995). */
  markSecure(): void {
    this.#tls = true;
  }

  /** Bytes received from the client. */
  receive(bytes: Uint8Array): void {
    if (this.#state !== 'closed') this.#decoder.push(bytes);
  }

  /** The next thing to do, or `undefined` when more input (or a pending decision's answer) is needed. */
  next(): Pop3ServerEvent | undefined {
    const events = this.#events;
    if (this.#taken < events.length) return events[this.#taken++];
    if (this.#taken > 0) events.length = this.#taken = 0;
    while (events.length === 0 && !this.#pending && this.#state !== 'closed') {
      const event = this.#decoder.next();
      if (!event) break;
      if (event.type === 'line') this.#onLine(event.line);
      else this.#close(status(false, 'Line too long'));
    }
    if (events.length === 0) return undefined;
    this.#taken = 1;
    return events[0];
  }

  /**
   * Answers the pending decision (see {@link Pop3ServerEvent}): nothing accepts (`retrieve`, `update`,
   * `stls`, `connect`), a listing opens the maildrop, a status with `ok: false` refuses. Once the session
   * has closed (after `shutdown()`), answers are ignored.
   * @throws InvalidArgumentError for a listing with a malformed or repeated unique id, or a bad size;
   * the decision stays pending.
   */
  respond(answer?: Pop3ServerAnswer): void {
    if (this.#state === 'closed') return;
    const pending = this.#pending;
    if (!pending) throw new Error('no decision is pending');
    const refusal = answer && 'ok' in answer && !answer.ok ? answer : undefined;
    switch (pending) {
      case 'connect':
        this.#pending = undefined;
        if (refusal) this.#close(refusal);
        else this.#greet();
        return;
      case 'login':
        throw new Error('answer a login through authStep()');
      case 'open':
        if (answer && 'messages' in answer) {
          this.#open(answer.messages);
        } else {
          this.#pending = undefined;
          this.#user = undefined;
          this.#write(refusal ?? status(false, 'Cannot open the maildrop', Pop3ResponseCode.SysTemp));
        }
        return;
      case 'retrieve':
        this.#startMessage(refusal);
        return;
      case 'update': {
        this.#pending = undefined;
        const left = this.#sizes.length - this.#deleted.reduce((sum, flag) => sum + flag, 0);
        this.#close(
          refusal ??
            status(
              true,
              `${this.#options.hostname} signing off (${left === 0 ? 'maildrop empty' : `${count(left, 'message')} left`})`,
            ),
        );
        return;
      }
      case 'stls':
        this.#pending = undefined;
        if (refusal) {
          this.#write(refusal);
          return;
        }
        // RFC 2595 §4: everything learnt from the client before TLS is forgotten.
        this.#tls = true;
        this.#userName = undefined;
        this.#utf8 = false;
        return;
    }
  }

  /** Answers the pending `password`, `apop`, `auth` or `auth-response` event. */
  authStep(step: Pop3AuthStep): void {
    if (this.#state === 'closed') return;
    if (this.#pending !== 'login') throw new Error('no login is pending');
    this.#pending = undefined;
    switch (step.type) {
      case 'challenge':
        this.#challenged = true;
        this.#send(new TextEncoder().encode(`+ ${step.text}\r\n`));
        return;
      case 'success':
        this.#user = step.username;
        this.#decide('open', { type: 'open', username: step.username });
        return;
      default:
        this.#authFailed(AUTH_FAILURES[step.reason]);
    }
  }

  /**
   * Hands the next bytes of the message being sent (after `respond()` to its `retrieve`); they are
   * dot-stuffed, and cut for TOP. Returns false once TOP has all it sends: the rest need not be read.
   * The stuffed bytes come out as one `write` event per piece, views into `chunk` where possible (a
   * line that starts with a dot splits it), never copied: the driver decides how to join them, and
   * `chunk` must not change until they are written.
   */
  messageData(chunk: Uint8Array): boolean {
    if (this.#state === 'closed') return false;
    const outgoing = this.#outgoing;
    if (!outgoing) throw new Error('no message is being sent');
    const part = outgoing.top ? outgoing.top.push(chunk) : chunk;
    if (part.length > 0) {
      const events = this.#events;
      for (const data of outgoing.encoder.encode(part)) events.push({ type: 'write', data });
    }
    return !outgoing.top?.done;
  }

  /** Ends the message being sent: the final `.` line, and the session reads commands again. */
  messageEnd(): void {
    if (this.#state === 'closed') return;
    const outgoing = this.#outgoing;
    if (!outgoing) throw new Error('no message is being sent');
    this.#outgoing = undefined;
    this.#pending = undefined;
    this.#events.push({ type: 'write', data: outgoing.encoder.end() });
    if (!outgoing.top) this.#retrieved[outgoing.index] = 1;
  }

  /**
   * The message being sent could not be read to its end: the session closes without another word, so
   * that the client never takes a truncated message for a whole one.
   */
  abortMessage(): void {
    if (this.#state === 'closed') return;
    this.#outgoing = undefined;
    this.#finish();
  }

  /**
   * Ends the session at the server's wish: `-ERR [SYS/TEMP]` on shutdown, `-ERR` on a timeout (RFC 1939
   * §3's autologout), then close. Nothing is deleted; in the middle of a message, nothing is written.
   * While the `update` of a QUIT is pending, it does nothing: the deletions are under way, and the
   * answer to that `update` tells the client their outcome and ends the session.
   */
  shutdown(reason: 'shutdown' | 'timeout' = 'shutdown'): void {
    if (this.#state === 'closed' || this.#pending === 'update') return;
    if (this.#outgoing) {
      this.abortMessage();
      return;
    }
    this.#close(
      reason === 'timeout'
        ? status(false, 'Disconnected for inactivity')
        : status(false, 'Server shutting down', Pop3ResponseCode.SysTemp),
    );
  }

  #greet(): void {
    const challenge = this.#challenge ? ` ${this.#challenge}` : '';
    this.#write(status(true, `${this.#options.hostname} POP3 server ready${challenge}`));
  }

  #onLine(bytes: Uint8Array): void {
    this.#tracer.received(bytes);
    if (this.#challenged) {
      this.#challenged = false;
      this.#decide('login', { type: 'auth-response', line: decodeUtf8Strict(bytes) ?? '' });
      return;
    }
    if (bytes.length > this.#limits.commandLine && !startsWithKeyword(bytes, 'AUTH')) {
      this.#bad(status(false, 'Line too long'));
      return;
    }
    const line = decodeUtf8Strict(bytes);
    if (line === undefined) {
      this.#bad(status(false, 'Command is not valid UTF-8'));
      return;
    }
    let command: Pop3Command;
    try {
      command = parsePop3Command(line);
    } catch (error) {
      if (!(error instanceof Pop3CommandError)) throw error;
      this.#bad(status(false, error.message));
      return;
    }
    const allowed = this.#state === 'authorization' ? AUTHORIZATION : TRANSACTION;
    if (!allowed.has(command.verb)) {
      this.#bad(status(false, `${command.verb} is not valid in the ${this.#state.toUpperCase()} state`));
      return;
    }
    this.#dispatch(command);
  }

  #dispatch(command: Pop3Command): void {
    switch (command.verb) {
      case 'CAPA':
        this.#multiLine(status(true, 'Capability list follows'), this.#capabilities());
        return;
      case 'QUIT':
        this.#quit();
        return;
      case 'LANG':
        this.#lang(command.language);
        return;
      case 'USER':
        if (!this.#cleartextAllowed()) {
          this.#authFailed(CLEARTEXT_REFUSED);
          return;
        }
        this.#userName = command.name;
        this.#write(status(true, 'Send your password'));
        return;
      case 'PASS': {
        const username = this.#userName;
        this.#userName = undefined;
        if (!this.#cleartextAllowed()) {
          this.#authFailed(CLEARTEXT_REFUSED);
        } else if (username === undefined) {
          this.#bad(status(false, 'Send USER first'));
        } else {
          this.#decide('login', { type: 'password', username, password: command.password });
        }
        return;
      }
      case 'APOP':
        if (!this.#challenge) {
          this.#bad(status(false, 'APOP not available'));
          return;
        }
        this.#decide('login', {
          type: 'apop',
          username: command.name,
          digest: command.digest,
          challenge: this.#challenge,
        });
        return;
      case 'AUTH':
        if (command.mechanism === undefined) {
          this.#multiLine(status(true, 'Methods supported'), [...this.#mechanisms()]);
          return;
        }
        this.#decide(
          'login',
          command.initialResponse === undefined
            ? { type: 'auth', mechanism: command.mechanism }
            : { type: 'auth', mechanism: command.mechanism, initialResponse: command.initialResponse },
        );
        return;
      case 'STLS':
        if (!this.#options.startTls || this.#tls) {
          this.#bad(
            status(false, this.#tls ? 'Command not permitted when TLS active' : 'STLS not available'),
          );
          return;
        }
        // RFC 2595 §4 and case 6: whatever the client pipelined behind STLS is discarded.
        this.#decoder.reset();
        this.#write(status(true, 'Begin TLS negotiation'));
        this.#decide('stls', { type: 'stls' });
        return;
      case 'UTF8':
        if (this.#options.utf8 === false) {
          this.#bad(status(false, 'UTF8 not available'));
          return;
        }
        this.#utf8 = true;
        this.#write(status(true, 'UTF8 enabled'));
        return;
      default:
        this.#transaction(command);
    }
  }

  #transaction(command: Pop3Command): void {
    switch (command.verb) {
      case 'STAT': {
        const [count, size] = this.#totals();
        this.#write(status(true, `${count} ${size}`));
        return;
      }
      case 'LIST':
      case 'UIDL': {
        const line = (index: number) =>
          command.verb === 'LIST'
            ? formatScanListing({ message: index + 1, size: this.#sizes[index]! })
            : formatUniqueIdListing({ message: index + 1, uid: this.#uids[index]! });
        if (command.message !== undefined) {
          const index = this.#message(command.message);
          if (index !== undefined) this.#write(status(true, line(index)));
          return;
        }
        const lines: string[] = [];
        for (let index = 0; index < this.#sizes.length; index++) {
          if (!this.#deleted[index]) lines.push(line(index));
        }
        const [messages, size] = this.#totals();
        this.#multiLine(
          status(
            true,
            command.verb === 'LIST'
              ? `${count(messages, 'message')} (${size} octets)`
              : 'Unique-ID listing follows',
          ),
          lines,
        );
        return;
      }
      case 'RETR':
      case 'TOP': {
        const index = this.#message(command.message);
        if (index === undefined) return;
        const lines = command.verb === 'TOP' ? command.lines : undefined;
        this.#retrieve = lines === undefined ? { index } : { index, lines };
        this.#decide(
          'retrieve',
          lines === undefined
            ? { type: 'retrieve', message: command.message }
            : { type: 'retrieve', message: command.message, lines },
        );
        return;
      }
      case 'DELE': {
        const index = this.#message(command.message);
        if (index === undefined) return;
        this.#deleted[index] = 1;
        this.#write(status(true, `Message ${command.message} deleted`));
        return;
      }
      case 'NOOP':
        this.#write(status(true, ''));
        return;
      case 'RSET': {
        this.#deleted.fill(0);
        const [messages, size] = this.#totals();
        this.#write(status(true, `Maildrop has ${count(messages, 'message')} (${size} octets)`));
        return;
      }
    }
  }

  /** QUIT: in AUTHORIZATION the session just ends; in TRANSACTION it enters UPDATE (RFC 1939 §6). */
  #quit(): void {
    if (this.#state === 'authorization') {
      this.#close(status(true, `${this.#options.hostname} signing off`));
      return;
    }
    this.#state = 'update';
    const deleted: number[] = [];
    const retrieved: number[] = [];
    for (let index = 0; index < this.#sizes.length; index++) {
      if (this.#retrieved[index]) retrieved.push(index + 1);
      // RFC 2449 §6.7: with EXPIRE 0, a downloaded message is deleted as if by DELE.
      if (this.#deleted[index] || (this.#options.expire === 0 && this.#retrieved[index])) {
        this.#deleted[index] = 1;
        deleted.push(index + 1);
      }
    }
    this.#decide('update', { type: 'update', deleted, retrieved });
  }

  /** LANG (RFC 6856 §3): English is the one language; `*` picks it too. */
  #lang(language: string | undefined): void {
    if (this.#options.utf8 === false) {
      this.#bad(status(false, 'LANG not available'));
    } else if (language === undefined) {
      this.#multiLine(status(true, 'Language listing follows'), ['en English']);
    } else if (language === '*' || /^en(?:-|$)/i.test(language)) {
      this.#write(status(true, 'Language is en'));
    } else {
      this.#write(status(false, 'Unsupported language'));
    }
  }

  /** The listing's message index for a message number, or a `-ERR` and `undefined`. */
  #message(number: number): number | undefined {
    const index = number - 1;
    if (index >= this.#sizes.length) {
      this.#write(status(false, `There is no message ${number}`));
      return undefined;
    }
    if (this.#deleted[index]) {
      this.#write(status(false, `Message ${number} is deleted`));
      return undefined;
    }
    return index;
  }

  /** Messages not marked as deleted, and their size in octets. */
  #totals(): [count: number, size: number] {
    let count = 0;
    let size = 0;
    for (let index = 0; index < this.#sizes.length; index++) {
      if (this.#deleted[index]) continue;
      count++;
      size += this.#sizes[index]!;
    }
    return [count, size];
  }

  #open(listing: readonly Pop3MaildropMessage[]): void {
    const seen = new Set<string>();
    for (const { uid, size } of listing) {
      if (!POP3_UNIQUE_ID.test(uid) || seen.has(uid)) {
        throw new InvalidArgumentError(
          `${JSON.stringify(uid)} is not a unique id of 1 to 70 characters in 0x21–0x7E`,
        );
      }
      if (!Number.isSafeInteger(size) || size < 0)
        throw new InvalidArgumentError(`${size} is not a message size`);
      seen.add(uid);
    }
    this.#pending = undefined;
    this.#state = 'transaction';
    this.#opened = true;
    this.#uids = listing.map((message) => message.uid);
    this.#sizes = listing.map((message) => message.size);
    this.#deleted = new Uint8Array(listing.length);
    this.#retrieved = new Uint8Array(listing.length);
    const [messages, size] = this.#totals();
    this.#write(status(true, `Maildrop locked and ready, ${count(messages, 'message')} (${size} octets)`));
  }

  #startMessage(refusal: Pop3Status | undefined): void {
    const retrieve = this.#retrieve!;
    this.#retrieve = undefined;
    if (refusal) {
      this.#pending = undefined;
      this.#write(refusal);
      return;
    }
    this.#write(
      status(
        true,
        retrieve.lines === undefined ? `${this.#sizes[retrieve.index]} octets` : 'Top of message follows',
      ),
    );
    this.#outgoing = {
      index: retrieve.index,
      encoder: new DotStuffedEncoder(),
      top: retrieve.lines === undefined ? undefined : new TopFilter(retrieve.lines),
    };
  }

  #capabilities(): string[] {
    const authorization = this.#state === 'authorization';
    const { expire, loginDelay, implementation } = this.#options;
    const capabilities: [string, string[]?][] = [[Pop3Capability.Top], [Pop3Capability.Uidl]];
    if (authorization) {
      if (this.#cleartextAllowed()) capabilities.push([Pop3Capability.User]);
      const mechanisms = this.#mechanisms();
      if (mechanisms.length > 0) capabilities.push([Pop3Capability.Sasl, [...mechanisms]]);
      if (this.#options.startTls && !this.#tls) capabilities.push([Pop3Capability.Stls]);
    }
    capabilities.push([Pop3Capability.RespCodes], [Pop3Capability.AuthRespCode], [Pop3Capability.Pipelining]);
    if (expire !== undefined) capabilities.push([Pop3Capability.Expire, [String(expire).toUpperCase()]]);
    if (loginDelay !== undefined) capabilities.push([Pop3Capability.LoginDelay, [String(loginDelay)]]);
    if (implementation)
      capabilities.push([Pop3Capability.Implementation, implementation.trim().split(/\s+/)]);
    if (this.#options.utf8 !== false)
      capabilities.push([Pop3Capability.Utf8, ['USER']], [Pop3Capability.Lang]);
    return serializePop3Capabilities(capabilities);
  }

  #mechanisms(): readonly string[] {
    return this.#options.authMechanisms?.(this.#tls) ?? [];
  }

  #cleartextAllowed(): boolean {
    return this.#options.cleartextLogin ? this.#options.cleartextLogin(this.#tls) : this.#tls;
  }

  /** Answers a failed login; after `limits.authFailures` of them, ends the session (case 44). */
  #authFailed(answer: Pop3Status): void {
    if (++this.#authFailures >= this.#limits.authFailures) this.#close(answer);
    else this.#write(answer);
  }

  /** Answers a bad command; after `limits.badCommands` of them, ends the session (case 51). */
  #bad(answer: Pop3Status): void {
    if (++this.#badCommands >= this.#limits.badCommands) this.#close(status(false, 'Too many bad commands'));
    else this.#write(answer);
  }

  #decide(decision: Decision, event: Pop3ServerEvent): void {
    this.#pending = decision;
    this.#events.push(event);
  }

  /** Writes a multi-line response; only its status line is traced. */
  #multiLine(head: Pop3Status, lines: readonly string[]): void {
    if (this.#tracer.enabled) this.#tracer.sent(serializePop3Status(head));
    this.#events.push({ type: 'write', data: serializePop3MultiLine(head, lines) });
  }

  #write(answer: Pop3Status): void {
    this.#send(serializePop3Status(answer));
  }

  #send(data: Uint8Array): void {
    this.#tracer.sent(data);
    this.#events.push({ type: 'write', data });
  }

  #close(answer: Pop3Status): void {
    this.#write(answer);
    this.#finish();
  }

  #finish(): void {
    this.#state = 'closed';
    this.#pending = undefined;
    this.#decoder.reset();
    this.#events.push({ type: 'close' });
  }
}

/** `1 message`, `2 messages`. */
function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

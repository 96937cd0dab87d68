import { ErrorCode, resolveLimits, type TraceHook, Tracer } from '@postwire/core';
import type { SaslFailureReason, SaslSessionStep } from '@postwire/sasl';
import {
  type AppendResult,
  type CopyResult,
  MAILBOX_DELIMITER,
  type MailboxListEntry,
  type MailboxStatus,
  type MessageInfo,
  type QuotaUsage,
  type SpecialUse,
} from '@postwire/store';
import type { ImapCommand, QresyncParameters, StatusItem } from '../protocol/command.js';
import { parseCommand } from '../protocol/command.js';
import { parseDateTime } from '../protocol/date-time.js';
import { ImapSyntaxError } from '../protocol/errors.js';
import type { FetchItem } from '../protocol/fetch-item.js';
import { defaultImapLimits, type ImapLimits } from '../protocol/limits.js';
import {
  type Fragment,
  ImapReader,
  type ImapReaderEvent,
  type LiteralStartEvent,
  type ReaderErrorEvent,
  tagOf,
} from '../protocol/reader.js';
import {
  type ImapResponse,
  type StatusValues,
  serializeResponse,
  writeResponse,
} from '../protocol/response.js';
import type { ResponseCode } from '../protocol/response-code.js';
import type { FetchAttribute } from '../protocol/response-fetch.js';
import type { SearchKey } from '../protocol/search-key.js';
import { SequenceSet } from '../protocol/sequence-set.js';
import { specialUseAttribute } from '../protocol/special-use.js';
import { ImapWriter, type LiteralSource, type OutputPart } from '../protocol/writer.js';
import { binaryRequests, DecodedParts, hasUnknownEncoding } from './binary.js';
import { ENABLE_IMPLIES, SERVER_CAPABILITIES } from './capabilities.js';
import { fetchAttributes, headerFieldRequests, needsStructure, setsSeen } from './fetch-attributes.js';
import { MailboxPattern } from './mailbox-pattern.js';
import { MessageView } from './message-view.js';
import { matchesSearch, searchNeedsStructure, searchTextTerms, searchUsesModseq } from './search.js';
import { type SortCandidate, sortMessages, sortNeedsStructure, unsupportedSortKey } from './sort.js';
import type {
  ImapFetchResult,
  ImapFlagsResult,
  ImapMailboxChange,
  ImapSelectResult,
  ImapStoreRequest,
  ImapStoreResult,
} from './store-bridge.js';
import { isThreadAlgorithm, threadMessages } from './thread.js';

/** Limits of a server session: the grammar's (see {@link ImapLimits}) and the session's, Dovecot-like. */
export type ImapServerLimits = ImapLimits & {
  /** Bytes of a command's lines before login (catalogue case 50: 8 KiB); longer gets BAD, then BYE. */
  lineBeforeLogin: number;
  /** Bad commands before the session ends with BYE (Dovecot: 20; case 51). */
  badCommands: number;
  /** Bad commands before login after which the session ends (Dovecot's imap-login: 3; case 51). */
  badCommandsBeforeLogin: number;
  /** Failed logins before the session ends with BYE (case 44). */
  authFailures: number;
};

/** The defaults of {@link ImapServerLimits}. */
export const defaultImapServerLimits: Readonly<ImapServerLimits> = Object.freeze({
  ...defaultImapLimits,
  lineBeforeLogin: 8192,
  badCommands: 20,
  badCommandsBeforeLogin: 3,
  authFailures: 3,
});

/** Options of {@link ImapServerSession}. */
export interface ImapServerSessionOptions {
  /** The greeting's text; default `Postwire IMAP ready`. */
  readonly greeting?: string;
  /** Bounds on what the session reads, and on bad commands and failed logins; see {@link defaultImapServerLimits}. */
  readonly limits?: Partial<ImapServerLimits>;
  /** Offer STARTTLS: the transport can upgrade, and is not yet TLS. */
  readonly startTls?: boolean;
  /** Start on TLS (implicit TLS, port 993). */
  readonly secure?: boolean;
  /** The SASL mechanisms offered as `AUTH=…`, given whether the session is on TLS (a sasl server's `mechanisms`). */
  readonly authMechanisms?: (secure: boolean) => readonly string[];
  /**
   * Whether LOGIN may be used, given whether the session is on TLS. Default: on TLS only; before it
   * LOGINDISABLED is advertised and LOGIN gets `NO [PRIVACYREQUIRED]` (catalogue case 45).
   */
  readonly cleartextLogin?: (secure: boolean) => boolean;
  /** Ask the application before greeting: a `connect` decision comes first. */
  readonly connectDecision?: boolean;
  /** Greet with PREAUTH: the session starts authenticated as this user (its driver has its mail ready). */
  readonly preauth?: string;
  /** Offer COMPRESS=DEFLATE (RFC 4978): the driver can compress the transport after the login. */
  readonly compress?: boolean;
  /**
   * Offer QRESYNC (RFC 7162); default `true`. Off, it is neither advertised nor enabled by ENABLE, and
   * clients resynchronise with CONDSTORE alone (as with a server that lacks QRESYNC).
   */
  readonly qresync?: boolean;
  /** The non-synchronising literals offered: LITERAL+ (default) or LITERAL- (RFC 7888). */
  readonly nonSyncLiterals?: 'plus' | 'minus';
  /** Receives each command and response line, credentials redacted (literals are not traced). */
  readonly trace?: TraceHook;
}

/**
 * How a login step ended, for {@link ImapServerSession.authStep}: `+` and a challenge (AUTHENTICATE only),
 * success, a failure, or a refusal because the user has too many sessions from the client's address
 * (`NO [LIMIT]`, not counted as a failed login; case 19).
 */
export type ImapAuthStep =
  | SaslSessionStep
  | {
      /** The step's kind. */
      readonly type: 'failure';
      /** The user has too many sessions from the client's address. */
      readonly reason: 'connection-limit';
    };

/**
 * What the session needs its driver to do. Decisions (all but `write` and `close`) wait for their answer —
 * {@link ImapServerSession.respond}, {@link ImapServerSession.authStep}, or
 * {@link ImapServerSession.storeDone} / {@link ImapServerSession.storeFailed} — and no further command is
 * read until then.
 */
export type ImapServerEvent =
  /** Bytes to write to the client. */
  | {
      /** The event's kind. */
      readonly type: 'write';
      /** The bytes to write. */
      readonly data: Uint8Array;
    }
  /** Write a literal's content (a FETCH body): exactly `source.size` octets of its chunks, in turn with the writes. */
  | {
      /** The event's kind. */
      readonly type: 'stream';
      /** The literal's size and chunks. */
      readonly source: LiteralSource;
    }
  /** Decision (with `connectDecision`): admit the client (`respond()`), or refuse it with a text. */
  | {
      /** The event's kind. */
      readonly type: 'connect';
    }
  /** Check LOGIN's credentials: answer through `authStep`. */
  | {
      /** The event's kind. */
      readonly type: 'login';
      /** The user name given. */
      readonly username: string;
      /** The password given. */
      readonly password: string;
    }
  /** Start a SASL exchange (`initialResponse`: SASL-IR's base64, `=` for empty): answer through `authStep`. */
  | {
      /** The event's kind. */
      readonly type: 'authenticate';
      /** The SASL mechanism, upper-cased. */
      readonly mechanism: string;
      /** The initial response (RFC 4959 SASL-IR), when given. */
      readonly initialResponse?: string;
    }
  /** The client's answer to a `+` challenge (base64, or `*` to cancel): answer through `authStep`. */
  | {
      /** The event's kind. */
      readonly type: 'auth-response';
      /** The client's line, as sent. */
      readonly line: string;
    }
  /** Run a store request for the logged-in user: answer with `storeDone` or `storeFailed`. */
  | {
      /** The event's kind. */
      readonly type: 'store';
      /** The store request to run. */
      readonly request: ImapStoreRequest;
    }
  /** Start TLS on the bytes after the tagged OK just written; `respond()` once the handshake is done. */
  | {
      /** The event's kind. */
      readonly type: 'starttls';
    }
  /** UNAUTHENTICATE succeeded: the user's mail may be let go; the session is not authenticated again. */
  | {
      /** The event's kind. */
      readonly type: 'unauthenticated';
    }
  /**
   * Compress both directions with DEFLATE (RFC 4978) from the bytes after the tagged OK just written, with a
   * full flush whenever the output pauses; `respond()` once done. Limits apply to the inflated bytes.
   */
  | {
      /** The event's kind. */
      readonly type: 'compress';
    }
  /** Close the connection once everything written is sent. */
  | {
      /** The event's kind. */
      readonly type: 'close';
    };

/** The RFC 9051 §3 state of a session. */
export type ImapServerState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

/** The answer to each way a login fails (RFC 5530 codes, Dovecot's texts). */
const AUTH_FAILURES: Record<SaslFailureReason, { status: 'NO' | 'BAD'; code?: ResponseCode; text: string }> =
  {
    'invalid-credentials': {
      status: 'NO',
      code: { code: 'AUTHENTICATIONFAILED' },
      text: 'Authentication failed',
    },
    'authorization-failed': {
      status: 'NO',
      code: { code: 'AUTHORIZATIONFAILED' },
      text: 'Authorization failed',
    },
    cancelled: { status: 'BAD', text: 'Authentication cancelled' },
    malformed: { status: 'BAD', text: 'Invalid authentication response' },
    'too-long': { status: 'BAD', code: { code: 'TOOBIG' }, text: 'Authentication response too long' },
    'mechanism-unavailable': { status: 'NO', text: 'Unsupported authentication mechanism' },
    'encryption-required': {
      status: 'NO',
      code: { code: 'PRIVACYREQUIRED' },
      text: 'Plaintext authentication disallowed on non-secure connections',
    },
    throttled: {
      status: 'NO',
      code: { code: 'UNAVAILABLE' },
      text: 'Too many failed attempts, try again later',
    },
    temporary: { status: 'NO', code: { code: 'UNAVAILABLE' }, text: 'Temporary authentication failure' },
  };

/** Store error codes and the response codes they map to. */
const STORE_CODES: ReadonlyMap<string, ResponseCode | undefined> = new Map<string, ResponseCode | undefined>([
  [ErrorCode.NonExistent, { code: 'NONEXISTENT' }],
  [ErrorCode.AlreadyExists, { code: 'ALREADYEXISTS' }],
  [ErrorCode.Cannot, { code: 'CANNOT' }],
  [ErrorCode.InUse, { code: 'INUSE' }],
  [ErrorCode.OverQuota, { code: 'OVERQUOTA' }],
  [ErrorCode.InvalidMailboxName, undefined],
]);

const ANY_STATE = new Set(['CAPABILITY', 'NOOP', 'LOGOUT', 'ID']);
/** Commands during which no EXPUNGE may be sent, in their sequence-number forms (RFC 9051 §7.5.1, RFC 5256). */
const NO_EXPUNGE_DURING = new Set(['FETCH', 'STORE', 'SEARCH', 'SORT', 'THREAD']);
const NOT_AUTHENTICATED = new Set(['STARTTLS', 'AUTHENTICATE', 'LOGIN']);
const AUTHENTICATED = new Set([
  'ENABLE',
  'NAMESPACE',
  'CREATE',
  'DELETE',
  'RENAME',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'LIST',
  'LSUB',
  'STATUS',
  'SELECT',
  'EXAMINE',
  'APPEND',
  'COMPRESS',
  'IDLE',
  'GETQUOTA',
  'GETQUOTAROOT',
  'SETQUOTA',
  'UNAUTHENTICATE',
]);
const SELECTED = new Set([
  ...AUTHENTICATED,
  'CHECK',
  'CLOSE',
  'UNSELECT',
  'FETCH',
  'STORE',
  'EXPUNGE',
  'COPY',
  'MOVE',
  'SEARCH',
  'SORT',
  'THREAD',
]);
SELECTED.delete('ENABLE');

const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];
/** Messages per store request of a FETCH or SEARCH: one batch is answered before the next is read. */
const FETCH_BATCH = 100;
const LIST_SELECTION = new Set(['SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH', 'SPECIAL-USE']);
/** Shared empty sets: a session makes sets of its own only once it has something to put in them. */
const NOTHING_ENABLED: ReadonlySet<string> = new Set();
const NO_UIDS: ReadonlySet<number> = new Set();
const latin1 = new TextDecoder('latin1');

type Pending =
  | { readonly kind: 'connect' | 'starttls' | 'compress' | 'auth' }
  | {
      readonly kind: 'store';
      readonly done: (result: ImapStoreResult) => void;
      readonly failed: (error: unknown) => void;
    };

/** A tagged answer decided before its command is complete. */
interface Refusal {
  readonly status: 'NO' | 'BAD';
  readonly text: string;
  readonly code?: ResponseCode;
}

/** The APPEND whose message octets are being read and streamed into the store. */
interface AppendInProgress {
  /** `undefined` only for a command without a valid tag, which is refused (`* BAD`). */
  readonly tag: string | undefined;
  readonly mailbox: string;
  readonly stored: AppendResult[];
  /** The flags given to the messages stored so far. */
  readonly flags: string[];
  /** Set once the APPEND has failed: the rest of its octets are read and dropped, then this is the answer. */
  refusal?: Refusal;
}

/**
 * A server's IMAP session as a state machine, sans I/O (RFC 9051 and RFC 3501): bytes from the client go
 * in through {@link receive}; {@link next} returns what to do — bytes to write, and decisions for the
 * driver (check a login, run a store request, start TLS). The store's calls are async, so each one is a
 * decision with a typed request, answered with its result: the session stays synchronous and is tested
 * with byte transcripts, and any driver (Node, a test loop, another runtime) runs the requests, most simply
 * through an {@link ImapStoreBridge}.
 *
 * Every command of IMAP4rev1 and IMAP4rev2 and of the extensions in {@link SERVER_CAPABILITIES} is
 * implemented; the selected mailbox is numbered through the session's {@link MessageView}. Changes made by
 * other sessions come in through {@link mailboxChanged} and are announced when RFC 9051 §7 allows.
 */
export class ImapServerSession {
  readonly #options: ImapServerSessionOptions;
  readonly #limits: Readonly<ImapServerLimits>;
  readonly #reader: ImapReader;
  /** Only with a trace hook. */
  readonly #tracer: Tracer | undefined;
  readonly #events: ImapServerEvent[] = [];
  /** Created by the first ENABLE (or CONDSTORE use); so are the other sets and maps below, on first use. */
  #enabled: Set<string> | undefined;
  #state: ImapServerState = 'not-authenticated';
  #pending: Pending | undefined;
  #tls: boolean;
  #compressed = false;
  #user: string | undefined;
  #selected: { readonly mailbox: string; readonly readOnly: boolean } | undefined;
  /** The selected mailbox's messages as this session numbers them. */
  #view = new MessageView([]);
  /** The keywords announced in FLAGS for the selected mailbox. */
  #keywords: Set<string> | undefined;
  #append: AppendInProgress | undefined;
  /** Changes to the selected mailbox not yet announced, in the order they happened. */
  #changes: ImapMailboxChange[] = [];
  /** Where in `#changes` each UID's flag change sits: a later one takes its place, so the queue stays bounded. */
  #queuedFlags: Map<number, number> | undefined;
  /** Flag changes this session made and reported itself, by UID, with their MODSEQ: their echo is not announced. */
  #ownFlags: Map<number, number> | undefined;
  /** SEARCHRES's saved result `$` (RFC 5182), as UIDs. */
  #saved: ReadonlySet<number> = NO_UIDS;
  /** The selected mailbox's UIDNEXT as this session knows it. */
  #uidNext = 1;
  /** The tag of the IDLE in progress. */
  #idling: string | undefined;
  /** The command in progress may not be answered with EXPUNGE (a sequence-number FETCH, STORE, SEARCH…). */
  #holdExpunges = false;
  /** A reader event read ahead (after a `continuation`) and not yet handled. */
  #lookahead: ImapReaderEvent | undefined;
  /** The tag of the AUTHENTICATE whose `+` challenge is waiting for the client's answer. */
  #challenged: string | undefined;
  /** The tag of the login being checked. */
  #authTag = '';
  #badCommands = 0;
  #authFailures = 0;

  /** @throws InvalidArgumentError for a bad limit. */
  constructor(options: ImapServerSessionOptions = {}) {
    this.#options = options;
    this.#limits = resolveLimits<ImapServerLimits>(defaultImapServerLimits, options.limits);
    this.#reader = new ImapReader({
      side: 'server',
      limits: grammarLimits(this.#limits),
      nonSyncLiterals: options.nonSyncLiterals ?? 'plus',
    });
    this.#tracer = options.trace ? new Tracer(options.trace, 'server') : undefined;
    this.#tls = options.secure ?? false;
    if (options.connectDecision) this.#decide({ kind: 'connect' }, { type: 'connect' });
    else this.#greet();
  }

  /** The RFC 9051 state; `logout` once the session has ended. */
  get state(): ImapServerState {
    return this.#state;
  }

  /** Whether the session runs over TLS. */
  get secure(): boolean {
    return this.#tls;
  }

  /** The user who logged in. */
  get user(): string | undefined {
    return this.#user;
  }

  /** The selected mailbox, and whether it was opened with EXAMINE. */
  get selected():
    | {
        /** The mailbox's name. */
        readonly mailbox: string;
        /** It was opened with EXAMINE. */
        readonly readOnly: boolean;
      }
    | undefined {
    return this.#selected;
  }

  /**
   * Whether part of a command is held (bytes without their line end, an unfinished literal, an APPEND
   * being stored): a driver's whole-command deadline runs while this is true.
   */
  get busy(): boolean {
    return this.#reader.holding || this.#append !== undefined;
  }

  /** The bad commands so far: a driver may slow down a client that keeps sending them (case 51). */
  get badCommands(): number {
    return this.#badCommands;
  }

  /** The capabilities the client enabled with ENABLE (IMAP4rev2, UTF8=ACCEPT, CONDSTORE, QRESYNC). */
  get enabled(): ReadonlySet<string> {
    return this.#enabled ?? NOTHING_ENABLED;
  }

  /** The capabilities offered now, as CAPABILITY lists them. */
  get capabilities(): string[] {
    const capabilities = SERVER_CAPABILITIES.map(([name]) => name);
    if (this.#options.qresync === false) capabilities.splice(capabilities.indexOf('QRESYNC'), 1);
    capabilities.splice(1, 0, this.#options.nonSyncLiterals === 'minus' ? 'LITERAL-' : 'LITERAL+');
    capabilities.push(`APPENDLIMIT=${this.#limits.maxStreamedLiteralSize}`);
    if (this.#state === 'not-authenticated') {
      if (this.#options.startTls && !this.#tls) capabilities.push('STARTTLS');
      if (!this.#cleartextAllowed()) capabilities.push('LOGINDISABLED');
      for (const mechanism of this.#options.authMechanisms?.(this.#tls) ?? [])
        capabilities.push(`AUTH=${mechanism}`);
    } else if (this.#options.compress && !this.#compressed) capabilities.push('COMPRESS=DEFLATE');
    return capabilities;
  }

  /** Bytes received from the client. */
  receive(bytes: Uint8Array): void {
    if (this.#state !== 'logout') this.#reader.push(bytes);
  }

  /** The next thing to do, or `undefined` when more input (or a pending decision's answer) is needed. */
  next(): ImapServerEvent | undefined {
    while (this.#events.length === 0 && !this.#pending && this.#state !== 'logout') {
      const event = this.#lookahead ?? this.#reader.next();
      this.#lookahead = undefined;
      if (!event) break;
      this.#onReader(event);
    }
    return this.#events.shift();
  }

  /**
   * Answers a pending `connect` (nothing admits, a text refuses with `* BYE`), `starttls` (the handshake
   * is done: the session is now on TLS) or `compress` (the transport now compresses).
   */
  respond(refusal?: string): void {
    const pending = this.#take('connect', 'starttls', 'compress');
    if (!pending) return;
    if (pending.kind === 'starttls') {
      this.#tls = true;
      return;
    }
    if (pending.kind === 'compress') return;
    if (refusal === undefined) this.#greet();
    else this.#bye(refusal);
  }

  /** Answers the pending `login`, `authenticate` or `auth-response`. */
  authStep(step: ImapAuthStep): void {
    if (!this.#take('auth')) return;
    const tag = this.#authTag;
    if (step.type === 'challenge') {
      this.#challenged = tag;
      this.#send(new TextEncoder().encode(`+ ${step.text}\r\n`));
      return;
    }
    if (step.type === 'success') {
      this.#user = step.username;
      this.#state = 'authenticated';
      this.#tagged(tag, 'OK', 'Logged in', { code: 'CAPABILITY', capabilities: this.capabilities });
      return;
    }
    if (step.reason === 'connection-limit') {
      this.#tagged(tag, 'NO', 'Maximum number of connections from user+IP exceeded', { code: 'LIMIT' });
      return;
    }
    const failure = AUTH_FAILURES[step.reason];
    if (++this.#authFailures >= this.#limits.authFailures) {
      this.#tagged(tag, failure.status, failure.text, failure.code);
      this.#bye('Too many authentication failures');
    } else this.#tagged(tag, failure.status, failure.text, failure.code);
  }

  /** Answers the pending `store` request with its result. */
  storeDone(result?: ImapStoreResult): void {
    const pending = this.#take('store');
    if (pending?.kind === 'store') pending.done(result);
  }

  /**
   * Answers the pending `store` request with the error it threw: store errors become `NO` with their
   * response code (NONEXISTENT, ALREADYEXISTS, CANNOT, INUSE, OVERQUOTA; an invalid name a plain NO),
   * anything else `NO [SERVERBUG]`.
   */
  storeFailed(error: unknown): void {
    const pending = this.#take('store');
    if (pending?.kind === 'store') pending.failed(error);
  }

  /** Ends the session at the server's wish: `* BYE` for a shutdown or an idle autologout, then close. */
  shutdown(reason: 'shutdown' | 'timeout' = 'shutdown'): void {
    if (this.#state === 'logout') return;
    this.#pending = undefined;
    if (reason === 'timeout') this.#bye('Disconnected for inactivity');
    else this.#bye('Server shutting down', { code: 'UNAVAILABLE' });
  }

  /**
   * A change to the selected mailbox, from its change feed (an {@link ImapStoreBridge}'s `onChange`), at
   * any time. It is announced when RFC 9051 §7 allows: at once during IDLE, otherwise before the next
   * command's tagged answer — EXPUNGE (or VANISHED) never while a FETCH, STORE or SEARCH is answered.
   */
  mailboxChanged(change: ImapMailboxChange): void {
    if (this.#state !== 'selected') return;
    if (change.type === 'flags') {
      this.#queuedFlags ??= new Map();
      const queued = this.#queuedFlags.get(change.uid);
      if (queued !== undefined) this.#changes[queued] = change;
      else {
        this.#queuedFlags.set(change.uid, this.#changes.length);
        this.#changes.push(change);
      }
    } else this.#changes.push(change);
    if (this.#idling !== undefined && !this.#pending) this.#announce(true);
  }

  #take(...kinds: Pending['kind'][]): Pending | undefined {
    const pending = this.#pending;
    if (this.#state === 'logout' && !pending) return undefined;
    if (!pending || !kinds.includes(pending.kind))
      throw new Error(`no ${kinds.join(' or ')} decision is pending`);
    this.#pending = undefined;
    return pending;
  }

  #greet(): void {
    const text = this.#options.greeting ?? 'Postwire IMAP ready';
    if (this.#options.preauth !== undefined) {
      this.#user = this.#options.preauth;
      this.#state = 'authenticated';
      this.#write({
        type: 'status',
        status: 'PREAUTH',
        code: { code: 'CAPABILITY', capabilities: this.capabilities },
        text: `Logged in as ${this.#options.preauth}`,
      });
      return;
    }
    this.#write({
      type: 'status',
      status: 'OK',
      code: { code: 'CAPABILITY', capabilities: this.capabilities },
      text,
    });
  }

  #onReader(event: ImapReaderEvent): void {
    switch (event.type) {
      case 'continuation': {
        if (this.#idling !== undefined) {
          this.#reader.reset();
          this.#endIdle(false);
          return;
        }
        // An APPEND message's literal starts right away: it is checked before the `+` is sent.
        const next = this.#reader.next();
        if (next?.type === 'literal-start') this.#appendStart(next, true);
        else {
          this.#continue();
          this.#lookahead = next;
        }
        return;
      }
      case 'error':
        // A MULTIAPPEND refused by the reader ends here, without the messages it stored.
        this.#dropAppend(() => this.#readerError(event));
        return;
      case 'message':
        this.#onMessage(event.fragments);
        return;
      case 'literal-start':
        this.#appendStart(event, false);
        return;
      case 'literal-data':
        this.#appendData(event.data, event.remaining === 0);
        return;
    }
  }

  /** Answers a command the reader refused; a refusal that leaves the stream out of step ends the session. */
  #readerError(event: ReaderErrorEvent): void {
    const text = event.error instanceof ImapSyntaxError ? event.error.text : 'Literal too big';
    const code: ResponseCode | undefined = event.tooBig ? { code: 'TOOBIG' } : undefined;
    // Case 15: an APPEND message over the limit is refused before its `+`, and the session goes on.
    const message = 'limit' in event.error && event.error.limit === 'maxStreamedLiteralSize';
    if (message && !event.fatal && event.tag !== undefined) {
      this.#tagged(event.tag, 'NO', 'Message too big', code);
      return;
    }
    if (event.tag !== undefined) this.#tagged(event.tag, 'BAD', text, code);
    else this.#untaggedBad(text, code);
    if (event.fatal || event.tooBig) this.#bye('Too big command, disconnecting');
    else this.#countBad();
  }

  #continue(): void {
    this.#send(new TextEncoder().encode('+ Ready for literal data\r\n'));
  }

  /**
   * An APPEND message begins (RFC 9051 §6.3.12, RFC 3502 MULTIAPPEND): the command so far is read as if the
   * message ended it, checked, and the store starts receiving the octets. A refused synchronising literal
   * gets its answer instead of `+`; a non-synchronising one is read and dropped first.
   */
  #appendStart(event: LiteralStartEvent, sync: boolean): void {
    const prefixTag = tagOf(event.prefix);
    const streamed = { kind: 'streamed', size: event.size, binary: event.binary } as const;
    let command: ImapCommand;
    try {
      command = parseCommand([...event.prefix, streamed, new Uint8Array(0)], {
        utf8Accept: this.#utf8(),
        maxDepth: this.#limits.maxDepth,
      });
    } catch (error) {
      if (!(error instanceof ImapSyntaxError)) throw error;
      this.#refuseAppend(prefixTag, sync, { status: 'BAD', text: error.text });
      return;
    }
    const { tag } = command;
    if (command.name !== 'APPEND' || !this.#allowed('APPEND')) {
      this.#refuseAppend(tag, sync, { status: 'BAD', text: 'Command unknown or not valid in this state' });
      return;
    }
    if (this.#append?.tag !== tag) this.#append = { tag, mailbox: command.mailbox, stored: [], flags: [] };
    const append = this.#append;
    if (append.refusal) {
      this.#refuseAppend(tag, sync, append.refusal);
      return;
    }
    const message = command.messages[command.messages.length - 1]!;
    if (event.size === 0) {
      this.#refuseAppend(tag, sync, { status: 'NO', text: "Can't save a zero byte message" });
      return;
    }
    const internalDate = message.date === undefined ? undefined : parseDateTime(message.date);
    if (message.date !== undefined && !internalDate) {
      this.#refuseAppend(tag, sync, { status: 'BAD', text: 'Invalid date-time' });
      return;
    }
    const flags = (message.flags ?? []).map(canonicalFlag);
    if (flags.some((flag) => flag.startsWith('\\') && !SYSTEM_FLAGS.includes(flag))) {
      this.#refuseAppend(tag, sync, { status: 'BAD', text: 'Invalid system flag' });
      return;
    }
    this.#ask(
      {
        op: 'append-begin',
        mailbox: command.mailbox,
        flags,
        ...(internalDate ? { internalDate } : {}),
      },
      tag,
      () => {
        append.flags.push(...flags);
        if (sync) this.#continue();
      },
      (error) => {
        const refusal = storeRefusal(error);
        const tryCreate = (error as { code?: unknown } | undefined)?.code === ErrorCode.NonExistent;
        this.#refuseAppend(tag, sync, tryCreate ? { ...refusal, code: { code: 'TRYCREATE' } } : refusal);
      },
    );
  }

  /** Answers an APPEND now (no `+` was sent), or once its octets have gone by. */
  #refuseAppend(tag: string | undefined, sync: boolean, refusal: Refusal): void {
    if (!sync) {
      this.#append = { tag, mailbox: '', stored: [], flags: [], ...this.#append, refusal };
      return;
    }
    this.#reader.reset();
    this.#dropAppend(() => this.#refuse(tag, refusal));
  }

  /**
   * Ends the APPEND in progress, if any, then gives `answer`: MULTIAPPEND is all or nothing (RFC 3502
   * §6.3.11), so the messages it stored before failing are removed first.
   */
  #dropAppend(answer: () => void): void {
    const append = this.#append;
    this.#append = undefined;
    if (!append || append.stored.length === 0) answer();
    else
      this.#ask(
        { op: 'append-undo', mailbox: append.mailbox, uids: append.stored.map((result) => result.uid) },
        append.tag!,
        answer,
        answer,
      );
  }

  #refuse(tag: string | undefined, { status, text, code }: Refusal): void {
    if (status === 'BAD') this.#bad(tag, text, code);
    else this.#tagged(tag!, status, text, code);
  }

  #appendData(data: Uint8Array, last: boolean): void {
    const append = this.#append;
    if (!append || append.refusal) return;
    this.#ask(
      { op: 'append-data', data, last },
      append.tag!,
      (result) => {
        if (last) append.stored.push(result as AppendResult);
      },
      (error) => {
        append.refusal = storeRefusal(error);
      },
    );
  }

  /** The APPEND command is complete: its answer, with APPENDUID, and EXISTS when it added to the selected mailbox. */
  #appendEnd(fragments: readonly Fragment[]): void {
    const append = this.#append!;
    let refusal = append.refusal;
    if (!refusal) {
      try {
        parseCommand(fragments, { utf8Accept: this.#utf8(), maxDepth: this.#limits.maxDepth });
      } catch (error) {
        if (!(error instanceof ImapSyntaxError)) throw error;
        refusal = { status: 'BAD', text: error.text };
      }
    }
    if (refusal) {
      const failure = refusal;
      this.#dropAppend(() => this.#refuse(append.tag, failure));
      return;
    }
    this.#append = undefined;
    const { stored } = append;
    this.#tagged(append.tag!, 'OK', 'Append completed', {
      code: 'APPENDUID',
      uidValidity: stored[0]!.uidValidity,
      uids: SequenceSet.from(stored.map((result) => result.uid)),
    });
  }

  #onMessage(fragments: readonly Fragment[]): void {
    const tracer = this.#tracer;
    if (tracer)
      for (const fragment of fragments) if (fragment instanceof Uint8Array) tracer.received(fragment);
    if (this.#append) {
      this.#appendEnd(fragments);
      return;
    }
    if (this.#idling !== undefined) {
      const line =
        fragments.length === 1 && fragments[0] instanceof Uint8Array ? latin1.decode(fragments[0]) : '';
      this.#endIdle(line.toUpperCase() === 'DONE');
      return;
    }
    const challenged = this.#challenged;
    if (challenged !== undefined) {
      this.#challenged = undefined;
      const line =
        fragments.length === 1 && fragments[0] instanceof Uint8Array ? latin1.decode(fragments[0]) : '';
      this.#authTag = challenged;
      this.#decide({ kind: 'auth' }, { type: 'auth-response', line });
      return;
    }
    if (this.#state === 'not-authenticated') {
      let bytes = 0;
      for (const fragment of fragments) if (fragment instanceof Uint8Array) bytes += fragment.length;
      if (bytes > this.#limits.lineBeforeLogin) {
        this.#write({ type: 'status', status: 'BAD', code: { code: 'TOOBIG' }, text: 'Command too long' });
        this.#bye('Too big command before login, disconnecting');
        return;
      }
    }
    let command: ImapCommand;
    try {
      command = parseCommand(fragments, { utf8Accept: this.#utf8(), maxDepth: this.#limits.maxDepth });
    } catch (error) {
      if (!(error instanceof ImapSyntaxError)) throw error;
      this.#bad(error.tag, error.text);
      return;
    }
    if (!this.#allowed(command.name)) {
      this.#bad(command.tag, 'Command unknown or not valid in this state');
      return;
    }
    this.#dispatch(command);
  }

  #allowed(name: string): boolean {
    if (ANY_STATE.has(name)) return true;
    if (this.#state === 'not-authenticated') return NOT_AUTHENTICATED.has(name);
    return (this.#state === 'selected' ? SELECTED : AUTHENTICATED).has(name);
  }

  #dispatch(command: ImapCommand): void {
    const { tag } = command;
    this.#holdExpunges = NO_EXPUNGE_DURING.has(command.name) && !(command as { uid?: boolean }).uid;
    switch (command.name) {
      case 'CAPABILITY':
        this.#write({ type: 'CAPABILITY', capabilities: this.capabilities });
        this.#tagged(tag, 'OK', 'Capability completed');
        return;
      case 'NOOP':
      case 'CHECK':
        if (this.#state === 'selected')
          this.#ask({ op: 'sync' }, tag, () => this.#tagged(tag, 'OK', `${command.name} completed`));
        else this.#tagged(tag, 'OK', `${command.name} completed`);
        return;
      case 'IDLE':
        this.#idle(tag);
        return;
      case 'UNAUTHENTICATE':
        this.#unauthenticate(tag);
        return;
      case 'GETQUOTA':
      case 'GETQUOTAROOT':
        this.#quota(tag, command);
        return;
      case 'SETQUOTA':
        this.#tagged(tag, 'NO', 'Quota limits are set by the administrator', { code: 'NOPERM' });
        return;
      case 'LOGOUT':
        this.#dropChanges();
        this.#write({ type: 'status', status: 'BYE', text: 'Logging out' });
        this.#tagged(tag, 'OK', 'Logout completed');
        this.#finish();
        return;
      case 'ID':
        this.#write({ type: 'ID', parameters: [['name', 'Postwire']] });
        this.#tagged(tag, 'OK', 'ID completed');
        return;
      case 'STARTTLS':
        if (!this.#options.startTls || this.#tls) {
          this.#bad(tag, this.#tls ? 'TLS is already active' : 'STARTTLS is not available');
          return;
        }
        // RFC 9051 §6.2.1 and case 6: whatever the client pipelined behind STARTTLS is discarded.
        this.#reader.reset();
        this.#tagged(tag, 'OK', 'Begin TLS negotiation now');
        this.#decide({ kind: 'starttls' }, { type: 'starttls' });
        return;
      case 'LOGIN':
        this.#authTag = tag;
        if (!this.#cleartextAllowed()) {
          this.#pending = { kind: 'auth' };
          this.authStep({ type: 'failure', reason: 'encryption-required' });
          return;
        }
        this.#tracer?.redactNextClientLine();
        this.#decide(
          { kind: 'auth' },
          { type: 'login', username: command.username, password: command.password },
        );
        return;
      case 'AUTHENTICATE': {
        this.#authTag = tag;
        const initial = command.initialResponse;
        this.#decide(
          { kind: 'auth' },
          initial === undefined
            ? { type: 'authenticate', mechanism: command.mechanism }
            : {
                type: 'authenticate',
                mechanism: command.mechanism,
                initialResponse: initial === '' ? '=' : initial,
              },
        );
        return;
      }
      case 'ENABLE':
        this.#enable(tag, command.capabilities);
        return;
      case 'COMPRESS':
        if (!this.#options.compress) this.#bad(tag, 'Command unknown or not valid in this state');
        else if (this.#compressed)
          this.#tagged(tag, 'NO', 'Compression already active', { code: 'COMPRESSIONACTIVE' });
        else if (command.mechanism.toUpperCase() !== 'DEFLATE')
          this.#bad(tag, `Unsupported compression mechanism ${command.mechanism.slice(0, 20)}`);
        else {
          // RFC 4978 §3: the client compresses from the byte after the command; nothing may be buffered.
          this.#reader.reset();
          this.#compressed = true;
          this.#tagged(tag, 'OK', 'Begin compression');
          this.#decide({ kind: 'compress' }, { type: 'compress' });
        }
        return;
      case 'NAMESPACE':
        this.#write({
          type: 'NAMESPACE',
          personal: [{ prefix: '', delimiter: MAILBOX_DELIMITER }],
          other: null,
          shared: null,
        });
        this.#tagged(tag, 'OK', 'Namespace completed');
        return;
      case 'CREATE':
        this.#create(tag, command.mailbox, command.specialUse);
        return;
      case 'DELETE':
      case 'SUBSCRIBE':
      case 'UNSUBSCRIBE':
        this.#simple(
          tag,
          { op: command.name.toLowerCase() as 'delete', mailbox: command.mailbox },
          command.name,
        );
        return;
      case 'RENAME':
        this.#simple(tag, { op: 'rename', mailbox: command.mailbox, newName: command.newName }, 'RENAME');
        return;
      case 'LIST':
        this.#list(
          tag,
          command.reference,
          command.patterns,
          command.selection ?? [],
          command.return ?? {},
          false,
        );
        return;
      case 'LSUB':
        this.#list(tag, command.reference, [command.pattern], ['SUBSCRIBED'], {}, true);
        return;
      case 'STATUS':
        if (command.items.includes('HIGHESTMODSEQ')) this.#condstore();
        this.#ask({ op: 'status', mailbox: command.mailbox }, tag, (status) => {
          this.#write({
            type: 'STATUS',
            mailbox: command.mailbox,
            values: statusValues(status as MailboxStatus, command.items, this.#limits.maxStreamedLiteralSize),
          });
          this.#tagged(tag, 'OK', 'Status completed');
        });
        return;
      case 'SELECT':
      case 'EXAMINE':
        this.#select(tag, command.name, command.mailbox, command.condstore ?? false, command.qresync);
        return;
      case 'APPEND':
        // A message held in memory is not a literal (the reader streams every APPEND literal).
        this.#bad(tag, 'APPEND needs the message as a literal');
        return;
      case 'FETCH':
        this.#fetch(tag, command);
        return;
      case 'STORE':
        this.#storeFlags(tag, command);
        return;
      case 'EXPUNGE':
        this.#expunge(tag, command.uids);
        return;
      case 'COPY':
      case 'MOVE':
        this.#copy(tag, command);
        return;
      case 'SEARCH':
        this.#search(tag, command);
        return;
      case 'SORT':
        this.#sort(tag, command);
        return;
      case 'THREAD':
        this.#thread(tag, command);
        return;
      case 'CLOSE':
      case 'UNSELECT': {
        const expunge = command.name === 'CLOSE' && !this.#selected!.readOnly;
        this.#unselect();
        this.#ask({ op: 'unselect', expunge }, tag, () =>
          this.#tagged(tag, 'OK', `${command.name} completed`),
        );
        return;
      }
    }
  }

  #enable(tag: string, requested: readonly string[]): void {
    const enabled: string[] = [];
    for (const name of requested) {
      const upper = name.toUpperCase();
      if (upper === 'QRESYNC' && this.#options.qresync === false) continue;
      for (const capability of ENABLE_IMPLIES.get(upper) ?? []) {
        if (this.#isEnabled(capability)) continue;
        this.#enableCapability(capability);
        enabled.push(capability);
      }
    }
    this.#write({ type: 'ENABLED', capabilities: enabled });
    this.#tagged(tag, 'OK', 'Enabled');
  }

  #create(tag: string, mailbox: string, uses: readonly string[] | undefined): void {
    // The store keeps one of RFC 6154's attributes per mailbox (RFC 8457's \Important is not one).
    const specialUse = uses?.length === 1 ? specialUseAttribute(uses[0]!) : undefined;
    if (uses !== undefined && (specialUse === undefined || specialUse === '\\Important')) {
      this.#tagged(tag, 'NO', 'Unsupported special-use attribute', { code: 'USEATTR' });
      return;
    }
    const name = mailbox.endsWith(MAILBOX_DELIMITER) ? mailbox.slice(0, -1) : mailbox;
    // RFC 8474 §4.1: the new mailbox's id comes with the answer.
    const request = {
      op: 'create',
      mailbox: name,
      ...(specialUse ? { specialUse: specialUse as SpecialUse } : {}),
    } as const;
    this.#ask(request, tag, () =>
      this.#ask({ op: 'status', mailbox: name }, tag, (status) =>
        this.#tagged(tag, 'OK', 'CREATE completed', {
          code: 'MAILBOXID',
          id: (status as MailboxStatus).mailboxId,
        }),
      ),
    );
  }

  #simple(tag: string, request: ImapStoreRequest, name: string): void {
    this.#ask(request, tag, () => this.#tagged(tag, 'OK', `${name} completed`));
  }

  #select(
    tag: string,
    name: 'SELECT' | 'EXAMINE',
    mailbox: string,
    condstore: boolean,
    qresync: QresyncParameters | undefined,
  ): void {
    if (qresync && !this.#isEnabled('QRESYNC')) {
      this.#bad(tag, 'QRESYNC is not enabled');
      return;
    }
    if (this.#selected) {
      this.#unselect();
      this.#write({
        type: 'status',
        status: 'OK',
        code: { code: 'CLOSED' },
        text: 'Previous mailbox closed',
      });
    }
    const readOnly = name === 'EXAMINE';
    if (condstore) this.#enableCapability('CONDSTORE');
    this.#ask(
      { op: 'select', mailbox, readOnly, ...(qresync ? { changedSince: qresync.modSeq } : {}) },
      tag,
      (answer) => {
        const result = answer as ImapSelectResult;
        const { status, keywords, uids } = result;
        this.#view = new MessageView(uids, result.recent);
        this.#uidNext = status.uidNext;
        this.#keywords = keywords.length > 0 ? new Set(keywords) : undefined;
        this.#write({ type: 'EXISTS', number: this.#view.count });
        if (this.#rev1()) this.#write({ type: 'RECENT', number: this.#view.recentCount });
        this.#writeFlags(readOnly);
        // RFC 3501 §9 wants text after a response code; the texts are Dovecot's.
        const okCode = (value: ResponseCode, text: string): void =>
          this.#write({ type: 'status', status: 'OK', code: value, text });
        const firstUnseen =
          result.firstUnseen === undefined ? undefined : this.#view.sequenceOf(result.firstUnseen);
        // RFC 3501 §6.3.1 requires UNSEEN of rev1; RFC 9051 dropped it.
        if (firstUnseen !== undefined && this.#rev1())
          okCode({ code: 'UNSEEN', value: firstUnseen }, 'First unseen.');
        okCode({ code: 'UIDVALIDITY', value: status.uidValidity }, 'UIDs valid');
        okCode({ code: 'UIDNEXT', value: status.uidNext }, 'Predicted next UID');
        okCode({ code: 'MAILBOXID', id: status.mailboxId }, 'Ok');
        if (this.#isEnabled('CONDSTORE'))
          okCode({ code: 'HIGHESTMODSEQ', modSeq: status.highestModseq }, 'Highest');
        this.#selected = { mailbox, readOnly };
        this.#state = 'selected';
        if (qresync && qresync.uidValidity === status.uidValidity) this.#resync(qresync, result);
        this.#tagged(tag, 'OK', `${name} completed`, { code: readOnly ? 'READ-ONLY' : 'READ-WRITE' });
      },
    );
  }

  /**
   * QRESYNC's quick resynchronisation (RFC 7162 §3.2.5): VANISHED (EARLIER) for the known UIDs that are gone
   * (with no record of expunges, every absent UID below UIDNEXT, which the RFC allows), then FETCH for the
   * messages changed since the client's MODSEQ.
   */
  #resync(qresync: QresyncParameters, result: ImapSelectResult): void {
    const known = qresync.knownUids ?? SequenceSet.of([{ start: 1, end: Math.max(1, this.#uidNext - 1) }]);
    const vanished = this.#absentUids(known);
    if (!vanished.isEmpty) this.#write({ type: 'VANISHED', earlier: true, uids: vanished });
    for (const message of result.changed ?? []) {
      const number = this.#view.sequenceOf(message.uid);
      if (number !== undefined)
        this.#write({
          type: 'FETCH',
          number,
          attributes: this.#flagAttributes(message.uid, message.flags, message.modseq),
        });
    }
  }

  /** The UIDs of `set` below UIDNEXT that are not in the view, as ranges. */
  #absentUids(set: SequenceSet): SequenceSet {
    const last = this.#uidNext - 1;
    const absent: { start: number; end: number }[] = [];
    for (const range of set.resolve(last).ranges) {
      let next = range.start;
      const end = Math.min(range.end, last);
      for (const uid of this.#view.resolve(
        SequenceSet.of([{ start: range.start, end: Math.max(range.start, end) }]),
        true,
      )!) {
        if (uid > next) absent.push({ start: next, end: uid - 1 });
        next = uid + 1;
      }
      if (next <= end) absent.push({ start: next, end });
    }
    return SequenceSet.of(absent);
  }

  #unselect(): void {
    this.#selected = undefined;
    this.#view = new MessageView([]);
    this.#state = 'authenticated';
    this.#dropChanges();
    this.#keywords = undefined;
    this.#ownFlags = undefined;
    this.#saved = NO_UIDS;
  }

  #dropChanges(): void {
    this.#changes = [];
    this.#queuedFlags = undefined;
  }

  #isEnabled(capability: string): boolean {
    return this.#enabled?.has(capability) === true;
  }

  #enableCapability(capability: string): void {
    this.#enabled ??= new Set();
    this.#enabled.add(capability);
  }

  /** Records a flag change this session reported itself, so that its echo from the change feed is skipped. */
  #ownFlag(uid: number, modseq: number): void {
    this.#ownFlags ??= new Map();
    this.#ownFlags.set(uid, modseq);
  }

  #forgetOwnFlag(uid: number): void {
    const own = this.#ownFlags;
    if (own?.delete(uid) && own.size === 0) this.#ownFlags = undefined;
  }

  /** IMAP4rev1 rules apply (IMAP4rev2 not enabled): `\Recent` and RECENT are reported. */
  #rev1(): boolean {
    return !this.#isEnabled('IMAP4rev2');
  }

  /** The FLAGS of an untagged FETCH (with `\Recent` for rev1), and UID and MODSEQ as CONDSTORE and QRESYNC require. */
  #flagAttributes(uid: number, flags: readonly string[], modseq: number, withUid = false): FetchAttribute[] {
    const shown = this.#rev1() && this.#view.isRecent(uid) ? [...flags, '\\Recent'] : flags;
    const attributes: FetchAttribute[] = [{ item: 'FLAGS', flags: shown }];
    if (withUid || this.#isEnabled('QRESYNC')) attributes.push({ item: 'UID', uid });
    if (this.#isEnabled('CONDSTORE')) attributes.push({ item: 'MODSEQ', modSeq: modseq });
    return attributes;
  }

  /**
   * Announces the changes queued for the selected mailbox (RFC 9051 §7.4, §7.5): new messages with EXISTS
   * (and RECENT), flag changes with FETCH, removals with EXPUNGE or, under QRESYNC, VANISHED. Removals
   * stay queued while `allowExpunge` is false; the session's own changes, already reported, are skipped.
   */
  #announce(allowExpunge: boolean): void {
    const changes = this.#changes;
    if (changes.length === 0) return;
    this.#dropChanges();
    let grown = false;
    const exists = (): void => {
      if (!grown) return;
      grown = false;
      this.#write({ type: 'EXISTS', number: this.#view.count });
      if (this.#rev1()) this.#write({ type: 'RECENT', number: this.#view.recentCount });
    };
    for (const change of changes) {
      switch (change.type) {
        case 'append': {
          const { uid, flags } = change.message;
          if (this.#view.sequenceOf(uid) !== undefined) break;
          this.#view.add(uid, change.recent === true);
          this.#uidNext = Math.max(this.#uidNext, uid + 1);
          grown = true;
          this.#announceKeywords(flags);
          break;
        }
        case 'flags': {
          const own = this.#ownFlags?.get(change.uid);
          if (own !== undefined && own >= change.modseq) {
            if (own === change.modseq) this.#forgetOwnFlag(change.uid);
            break;
          }
          const number = this.#view.sequenceOf(change.uid);
          if (number === undefined) break;
          this.#announceKeywords(change.flags);
          this.#write({
            type: 'FETCH',
            number,
            attributes: this.#flagAttributes(change.uid, change.flags, change.modseq),
          });
          break;
        }
        case 'expunge':
          if (!allowExpunge) {
            this.#changes.push(change);
            break;
          }
          exists();
          this.#removed(change.uids);
          break;
        case 'gone':
          this.#bye('Selected mailbox was deleted, have to disconnect');
          return;
      }
    }
    exists();
  }

  /** Drops expunged messages from the view, with EXPUNGE for each or one VANISHED under QRESYNC. */
  #removed(uids: readonly number[]): void {
    const gone: number[] = [];
    for (const uid of [...uids].sort((a, b) => a - b)) {
      this.#forgetOwnFlag(uid);
      const number = this.#view.remove(uid);
      if (number === undefined) continue;
      if (this.#isEnabled('QRESYNC')) gone.push(uid);
      else this.#write({ type: 'EXPUNGE', number });
    }
    if (gone.length > 0) this.#write({ type: 'VANISHED', earlier: false, uids: SequenceSet.from(gone) });
  }

  /** IDLE (RFC 2177, RFC 9051 §6.3.13): `+`, then every change as it happens, until DONE. */
  #idle(tag: string): void {
    const start = (): void => {
      this.#send(new TextEncoder().encode('+ idling\r\n'));
      this.#idling = tag;
      this.#announce(true);
    };
    if (this.#state === 'selected') this.#ask({ op: 'sync' }, tag, start);
    else start();
  }

  /** DONE ends IDLE with OK; anything else (catalogue case 19) ends it with BAD. */
  #endIdle(done: boolean): void {
    const tag = this.#idling!;
    this.#idling = undefined;
    if (done) this.#tagged(tag, 'OK', 'Idle completed');
    else this.#bad(tag, 'Expected DONE');
  }

  /** UNAUTHENTICATE (RFC 8437): the mailbox is closed without expunging, and the session starts over. */
  #unauthenticate(tag: string): void {
    const reset = (): void => {
      this.#user = undefined;
      this.#state = 'not-authenticated';
      this.#enabled = undefined;
      this.#tagged(tag, 'OK', 'Unauthenticate completed');
      this.#events.push({ type: 'unauthenticated' });
    };
    if (this.#selected) {
      this.#unselect();
      this.#ask({ op: 'unselect', expunge: false }, tag, reset);
    } else reset();
  }

  /**
   * GETQUOTA and GETQUOTAROOT (RFC 9208): one quota root, `""`, holding all of the user's mailboxes, with
   * STORAGE (in KiB) and MESSAGE for the limits the store has.
   */
  #quota(tag: string, command: Extract<ImapCommand, { name: 'GETQUOTA' | 'GETQUOTAROOT' }>): void {
    if (command.name === 'GETQUOTA' && command.root !== '') {
      this.#tagged(tag, 'NO', 'Unknown quota root', { code: 'NONEXISTENT' });
      return;
    }
    const answer = (usage: QuotaUsage): void => {
      const resources = [];
      if (usage.storageLimit !== undefined)
        resources.push({
          name: 'STORAGE',
          usage: Math.ceil(usage.storage / 1024),
          limit: Math.floor(usage.storageLimit / 1024),
        });
      if (usage.messageLimit !== undefined)
        resources.push({ name: 'MESSAGE', usage: usage.messages, limit: usage.messageLimit });
      if (command.name === 'GETQUOTAROOT')
        this.#write({ type: 'QUOTAROOT', mailbox: command.mailbox, roots: [''] });
      this.#write({ type: 'QUOTA', root: '', resources });
      this.#tagged(tag, 'OK', `${command.name} completed`);
    };
    const quota = (): void => this.#ask({ op: 'quota' }, tag, (usage) => answer(usage as QuotaUsage));
    // GETQUOTAROOT of a mailbox that does not exist is NO [NONEXISTENT]: STATUS finds out.
    if (command.name === 'GETQUOTAROOT') this.#ask({ op: 'status', mailbox: command.mailbox }, tag, quota);
    else quota();
  }

  /** FLAGS and PERMANENTFLAGS: the system flags and the mailbox's keywords. */
  #writeFlags(readOnly: boolean): void {
    const flags = [...SYSTEM_FLAGS, ...(this.#keywords ?? [])];
    this.#write({ type: 'FLAGS', flags });
    this.#write({
      type: 'status',
      status: 'OK',
      code: { code: 'PERMANENTFLAGS', flags: readOnly ? [] : [...flags, '\\*'] },
      text: readOnly ? 'Read-only mailbox.' : 'Flags permitted.',
    });
  }

  /** Announces keywords that are new to the selected mailbox in FLAGS (RFC 9051 §7.3.5). */
  #announceKeywords(flags: Iterable<string>): void {
    let added = false;
    for (const flag of flags) {
      if (flag.startsWith('\\') || this.#keywords?.has(flag)) continue;
      this.#keywords ??= new Set();
      this.#keywords.add(flag);
      added = true;
    }
    if (added) this.#writeFlags(this.#selected!.readOnly);
  }

  /**
   * The UIDs a FETCH, STORE or their UID forms name, from the session's view (`$` is the saved search
   * result); answers `BAD` and gives `undefined` for a sequence number past the last message.
   */
  #resolve(tag: string, set: SequenceSet, byUid: boolean): number[] | undefined {
    if (set.isSaved) return this.#view.uids.filter((uid) => this.#saved.has(uid));
    const uids = this.#view.resolve(set, byUid);
    if (!uids) this.#bad(tag, 'Invalid messageset');
    return uids;
  }

  /**
   * FETCH and UID FETCH (RFC 9051 §6.4.5, RFC 7162 CHANGEDSINCE and VANISHED): the messages go in batches,
   * each one store request, and their bodies are streamed from the store as the responses are written.
   */
  #fetch(tag: string, command: Extract<ImapCommand, { name: 'FETCH' }>): void {
    const { uid: byUid, sequence: set, items: requested, changedSince } = command;
    if (command.vanished && (!byUid || changedSince === undefined || !this.#isEnabled('QRESYNC'))) {
      this.#bad(tag, 'VANISHED needs UID FETCH, CHANGEDSINCE and QRESYNC enabled');
      return;
    }
    const uids = this.#resolve(tag, set, byUid);
    if (!uids) return;
    const condstore =
      changedSince !== undefined || requested.some((item) => item.item === 'MODSEQ')
        ? this.#condstore()
        : false;
    let items: readonly FetchItem[] = requested;
    if (byUid && !items.some((item) => item.item === 'UID')) items = [{ item: 'UID' }, ...items];
    if (condstore && !items.some((item) => item.item === 'MODSEQ')) items = [...items, { item: 'MODSEQ' }];
    if (command.vanished) {
      const vanished = this.#absentUids(set);
      if (!vanished.isEmpty) this.#write({ type: 'VANISHED', earlier: true, uids: vanished });
    }
    const structure = items.some(needsStructure);
    const seen = !this.#selected!.readOnly && items.some(setsSeen);
    let missing = false;
    let unknownEncoding = false;
    const step = (from: number): void => {
      if (from >= uids.length) {
        if (unknownEncoding)
          this.#tagged(tag, 'NO', 'Unknown Content-Transfer-Encoding', { code: 'UNKNOWN-CTE' });
        else if (missing && !byUid)
          this.#tagged(tag, 'NO', 'Some of the requested messages no longer exist', {
            code: 'EXPUNGEISSUED',
          });
        else this.#tagged(tag, 'OK', 'Fetch completed');
        return;
      }
      const batch = uids.slice(from, from + FETCH_BATCH);
      const request = {
        op: 'fetch',
        uids: batch,
        structure,
        seen,
        ...(changedSince === undefined ? {} : { changedSince }),
      } as const;
      this.#ask(request, tag, (answer) => {
        const result = answer as ImapFetchResult;
        if (changedSince === undefined && result.messages.length < batch.length) missing = true;
        if (hasUnknownEncoding(items, result)) unknownEncoding = true;
        const binary = binaryRequests(items, result);
        const write = (fields: readonly Uint8Array[], contents: readonly Uint8Array[]): void => {
          const blocks = fields[Symbol.iterator]();
          const decoded = new DecodedParts(binary, contents);
          // The batch's responses go out as one output; traced, each response is a write of its own.
          const utf8 = this.#utf8();
          const writer = new ImapWriter({ side: 'server', utf8 });
          const options = { utf8Accept: utf8 };
          const traced = this.#options.trace !== undefined;
          const messages = result.messages;
          for (let index = 0; index < messages.length; index++) {
            const message = messages[index]!;
            const number = this.#view.sequenceOf(message.uid);
            const attributes = fetchAttributes(items, result, index, blocks, decoded);
            // A message whose only items are BINARY of an unknown encoding has nothing to say.
            if (number === undefined || attributes.length === 0) continue;
            if (result.seen.includes(message.uid)) this.#ownFlag(message.uid, message.modseq);
            const response: ImapResponse = {
              type: 'FETCH',
              number,
              attributes: this.#withRecent(message.uid, attributes),
            };
            writeResponse(response, writer, options);
            if (traced) this.#output(writer.finish());
          }
          this.#output(writer.finish());
          this.#announceKeywords(messages.flatMap((message) => message.flags));
          step(from + batch.length);
        };
        const decode = (fields: readonly Uint8Array[]): void => {
          if (binary.length === 0) write(fields, []);
          else
            this.#ask({ op: 'binary', requests: binary }, tag, (contents) =>
              write(fields, contents as Uint8Array[]),
            );
        };
        const requests = headerFieldRequests(items, result);
        if (requests.length === 0) decode([]);
        else this.#ask({ op: 'header-fields', requests }, tag, (fields) => decode(fields as Uint8Array[]));
      });
    };
    step(0);
  }

  /** CONDSTORE is enabled by any command that uses it (RFC 7162 §3.1): true. */
  #condstore(): true {
    this.#enableCapability('CONDSTORE');
    return true;
  }

  /** `\Recent` added to a FETCH's FLAGS for a rev1 session. */
  #withRecent(uid: number, attributes: FetchAttribute[]): FetchAttribute[] {
    if (!this.#rev1() || !this.#view.isRecent(uid)) return attributes;
    return attributes.map((attribute) =>
      attribute.item === 'FLAGS' ? { item: 'FLAGS', flags: [...attribute.flags, '\\Recent'] } : attribute,
    );
  }

  /**
   * STORE and UID STORE (RFC 9051 §6.4.6, RFC 7162 UNCHANGEDSINCE): FETCH FLAGS for each message changed
   * unless `.SILENT` (with MODSEQ under CONDSTORE), and `[MODIFIED]` for those the condition left alone.
   */
  #storeFlags(tag: string, command: Extract<ImapCommand, { name: 'STORE' }>): void {
    const flags = command.flags.map(canonicalFlag);
    if (flags.some((flag) => flag.startsWith('\\') && !SYSTEM_FLAGS.includes(flag))) {
      this.#bad(tag, 'Invalid system flag');
      return;
    }
    if (this.#selected!.readOnly) {
      this.#tagged(tag, 'NO', 'Mailbox is read-only');
      return;
    }
    const uids = this.#resolve(tag, command.sequence, command.uid);
    if (!uids) return;
    const { unchangedSince } = command;
    if (unchangedSince !== undefined) this.#condstore();
    if (uids.length === 0) {
      this.#tagged(tag, 'OK', 'Store completed');
      return;
    }
    const operation = command.operation === 'set' ? 'replace' : command.operation;
    const request = {
      op: 'store',
      uids,
      operation,
      flags,
      ...(unchangedSince === undefined ? {} : { unchangedSince }),
    } as const;
    this.#ask(request, tag, (answer) => {
      const result = answer as ImapFlagsResult;
      const changed = new Set(result.changed);
      this.#announceKeywords(result.messages.flatMap((message) => message.flags));
      for (const message of result.messages) {
        const { uid, modseq } = message;
        if (changed.has(uid)) this.#ownFlag(uid, modseq);
        const number = this.#view.sequenceOf(uid);
        if (number === undefined || result.modified.includes(uid)) continue;
        if (!command.silent)
          this.#write({
            type: 'FETCH',
            number,
            attributes: this.#flagAttributes(uid, message.flags, modseq, command.uid),
          });
        // RFC 7162 §3.1.3: under UNCHANGEDSINCE, .SILENT still reports each change's MODSEQ.
        else if (unchangedSince !== undefined && changed.has(uid))
          this.#write({
            type: 'FETCH',
            number,
            attributes: [
              ...(command.uid || this.#isEnabled('QRESYNC') ? [{ item: 'UID', uid } as const] : []),
              { item: 'MODSEQ', modSeq: modseq },
            ],
          });
      }
      if (result.modified.length === 0) {
        this.#tagged(tag, 'OK', 'Store completed');
        return;
      }
      const modified = command.uid
        ? result.modified
        : result.modified.flatMap((uid) => this.#view.sequenceOf(uid) ?? []);
      this.#tagged(tag, 'OK', 'Conditional store failed', {
        code: 'MODIFIED',
        set: SequenceSet.from(modified),
      });
    });
  }

  /** EXPUNGE and UID EXPUNGE (RFC 9051 §6.4.3, RFC 4315): one untagged EXPUNGE per message (or VANISHED), renumbering as it goes. */
  #expunge(tag: string, set: SequenceSet | undefined): void {
    if (this.#selected!.readOnly) {
      this.#tagged(tag, 'NO', 'Mailbox is read-only');
      return;
    }
    const uids = set ? this.#resolve(tag, set, true) : [...this.#view.uids];
    if (!uids) return;
    this.#ask({ op: 'expunge', uids }, tag, (result) => {
      this.#removed(result as number[]);
      this.#tagged(tag, 'OK', 'Expunge completed');
    });
  }

  /**
   * COPY, MOVE and their UID forms (RFC 9051 §6.4.7–8, RFC 6851, RFC 4315 COPYUID): `TRYCREATE` for a
   * missing target; MOVE sends its COPYUID untagged, then an EXPUNGE (or VANISHED) for the messages moved.
   * Copies into the selected mailbox are announced from its change feed, like anyone's.
   */
  #copy(tag: string, command: Extract<ImapCommand, { name: 'COPY' | 'MOVE' }>): void {
    const move = command.name === 'MOVE';
    if (move && this.#selected!.readOnly) {
      this.#tagged(tag, 'NO', 'Mailbox is read-only');
      return;
    }
    const uids = this.#resolve(tag, command.sequence, command.uid);
    if (!uids) return;
    const done = `${move ? 'Move' : 'Copy'} completed`;
    if (uids.length === 0) {
      this.#tagged(tag, 'OK', 'No messages found');
      return;
    }
    this.#ask(
      { op: 'copy', uids, mailbox: command.mailbox, move },
      tag,
      (answer) => {
        const result = answer as CopyResult;
        const code: ResponseCode | undefined =
          result.sourceUids.length === 0
            ? undefined
            : {
                code: 'COPYUID',
                uidValidity: result.uidValidity,
                source: SequenceSet.from(result.sourceUids),
                destination: SequenceSet.from(result.targetUids),
              };
        if (!move) {
          this.#tagged(tag, 'OK', done, code);
          return;
        }
        if (code) this.#write({ type: 'status', status: 'OK', code, text: 'Moved UIDs.' });
        this.#removed(result.sourceUids);
        this.#tagged(tag, 'OK', done);
      },
      (error) => {
        const refusal = storeRefusal(error);
        const missing = (error as { code?: unknown } | undefined)?.code === ErrorCode.NonExistent;
        this.#tagged(tag, 'NO', refusal.text, missing ? { code: 'TRYCREATE' } : refusal.code);
      },
    );
  }

  /**
   * SEARCH and UID SEARCH (RFC 9051 §6.4.4): the view's messages are read in batches and matched against
   * the keys. `* SEARCH` for IMAP4rev1; ESEARCH (RFC 4731 MIN, MAX, COUNT, ALL) when RETURN is given or
   * IMAP4rev2 is enabled; RETURN (SAVE) keeps the result as `$` (RFC 5182); MODSEQ (RFC 7162 §3.1.5).
   */
  #search(tag: string, command: Extract<ImapCommand, { name: 'SEARCH' }>): void {
    const { criteria } = command;
    // RFC 5182 §2.1: a SEARCH that fails leaves `$` empty.
    if (this.#refuseCharset(tag, command.charset)) {
      if (command.return?.includes('SAVE')) this.#saved = NO_UIDS;
      return;
    }
    const modseq = searchUsesModseq(criteria);
    if (modseq) this.#condstore();
    const failed = command.return?.includes('SAVE')
      ? (error: unknown): void => {
          this.#saved = NO_UIDS;
          const refusal = storeRefusal(error);
          this.#tagged(tag, refusal.status, refusal.text, refusal.code);
        }
      : undefined;
    this.#matching(
      tag,
      criteria,
      searchNeedsStructure(criteria),
      false,
      (found) =>
        this.#searchResult(
          tag,
          command,
          found.map((candidate) => candidate.info),
          modseq,
        ),
      failed,
    );
  }

  /**
   * SORT and UID SORT (RFC 5256, RFC 5957 DISPLAYFROM/DISPLAYTO): the messages matching the keys, in the
   * order of the sort criteria.
   */
  #sort(tag: string, command: Extract<ImapCommand, { name: 'SORT' }>): void {
    const { criteria, search } = command;
    if (this.#refuseCharset(tag, command.charset)) return;
    const unsupported = unsupportedSortKey(criteria);
    if (unsupported) {
      this.#bad(tag, `Unknown sort criterion ${unsupported.slice(0, 20)}`);
      return;
    }
    const keep = sortNeedsStructure(criteria);
    this.#matching(tag, search, keep || searchNeedsStructure(search), keep, (found) => {
      this.#write({ type: 'SORT', numbers: sortMessages(criteria, found, command.uid) });
      this.#tagged(tag, 'OK', 'Sort completed');
    });
  }

  /** THREAD and UID THREAD (RFC 5256 ORDEREDSUBJECT and REFERENCES) of the messages matching the keys. */
  #thread(tag: string, command: Extract<ImapCommand, { name: 'THREAD' }>): void {
    const { algorithm, search } = command;
    if (!isThreadAlgorithm(algorithm)) {
      this.#bad(tag, `Unknown thread algorithm ${algorithm.slice(0, 20)}`);
      return;
    }
    if (this.#refuseCharset(tag, command.charset)) return;
    this.#matching(tag, search, true, true, (found) => {
      const candidates = found.map(({ info, sequence, structure }) => ({
        info,
        sequence,
        structure: structure!,
      }));
      this.#write({ type: 'THREAD', threads: threadMessages(algorithm, candidates, command.uid) });
      this.#tagged(tag, 'OK', 'Thread completed');
    });
  }

  /** Answers a search's unknown charset with `NO [BADCHARSET]`; true when it did. */
  #refuseCharset(tag: string, charset: string | undefined): boolean {
    if (charset !== undefined && !['US-ASCII', 'UTF-8'].includes(charset.toUpperCase())) {
      this.#tagged(tag, 'NO', 'Unsupported charset', {
        code: 'BADCHARSET',
        charsets: ['US-ASCII', 'UTF-8'],
      });
      return true;
    }
    return false;
  }

  /**
   * Reads the view's messages in batches (with their structures when `structure`) and passes those that
   * match `criteria` to `done`, in sequence order; their structures are kept only when `keep`. A store
   * failure goes to `failed`, when given, instead of the usual `NO`.
   */
  #matching(
    tag: string,
    criteria: readonly SearchKey[],
    structure: boolean,
    keep: boolean,
    done: (found: SortCandidate[]) => void,
    failed?: (error: unknown) => void,
  ): void {
    const uids = [...this.#view.uids];
    const terms = searchTextTerms(criteria);
    const context = {
      count: this.#view.count,
      lastUid: uids[uids.length - 1] ?? 0,
      now: Date.now(),
      terms,
      recent: { has: (uid: number) => this.#view.isRecent(uid) },
      saved: this.#saved,
    };
    const found: SortCandidate[] = [];
    const step = (from: number): void => {
      if (from >= uids.length) {
        done(found);
        return;
      }
      const batch = uids.slice(from, from + FETCH_BATCH);
      this.#ask(
        { op: 'fetch', uids: batch, structure, seen: false },
        tag,
        (answer) => {
          const result = answer as ImapFetchResult;
          const match = (text?: readonly boolean[][]): void => {
            result.messages.forEach((info, index) => {
              const sequence = this.#view.sequenceOf(info.uid)!;
              const parsed = result.structures?.[index];
              const candidate = {
                info,
                sequence,
                ...(parsed ? { structure: parsed } : {}),
                ...(text ? { text: text[index]! } : {}),
              };
              if (!matchesSearch(criteria, candidate, context)) return;
              found.push(keep && parsed ? { info, sequence, structure: parsed } : { info, sequence });
            });
            step(from + batch.length);
          };
          if (terms.length === 0) match();
          else
            this.#ask(
              { op: 'search-text', uids: result.messages.map((info) => info.uid), terms },
              tag,
              (text) => match(text as boolean[][]),
              failed,
            );
        },
        failed,
      );
    };
    step(0);
  }

  #searchResult(
    tag: string,
    command: Extract<ImapCommand, { name: 'SEARCH' }>,
    messages: readonly MessageInfo[],
    modseq: boolean,
  ): void {
    const found = messages.map((info) => (command.uid ? info.uid : this.#view.sequenceOf(info.uid)!));
    const highest =
      modseq && messages.length > 0 ? Math.max(...messages.map((info) => info.modseq)) : undefined;
    const returns = command.return ?? (this.#isEnabled('IMAP4rev2') ? [] : undefined);
    if (!returns) this.#write({ type: 'SEARCH', numbers: found, ...(highest ? { modSeq: highest } : {}) });
    else {
      const options = new Set(returns.length === 0 ? ['ALL'] : returns);
      if (options.has('SAVE')) this.#saved = savedResult(messages, options);
      options.delete('SAVE');
      const any = found.length > 0;
      // RFC 5182 §2.4: SAVE alone answers no ESEARCH.
      if (options.size > 0 || returns.length === 0)
        this.#write({
          type: 'ESEARCH',
          tag,
          uid: command.uid,
          ...(options.has('MIN') && any ? { min: found[0]! } : {}),
          ...(options.has('MAX') && any ? { max: found[found.length - 1]! } : {}),
          ...(options.has('COUNT') ? { count: found.length } : {}),
          ...(options.has('ALL') && any ? { all: SequenceSet.from(found) } : {}),
          ...(highest ? { modSeq: highest } : {}),
        });
    }
    this.#tagged(tag, 'OK', 'Search completed');
  }

  #list(
    tag: string,
    reference: string,
    patterns: readonly string[],
    selection: readonly string[],
    returns: {
      subscribed?: boolean;
      children?: boolean;
      specialUse?: boolean;
      status?: readonly StatusItem[];
    },
    lsub: boolean,
  ): void {
    const select = new Set(selection.map((option) => option.toUpperCase()));
    for (const option of select)
      if (!LIST_SELECTION.has(option)) {
        this.#bad(tag, `Unknown LIST selection option ${option.slice(0, 20)}`);
        return;
      }
    if (select.has('RECURSIVEMATCH') && select.size === 1) {
      this.#bad(tag, 'RECURSIVEMATCH needs another selection option');
      return;
    }
    const name = lsub ? 'LSUB' : 'LIST';
    if (!lsub && patterns.length === 1 && patterns[0] === '') {
      this.#write({ type: 'LIST', flags: ['\\Noselect'], delimiter: MAILBOX_DELIMITER, mailbox: '' });
      this.#tagged(tag, 'OK', 'List completed');
      return;
    }
    let matchers: MailboxPattern[];
    try {
      matchers = patterns.map((pattern) => new MailboxPattern(reference + pattern, MAILBOX_DELIMITER));
    } catch {
      this.#bad(tag, 'Too many wildcards in the pattern');
      return;
    }
    const extended =
      !lsub && (selection.length > 0 || Object.keys(returns).length > 0 || this.#isEnabled('IMAP4rev2'));
    this.#ask({ op: 'list' }, tag, (result) => {
      const entries = result as MailboxListEntry[];
      const subscribed = entries.filter((entry) => entry.subscribed).map((entry) => entry.name);
      const listed: { entry: MailboxListEntry; childInfo: boolean }[] = [];
      for (const entry of entries) {
        if (!matchers.some((matcher) => matcher.matches(entry.name))) continue;
        let childInfo = false;
        if (select.has('SUBSCRIBED') && !entry.subscribed) {
          childInfo =
            select.has('RECURSIVEMATCH') && subscribed.some((other) => other.startsWith(`${entry.name}/`));
          if (!childInfo) continue;
        }
        if (select.has('SPECIAL-USE') && entry.specialUse === undefined) continue;
        if (select.size === 0 && !entry.exists && !entry.hasChildren) continue;
        listed.push({ entry, childInfo });
      }
      const showSubscribed = select.has('SUBSCRIBED') || returns.subscribed === true;
      const lines: ImapResponse[] = listed.map(({ entry, childInfo }) => {
        const flags: string[] = [];
        if (!entry.exists) flags.push(extended ? '\\NonExistent' : '\\Noselect');
        if (!lsub) flags.push(entry.hasChildren ? '\\HasChildren' : '\\HasNoChildren');
        if (entry.specialUse && !lsub) flags.push(entry.specialUse);
        if (showSubscribed && entry.subscribed && !lsub) flags.push('\\Subscribed');
        return {
          type: name,
          flags,
          delimiter: MAILBOX_DELIMITER,
          mailbox: entry.name,
          ...(childInfo ? { childInfo: ['SUBSCRIBED'] } : {}),
        };
      });
      const items = returns.status;
      if (!items) {
        for (const line of lines) this.#write(line);
        this.#tagged(tag, 'OK', `${lsub ? 'Lsub' : 'List'} completed`);
        return;
      }
      const step = (index: number): void => {
        if (index === listed.length) {
          this.#tagged(tag, 'OK', 'List completed');
          return;
        }
        this.#write(lines[index]!);
        const { entry } = listed[index]!;
        if (!entry.exists) {
          step(index + 1);
          return;
        }
        this.#ask(
          { op: 'status', mailbox: entry.name },
          tag,
          (status) => {
            this.#write({
              type: 'STATUS',
              mailbox: entry.name,
              values: statusValues(status as MailboxStatus, items, this.#limits.maxStreamedLiteralSize),
            });
            step(index + 1);
          },
          () => step(index + 1),
        );
      };
      step(0);
    });
  }

  /**
   * Asks the driver for a store request; `done` gets its result, and a failure answers `tag` with the
   * error's response code unless `failed` handles it.
   */
  #ask(
    request: ImapStoreRequest,
    tag: string,
    done: (result: ImapStoreResult) => void,
    failed?: (error: unknown) => void,
  ): void {
    this.#decide(
      {
        kind: 'store',
        done,
        failed: (error) => {
          if (failed) {
            failed(error);
            return;
          }
          const refusal = storeRefusal(error);
          this.#tagged(tag, refusal.status, refusal.text, refusal.code);
        },
      },
      { type: 'store', request },
    );
  }

  #utf8(): boolean {
    return this.#isEnabled('UTF8=ACCEPT') || this.#isEnabled('IMAP4rev2');
  }

  #cleartextAllowed(): boolean {
    return this.#options.cleartextLogin ? this.#options.cleartextLogin(this.#tls) : this.#tls;
  }

  #bad(tag: string | undefined, text: string, code?: ResponseCode): void {
    if (tag === undefined) this.#untaggedBad(text, code);
    else this.#tagged(tag, 'BAD', text, code);
    this.#countBad();
  }

  #untaggedBad(text: string, code?: ResponseCode): void {
    const sendable = responseText(text, 'BAD', this.#utf8());
    this.#write({ type: 'status', status: 'BAD', text: sendable, ...(code ? { code } : {}) });
  }

  /** After `limits.badCommands` bad commands (`badCommandsBeforeLogin` before login), the session ends (case 51). */
  #countBad(): void {
    const limit =
      this.#state === 'not-authenticated' ? this.#limits.badCommandsBeforeLogin : this.#limits.badCommands;
    if (++this.#badCommands >= limit) this.#bye('Too many invalid IMAP commands');
  }

  #decide(pending: Pending, event: ImapServerEvent): void {
    this.#pending = pending;
    this.#events.push(event);
  }

  /** A command's answer, after the changes to the selected mailbox that may be announced now. */
  #tagged(tag: string, status: 'OK' | 'NO' | 'BAD', text: string, code?: ResponseCode): void {
    if (this.#state === 'selected') this.#announce(!this.#holdExpunges);
    this.#holdExpunges = false;
    if (this.#state === 'logout') return;
    this.#write({
      type: 'tagged',
      tag,
      status,
      text: responseText(text, status, this.#utf8()),
      ...(code ? { code } : {}),
    });
  }

  #write(response: ImapResponse): void {
    const utf8 = this.#utf8();
    this.#output(serializeResponse(response, new ImapWriter({ side: 'server', utf8 }), { utf8Accept: utf8 }));
  }

  /** Serialized output to the driver: bytes to write, and literals to stream in turn. */
  #output(parts: readonly OutputPart[]): void {
    for (const part of parts) {
      if (part.kind === 'bytes') this.#send(part.data);
      else if (part.kind === 'stream') this.#events.push({ type: 'stream', source: part.source });
    }
  }

  #send(data: Uint8Array): void {
    this.#tracer?.sent(data);
    this.#events.push({ type: 'write', data });
  }

  #bye(text: string, code?: ResponseCode): void {
    this.#write({ type: 'status', status: 'BYE', text, ...(code ? { code } : {}) });
    this.#finish();
  }

  #finish(): void {
    this.#state = 'logout';
    this.#pending = undefined;
    this.#append = undefined;
    this.#lookahead = undefined;
    this.#selected = undefined;
    this.#reader.reset();
    this.#events.push({ type: 'close' });
  }
}

/** The answer to a failed store request: its response code for a store error, else `NO [SERVERBUG]`. */
function storeRefusal(error: unknown): Refusal {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && STORE_CODES.has(code)) {
    const responseCode = STORE_CODES.get(code);
    return { status: 'NO', text: (error as Error).message, ...(responseCode ? { code: responseCode } : {}) };
  }
  return { status: 'NO', text: 'Internal error occurred', code: { code: 'SERVERBUG' } };
}

/**
 * A response's text made sendable: it may echo the client's bytes (an unknown FETCH item) or a store's
 * message, so control characters become `?`, and a text ending like a literal's `{n}` gets a period. A
 * BAD text's non-ASCII characters are the client's octets, read one per character: with UTF-8 enabled they
 * are decoded as UTF-8, else each becomes `?` (RFC 3501's text is 7-bit).
 */
function responseText(text: string, status: 'OK' | 'NO' | 'BAD', utf8: boolean): string {
  let printable = text.replace(/[\x00-\x1f\x7f]/g, '?');
  if (status === 'BAD' && /[^\x00-\x7f]/.test(printable))
    printable =
      utf8 && !/[^\x00-\xff]/.test(printable)
        ? new TextDecoder().decode(Uint8Array.from(printable, (char) => char.charCodeAt(0)))
        : printable.replace(/[^\x00-\x7f]/g, '?');
  return /\{\d+[+-]?\}$/.test(printable) ? `${printable}.` : printable;
}

/** The grammar's share of each set of server limits, frozen: the reader's resolution of it is shared too. */
const grammars = new WeakMap<Readonly<ImapServerLimits>, Readonly<ImapLimits>>();

function grammarLimits(limits: Readonly<ImapServerLimits>): Readonly<ImapLimits> {
  let grammar = grammars.get(limits);
  if (!grammar) {
    const {
      lineBeforeLogin: _,
      badCommands: __,
      badCommandsBeforeLogin: ___,
      authFailures: ____,
      ...rest
    } = limits;
    grammar = Object.freeze(rest);
    grammars.set(limits, grammar);
  }
  return grammar;
}

/**
 * What RETURN (SAVE …) keeps as `$` (RFC 5182 §2.4): only the minimum and/or maximum when MIN or MAX come
 * without ALL or COUNT, else every match.
 */
function savedResult(messages: readonly MessageInfo[], options: ReadonlySet<string>): Set<number> {
  const uids = messages.map((info) => info.uid);
  if (options.has('ALL') || options.has('COUNT') || !(options.has('MIN') || options.has('MAX')))
    return new Set(uids);
  const saved = new Set<number>();
  if (options.has('MIN') && uids.length > 0) saved.add(uids[0]!);
  if (options.has('MAX') && uids.length > 0) saved.add(uids[uids.length - 1]!);
  return saved;
}

/** A system flag in its canonical case (`\\seen` → `\\Seen`); keywords as given. */
function canonicalFlag(flag: string): string {
  if (!flag.startsWith('\\')) return flag;
  return SYSTEM_FLAGS.find((system) => system.toLowerCase() === flag.toLowerCase()) ?? flag;
}

/** The STATUS values asked for, APPENDLIMIT being the server's. */
function statusValues(
  status: MailboxStatus,
  items: readonly StatusItem[],
  appendLimit: number,
): StatusValues {
  const values: Record<string, number | string> = {};
  for (const item of items) {
    if (item === 'MESSAGES') values[item] = status.messages;
    else if (item === 'RECENT') values[item] = 0;
    else if (item === 'UIDNEXT') values[item] = status.uidNext;
    else if (item === 'UIDVALIDITY') values[item] = status.uidValidity;
    else if (item === 'UNSEEN') values[item] = status.unseen;
    else if (item === 'DELETED') values[item] = status.deleted;
    else if (item === 'SIZE') values[item] = status.size;
    else if (item === 'HIGHESTMODSEQ') values[item] = status.highestModseq;
    else if (item === 'APPENDLIMIT') values[item] = appendLimit;
    else if (item === 'MAILBOXID') values[item] = status.mailboxId;
  }
  return values;
}

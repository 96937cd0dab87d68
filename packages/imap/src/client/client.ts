import {
  AbortError,
  type Connector,
  concatBytes,
  InvalidArgumentError,
  ProtocolError,
  type StartTlsPolicy,
  streamChunks,
  type TlsClientOptions,
  type TraceHook,
  utf8,
} from '@postwire/core';
import { createSaslClient, type SaslClientOptions } from '@postwire/sasl';
import type { ImapCommandBody, ListReturn, StatusItem } from '../protocol/command.js';
import { formatDateTime } from '../protocol/date-time.js';
import type { ImapLimits } from '../protocol/limits.js';
import { encodeMailboxName } from '../protocol/mailbox-name.js';
import type { Namespace, QuotaResource, StatusValues, Thread } from '../protocol/response.js';
import type { ResponseCode } from '../protocol/response-code.js';
import type { FetchAttribute } from '../protocol/response-fetch.js';
import { SequenceSet } from '../protocol/sequence-set.js';
import { specialUseAttribute } from '../protocol/special-use.js';
import type { ImapWriter, LiteralSource } from '../protocol/writer.js';
import { ImapCapabilityError, ImapResponseError } from './errors.js';
import type { ImapClientEventMap } from './events.js';
import {
  type FetchCommand,
  FetchRun,
  fetchItems,
  type ImapFetch,
  type ImapFetchedMessage,
  type ImapFetchOptions,
  type ImapFetchQuery,
} from './fetch.js';
import { flagUpdate, type ImapFlagUpdate, type ImapMailboxState } from './mailbox-state.js';
import { type ImapRange, toSequenceSet } from './range.js';
import { type ImapSearchQuery, runSearch, searchKeys } from './search-query.js';
import { selectMailbox } from './select.js';
import {
  defaultImapClientTimeouts,
  type ImapClientSession,
  type ImapClientTimeouts,
  type TaggedResponse,
  type UntaggedResponse,
} from './session.js';
import {
  type Acquired,
  type ImapReconnectOptions,
  type KeptSessionOptions,
  SessionKeeper,
} from './session-keeper.js';

/** Options of {@link createImapClient}. */
export interface ImapClientOptions {
  /** The server's host name or address. */
  readonly host: string;
  /** Default 993 with `secure`, else 143. */
  readonly port?: number;
  /** Implicit TLS from the first byte (IMAPS, RFC 8314). */
  readonly secure?: boolean;
  /**
   * STARTTLS (RFC 9051 §6.2.1): `required` refuses to go on in cleartext (no credential is sent after a
   * missing or refused STARTTLS, and a cleartext PREAUTH is refused), `opportunistic` (default) upgrades
   * when offered, `never` stays in cleartext.
   */
  readonly starttls?: StartTlsPolicy;
  /** TLS settings, for implicit TLS and STARTTLS. */
  readonly tls?: TlsClientOptions;
  /**
   * Credentials through `@postwire/sasl`: AUTHENTICATE with the strongest mechanism both sides have
   * (SASL-IR when offered; an `accessToken` gives OAUTHBEARER or XOAUTH2; `custom` adds mechanisms), else
   * LOGIN when the server allows it. Cleartext ones (PLAIN, LOGIN, tokens) go only inside TLS unless
   * `allowCleartext`. Not needed for a server that greets with PREAUTH.
   */
  readonly auth?: SaslClientOptions;
  /**
   * COMPRESS=DEFLATE (RFC 4978) after login when the server offers it (default `true`, as imapflow,
   * Thunderbird and mutt do) and the connector's transport can compress (`@postwire/imap/node`'s can):
   * less to send on slow or metered links, about 300 KiB of zlib state per connection and some CPU.
   */
  readonly compress?: boolean;
  /**
   * Reconnect when the connection drops (default off): log in again, re-enable what was enabled, reopen
   * the mailbox that was open and report what changed there meanwhile as events. `true` takes the
   * defaults of {@link ImapReconnectOptions}.
   */
  readonly reconnect?: boolean | ImapReconnectOptions;
  /** Bounds on what the client reads; see `ImapLimits` (the line limit defaults to 8 MiB here). */
  readonly limits?: Partial<ImapLimits>;
  /** Milliseconds allowed for each step; see `ImapClientTimeouts` for the defaults. */
  readonly timeouts?: Partial<ImapClientTimeouts>;
  /** Cancels everything: the connection closes. */
  readonly signal?: AbortSignal;
  /** Sees every command and response line (credentials redacted, message contents never), for debugging. */
  readonly trace?: TraceHook;
  /** Opens the connection: `@postwire/core/node`'s `connect` on Node. */
  readonly connector: Connector;
}

/** What every call takes. */
export interface ImapCallOptions {
  /** Gives up the call: one not yet sent is dropped, one sent has its answer read and dropped. */
  readonly signal?: AbortSignal;
  /** Milliseconds the call may take; past them it rejects with a `TimeoutError`, as on abort. */
  readonly timeout?: number;
}

/** Options of {@link ImapClient.list}. */
export interface ImapListOptions extends ImapCallOptions {
  /** The reference name (default `''`). */
  readonly reference?: string;
  /** The pattern, `*` (default) or `%` wildcards. */
  readonly pattern?: string;
  /** STATUS items for each mailbox: with LIST-STATUS (RFC 5819) in the same command, else one STATUS each. */
  readonly status?: readonly StatusItem[];
  /** Ask for the special-use attributes (RFC 6154). */
  readonly specialUse?: boolean;
  /** Tell which mailboxes are subscribed: RETURN (SUBSCRIBED) with LIST-EXTENDED, else LSUB. */
  readonly subscribed?: boolean;
}

/** A mailbox's STATUS values (those asked for and given). */
export interface ImapMailboxStatus {
  /** The mailbox's full name, decoded. */
  readonly path: string;
  /** The number of messages (MESSAGES). */
  readonly messages?: number;
  /** The number of messages with `\Recent` (RECENT; RFC 3501 servers). */
  readonly recent?: number;
  /** The UID the next message will get (UIDNEXT, RFC 9051 §2.3.1.1). */
  readonly uidNext?: number;
  /** The mailbox's UIDVALIDITY (RFC 9051 §2.3.1.1). */
  readonly uidValidity?: number;
  /** The number of messages without `\Seen` (UNSEEN). */
  readonly unseen?: number;
  /** The number of messages with `\Deleted` (DELETED, RFC 9051). */
  readonly deleted?: number;
  /** Octets of all messages (RFC 8438). */
  readonly size?: number;
  /** The highest mod-sequence of the mailbox (HIGHESTMODSEQ, RFC 7162). */
  readonly highestModseq?: number;
  /** RFC 7889; `null` when there is no limit. */
  readonly appendLimit?: number | null;
  /** The mailbox's unique id (MAILBOXID, RFC 8474). */
  readonly mailboxId?: string;
}

/** One mailbox of a LIST. */
export interface ImapListEntry {
  /** The full name, decoded. */
  readonly path: string;
  /** The last level of the name. */
  readonly name: string;
  /** The hierarchy delimiter, or `null` for a flat name. */
  readonly delimiter: string | null;
  /** The attributes as the server sent them (`\Noselect`, `\HasChildren`, `\Sent` …). */
  readonly flags: readonly string[];
  /** The special-use attribute, when it has one (`\Sent`, `\Trash`, `\Drafts`, `\Junk`, `\Archive`, `\All`, `\Flagged`). */
  readonly specialUse?: string;
  /** With `subscribed`: whether it is subscribed. */
  readonly subscribed?: boolean;
  /** With `status`: its STATUS values (absent when the server refused them for this mailbox). */
  readonly status?: ImapMailboxStatus;
}

/** Options of {@link ImapClient.open}. */
export interface ImapOpenOptions extends ImapCallOptions {
  /** EXAMINE instead of SELECT. */
  readonly readOnly?: boolean;
  /** Ask for mod-sequences (CONDSTORE, RFC 7162), when the server has it. */
  readonly condstore?: boolean;
  /**
   * Resynchronise from a saved state (QRESYNC, RFC 7162 §3.2.5), when the server has it: the mailbox's
   * UIDVALIDITY and HIGHESTMODSEQ as saved, and optionally the UIDs known.
   */
  readonly qresync?: {
    /** The UIDVALIDITY saved. */
    readonly uidValidity: number;
    /** The HIGHESTMODSEQ saved. */
    readonly modseq: number;
    /** The UIDs known, when given. */
    readonly knownUids?: ImapRange;
  };
}

/** The state of a mailbox just opened, and with QRESYNC what changed since the saved state. */
export interface ImapOpenedMailbox extends ImapMailboxState {
  /**
   * Present when QRESYNC was used. When `uidValidity` differs from the one saved, the saved state is void
   * and the server reported nothing.
   */
  readonly qresync?: {
    /** UIDs expunged since, as ranges. */
    readonly vanished: SequenceSet | undefined;
    /** Messages whose flags changed since. */
    readonly changed: readonly ImapFlagUpdate[];
  };
}

/** Options of {@link ImapClient.append}. */
export interface ImapAppendOptions extends ImapCallOptions {
  /** The flags to set on the message. */
  readonly flags?: readonly string[];
  /** The internal date: a `Date`, or an IMAP date-time as written (`17-Jul-1996 02:44:25 -0700`). */
  readonly date?: Date | string;
  /** The exact size in octets of a stream; without it the stream is read into memory first. */
  readonly size?: number;
}

/** What APPENDUID (RFC 4315) reported. */
export interface ImapAppendResult {
  /** The UIDVALIDITY of the mailbox appended to. */
  readonly uidValidity?: number;
  /** The UID the message got. */
  readonly uid?: number;
}

/** Options of {@link ImapClient.store}. */
export interface ImapStoreOptions extends ImapCallOptions {
  /** `add` (default, +FLAGS), `remove` (-FLAGS) or `set` (FLAGS). */
  readonly operation?: 'add' | 'remove' | 'set';
  /** Ask for no FETCH responses (FLAGS.SILENT). */
  readonly silent?: boolean;
  /** Only messages whose mod-sequence is not above this (CONDSTORE). */
  readonly unchangedSince?: number;
  /** The range holds UIDs (UID STORE). */
  readonly uid?: boolean;
}

/** What a STORE reported. */
export interface ImapStoreOutcome {
  /** The messages' flags after the change (none when `silent`). */
  readonly updates: readonly ImapFlagUpdate[];
  /** With `unchangedSince`: the messages left unchanged because they had changed (`[MODIFIED]`). */
  readonly modified: SequenceSet | undefined;
}

/** What COPYUID (RFC 4315) reported: the source UIDs and, in the same order, the new ones, as ranges. */
export interface ImapCopyResult {
  /** The UIDVALIDITY of the destination mailbox. */
  readonly uidValidity: number;
  /** The UIDs of the messages copied. */
  readonly source: SequenceSet;
  /** The UIDs of the copies, in the same order. */
  readonly destination: SequenceSet;
}

/** What an EXPUNGE reported. */
export interface ImapExpungeResult {
  /** The sequence numbers, each as it was when its EXPUNGE came. */
  readonly expunged: readonly number[];
  /** Under QRESYNC, the UIDs instead (VANISHED). */
  readonly vanished: SequenceSet | undefined;
}

/** Options of {@link ImapClient.idle}. */
export interface ImapIdleOptions {
  /** Ends the idle (it then resolves). */
  readonly signal?: AbortSignal;
  /** Milliseconds before one IDLE is ended and another started (default 10 minutes; RFC 2177 asks < 29). */
  readonly restartAfter?: number;
  /** Without IDLE: milliseconds between NOOPs (default 60 s). */
  readonly pollInterval?: number;
}

/** The namespaces of NAMESPACE (RFC 2342), prefixes as the server wrote them. */
export interface ImapNamespaces {
  /** The user's own namespaces. */
  readonly personal: readonly Namespace[];
  /** Other users' namespaces. */
  readonly other: readonly Namespace[];
  /** The shared namespaces. */
  readonly shared: readonly Namespace[];
}

/** A quota root of a mailbox, and its resources (RFC 9208). */
export interface ImapQuotaRoot {
  /** The quota root's name. */
  readonly root: string;
  /** Its resources, with usage and limit. */
  readonly resources: readonly QuotaResource[];
}

/** A SORT key (RFC 5256, RFC 5957), optionally reversed. */
export type ImapSortKey = ImapSortKeyName | `REVERSE ${ImapSortKeyName}`;

/** The SORT keys. */
export type ImapSortKeyName =
  | 'ARRIVAL'
  | 'CC'
  | 'DATE'
  | 'FROM'
  | 'SIZE'
  | 'SUBJECT'
  | 'TO'
  | 'DISPLAYFROM'
  | 'DISPLAYTO';

/**
 * An argument of {@link ImapClient.exec}: a string (atom or quoted, as needed), a number, `null` for NIL,
 * bytes (a literal), a sequence set, a list, `{ mailbox }` (a name, encoded as mailbox names are) or
 * `{ raw }` (protocol text written as is; no CR, LF or NUL).
 */
export type ImapExecArgument =
  | string
  | number
  | null
  | Uint8Array
  | SequenceSet
  | readonly ImapExecArgument[]
  | {
      /** A mailbox name, encoded as mailbox names are. */
      readonly mailbox: string;
    }
  | {
      /** Protocol text, written as is. */
      readonly raw: string;
    };

/** What {@link ImapClient.exec} returns: the tagged `OK` and the untagged responses that came with it. */
export interface ImapExecResult {
  /** The tagged `OK`'s response code, if any. */
  readonly code: ResponseCode | undefined;
  /** The tagged `OK`'s text. */
  readonly text: string;
  /** Body literals are held in memory here. */
  readonly untagged: readonly UntaggedResponse[];
}

/**
 * A logged-in IMAP session (RFC 9051, with RFC 3501 servers too). Calls may be issued without awaiting
 * earlier ones: they go out at once (pipelining) except those that change the session's state (open,
 * closeMailbox, enable, idle, exec …), which wait their turn. A `NO` or `BAD` rejects with an
 * {@link ImapResponseError} and leaves the client usable; a failed connection rejects everything pending
 * and makes it unusable, unless `reconnect` restores it (calls made meanwhile wait).
 *
 * Changes the server reports at any time — in answer to any command, or during {@link idle} — update
 * {@link mailbox} and are dispatched as events (`exists`, `expunge`, `vanished`, `flags`, `alert`;
 * `disconnect` and `reconnect` around a reconnection; `close` when the client is done): the client is an
 * `EventTarget`, so any number of listeners can watch them, on every runtime.
 */
export interface ImapClient extends EventTarget {
  /** What the server announces now (upper case): after STARTTLS and login, what it announced then. */
  readonly capabilities: ReadonlySet<string>;
  /** What ENABLE turned on (upper case). */
  readonly enabled: ReadonlySet<string>;
  /** The connection is inside TLS. */
  readonly secure: boolean;
  /** The connection is compressed (COMPRESS=DEFLATE). */
  readonly compressed: boolean;
  /** Calls can be made: the connection is up, or (with `reconnect`) being restored. */
  readonly usable: boolean;
  /** The open mailbox, kept up to date as the server reports changes; `undefined` when none is open. */
  readonly mailbox: ImapMailboxState | undefined;

  addEventListener<K extends keyof ImapClientEventMap>(
    type: K,
    listener: (event: ImapClientEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof ImapClientEventMap>(
    type: K,
    listener: (event: ImapClientEventMap[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;

  /** ENABLE (RFC 5161): turns extensions on (`UTF8=ACCEPT`, `CONDSTORE`, `QRESYNC` …); resolves with those enabled. */
  enable(capabilities: readonly string[], options?: ImapCallOptions): Promise<string[]>;
  /** ID (RFC 2971): sends the client's fields, resolves with the server's (`null` when it sent none). */
  id(
    fields?: Readonly<Record<string, string | null>> | null,
    options?: ImapCallOptions,
  ): Promise<Record<string, string | null> | null>;
  /** NAMESPACE (RFC 2342). */
  namespace(options?: ImapCallOptions): Promise<ImapNamespaces>;
  /** The quota roots of a mailbox (default INBOX) with their usage and limits (GETQUOTAROOT, RFC 9208). */
  quota(path?: string, options?: ImapCallOptions): Promise<ImapQuotaRoot[]>;
  /** NOOP: lets the server report changes. */
  noop(options?: ImapCallOptions): Promise<void>;

  /** The mailboxes (LIST), with their STATUS, special use and subscription when asked. */
  list(options?: ImapListOptions): Promise<ImapListEntry[]>;
  /** STATUS of a mailbox (default: MESSAGES, UIDNEXT, UIDVALIDITY, UNSEEN). */
  status(path: string, items?: readonly StatusItem[], options?: ImapCallOptions): Promise<ImapMailboxStatus>;
  /** CREATE, with special-use attributes (RFC 6154 CREATE-SPECIAL-USE). */
  create(
    path: string,
    options?: ImapCallOptions & { readonly specialUse?: readonly string[] },
  ): Promise<void>;
  /** DELETE a mailbox. */
  delete(path: string, options?: ImapCallOptions): Promise<void>;
  /** RENAME a mailbox to `newPath`. */
  rename(path: string, newPath: string, options?: ImapCallOptions): Promise<void>;
  /** SUBSCRIBE to a mailbox. */
  subscribe(path: string, options?: ImapCallOptions): Promise<void>;
  /** UNSUBSCRIBE from a mailbox. */
  unsubscribe(path: string, options?: ImapCallOptions): Promise<void>;

  /** Opens a mailbox (SELECT or EXAMINE); resolves with its state. */
  open(path: string, options?: ImapOpenOptions): Promise<ImapOpenedMailbox>;
  /**
   * Closes the open mailbox: UNSELECT when offered (nothing is expunged), CLOSE with `expunge` (the
   * messages marked `\Deleted` go), else EXAMINE then CLOSE, which expunges nothing.
   */
  closeMailbox(options?: ImapCallOptions & { readonly expunge?: boolean }): Promise<void>;

  /**
   * FETCH: the messages of `range` as they arrive, body sections streamed (see {@link ImapFetchedMessage}).
   * The command is sent when iteration starts; other calls made meanwhile are pipelined behind it, and
   * awaiting one inside the loop makes the client read the rest of the fetch into memory to reach its
   * answer, rather than deadlock.
   */
  fetch(range: ImapRange, query: ImapFetchQuery, options?: ImapFetchOptions): ImapFetch;
  /** FETCH, every message read whole into memory. */
  fetchAll(
    range: ImapRange,
    query: ImapFetchQuery,
    options?: ImapFetchOptions,
  ): Promise<ImapFetchedMessage[]>;
  /**
   * SEARCH (UID SEARCH with `uid`): the numbers found, in ascending order. With ESEARCH (RFC 4731) the
   * answer comes as ranges; one counting more messages than the mailbox holds is refused rather than
   * expanded (catalogue case 24).
   */
  search(query: ImapSearchQuery, options?: ImapCallOptions & { readonly uid?: boolean }): Promise<number[]>;
  /** SORT (RFC 5256): the numbers found, in the order of `criteria`. */
  sort(
    criteria: readonly ImapSortKey[],
    query?: ImapSearchQuery,
    options?: ImapCallOptions & { readonly uid?: boolean },
  ): Promise<number[]>;
  /** THREAD (RFC 5256) with `algorithm` (`REFERENCES`, `ORDEREDSUBJECT` …). */
  thread(
    algorithm: string,
    query?: ImapSearchQuery,
    options?: ImapCallOptions & { readonly uid?: boolean },
  ): Promise<Thread[]>;

  /**
   * APPEND a message: bytes, text, or a stream sent as it is read (with `size`), through LITERAL+ or
   * LITERAL- when offered, else a synchronising literal that waits for the server's `+`.
   */
  append(
    path: string,
    content: Uint8Array | string | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
    options?: ImapAppendOptions,
  ): Promise<ImapAppendResult>;
  /** STORE: changes flags. */
  store(
    range: ImapRange,
    flags: string | readonly string[],
    options?: ImapStoreOptions,
  ): Promise<ImapStoreOutcome>;
  /** COPY; resolves with COPYUID when the server reports it. */
  copy(
    range: ImapRange,
    path: string,
    options?: ImapCallOptions & { readonly uid?: boolean },
  ): Promise<ImapCopyResult | undefined>;
  /**
   * MOVE (RFC 6851), or without it COPY, STORE `\Deleted` and UID EXPUNGE of the copied UIDs (plain
   * EXPUNGE without UIDPLUS, which also removes other messages marked `\Deleted`).
   */
  move(
    range: ImapRange,
    path: string,
    options?: ImapCallOptions & { readonly uid?: boolean },
  ): Promise<ImapCopyResult | undefined>;
  /** EXPUNGE, or UID EXPUNGE of `uids` only (needs UIDPLUS). */
  expunge(uids?: ImapRange, options?: ImapCallOptions): Promise<ImapExpungeResult>;

  /**
   * Waits for changes (IDLE, RFC 2177; NOOP every `pollInterval` without it) until `signal` aborts or
   * another call is made, then resolves; the changes arrive as events meanwhile.
   */
  idle(options?: ImapIdleOptions): Promise<void>;
  /**
   * Sends any command (an extension's): `exec('GETMETADATA', [{ mailbox: 'INBOX' }, '/private/comment'])`.
   * Resolves with the tagged `OK` and every untagged response that came before it.
   */
  exec(
    command: string,
    args?: readonly ImapExecArgument[],
    options?: ImapCallOptions,
  ): Promise<ImapExecResult>;

  /** LOGOUT, then closes (a reconnection under way stops); never rejects. */
  logout(): Promise<void>;
  /** Drops the connection without LOGOUT, and stops a reconnection under way (the calls waiting fail). */
  close(): Promise<void>;
}

/** The untagged responses of one type (some members of the union share theirs: LIST and LSUB …). */
type ResponseOf<T extends UntaggedResponse['type']> = UntaggedResponse extends infer R
  ? R extends { readonly type: infer U }
    ? T extends U
      ? R
      : never
    : never
  : never;

const DEFAULT_STATUS: readonly StatusItem[] = ['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN'];
const STATUS_NAMES: Record<string, keyof ImapMailboxStatus> = {
  MESSAGES: 'messages',
  RECENT: 'recent',
  UIDNEXT: 'uidNext',
  UIDVALIDITY: 'uidValidity',
  UNSEEN: 'unseen',
  DELETED: 'deleted',
  SIZE: 'size',
  HIGHESTMODSEQ: 'highestModseq',
  APPENDLIMIT: 'appendLimit',
  MAILBOXID: 'mailboxId',
};
const COMMAND_NAME = /^[A-Za-z][A-Za-z0-9._=-]*(?: [A-Za-z][A-Za-z0-9._=-]*)?$/;
const DEFAULT_RESTART = 10 * 60_000;
const DEFAULT_POLL = 60_000;

/**
 * Connects to an IMAP server and logs in, over any runtime's connector; resolves with the client in the
 * authenticated state. On Node, `createImapClient` from `@postwire/imap/node` fills in the connector.
 * Rejects with a `TlsError` (STARTTLS required but missing or refused, a cleartext PREAUTH, a failed
 * handshake), an `AuthenticationError` (credentials refused, or no login method both sides allow), an
 * {@link ImapResponseError} (a `BYE` greeting, or a refused login with a code such as `UNAVAILABLE`), a
 * `ProtocolError` (an invalid greeting, a response to a command not sent — catalogue cases 7 and 11), or
 * a connection, timeout or abort error.
 */
export async function createImapClient(options: ImapClientOptions): Promise<ImapClient> {
  const timeouts = { ...defaultImapClientTimeouts, ...options.timeouts };
  for (const [name, value] of Object.entries(timeouts)) {
    if (!(value > 0 && value <= 2 ** 31 - 1))
      throw new InvalidArgumentError(`timeouts.${name} must be a positive number of milliseconds`);
  }
  const auth = options.auth;
  const reconnect = options.reconnect === true ? {} : options.reconnect || undefined;
  const client = new Client(
    {
      connector: options.connector,
      host: options.host,
      port: options.port ?? (options.secure ? 993 : 143),
      secure: options.secure === true,
      ...(options.tls ? { tls: options.tls } : {}),
      starttls: options.starttls ?? 'opportunistic',
      login: auth && {
        sasl: createSaslClient(auth),
        ...(auth.username !== undefined ? { username: auth.username } : {}),
        ...(auth.password !== undefined ? { password: auth.password } : {}),
        allowCleartext: auth.allowCleartext === true,
      },
      compress: options.compress !== false,
      limits: options.limits ?? {},
      timeouts,
      ...(options.trace ? { trace: options.trace } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    },
    reconnect,
  );
  await client.start();
  return client;
}

class Client extends EventTarget implements ImapClient {
  readonly #keeper: SessionKeeper;

  /** The client, its events dispatched on itself; {@link start} connects. */
  constructor(options: KeptSessionOptions, reconnect: ImapReconnectOptions | undefined) {
    super();
    this.#keeper = new SessionKeeper(options, reconnect, (type, detail) => {
      this.dispatchEvent(new CustomEvent(type, { detail }));
    });
  }

  /** Opens the first session. */
  start(): Promise<void> {
    return this.#keeper.start();
  }

  get #session(): ImapClientSession {
    return this.#keeper.session;
  }

  get capabilities(): ReadonlySet<string> {
    return this.#session.capabilities;
  }

  get enabled(): ReadonlySet<string> {
    return this.#session.enabled;
  }

  get secure(): boolean {
    return this.#session.secure;
  }

  get compressed(): boolean {
    return this.#session.compressed;
  }

  get usable(): boolean {
    return this.#keeper.usable;
  }

  get mailbox(): ImapMailboxState | undefined {
    return this.#session.mailbox;
  }

  /**
   * The session for a call (during a reconnection, the new one, waited for) and the call's bounds there;
   * rejects with an {@link ImapCapabilityError} when the server lacks `capability`.
   */
  async #acquire(options: ImapCallOptions, capability?: string, operation?: string): Promise<Acquired> {
    const acquired = await this.#keeper.acquire(options);
    if (capability !== undefined && !acquired.session.has(capability))
      throw new ImapCapabilityError(capability, operation ?? capability);
    return acquired;
  }

  /** Runs a command whose untagged responses of one type are collected. */
  async #collect<T extends UntaggedResponse['type']>(
    { session, call }: Acquired,
    command: ImapCommandBody,
    type: T,
    exclusive = false,
  ): Promise<ResponseOf<T>[]> {
    const found: ResponseOf<T>[] = [];
    await session.run({
      command,
      exclusive,
      ...call,
      handler: {
        untagged: (response) => {
          if (response.type !== type) return false;
          found.push(response as ResponseOf<T>);
          return true;
        },
      },
    });
    return found;
  }

  async enable(capabilities: readonly string[], options: ImapCallOptions = {}): Promise<string[]> {
    const acquired = await this.#acquire(options);
    if (!acquired.session.has('ENABLE') && !acquired.session.has('IMAP4rev2'))
      throw new ImapCapabilityError('ENABLE', 'enable()');
    // Exclusive: what it enables changes how the commands after it are written (UTF8=ACCEPT).
    const responses = await this.#collect(acquired, { name: 'ENABLE', capabilities }, 'ENABLED', true);
    return responses.flatMap((response) => response.capabilities.map((name) => name.toUpperCase()));
  }

  async id(
    fields: Readonly<Record<string, string | null>> | null = null,
    options: ImapCallOptions = {},
  ): Promise<Record<string, string | null> | null> {
    const [response] = await this.#collect(
      await this.#acquire(options, 'ID', 'id()'),
      { name: 'ID', parameters: fields === null ? null : Object.entries(fields) },
      'ID',
    );
    return response?.parameters ? Object.fromEntries(response.parameters) : null;
  }

  async namespace(options: ImapCallOptions = {}): Promise<ImapNamespaces> {
    const [response] = await this.#collect(
      await this.#acquire(options, 'NAMESPACE', 'namespace()'),
      { name: 'NAMESPACE' },
      'NAMESPACE',
    );
    return {
      personal: response?.personal ?? [],
      other: response?.other ?? [],
      shared: response?.shared ?? [],
    };
  }

  async quota(path = 'INBOX', options: ImapCallOptions = {}): Promise<ImapQuotaRoot[]> {
    const { session, call } = await this.#acquire(options, 'QUOTA', 'quota()');
    const roots: string[] = [];
    const resources = new Map<string, readonly QuotaResource[]>();
    await session.run({
      command: { name: 'GETQUOTAROOT', mailbox: path },
      ...call,
      handler: {
        untagged: (response) => {
          if (response.type === 'QUOTAROOT') roots.push(...response.roots);
          else if (response.type === 'QUOTA') resources.set(response.root, response.resources);
          else return false;
          return true;
        },
      },
    });
    return roots.map((root) => ({ root, resources: resources.get(root) ?? [] }));
  }

  async noop(options: ImapCallOptions = {}): Promise<void> {
    const { session, call } = await this.#acquire(options);
    await session.run({ command: { name: 'NOOP' }, ...call });
  }

  async list(options: ImapListOptions = {}): Promise<ImapListEntry[]> {
    const acquired = await this.#acquire(options);
    const { session, call } = acquired;
    const items = options.status && options.status.length > 0 ? options.status : undefined;
    const extended = session.has('LIST-EXTENDED');
    const listStatus = items !== undefined && session.has('LIST-STATUS');
    const returns: ListReturn = {
      ...(extended && options.subscribed && { subscribed: true }),
      ...(options.specialUse && session.has('SPECIAL-USE') && { specialUse: true }),
      ...(listStatus && { status: items }),
    };
    const statuses = new Map<string, StatusValues>();
    const subscriptions =
      options.subscribed && !extended
        ? this.#collect(
            acquired,
            { name: 'LSUB', reference: options.reference ?? '', pattern: options.pattern ?? '*' },
            'LSUB',
          )
        : undefined;
    // Awaited after LIST: should LIST fail first, a failure of LSUB must not go unhandled.
    subscriptions?.catch(() => {});
    const listed: ResponseOf<'LIST'>[] = [];
    await session.run({
      command: {
        name: 'LIST',
        reference: options.reference ?? '',
        patterns: [options.pattern ?? '*'],
        ...(Object.keys(returns).length > 0 && { return: returns }),
      },
      ...call,
      handler: {
        untagged: (response) => {
          if (response.type === 'LIST') listed.push(response);
          else if (response.type === 'STATUS' && listStatus) statuses.set(response.mailbox, response.values);
          else return false;
          return true;
        },
      },
    });
    const subscribed = subscriptions && new Set((await subscriptions).map((response) => response.mailbox));
    if (items && !listStatus) {
      const selectable = listed.filter(
        (entry) => !hasFlag(entry.flags, '\\Noselect') && !hasFlag(entry.flags, '\\NonExistent'),
      );
      await Promise.all(
        selectable.map(async (entry) => {
          const values = await this.#statusValues(acquired, entry.mailbox, items).catch((error: unknown) => {
            if (error instanceof ImapResponseError) return undefined;
            throw error;
          });
          if (values) statuses.set(entry.mailbox, values);
        }),
      );
    }
    return listed.map((entry) => {
      const path = entry.mailbox;
      const specialUse = entry.flags.find((flag) => specialUseAttribute(flag) !== undefined);
      const values = statuses.get(path);
      return {
        path,
        name: entry.delimiter ? path.slice(path.lastIndexOf(entry.delimiter) + 1) : path,
        delimiter: entry.delimiter,
        flags: entry.flags,
        ...(specialUse && { specialUse }),
        ...(options.subscribed && {
          subscribed: subscribed ? subscribed.has(path) : hasFlag(entry.flags, '\\Subscribed'),
        }),
        ...(values && { status: mailboxStatus(path, values) }),
      };
    });
  }

  async #statusValues(acquired: Acquired, path: string, items: readonly StatusItem[]): Promise<StatusValues> {
    const responses = await this.#collect(acquired, { name: 'STATUS', mailbox: path, items }, 'STATUS');
    return Object.assign({}, ...responses.map((response) => response.values));
  }

  async status(
    path: string,
    items: readonly StatusItem[] = DEFAULT_STATUS,
    options: ImapCallOptions = {},
  ): Promise<ImapMailboxStatus> {
    return mailboxStatus(path, await this.#statusValues(await this.#acquire(options), path, items));
  }

  async create(
    path: string,
    options: ImapCallOptions & { readonly specialUse?: readonly string[] } = {},
  ): Promise<void> {
    const specialUse = options.specialUse && options.specialUse.length > 0 ? options.specialUse : undefined;
    const { session, call } = await this.#acquire(options);
    await session.run({
      command: { name: 'CREATE', mailbox: path, ...(specialUse && { specialUse }) },
      ...call,
    });
  }

  async delete(path: string, options: ImapCallOptions = {}): Promise<void> {
    const { session, call } = await this.#acquire(options);
    await session.run({ command: { name: 'DELETE', mailbox: path }, ...call });
  }

  async rename(path: string, newPath: string, options: ImapCallOptions = {}): Promise<void> {
    const { session, call } = await this.#acquire(options);
    await session.run({ command: { name: 'RENAME', mailbox: path, newName: newPath }, ...call });
  }

  async subscribe(path: string, options: ImapCallOptions = {}): Promise<void> {
    const { session, call } = await this.#acquire(options);
    await session.run({ command: { name: 'SUBSCRIBE', mailbox: path }, ...call });
  }

  async unsubscribe(path: string, options: ImapCallOptions = {}): Promise<void> {
    const { session, call } = await this.#acquire(options);
    await session.run({ command: { name: 'UNSUBSCRIBE', mailbox: path }, ...call });
  }

  async open(path: string, options: ImapOpenOptions = {}): Promise<ImapOpenedMailbox> {
    const acquired = await this.#acquire(options);
    const { session, call } = acquired;
    const qresync = options.qresync && session.has('QRESYNC') ? options.qresync : undefined;
    if (qresync && !session.enabled.has('QRESYNC'))
      await this.#collect(acquired, { name: 'ENABLE', capabilities: ['QRESYNC'] }, 'ENABLED', true);
    const { mailbox, vanished, changed } = await selectMailbox(session, path, {
      readOnly: options.readOnly === true,
      condstore: !qresync && options.condstore === true && session.has('CONDSTORE'),
      qresync: qresync && {
        uidValidity: qresync.uidValidity,
        modSeq: qresync.modseq,
        ...(qresync.knownUids !== undefined && { knownUids: toSequenceSet(qresync.knownUids) }),
      },
      ...call,
    });
    return { ...mailbox.snapshot(), ...(qresync && { qresync: { vanished, changed } }) };
  }

  async closeMailbox(options: ImapCallOptions & { readonly expunge?: boolean } = {}): Promise<void> {
    const { session, call } = await this.#acquire(options);
    const mailbox = session.mailbox;
    if (!options.expunge && session.has('UNSELECT')) {
      await session.run({ command: { name: 'UNSELECT' }, exclusive: true, ...call });
      return;
    }
    // CLOSE expunges only in a mailbox opened read-write: reopen read-only first when nothing may go.
    if (!options.expunge && mailbox && !mailbox.readOnly)
      await session.run({ command: { name: 'EXAMINE', mailbox: mailbox.path }, exclusive: true, ...call });
    await session.run({ command: { name: 'CLOSE' }, exclusive: true, ...call });
  }

  fetch(range: ImapRange, query: ImapFetchQuery, options: ImapFetchOptions = {}): ImapFetch {
    const uid = options.uid === true;
    if (options.vanished && (!uid || options.changedSince === undefined))
      throw new InvalidArgumentError('vanished needs uid and changedSince');
    const { items, bodies } = fetchItems(query, uid);
    const command: FetchCommand = {
      name: 'FETCH',
      uid,
      sequence: toSequenceSet(range),
      items,
      ...(options.changedSince !== undefined && { changedSince: options.changedSince }),
      ...(options.vanished && { vanished: true }),
    };
    return new FetchRun((bounds) => this.#keeper.acquire(bounds), command, bodies, options);
  }

  async fetchAll(
    range: ImapRange,
    query: ImapFetchQuery,
    options: ImapFetchOptions = {},
  ): Promise<ImapFetchedMessage[]> {
    const messages: ImapFetchedMessage[] = [];
    for await (const message of this.fetch(range, query, { ...options, collect: true }))
      messages.push(message);
    return messages;
  }

  async search(
    query: ImapSearchQuery,
    options: ImapCallOptions & { readonly uid?: boolean } = {},
  ): Promise<number[]> {
    const { session, call } = await this.#acquire(options);
    const { keys, utf8: nonAscii } = searchKeys(query);
    const found = await runSearch(
      session,
      { uid: options.uid === true, ...(nonAscii && !session.utf8 && { charset: 'UTF-8' }), criteria: keys },
      call,
    );
    return Array.isArray(found) ? found : expand(found, session.mailbox?.exists ?? 0);
  }

  async sort(
    criteria: readonly ImapSortKey[],
    query: ImapSearchQuery = {},
    options: ImapCallOptions & { readonly uid?: boolean } = {},
  ): Promise<number[]> {
    const responses = await this.#collect(
      await this.#acquire(options, 'SORT', 'sort()'),
      { name: 'SORT', uid: options.uid === true, criteria, charset: 'UTF-8', search: searchKeys(query).keys },
      'SORT',
    );
    return responses.flatMap((response) => response.numbers);
  }

  async thread(
    algorithm: string,
    query: ImapSearchQuery = {},
    options: ImapCallOptions & { readonly uid?: boolean } = {},
  ): Promise<Thread[]> {
    const responses = await this.#collect(
      await this.#acquire(options, `THREAD=${algorithm}`, 'thread()'),
      {
        name: 'THREAD',
        uid: options.uid === true,
        algorithm,
        charset: 'UTF-8',
        search: searchKeys(query).keys,
      },
      'THREAD',
    );
    return responses.flatMap((response) => response.threads);
  }

  async append(
    path: string,
    content: Uint8Array | string | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
    options: ImapAppendOptions = {},
  ): Promise<ImapAppendResult> {
    const date = options.date instanceof Date ? formatDateTime(options.date) : options.date;
    const command = (content: Uint8Array | LiteralSource): ImapCommandBody => ({
      name: 'APPEND',
      mailbox: path,
      messages: [
        { ...(options.flags && { flags: options.flags }), ...(date !== undefined && { date }), content },
      ],
    });
    let response: TaggedResponse;
    try {
      const literal = literalContent(content, options.size);
      // Read while the session is awaited (a reconnection): a failure before the command takes it, or
      // with no command to take it, must not go unhandled.
      if (literal instanceof Promise) literal.catch(() => {});
      const { session, call } = await this.#acquire(options);
      response = await session.run({
        // Queued now, in call order, even while a stream of unknown size is read into memory.
        command: literal instanceof Promise ? literal.then(command) : command(literal),
        name: 'APPEND',
        ...call,
      });
    } finally {
      releaseContent(content);
    }
    const code = response.code;
    if (code?.code !== 'APPENDUID') return {};
    return { uidValidity: code.uidValidity, ...(code.uids.ranges[0] && { uid: code.uids.ranges[0].start }) };
  }

  async store(
    range: ImapRange,
    flags: string | readonly string[],
    options: ImapStoreOptions = {},
  ): Promise<ImapStoreOutcome> {
    const updates: ImapFlagUpdate[] = [];
    const uid = options.uid === true;
    const sequence = toSequenceSet(range);
    const { session, call } = await this.#acquire(options);
    const response = await session.run({
      command: {
        name: 'STORE',
        uid,
        sequence,
        operation: options.operation ?? 'add',
        silent: options.silent === true,
        flags: typeof flags === 'string' ? [flags] : flags,
        ...(options.unchangedSince !== undefined && { unchangedSince: options.unchangedSince }),
      },
      ...call,
      handler: {
        // Only the messages stored to: another session's changes, reported meanwhile, are events.
        untagged: (untagged) => {
          if (untagged.type !== 'FETCH') return false;
          const update = flagUpdate(untagged.number, untagged.attributes);
          const id = uid ? update.uid : update.seq;
          if (id === undefined || !sequence.has(id, uid ? undefined : session.mailbox?.exists)) return false;
          updates.push(update);
          return true;
        },
      },
    });
    return { updates, modified: response.code?.code === 'MODIFIED' ? response.code.set : undefined };
  }

  async copy(
    range: ImapRange,
    path: string,
    options: ImapCallOptions & { readonly uid?: boolean } = {},
  ): Promise<ImapCopyResult | undefined> {
    const { session, call } = await this.#acquire(options);
    const response = await session.run({
      command: { name: 'COPY', uid: options.uid === true, sequence: toSequenceSet(range), mailbox: path },
      ...call,
    });
    return copyResult(response.code);
  }

  async move(
    range: ImapRange,
    path: string,
    options: ImapCallOptions & { readonly uid?: boolean } = {},
  ): Promise<ImapCopyResult | undefined> {
    const uid = options.uid === true;
    const sequence = toSequenceSet(range);
    const { session, call } = await this.#acquire(options);
    if (session.has('MOVE')) {
      let copied: ImapCopyResult | undefined;
      const response = await session.run({
        command: { name: 'MOVE', uid, sequence, mailbox: path },
        ...call,
        handler: {
          untagged: (untagged) => {
            if (untagged.type !== 'status' || untagged.code?.code !== 'COPYUID') return false;
            copied = copyResult(untagged.code);
            return true;
          },
        },
      });
      return copied ?? copyResult(response.code);
    }
    const copied = await this.copy(sequence, path, options);
    const uids = copied?.source ?? (uid ? sequence : undefined);
    await this.store(uids ?? sequence, '\\Deleted', { ...call, uid: uids !== undefined, silent: true });
    await this.expunge(uids && session.has('UIDPLUS') ? uids : undefined, options);
    return copied;
  }

  async expunge(uids?: ImapRange, options: ImapCallOptions = {}): Promise<ImapExpungeResult> {
    const { session, call } = await this.#acquire(
      options,
      uids === undefined ? undefined : 'UIDPLUS',
      'expunge(uids)',
    );
    const expunged: number[] = [];
    const vanished: SequenceSet[] = [];
    await session.run({
      command: uids === undefined ? { name: 'EXPUNGE' } : { name: 'EXPUNGE', uids: toSequenceSet(uids) },
      ...call,
      handler: {
        untagged: (response) => {
          if (response.type === 'EXPUNGE') expunged.push(response.number);
          else if (response.type === 'VANISHED') vanished.push(response.uids);
          else return false;
          return true;
        },
      },
    });
    return {
      expunged,
      vanished: vanished.length > 0 ? SequenceSet.of(vanished.flatMap((set) => set.ranges)) : undefined,
    };
  }

  async idle(options: ImapIdleOptions = {}): Promise<void> {
    const { signal } = options;
    const restartAfter = options.restartAfter ?? DEFAULT_RESTART;
    while (!signal?.aborted) {
      let session: ImapClientSession;
      try {
        ({ session } = await this.#keeper.acquire(signal ? { signal } : {}));
      } catch (error) {
        if (error instanceof AbortError && signal?.aborted) return;
        throw error;
      }
      try {
        if (!session.has('IDLE')) await this.#poll(session, options.pollInterval ?? DEFAULT_POLL, signal);
        else while ((await this.#idleOnce(session, restartAfter, signal)) === 'restart') {}
        return;
      } catch (error) {
        // The connection dropped and the client reconnects: idle on, on the new one.
        if (!this.#keeper.reconnecting) throw error;
      }
    }
  }

  /** One IDLE, ended by `DONE` when the signal aborts, a call is made, or `restartAfter` passes. */
  async #idleOnce(
    session: ImapClientSession,
    restartAfter: number,
    signal: AbortSignal | undefined,
  ): Promise<'restart' | 'stop'> {
    let reason: 'restart' | 'stop' | undefined;
    let idling = false;
    const done = (): void => {
      void session.writeLine('DONE').catch(() => {});
    };
    // A stop overrides a restart under way: the call made meanwhile is what the idle waited for.
    const end = (why: 'restart' | 'stop'): void => {
      if (reason === 'stop' || reason === why) return;
      const ending = reason === undefined;
      reason = why;
      if (ending && idling) done();
    };
    const running = session.run({
      command: { name: 'IDLE' },
      exclusive: true,
      silent: true,
      handler: {
        continuation: () => {
          idling = true;
          if (reason) done();
        },
      },
    });
    const stop = (): void => end('stop');
    const unsubscribe = session.onQueued(stop);
    signal?.addEventListener('abort', stop, { once: true });
    const timer = setTimeout(() => end('restart'), restartAfter);
    try {
      await running;
    } finally {
      unsubscribe();
      signal?.removeEventListener('abort', stop);
      clearTimeout(timer);
    }
    return reason === 'restart' && !signal?.aborted ? 'restart' : 'stop';
  }

  /** Without IDLE: NOOP every `interval` until the signal aborts or another call is made. */
  async #poll(session: ImapClientSession, interval: number, signal: AbortSignal | undefined): Promise<void> {
    let stopped = false;
    let polling = false;
    let wake: (() => void) | undefined;
    const stop = (): void => {
      stopped = true;
      wake?.();
    };
    // Any call but the poll's own NOOP stops it, also one made while that NOOP is in flight.
    const unsubscribe = session.onQueued(() => {
      if (!polling) stop();
    });
    signal?.addEventListener('abort', stop, { once: true });
    try {
      while (!stopped) {
        polling = true;
        const noop = session.run({ command: { name: 'NOOP' } });
        polling = false;
        await noop;
        if (stopped) return;
        let timer: ReturnType<typeof setTimeout> | undefined;
        await new Promise<void>((resolve) => {
          wake = resolve;
          timer = setTimeout(resolve, interval);
        });
        clearTimeout(timer);
      }
    } finally {
      unsubscribe();
      signal?.removeEventListener('abort', stop);
    }
  }

  async exec(
    command: string,
    args: readonly ImapExecArgument[] = [],
    options: ImapCallOptions = {},
  ): Promise<ImapExecResult> {
    if (!COMMAND_NAME.test(command))
      throw new InvalidArgumentError(`not a command name: ${JSON.stringify(command)}`);
    const { session, call } = await this.#acquire(options);
    const untagged: UntaggedResponse[] = [];
    const literals: Uint8Array[][] = [];
    const response: TaggedResponse = await session.run({
      command: (tag, writer) => {
        writer.raw(`${tag} ${command}`);
        for (const arg of args) writeArgument(writer.sp(), arg, session.utf8);
        return writer.crlf().finish();
      },
      name: command.toUpperCase(),
      exclusive: true,
      ...call,
      handler: {
        untagged: (received) => {
          untagged.push(received.type === 'FETCH' ? withLiterals(received, literals) : received);
          return true;
        },
        literal: () => {
          const chunks: Uint8Array[] = [];
          literals.push(chunks);
          return {
            data: (chunk) => {
              chunks.push(chunk);
              return undefined;
            },
            end: () => {},
          };
        },
      },
    });
    return { code: response.code, text: response.text, untagged };
  }

  logout(): Promise<void> {
    return this.#keeper.logout();
  }

  close(): Promise<void> {
    return this.#keeper.close();
  }
}

/** The numbers of an ESEARCH result, refusing one that names more messages than the mailbox has (case 24). */
function expand(set: SequenceSet, exists: number): number[] {
  const count = set.count(0);
  if (count > exists) throw new ProtocolError(`the server found ${count} messages in a mailbox of ${exists}`);
  return [...set.values(0)];
}

function hasFlag(flags: readonly string[], flag: string): boolean {
  const upper = flag.toUpperCase();
  return flags.some((candidate) => candidate.toUpperCase() === upper);
}

function mailboxStatus(path: string, values: StatusValues): ImapMailboxStatus {
  const status: Record<string, unknown> = { path };
  for (const [item, value] of Object.entries(values)) {
    const name = STATUS_NAMES[item];
    if (name) status[name] = value;
  }
  return status as unknown as ImapMailboxStatus;
}

function copyResult(code: ResponseCode | undefined): ImapCopyResult | undefined {
  if (code?.code !== 'COPYUID') return undefined;
  return { uidValidity: code.uidValidity, source: code.source, destination: code.destination };
}

/**
 * The content of an APPEND: bytes, or a source streamed as it is read; a stream without a size is read
 * into memory first (the promise).
 */
function literalContent(
  content: Uint8Array | string | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  size: number | undefined,
): Uint8Array | LiteralSource | Promise<Uint8Array> {
  if (typeof content === 'string') return utf8(content);
  if (content instanceof Uint8Array) return content;
  const chunks = content instanceof ReadableStream ? streamChunks(content) : content;
  if (size === undefined) return held(chunks);
  if (!Number.isSafeInteger(size) || size < 0)
    throw new InvalidArgumentError('size must be a number of octets');
  return { size, chunks };
}

/**
 * Lets go of an APPEND's stream that may not have been read to its end (the APPEND was refused, given up
 * or failed first): a web stream no one reads is cancelled, an async generator told to return.
 */
function releaseContent(
  content: Uint8Array | string | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
): void {
  if (content instanceof ReadableStream) {
    if (!content.locked) content.cancel().catch(() => {});
    return;
  }
  const iterator = content as Partial<AsyncIterator<Uint8Array>>;
  if (typeof content !== 'object' || typeof iterator.return !== 'function') return;
  try {
    Promise.resolve(iterator.return()).catch(() => {});
  } catch {
    // An iterator that fails to stop has nothing more to give; the APPEND's own outcome stands.
  }
}

async function held(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return concatBytes(parts);
}

function writeArgument(writer: ImapWriter, arg: ImapExecArgument, utf8Names: boolean): void {
  if (arg === null) writer.raw('NIL');
  else if (typeof arg === 'number') writer.number(arg, Number.MAX_SAFE_INTEGER);
  else if (typeof arg === 'string') writer.astring(arg);
  else if (arg instanceof Uint8Array) writer.literal(arg);
  else if (arg instanceof SequenceSet) writer.raw(arg.toString());
  else if (Array.isArray(arg))
    writer.list(arg as readonly ImapExecArgument[], (item) => writeArgument(writer, item, utf8Names));
  else if ('mailbox' in arg) writer.astring(encodeMailboxName(arg.mailbox, utf8Names));
  else writer.raw((arg as { readonly raw: string }).raw);
}

/** A FETCH response with the body literals that were streamed put back, in order. */
function withLiterals(response: ResponseOf<'FETCH'>, literals: Uint8Array[][]): UntaggedResponse {
  const attributes = response.attributes.map((attribute): FetchAttribute => {
    if (!('content' in attribute) || attribute.content === null || attribute.content instanceof Uint8Array)
      return attribute;
    if (!('kind' in attribute.content)) return attribute;
    return { ...attribute, content: concatBytes(literals.shift() ?? []) };
  });
  return { ...response, attributes };
}

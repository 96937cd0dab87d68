import type { SequenceSet } from '../protocol/sequence-set.js';
import type { ImapMailboxState } from './mailbox-state.js';
import type { ImapResyncMethod } from './resync.js';

/** `exists`: the open mailbox's message count changed (new mail, or a count after expunges). */
export interface ImapExistsDetail {
  /** The open mailbox's full name. */
  readonly path: string;
  /** The number of messages now (EXISTS). */
  readonly count: number;
  /** The number of messages before. */
  readonly previous: number;
}

/** `expunge`: a message left the open mailbox; later sequence numbers moved down by one. */
export interface ImapExpungeDetail {
  /** The open mailbox's full name. */
  readonly path: string;
  /** Its sequence number just before it went. */
  readonly seq: number;
}

/** `vanished`: messages left the open mailbox, named by UID (QRESYNC, RFC 7162 §3.2.10). */
export interface ImapVanishedDetail {
  /** The open mailbox's full name. */
  readonly path: string;
  /** The UIDs, as ranges: never expanded. */
  readonly uids: SequenceSet;
  /** Reported as having gone earlier (in answer to SELECT or UID FETCH with QRESYNC). */
  readonly earlier: boolean;
}

/** `flags`: the server reported a message's flags (or mod-sequence) without being asked, e.g. another session's STORE. */
export interface ImapFlagsDetail {
  /** The open mailbox's full name. */
  readonly path: string;
  /** The message's sequence number. */
  readonly seq: number;
  /** The UID of the message (RFC 9051 §2.3.1.1), when reported. */
  readonly uid?: number;
  /** The message's flags, when reported. */
  readonly flags?: readonly string[];
  /** The message's mod-sequence (RFC 7162), when reported. */
  readonly modseq?: number;
}

/** `alert`: an `[ALERT]` the server wants shown to the user (RFC 9051 §7.1). */
export interface ImapAlertDetail {
  /** The alert's text. */
  readonly text: string;
}

/**
 * `close`: the client is done; `error` says why (a `ConnectionError` after `close()` or `logout()`; with
 * `reconnect`, the last attempt's failure once they are used up).
 */
export interface ImapCloseDetail {
  /** Why the client is done. */
  readonly error: Error;
}

/** `disconnect`: the connection dropped and the client reconnects (the `reconnect` option). */
export interface ImapDisconnectDetail {
  /** Why the connection dropped. */
  readonly error: Error;
}

/**
 * `reconnect`: the client is connected and logged in again, with what was enabled enabled again and the
 * mailbox that was open reopened; what changed in it meanwhile was dispatched just before.
 */
export interface ImapReconnectDetail {
  /** The attempts it took. */
  readonly attempts: number;
  /** The mailbox reopened, as it is now; `undefined` when none was open. */
  readonly mailbox: ImapMailboxState | undefined;
  /** How the mailbox was brought up to date; `undefined` when none was open. */
  readonly resync: ImapResyncMethod | undefined;
}

/** The events an IMAP client dispatches, each a `CustomEvent` with the detail named here. */
export interface ImapClientEventMap {
  /** The open mailbox's message count changed. */
  exists: CustomEvent<ImapExistsDetail>;
  /** A message left the open mailbox (EXPUNGE). */
  expunge: CustomEvent<ImapExpungeDetail>;
  /** Messages left the open mailbox, named by UID (VANISHED). */
  vanished: CustomEvent<ImapVanishedDetail>;
  /** A message's flags or mod-sequence were reported unasked. */
  flags: CustomEvent<ImapFlagsDetail>;
  /** The server sent an `[ALERT]`. */
  alert: CustomEvent<ImapAlertDetail>;
  /** The client is done. */
  close: CustomEvent<ImapCloseDetail>;
  /** The connection dropped; the client reconnects. */
  disconnect: CustomEvent<ImapDisconnectDetail>;
  /** The client is connected and logged in again. */
  reconnect: CustomEvent<ImapReconnectDetail>;
}

/** Hands an event to the client's listeners. */
export type ImapEmit = <K extends keyof ImapClientEventMap>(
  type: K,
  detail: ImapClientEventMap[K]['detail'],
) => void;

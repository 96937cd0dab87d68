import type { SequenceSet } from '../protocol/sequence-set.js';
import type { ImapMailboxState } from './mailbox-state.js';
import type { ImapResyncMethod } from './resync.js';

/** `exists`: the open mailbox's message count changed (new mail, or a count after expunges). */
export interface ImapExistsDetail {
  readonly path: string;
  readonly count: number;
  readonly previous: number;
}

/** `expunge`: a message left the open mailbox; later sequence numbers moved down by one. */
export interface ImapExpungeDetail {
  readonly path: string;
  /** Its sequence number just before it went. */
  readonly seq: number;
}

/** `vanished`: messages left the open mailbox, named by UID (QRESYNC, RFC 7162 §3.2.10). */
export interface ImapVanishedDetail {
  readonly path: string;
  /** The UIDs, as ranges: never expanded. */
  readonly uids: SequenceSet;
  /** Reported as having gone earlier (in answer to SELECT or UID FETCH with QRESYNC). */
  readonly earlier: boolean;
}

/** `flags`: the server reported a message's flags (or mod-sequence) without being asked, e.g. another session's STORE. */
export interface ImapFlagsDetail {
  readonly path: string;
  readonly seq: number;
  readonly uid?: number;
  readonly flags?: readonly string[];
  readonly modseq?: number;
}

/** `alert`: an `[ALERT]` the server wants shown to the user (RFC 9051 §7.1). */
export interface ImapAlertDetail {
  readonly text: string;
}

/**
 * `close`: the client is done; `error` says why (a `ConnectionError` after `close()` or `logout()`; with
 * `reconnect`, the last attempt's failure once they are used up).
 */
export interface ImapCloseDetail {
  readonly error: Error;
}

/** `disconnect`: the connection dropped and the client reconnects (the `reconnect` option). */
export interface ImapDisconnectDetail {
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
  exists: CustomEvent<ImapExistsDetail>;
  expunge: CustomEvent<ImapExpungeDetail>;
  vanished: CustomEvent<ImapVanishedDetail>;
  flags: CustomEvent<ImapFlagsDetail>;
  alert: CustomEvent<ImapAlertDetail>;
  close: CustomEvent<ImapCloseDetail>;
  disconnect: CustomEvent<ImapDisconnectDetail>;
  reconnect: CustomEvent<ImapReconnectDetail>;
}

/** Hands an event to the client's listeners. */
export type ImapEmit = <K extends keyof ImapClientEventMap>(
  type: K,
  detail: ImapClientEventMap[K]['detail'],
) => void;

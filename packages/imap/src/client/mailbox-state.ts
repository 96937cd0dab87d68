import type { FetchAttribute } from '../protocol/response-fetch.js';
import type { ImapEmit } from './events.js';
import type { UntaggedResponse } from './session.js';

/** The state of the open mailbox, as the server last reported it. */
export interface ImapMailboxState {
  /** The mailbox's full name, decoded. */
  readonly path: string;
  /** Opened with EXAMINE, or the server allows no changes (`[READ-ONLY]`). */
  readonly readOnly: boolean;
  /** The mailbox's UIDVALIDITY (RFC 9051 §2.3.1.1), as of the last `[UIDVALIDITY]`. */
  readonly uidValidity: number | undefined;
  /** The UID the next message will get, as of the last `[UIDNEXT]`. */
  readonly uidNext: number | undefined;
  /** CONDSTORE's mod-sequence (RFC 7162); `undefined` without CONDSTORE or with `[NOMODSEQ]`. */
  readonly highestModseq: number | undefined;
  /** Messages in the mailbox. */
  readonly exists: number;
  /** Messages with `\Recent` (RECENT; RFC 3501 servers). */
  readonly recent: number;
  /** The flags defined in the mailbox. */
  readonly flags: readonly string[];
  /** The flags a STORE can change for good (`\*`: new keywords too); `undefined` when not reported. */
  readonly permanentFlags: readonly string[] | undefined;
  /** RFC 8474 MAILBOXID, when the server has OBJECTID. */
  readonly mailboxId: string | undefined;
}

/** A message's flags and mod-sequence, as a FETCH response gave them. */
export interface ImapFlagUpdate {
  /** The message's sequence number. */
  readonly seq: number;
  /** The UID of the message (RFC 9051 §2.3.1.1), when given. */
  readonly uid?: number;
  /** The message's flags, when given. */
  readonly flags?: readonly string[];
  /** The message's mod-sequence (RFC 7162), when given. */
  readonly modseq?: number;
}

/** The UID, flags and mod-sequence among a FETCH response's attributes. */
export function flagUpdate(seq: number, attributes: readonly FetchAttribute[]): ImapFlagUpdate {
  let uid: number | undefined;
  let flags: readonly string[] | undefined;
  let modseq: number | undefined;
  for (const attribute of attributes) {
    if (attribute.item === 'UID') uid = attribute.uid;
    else if (attribute.item === 'FLAGS') flags = attribute.flags;
    else if (attribute.item === 'MODSEQ') modseq = attribute.modSeq;
  }
  return {
    seq,
    ...(uid !== undefined && { uid }),
    ...(flags && { flags }),
    ...(modseq !== undefined && { modseq }),
  };
}

const NO_EVENTS: ImapEmit = () => {};

/**
 * The one place that keeps the open mailbox's view: SELECT's responses build it, and every response
 * after that (EXISTS, EXPUNGE, VANISHED, FLAGS, the codes of untagged OK) updates it and becomes an event.
 */
export class MailboxTracker implements ImapMailboxState {
  readonly path: string;
  readOnly: boolean;
  uidValidity: number | undefined;
  uidNext: number | undefined;
  highestModseq: number | undefined;
  exists = 0;
  recent = 0;
  flags: readonly string[] = [];
  permanentFlags: readonly string[] | undefined;
  mailboxId: string | undefined;

  constructor(path: string, readOnly: boolean) {
    this.path = path;
    this.readOnly = readOnly;
  }

  /**
   * Applies an untagged response. `claimed` says a command took it as its answer (a FETCH of `fetch()` or
   * `store()`): it then becomes no `flags` event. Changes of the message count always become events.
   */
  apply(response: UntaggedResponse, claimed: boolean, emit: ImapEmit = NO_EVENTS): void {
    const path = this.path;
    switch (response.type) {
      case 'EXISTS': {
        const previous = this.exists;
        this.exists = response.number;
        if (previous !== response.number) emit('exists', { path, count: response.number, previous });
        return;
      }
      case 'RECENT':
        this.recent = response.number;
        return;
      case 'EXPUNGE':
        this.exists = Math.max(0, this.exists - 1);
        emit('expunge', { path, seq: response.number });
        return;
      case 'VANISHED':
        if (!response.earlier) this.exists = Math.max(0, this.exists - response.uids.count(0));
        if (!response.earlier || !claimed)
          emit('vanished', { path, uids: response.uids, earlier: response.earlier });
        return;
      case 'FLAGS':
        this.flags = response.flags;
        return;
      case 'FETCH': {
        if (claimed) return;
        const update = flagUpdate(response.number, response.attributes);
        if (update.flags || update.modseq !== undefined) emit('flags', { path, ...update });
        return;
      }
      case 'status':
        this.#code(response);
        return;
    }
  }

  #code(response: Extract<UntaggedResponse, { type: 'status' }>): void {
    const code = response.code;
    if (response.status !== 'OK' || !code) return;
    switch (code.code) {
      case 'UIDVALIDITY':
        this.uidValidity = code.value;
        return;
      case 'UIDNEXT':
        this.uidNext = code.value;
        return;
      case 'HIGHESTMODSEQ':
        this.highestModseq = code.modSeq;
        return;
      case 'NOMODSEQ':
        this.highestModseq = undefined;
        return;
      case 'PERMANENTFLAGS':
        this.permanentFlags = code.flags;
        return;
      case 'MAILBOXID':
        this.mailboxId = code.id;
        return;
    }
  }

  /** A copy of the state as it is now. */
  snapshot(): ImapMailboxState {
    return {
      path: this.path,
      readOnly: this.readOnly,
      uidValidity: this.uidValidity,
      uidNext: this.uidNext,
      highestModseq: this.highestModseq,
      exists: this.exists,
      recent: this.recent,
      flags: this.flags,
      permanentFlags: this.permanentFlags,
      mailboxId: this.mailboxId,
    };
  }
}

import type { BodyStructure, Envelope } from '@postwire/mime';

/** The system flags of IMAP (RFC 9051 §2.3.2); `\Recent` is not stored (IMAP4rev2 dropped it). */
export type SystemFlag = '\\Seen' | '\\Answered' | '\\Flagged' | '\\Deleted' | '\\Draft';

/** The SPECIAL-USE attributes a mailbox may carry (RFC 6154). */
export type SpecialUse = '\\All' | '\\Archive' | '\\Drafts' | '\\Flagged' | '\\Junk' | '\\Sent' | '\\Trash';

/** The hierarchy delimiter of every store: mailbox names are paths such as `Archive/2026`. */
export const MAILBOX_DELIMITER = '/';

/** A mailbox in a user's list. */
export interface MailboxListEntry {
  /** The canonical name, `/`-separated; the inbox is always `INBOX`. */
  readonly name: string;
  /** The mailbox's SPECIAL-USE attribute, if any. */
  readonly specialUse?: SpecialUse;
  /** The user subscribes to the name. */
  readonly subscribed: boolean;
  /**
   * `false` for a name that only exists as the parent of other mailboxes (IMAP `\NonExistent`/`\Noselect`)
   * or only as a subscription.
   */
  readonly exists: boolean;
  /** Other mailboxes exist below this one. */
  readonly hasChildren: boolean;
}

/** The identity and counters of a mailbox (IMAP SELECT and STATUS). */
export interface MailboxStatus {
  /**
   * The mailbox's stable id, IMAP OBJECTID's MAILBOXID (RFC 8474 §4): 1–255 characters of `A-Za-z0-9_-`,
   * given at creation, kept through a rename of the mailbox or of a parent, never given to another
   * mailbox, so a mailbox deleted and created again under its name gets a new one. Renaming INBOX creates
   * a new mailbox, with a new id, for INBOX's messages; INBOX keeps its own id.
   */
  readonly mailboxId: string;
  /** Changes only when UIDs may have been reused: a mailbox re-created under the same name. */
  readonly uidValidity: number;
  /** The UID the next message will get; never goes down. */
  readonly uidNext: number;
  /** The MODSEQ of the latest change (RFC 7162); 1 for a mailbox that never changed. */
  readonly highestModseq: number;
  /** The number of messages. */
  readonly messages: number;
  /** Messages without `\Seen`. */
  readonly unseen: number;
  /** Total size of the messages in octets. */
  readonly size: number;
  /** Messages with `\Deleted`, for POP3 and EXPUNGE. */
  readonly deleted: number;
}

/** One message's index entry: what IMAP FETCH and POP3 read without opening the message. */
export interface MessageInfo {
  /** The message's UID. */
  readonly uid: number;
  /**
   * A stable identifier: the same for the life of the message, never reused, carried over by copy and
   * move. 1–64 characters of `A-Za-z0-9_-`, so it serves as IMAP OBJECTID's EMAILID and as POP3 UIDL.
   */
  readonly id: string;
  /** System flags and keywords, in no particular order. */
  readonly flags: readonly string[];
  /** The INTERNALDATE: when the message was received or appended. */
  readonly internalDate: Date;
  /** Size in octets, as the message is read (CRLF line endings). */
  readonly size: number;
  /** The MODSEQ of the message's latest change (RFC 7162). */
  readonly modseq: number;
}

/** One part of a message's tree, with the byte offsets of its header and body in the message. */
export interface PartOffsets {
  /** Offset of the part's header. */
  readonly headerStart: number;
  /** Offset of the part's body. */
  readonly bodyStart: number;
  /** Offset just past the part's end. */
  readonly end: number;
  /** What the part holds: content, other parts, or an embedded message. */
  readonly structure: 'leaf' | 'multipart' | 'message';
  /** The parts of a multipart. */
  readonly children?: readonly PartOffsets[];
  /** The embedded message of a `message/rfc822` or `message/global` part. */
  readonly message?: PartOffsets;
}

/**
 * The parsed structure of a message, computed once and kept beside it, so that a FETCH of ENVELOPE,
 * BODY, BODYSTRUCTURE or a section never parses the message again.
 */
export interface MessageStructure {
  /** FETCH ENVELOPE. */
  readonly envelope: Envelope;
  /** FETCH BODYSTRUCTURE (with extension data). */
  readonly bodyStructure: BodyStructure;
  /** FETCH BODY (without extension data). */
  readonly body: BodyStructure;
  /** The tree of parts with their byte offsets, for sections such as `1.2.MIME` or `TEXT`. */
  readonly parts: PartOffsets;
  /**
   * The message's header fields in order, as `[name, value]` with the value as written (folds kept), for
   * SEARCH HEADER, SORT and THREAD without reading the message.
   */
  readonly headers: readonly (readonly [name: string, value: string])[];
}

/** A message to append: its bytes, as one array or a stream of chunks. */
export type MessageSource = Uint8Array | AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>;

/** Options of {@link Mailbox.append}. */
export interface AppendOptions {
  /** The message's flags (default: none). */
  readonly flags?: readonly string[];
  /** The INTERNALDATE (default: now). */
  readonly internalDate?: Date;
}

/** What {@link Mailbox.append} stored. */
export interface AppendResult {
  /** The UID the message got. */
  readonly uid: number;
  /** The message's stable id. */
  readonly id: string;
  /** The mailbox's UIDVALIDITY (for IMAP's APPENDUID). */
  readonly uidValidity: number;
  /** The MODSEQ of the append. */
  readonly modseq: number;
}

/** How {@link Mailbox.setFlags} changes the flags. */
export type FlagOperation = 'add' | 'remove' | 'replace';

/** Options of {@link Mailbox.setFlags}. */
export interface SetFlagsOptions {
  /**
   * The CONDSTORE condition (RFC 7162 §3.1.3): a message whose MODSEQ is above this is left alone and
   * reported in `modified`.
   */
  readonly unchangedSince?: number;
}

/** What {@link Mailbox.setFlags} did. */
export interface SetFlagsResult {
  /** The messages whose flags changed, with their new flags and MODSEQ. */
  readonly changed: readonly FlagChange[];
  /** UIDs that failed the `unchangedSince` condition. */
  readonly modified: readonly number[];
}

/** A message's flags after a change. */
export interface FlagChange {
  /** The message's UID. */
  readonly uid: number;
  /** Its flags after the change. */
  readonly flags: readonly string[];
  /** The MODSEQ of the change. */
  readonly modseq: number;
}

/** What {@link Mailbox.copy} and {@link Mailbox.move} did (the data of IMAP's COPYUID, RFC 4315). */
export interface CopyResult {
  /** The target mailbox's UIDVALIDITY. */
  readonly uidValidity: number;
  /** Source UIDs, in ascending order, and the UIDs they got in the target, in the same order. */
  readonly sourceUids: readonly number[];
  /** The UIDs the copies got, in the order of `sourceUids`. */
  readonly targetUids: readonly number[];
}

/** A byte range `[start, end)` of a message; `end` past the message is cut to its size. */
export interface ByteRange {
  /** The first octet. */
  readonly start: number;
  /** The octet after the last (default: the message's end). */
  readonly end?: number;
}

/** One entry of a mailbox's change feed. */
export type MailboxChange =
  | {
      /** A message was added. */
      readonly type: 'append';
      /** The new message's index entry. */
      readonly message: MessageInfo;
    }
  | {
      /** A message's flags changed. */
      readonly type: 'flags';
      /** The message's UID. */
      readonly uid: number;
      /** Its flags now. */
      readonly flags: readonly string[];
      /** The MODSEQ of the change. */
      readonly modseq: number;
    }
  | {
      /** Messages were removed. */
      readonly type: 'expunge';
      /** Their UIDs. */
      readonly uids: readonly number[];
      /** The MODSEQ of the removal. */
      readonly modseq: number;
    }
  /** The mailbox was deleted or re-created: sessions must close it. */
  | {
      /** The mailbox is gone. */
      readonly type: 'gone';
    };

/** A user's storage use (RFC 9208 STORAGE and MESSAGE resources). */
export interface QuotaUsage {
  /** Octets used by all messages of all mailboxes. */
  readonly storage: number;
  /** Messages in all mailboxes. */
  readonly messages: number;
  /** The limits set for the user, when any. */
  readonly storageLimit?: number;
  /** The most messages allowed, when limited. */
  readonly messageLimit?: number;
}

/** An exclusive lock; release it exactly once. */
export interface MailboxLock {
  /** Releases the lock. */
  release(): Promise<void>;
}

/**
 * A store: users, each with a hierarchy of mailboxes. Implement this (and {@link UserMail} and
 * {@link Mailbox}) to put Postwire's servers on your own storage.
 */
export interface MailStore {
  /**
   * A user's mail, created empty (with its INBOX) on first use. The name is canonicalised first
   * (see `canonicalUserName`), so that one person has one mail root. Each call gives a handle that the
   * caller releases when done with it (at the end of a session): the sessions of a user share the user's
   * state in the process while any of them holds a handle or an open mailbox.
   */
  user(name: string): Promise<UserMail>;
  /** Releases files, watchers and timers. */
  close(): Promise<void>;
}

/** One user's mailboxes. Every name is validated and canonicalised (see `canonicalMailboxName`). */
export interface UserMail {
  /** The user's canonical name. */
  readonly user: string;
  /** Every mailbox and subscription, with the parents that only exist as parents. */
  list(): Promise<MailboxListEntry[]>;
  /** Creates a mailbox (and any missing parent). */
  create(name: string, options?: { specialUse?: SpecialUse }): Promise<void>;
  /** Deletes a mailbox and its messages; INBOX cannot be deleted. Children stay. */
  delete(name: string): Promise<void>;
  /** Renames a mailbox and its children; renaming INBOX moves its messages into a new mailbox. */
  rename(from: string, to: string): Promise<void>;
  /** Subscribes to a name, which need not exist (RFC 9051 §6.3.7). */
  subscribe(name: string): Promise<void>;
  /** Removes a subscription. */
  unsubscribe(name: string): Promise<void>;
  /** A mailbox's status, without opening it (IMAP STATUS). */
  status(name: string): Promise<MailboxStatus>;
  /** Opens a mailbox; close it when done. It keeps the user's state alive until then, released or not. */
  open(name: string): Promise<Mailbox>;
  /** The user's storage use and limits (RFC 9208). */
  quota(): Promise<QuotaUsage>;
  /**
   * Ends this handle (call it once the session is over; a second call does nothing). When no handle of the
   * user and no mailbox of theirs is left open, the backend may drop what it keeps in memory for them.
   * Mailboxes already open stay usable until closed; other calls on this handle are refused.
   */
  release(): Promise<void>;
}

/** An open mailbox. Operations take UIDs; sequence numbers belong to the sessions. */
export interface Mailbox {
  /** The mailbox's canonical name. */
  readonly name: string;
  /** The mailbox's identity and counters now. */
  status(): Promise<MailboxStatus>;
  /** Index entries in ascending UID order; all of them, or those with the given UIDs that exist. */
  messages(uids?: readonly number[]): Promise<MessageInfo[]>;
  /** Stores a message; it is visible to readers only once complete. */
  append(source: MessageSource, options?: AppendOptions): Promise<AppendResult>;
  /** The message's bytes, whole or a range, as a stream. */
  read(uid: number, range?: ByteRange): ReadableStream<Uint8Array>;
  /**
   * The message's bytes, whole or a range, in one piece: for a small message or range, cheaper than a
   * stream. The whole range is in memory at once, so large ones are better read with {@link read}. A
   * backend without it is read through `read`.
   * @throws MailboxNotFoundError when no message has this UID (the promise rejects).
   */
  readBytes?(uid: number, range?: ByteRange): Promise<Uint8Array>;
  /**
   * The message's parsed structure, computed on first request and kept.
   * @throws MailboxNotFoundError when no message has this UID.
   */
  structure(uid: number): Promise<MessageStructure>;
  /**
   * The structures of many messages in one request, in the order of `uids`; `undefined` for a UID with
   * no message (expunged meanwhile, say). A backend answers a whole batch with a few reads: ask for a
   * FETCH's messages together rather than one by one.
   */
  structures(uids: readonly number[]): Promise<(MessageStructure | undefined)[]>;
  /** Adds, removes or replaces flags on messages; returns what changed. */
  setFlags(
    uids: readonly number[],
    operation: FlagOperation,
    flags: readonly string[],
    options?: SetFlagsOptions,
  ): Promise<SetFlagsResult>;
  /** Copies messages into another mailbox of the user. */
  copy(uids: readonly number[], target: string): Promise<CopyResult>;
  /** Copies then expunges here, as one change for observers. */
  move(uids: readonly number[], target: string): Promise<CopyResult>;
  /** Removes messages; returns the UIDs that were removed. */
  expunge(uids: readonly number[]): Promise<number[]>;
  /**
   * The changes from now on, as they happen, from this process or any other writer, in MODSEQ order.
   * Ends when `signal` aborts or the mailbox is closed.
   */
  changes(options?: { signal?: AbortSignal }): AsyncIterable<MailboxChange>;
  /** Looks for changes made by other writers now, rather than at the next poll. */
  sync(): Promise<void>;
  /**
   * An exclusive lock on the mailbox across sessions and processes (POP3's maildrop lock).
   * @throws MailboxInUseError when another session holds it.
   */
  lock(): Promise<MailboxLock>;
  /** Ends the handle's change feeds and its hold on the user's state (see {@link UserMail.release}). */
  close(): Promise<void>;
}

import type { Mailbox, MailboxLock, MailStore } from '@postwire/store';

/** One message of a maildrop, as LIST, UIDL and STAT show it. */
export interface Pop3MaildropMessage {
  /**
   * The unique id UIDL shows (RFC 1939 §7): 1 to 70 characters from 0x21 to 0x7E, the same in every
   * session for as long as the message exists, and never given to another message of the maildrop.
   */
  readonly uid: string;
  /** The exact size in octets, with CRLF line ends and before dot-stuffing. */
  readonly size: number;
}

/**
 * A message's bytes as {@link Pop3Maildrop.retrieve} gives them: whole in one piece (cheapest for a message
 * that fits in memory), or as a stream or async iterable of chunks.
 */
export type Pop3MessageSource = Uint8Array | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/**
 * A user's maildrop for one session, locked from the moment it is opened until {@link release}: implement
 * it to serve mail from anywhere. The server numbers {@link messages} from 1 in the order given, and hands
 * the same objects back to {@link retrieve} and {@link update}.
 */
export interface Pop3Maildrop {
  /** The messages at the start of the session; mail that arrives later waits for the next session. */
  readonly messages: readonly Pop3MaildropMessage[];
  /**
   * The message's bytes, with CRLF line ends and not dot-stuffed: whole, or streamed. The server does not
   * change a `Uint8Array` given whole, and holds it until it is written.
   */
  retrieve(message: Pop3MaildropMessage): Pop3MessageSource | Promise<Pop3MessageSource>;
  /**
   * The UPDATE state, after QUIT (RFC 1939 §6): remove the messages marked as deleted. `retrieved` are
   * those sent whole with RETR, for a store that flags them as seen. Never called for a session that
   * ended any other way (catalogue case 25). Throwing answers QUIT with `-ERR [SYS/TEMP]`.
   */
  update(changes: {
    readonly deleted: readonly Pop3MaildropMessage[];
    readonly retrieved: readonly Pop3MaildropMessage[];
  }): Promise<void>;
  /** Unlocks the maildrop: called once at the end of every session, after `update` when there was one. */
  release(): Promise<void>;
}

/**
 * A message up to this size is read in one piece when the store can ({@link Mailbox.readBytes}): one open,
 * one read and one close, without a stream; larger ones stream. A session holds one at a time.
 */
const WHOLE_READ = 1024 * 1024;

/** Options of {@link openStoreMaildrop}. */
export interface StoreMaildropOptions {
  /** The mailbox served (default `INBOX`). */
  readonly mailbox?: string;
  /** Flag the messages retrieved with RETR and kept as `\Seen` at QUIT, as Dovecot does (default `true`). */
  readonly markSeen?: boolean;
}

/** A store message as the maildrop lists it: its store UID beside what POP3 shows. */
interface StoreMessage extends Pop3MaildropMessage {
  readonly storeUid: number;
}

/**
 * Opens a user's INBOX in a `@postwire/store` store as a maildrop, under the mailbox's lock. Each message's
 * UIDL is its store id, which is stable across sessions and never reused (catalogue case 27). A message of
 * up to 1 MiB is read whole when the store offers `Mailbox.readBytes`, a larger one as a stream.
 * @throws MailboxInUseError (code `IN_USE`) when another session holds the lock (case 26).
 */
export async function openStoreMaildrop(
  store: MailStore,
  user: string,
  options: StoreMaildropOptions = {},
): Promise<Pop3Maildrop> {
  const mail = await store.user(user);
  let mailbox: Mailbox;
  try {
    mailbox = await mail.open(options.mailbox ?? 'INBOX');
  } finally {
    // The open mailbox keeps the user's state alive until it is closed.
    await mail.release();
  }
  let lock: MailboxLock;
  try {
    lock = await mailbox.lock();
  } catch (error) {
    await mailbox.close();
    throw error;
  }
  let messages: StoreMessage[];
  try {
    messages = (await mailbox.messages()).map((info) => ({
      uid: info.id,
      size: info.size,
      storeUid: info.uid,
    }));
  } catch (error) {
    await lock.release();
    await mailbox.close();
    throw error;
  }
  const uids = (list: readonly Pop3MaildropMessage[]) =>
    list.map((message) => (message as StoreMessage).storeUid);
  return {
    messages,
    retrieve(message) {
      const uid = (message as StoreMessage).storeUid;
      return mailbox.readBytes !== undefined && message.size <= WHOLE_READ
        ? mailbox.readBytes(uid)
        : mailbox.read(uid);
    },
    async update({ deleted, retrieved }) {
      const gone = new Set(uids(deleted));
      const seen = uids(retrieved).filter((uid) => !gone.has(uid));
      if (options.markSeen !== false && seen.length > 0) await mailbox.setFlags(seen, 'add', ['\\Seen']);
      if (gone.size > 0) await mailbox.expunge([...gone]);
    },
    async release() {
      try {
        await lock.release();
      } finally {
        await mailbox.close();
      }
    },
  };
}

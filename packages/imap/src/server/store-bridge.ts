import { concatBytes } from '@postwire/core';
import { parseMessageSync, resolveSection } from '@postwire/mime';
import {
  type AppendResult,
  type ByteRange,
  type CopyResult,
  canonicalMailboxName,
  type FlagOperation,
  MAILBOX_DELIMITER,
  type Mailbox,
  type MailboxChange,
  type MailboxListEntry,
  type MailboxStatus,
  type MessageInfo,
  type MessageStructure,
  type QuotaUsage,
  type SpecialUse,
  type UserMail,
} from '@postwire/store';
import type { LiteralSource } from '../protocol/writer.js';
import { decodePart, type ImapBinaryRequest } from './binary.js';
import { searchMessageText } from './message-text.js';
import { type SearchTextTerm, streamContains } from './search.js';

/** A store operation the session needs; its driver runs it (see {@link ImapStoreBridge}). */
export type ImapStoreRequest =
  | {
      /** The request's kind. */
      readonly op: 'list';
    }
  | {
      /** The request's kind. */
      readonly op: 'status';
      /** The mailbox. */
      readonly mailbox: string;
    }
  | {
      /** The request's kind. */
      readonly op: 'create';
      /** The mailbox to create. */
      readonly mailbox: string;
      /** Its special use (RFC 6154 CREATE-SPECIAL-USE), when given. */
      readonly specialUse?: SpecialUse;
    }
  | {
      /** The request's kind. */
      readonly op: 'delete' | 'subscribe' | 'unsubscribe';
      /** The mailbox. */
      readonly mailbox: string;
    }
  | {
      /** The request's kind. */
      readonly op: 'rename';
      /** The mailbox to rename. */
      readonly mailbox: string;
      /** Its new name. */
      readonly newName: string;
    }
  /**
   * Open a mailbox (closing the one open before), for SELECT or, `readOnly`, EXAMINE; `changedSince` (QRESYNC)
   * also asks for the messages changed after that MODSEQ.
   */
  | {
      /** The request's kind. */
      readonly op: 'select';
      /** The mailbox to open. */
      readonly mailbox: string;
      /** Open it read-only (EXAMINE). */
      readonly readOnly: boolean;
      /** Also answer the messages whose MODSEQ is above this one. */
      readonly changedSince?: number;
    }
  /** Look for other writers' changes to the open mailbox now (NOOP, CHECK, IDLE): they arrive as changes. */
  | {
      /** The request's kind. */
      readonly op: 'sync';
    }
  /** The user's storage use and limits (QUOTA, RFC 9208). */
  | {
      /** The request's kind. */
      readonly op: 'quota';
    }
  /** Removes messages an APPEND stored before it failed (MULTIAPPEND is all or nothing, RFC 3502). */
  | {
      /** The request's kind. */
      readonly op: 'append-undo';
      /** The mailbox the messages were appended to. */
      readonly mailbox: string;
      /** The UIDs of the messages to remove. */
      readonly uids: readonly number[];
    }
  /** Close the open mailbox; `expunge` first removes its `\Deleted` messages (CLOSE, RFC 9051 §6.4.1). */
  | {
      /** The request's kind. */
      readonly op: 'unselect';
      /** Remove the `\Deleted` messages first (CLOSE, not UNSELECT). */
      readonly expunge: boolean;
    }
  /** Start storing an APPEND message into `mailbox`; its octets follow in `append-data` requests. */
  | {
      /** The request's kind. */
      readonly op: 'append-begin';
      /** The mailbox to append to. */
      readonly mailbox: string;
      /** The flags of the new message. */
      readonly flags: readonly string[];
      /** The INTERNALDATE of the new message; without it, now. */
      readonly internalDate?: Date;
    }
  /** The next octets of the message being appended; `last` completes it. */
  | {
      /** The request's kind. */
      readonly op: 'append-data';
      /** The next octets of the message. */
      readonly data: Uint8Array;
      /** These are the message's last octets. */
      readonly last: boolean;
    }
  /**
   * Index entries (and, with `structure`, parsed structures) of the open mailbox's messages; `seen` first
   * adds `\Seen`; `changedSince` keeps only the messages whose MODSEQ is above it (CONDSTORE).
   */
  | {
      /** The request's kind. */
      readonly op: 'fetch';
      /** The UIDs of the messages. */
      readonly uids: readonly number[];
      /** Also answer the messages' parsed structures. */
      readonly structure: boolean;
      /** Add `\Seen` to the messages first. */
      readonly seen: boolean;
      /** Keep only the messages whose MODSEQ is above this one (CHANGEDSINCE). */
      readonly changedSince?: number;
    }
  /** The selected fields of header blocks (FETCH `HEADER.FIELDS`, `HEADER.FIELDS.NOT`), each with its blank line. */
  | {
      /** The request's kind. */
      readonly op: 'header-fields';
      /** The header blocks, one answer each, in order. */
      readonly requests: readonly ImapHeaderFieldsRequest[];
    }
  /** Leaf parts' bodies without their Content-Transfer-Encoding (FETCH BINARY, BINARY.SIZE; see `binary.ts`). */
  | {
      /** The request's kind. */
      readonly op: 'binary';
      /** The parts to decode, one answer each, in order. */
      readonly requests: readonly ImapBinaryRequest[];
    }
  /** Changes the flags of messages of the open mailbox (STORE), with CONDSTORE's `unchangedSince`. */
  | {
      /** The request's kind. */
      readonly op: 'store';
      /** The UIDs of the messages. */
      readonly uids: readonly number[];
      /** Set, add or remove the flags. */
      readonly operation: FlagOperation;
      /** The flags. */
      readonly flags: readonly string[];
      /** Leave alone the messages whose MODSEQ is above this one (UNCHANGEDSINCE, RFC 7162 §3.1.3). */
      readonly unchangedSince?: number;
    }
  /** Removes those of the messages that have `\Deleted` (EXPUNGE, UID EXPUNGE). */
  | {
      /** The request's kind. */
      readonly op: 'expunge';
      /** The UIDs of the messages to consider. */
      readonly uids: readonly number[];
    }
  /** For each message of the open mailbox, whether it holds each SEARCH BODY or TEXT term. */
  | {
      /** The request's kind. */
      readonly op: 'search-text';
      /** The UIDs of the messages to search. */
      readonly uids: readonly number[];
      /** The terms to look for. */
      readonly terms: readonly SearchTextTerm[];
    }
  /** Copies messages of the open mailbox to another (COPY), or, `move`, moves them there (MOVE). */
  | {
      /** The request's kind. */
      readonly op: 'copy';
      /** The UIDs of the messages. */
      readonly uids: readonly number[];
      /** The destination mailbox. */
      readonly mailbox: string;
      /** Move the messages instead of copying them. */
      readonly move: boolean;
    };

/** One header block of a `header-fields` request: the bytes `[start, end)` of message `uid`. */
export interface ImapHeaderFieldsRequest {
  /** The UID of the message. */
  readonly uid: number;
  /** The offset of the header block's first octet. */
  readonly start: number;
  /** The offset just past the header block. */
  readonly end: number;
  /** The field names to keep (or, `exclude`, to drop). */
  readonly fields: readonly string[];
  /** Drop the fields named instead of keeping them (`HEADER.FIELDS.NOT`). */
  readonly exclude: boolean;
}

/** What a `select` request answers: the counters, and the keywords in use (for FLAGS). */
export interface ImapSelectResult {
  /** The mailbox's counters. */
  readonly status: MailboxStatus;
  /** The keywords set on any message, sorted. */
  readonly keywords: readonly string[];
  /** The UIDs of the messages, ascending: the session's first view. */
  readonly uids: readonly number[];
  /** The UIDs that are `\Recent` in this session (RFC 3501 §2.3.2). */
  readonly recent: readonly number[];
  /** The UID of the first message without `\Seen`, if any. */
  readonly firstUnseen?: number;
  /** With `changedSince`: the messages whose MODSEQ is above it, ascending by UID. */
  readonly changed?: readonly MessageInfo[];
}

/** What a `store` request answers. */
export interface ImapFlagsResult {
  /** The messages asked for that still exist, with their flags after the change. */
  readonly messages: readonly MessageInfo[];
  /** The UIDs whose flags this request changed. */
  readonly changed: readonly number[];
  /** The UIDs left alone because their MODSEQ was above `unchangedSince`. */
  readonly modified: readonly number[];
}

/** A change to the selected mailbox, for {@link ImapServerSession.mailboxChanged}; `recent` for a message this session is first to see. */
export type ImapMailboxChange = MailboxChange & {
  /** The message is `\Recent` for this session (RFC 3501 §2.3.2). */
  readonly recent?: boolean;
};

/**
 * Which messages are `\Recent` for which session (RFC 3501 §2.3.2): the first session to see a new message
 * with SELECT, or to be told of it while selected read-write, claims it. One registry serves every session
 * of a server process; it does not outlive the process.
 */
export class ImapRecentClaims {
  /** Per user, per mailbox: the UIDVALIDITY and the highest UID claimed. */
  readonly #claimed = new Map<string, Map<string, { uidValidity: number; highest: number }>>();

  /** The UIDs above the highest already claimed in the mailbox; `claim` records them as this caller's. */
  take(
    user: string,
    mailbox: string,
    uidValidity: number,
    uids: readonly number[],
    claim: boolean,
  ): number[] {
    const mailboxes = this.#claimed.get(user);
    let entry = mailboxes?.get(mailbox);
    if (entry?.uidValidity !== uidValidity) entry = { uidValidity, highest: 0 };
    const highest = entry.highest;
    const taken = uids.filter((uid) => uid > highest);
    if (claim && taken.length > 0) entry.highest = Math.max(highest, ...taken.slice(-1));
    if (claim && mailboxes) mailboxes.set(mailbox, entry);
    else if (claim) this.#claimed.set(user, new Map([[mailbox, entry]]));
    return taken;
  }

  /**
   * Moves the claims of a mailbox the user renamed, and of its children, to their new names (canonical
   * names, as the store gives them). INBOX's messages move to a new mailbox, with a new UIDVALIDITY: its
   * claims stay.
   */
  renamed(user: string, from: string, to: string): void {
    const mailboxes = this.#claimed.get(user);
    if (!mailboxes || from === 'INBOX') return;
    const prefix = `${from}${MAILBOX_DELIMITER}`;
    for (const [name, entry] of [...mailboxes]) {
      if (name !== from && !name.startsWith(prefix)) continue;
      mailboxes.delete(name);
      mailboxes.set(to + name.slice(from.length), entry);
    }
  }
}

/** Options of {@link ImapStoreBridge}. */
export interface ImapStoreBridgeOptions {
  /** Receives the selected mailbox's changes as they happen; give them to the session's `mailboxChanged`. */
  readonly onChange?: (change: ImapMailboxChange) => void;
  /** The server's `\Recent` registry; without it no message is ever `\Recent`. */
  readonly recent?: ImapRecentClaims;
}

/** What a `fetch` request answers. */
export interface ImapFetchResult {
  /** The messages that still exist, ascending by UID, with their flags after `seen`. */
  readonly messages: readonly MessageInfo[];
  /** The structure of each message, in the same order, when asked for. */
  readonly structures?: readonly MessageStructure[];
  /** The UIDs that `seen` gave `\Seen`. */
  readonly seen: readonly number[];
  /** The octets `[start, end)` of a message, streamed from the store when the response is written. */
  content(uid: number, start: number, end: number): LiteralSource;
}

/** The answer to each kind of {@link ImapStoreRequest}, by `op`. */
export interface ImapStoreResults {
  /** Every mailbox of the user. */
  list: MailboxListEntry[];
  /** The mailbox's counters. */
  status: MailboxStatus;
  /** The opened mailbox. */
  select: ImapSelectResult;
  /** Nothing. */
  create: undefined;
  /** Nothing. */
  delete: undefined;
  /** Nothing. */
  subscribe: undefined;
  /** Nothing. */
  unsubscribe: undefined;
  /** Nothing. */
  rename: undefined;
  /** Nothing. */
  unselect: undefined;
  /** Nothing. */
  'append-begin': undefined;
  /** The stored message once `last`. */
  'append-data': AppendResult | undefined;
  /** The messages and their structures. */
  fetch: ImapFetchResult;
  /** The selected header fields, per block, in the order asked. */
  'header-fields': Uint8Array[];
  /** The decoded parts, in the order asked. */
  binary: Uint8Array[];
  /** The messages' flags after the change. */
  store: ImapFlagsResult;
  /** Nothing: the changes found arrive through `onChange`. */
  sync: undefined;
  /** The user's storage use and limits. */
  quota: QuotaUsage;
  /** Nothing. */
  'append-undo': undefined;
  /** The UIDs removed. */
  expunge: number[];
  /** The UIDs of the copies (RFC 4315 COPYUID). */
  copy: CopyResult;
  /** Per message, in order, per term, in order. */
  'search-text': boolean[][];
}

/** Any answer to a store request. */
export type ImapStoreResult = ImapStoreResults[keyof ImapStoreResults];

/**
 * Runs a session's store requests against one user's mail, and holds the mailbox the session has
 * open. Any driver can use it: the Node server does, and so do the transcript tests with the memory store.
 */
export class ImapStoreBridge {
  readonly #mail: UserMail;
  readonly #options: ImapStoreBridgeOptions;
  #mailbox: Mailbox | undefined;
  #readOnly = true;
  #uidValidity = 0;
  /**
   * The selected mailbox's change feed while its changes are forwarded; unset to stop forwarding (closing
   * the mailbox ends the feed itself, so no AbortController of ours is needed).
   */
  #following: AsyncIterator<MailboxChange> | undefined;
  /** The highest UID whose append the change feed has passed to `onChange`. */
  #forwardedUid = 0;
  /** Requests waiting for the feed to pass an appended UID on. */
  #waiters: { readonly uid: number; readonly resolve: () => void }[] = [];
  #append: PendingAppend | undefined;

  /** A bridge to `mail`, a handle it now owns: {@link close} releases it. */
  constructor(mail: UserMail, options: ImapStoreBridgeOptions = {}) {
    this.#mail = mail;
    this.#options = options;
  }

  /** The user's mail. */
  get mail(): UserMail {
    return this.#mail;
  }

  /** Runs one request; store errors are thrown as they are, for the session to map to response codes. */
  async run(request: ImapStoreRequest): Promise<ImapStoreResult> {
    const mail = this.#mail;
    switch (request.op) {
      case 'list':
        return mail.list();
      case 'status':
        return mail.status(request.mailbox);
      case 'create':
        await mail.create(
          request.mailbox,
          request.specialUse === undefined ? undefined : { specialUse: request.specialUse },
        );
        return undefined;
      case 'delete':
        await mail.delete(request.mailbox);
        return undefined;
      case 'subscribe':
        await mail.subscribe(request.mailbox);
        return undefined;
      case 'unsubscribe':
        await mail.unsubscribe(request.mailbox);
        return undefined;
      case 'rename':
        await mail.rename(request.mailbox, request.newName);
        this.#options.recent?.renamed(
          mail.user,
          canonicalMailboxName(request.mailbox),
          canonicalMailboxName(request.newName),
        );
        return undefined;
      case 'select':
        return this.#select(request.mailbox, request.readOnly, request.changedSince);
      case 'sync':
        await this.#open().sync();
        // The changes found are published now; let them reach `onChange` before the session answers.
        await new Promise((resolve) => setTimeout(resolve, 0));
        return undefined;
      case 'quota':
        return mail.quota();
      case 'append-undo': {
        const mailbox = await mail.open(request.mailbox);
        try {
          await mailbox.expunge(request.uids);
        } finally {
          await mailbox.close();
        }
        return undefined;
      }
      case 'unselect':
        return this.#unselect(request.expunge);
      case 'append-begin':
        return this.#appendBegin(request.mailbox, request.flags, request.internalDate);
      case 'append-data':
        return this.#appendData(request.data, request.last);
      case 'fetch':
        return this.#fetch(this.#open(), request);
      case 'header-fields':
        return Promise.all(request.requests.map((fields) => this.#headerFields(this.#open(), fields)));
      case 'binary': {
        const mailbox = this.#open();
        return Promise.all(
          request.requests.map((part) =>
            decodePart(readChunks(mailbox, part.uid, part), part).catch(async (error: unknown) => {
              await mustBeExpunged(mailbox, part.uid, error);
              return new Uint8Array(0);
            }),
          ),
        );
      }
      case 'store': {
        const mailbox = this.#open();
        const { uids, operation, flags, unchangedSince } = request;
        const result = await mailbox.setFlags(
          uids,
          operation,
          flags,
          unchangedSince === undefined ? undefined : { unchangedSince },
        );
        return {
          messages: await mailbox.messages(uids),
          changed: result.changed.map((change) => change.uid),
          modified: result.modified,
        };
      }
      case 'expunge': {
        const mailbox = this.#open();
        const deleted = (await mailbox.messages(request.uids)).filter((message) =>
          message.flags.includes('\\Deleted'),
        );
        return deleted.length === 0 ? [] : mailbox.expunge(deleted.map((message) => message.uid));
      }
      case 'search-text':
        return this.#searchText(this.#open(), request.uids, request.terms);
      case 'copy': {
        const mailbox = this.#open();
        const intoSelected = this.#isSelected(request.mailbox);
        const result = request.move
          ? await mailbox.move(request.uids, request.mailbox)
          : await mailbox.copy(request.uids, request.mailbox);
        if (intoSelected && result.targetUids.length > 0)
          await this.#forwarded(Math.max(...result.targetUids));
        return result;
      }
    }
  }

  /**
   * Closes the open mailbox, if any, drops an unfinished APPEND and releases the user's mail (the bridge
   * owns the `UserMail` handle it was given): at the end of the session, or at UNAUTHENTICATE.
   */
  async close(): Promise<void> {
    try {
      await this.#abortAppend();
      await this.#unselect(false);
    } finally {
      await this.#mail.release();
    }
  }

  /**
   * Whether `name` is the open mailbox, by the name the mailbox has now: another session may have renamed
   * it, and given its old name to a new mailbox.
   */
  #isSelected(name: string): boolean {
    const mailbox = this.#mailbox;
    if (!mailbox) return false;
    try {
      return canonicalMailboxName(name) === mailbox.name;
    } catch {
      return false;
    }
  }

  #open(): Mailbox {
    if (!this.#mailbox) throw new Error('no mailbox is open');
    return this.#mailbox;
  }

  async #appendBegin(name: string, flags: readonly string[], internalDate?: Date): Promise<undefined> {
    await this.#abortAppend();
    const own = !this.#isSelected(name);
    const mailbox = own ? await this.#mail.open(name) : this.#mailbox!;
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const result = mailbox.append(readable, { flags, ...(internalDate ? { internalDate } : {}) });
    result.catch(() => {});
    this.#append = { mailbox, own, writer: writable.getWriter(), result };
    return undefined;
  }

  async #appendData(data: Uint8Array, last: boolean): Promise<AppendResult | undefined> {
    const append = this.#append;
    if (!append) throw new Error('no APPEND is in progress');
    try {
      // The store may fail before it has read everything: its result ends the wait as well.
      await Promise.race([append.writer.write(data), append.result]);
      if (!last) return undefined;
      await append.writer.close();
      const stored = await append.result;
      this.#append = undefined;
      if (append.own) await append.mailbox.close();
      else await this.#forwarded(stored.uid);
      return stored;
    } catch (error) {
      await this.#abortAppend();
      throw error;
    }
  }

  async #abortAppend(): Promise<void> {
    const append = this.#append;
    if (!append) return;
    this.#append = undefined;
    await append.writer.abort(new Error('APPEND abandoned')).catch(() => {});
    if (append.own) await append.mailbox.close();
  }

  async #fetch(
    mailbox: Mailbox,
    request: Extract<ImapStoreRequest, { op: 'fetch' }>,
  ): Promise<ImapFetchResult> {
    const { structure, seen, changedSince } = request;
    let uids = request.uids;
    if (changedSince !== undefined)
      uids = (await mailbox.messages(uids))
        .filter((message) => message.modseq > changedSince)
        .map((message) => message.uid);
    let marked: number[] = [];
    if (seen && uids.length > 0)
      marked = (await mailbox.setFlags(uids, 'add', ['\\Seen'])).changed.map((change) => change.uid);
    let messages: MessageInfo[] = [];
    let structures: MessageStructure[] | undefined;
    if (uids.length > 0) {
      // The index entries and the structures are asked for at once; a message expunged meanwhile has no
      // structure, and is left out like one missing from the entries.
      const [found, parsed] = await Promise.all([
        mailbox.messages(uids),
        structure ? mailbox.structures(uids) : undefined,
      ]);
      messages = found;
      if (parsed) {
        const byUid = new Map<number, MessageStructure>();
        uids.forEach((uid, index) => {
          const one = parsed[index];
          if (one) byUid.set(uid, one);
        });
        messages = found.filter((message) => byUid.has(message.uid));
        structures = messages.map((message) => byUid.get(message.uid)!);
      }
    }
    return {
      messages,
      ...(structures ? { structures } : {}),
      seen: marked,
      content: (uid, start, end) => content(mailbox, uid, start, end),
    };
  }

  async #searchText(
    mailbox: Mailbox,
    uids: readonly number[],
    terms: readonly SearchTextTerm[],
  ): Promise<boolean[][]> {
    const results: boolean[][] = [];
    const needles = terms.map((term) => term.value);
    for (const uid of uids) {
      // A structure that cannot be had leaves the raw octets, searched whole; a store failure then
      // fails the read as well, unless the message has been expunged meanwhile: it matches nothing.
      const structure = await mailbox.structure(uid).catch(() => undefined);
      const read = (start: number, end?: number) => streamChunks(mailbox.read(uid, { start, end }));
      try {
        if (structure) results.push(await searchMessageText(structure, read, terms));
        else results.push(await streamContains(read(0), needles));
      } catch (error) {
        await mustBeExpunged(mailbox, uid, error);
        results.push(terms.map(() => false));
      }
    }
    return results;
  }

  /** The header fields asked for; a message expunged meanwhile has none (only the blank line). */
  async #headerFields(mailbox: Mailbox, request: ImapHeaderFieldsRequest): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    try {
      for await (const chunk of streamChunks(mailbox.read(request.uid, request))) chunks.push(chunk);
    } catch (error) {
      await mustBeExpunged(mailbox, request.uid, error);
      return new Uint8Array([0x0d, 0x0a]);
    }
    const root = parseMessageSync(concatBytes(chunks), { decode: false }).parts;
    const text = request.exclude ? 'HEADER.FIELDS.NOT' : 'HEADER.FIELDS';
    const content = resolveSection(root, { part: [], text, fields: request.fields });
    return content.kind === 'bytes' ? content.bytes : new Uint8Array(0);
  }

  async #select(name: string, readOnly: boolean, changedSince?: number): Promise<ImapSelectResult> {
    await this.#unselect(false);
    const mailbox = await this.#mail.open(name);
    try {
      // Changes are followed from before the mailbox is read: none falls between the two.
      const changes = this.#follow(mailbox);
      const [status, messages] = await Promise.all([mailbox.status(), mailbox.messages()]);
      const keywords = new Set<string>();
      for (const message of messages)
        for (const flag of message.flags) if (!flag.startsWith('\\')) keywords.add(flag);
      this.#mailbox = mailbox;
      this.#readOnly = readOnly;
      this.#uidValidity = status.uidValidity;
      const uids = messages.map((message) => message.uid);
      const firstUnseen = messages.find((message) => !message.flags.includes('\\Seen'))?.uid;
      // Forwarding starts once the session has this answer (a driver gives it in the turn the request
      // settles): a change made since the messages were read would reach a session not yet selected,
      // which drops it. The feed holds the changes meanwhile.
      setTimeout(() => void changes.run(), 0);
      return {
        status,
        keywords: [...keywords].sort(),
        uids,
        recent: this.#recent(uids),
        ...(firstUnseen === undefined ? {} : { firstUnseen }),
        ...(changedSince === undefined
          ? {}
          : { changed: messages.filter((message) => message.modseq > changedSince) }),
      };
    } catch (error) {
      this.#following = undefined;
      await mailbox.close();
      throw error;
    }
  }

  /** Subscribes to the mailbox's changes at once; `run()` forwards them to `onChange` until unselected. */
  #follow(mailbox: Mailbox): { run(): Promise<void> } {
    const onChange = this.#options.onChange;
    const iterator = mailbox.changes()[Symbol.asyncIterator]();
    this.#following = iterator;
    const first = iterator.next();
    first.catch(() => {});
    return {
      run: async () => {
        try {
          for (let next = await first; !next.done; next = await iterator.next()) {
            const change = next.value;
            if (this.#following !== iterator) break;
            if (change.type === 'append') {
              const { uid } = change.message;
              const recent = this.#recent([uid]).length > 0;
              onChange?.(recent ? { ...change, recent } : change);
              this.#forwardedUid = Math.max(this.#forwardedUid, uid);
              this.#wake((waiter) => waiter.uid <= uid);
            } else onChange?.(change);
          }
        } catch {
          // A feed that fell too far behind: the session must re-read the mailbox.
          if (this.#following === iterator) onChange?.({ type: 'gone' });
        } finally {
          if (this.#following === iterator) this.#following = undefined;
          this.#wake(() => true);
        }
      },
    };
  }

  /**
   * Resolves once the change feed has passed the append of `uid` (and so of every UID below it) to
   * `onChange`: the session then numbers its own new messages after everyone else's.
   */
  async #forwarded(uid: number): Promise<void> {
    if (!this.#following || this.#forwardedUid >= uid) return;
    await new Promise<void>((resolve) => this.#waiters.push({ uid, resolve }));
  }

  #wake(ready: (waiter: { readonly uid: number }) => boolean): void {
    const waiting = this.#waiters;
    this.#waiters = waiting.filter((waiter) => !ready(waiter));
    for (const waiter of waiting) if (ready(waiter)) waiter.resolve();
  }

  /** Claims `uids` as `\Recent` for this session (read-write) or tells which are unclaimed (read-only). */
  #recent(uids: readonly number[]): number[] {
    const recent = this.#options.recent;
    if (!recent || uids.length === 0) return [];
    return recent.take(this.#mail.user, this.#mailbox!.name, this.#uidValidity, uids, !this.#readOnly);
  }

  async #unselect(expunge: boolean): Promise<undefined> {
    const mailbox = this.#mailbox;
    if (!mailbox) return undefined;
    this.#following = undefined;
    this.#forwardedUid = 0;
    this.#wake(() => true);
    this.#mailbox = undefined;
    try {
      if (expunge) {
        const deleted = (await mailbox.messages()).filter((message) => message.flags.includes('\\Deleted'));
        if (deleted.length > 0) await mailbox.expunge(deleted.map((message) => message.uid));
      }
    } finally {
      await mailbox.close();
    }
    return undefined;
  }
}

/** An APPEND whose message is being streamed into the store. */
interface PendingAppend {
  readonly mailbox: Mailbox;
  /** The bridge opened the mailbox for this APPEND (it is not the selected one), and closes it. */
  readonly own: boolean;
  readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly result: Promise<AppendResult>;
}

/** Whether two names are one mailbox: equal, or both INBOX in any case. */
export function sameMailbox(a: string, b: string): boolean {
  return a === b || (a.toUpperCase() === 'INBOX' && b.toUpperCase() === 'INBOX');
}

/** A FETCH literal up to this size is read in one piece when the store can ({@link Mailbox.readBytes}); larger ones stream. */
const WHOLE_READ = 1024 * 1024;

/** Octets of blank filler given at once in place of an expunged message's. */
const FILLER_CHUNK = 64 * 1024;

/**
 * The octets `[start, end)` of message `uid`, read when the literal's first chunk is asked for. Its size
 * is announced before then: a message another session expunges meanwhile gives blank octets, as many as
 * were announced, instead of failing (RFC 2180 §4.1.3's empty data for an expunged message).
 */
function content(mailbox: Mailbox, uid: number, start: number, end: number): LiteralSource {
  const size = end - start;
  if (mailbox.readBytes === undefined || size > WHOLE_READ)
    return { size, chunks: { [Symbol.asyncIterator]: () => messageChunks(mailbox, uid, start, end) } };
  return {
    size,
    chunks: {
      [Symbol.asyncIterator]: () => {
        let asked = false;
        return {
          async next(): Promise<IteratorResult<Uint8Array>> {
            if (asked) return { done: true, value: undefined };
            asked = true;
            let bytes: Uint8Array;
            try {
              bytes = await mailbox.readBytes!(uid, { start, end });
            } catch (error) {
              await mustBeExpunged(mailbox, uid, error);
              bytes = new Uint8Array(size).fill(0x20);
            }
            return bytes.length === 0 ? { done: true, value: undefined } : { done: false, value: bytes };
          },
        };
      },
    },
  };
}

/** The octets `[start, end)` of message `uid`, streamed; the rest blank once it is found expunged. */
async function* messageChunks(
  mailbox: Mailbox,
  uid: number,
  start: number,
  end: number,
): AsyncGenerator<Uint8Array> {
  let left = end - start;
  try {
    for await (const chunk of streamChunks(mailbox.read(uid, { start, end }))) {
      left -= chunk.length;
      yield chunk;
    }
  } catch (error) {
    await mustBeExpunged(mailbox, uid, error);
    for (; left > 0; left -= FILLER_CHUNK) yield new Uint8Array(Math.min(left, FILLER_CHUNK)).fill(0x20);
  }
}

/** Rethrows `error`, a failed read of message `uid`, unless the message has been expunged. */
async function mustBeExpunged(mailbox: Mailbox, uid: number, error: unknown): Promise<void> {
  const found = await mailbox.messages([uid]).catch(() => undefined);
  if (found?.length !== 0) throw error;
}

/** The chunks of `mailbox.read(uid, range)`; a read that fails at once fails the first chunk, not the call. */
async function* readChunks(mailbox: Mailbox, uid: number, range: ByteRange): AsyncGenerator<Uint8Array> {
  yield* streamChunks(mailbox.read(uid, range));
}

/** A stream's chunks; a consumer that stops early cancels the stream. */
async function* streamChunks(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        return;
      }
      yield value;
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

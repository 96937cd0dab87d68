import type { Mailbox, MailboxListEntry, MailboxStatus, SpecialUse, UserMail } from '@postwire/store';

/** A store operation the session needs; its driver runs it (see {@link ImapStoreBridge}). */
export type ImapStoreRequest =
  | { readonly op: 'list' }
  | { readonly op: 'status'; readonly mailbox: string }
  | { readonly op: 'create'; readonly mailbox: string; readonly specialUse?: SpecialUse }
  | { readonly op: 'delete' | 'subscribe' | 'unsubscribe'; readonly mailbox: string }
  | { readonly op: 'rename'; readonly mailbox: string; readonly newName: string }
  /** Open a mailbox (closing the one open before), for SELECT or, `readOnly`, EXAMINE. */
  | { readonly op: 'select'; readonly mailbox: string; readonly readOnly: boolean }
  /** Close the open mailbox; `expunge` first removes its `\Deleted` messages (CLOSE, RFC 9051 §6.4.1). */
  | { readonly op: 'unselect'; readonly expunge: boolean };

/** What a `select` request answers: the counters, and the keywords in use (for FLAGS). */
export interface ImapSelectResult {
  readonly status: MailboxStatus;
  readonly keywords: readonly string[];
}

/** The answer to each kind of {@link ImapStoreRequest}, by `op`. */
export interface ImapStoreResults {
  list: MailboxListEntry[];
  status: MailboxStatus;
  select: ImapSelectResult;
  create: undefined;
  delete: undefined;
  subscribe: undefined;
  unsubscribe: undefined;
  rename: undefined;
  unselect: undefined;
}

/** Any answer to a store request. */
export type ImapStoreResult = ImapStoreResults[keyof ImapStoreResults];

/**
 * Runs a session's store requests against one user's mail, and holds the mailbox the session has
 * open. Any driver can use it: the Node server does, and so do the transcript tests with the memory store.
 */
export class ImapStoreBridge {
  readonly #mail: UserMail;
  #mailbox: Mailbox | undefined;

  constructor(mail: UserMail) {
    this.#mail = mail;
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
        return undefined;
      case 'select':
        return this.#select(request.mailbox);
      case 'unselect':
        return this.#unselect(request.expunge);
    }
  }

  /** Closes the open mailbox, if any: at the end of the session. */
  async close(): Promise<void> {
    await this.#unselect(false);
  }

  async #select(name: string): Promise<ImapSelectResult> {
    await this.#unselect(false);
    const mailbox = await this.#mail.open(name);
    try {
      const [status, messages] = await Promise.all([mailbox.status(), mailbox.messages()]);
      const keywords = new Set<string>();
      for (const message of messages)
        for (const flag of message.flags) if (!flag.startsWith('\\')) keywords.add(flag);
      this.#mailbox = mailbox;
      return { status, keywords: [...keywords].sort() };
    } catch (error) {
      await mailbox.close();
      throw error;
    }
  }

  async #unselect(expunge: boolean): Promise<undefined> {
    const mailbox = this.#mailbox;
    if (!mailbox) return undefined;
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

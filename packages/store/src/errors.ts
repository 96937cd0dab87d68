import { ErrorCode, PostwireError } from '@postwire/core';

/** Why a mailbox or user name was refused. */
export type InvalidNameReason =
  | 'empty'
  | 'too-long'
  | 'component-too-long'
  | 'empty-component'
  | 'dot-component'
  | 'control-character'
  | 'forbidden-character'
  | 'invalid-utf7'
  | 'not-canonical';

/** A mailbox (or user) name that could reach outside the user's mail, or that is malformed. */
export class InvalidMailboxNameError extends PostwireError {
  /** Why the name was refused. */
  readonly reason: InvalidNameReason;

  constructor(reason: InvalidNameReason, message = `invalid mailbox name (${reason})`) {
    super(ErrorCode.InvalidMailboxName, message);
    this.reason = reason;
  }
}

/** The mailbox, or a message in it, does not exist (IMAP `[NONEXISTENT]`). */
export class MailboxNotFoundError extends PostwireError {
  /** The mailbox's name. */
  readonly mailbox: string;

  constructor(mailbox: string, message = `mailbox ${JSON.stringify(mailbox)} does not exist`) {
    super(ErrorCode.NonExistent, message);
    this.mailbox = mailbox;
  }
}

/** The mailbox already exists (IMAP `[ALREADYEXISTS]`). */
export class MailboxExistsError extends PostwireError {
  /** The mailbox's name. */
  readonly mailbox: string;

  constructor(mailbox: string) {
    super(ErrorCode.AlreadyExists, `mailbox ${JSON.stringify(mailbox)} already exists`);
    this.mailbox = mailbox;
  }
}

/** Another session holds the mailbox's lock (POP3 `[IN-USE]`, IMAP `[INUSE]`). */
export class MailboxInUseError extends PostwireError {
  constructor(message = 'the mailbox is locked by another session') {
    super(ErrorCode.InUse, message);
  }
}

/** The operation would exceed the user's quota (IMAP `[OVERQUOTA]`, SMTP 552). */
export class OverQuotaError extends PostwireError {
  constructor(message = 'quota exceeded') {
    super(ErrorCode.OverQuota, message);
  }
}

/** The store cannot do this (IMAP `[CANNOT]`): delete INBOX, rename a mailbox into itself … */
export class StoreRefusedError extends PostwireError {
  constructor(message: string) {
    super(ErrorCode.Cannot, message);
  }
}

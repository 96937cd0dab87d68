import { ErrorCode, InvalidArgumentError, PostwireError, ProtocolError } from '@postwire/core';
import { isTransientFailure, replyText, type SmtpReply } from '../protocol/reply.js';
import type { SmtpRecipientResult } from './transaction.js';

/**
 * The server refused with a 4yz or 5yz reply. `temporary` says whether the same message may be
 * accepted later (4yz: retry), `permanent` that it will not (5yz: bounce). When it refused every
 * recipient, `recipients` holds each one's reply.
 */
export class SmtpReplyError extends ProtocolError {
  /** The refusing reply, with its code, enhanced code and text. */
  readonly reply: SmtpReply;
  /** The command the reply answered: `MAIL`, `RCPT`, `DATA`, `BDAT`, `AUTH`, `EHLO`, or `CONNECT` for the greeting. */
  readonly command: string;
  /** Each recipient's result, when the error is that none was accepted. */
  readonly recipients: readonly SmtpRecipientResult[];

  constructor(command: string, reply: SmtpReply, recipients: readonly SmtpRecipientResult[] = []) {
    const code = reply.enhancedCode ? `${reply.code} ${reply.enhancedCode}` : String(reply.code);
    super(`${command} refused: ${code} ${replyText(reply)}`);
    this.reply = reply;
    this.command = command;
    this.recipients = recipients;
  }

  /** A 4yz reply: try again later. */
  get temporary(): boolean {
    return isTransientFailure(this.reply);
  }

  /** A 5yz reply: do not retry this message to this server. */
  get permanent(): boolean {
    return !this.temporary;
  }
}

/** The SMTP extensions a message or an envelope may need the server to offer. */
export type SmtpRequiredExtension =
  | 'SIZE'
  | '8BITMIME'
  | 'BINARYMIME'
  | 'SMTPUTF8'
  | 'DSN'
  | 'REQUIRETLS'
  | 'CHUNKING';

/**
 * The message cannot go to this server as it is, found before any of it was sent: it needs an extension
 * the server does not offer (8-bit text without 8BITMIME, a UTF-8 address without SMTPUTF8, REQUIRETLS
 * …), or it is larger than the server's SIZE. Permanent for this server.
 */
export class SmtpExtensionError extends PostwireError {
  /** What the server lacks. */
  readonly extension: SmtpRequiredExtension;

  constructor(extension: SmtpRequiredExtension, message: string) {
    super(ErrorCode.Unsupported, message);
    this.extension = extension;
  }
}

/**
 * DKIM signing failed (`INVALID_ARGUMENT`, like every unusable argument): a signer or its key is unusable
 * (not a key, not a key of the algorithm, a domain or selector that is no name), or the message's header is
 * larger than the signer reads. Found before anything was sent; `cause` holds `@postwire/mailauth`'s error.
 */
export class SmtpSigningError extends InvalidArgumentError {
  constructor(message: string, cause: unknown) {
    super(message);
    this.cause = cause;
  }
}

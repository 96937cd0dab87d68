import { CR, concatBytes, InvalidArgumentError, LF, utf8 } from '@postwire/core';
import { isOwnAuthenticationResults, type MessageAuthentication, type SpfCheck } from '@postwire/mailauth';
import { type HeaderField, parseHeaderBlock } from '@postwire/mime';
import type { SmtpReply } from '../protocol/reply.js';
import type { SmtpEnvelope } from './session.js';

/**
 * A spam classifier's verdict on a message, written into it as SpamAssassin does: `X-Spam-Flag: YES` on
 * spam, `X-Spam-Score` and `X-Spam-Level` with a score, and `X-Spam-Status`.
 */
export interface SmtpSpamVerdict {
  /** The message is spam. */
  readonly spam: boolean;
  /** The score (written with one decimal, as SpamAssassin does). */
  readonly score?: number;
  /** The score from which a message is spam, for `required=` in `X-Spam-Status`. */
  readonly required?: number;
  /** The names of the rules that hit, for `tests=` (letters, digits, `_`, `-` and `.`). */
  readonly tests?: readonly string[];
  /** Further fields to add, by name (no line breaks in the values). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** What mail authentication found for a message: `@postwire/mailauth`'s results, and the spam verdict. */
export interface SmtpMessageAuthentication extends MessageAuthentication {
  /** The verdict of `classify`, when there is one. */
  readonly spam?: SmtpSpamVerdict;
}

/** A received message with its authentication, as the classifier and the verdict hook see it. */
export interface SmtpAuthenticatedMessage {
  /** The transaction's envelope. */
  readonly envelope: SmtpEnvelope;
  /**
   * The message as it will be delivered, whole: the Authentication-Results field, the server's `Received:`
   * header, then the client's message without the fields forged in our name (and, when classifying, without
   * the `X-Spam-` fields it brought). For the verdict hook, the classifier's fields lead.
   */
  readonly bytes: Uint8Array;
  /** What mail authentication found. */
  readonly authentication: SmtpMessageAuthentication;
}

/** The `X-Spam-` fields a classifier writes, removed from incoming messages when one runs. */
const SPAM_FIELDS = new Set(['x-spam-flag', 'x-spam-status', 'x-spam-score', 'x-spam-level']);

/** The column at which header lines are folded (RFC 5322 §2.1.1). */
const FOLD_WIDTH = 78;
/** The most stars of `X-Spam-Level`, as SpamAssassin writes it. */
const MAX_STARS = 50;

const TEST_NAME = /^[A-Za-z0-9_.-]+$/;
/** A field name: printable US-ASCII but the colon (RFC 5322 §2.2). */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
/** A C0 control but HTAB, or DEL: they would end or corrupt a header line. */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/**
 * A ready-made `spf` hook: refuses the sender when SPF says `fail`, with `550 5.7.23` (RFC 7372 §3.2) and
 * the domain's explanation when it is printable (RFC 7208 §8.4); accepts every other result.
 */
export function refuseSpfFail(check: SpfCheck): SmtpReply | undefined {
  if (check.result !== 'fail') return undefined;
  const explanation =
    check.explanation !== undefined && /^[\x20-\x7e]{1,400}$/.test(check.explanation)
      ? check.explanation
      : `SPF of ${check.domain} does not allow this client to send for it`;
  return { code: 550, enhancedCode: '5.7.23', lines: [explanation] };
}

/**
 * A ready-made verdict hook: refuses a message whose DMARC check asks for `reject`, with `550 5.7.1`, as
 * receivers commonly do; accepts every other message.
 */
export function refuseDmarcReject(authentication: MessageAuthentication): SmtpReply | undefined {
  if (authentication.dmarc.disposition !== 'reject') return undefined;
  return {
    code: 550,
    enhancedCode: '5.7.1',
    lines: [`Unauthenticated mail from ${authentication.dmarc.fromDomain} is refused by its DMARC policy`],
  };
}

/**
 * The message to deliver, before any classifier's fields: `field` (the Authentication-Results field), the
 * server's `Received:` header, and the client's message from which every Authentication-Results field
 * claiming `authservId` is removed (RFC 8601 §5), and with `removeSpamFields` the `X-Spam-Flag`,
 * `-Status`, `-Score` and `-Level` fields too.
 */
export function authenticatedMessage(
  field: string,
  received: Uint8Array | undefined,
  message: Uint8Array,
  authservId: string,
  removeSpamFields: boolean,
): Uint8Array {
  const clean = withoutFields(
    message,
    (each) =>
      (each.key === 'authentication-results' && isOwnAuthenticationResults(each.value, authservId)) ||
      (removeSpamFields && SPAM_FIELDS.has(each.key)),
  );
  return concatBytes(received ? [utf8(field), received, clean] : [utf8(field), clean]);
}

/** `message` without the header fields `remove` picks, each with its line ending; the same bytes if none. */
function withoutFields(message: Uint8Array, remove: (field: HeaderField) => boolean): Uint8Array {
  const header = message.subarray(0, headerEnd(message));
  const unlimited = { maxHeaderSize: Number.MAX_SAFE_INTEGER, maxHeaderCount: Number.MAX_SAFE_INTEGER };
  const removed = parseHeaderBlock(header, unlimited).fields.filter(remove);
  if (removed.length === 0) return message;
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const field of removed) {
    const start = field.raw.byteOffset - header.byteOffset;
    let end = start + field.raw.length;
    if (message[end] === CR && message[end + 1] === LF) end += 2;
    else if (message[end] === LF) end++;
    parts.push(message.subarray(at, start));
    at = end;
  }
  parts.push(message.subarray(at));
  return concatBytes(parts);
}

/** Where the header ends: after the first empty line (CRLF or bare LF), or at the end of the message. */
function headerEnd(message: Uint8Array): number {
  let lineStart = 0;
  for (let i = 0; i < message.length; i++) {
    if (message[i] !== LF) continue;
    if (i === lineStart || (i === lineStart + 1 && message[lineStart] === CR)) return i + 1;
    lineStart = i + 1;
  }
  return message.length;
}

/**
 * The fields of a spam verdict, each with its CRLF, as SpamAssassin writes them: `X-Spam-Flag: YES` (on
 * spam only), `X-Spam-Score` and `X-Spam-Level` (a star per point, at most 50, when there is one), then
 * `X-Spam-Status: Yes|No, score=… required=… tests=…` folded at its words and the commas of its tests,
 * then the verdict's own `headers`.
 * @throws InvalidArgumentError for a score or `required` that is not a finite number, a test name that is
 * not letters, digits, `_`, `-` and `.`, or a header whose name is not a field name or whose value holds a
 * line break or control character.
 */
export function spamHeaders(verdict: SmtpSpamVerdict): string {
  const { score, required, tests } = verdict;
  let fields = verdict.spam ? 'X-Spam-Flag: YES\r\n' : '';
  const status: StatusWord[] = [{ text: verdict.spam ? 'Yes,' : 'No,', glue: ' ' }];
  if (score !== undefined) {
    const text = decimal('score', score);
    fields += `X-Spam-Score: ${text}\r\n`;
    const stars = Math.min(MAX_STARS, Math.floor(score));
    if (stars > 0) fields += `X-Spam-Level: ${'*'.repeat(stars)}\r\n`;
    status.push({ text: `score=${text}`, glue: ' ' });
  }
  if (required !== undefined) status.push({ text: `required=${decimal('required', required)}`, glue: ' ' });
  if (tests !== undefined) {
    for (const test of tests) {
      if (!TEST_NAME.test(test)) throw new InvalidArgumentError(`the spam test name "${test}" is not valid`);
    }
    const names = tests.length === 0 ? ['none'] : tests;
    names.forEach((name, index) => {
      const text = index < names.length - 1 ? `${name},` : name;
      status.push(index === 0 ? { text: `tests=${text}`, glue: ' ' } : { text, glue: '' });
    });
  }
  fields += foldStatus(status);
  for (const [name, value] of Object.entries(verdict.headers ?? {})) {
    if (!FIELD_NAME.test(name)) throw new InvalidArgumentError(`"${name}" is not a header field name`);
    if (CONTROL.test(value))
      throw new InvalidArgumentError(`header ${name} holds a line break or control character`);
    fields += `${name}: ${value}\r\n`;
  }
  return fields;
}

/** A word of `X-Spam-Status`, and what joins it to the word before on the same line. */
interface StatusWord {
  readonly text: string;
  readonly glue: ' ' | '';
}

/** `X-Spam-Status` of its words, lines of at most 78 columns where the words allow, folded with a tab. */
function foldStatus(words: readonly StatusWord[]): string {
  let field = 'X-Spam-Status:';
  let column = field.length;
  for (const { text, glue } of words) {
    if (column + glue.length + text.length > FOLD_WIDTH) {
      field += `\r\n\t${text}`;
      column = 1 + text.length;
    } else {
      field += glue + text;
      column += glue.length + text.length;
    }
  }
  return `${field}\r\n`;
}

function decimal(what: string, value: number): string {
  if (!Number.isFinite(value)) throw new InvalidArgumentError(`the spam ${what} must be a finite number`);
  return value.toFixed(1);
}

import {
  CRLF,
  concatBytes,
  InvalidArgumentError,
  LimitExceededError,
  ProtocolError,
  resolveLimits,
  utf8,
} from '@postwire/core';

/** An SMTP reply. `enhancedCode` is `class.subject.detail` when the reply carries one (it is then not part of `lines`). */
export interface SmtpReply {
  /** The three-digit reply code (RFC 5321 §4.2). */
  readonly code: number;
  /** The enhanced status code (RFC 3463), written once here rather than on every line. */
  readonly enhancedCode?: string;
  /** The text of each line, without the code, the separator and the enhanced code. Never empty. */
  readonly lines: readonly string[];
}

/** Options of {@link ReplyAssembler}. */
export interface ReplyAssemblerOptions {
  /** The most lines one reply may have; default 100. */
  readonly maxLines?: number;
}

/** Reply-code (RFC 5321 §4.2): `2`–`5`, then `0`–`5`, then any digit. */
const REPLY_CODE = /^[2-5][0-5]\d$/;
/** A reply line as received: any digit after the first is accepted, and the last line may stop at its code. */
const REPLY_LINE = /^([2-5]\d\d)(?:([ -])(.*))?$/s;
/** An enhanced status code (RFC 3463 §2). */
const ENHANCED_CODE = /^[245]\.\d{1,3}\.\d{1,3}$/;
/** An enhanced status code at the start of a line's text, ended by a space or by the end of the line (RFC 2034 §4). */
const LEADING_ENHANCED_CODE = /^([245]\.\d{1,3}\.\d{1,3})(?: |$)/;
/** Anything but textstring (RFC 5321 §4.2: HT, SP and printable US-ASCII). */
const NOT_TEXTSTRING = /[^\t\x20-\x7e]/;
/** The longest reply line, its code and CRLF included (RFC 5321 §4.5.3.1.5). */
const MAX_REPLY_LINE_OCTETS = 512;
/** The most lines of a reply: what the assembler accepts by default, and what the serializer writes at most. */
const MAX_REPLY_LINES = 100;

/**
 * Serializes a reply for the server: `code-text` lines then `code text`, CRLF each, the enhanced code
 * (if any) after the code on every line (RFC 2034 §4). An empty last text gives the bare code, but for
 * `334`, whose grammar always has the space (RFC 4954 §4: `"334" SP [base64]`).
 * @throws InvalidArgumentError for a code outside the reply-code grammar (200–599, second digit 0–5),
 * an enhanced code that is malformed or whose class differs from the code's first digit (so none on a
 * 3xx reply), text that is not printable US-ASCII or HT (a CR or LF would forge further replies), no
 * lines or more than 100, or a line longer than 512 octets.
 */
export function serializeReply(reply: SmtpReply): Uint8Array {
  const { code, enhancedCode, lines } = reply;
  if (!Number.isInteger(code) || !REPLY_CODE.test(String(code))) {
    throw new InvalidArgumentError(`${code} is not an SMTP reply code`);
  }
  if (
    enhancedCode !== undefined &&
    (!ENHANCED_CODE.test(enhancedCode) || enhancedCode[0] !== String(code)[0])
  ) {
    throw new InvalidArgumentError(
      `${JSON.stringify(enhancedCode)} is not an enhanced status code for a ${code} reply`,
    );
  }
  if (lines.length === 0 || lines.length > MAX_REPLY_LINES) {
    throw new InvalidArgumentError(`a reply has 1 to ${MAX_REPLY_LINES} lines`);
  }
  const chunks: Uint8Array[] = [];
  lines.forEach((text, index) => {
    if (NOT_TEXTSTRING.test(text)) {
      throw new InvalidArgumentError('reply text is printable US-ASCII, SP and HT only (no CR, LF or NUL)');
    }
    const separator = index === lines.length - 1 ? ' ' : '-';
    const body = enhancedCode === undefined ? text : text === '' ? enhancedCode : `${enhancedCode} ${text}`;
    const line =
      body === '' && separator === ' ' && code !== 334 ? String(code) : `${code}${separator}${body}`;
    if (line.length + CRLF.length > MAX_REPLY_LINE_OCTETS) {
      throw new InvalidArgumentError(`a reply line is at most ${MAX_REPLY_LINE_OCTETS} octets with its CRLF`);
    }
    chunks.push(utf8(line), CRLF);
  });
  return concatBytes(chunks);
}

/**
 * Assembles replies for the client from lines as the core `LineDecoder` yields them (without CRLF,
 * decoded by the caller: `decodeUtf8` keeps UTF-8 text readable, and any bytes are accepted). Lenient
 * where servers differ: any text, a last line with no text after its code, trailing spaces kept as sent.
 *
 * An enhanced code is split off the text when {@link enhancedStatusCodes} is on and the first line
 * starts with one of the reply's class (it is then removed from each line that repeats it), or, with
 * it off, when every line starts with the same one. After a throw the partial reply is dropped.
 */
export class ReplyAssembler {
  readonly #maxLines: number;
  #enhancedStatusCodes = false;
  #code: string | undefined;
  #texts: string[] = [];

  /** @throws InvalidArgumentError when `maxLines` is not a positive integer. */
  constructor(options: ReplyAssemblerOptions = {}) {
    this.#maxLines = resolveLimits({ maxLines: MAX_REPLY_LINES }, options).maxLines;
  }

  /** Whether the server announced ENHANCEDSTATUSCODES (RFC 2034); set it from the EHLO reply. */
  get enhancedStatusCodes(): boolean {
    return this.#enhancedStatusCodes;
  }

  /** Sets whether the server announced ENHANCEDSTATUSCODES. */
  set enhancedStatusCodes(on: boolean) {
    this.#enhancedStatusCodes = on;
  }

  /**
   * Takes the next line and returns the reply when it was the last line, else `undefined`.
   * @throws ProtocolError on a malformed line (short, a non-digit or out-of-range code, no SP or `-`
   * after the code, a CR or LF inside) or a line whose code differs from the lines before it.
   * @throws LimitExceededError (`maxLines`) when a reply runs past `maxLines` lines.
   */
  push(line: string): SmtpReply | undefined {
    const match = /[\r\n]/.test(line) ? null : REPLY_LINE.exec(line);
    if (!match) {
      this.#reset();
      throw new ProtocolError(`malformed reply line ${JSON.stringify(line.slice(0, 64))}`);
    }
    const [, code = '', separator, text = ''] = match;
    if (this.#code !== undefined && code !== this.#code) {
      const expected = this.#code;
      this.#reset();
      throw new ProtocolError(`a ${code} line continues a ${expected} reply`);
    }
    if (this.#texts.length === this.#maxLines) {
      this.#reset();
      throw new LimitExceededError(
        'maxLines',
        this.#maxLines,
        `a reply has more than ${this.#maxLines} lines`,
      );
    }
    this.#code = code;
    this.#texts.push(text);
    if (separator === '-') return undefined;
    const reply = this.#reply(code, this.#texts);
    this.#reset();
    return reply;
  }

  #reply(code: string, texts: readonly string[]): SmtpReply {
    const enhancedCode = leadingEnhancedCode(texts[0]!, code);
    const split =
      enhancedCode !== undefined &&
      (this.#enhancedStatusCodes || texts.every((text) => leadingEnhancedCode(text, code) === enhancedCode));
    if (!split) return { code: Number(code), lines: texts };
    const lines = texts.map((text) =>
      leadingEnhancedCode(text, code) === enhancedCode ? text.slice(enhancedCode.length + 1) : text,
    );
    return { code: Number(code), enhancedCode, lines };
  }

  #reset(): void {
    this.#code = undefined;
    this.#texts = [];
  }
}

/** The enhanced code a line's text starts with, when its class is the reply code's first digit. */
function leadingEnhancedCode(text: string, code: string): string | undefined {
  const enhanced = LEADING_ENHANCED_CODE.exec(text)?.[1];
  return enhanced?.[0] === code[0] ? enhanced : undefined;
}

/** 2yz: the command was accepted (RFC 5321 §4.2.1). */
export function isPositive(reply: SmtpReply): boolean {
  return replyClass(reply) === 2;
}

/** 3yz: the command was accepted and more is expected, such as the message after DATA or a SASL response after AUTH. */
export function isIntermediate(reply: SmtpReply): boolean {
  return replyClass(reply) === 3;
}

/** 4yz: a transient failure; the same command may succeed later. */
export function isTransientFailure(reply: SmtpReply): boolean {
  return replyClass(reply) === 4;
}

/** 5yz: a permanent failure; the same command will fail again. */
export function isPermanentFailure(reply: SmtpReply): boolean {
  return replyClass(reply) === 5;
}

function replyClass(reply: SmtpReply): number {
  return Math.trunc(reply.code / 100);
}

/** The reply's text, lines joined with a space (for errors and logs). */
export function replyText(reply: SmtpReply): string {
  return reply.lines.join(' ');
}

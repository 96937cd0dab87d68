import { concatBytes, LimitExceededError, LineDecoder, resolveLimits } from '@postwire/core';
import { ImapSyntaxError } from './errors.js';
import { defaultImapLimits, type ImapLimits } from './limits.js';

/** A literal whose octets were read into memory (`binary` for a literal8 `~{n}`). */
export interface LiteralFragment {
  /** The fragment's kind. */
  readonly kind: 'literal';
  /** The literal's octets. */
  readonly data: Uint8Array;
  /** It was a literal8 (`~{n}`, RFC 3516). */
  readonly binary: boolean;
}

/** A literal whose octets were streamed out in `literal-data` events; only its size is kept. */
export interface StreamedFragment {
  /** The fragment's kind. */
  readonly kind: 'streamed';
  /** The literal's size in octets. */
  readonly size: number;
  /** It was a literal8 (`~{n}`, RFC 3516). */
  readonly binary: boolean;
}

/**
 * One piece of a command or response: a line (without CRLF, ending with the `{n}` announcement
 * when a literal follows), or the literal that followed it.
 */
export type Fragment = Uint8Array | LiteralFragment | StreamedFragment;

/** Which non-synchronising literals a server accepts: LITERAL+ (any size), LITERAL- (small ones), or none. */
export type NonSyncLiterals = 'plus' | 'minus' | 'none';

/** Options of {@link ImapReader}. */
export interface ImapReaderOptions {
  /** `server` reads commands (and answers synchronising literals); `client` reads responses. */
  readonly side: 'server' | 'client';
  /** Bounds on lines, literals and nesting; see {@link ImapLimits}. */
  readonly limits?: Partial<ImapLimits>;
  /** On the server: the non-synchronising literals it advertised; default `plus`. */
  readonly nonSyncLiterals?: NonSyncLiterals;
  /**
   * Decides, from the fragments read so far, whether the literal just announced is streamed out rather
   * than held in memory. Default: {@link isAppendMessage} on the server, {@link isFetchBody} on the client.
   */
  readonly streamLiteral?: (prefix: readonly Fragment[]) => boolean;
}

/** A complete command or response. */
export interface MessageEvent {
  /** The event's kind. */
  readonly type: 'message';
  /** Its lines and literals, in order. */
  readonly fragments: readonly Fragment[];
}

/** Server side: a synchronising literal of `size` octets was announced and is within the limits; send `+`, or call {@link ImapReader.reject}. */
export interface ContinuationEvent {
  /** The event's kind. */
  readonly type: 'continuation';
  /** The literal's size in octets. */
  readonly size: number;
}

/** A streamed literal begins; `prefix` holds the fragments before it. */
export interface LiteralStartEvent {
  /** The event's kind. */
  readonly type: 'literal-start';
  /** The fragments of the command or response before the literal. */
  readonly prefix: readonly Fragment[];
  /** The literal's size in octets. */
  readonly size: number;
  /** It is a literal8 (`~{n}`, RFC 3516). */
  readonly binary: boolean;
}

/** A piece of a streamed literal; `remaining` is `0` on the last one. */
export interface LiteralDataEvent {
  /** The event's kind. */
  readonly type: 'literal-data';
  /** The next octets of the literal. */
  readonly data: Uint8Array;
  /** The octets of the literal still to come. */
  readonly remaining: number;
}

/**
 * A command or response was refused. `tooBig` asks for the `[TOOBIG]` code; `fatal` means the byte
 * stream can no longer be trusted to be in step (a refused literal's octets may be on their way), so the
 * connection must end (with `BYE` on a server).
 */
export interface ReaderErrorEvent {
  /** The event's kind. */
  readonly type: 'error';
  /** Why it was refused. */
  readonly error: ImapSyntaxError | LimitExceededError;
  /** The tag of the refused command or response, when it could be read. */
  readonly tag: string | undefined;
  /** Answer with the `[TOOBIG]` code. */
  readonly tooBig: boolean;
  /** The connection must end. */
  readonly fatal: boolean;
}

/** What {@link ImapReader.next} returns. */
export type ImapReaderEvent =
  | MessageEvent
  | ContinuationEvent
  | LiteralStartEvent
  | LiteralDataEvent
  | ReaderErrorEvent;

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const TILDE = 0x7e;
const PLUS = 0x2b;
const MINUS = 0x2d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SPACE = 0x20;
const MAX_NUMBER = 4_294_967_295;
const ascii = new TextDecoder('latin1');

/** A literal announced at the end of a line. */
interface Announcement {
  readonly size: number;
  readonly binary: boolean;
  readonly sync: boolean;
  /** The announced number does not fit in 32 bits. */
  readonly overflow: boolean;
}

/**
 * Reads the end of a line: a `{n}`, `{n+}`, `{n-}` or `~{n}` announcement outside any quoted string,
 * without converting a number of more than ten digits.
 */
export function literalAnnouncement(line: Uint8Array): Announcement | undefined {
  const end = line.length - 1;
  if (end < 2 || line[end] !== CLOSE_BRACE) return undefined;
  let i = end - 1;
  const sign = line[i];
  const sync = sign !== PLUS && sign !== MINUS;
  if (!sync) i--;
  const lastDigit = i;
  while (i >= 0 && line[i]! >= 0x30 && line[i]! <= 0x39) i--;
  const digits = lastDigit - i;
  if (digits === 0 || i < 0 || line[i] !== OPEN_BRACE || insideQuotes(line, i)) return undefined;
  const binary = i > 0 && line[i - 1] === TILDE;
  const overflow = digits > 10;
  const size = overflow
    ? Number.POSITIVE_INFINITY
    : Number(ascii.decode(line.subarray(i + 1, lastDigit + 1)));
  return { size, binary, sync, overflow: overflow || size > MAX_NUMBER };
}

function insideQuotes(line: Uint8Array, end: number): boolean {
  let quoted = false;
  for (let i = 0; i < end; i++) {
    const byte = line[i];
    if (quoted && byte === BACKSLASH) i++;
    else if (byte === QUOTE) quoted = !quoted;
  }
  return quoted;
}

/** The tag of a command (its first word), when the first line starts with one. */
export function tagOf(fragments: readonly Fragment[]): string | undefined {
  const line = fragments[0];
  if (!(line instanceof Uint8Array)) return undefined;
  const space = line.indexOf(SPACE);
  const tag = ascii.decode(space === -1 ? line : line.subarray(0, space));
  return /^[\x21-\x7e]+$/.test(tag) && !/[(){%*"\\+]/.test(tag) ? tag : undefined;
}

/** Server policy: the literal is an APPEND message (any literal of APPEND but the mailbox name). */
export function isAppendMessage(prefix: readonly Fragment[]): boolean {
  const first = prefix[0];
  if (!(first instanceof Uint8Array)) return false;
  const line = ascii.decode(first.subarray(0, 400));
  if (!/^\S+ APPEND /i.test(line)) return false;
  return prefix.length > 1 || !/^\S+ APPEND ~?\{\d+[+-]?\}$/i.test(line);
}

/** Client policy: the literal is the value of a FETCH `BODY[…]`, `BINARY[…]` or `RFC822…` item. */
export function isFetchBody(prefix: readonly Fragment[]): boolean {
  const last = prefix[prefix.length - 1];
  if (!(last instanceof Uint8Array)) return false;
  const tail = ascii.decode(last.subarray(Math.max(0, last.length - 400)));
  return /(?:BODY\[[^\]]*\]|BINARY\[[^\]]*\]|RFC822(?:\.TEXT|\.HEADER)?)(?:<\d+>)? ~?\{\d+\}$/i.test(tail);
}

/**
 * The sans-IO reader of IMAP commands (server side) or responses (client side). Bytes go in with
 * {@link push}, in any chunking; {@link next} returns events until it needs more bytes. It frames each
 * command or response — lines joined across their literals — and checks every announced literal against
 * the limits before a continuation is asked for or a byte is allocated. Literals the policy selects
 * (APPEND messages, FETCH bodies) stream out in pieces; the others are held, within the limits.
 */
export class ImapReader {
  readonly #side: 'server' | 'client';
  readonly #limits: Readonly<ImapLimits>;
  readonly #nonSync: NonSyncLiterals;
  readonly #streamLiteral: (prefix: readonly Fragment[]) => boolean;
  readonly #decoder: LineDecoder;
  #fragments: Fragment[] = [];
  #lineBytes = 0;
  #literalBytes = 0;
  #literals = 0;
  #literal: { size: number; binary: boolean; streamed: boolean; chunks: Uint8Array[] } | undefined;
  #awaitingContinuation = false;
  #pendingStart: LiteralStartEvent | undefined;

  constructor(options: ImapReaderOptions) {
    this.#side = options.side;
    this.#limits = resolveLimits<ImapLimits>(defaultImapLimits, options.limits);
    this.#nonSync = options.nonSyncLiterals ?? 'plus';
    this.#streamLiteral = options.streamLiteral ?? (this.#side === 'server' ? isAppendMessage : isFetchBody);
    this.#decoder = new LineDecoder({ mode: 'lenient', maxLineLength: this.#limits.maxLineLength });
  }

  /** The limits in force. */
  get limits(): Readonly<ImapLimits> {
    return this.#limits;
  }

  /** Whether part of a command or response is held: bytes without their line end, or an unfinished literal. */
  get holding(): boolean {
    return this.#fragments.length > 0 || this.#literal !== undefined || this.#decoder.buffered > 0;
  }

  /** Adds received bytes. The reader keeps a reference: do not reuse the array afterwards. */
  push(chunk: Uint8Array): void {
    this.#decoder.push(chunk);
  }

  /**
   * Server side, right after a {@link ContinuationEvent}: the literal is refused (a tagged `NO` or `BAD`
   * is sent instead of `+`), so the command is dropped and the next line starts a new one.
   */
  reject(): void {
    this.#awaitingContinuation = false;
    this.#literal = undefined;
    this.#clear();
  }

  /** Drops everything buffered and any command in progress: what a STARTTLS or COMPRESS switch needs. */
  reset(): void {
    this.#decoder.reset();
    this.reject();
  }

  /** Returns the next event, or `undefined` when more bytes are needed. */
  next(): ImapReaderEvent | undefined {
    if (this.#awaitingContinuation) {
      this.#awaitingContinuation = false;
      this.#decoder.readBytes(this.#literal!.size);
    }
    const start = this.#takeStart();
    if (start) return start;
    for (;;) {
      if (this.#literal && this.#literal.size === 0) return this.#endLiteral(new Uint8Array(0));
      const event = this.#decoder.next();
      if (!event) return undefined;
      if (event.type === 'bytes') {
        const literal = this.#literal!;
        if (event.remaining > 0) {
          if (literal.streamed) return { type: 'literal-data', data: event.data, remaining: event.remaining };
          literal.chunks.push(event.data);
          continue;
        }
        return this.#endLiteral(event.data);
      }
      if (event.type === 'error') {
        const tag = this.#fragments.length > 0 ? tagOf(this.#fragments) : undefined;
        this.#clear();
        return this.#error(new ImapSyntaxError('Line too long', tag), tag, true, true);
      }
      if (event.type === 'line') {
        const result = this.#line(event.line);
        if (result) return result;
      }
    }
  }

  #endLiteral(last: Uint8Array): ImapReaderEvent | undefined {
    const literal = this.#literal!;
    this.#literal = undefined;
    if (literal.streamed) {
      this.#fragments.push({ kind: 'streamed', size: literal.size, binary: literal.binary });
      return { type: 'literal-data', data: last, remaining: 0 };
    }
    literal.chunks.push(last);
    this.#fragments.push({ kind: 'literal', data: concatBytes(literal.chunks), binary: literal.binary });
    return this.next();
  }

  /** A line is complete. The tag is read only for an error or a literal: most lines need neither. */
  #line(line: Uint8Array): ImapReaderEvent | undefined {
    this.#fragments.push(line);
    const announced = literalAnnouncement(line);
    // A refused synchronising literal leaves the stream in step on a server; anything else may not.
    const fatal = this.#side === 'client' || !announced?.sync;
    this.#lineBytes += line.length;
    if (this.#lineBytes > this.#limits.maxLineLength) {
      const tag = tagOf(this.#fragments);
      this.#clear();
      return this.#error(new ImapSyntaxError('Command too long', tag), tag, true, fatal);
    }
    if (!announced) {
      const fragments = this.#fragments;
      this.#clear();
      return { type: 'message', fragments };
    }
    const tag = tagOf(this.#fragments);
    const refusal = this.#check(announced, tag);
    if (refusal) {
      this.#clear();
      return this.#error(refusal.error, tag, refusal.tooBig, fatal);
    }
    const streamed = this.#streamLiteral(this.#fragments);
    this.#literals++;
    if (!streamed) this.#literalBytes += announced.size;
    this.#literal = { size: announced.size, binary: announced.binary, streamed, chunks: [] };
    const waits = this.#side === 'server' && announced.sync;
    if (waits) this.#awaitingContinuation = true;
    else this.#decoder.readBytes(announced.size);
    if (streamed) {
      this.#pendingStart = {
        type: 'literal-start',
        prefix: this.#fragments.slice(),
        size: announced.size,
        binary: announced.binary,
      };
    }
    if (waits) return { type: 'continuation', size: announced.size };
    return this.#takeStart() ?? this.next();
  }

  #takeStart(): LiteralStartEvent | undefined {
    const start = this.#pendingStart;
    this.#pendingStart = undefined;
    return start;
  }

  #check(
    announced: Announcement,
    tag: string | undefined,
  ): { error: ImapSyntaxError | LimitExceededError; tooBig: boolean } | undefined {
    const limits = this.#limits;
    if (announced.overflow)
      return { error: new ImapSyntaxError('Literal size too large', tag), tooBig: true };
    if (this.#side === 'server' && !announced.sync) {
      if (this.#nonSync === 'none')
        return {
          error: new ImapSyntaxError('Non-synchronizing literals are not supported', tag),
          tooBig: false,
        };
      if (this.#nonSync === 'minus' && announced.size > limits.maxNonSyncLiteral)
        return { error: new LimitExceededError('maxNonSyncLiteral', limits.maxNonSyncLiteral), tooBig: true };
    }
    if (this.#literals + 1 > limits.maxLiterals)
      return { error: new LimitExceededError('maxLiterals', limits.maxLiterals), tooBig: true };
    if (this.#streamLiteral(this.#fragments)) {
      if (announced.size > limits.maxStreamedLiteralSize)
        return {
          error: new LimitExceededError('maxStreamedLiteralSize', limits.maxStreamedLiteralSize),
          tooBig: true,
        };
      return undefined;
    }
    if (announced.size > limits.maxLiteralSize)
      return { error: new LimitExceededError('maxLiteralSize', limits.maxLiteralSize), tooBig: true };
    if (this.#literalBytes + announced.size > limits.maxLiteralBytes)
      return { error: new LimitExceededError('maxLiteralBytes', limits.maxLiteralBytes), tooBig: true };
    return undefined;
  }

  #error(
    error: ImapSyntaxError | LimitExceededError,
    tag: string | undefined,
    tooBig: boolean,
    fatal: boolean,
  ): ReaderErrorEvent {
    return { type: 'error', error, tag, tooBig, fatal };
  }

  #clear(): void {
    this.#fragments = [];
    this.#lineBytes = 0;
    this.#literalBytes = 0;
    this.#literals = 0;
    this.#pendingStart = undefined;
  }
}

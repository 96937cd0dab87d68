import { decodeUtf8Strict, InvalidArgumentError, utf8 } from '@postwire/core';
import type { NonSyncLiterals } from './reader.js';

/** Literal content that is streamed rather than held: its exact size and its chunks. */
export interface LiteralSource {
  /** The content's exact size in octets. */
  readonly size: number;
  /** The content, in chunks. */
  readonly chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>;
}

/** A piece of serialized output, to be written in order. */
export type OutputPart =
  | {
      /** The part's kind. */
      readonly kind: 'bytes';
      /** The bytes to write. */
      readonly data: Uint8Array;
    }
  /** Client side: a synchronising literal was announced; wait for the server's `+` before writing on. */
  | {
      /** The part's kind. */
      readonly kind: 'await-continuation';
    }
  /** Stream the literal's chunks (exactly `source.size` octets). */
  | {
      /** The part's kind. */
      readonly kind: 'stream';
      /** The literal's size and chunks. */
      readonly source: LiteralSource;
    };

/** Options of {@link ImapWriter}. */
export interface ImapWriterOptions {
  /** `client` writes commands (synchronising literals wait for `+`); `server` writes responses. */
  readonly side: 'client' | 'server';
  /** Client side: the non-synchronising literals the server advertised; default `none`. */
  readonly nonSyncLiterals?: NonSyncLiterals;
  /** UTF8=ACCEPT is enabled (or IMAP4rev2 is in use): quoted strings may hold UTF-8. */
  readonly utf8?: boolean;
  /** The largest non-synchronising literal under LITERAL-; default 4096. */
  readonly maxNonSyncLiteral?: number;
}

/** The longest string written quoted; longer ones are literals, which keeps lines short. */
const MAX_QUOTED = 1024;
/** The characters of an atom (RFC 9051 `ATOM-CHAR`), as a regular expression's class. */
const ATOM_CLASS = '\\x21\\x23\\x24\\x26-\\x27\\x2b-\\x5b\\x5e-\\x7a\\x7c-\\x7e';
/** The pattern of an atom with further characters allowed (a backslash in flags, `*%` in patterns), by those characters. */
const ATOMS = new Map<string, RegExp>();

function isAtom(text: string, extra = ''): boolean {
  let pattern = ATOMS.get(extra);
  if (pattern === undefined) {
    pattern = new RegExp(`^[${ATOM_CLASS}${extra.replace(/[\\\]^-]/g, '\\$&')}]+$`);
    // The grammar's few sets are kept; a caller's own are not, so the cache stays small.
    if (ATOMS.size < 16) ATOMS.set(extra, pattern);
  }
  return pattern.test(text);
}

/** A string of printable ASCII without `"` or `\\`: quoted as it is (most strings a server writes). */
const PLAIN_QUOTABLE = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/**
 * `value` as a quoted string, or `undefined` when it must be a literal: it is longer than
 * {@link MAX_QUOTED} octets of UTF-8, holds CR or LF, or holds a non-ASCII character and `utf8` is off.
 * The value must not hold NUL. It is checked as a JavaScript string, without encoding it: a lone surrogate
 * counts as the three octets of the U+FFFD it is encoded as.
 */
function quoted(value: string, utf8: boolean): string | undefined {
  const length = value.length;
  if (length > MAX_QUOTED) return undefined;
  let octets = length;
  let escapes = false;
  for (let i = 0; i < length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x80) {
      if (code === 0x22 || code === 0x5c) escapes = true;
      else if (code === 0x0d || code === 0x0a) return undefined;
    } else if (!utf8) return undefined;
    else if (code < 0x800) octets += 1;
    else if (code >= 0xd800 && code <= 0xdbff && (value.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      // A surrogate pair: four octets for its two code units.
      octets += 2;
      i++;
    } else octets += 2;
  }
  if (octets > MAX_QUOTED) return undefined;
  return escapes ? `"${value.replace(/[\\"]/g, '\\$&')}"` : `"${value}"`;
}

/**
 * Writes IMAP syntax, each value in its safest form: an atom where the grammar and the value allow it,
 * else a quoted string, else a literal (non-synchronising when the peer allows it). Every value is
 * checked before it is written; CR, LF and NUL never reach the output outside a literal.
 */
export class ImapWriter {
  readonly #side: 'client' | 'server';
  readonly #nonSync: NonSyncLiterals;
  readonly #utf8: boolean;
  readonly #maxNonSync: number;
  readonly #parts: OutputPart[] = [];
  #text = '';

  constructor(options: ImapWriterOptions) {
    this.#side = options.side;
    this.#nonSync = options.nonSyncLiterals ?? 'none';
    this.#utf8 = options.utf8 ?? false;
    this.#maxNonSync = options.maxNonSyncLiteral ?? 4096;
  }

  /** Writes protocol text as is; it must be printable (UTF-8 allowed) and hold no CR, LF or NUL. */
  raw(text: string): this {
    if (/[\r\n\0]/.test(text))
      throw new InvalidArgumentError('CR, LF and NUL cannot be written outside a literal');
    this.#text += text;
    return this;
  }

  /** Writes one SP. */
  sp(): this {
    this.#text += ' ';
    return this;
  }

  /** Writes an atom; `extra` lists further characters the grammar allows there (`\\*` for flags, `*%` for patterns). */
  atom(text: string, extra = ''): this {
    if (!isAtom(text, extra)) throw new InvalidArgumentError(`not an atom: ${JSON.stringify(text)}`);
    this.#text += text;
    return this;
  }

  /** Writes a `number` (0 to 2³²−1) or, with `max`, a number64. */
  number(value: number, max = 4_294_967_295): this {
    if (!Number.isSafeInteger(value) || value < 0 || value > max)
      throw new InvalidArgumentError(`not a number in range: ${value}`);
    this.#text += String(value);
    return this;
  }

  /** Writes a `string`: quoted when possible, else a literal. */
  string(value: string | Uint8Array): this {
    if (typeof value !== 'string') return this.#bytesString(value);
    if (value.length <= MAX_QUOTED && PLAIN_QUOTABLE.test(value)) {
      this.#text += `"${value}"`;
      return this;
    }
    if (value.includes('\0')) throw new InvalidArgumentError('a string cannot hold NUL');
    const text = quoted(value, this.#utf8);
    if (text === undefined) return this.literal(utf8(value));
    this.#text += text;
    return this;
  }

  /** Writes an `astring`: an atom when the value is one (and is not `NIL`), else a string. */
  astring(value: string, extra = ']'): this {
    if (isAtom(value, extra) && value.toUpperCase() !== 'NIL') {
      this.#text += value;
      return this;
    }
    return this.string(value);
  }

  /** Writes an `nstring`: NIL for `null`, else a string. */
  nstring(value: string | Uint8Array | null): this {
    if (value !== null) return this.string(value);
    this.#text += 'NIL';
    return this;
  }

  /** Writes a literal (`~{n}` literal8 when `binary`), in the form the side and the peer allow. */
  literal(data: Uint8Array, binary = false): this {
    if (!binary && data.includes(0))
      throw new InvalidArgumentError('a literal cannot hold NUL; use literal8');
    this.#announce(data.length, binary);
    this.#parts.push({ kind: 'bytes', data });
    return this;
  }

  /** Writes a literal whose content is streamed from `source`. */
  streamedLiteral(source: LiteralSource, binary = false): this {
    this.#announce(source.size, binary);
    this.#parts.push({ kind: 'stream', source });
    return this;
  }

  /** Writes a parenthesised list; `item` writes one element. */
  list<T>(items: readonly T[], item: (value: T) => void): this {
    this.#text += '(';
    items.forEach((value, index) => {
      if (index > 0) this.#text += ' ';
      item(value);
    });
    this.#text += ')';
    return this;
  }

  /** Ends the line. */
  crlf(): this {
    this.#text += '\r\n';
    return this;
  }

  /** The output so far, as ordered parts; the writer is then empty. */
  finish(): OutputPart[] {
    this.#flush();
    const parts = this.#parts.splice(0);
    return parts;
  }

  /** The output as one byte array; throws if it holds a streamed literal or waits for a continuation. */
  bytes(): Uint8Array {
    const parts = this.finish();
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (const part of parts) {
      if (part.kind !== 'bytes') throw new InvalidArgumentError('the output is not a single byte run');
      chunks.push(part.data);
      total += part.data.length;
    }
    const out = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }

  /** {@link string} of bytes: quoted when they are ASCII (or valid UTF-8 under `utf8`), else a literal. */
  #bytesString(bytes: Uint8Array): this {
    if (bytes.includes(0)) throw new InvalidArgumentError('a string cannot hold NUL');
    let text: string | undefined;
    if (bytes.length <= MAX_QUOTED && !bytes.includes(0x0d) && !bytes.includes(0x0a)) {
      if (bytes.every((byte) => byte < 0x80)) text = String.fromCharCode(...bytes);
      else if (this.#utf8) text = decodeUtf8Strict(bytes);
    }
    if (text === undefined) return this.literal(bytes);
    this.#text += `"${text.replace(/[\\"]/g, '\\$&')}"`;
    return this;
  }

  #announce(size: number, binary: boolean): void {
    if (!Number.isSafeInteger(size) || size < 0) throw new InvalidArgumentError('a literal size must be ≥ 0');
    const nonSync =
      this.#side === 'client' &&
      (this.#nonSync === 'plus' || (this.#nonSync === 'minus' && size <= this.#maxNonSync));
    this.#text += `${binary ? '~' : ''}{${size}${nonSync ? '+' : ''}}\r\n`;
    this.#flush();
    if (this.#side === 'client' && !nonSync) this.#parts.push({ kind: 'await-continuation' });
  }

  #flush(): void {
    if (this.#text === '') return;
    this.#parts.push({ kind: 'bytes', data: utf8(this.#text) });
    this.#text = '';
  }
}

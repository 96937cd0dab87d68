import { CR, concatBytes, LF } from '@postwire/core';

const SPACE = 0x20;
const TAB = 0x09;
const EQUALS = 0x3d;
const DOT = 0x2e;
const CAPITAL_F = 0x46;

/** `=` and LF in each byte of a 32-bit word, and the constants of the zero-byte test that finds them. */
const EQUALS_X4 = 0x3d3d3d3d;
const LF_X4 = 0x0a0a0a0a;
const ONES_X4 = 0x01010101;
const HIGH_BITS_X4 = 0x80808080;

/**
 * The longest run of white space that a line break removes (one SMTP line's worth). A longer run is
 * content, so that the decoder never holds more than this while it waits for the end of a line.
 */
const MAX_REMOVED_SPACE = 998;

/** Longest encoded line RFC 2045 §6.7 rule 5 allows, soft-break `=` included. */
const MAX_LINE = 76;

/** Each hex digit's value (either case), or 0xff. */
const HEX_VALUES = new Uint8Array(256).fill(0xff);
for (let value = 0; value < 16; value++) {
  HEX_VALUES[value.toString(16).charCodeAt(0)] = value;
  HEX_VALUES[value.toString(16).toUpperCase().charCodeAt(0)] = value;
}

/**
 * Defect codes of {@link QuotedPrintableDecoder}, each recorded at most once per decoder:
 * - `invalid-quoted-printable`: `=` followed by neither two hex digits nor a line break; kept as written.
 * - `qp-soft-break-with-space`: white space between `=` and the line break; taken as a soft line break.
 * - `qp-dangling-equals`: the body ends in `=` (perhaps with white space after it); dropped.
 * - `qp-line-too-long`: an encoded line over 76 characters; decoded anyway.
 */
export type QuotedPrintableDefect =
  | 'invalid-quoted-printable'
  | 'qp-soft-break-with-space'
  | 'qp-dangling-equals'
  | 'qp-line-too-long';

/** Where the decoder stands; every state but `Text` has undecided input pending. */
enum State {
  Text,
  /** White space that a line break would remove. */
  Space,
  /** A CR, perhaps after white space, whose next byte decides whether it ends the line. */
  Cr,
  Equals,
  /** `=` and one hex digit. */
  EqualsHex,
  EqualsCr,
  EqualsSpace,
  EqualsSpaceCr,
  /** Inside a run of white space too long to be removed: the rest of the run is content. */
  LongSpace,
}

/** What the byte after pending input makes of it. */
enum Settled {
  /** Still undecided: the byte joins the pending input. */
  Open,
  /** A valid `=XX`. */
  Escape,
  /** Not an escape: the pending input is kept as written, with a defect. */
  Invalid,
  /** Ordinary content: the pending input is kept as written. */
  Literal,
  /** The line ends (CRLF or LF); pending white space goes. */
  HardBreak,
  /** `=` then the line break. */
  SoftBreak,
  /** `=`, white space, then the line break. */
  SpacedSoftBreak,
}

/** Where {@link QuotedPrintableDecoder} stands in the chunk it decodes. */
interface Cursor {
  /** Bytes written to the output. */
  o: number;
  /** The next byte to read. */
  pos: number;
  /** Where the current encoded line starts (0 if in an earlier chunk). */
  lineStart: number;
  /** Where the pending input starts (0 if in an earlier chunk). */
  pending: number;
}

function isSpace(byte: number): boolean {
  return byte === SPACE || byte === TAB;
}

/**
 * Streaming, lenient decoder of a quoted-printable body (RFC 2045 §6.7). Any chunking of the input gives
 * the same bytes. `=XX` accepts both cases; `=` CRLF and `=` LF are soft line breaks; white space at the
 * end of a line (and of the body) is removed, unless the run is longer than 998 bytes: then it is content,
 * so that the decoder never holds more than that. Hard line breaks are kept as written: CRLF stays CRLF and a
 * bare LF stays LF, and a CR not followed by LF is an ordinary byte. Broken input is kept as written with
 * a defect (see {@link QuotedPrintableDefect}). It never throws, and never returns more bytes than it reads.
 */
export class QuotedPrintableDecoder {
  /** The codes of the defects seen so far (see {@link QuotedPrintableDefect}), each once. */
  readonly defects: QuotedPrintableDefect[] = [];
  /** Line feeds in the encoded input of the current body. */
  lineFeeds = 0;
  #state = State.Text;
  /** The high digit in state `EqualsHex`. */
  #high = 0;
  /** Pending input from earlier chunks; grows by doubling so that a long run of spaces stays linear. */
  #held = new Uint8Array(16);
  #heldLength = 0;
  /** Bytes of the current encoded line in earlier chunks. */
  #lineLength = 0;
  /** Set by {@link #settle} when the held bytes turned out to be literal and must be written as they are. */
  #keptHeld = false;

  /** Decodes one chunk; returns the bytes it settles (a few undecided bytes may wait for the next chunk). */
  decode(chunk: Uint8Array): Uint8Array {
    const length = chunk.length;
    // Sized by this chunk alone (plus a held CR that a hard break may write), never by the held bytes:
    // a long undecided run fed in small chunks must not cost an allocation of its size per chunk.
    const out = new Uint8Array(length + 1);
    const cursor: Cursor = { o: 0, pos: 0, lineStart: 0, pending: 0 };
    let flushed: Uint8Array | undefined;
    if (this.#state !== State.Text) {
      const held = this.#heldLength;
      this.#settle(chunk, out, cursor, true);
      // Pending input kept as written: the held bytes come before anything this chunk wrote.
      if (this.#keptHeld) flushed = this.#held.slice(0, held);
      this.#keptHeld = false;
    }
    // After the last line break, the bytes whose meaning depends on the next chunk wait for it: a CR,
    // white space, a soft break's `=`, and an `=` with one hex digit.
    const tail = Math.max(cursor.pos, chunk.lastIndexOf(LF) + 1);
    let end = length;
    if (end > tail && chunk[end - 1] === CR) end--;
    const textEnd = end;
    while (end > tail && isSpace(chunk[end - 1]!)) end--;
    // A run too long to be removed is content already, and so is the rest of it in the next chunk.
    const longRun = textEnd - end > MAX_REMOVED_SPACE;
    if (longRun) end = textEnd;
    else if (end > tail && chunk[end - 1] === EQUALS) end--;
    else if (
      textEnd === length &&
      end - 2 >= tail &&
      chunk[end - 2] === EQUALS &&
      HEX_VALUES[chunk[end - 1]!]! < 16
    )
      end -= 2;
    this.#decodeLines(chunk, out, cursor, end);
    if (longRun && textEnd === length) this.#state = State.LongSpace;
    else if (cursor.pos < length) this.#settle(chunk, out, cursor, false);
    const { o, lineStart } = cursor;
    if (this.#state !== State.Text && this.#state !== State.LongSpace)
      this.#hold(chunk.subarray(cursor.pending));
    this.#lineLength += length - lineStart;
    return flushed ? concatBytes([flushed, out.subarray(0, o)]) : out.subarray(0, o);
  }

  /**
   * Decodes the chunk from the cursor up to `end`, where nothing is left undecided: each line break
   * comes with its line. Four bytes at a time up to the next `=` or LF; white space before a hard
   * break is taken back out of the output, down to the last byte an escape wrote.
   */
  #decodeLines(chunk: Uint8Array, out: Uint8Array, cursor: Cursor, end: number): void {
    let { o, pos, lineStart } = cursor;
    const input = new DataView(chunk.buffer, chunk.byteOffset, chunk.length);
    // Four-byte writes stay inside `out`: `o` never runs more than one byte (a held CR) ahead of `pos`.
    const output = new DataView(out.buffer);
    /** Output before this may not be trimmed: an earlier line, or a decoded escape. */
    let kept = o;
    while (pos < end) {
      if (pos + 4 <= end) {
        // Four bytes at a time. A word holds byte b where (word XOR b-in-every-byte) has a zero byte;
        // the zero-byte test flags the first such byte exactly (little-endian: the lowest flag).
        const word = input.getUint32(pos, true);
        const equals = word ^ EQUALS_X4;
        const lf = word ^ LF_X4;
        const found = (((equals - ONES_X4) & ~equals) | ((lf - ONES_X4) & ~lf)) & HIGH_BITS_X4;
        output.setUint32(o, word, true);
        if (found === 0) {
          o += 4;
          pos += 4;
          continue;
        }
        // Keep the bytes before the `=` or LF; the ones written after it are overwritten later.
        const before = (31 - Math.clz32(found & -found)) >>> 3;
        o += before;
        pos += before;
      }
      const byte = chunk[pos]!;
      if (byte === LF) {
        let cr = false;
        if (o > kept && out[o - 1] === CR) {
          cr = true;
          o--;
        }
        let trimmed = o;
        while (trimmed > kept && isSpace(out[trimmed - 1]!)) trimmed--;
        if (o - trimmed <= MAX_REMOVED_SPACE) o = trimmed;
        if (cr) out[o++] = CR;
        out[o++] = LF;
        this.lineFeeds++;
        this.#endLine(this.#lineLength + pos - lineStart - (cr ? 1 : 0));
        kept = o;
        lineStart = ++pos;
        continue;
      }
      if (byte !== EQUALS) {
        out[o++] = byte;
        pos++;
        continue;
      }
      const high = pos + 2 < end ? HEX_VALUES[chunk[pos + 1]!]! : 0xff;
      const low = pos + 2 < end ? HEX_VALUES[chunk[pos + 2]!]! : 0xff;
      if ((high | low) < 16) {
        out[o++] = (high << 4) | low;
        kept = o;
        pos += 3;
        continue;
      }
      // A soft break: `=`, perhaps white space (a defect), perhaps CR, then LF.
      let next = pos + 1;
      while (next < end && isSpace(chunk[next]!)) next++;
      const spaces = next - pos - 1;
      if (next < end && chunk[next] === CR) next++;
      if (next < end && chunk[next] === LF && spaces <= MAX_REMOVED_SPACE) {
        if (spaces > 0) this.#defect('qp-soft-break-with-space');
        this.lineFeeds++;
        this.#endLine(this.#lineLength + next - lineStart - (chunk[next - 1] === CR ? 1 : 0));
        kept = o;
        lineStart = pos = next + 1;
        continue;
      }
      this.#defect('invalid-quoted-printable');
      out[o++] = EQUALS;
      pos++;
    }
    cursor.o = o;
    cursor.pos = pos;
    cursor.lineStart = lineStart;
  }

  /**
   * The byte-by-byte state machine, for input whose meaning depends on what follows: from the cursor to the
   * end of the chunk, or with `untilSettled` only until the input pending from earlier chunks is settled.
   */
  #settle(chunk: Uint8Array, out: Uint8Array, cursor: Cursor, untilSettled: boolean): void {
    const length = chunk.length;
    let { o, pos, lineStart, pending } = cursor;
    let state = this.#state;
    while (pos < length) {
      const byte = chunk[pos]!;
      if (state === State.Text) {
        if (untilSettled) break;
        // The undecided end of a chunk starts with white space, `=` or CR.
        pending = pos++;
        state = isSpace(byte) ? State.Space : byte === EQUALS ? State.Equals : State.Cr;
        continue;
      }
      if (state === State.LongSpace) {
        if (isSpace(byte)) {
          out[o++] = byte;
          pos++;
          continue;
        }
        state = State.Text;
        if (byte === CR) {
          pending = pos++;
          state = State.Cr;
        } else if (byte === LF) {
          out[o++] = LF;
          this.lineFeeds++;
          this.#endLine(this.#lineLength + pos - lineStart);
          lineStart = ++pos;
        } else {
          // Only a run carried over from the previous chunk gets here: the rest of the line is the fast path's.
          break;
        }
        continue;
      }
      // Pending input: the byte at `pos` decides what it is.
      let settled: Settled;
      /** White space pending so far, the byte at `pos` not counted (nor the `=` before it). */
      const space = this.#heldLength + pos - pending - (state === State.Space ? 0 : 1);
      let long = false;
      switch (state) {
        case State.Space:
          settled =
            byte === LF ? Settled.HardBreak : isSpace(byte) || byte === CR ? Settled.Open : Settled.Literal;
          if (byte === CR) state = State.Cr;
          else if (isSpace(byte) && space >= MAX_REMOVED_SPACE) {
            settled = Settled.Literal;
            long = true;
          }
          break;
        case State.Cr:
          settled = byte === LF ? Settled.HardBreak : Settled.Literal;
          break;
        case State.Equals:
          settled = byte === LF ? Settled.SoftBreak : Settled.Open;
          if (HEX_VALUES[byte]! < 16) {
            this.#high = HEX_VALUES[byte]!;
            state = State.EqualsHex;
          } else if (isSpace(byte)) state = State.EqualsSpace;
          else if (byte === CR) state = State.EqualsCr;
          else if (byte !== LF) settled = Settled.Invalid;
          break;
        case State.EqualsHex:
          settled = HEX_VALUES[byte]! < 16 ? Settled.Escape : Settled.Invalid;
          break;
        case State.EqualsCr:
          settled = byte === LF ? Settled.SoftBreak : Settled.Invalid;
          break;
        case State.EqualsSpace:
          settled =
            byte === LF
              ? Settled.SpacedSoftBreak
              : isSpace(byte) || byte === CR
                ? Settled.Open
                : Settled.Invalid;
          if (byte === CR) state = State.EqualsSpaceCr;
          else if (isSpace(byte) && space >= MAX_REMOVED_SPACE) {
            settled = Settled.Invalid;
            long = true;
          }
          break;
        default:
          settled = byte === LF ? Settled.SpacedSoftBreak : Settled.Invalid;
      }
      switch (settled) {
        case Settled.Open:
          pos++;
          continue;
        case Settled.Escape:
          out[o++] = (this.#high << 4) | HEX_VALUES[byte]!;
          this.#heldLength = 0;
          pos++;
          break;
        case Settled.Invalid:
        case Settled.Literal:
          if (settled === Settled.Invalid) this.#defect('invalid-quoted-printable');
          // Held bytes only exist while settling the start of a chunk; `decode` puts them first.
          if (this.#heldLength > 0) {
            this.#keptHeld = true;
            this.#heldLength = 0;
          }
          out.set(chunk.subarray(pending, pos), o);
          o += pos - pending;
          break;
        default: {
          // A line break: white space before it goes, and so does a soft break's `=`.
          this.lineFeeds++;
          const cr = state === State.Cr || state === State.EqualsCr || state === State.EqualsSpaceCr;
          if (settled === Settled.HardBreak) {
            if (cr) out[o++] = CR;
            out[o++] = LF;
          } else if (settled === Settled.SpacedSoftBreak) {
            this.#defect('qp-soft-break-with-space');
          }
          this.#heldLength = 0;
          this.#endLine(this.#lineLength + pos - lineStart - (cr ? 1 : 0));
          lineStart = ++pos;
        }
      }
      state = long ? State.LongSpace : State.Text;
    }
    this.#state = state;
    cursor.o = o;
    cursor.pos = pos;
    cursor.lineStart = lineStart;
    cursor.pending = pending;
  }

  /**
   * Ends the body: settles the bytes still undecided, and readies the decoder for another body. White space
   * at the very end is removed like white space at the end of any line; a final `=` is dropped.
   */
  end(): Uint8Array {
    const held = this.#held.subarray(0, this.#heldLength);
    let out = EMPTY;
    switch (this.#state) {
      case State.Cr:
        out = held.slice();
        break;
      case State.EqualsHex:
        this.#defect('invalid-quoted-printable');
        out = held.slice();
        break;
      case State.Equals:
      case State.EqualsCr:
      case State.EqualsSpace:
      case State.EqualsSpaceCr:
        this.#defect('qp-dangling-equals');
        break;
    }
    if (this.#lineLength > MAX_LINE) this.#defect('qp-line-too-long');
    this.#state = State.Text;
    this.#heldLength = 0;
    this.#lineLength = 0;
    this.lineFeeds = 0;
    return out;
  }

  /** Checks the length of an encoded line that just ended. */
  #endLine(lineLength: number): void {
    this.#lineLength = 0;
    if (lineLength > MAX_LINE) this.#defect('qp-line-too-long');
  }

  /** Appends undecided input to the held bytes. */
  #hold(bytes: Uint8Array): void {
    const needed = this.#heldLength + bytes.length;
    if (needed > this.#held.length) {
      const grown = new Uint8Array(Math.max(needed, this.#held.length * 2));
      grown.set(this.#held.subarray(0, this.#heldLength));
      this.#held = grown;
    }
    this.#held.set(bytes, this.#heldLength);
    this.#heldLength = needed;
  }

  #defect(code: QuotedPrintableDefect): void {
    if (!this.defects.includes(code)) this.defects.push(code);
  }
}

const EMPTY = new Uint8Array(0);
const UPPER_HEX = new Uint8Array([...'0123456789ABCDEF'].map((digit) => digit.charCodeAt(0)));

/** Options of {@link QuotedPrintableEncoder}. */
export interface QuotedPrintableEncoderOptions {
  /**
   * Binary mode (default `false`): CR and LF are content and are encoded as `=0D` and `=0A`. In text mode
   * every CRLF, bare LF and bare CR is a line break, written as a CRLF hard break.
   */
  binary?: boolean;
}

/** How the encoder writes a byte. */
enum Kind {
  /** As itself. */
  Literal,
  /** As `=XX`. */
  Escaped,
  /** A space: as itself, unless a line break follows (then `=20`). */
  Space,
  /** A line break in text mode. */
  Break,
  /** As itself, unless it starts a line (then `=XX`): `.` (never a lone `.` line) and `F` (never `From `). */
  LineStart,
}

const TEXT_KINDS = new Uint8Array(256).fill(Kind.Escaped);
for (let byte = 0x21; byte <= 0x7e; byte++) TEXT_KINDS[byte] = Kind.Literal;
TEXT_KINDS[EQUALS] = Kind.Escaped;
TEXT_KINDS[SPACE] = Kind.Space;
TEXT_KINDS[DOT] = Kind.LineStart;
TEXT_KINDS[CAPITAL_F] = Kind.LineStart;
TEXT_KINDS[CR] = Kind.Break;
TEXT_KINDS[LF] = Kind.Break;
const BINARY_KINDS = TEXT_KINDS.slice();
BINARY_KINDS[CR] = Kind.Escaped;
BINARY_KINDS[LF] = Kind.Escaped;

/**
 * Streaming encoder of a quoted-printable body (RFC 2045 §6.7). Its output is printable ASCII and CRLF
 * only, in lines of at most 76 characters: `=`, control characters (tab included), 8-bit bytes and a
 * space before a line break (or at the end) are encoded; soft breaks never split an `=XX`; a `.` or `F`
 * that starts a line is encoded too, so that neither SMTP dot-stuffing nor mbox `From ` quoting can alter
 * the body. The output ends as the input does: with a hard break only if the input ends with a line break.
 */
export class QuotedPrintableEncoder {
  readonly #kinds: Uint8Array;
  /** Characters on the current output line. */
  #column = 0;
  /** A space that ended the previous chunk, until the next byte says whether it ends a line. */
  #space = -1;
  /** A CR ended the previous chunk and was written as a hard break: an LF next belongs to it. */
  #afterCr = false;

  constructor(options: QuotedPrintableEncoderOptions = {}) {
    this.#kinds = options.binary ? BINARY_KINDS : TEXT_KINDS;
  }

  /** Encodes one chunk; a space at its end waits for the next chunk. */
  encode(chunk: Uint8Array): Uint8Array {
    return this.#encode(chunk, false);
  }

  /**
   * Ends the body, after an optional last chunk, and readies the encoder for another body.
   * `end(chunk)` is `encode(chunk)` followed by `end()`, in one array.
   */
  end(chunk: Uint8Array = EMPTY): Uint8Array {
    const out = this.#encode(chunk, true);
    this.#column = 0;
    this.#afterCr = false;
    return out;
  }

  #encode(chunk: Uint8Array, final: boolean): Uint8Array {
    const kinds = this.#kinds;
    const length = chunk.length;
    // A byte takes at most three characters (a hard break two); a line holds 73 or more before a soft break.
    const most = 3 * (length + 1);
    const out = new Uint8Array(most + 3 * Math.ceil(most / (MAX_LINE - 3)));
    let o = 0;
    let pos = 0;
    if (this.#afterCr && length > 0) {
      this.#afterCr = false;
      if (chunk[0] === LF) pos = 1;
    }
    if (this.#space >= 0 && pos < length) {
      o = this.#put(out, o, this.#space, kinds[chunk[pos]!] === Kind.Break);
      this.#space = -1;
    }
    let column = this.#column;
    while (pos < length) {
      const byte = chunk[pos++]!;
      const kind = kinds[byte];
      if (kind === Kind.Literal && column < MAX_LINE - 1) {
        out[o++] = byte;
        column++;
        continue;
      }
      if (kind === Kind.Break) {
        out[o++] = CR;
        out[o++] = LF;
        column = 0;
        if (byte === CR) {
          if (pos === length) this.#afterCr = true;
          else if (chunk[pos] === LF) pos++;
        }
        continue;
      }
      if (kind === Kind.Space && pos === length) {
        this.#space = byte;
        break;
      }
      const escaped =
        kind === Kind.Escaped ||
        (kind === Kind.Space && kinds[chunk[pos]!] === Kind.Break) ||
        (kind === Kind.LineStart && (column === 0 || column > MAX_LINE - 2));
      this.#column = column;
      o = this.#put(out, o, byte, escaped);
      column = this.#column;
    }
    this.#column = column;
    if (final && this.#space >= 0) {
      o = this.#put(out, o, this.#space, true);
      this.#space = -1;
    }
    return out.subarray(0, o);
  }

  /** Writes one byte as itself or as `=XX`, after a soft break if the line has no room for it. */
  #put(out: Uint8Array, o: number, byte: number, escaped: boolean): number {
    if (this.#column > (escaped ? MAX_LINE - 4 : MAX_LINE - 2)) {
      out[o++] = EQUALS;
      out[o++] = CR;
      out[o++] = LF;
      this.#column = 0;
    }
    if (escaped) {
      out[o] = EQUALS;
      out[o + 1] = UPPER_HEX[byte >>> 4]!;
      out[o + 2] = UPPER_HEX[byte & 15]!;
      this.#column += 3;
      return o + 3;
    }
    out[o] = byte;
    this.#column++;
    return o + 1;
  }
}

/** Encodes a whole body as quoted-printable (see {@link QuotedPrintableEncoder}). */
export function encodeQuotedPrintableBody(
  bytes: Uint8Array,
  options?: QuotedPrintableEncoderOptions,
): Uint8Array {
  return new QuotedPrintableEncoder(options).end(bytes);
}

import { CR, concatBytes, decodeLatin1, LF } from '@postwire/core';

/** Bytes of a line kept for decoding: a data line needs 61, a `begin` line its file name. */
const KEPT_LINE = 1024;
const BEGIN = /^begin ([0-7]{1,6}) (.*)$/;

/**
 * Defect codes of {@link UuDecoder}, each recorded at most once per decoder:
 * - `uuencode-missing-begin`: no `begin <mode> <name>` line; nothing was decoded.
 * - `uuencode-missing-end`: the body ended before the `end` line.
 * - `invalid-uuencode`: a data line held bytes outside the uuencode range; they were read as zero bits.
 */
export type UuDefect = 'uuencode-missing-begin' | 'uuencode-missing-end' | 'invalid-uuencode';

enum Stage {
  BeforeBegin,
  Data,
  AfterEnd,
}

/**
 * Streaming decoder of a uuencoded body (`Content-Transfer-Encoding: x-uuencode`): it skips everything
 * before the `begin <mode> <name>` line, decodes the data lines, and ignores everything after `end`.
 * Any chunking of the input gives the same bytes. Data lines whose trailing spaces were stripped in
 * transit are padded with zero bits, as the format intends.
 */
export class UuDecoder {
  /** The codes of the defects seen so far (see {@link UuDefect}), each once. */
  readonly defects: UuDefect[] = [];
  /** The file name of the `begin` line, once seen. */
  fileName: string | undefined;
  /** The Unix permission bits of the `begin` line, once seen. */
  mode: number | undefined;
  #stage = Stage.BeforeBegin;
  /** The start of the current line, from earlier chunks (at most {@link KEPT_LINE} bytes). */
  #line = new Uint8Array(KEPT_LINE);
  #lineLength = 0;

  /** Decodes one chunk; returns the bytes of the data lines it completes. */
  decode(chunk: Uint8Array): Uint8Array {
    const out: Uint8Array[] = [];
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(LF, start);
      const end = lf === -1 ? chunk.length : lf;
      const room = KEPT_LINE - this.#lineLength;
      const kept = chunk.subarray(start, Math.min(end, start + room));
      if (lf === -1) {
        this.#line.set(kept, this.#lineLength);
        this.#lineLength += kept.length;
        break;
      }
      let line = kept;
      if (this.#lineLength > 0) {
        this.#line.set(kept, this.#lineLength);
        line = this.#line.subarray(0, this.#lineLength + kept.length);
        this.#lineLength = 0;
      }
      this.#readLine(line, out);
      start = lf + 1;
    }
    return concatBytes(out.length === 0 ? [EMPTY] : out);
  }

  /** Ends the body: decodes a last line without a line break, and readies the decoder for another body. */
  end(): Uint8Array {
    const out: Uint8Array[] = [EMPTY];
    if (this.#lineLength > 0) this.#readLine(this.#line.subarray(0, this.#lineLength), out);
    if (this.#stage === Stage.BeforeBegin) this.#defect('uuencode-missing-begin');
    else if (this.#stage === Stage.Data) this.#defect('uuencode-missing-end');
    this.#stage = Stage.BeforeBegin;
    this.#lineLength = 0;
    return concatBytes(out);
  }

  #readLine(line: Uint8Array, out: Uint8Array[]): void {
    let length = line.length;
    if (length > 0 && line[length - 1] === CR) length--;
    if (this.#stage === Stage.BeforeBegin) {
      const begin = BEGIN.exec(decodeLatin1(line.subarray(0, length)));
      if (begin) {
        this.mode = Number.parseInt(begin[1]!, 8);
        this.fileName = begin[2]!;
        this.#stage = Stage.Data;
      }
    } else if (this.#stage === Stage.Data) {
      while (length > 0 && (line[length - 1] === 0x20 || line[length - 1] === 0x09)) length--;
      if (length === 3 && line[0] === 0x65 && line[1] === 0x6e && line[2] === 0x64) {
        this.#stage = Stage.AfterEnd;
      } else if (length > 0) {
        out.push(this.#decodeData(line.subarray(0, length)));
      }
    }
  }

  /** Decodes one data line: a length character, then four characters for every three bytes. */
  #decodeData(line: Uint8Array): Uint8Array {
    const bytes = new Uint8Array((line[0]! - 0x20) & 63);
    let valid = true;
    const sextet = (index: number): number => {
      const byte = line[index] ?? 0x20;
      if (byte < 0x20 || byte > 0x60) valid = false;
      return (byte - 0x20) & 63;
    };
    for (let i = 0, p = 1; i < bytes.length; i += 3, p += 4) {
      const bits = (sextet(p) << 18) | (sextet(p + 1) << 12) | (sextet(p + 2) << 6) | sextet(p + 3);
      bytes[i] = bits >>> 16;
      if (i + 1 < bytes.length) bytes[i + 1] = bits >>> 8;
      if (i + 2 < bytes.length) bytes[i + 2] = bits;
    }
    if (!valid) this.#defect('invalid-uuencode');
    return bytes;
  }

  #defect(code: UuDefect): void {
    if (!this.defects.includes(code)) this.defects.push(code);
  }
}

const EMPTY = new Uint8Array(0);

import { InvalidArgumentError } from '@postwire/core';

/** Options of {@link decodeFlowed}. */
export interface DecodeFlowedOptions {
  /** The `delsp=yes` parameter: the space that ends a flowed line was added by the sender and goes. */
  delSp: boolean;
}

/** Options of {@link encodeFlowed}. */
export interface EncodeFlowedOptions {
  /** The longest line to write, quote marks and stuffing included, when words allow (default 78). */
  width?: number;
  /**
   * Write for `delsp=yes` (default `false`): each soft break adds a space that the reader deletes, so lines
   * may also break inside a word too long for the width.
   */
  delSp?: boolean;
}

const SIGNATURE_SEPARATOR = '-- ';

/** The line break of the text: CRLF if it has any, LF otherwise. */
function lineBreakOf(text: string): string {
  return text.includes('\r\n') ? '\r\n' : '\n';
}

/** The lines of a text, without the empty string a final line break leaves; and whether there was one. */
function splitLines(text: string): { lines: string[]; finalBreak: boolean } {
  const lines = text.split(/\r?\n/);
  const finalBreak = lines.length > 1 && lines[lines.length - 1] === '';
  if (finalBreak) lines.pop();
  return { lines, finalBreak };
}

/** The number of `>` that start a line. */
function quoteDepth(line: string): number {
  let depth = 0;
  while (line.charCodeAt(depth) === 0x3e) depth++;
  return depth;
}

/**
 * Decodes `format=flowed` text (RFC 3676): removes space-stuffing, joins each flowed line (one that ends in
 * a space) with the next line of the same quote depth, and with `delSp` deletes the space at each join. A
 * flowed line before a line of another depth, before the signature separator `-- ` or at the end is kept
 * as it is; the separator itself is never flowed. A quoted paragraph keeps its quote marks, followed by a
 * space if its first line had one. Line breaks in the result are those of the input (CRLF or LF).
 */
export function decodeFlowed(text: string, options: DecodeFlowedOptions): string {
  const { lines, finalBreak } = splitLines(text);
  const out: string[] = [];
  let parts: string[] = [];
  let prefix = '';
  let depth = -1;
  let flowed = false;
  const close = () => {
    if (depth >= 0) out.push(prefix + parts.join(''));
  };
  for (const line of lines) {
    const lineDepth = quoteDepth(line);
    let rest = line.slice(lineDepth);
    const stuffed = rest.charCodeAt(0) === 0x20;
    if (stuffed) rest = rest.slice(1);
    const signature = rest === SIGNATURE_SEPARATOR;
    if (flowed && lineDepth === depth && !signature) {
      if (options.delSp) parts[parts.length - 1] = parts[parts.length - 1]!.slice(0, -1);
      parts.push(rest);
    } else {
      close();
      depth = lineDepth;
      prefix = lineDepth > 0 ? '>'.repeat(lineDepth) + (stuffed ? ' ' : '') : '';
      parts = [rest];
    }
    flowed = !signature && rest.endsWith(' ');
  }
  close();
  const lineBreak = lineBreakOf(text);
  return out.join(lineBreak) + (finalBreak ? lineBreak : '');
}

/**
 * Encodes text as `format=flowed` (RFC 3676) for a composer: wraps each line at spaces to fit the width
 * (a word longer than the width stays whole unless `delSp`), ends every soft-broken line with a space,
 * removes trailing spaces from each line (except the signature separator `-- `), keeps quote marks on
 * every line of a quoted paragraph, and space-stuffs lines that start with a space, `>` or `From `.
 * {@link decodeFlowed} with the same `delSp` gives the text back when its lines had no trailing spaces.
 * Line breaks in the result are those of the input (CRLF or LF).
 */
export function encodeFlowed(text: string, options: EncodeFlowedOptions = {}): string {
  const width = options.width ?? 78;
  if (!Number.isInteger(width) || width < 1)
    throw new InvalidArgumentError(`flowed width must be a positive integer: ${width}`);
  const delSp = options.delSp ?? false;
  const { lines, finalBreak } = splitLines(text);
  const out: string[] = [];
  for (const line of lines) {
    const depth = quoteDepth(line);
    const quote = line.slice(0, depth);
    let content = line.slice(depth);
    const spaced = depth > 0 && content.charCodeAt(0) === 0x20;
    if (spaced) content = content.slice(1);
    if (content !== SIGNATURE_SEPARATOR) content = trimTrailingSpaces(content);
    const firstPrefix = quote + (spaced || (depth === 0 && needsStuffing(content)) ? ' ' : '');
    const chunks = wrap(content, Math.max(width - firstPrefix.length, 2), delSp);
    chunks.forEach((chunk, index) => {
      const soft = index < chunks.length - 1 && delSp ? ' ' : '';
      if (index === 0) out.push(firstPrefix + chunk + soft);
      else out.push(quote + (depth > 0 || needsStuffing(chunk) ? ' ' : '') + chunk + soft);
    });
  }
  const lineBreak = lineBreakOf(text);
  return out.join(lineBreak) + (finalBreak ? lineBreak : '');
}

/** True for a line that a reader would misread unless stuffed: it starts with a space, `>` or `From `. */
function needsStuffing(line: string): boolean {
  const first = line.charCodeAt(0);
  return first === 0x20 || first === 0x3e || line.startsWith('From ');
}

function trimTrailingSpaces(line: string): string {
  let end = line.length;
  while (end > 0 && line.charCodeAt(end - 1) === 0x20) end--;
  return line.slice(0, end);
}

/** True when a line may break before `index`: after a run of spaces. */
function isBreak(text: string, index: number): boolean {
  return text.charCodeAt(index - 1) === 0x20 && text.charCodeAt(index) !== 0x20;
}

/**
 * Splits one line's content into pieces of at most `room` characters where spaces allow; every piece but
 * the last ends where a reader may join it back. Without `delSp` a piece ends after a run of spaces; with
 * it, the caller adds a space, so a piece has one character less and may end inside a word.
 */
function wrap(content: string, room: number, delSp: boolean): string[] {
  const pieces: string[] = [];
  const limit = delSp ? room - 1 : room;
  let start = 0;
  while (content.length - start > limit) {
    let end = -1;
    for (let index = start + limit; index > start; index--) {
      if (isBreak(content, index)) {
        end = index;
        break;
      }
    }
    if (end === -1 && delSp) {
      end = start + limit;
      if (isHighSurrogate(content.charCodeAt(end - 1)) && end - 1 > start) end--;
    }
    if (end === -1) end = nextBreak(content, start + limit + 1);
    // A piece that would read as the signature separator must not end here.
    if ((delSp ? `${content.slice(start, end)} ` : content.slice(start, end)) === SIGNATURE_SEPARATOR) {
      end = delSp ? end + 1 : nextBreak(content, end + 1);
    }
    if (end >= content.length) break;
    pieces.push(content.slice(start, end));
    start = end;
  }
  pieces.push(content.slice(start));
  return pieces;
}

/** The first break at or after `from`, or the end of the text. */
function nextBreak(text: string, from: number): number {
  for (let index = from; index < text.length; index++) if (isBreak(text, index)) return index;
  return text.length;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

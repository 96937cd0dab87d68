import { CR, decodeLatin1, decodeUtf8Strict, LF } from '@postwire/core';
import type { Defect } from '../defects.js';
import { isFoldingSpace } from '../header/cfws.js';
import { defaultMimeLimits, type MimeLimits } from '../limits.js';
import type { HeaderField } from './types.js';

/** The limits a header block obeys. */
export type HeaderBlockLimits = Pick<MimeLimits, 'maxHeaderSize' | 'maxHeaderCount'>;

/** The fields of a header block, and where its body starts. */
export interface HeaderBlock {
  /** The header fields, in order. */
  readonly fields: HeaderField[];
  /** What was wrong with the header. */
  readonly defects: Defect[];
  /** Offset in the input where the body starts: after the blank line, or where a body without one begins. */
  readonly bodyOffset: number;
}

/** Field names longer than this are dropped (RFC 5322 lines hold at most 998 characters). */
const MAX_NAME_LENGTH = 998;

const SP = 32;
const HT = 9;
const NON_ASCII = /[^\x00-\x7f]/;

type LineKind = 'field' | 'bad-name' | 'junk';

/**
 * Splits a header block into fields, leniently:
 * - line endings may be CRLF, bare LF or mixed; a folded line starts with a space or a tab;
 * - the block ends at the first empty line, or at the end of the input;
 * - whitespace between a name and its colon (`From :`, `From\r\n :`) is accepted with a `space-before-colon`
 *   defect, and a first line that starts with whitespace (` From:`) is read as a field with a
 *   `leading-whitespace` defect: both stay visible as fields, so that no reader can hide them;
 * - a name with a control, space-less non-ASCII byte or NUL, or longer than 998 bytes, drops the field
 *   (`invalid-header-name`);
 * - a line that is no field (no colon, or a space inside the name) is skipped as junk (`invalid-header-line`)
 *   when the next line is a field or the blank line, such as an mbox `From ` line or an HTTP request line;
 *   otherwise the body starts at that line (`missing-header-separator`), as for a part with no header;
 * - a field over `maxHeaderSize` bytes is cut there, and fields after `maxHeaderCount` are dropped.
 * Runs in time linear in the input.
 */
export function parseHeaderBlock(
  bytes: Uint8Array,
  limits: HeaderBlockLimits = defaultMimeLimits,
): HeaderBlock {
  const text = decodeLatin1(bytes);
  const length = text.length;
  const fields: HeaderField[] = [];
  const defects: Defect[] = [];
  const mayHoldNonAscii = NON_ASCII.test(text);
  let pos = 0;
  let junkStart = -1;
  let countExceeded = false;

  while (pos < length) {
    const first = text.charCodeAt(pos);
    if (first === LF || (first === CR && text.charCodeAt(pos + 1) === LF)) {
      if (junkStart >= 0) skipJunk(defects);
      return { fields, defects, bodyOffset: pos + (first === LF ? 1 : 2) };
    }
    const start = pos;
    let lineEnd = text.indexOf('\n', pos);
    while (lineEnd !== -1 && isWhitespace(text.charCodeAt(lineEnd + 1)))
      lineEnd = text.indexOf('\n', lineEnd + 1);
    const next = lineEnd === -1 ? length : lineEnd + 1;
    let end = lineEnd === -1 ? length : lineEnd;
    if (end > start && text.charCodeAt(end - 1) === CR) end--;

    let nameStart = start;
    if (start === 0 && isWhitespace(first)) {
      while (nameStart < end && isWhitespace(text.charCodeAt(nameStart))) nameStart++;
    }
    const colon = text.indexOf(':', nameStart);
    const kind = classify(text, nameStart, colon === -1 || colon >= end ? -1 : colon);
    if (kind === 'junk') {
      if (junkStart >= 0) return bodyAt(fields, defects, junkStart);
      junkStart = start;
      pos = next;
      continue;
    }
    if (junkStart >= 0) {
      skipJunk(defects);
      junkStart = -1;
    }
    pos = next;
    if (kind === 'bad-name') {
      defects.push({
        code: 'invalid-header-name',
        message: 'a header field name is malformed; the field is dropped',
      });
      continue;
    }
    if (fields.length >= limits.maxHeaderCount) {
      if (!countExceeded) {
        countExceeded = true;
        defects.push({
          code: 'limit-maxHeaderCount',
          message: 'too many header fields; later ones are dropped',
        });
      }
      continue;
    }
    if (nameStart > start) {
      defects.push({ code: 'leading-whitespace', message: 'the first header line starts with whitespace' });
    }
    let nameEnd = colon;
    while (isFoldingSpace(text.charCodeAt(nameEnd - 1))) nameEnd--;
    if (nameEnd < colon) {
      defects.push({
        code: 'space-before-colon',
        message: 'whitespace between a header field name and its colon',
      });
    }
    if (end - start > limits.maxHeaderSize) {
      end = start + limits.maxHeaderSize;
      defects.push({
        code: 'limit-maxHeaderSize',
        message: 'a header field is too long; the rest is dropped',
      });
    }
    const name = text.slice(nameStart, nameEnd);
    const valueStart = Math.min(colon + 1, end);
    let value = text.slice(valueStart, end);
    if (mayHoldNonAscii && NON_ASCII.test(value)) {
      value = decodeUtf8Strict(bytes.subarray(valueStart, end)) ?? value;
    }
    fields.push({ name, key: name.toLowerCase(), raw: bytes.subarray(start, end), value });
  }
  if (junkStart >= 0) return bodyAt(fields, defects, junkStart);
  return { fields, defects, bodyOffset: length };
}

function classify(text: string, nameStart: number, colon: number): LineKind {
  if (colon === -1) return 'junk';
  let nameEnd = colon;
  while (nameEnd > nameStart && isFoldingSpace(text.charCodeAt(nameEnd - 1))) nameEnd--;
  if (nameEnd === nameStart) return 'junk';
  let valid = nameEnd - nameStart <= MAX_NAME_LENGTH;
  for (let i = nameStart; i < nameEnd; i++) {
    const code = text.charCodeAt(i);
    if (code === SP || code === HT || code === LF || code === CR) return 'junk';
    if (code < 33 || code > 126) valid = false;
  }
  return valid ? 'field' : 'bad-name';
}

function skipJunk(defects: Defect[]): void {
  defects.push({
    code: 'invalid-header-line',
    message: 'a line in the header block is not a field; it is skipped',
  });
}

function bodyAt(fields: HeaderField[], defects: Defect[], bodyOffset: number): HeaderBlock {
  defects.push({ code: 'missing-header-separator', message: 'no blank line before the body' });
  return { fields, defects, bodyOffset };
}

function isWhitespace(code: number): boolean {
  return code === SP || code === HT;
}

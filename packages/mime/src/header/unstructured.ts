import { CR, LF } from '@postwire/core';
import { isFoldingSpace } from './cfws.js';
import { type DecodedWords, decodeEncodedWords } from './encoded-word.js';

/** Options of `parseUnstructured`. */
export interface UnstructuredOptions {
  /** Encoded words decoded at most (default `defaultMimeLimits.maxEncodedWords`). */
  maxEncodedWords?: number;
}

/**
 * Reads an unstructured field body (Subject, Comments …) as a reader sees it: RFC 2047 words
 * decoded (a space is put between a word and text that touches it), each fold together with the
 * whitespace around it collapsed to one space (a fold inside an encoded word disappears), and the
 * ends trimmed. Whitespace that is not part of a fold is kept as written.
 */
export function parseUnstructured(value: string, options: UnstructuredOptions = {}): DecodedWords {
  const decoded = decodeEncodedWords(value, {
    spaceAroundWords: true,
    maxEncodedWords: options.maxEncodedWords,
  });
  return { text: trimFoldingSpace(collapseFolds(decoded.text)), defects: decoded.defects };
}

/** The text of `parseUnstructured`, without its defects. */
export function decodeUnstructured(value: string): string {
  return parseUnstructured(value).text;
}

const SPACE = 0x20;
const TAB = 0x09;

/** Replaces every run of whitespace that holds a line break by one space. */
function collapseFolds(text: string): string {
  if (!text.includes('\n') && !text.includes('\r')) return text;
  const parts: string[] = [];
  let from = 0;
  let i = 0;
  while (i < text.length) {
    const code = text.charCodeAt(i);
    if (code !== CR && code !== LF) {
      i++;
      continue;
    }
    let start = i;
    while (start > from && (text.charCodeAt(start - 1) === SPACE || text.charCodeAt(start - 1) === TAB))
      start--;
    let end = i;
    while (end < text.length && isFoldingSpace(text.charCodeAt(end))) end++;
    parts.push(text.slice(from, start), ' ');
    from = end;
    i = end;
  }
  parts.push(text.slice(from));
  return parts.join('');
}

/** Removes SP, HTAB, CR and LF at both ends (and nothing else: a decoded no-break space stays). */
function trimFoldingSpace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isFoldingSpace(text.charCodeAt(start))) start++;
  while (end > start && isFoldingSpace(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

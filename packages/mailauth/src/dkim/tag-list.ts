import { InvalidArgumentError } from '@postwire/core';

const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const SEMICOLON = 0x3b;
const EQUALS = 0x3d;

/** The tags of a tag list in the order written, or why the text is not one (a DKIM `permerror`). */
export type TagListParse =
  | {
      /** The text is a tag list. */
      readonly ok: true;
      /** The tags, by name, in the order written. */
      readonly tags: ReadonlyMap<string, string>;
    }
  | {
      /** The text is not a tag list. */
      readonly ok: false;
      /** Why. */
      readonly reason: string;
    };

/**
 * Parses a tag list (RFC 6376 §3.2), as in a DKIM-Signature value or a key record: `tag=value`
 * separated by `;`, with an optional `;` at the end. Folding white space (CRLF only, followed by SP or
 * HTAB) may surround tag names, `=` and values; it is not part of a value, but folding inside a value
 * is kept. Tag names are case-sensitive (`ALPHA *(ALPHA / DIGIT / "_")`), values are printable ASCII
 * but `;`, and a tag may appear once. Never throws: malformed text gives a reason.
 */
export function parseTagList(text: string): TagListParse {
  const tags = new Map<string, string>();
  const length = text.length;
  let i = 0;
  for (;;) {
    const afterSpace = skipFoldingSpace(text, i);
    if (afterSpace < 0) return fail('line break not followed by white space');
    i = afterSpace;
    if (i === length) {
      return tags.size === 0 ? fail('empty tag list') : { ok: true, tags };
    }
    const nameStart = i;
    if (isAlpha(text.charCodeAt(i))) {
      i++;
      while (i < length && isNameCharacter(text.charCodeAt(i))) i++;
    }
    const name = text.slice(nameStart, i);
    if (name === '') {
      return fail(text.charCodeAt(i) === SEMICOLON ? 'empty tag' : 'invalid tag name');
    }
    i = skipFoldingSpace(text, i);
    if (i < 0) return fail('line break not followed by white space');
    if (text.charCodeAt(i) !== EQUALS) return fail(`missing "=" after tag "${name}"`);
    i = skipFoldingSpace(text, i + 1);
    if (i < 0) return fail('line break not followed by white space');
    const valueStart = i;
    let valueEnd = i;
    while (i < length) {
      const code = text.charCodeAt(i);
      if (code === SEMICOLON) break;
      if (isValueCharacter(code)) valueEnd = ++i;
      else if (code === SPACE || code === TAB) i++;
      else if (code === CR && isFold(text, i)) i += 3;
      else if (code === CR || code === LF) return fail('line break not followed by white space');
      else return fail(`invalid character in tag "${name}"`);
    }
    if (tags.has(name)) return fail(`duplicate tag "${name}"`);
    tags.set(name, text.slice(valueStart, valueEnd));
    if (i === length) return { ok: true, tags };
    i++;
  }
}

/**
 * Writes tags as a tag list, `name=value` joined by `; `. Throws an `InvalidArgumentError` for a name
 * or value that would not read back as written (see {@link parseTagList}), or for no tags at all.
 */
export function formatTagList(tags: Iterable<readonly [string, string]>): string {
  const parts: string[] = [];
  for (const [name, value] of tags) {
    if (!isTagName(name)) throw new InvalidArgumentError(`invalid DKIM tag name: ${JSON.stringify(name)}`);
    if (!isTagValue(value)) {
      throw new InvalidArgumentError(`invalid value for DKIM tag "${name}": ${JSON.stringify(value)}`);
    }
    parts.push(`${name}=${value}`);
  }
  if (parts.length === 0) throw new InvalidArgumentError('a DKIM tag list needs at least one tag');
  return parts.join('; ');
}

/** Whether `name` is a tag name: `ALPHA *(ALPHA / DIGIT / "_")`. */
function isTagName(name: string): boolean {
  return /^[A-Za-z][A-Za-z0-9_]*$/.test(name);
}

/** Whether `value` reads back unchanged: empty, or value characters with folding space only inside. */
function isTagValue(value: string): boolean {
  return /^(?:[\x21-\x3a\x3c-\x7e]+(?:(?:[ \t]|\r\n[ \t])+[\x21-\x3a\x3c-\x7e]+)*)?$/.test(value);
}

/** The index after any SP, HTAB and folds at `i`, or -1 at a CR or LF that does not start a fold. */
function skipFoldingSpace(text: string, i: number): number {
  for (;;) {
    const code = text.charCodeAt(i);
    if (code === SPACE || code === TAB) i++;
    else if (code === CR && isFold(text, i)) i += 3;
    else if (code === CR || code === LF) return -1;
    else return i;
  }
}

/** Whether a fold (CRLF then SP or HTAB) starts at `i`. */
function isFold(text: string, i: number): boolean {
  const next = text.charCodeAt(i + 2);
  return text.charCodeAt(i + 1) === LF && (next === SPACE || next === TAB);
}

function isAlpha(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
}

function isNameCharacter(code: number): boolean {
  return isAlpha(code) || (code >= 0x30 && code <= 0x39) || code === 0x5f;
}

/** VALCHAR: printable ASCII but `;`. */
function isValueCharacter(code: number): boolean {
  return code >= 0x21 && code <= 0x7e && code !== SEMICOLON;
}

function fail(reason: string): TagListParse {
  return { ok: false, reason };
}

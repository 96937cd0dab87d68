import { readQuotedString, skipComment } from './cfws.js';
import { decodeUnstructured } from './unstructured.js';

const COMMA = 0x2c;
const QUOTE = 0x22;
const OPEN = 0x28;

/**
 * Splits a comma-separated list of phrases (Keywords, RFC 5322 §3.6.5) into its items: commas
 * inside quoted strings and comments do not split, quoted strings are unquoted, comments are kept
 * as written, and each item is read like an unstructured value (encoded words decoded, folds
 * collapsed, ends trimmed). Empty items are dropped.
 */
export function parseCommaList(value: string): string[] {
  const items: string[] = [];
  let parts: string[] = [];
  let from = 0;
  const finish = (end: number): void => {
    parts.push(value.slice(from, end));
    const item = decodeUnstructured(parts.join(''));
    if (item !== '') items.push(item);
    parts = [];
  };
  let i = 0;
  while (i < value.length) {
    const code = value.charCodeAt(i);
    if (code === COMMA) {
      finish(i);
      from = ++i;
    } else if (code === QUOTE) {
      parts.push(value.slice(from, i));
      const quoted = readQuotedString(value, i);
      parts.push(quoted.text);
      from = i = quoted.end;
    } else if (code === OPEN) i = skipComment(value, i);
    else i++;
  }
  finish(value.length);
  return items;
}

import { decodeUnstructured } from '../header/unstructured.js';
import type { HeaderField } from './types.js';

/** The decoded text (unfolded, RFC 2047 decoded, trimmed) of the first field named `name`, if any. */
export function headerValue(headers: readonly HeaderField[], name: string): string | undefined {
  const key = name.toLowerCase();
  for (const field of headers) if (field.key === key) return decodeUnstructured(field.value);
  return undefined;
}

/** The decoded text of every field named `name`, in order. */
export function headerValues(headers: readonly HeaderField[], name: string): string[] {
  const key = name.toLowerCase();
  const values: string[] = [];
  for (const field of headers) if (field.key === key) values.push(decodeUnstructured(field.value));
  return values;
}

/** Removes the line breaks of folded lines (a CRLF or LF followed by a space or tab) and trims. */
export function unfoldValue(value: string): string {
  return value.replace(/\r?\n(?=[ \t])/g, '').trim();
}

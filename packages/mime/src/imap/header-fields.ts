import { unfoldValue } from '../parser/header-value.js';
import type { HeaderField } from '../parser/types.js';

/** The first field whose lower-cased name is `key`. */
export function firstField(headers: readonly HeaderField[], key: string): HeaderField | undefined {
  for (const field of headers) if (field.key === key) return field;
  return undefined;
}

/** The body of the first field named `key` as written (unfolded and trimmed, not decoded), else `null`. */
export function rawFieldValue(headers: readonly HeaderField[], key: string): string | null {
  const field = firstField(headers, key);
  return field ? unfoldValue(field.value) : null;
}

import { decodeUtf8Strict } from '@postwire/core';

/** C0 controls, DEL and C1 controls: never part of a name that reaches a verifier. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * True when `name` may be passed to a verifier as a user name or authzid: no control characters
 * (NUL, CR, LF and the rest). Everything else (`%`, `*`, `'`, `)(`) passes through unchanged.
 */
export function isSafeName(name: string): boolean {
  return !CONTROL.test(name);
}

/** Decodes a name sent by a client: strict UTF-8 and no control characters, or `undefined`. */
export function decodeName(bytes: Uint8Array): string | undefined {
  const name = decodeUtf8Strict(bytes);
  return name !== undefined && isSafeName(name) ? name : undefined;
}

import { decodeUtf8Strict } from '@postwire/core';

/**
 * C0 controls, DEL, C1 controls, the line and paragraph separators, bidi embeddings, overrides
 * and isolates, and the byte-order mark: never part of a name that reaches a verifier or a log.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]/;

/**
 * True when `name` may be passed to a verifier as a user name or authzid: no control or
 * log-spoofing characters (NUL, CR, LF, U+2028, bidi overrides …). Everything else (`%`, `*`, `'`,
 * `)(`) passes through unchanged: verifiers must treat names as data (bind them as query parameters,
 * escape them for LDAP filters), never splice them into code.
 */
export function isSafeName(name: string): boolean {
  return !CONTROL.test(name);
}

/** Decodes a name sent by a client: strict UTF-8 and no control characters, or `undefined`. */
export function decodeName(bytes: Uint8Array): string | undefined {
  const name = decodeUtf8Strict(bytes);
  return name !== undefined && isSafeName(name) ? name : undefined;
}

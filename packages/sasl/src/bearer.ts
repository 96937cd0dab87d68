import type { SaslConnectionContext } from './mechanism.js';
import type { VerifierResult } from './verifiers.js';

/** What the OAUTHBEARER and XOAUTH2 servers need. */
export interface BearerServerOptions {
  verifyToken(username: string, token: string, context: SaslConnectionContext): Promise<VerifierResult>;
  /** The scope named in the error a failed client receives. */
  scope?: string;
  /** The OpenID discovery URL named in the OAUTHBEARER error (RFC 7628 §3.2.2). */
  openidConfiguration?: string;
}

/** The byte that separates key-value pairs in OAUTHBEARER and XOAUTH2 messages. */
export const KVSEP = '\u0001';

/** RFC 6750 §2.1 `b64token`. */
const BEARER_TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** Extracts the token from an `auth` value `Bearer <token>`, or returns `undefined`. */
export function parseBearerAuth(value: string | undefined): string | undefined {
  const match = /^bearer +(.*)$/i.exec(value ?? '');
  const token = match?.[1];
  return token !== undefined && BEARER_TOKEN.test(token) ? token : undefined;
}

/** Parses `key=value` pairs separated by {@link KVSEP}; `undefined` when one has no `=` or repeats a key. */
export function parseKeyValuePairs(text: string): Map<string, string> | undefined {
  const pairs = new Map<string, string>();
  for (const pair of text.split(KVSEP)) {
    const equals = pair.indexOf('=');
    const key = pair.slice(0, equals);
    if (equals <= 0 || pairs.has(key)) return undefined;
    pairs.set(key, pair.slice(equals + 1));
  }
  return pairs;
}

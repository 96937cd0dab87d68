import { timingSafeEqual, utf8 } from '@postwire/core';
import type { Decoys } from './decoy.js';
import type { SaslConnectionContext } from './mechanism.js';
import { saslprep } from './saslprep.js';
import {
  deriveScramCredentials,
  type ScramMechanismName,
  type ScramStoredCredentials,
  saltedPassword,
  scramHashOf,
  scramKeys,
} from './scram-credentials.js';
import { digest } from './web-crypto.js';

/**
 * A verifier's answer: `true` accepts the name the client gave, a non-empty string accepts and names
 * the canonical user, `false` (or an empty string) refuses.
 */
export type VerifierResult = boolean | string;

/** A value or a promise of it: verifiers may be synchronous or asynchronous. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * The application's credential checks. Mechanisms are offered only when what they need is here.
 * Names reach verifiers as the client sent them, minus nothing: control characters are refused
 * before, but `%`, `*`, `'` or `)(` arrive as they are and must be treated as data, never spliced
 * into a query, filter or path unescaped.
 */
export interface SaslVerifiers {
  /** Checks a password (PLAIN, LOGIN, and `verifyPassword`). The password is passed as sent. */
  password?(username: string, password: string, context: SaslConnectionContext): MaybePromise<VerifierResult>;
  /**
   * Returns a user's plaintext-equivalent password, or `undefined` for an unknown user. Enables
   * CRAM-MD5, SCRAM (derived per attempt), and PLAIN/LOGIN when `password` is absent.
   */
  lookupPassword?(username: string, context: SaslConnectionContext): MaybePromise<string | undefined>;
  /** Returns a user's stored SCRAM credentials (see `deriveScramCredentials`), or `undefined`. */
  scramCredentials?(
    username: string,
    mechanism: ScramMechanismName,
    context: SaslConnectionContext,
  ): MaybePromise<ScramStoredCredentials | undefined>;
  /**
   * Checks a bearer token (OAUTHBEARER, XOAUTH2). `username` is the name the client sent, or `''`
   * when an OAUTHBEARER client sent none, in which case only a string result (the owner) accepts.
   */
  token?(username: string, token: string, context: SaslConnectionContext): MaybePromise<VerifierResult>;
  /** Maps the transport-verified identity (`context.externalIdentity`) to a user (EXTERNAL). */
  external?(identity: string, context: SaslConnectionContext): MaybePromise<VerifierResult>;
  /** Admits an ANONYMOUS login, given the client's trace text. */
  anonymous?(trace: string, context: SaslConnectionContext): MaybePromise<boolean>;
}

/** The user name a verifier accepted, or `undefined` when it refused. */
export function acceptedName(result: VerifierResult, username: string): string | undefined {
  if (typeof result === 'string') return result === '' ? undefined : result;
  return result && username !== '' ? username : undefined;
}

/** Checks a username and password, resolving to the accepted user name or `undefined`. */
export type PasswordCheck = (
  username: string,
  password: string,
  context: SaslConnectionContext,
) => Promise<string | undefined>;

/** Fetches SCRAM credentials for one family, or `undefined` for an unknown user. */
export type ScramCredentialSource = (
  username: string,
  mechanism: ScramMechanismName,
  context: SaslConnectionContext,
) => Promise<ScramStoredCredentials | undefined>;

/**
 * Builds the password check from what is configured, in this order: the `password` verifier; a
 * comparison against `lookupPassword` (SASLprep on both sides, SHA-256 digests compared in constant
 * time); or SCRAM credentials recomputed from the password (both families are always looked up).
 * Every attempt derives the decoy, and an unknown user runs the same work against it. `undefined`
 * when nothing can check a password.
 */
export function createPasswordCheck(
  verifiers: SaslVerifiers,
  decoys: Decoys,
  decoyIterations: number,
): PasswordCheck | undefined {
  const { password, lookupPassword, scramCredentials } = verifiers;
  if (password) {
    return async (username, given, context) =>
      acceptedName(await password(username, given, context), username);
  }
  if (lookupPassword) {
    return async (username, given, context) => {
      const [stored, decoy] = await Promise.all([
        lookupPassword(username, context),
        decoys.password(username),
      ]);
      const expected = stored === undefined ? undefined : prepare(stored);
      const presented = prepare(given);
      const match = timingSafeEqual(
        await digest('SHA-256', utf8(expected ?? decoy)),
        await digest('SHA-256', utf8(presented ?? '')),
      );
      return match && expected !== undefined && presented !== undefined ? username : undefined;
    };
  }
  if (scramCredentials) {
    return async (username, given, context) => {
      const [sha256, sha1] = await Promise.all([
        scramCredentials(username, 'SCRAM-SHA-256', context),
        scramCredentials(username, 'SCRAM-SHA-1', context),
      ]);
      const stored = sha256 ?? sha1;
      const mechanism: ScramMechanismName = sha256 || !sha1 ? 'SCRAM-SHA-256' : 'SCRAM-SHA-1';
      const hash = scramHashOf(mechanism);
      const decoy = await decoys.scramCredentials(username, mechanism, hash, decoyIterations);
      const credentials = stored ?? decoy;
      let salted: Uint8Array;
      try {
        salted = await saltedPassword(hash, given, credentials.salt, credentials.iterations);
      } catch {
        return undefined;
      }
      const { storedKey } = await scramKeys(hash, salted);
      return timingSafeEqual(storedKey, credentials.storedKey) && stored !== undefined ? username : undefined;
    };
  }
  return undefined;
}

/**
 * Builds the SCRAM credential source: the `scramCredentials` verifier, or credentials derived from
 * `lookupPassword` with a salt that is stable per user. `undefined` when neither is configured.
 */
export function createScramCredentialSource(
  verifiers: SaslVerifiers,
  decoys: Decoys,
  iterations: number,
): ScramCredentialSource | undefined {
  const { scramCredentials, lookupPassword } = verifiers;
  if (scramCredentials) {
    return async (username, mechanism, context) => scramCredentials(username, mechanism, context);
  }
  if (!lookupPassword) return undefined;
  return async (username, mechanism, context) => {
    const [stored, decoy, salt] = await Promise.all([
      lookupPassword(username, context),
      decoys.password(username),
      decoys.salt(username, mechanism),
    ]);
    try {
      const credentials = await deriveScramCredentials(stored ?? decoy, scramHashOf(mechanism), {
        salt,
        iterations,
      });
      return stored === undefined ? undefined : credentials;
    } catch {
      return undefined;
    }
  };
}

function prepare(password: string): string | undefined {
  try {
    return saslprep(password);
  } catch {
    return undefined;
  }
}

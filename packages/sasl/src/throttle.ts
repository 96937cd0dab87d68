import type { AuthIdentity, SaslConnectionContext } from './mechanism.js';

/**
 * Hooks for throttling and lockout. `beforeAttempt` runs before every exchange and every
 * `verifyPassword`: it may wait (a failure delay that grows per address) and refuses the attempt by
 * returning `false`. `onFailure` sees every failed credential check with the name the client tried
 * (whether or not it exists) so the application can count failures per address and per user;
 * a verifier that refuses a locked-out user fails exactly like a wrong password. Both outcome hooks
 * get the mechanism that was used: a SASL name such as `SCRAM-SHA-256`, `PASSWORD` for a protocol's own
 * plain login (IMAP LOGIN, POP3 USER/PASS), or `APOP`.
 */
export interface SaslThrottle {
  /** Runs once per attempt, before any credential is read; `false` refuses it as `throttled`. */
  beforeAttempt?(
    context: SaslConnectionContext,
  ): boolean | void | Promise<boolean | undefined> | Promise<void>;
  /** Runs once per refused attempt (wrong or unknown credentials, or a refused authzid). */
  onFailure?(
    context: SaslConnectionContext,
    username: string | undefined,
    mechanism: string,
  ): void | Promise<void>;
  /** Runs once per successful attempt, with the identity that authenticated. */
  onSuccess?(context: SaslConnectionContext, identity: AuthIdentity, mechanism: string): void | Promise<void>;
}

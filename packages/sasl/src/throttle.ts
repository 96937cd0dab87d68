import type { AuthIdentity, SaslConnectionContext } from './mechanism.js';

/**
 * Hooks for throttling and lockout. `beforeAttempt` runs before every exchange and every
 * `verifyPassword`: it may wait (a failure delay that grows per address) and refuses the attempt by
 * returning `false`. `onFailure` sees every failed credential check with the name the client tried
 * (whether or not it exists) so the application can count failures per address and per user;
 * a verifier that refuses a locked-out user fails exactly like a wrong password.
 */
export interface SaslThrottle {
  beforeAttempt?(
    context: SaslConnectionContext,
  ): boolean | void | Promise<boolean | undefined> | Promise<void>;
  onFailure?(context: SaslConnectionContext, username: string | undefined): void | Promise<void>;
  onSuccess?(context: SaslConnectionContext, identity: AuthIdentity): void | Promise<void>;
}

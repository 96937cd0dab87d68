import type { AuthIdentity, SaslFailureReason, ServerStep } from './mechanism.js';

/** An empty challenge or response. */
export const EMPTY: Uint8Array = new Uint8Array(0);

/** A step that sends `bytes` to the client. */
export function challenge(bytes: Uint8Array): ServerStep {
  return { type: 'challenge', challenge: bytes };
}

/** A step that reports refused credentials to the client, which must answer before the exchange fails. */
export function refusal(bytes: Uint8Array, username: string): ServerStep {
  return { type: 'challenge', challenge: bytes, refused: { username } };
}

/** A step that ends the exchange in failure; `username` goes to the throttling hooks only. */
export function failure(reason: SaslFailureReason, username?: string): ServerStep {
  return username === undefined ? { type: 'failure', reason } : { type: 'failure', reason, username };
}

/** A step that ends the exchange in success; an authzid equal to the user name is dropped. */
export function success(username: string, authzid?: string, additionalData?: Uint8Array): ServerStep {
  const identity: AuthIdentity =
    authzid === undefined || authzid === username ? { username } : { username, authzid };
  return additionalData ? { type: 'success', identity, additionalData } : { type: 'success', identity };
}

import {
  decodeBase64,
  encodeBase64,
  InvalidArgumentError,
  LimitExceededError,
  ProtocolError,
} from '@postwire/core';
import type { SaslLimits } from './limits.js';
import type { ClientMechanismSession } from './mechanism.js';

/**
 * One client-side SASL exchange, driven by protocol lines. Send `initialResponse` with the command
 * when it is set (`=` means an empty one); answer each challenge line (after `334 ` or `+ `) with
 * `respond`; on the success reply call `complete`. When `respond` or `complete` throws, send `*` to
 * cancel (if the server still waits) and give up.
 */
export interface SaslClientExchange {
  /** The chosen mechanism, as advertised. */
  readonly mechanism: string;
  /** The initial response for the command line: base64, `=` for an empty one, or `undefined` for none. */
  readonly initialResponse: string | undefined;
  /** Answers a base64 challenge with a base64 response (`''` for an empty one); never after `complete`. */
  respond(challenge: string): Promise<string>;
  /**
   * Call when the server reports success, with the base64 additional data it sent with it if any.
   * Throws an `AuthenticationError` when a mutually authenticating mechanism (SCRAM) finds that the
   * server did not prove itself: treat the session as compromised.
   */
  complete(additionalData?: string): Promise<void>;
  /** A mechanism-level error the server sent (OAuth error JSON, SCRAM `e=`), for diagnostics. */
  readonly serverError: string | undefined;
}

/** Wraps a mechanism session in base64 framing and the challenge limit. */
export function createClientExchange(
  mechanism: string,
  session: ClientMechanismSession,
  limits: Readonly<SaslLimits>,
  sendInitialResponse: boolean,
): SaslClientExchange {
  let pending = sendInitialResponse ? undefined : session.initialResponse;
  let completed = false;
  const initial = sendInitialResponse ? session.initialResponse : undefined;

  const decode = (text: string): Uint8Array => {
    if (text.length > limits.maxChallengeLength) {
      throw new LimitExceededError('maxChallengeLength', limits.maxChallengeLength);
    }
    const bytes = decodeBase64(text);
    if (!bytes) throw new ProtocolError('the SASL challenge is not valid base64');
    return bytes;
  };

  return {
    mechanism,
    initialResponse: initial === undefined ? undefined : initial.length === 0 ? '=' : encodeBase64(initial),
    async respond(challenge) {
      if (completed) throw new InvalidArgumentError('this SASL exchange has already completed');
      const bytes = decode(challenge);
      if (pending !== undefined) {
        const response = pending;
        pending = undefined;
        return encodeBase64(response);
      }
      return encodeBase64(await session.respond(bytes));
    },
    async complete(additionalData) {
      completed = true;
      await session.complete?.(additionalData === undefined ? undefined : decode(additionalData));
    },
    get serverError() {
      return session.serverError;
    },
  };
}

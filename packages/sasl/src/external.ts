import { InvalidArgumentError, ProtocolError, utf8 } from '@postwire/core';
import { decodeName, isSafeName } from './identity-text.js';
import type { ClientMechanism, SaslConnectionContext, ServerMechanism } from './mechanism.js';
import { challenge, EMPTY, failure, success } from './steps.js';
import { acceptedName, type VerifierResult } from './verifiers.js';

/**
 * The EXTERNAL server mechanism (RFC 4422 Appendix A): the credential is what the transport already
 * verified (`context.externalIdentity`, such as a TLS client certificate's subject); the client's
 * message is the authzid it asks for, or empty. Offered only where that identity exists.
 */
export function externalServer(
  verify: (identity: string, context: SaslConnectionContext) => Promise<VerifierResult>,
): ServerMechanism {
  return {
    name: 'EXTERNAL',
    available: (context) => context.externalIdentity !== undefined,
    start: (context) => async (response) => {
      if (response === undefined) return challenge(EMPTY);
      const authzid = decodeName(response);
      const identity = context.externalIdentity;
      if (authzid === undefined || identity === undefined || !isSafeName(identity)) {
        return failure('malformed');
      }
      const accepted = acceptedName(await verify(identity, context), identity);
      if (accepted === undefined) return failure('invalid-credentials', identity);
      return success(accepted, authzid === '' ? undefined : authzid);
    },
  };
}

/** The EXTERNAL client mechanism: sends the authzid, or an empty message to act as the external identity. */
export function externalClient(authzid?: string): ClientMechanism {
  return {
    name: 'EXTERNAL',
    start: () => {
      if (authzid !== undefined && !isSafeName(authzid)) {
        throw new InvalidArgumentError('the authzid must not contain control characters');
      }
      return {
        initialResponse: utf8(authzid ?? ''),
        respond: async () => {
          throw new ProtocolError('unexpected EXTERNAL challenge');
        },
      };
    },
  };
}

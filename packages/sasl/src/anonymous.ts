import { decodeUtf8Strict, InvalidArgumentError, ProtocolError, utf8 } from '@postwire/core';
import { isSafeName } from './identity-text.js';
import type { ClientMechanism, SaslConnectionContext, ServerMechanism } from './mechanism.js';
import { challenge, EMPTY, failure } from './steps.js';

/** RFC 4505 §3: the trace is at most 255 characters. */
const MAX_TRACE_LENGTH = 255;

/** The user name an ANONYMOUS login gets. */
export const ANONYMOUS_USERNAME = 'anonymous';

function isValidTrace(trace: string): boolean {
  return [...trace].length <= MAX_TRACE_LENGTH && isSafeName(trace);
}

/** The ANONYMOUS server mechanism (RFC 4505); the identity is `anonymous` with the client's trace. */
export function anonymousServer(
  admit: (trace: string, context: SaslConnectionContext) => Promise<boolean>,
): ServerMechanism {
  return {
    name: 'ANONYMOUS',
    start: (context) => async (response) => {
      if (response === undefined) return challenge(EMPTY);
      const trace = decodeUtf8Strict(response);
      if (trace === undefined || !isValidTrace(trace)) return failure('malformed');
      if (!(await admit(trace, context))) return failure('invalid-credentials');
      return { type: 'success', identity: { username: ANONYMOUS_USERNAME, trace } };
    },
  };
}

/** The ANONYMOUS client mechanism (RFC 4505), sending `trace` (an email address or an opaque token). */
export function anonymousClient(trace = ''): ClientMechanism {
  return {
    name: 'ANONYMOUS',
    start: () => {
      if (!isValidTrace(trace)) throw new InvalidArgumentError('the ANONYMOUS trace is invalid');
      return {
        initialResponse: utf8(trace),
        respond: async () => {
          throw new ProtocolError('unexpected ANONYMOUS challenge');
        },
      };
    },
  };
}

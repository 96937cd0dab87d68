import { decodeUtf8Strict, InvalidArgumentError, ProtocolError, utf8 } from '@postwire/core';
import { type BearerServerOptions, KVSEP, parseBearerAuth, parseKeyValuePairs } from './bearer.js';
import { isSafeName } from './identity-text.js';
import type { ClientMechanism, ServerMechanism } from './mechanism.js';
import { challenge, EMPTY, failure, refusal, success } from './steps.js';
import { acceptedName } from './verifiers.js';

/**
 * The XOAUTH2 server mechanism (Google's and Microsoft's `user=…^Aauth=Bearer …^A^A`). A refused
 * token gets an error JSON challenge; the client answers it with an empty response, then the
 * exchange fails.
 */
export function xoauth2Server(options: BearerServerOptions): ServerMechanism {
  return {
    name: 'XOAUTH2',
    cleartext: true,
    start: (context) => {
      let refused = false;
      return async (response) => {
        if (response === undefined) return challenge(EMPTY);
        if (refused) return failure('invalid-credentials');
        const text = decodeUtf8Strict(response);
        const pairs = text?.endsWith(KVSEP + KVSEP) ? parseKeyValuePairs(text.slice(0, -2)) : undefined;
        const username = pairs?.get('user');
        const token = parseBearerAuth(pairs?.get('auth'));
        if (!username || !isSafeName(username) || token === undefined) return failure('malformed');
        const accepted = acceptedName(await options.verifyToken(username, token, context), username);
        if (accepted !== undefined) return success(accepted);
        refused = true;
        const error = {
          status: '401',
          schemes: 'bearer',
          ...(options.scope ? { scope: options.scope } : {}),
        };
        return refusal(utf8(JSON.stringify(error)), username);
      };
    },
  };
}

/** The XOAUTH2 client mechanism; answers an error challenge with an empty response and keeps the error JSON. */
export function xoauth2Client(username: string, accessToken: string): ClientMechanism {
  return {
    name: 'XOAUTH2',
    cleartext: true,
    start: () => {
      if (!username || !accessToken || `${username}${accessToken}`.includes(KVSEP)) {
        throw new InvalidArgumentError('XOAUTH2 needs a user name and a token without ^A characters');
      }
      const session = {
        initialResponse: utf8(`user=${username}${KVSEP}auth=Bearer ${accessToken}${KVSEP}${KVSEP}`),
        serverError: undefined as string | undefined,
        respond: async (errorChallenge: Uint8Array) => {
          if (session.serverError !== undefined) throw new ProtocolError('unexpected XOAUTH2 challenge');
          session.serverError = decodeUtf8Strict(errorChallenge) ?? '';
          return EMPTY;
        },
      };
      return session;
    },
  };
}

import { decodeUtf8Strict, InvalidArgumentError, ProtocolError, utf8 } from '@postwire/core';
import { type BearerServerOptions, KVSEP, parseBearerAuth, parseKeyValuePairs } from './bearer.js';
import { formatGs2Header, parseGs2Header } from './gs2.js';
import { isSafeName } from './identity-text.js';
import type { ClientMechanism, ServerMechanism } from './mechanism.js';
import { challenge, EMPTY, failure, refusal, success } from './steps.js';
import { acceptedName } from './verifiers.js';

/** What an OAUTHBEARER client sends besides its token (RFC 7628 §3.1). */
export interface OAuthBearerClientOptions {
  /** The server's host name, sent as `host=`. */
  host?: string;
  /** The server's port, sent as `port=`. */
  port?: number;
}

const KVSEP_RESPONSE = utf8(KVSEP);

/**
 * The OAUTHBEARER server mechanism (RFC 7628). A refused token gets the error JSON of §3.2.2 as a
 * challenge; the client must answer `^A`, then the exchange fails.
 */
export function oauthBearerServer(options: BearerServerOptions): ServerMechanism {
  return {
    name: 'OAUTHBEARER',
    cleartext: true,
    start: (context) => {
      let refused = false;
      return async (response) => {
        if (response === undefined) return challenge(EMPTY);
        if (refused) {
          const acknowledged = response.length === 1 && response[0] === 1;
          return failure(acknowledged ? 'invalid-credentials' : 'malformed');
        }
        const header = parseGs2Header(decodeUtf8Strict(response) ?? '');
        const body = header?.rest ?? '';
        const pairs =
          body.startsWith(KVSEP) && body.endsWith(KVSEP + KVSEP)
            ? parseKeyValuePairs(body.slice(1, -2))
            : undefined;
        const token = parseBearerAuth(pairs?.get('auth'));
        const username = header?.authzid ?? '';
        if (!header || header.flag === 'p' || token === undefined || !isSafeName(username)) {
          return failure('malformed');
        }
        // The a= name is the user the token is for, which the verifier has checked (and may name canonically,
        // as for XOAUTH2's user=): it is the identity, not a request to act as someone else.
        const accepted = acceptedName(await options.verifyToken(username, token, context), username);
        if (accepted !== undefined) return success(accepted);
        refused = true;
        const error = {
          status: 'invalid_token',
          ...(options.scope ? { scope: options.scope } : {}),
          ...(options.openidConfiguration ? { 'openid-configuration': options.openidConfiguration } : {}),
        };
        return refusal(utf8(JSON.stringify(error)), username);
      };
    },
  };
}

/** The OAUTHBEARER client mechanism (RFC 7628); answers an error challenge with `^A` and keeps the error JSON. */
export function oauthBearerClient(
  username: string | undefined,
  accessToken: string,
  options: OAuthBearerClientOptions = {},
): ClientMechanism {
  return {
    name: 'OAUTHBEARER',
    cleartext: true,
    start: () => {
      const fields = [
        ...(options.host ? [`host=${options.host}`] : []),
        ...(options.port ? [`port=${options.port}`] : []),
        `auth=Bearer ${accessToken}`,
      ];
      if (!accessToken || [username ?? '', ...fields].some((field) => field.includes(KVSEP))) {
        throw new InvalidArgumentError('OAUTHBEARER needs a token, and no field may contain ^A');
      }
      const message = `${formatGs2Header('n', username)}${KVSEP}${fields.join(KVSEP)}${KVSEP}${KVSEP}`;
      const session = {
        initialResponse: utf8(message),
        serverError: undefined as string | undefined,
        respond: async (errorChallenge: Uint8Array) => {
          if (session.serverError !== undefined) throw new ProtocolError('unexpected OAUTHBEARER challenge');
          session.serverError = decodeUtf8Strict(errorChallenge) ?? '';
          return KVSEP_RESPONSE;
        },
      };
      return session;
    },
  };
}

import { concatBytes, decodeUtf8Strict, InvalidArgumentError, ProtocolError, utf8 } from '@postwire/core';
import { decodeName } from './identity-text.js';
import type { ClientMechanism, ServerMechanism } from './mechanism.js';
import { challenge, EMPTY, failure, success } from './steps.js';
import type { PasswordCheck } from './verifiers.js';

/** The three fields of a PLAIN message (RFC 4616 §2). */
interface PlainMessage {
  readonly authzid: string | undefined;
  readonly authcid: string;
  readonly password: string;
}

/**
 * Parses `[authzid] NUL authcid NUL passwd`. Refuses anything but exactly two NULs, an empty authcid
 * (it is never filled in from the authzid) or password, invalid UTF-8, and control characters in names.
 */
export function parsePlainMessage(message: Uint8Array): PlainMessage | undefined {
  const first = message.indexOf(0);
  const second = message.indexOf(0, first + 1);
  if (first < 0 || second < 0 || message.indexOf(0, second + 1) >= 0) return undefined;
  const authzid = decodeName(message.subarray(0, first));
  const authcid = decodeName(message.subarray(first + 1, second));
  const password = decodeUtf8Strict(message.subarray(second + 1));
  if (authzid === undefined || !authcid || !password) return undefined;
  return { authzid: authzid === '' ? undefined : authzid, authcid, password };
}

/** Encodes a PLAIN message; throws {@link InvalidArgumentError} for a NUL or an empty name or password. */
export function encodePlainMessage(
  authzid: string | undefined,
  authcid: string,
  password: string,
): Uint8Array {
  if (!authcid || !password || [authzid ?? '', authcid, password].some((field) => field.includes('\u0000'))) {
    throw new InvalidArgumentError('PLAIN needs a user name and a password without NUL characters');
  }
  return concatBytes([
    utf8(authzid ?? ''),
    new Uint8Array([0]),
    utf8(authcid),
    new Uint8Array([0]),
    utf8(password),
  ]);
}

/** The PLAIN server mechanism (RFC 4616). */
export function plainServer(checkPassword: PasswordCheck): ServerMechanism {
  return {
    name: 'PLAIN',
    cleartext: true,
    start: (context) => async (response) => {
      if (response === undefined) return challenge(EMPTY);
      const message = parsePlainMessage(response);
      if (!message) return failure('malformed');
      const username = await checkPassword(message.authcid, message.password, context);
      if (username === undefined) return failure('invalid-credentials', message.authcid);
      return success(username, message.authzid);
    },
  };
}

/** The PLAIN client mechanism (RFC 4616). */
export function plainClient(username: string, password: string, authzid?: string): ClientMechanism {
  return {
    name: 'PLAIN',
    cleartext: true,
    start: () => ({
      initialResponse: encodePlainMessage(authzid, username, password),
      respond: async () => {
        throw new ProtocolError('unexpected PLAIN challenge');
      },
    }),
  };
}

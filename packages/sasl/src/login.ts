import { decodeUtf8Strict, InvalidArgumentError, ProtocolError, utf8 } from '@postwire/core';
import { decodeName } from './identity-text.js';
import type { ClientMechanism, ServerMechanism } from './mechanism.js';
import { challenge, failure, success } from './steps.js';
import type { PasswordCheck } from './verifiers.js';

const USERNAME_PROMPT = utf8('Username:');
const PASSWORD_PROMPT = utf8('Password:');

/**
 * The LOGIN server mechanism (draft-murchison-sasl-login): prompts `Username:` then `Password:`.
 * An initial response is taken as the user name.
 */
export function loginServer(checkPassword: PasswordCheck): ServerMechanism {
  return {
    name: 'LOGIN',
    cleartext: true,
    start: (context) => {
      let username: string | undefined;
      return async (response) => {
        if (response === undefined) return challenge(USERNAME_PROMPT);
        if (username === undefined) {
          username = decodeName(response);
          return username ? challenge(PASSWORD_PROMPT) : failure('malformed');
        }
        const password = decodeUtf8Strict(response);
        if (!password) return failure('malformed');
        const accepted = await checkPassword(username, password, context);
        return accepted === undefined ? failure('invalid-credentials', username) : success(accepted);
      };
    },
  };
}

/** The LOGIN client mechanism: answers the first challenge with the user name and the second with the password, whatever their text. */
export function loginClient(username: string, password: string): ClientMechanism {
  return {
    name: 'LOGIN',
    cleartext: true,
    start: () => {
      if (!username || !password) throw new InvalidArgumentError('LOGIN needs a user name and a password');
      const answers = [utf8(username), utf8(password)];
      return {
        initialResponse: undefined,
        respond: async () => {
          const answer = answers.shift();
          if (!answer) throw new ProtocolError('unexpected LOGIN challenge');
          return answer;
        },
      };
    },
  };
}

import { ErrorCode, PostwireError, ProtocolError } from '@postwire/core';
import type { ResponseCode } from '../protocol/response-code.js';

/**
 * The server refused a command with a tagged `NO` or `BAD`, or the connection with a `BYE` greeting.
 * `responseCode` is the code in brackets when it sent one (`NONEXISTENT`, `TRYCREATE`, `OVERQUOTA`,
 * `TOOBIG`, `AUTHENTICATIONFAILED` …, RFC 5530): branch on it, not on the text.
 */
export class ImapResponseError extends ProtocolError {
  /** The command refused (`SELECT`, `UID STORE` …), or `CONNECT` for a refusing greeting. */
  readonly command: string;
  /** `NO` (refused), `BAD` (not understood), or `BYE` (a refusing greeting). */
  readonly status: 'NO' | 'BAD' | 'BYE';
  /** The response code, when the server sent one. */
  readonly responseCode: ResponseCode | undefined;
  /** The human-readable text of the response. */
  readonly text: string;

  constructor(
    command: string,
    response: { readonly status: 'NO' | 'BAD' | 'BYE'; readonly code?: ResponseCode; readonly text: string },
  ) {
    const code = response.code
      ? ` [${response.code.code === 'UNKNOWN' ? response.code.atom : response.code.code}]`
      : '';
    super(`${command} refused: ${response.status}${code} ${response.text}`.trimEnd());
    this.command = command;
    this.status = response.status;
    this.responseCode = response.code;
    this.text = response.text;
  }
}

/**
 * The operation needs an extension the server does not offer (`SORT`, `UIDPLUS` for `expunge(uids)`,
 * `QUOTA` …), found before anything was sent.
 */
export class ImapCapabilityError extends PostwireError {
  /** The capability missing, as the server would list it. */
  readonly capability: string;

  constructor(capability: string, operation: string) {
    super(
      ErrorCode.Unsupported,
      `${operation} needs the ${capability} capability, which the server does not offer`,
    );
    this.capability = capability;
  }
}

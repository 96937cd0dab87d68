import { ProtocolError } from '@postwire/core';
import { Pop3ResponseCode, type Pop3Status } from '../protocol/response.js';

/** The response codes that say "try again later" (RFC 2449 §8, RFC 3206). */
const TEMPORARY_CODES: ReadonlySet<string> = new Set([
  Pop3ResponseCode.SysTemp,
  Pop3ResponseCode.InUse,
  Pop3ResponseCode.LoginDelay,
]);

/**
 * The server answered `-ERR`. `responseCode` is its RFC 2449 code when it sent one (`IN-USE`,
 * `LOGIN-DELAY`, `SYS/TEMP`, `SYS/PERM`, `AUTH` …), and `temporary` says whether the same request may
 * succeed later (the maildrop is locked, a login came too soon, the server has a passing problem).
 */
export class Pop3ResponseError extends ProtocolError {
  /** The command refused (`RETR`, `DELE`, `PASS` …), or `CONNECT` for a refusing greeting. */
  readonly command: string;
  /** The `-ERR` line: its code, if any, and its text. */
  readonly status: Pop3Status;

  constructor(command: string, status: Pop3Status) {
    super(`${command} refused: -ERR${status.code ? ` [${status.code}]` : ''} ${status.text}`.trimEnd());
    this.command = command;
    this.status = status;
  }

  /** The extended response code, without brackets, when the server sent one. */
  get responseCode(): string | undefined {
    return this.status.code;
  }

  /** `SYS/TEMP`, `IN-USE` or `LOGIN-DELAY`: retry later. */
  get temporary(): boolean {
    return this.status.code !== undefined && TEMPORARY_CODES.has(this.status.code);
  }
}

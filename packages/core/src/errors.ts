/**
 * Stable error codes. Applications branch on `error.code`, never on the message text,
 * and no message ever carries a credential.
 */
export const ErrorCode = {
  /** A line went past the configured maximum length; its bytes were discarded. */
  LineTooLong: 'LINE_TOO_LONG',
  /** A bare CR or bare LF arrived where only CRLF is allowed. */
  BareLineEnding: 'BARE_LINE_ENDING',
  /** A configured limit (size, count, depth) was exceeded. */
  LimitExceeded: 'LIMIT_EXCEEDED',
  /** The peer sent something the protocol grammar does not allow. */
  Protocol: 'PROTOCOL_ERROR',
  /** The connection could not be opened. */
  ConnectFailed: 'CONNECT_FAILED',
  /** The connection closed while more was expected. */
  ConnectionClosed: 'CONNECTION_CLOSED',
  /** A deadline passed (connect, idle, command). */
  Timeout: 'TIMEOUT',
  /** The operation was cancelled through an `AbortSignal`. */
  Aborted: 'ABORTED',
  /** The TLS handshake or the TLS session failed. */
  Tls: 'TLS_FAILED',
  /** STARTTLS was required by policy but the server did not offer it or refused it. */
  StartTlsRequired: 'STARTTLS_REQUIRED',
  /** Authentication failed; the same code for unknown users and wrong secrets. */
  AuthFailed: 'AUTH_FAILED',
  /** A value supplied by the application is invalid (it would corrupt the protocol stream). */
  InvalidArgument: 'INVALID_ARGUMENT',
  /** A PROXY protocol header was malformed. */
  ProxyProtocol: 'PROXY_PROTOCOL_ERROR',
  /** A mailbox name is not allowed (it could reach outside the user's mail, or is not canonical). */
  InvalidMailboxName: 'INVALID_MAILBOX_NAME',
  /** The mailbox (or message) does not exist. */
  NonExistent: 'NONEXISTENT',
  /** The mailbox already exists. */
  AlreadyExists: 'ALREADY_EXISTS',
  /** The resource is locked by another session (a POP3 maildrop, a mailbox being deleted). */
  InUse: 'IN_USE',
  /** The operation would exceed the user's quota. */
  OverQuota: 'OVER_QUOTA',
  /** The store cannot do this to this mailbox (delete INBOX, rename into itself …). */
  Cannot: 'CANNOT',
  /** The peer lacks an extension the operation needs (8BITMIME for 8-bit text, SMTPUTF8 …), or its size limit is too small. */
  Unsupported: 'UNSUPPORTED',
} as const;

/** One of the values of {@link ErrorCode}. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The base class of every error Postwire throws; `code` is stable across releases. */
export class PostwireError extends Error {
  /** The stable code of what went wrong. */
  readonly code: ErrorCodeValue;

  constructor(code: ErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A line exceeded the maximum length. The decoder has already discarded it up to the next line end. */
export class LineTooLongError extends PostwireError {
  /** The configured maximum, in bytes, excluding the line ending. */
  readonly limit: number;

  constructor(limit: number) {
    super(ErrorCode.LineTooLong, `line exceeds the limit of ${limit} bytes`);
    this.limit = limit;
  }
}

/** A bare CR or LF was seen where the policy requires CRLF. */
export class BareLineEndingError extends PostwireError {
  /** Which stray byte was seen. */
  readonly ending: 'CR' | 'LF';

  constructor(ending: 'CR' | 'LF') {
    super(ErrorCode.BareLineEnding, `bare ${ending} received`);
    this.ending = ending;
  }
}

/** A named limit was exceeded. */
export class LimitExceededError extends PostwireError {
  /** The name of the limit, as in the options object that configures it. */
  readonly limit: string;
  /** The configured maximum. */
  readonly max: number;

  constructor(limit: string, max: number, message = `${limit} exceeds the limit of ${max}`) {
    super(ErrorCode.LimitExceeded, message);
    this.limit = limit;
    this.max = max;
  }
}

/** The peer violated the protocol grammar or state rules. */
export class ProtocolError extends PostwireError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Protocol, message, options);
  }
}

/** A connection-level failure: could not connect, or closed unexpectedly. */
export class ConnectionError extends PostwireError {}

/** A deadline passed. */
export class TimeoutError extends PostwireError {
  constructor(message: string) {
    super(ErrorCode.Timeout, message);
  }
}

/** The operation was aborted through its `AbortSignal`. */
export class AbortError extends PostwireError {
  constructor(message = 'operation aborted', options?: { cause?: unknown }) {
    super(ErrorCode.Aborted, message, options);
  }
}

/** TLS failed, or STARTTLS was required and could not be negotiated. */
export class TlsError extends PostwireError {}

/** Authentication failed. The message never says whether the user exists. */
export class AuthenticationError extends PostwireError {
  constructor(message = 'authentication failed', options?: { cause?: unknown }) {
    super(ErrorCode.AuthFailed, message, options);
  }
}

/** An argument from the application would break the protocol stream (for example a CR or LF in it). */
export class InvalidArgumentError extends PostwireError {
  constructor(message: string) {
    super(ErrorCode.InvalidArgument, message);
  }
}

/**
 * A failure of a transport as a Postwire error: one already typed passes through; anything else (a
 * socket's error) becomes a `ConnectionError` (`CONNECTION_CLOSED`) with it as the cause.
 */
export function toConnectionError(error: unknown): PostwireError {
  if (error instanceof PostwireError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ConnectionError(ErrorCode.ConnectionClosed, `the connection failed: ${message}`, {
    cause: error,
  });
}

import type { ChannelBindingType, Transport } from '@postwire/core';

/**
 * Who authenticated. Names are passed through as the client sent them (only control characters are
 * refused), so code that uses them in queries, paths or logs must treat them as data and escape them.
 */
export interface AuthIdentity {
  /** The authentication identity (authcid): whose credentials were checked. */
  readonly username: string;
  /** The authorization identity the client asked to act as, when it asked for one. */
  readonly authzid?: string;
  /** The trace information an ANONYMOUS client sent (RFC 4505). */
  readonly trace?: string;
}

/**
 * Why an exchange failed, for the protocol to turn into its reply:
 * - `invalid-credentials`: SMTP `535 5.7.8`, IMAP `NO [AUTHENTICATIONFAILED]`, POP3 `-ERR [AUTH]`;
 *   the same for unknown users and wrong secrets.
 * - `authorization-failed`: the credentials were right but may not act as the authzid
 *   (SMTP `535 5.7.8`, IMAP `NO [AUTHORIZATIONFAILED]`).
 * - `cancelled`: the client sent `*` (SMTP `501 5.0.0`, IMAP `BAD`, POP3 `-ERR`).
 * - `malformed`: bad base64 or a message the mechanism cannot parse (SMTP `501 5.5.2`, IMAP `BAD`).
 * - `too-long`: a response over the limit (SMTP `500 5.5.6`, IMAP `BAD`).
 * - `mechanism-unavailable`: unknown or not offered here (SMTP `504 5.5.4`, IMAP `NO`/`BAD`).
 * - `encryption-required`: a cleartext mechanism before TLS (SMTP `538 5.7.11`, IMAP `NO [PRIVACYREQUIRED]`).
 * - `throttled`: the throttle hook refused the attempt (SMTP `454 4.7.0` or `421`, IMAP `NO [UNAVAILABLE]`).
 * - `temporary`: a verifier failed (SMTP `454 4.7.0`, IMAP `NO [UNAVAILABLE]`, POP3 `-ERR [SYS/TEMP]`).
 */
export type SaslFailureReason =
  | 'invalid-credentials'
  | 'authorization-failed'
  | 'cancelled'
  | 'malformed'
  | 'too-long'
  | 'mechanism-unavailable'
  | 'encryption-required'
  | 'throttled'
  | 'temporary';

/** What the protocol server knows about the connection an exchange runs on. */
export interface SaslConnectionContext {
  /** True when the connection is inside TLS. */
  readonly secure: boolean;
  /** The TLS session's channel-binding data (SCRAM-PLUS), usually `transport.channelBinding`. */
  channelBinding?(type: ChannelBindingType): Uint8Array | undefined;
  /** An identity the transport has already verified, such as a TLS client certificate's subject (EXTERNAL). */
  readonly externalIdentity?: string;
  /** The peer's address, for throttling hooks. */
  readonly remoteAddress?: string;
  /** The protocol's own description of the connection, handed through to the verifiers as it is. */
  readonly connection?: unknown;
}

/**
 * The context of a connection on `transport`, as a protocol server hands it to its SASL server: its channel
 * binding (SCRAM-PLUS) and the name of its verified client certificate (EXTERNAL) come from the transport.
 */
export function transportContext(
  transport: Pick<Transport, 'info' | 'channelBinding'>,
  facts: {
    readonly secure: boolean;
    readonly remoteAddress?: string | undefined;
    readonly connection?: unknown;
  },
): SaslConnectionContext {
  return {
    ...facts,
    channelBinding: (type) => transport.channelBinding?.(type),
    externalIdentity: transport.info.peerCertificateName,
  };
}

/** One step of a server mechanism: send a challenge, or finish. */
export type ServerStep =
  | {
      /** Send a challenge and wait for the client's response. */
      readonly type: 'challenge';
      /** The challenge's bytes, before the protocol's base64. */
      readonly challenge: Uint8Array;
      /**
       * Set when the challenge reports refused credentials (the OAuth error JSON of OAUTHBEARER and
       * XOAUTH2): the throttle's `onFailure` runs now, with this name, and the exchange can only fail.
       */
      readonly refused?: {
        /** The name the client tried, for the throttle. */
        readonly username?: string;
      };
    }
  | {
      /** The exchange succeeded. */
      readonly type: 'success';
      /** Who authenticated, and as whom they act. */
      readonly identity: AuthIdentity;
      /** Data sent with the success, when the protocol carries it (SCRAM's server signature). */
      readonly additionalData?: Uint8Array;
    }
  | {
      /** The exchange failed. */
      readonly type: 'failure';
      /** Why it failed. */
      readonly reason: SaslFailureReason;
      /** The name the client tried, for throttling and lockout hooks; never shown to the client. */
      readonly username?: string;
    };

/**
 * A server mechanism's state machine for one exchange. The first call receives the initial
 * response (`undefined` when the client sent none, an empty array for `=`); later calls receive
 * each decoded client response.
 */
export type ServerStepFunction = (response: Uint8Array | undefined) => Promise<ServerStep>;

/** A server-side SASL mechanism: the built-in ones and custom ones plug in with this shape. */
export interface ServerMechanism {
  /** The registered name (RFC 4422 §3.1: up to 20 of `A-Z 0-9 - _`). */
  readonly name: string;
  /** True when the client's secret travels readable (PLAIN, LOGIN, bearer tokens): hidden without TLS. */
  readonly cleartext?: boolean;
  /** Whether the mechanism can run on this connection (default: always). */
  available?(context: SaslConnectionContext): boolean;
  /** Starts one exchange. */
  start(context: SaslConnectionContext): ServerStepFunction;
}

/** What a client mechanism knows when it starts. */
export interface SaslClientContext {
  /** True when the connection is inside TLS. */
  readonly secure: boolean;
  /** The TLS session's channel-binding data (SCRAM-PLUS), usually `transport.channelBinding`. */
  channelBinding?(type: ChannelBindingType): Uint8Array | undefined;
  /** The mechanisms the server advertised (upper case); SCRAM uses them to detect downgrades. */
  readonly serverMechanisms: readonly string[];
}

/** A client mechanism's state for one exchange. */
export interface ClientMechanismSession {
  /** The initial response, or `undefined` when the mechanism waits for the server to speak first. */
  readonly initialResponse: Uint8Array | undefined;
  /** Answers a decoded server challenge. Throws when the challenge is unacceptable. */
  respond(challenge: Uint8Array): Promise<Uint8Array>;
  /**
   * Called when the server reports success, with the additional data it sent with it. Mechanisms
   * with mutual authentication throw here when the server has not proved itself.
   */
  complete?(additionalData: Uint8Array | undefined): Promise<void>;
  /** A mechanism-level error the server sent (an OAuth error JSON, a SCRAM `e=` value). */
  readonly serverError?: string;
}

/** A client-side SASL mechanism: the built-in ones and custom ones plug in with this shape. */
export interface ClientMechanism {
  /** The registered name, as the server advertises it. */
  readonly name: string;
  /** True when the secret travels readable: never chosen without TLS unless cleartext is allowed. */
  readonly cleartext?: boolean;
  /** Whether the mechanism can run on this connection (default: always). */
  available?(context: SaslClientContext): boolean;
  /** Starts one exchange. */
  start(context: SaslClientContext): ClientMechanismSession | Promise<ClientMechanismSession>;
}

const MECHANISM_NAME = /^[A-Z0-9_-]{1,20}$/;

/** True for a valid SASL mechanism name (RFC 4422 §3.1), upper case. */
export function isMechanismName(name: string): boolean {
  return MECHANISM_NAME.test(name);
}

import {
  AuthenticationError,
  type ChannelBindingType,
  InvalidArgumentError,
  resolveLimits,
} from '@postwire/core';
import { anonymousClient } from './anonymous.js';
import { createClientExchange, type SaslClientExchange } from './client-exchange.js';
import { cramMd5Client } from './cram-md5.js';
import { externalClient } from './external.js';
import { defaultSaslLimits, type SaslLimits } from './limits.js';
import { loginClient } from './login.js';
import { type ClientMechanism, isMechanismName, type SaslClientContext } from './mechanism.js';
import { type OAuthBearerClientOptions, oauthBearerClient } from './oauthbearer.js';
import { plainClient } from './plain.js';
import { scramClient } from './scram.js';
import type { ScramMechanismName } from './scram-credentials.js';
import { xoauth2Client } from './xoauth2.js';

/** Built-in client mechanisms in the default order of preference, strongest first. */
export const CLIENT_MECHANISM_ORDER = [
  'EXTERNAL',
  'OAUTHBEARER',
  'XOAUTH2',
  'SCRAM-SHA-256-PLUS',
  'SCRAM-SHA-256',
  'SCRAM-SHA-1-PLUS',
  'SCRAM-SHA-1',
  'CRAM-MD5',
  'PLAIN',
  'LOGIN',
  'ANONYMOUS',
] as const;

/** Options of {@link createSaslClient}: the credentials, and which mechanisms may use them. */
export interface SaslClientOptions {
  /** The authentication identity (SCRAM sends it SASLprep-ed). */
  username?: string;
  /** Enables SCRAM, CRAM-MD5, PLAIN and LOGIN (with `username`; CRAM-MD5 and LOGIN cannot carry an authzid). */
  password?: string;
  /** The identity to act as, when different from `username`. */
  authzid?: string;
  /** An OAuth 2.0 access token: enables OAUTHBEARER, and XOAUTH2 with `username`. */
  accessToken?: string;
  /** Enables EXTERNAL (the TLS client certificate is the credential). */
  external?: boolean;
  /** Enables ANONYMOUS with this trace (RFC 4505). */
  anonymous?: {
    /** The trace information sent to the server (an email address or an opaque string). */
    trace?: string;
  };
  /**
   * The mechanisms allowed, in order of preference (default: custom ones first, then
   * {@link CLIENT_MECHANISM_ORDER}). Throws when one lacks its credentials or is unknown.
   */
  mechanisms?: readonly string[];
  /** Custom mechanisms; one named like a built-in replaces it. */
  custom?: readonly ClientMechanism[];
  /** Use cleartext mechanisms (PLAIN, LOGIN, bearer tokens) without TLS. Default `false`. */
  allowCleartext?: boolean;
  /** `host` and `port` sent in OAUTHBEARER. */
  oauth?: OAuthBearerClientOptions;
  /** SCRAM settings. */
  scram?: {
    /** The lowest iteration count accepted from a server (default 4096). */
    minIterations?: number;
    /** The highest iteration count accepted from a server (default 1,000,000). */
    maxIterations?: number;
    /** Generates the client nonce (default: 18 random bytes in base64), for tests. */
    generateNonce?: () => string;
  };
  /** The maximum challenge length; see {@link SaslLimits}. */
  limits?: Partial<SaslLimits>;
}

/** What a client knows about its connection when it chooses and starts a mechanism. */
export interface SaslClientConnection {
  /** True when the connection is inside TLS. */
  readonly secure: boolean;
  /** The TLS session's channel-binding data, usually `transport.channelBinding`. */
  channelBinding?(type: ChannelBindingType): Uint8Array | undefined;
}

/** How a protocol client starts an exchange. */
export interface SaslClientStartOptions {
  /** False when the protocol cannot send an initial response (IMAP without SASL-IR). Default `true`. */
  initialResponse?: boolean;
}

/** The client side of SASL, shared by the SMTP, POP3 and IMAP clients. */
export interface SaslClient {
  /** The mechanisms this client can run, in order of preference. */
  readonly mechanisms: readonly string[];
  /** The strongest mechanism both sides support on this connection, or `undefined`. */
  selectMechanism(serverMechanisms: readonly string[], connection: SaslClientConnection): string | undefined;
  /**
   * Chooses a mechanism and starts an exchange. Throws `AuthenticationError` when there is no
   * mechanism in common, and `InvalidArgumentError` when a credential cannot be encoded.
   */
  start(
    serverMechanisms: readonly string[],
    connection: SaslClientConnection,
    options?: SaslClientStartOptions,
  ): Promise<SaslClientExchange>;
}

/** Creates a SASL client from credentials. Nothing is sent anywhere; see {@link SaslClientExchange}. */
export function createSaslClient(options: SaslClientOptions): SaslClient {
  const limits = resolveLimits(defaultSaslLimits, options.limits);
  const candidates = builtInClientMechanisms(options);
  const customNames: string[] = [];
  for (const mechanism of options.custom ?? []) {
    if (!isMechanismName(mechanism.name) || customNames.includes(mechanism.name)) {
      throw new InvalidArgumentError(`invalid or duplicate custom mechanism name "${mechanism.name}"`);
    }
    customNames.push(mechanism.name);
    candidates.set(mechanism.name, mechanism);
  }
  let preference: string[];
  if (options.mechanisms) {
    preference = options.mechanisms.map((name) => name.toUpperCase());
    const missing = preference.find((name) => !candidates.has(name));
    if (missing) throw new InvalidArgumentError(`mechanism "${missing}" is unknown or lacks its credentials`);
  } else {
    preference = [
      ...customNames,
      ...CLIENT_MECHANISM_ORDER.filter((name) => !customNames.includes(name)),
    ].filter((name) => candidates.has(name));
  }

  const contextFor = (
    serverMechanisms: readonly string[],
    connection: SaslClientConnection,
  ): SaslClientContext => ({
    secure: connection.secure,
    channelBinding: connection.channelBinding?.bind(connection),
    serverMechanisms: serverMechanisms.map((name) => name.toUpperCase()),
  });

  const choose = (context: SaslClientContext): ClientMechanism | undefined => {
    for (const name of preference) {
      const mechanism = candidates.get(name)!;
      if (!context.serverMechanisms.includes(name)) continue;
      if (mechanism.cleartext && !context.secure && !options.allowCleartext) continue;
      if (mechanism.available && !mechanism.available(context)) continue;
      return mechanism;
    }
    return undefined;
  };

  return {
    mechanisms: preference,
    selectMechanism: (serverMechanisms, connection) => choose(contextFor(serverMechanisms, connection))?.name,
    async start(serverMechanisms, connection, startOptions = {}) {
      const context = contextFor(serverMechanisms, connection);
      const mechanism = choose(context);
      if (!mechanism) {
        throw new AuthenticationError(
          'no usable SASL mechanism in common with the server (cleartext ones need TLS)',
        );
      }
      const session = await mechanism.start(context);
      return createClientExchange(mechanism.name, session, limits, startOptions.initialResponse ?? true);
    },
  };
}

function builtInClientMechanisms(options: SaslClientOptions): Map<string, ClientMechanism> {
  const { username, password, authzid, accessToken } = options;
  const mechanisms = new Map<string, ClientMechanism>();
  const add = (mechanism: ClientMechanism) => mechanisms.set(mechanism.name, mechanism);
  if (options.external) add(externalClient(authzid));
  if (accessToken) {
    add(oauthBearerClient(authzid ?? username, accessToken, options.oauth));
    if (username) add(xoauth2Client(username, accessToken));
  }
  if (username && password) {
    for (const family of ['SCRAM-SHA-256', 'SCRAM-SHA-1'] as ScramMechanismName[]) {
      for (const plus of [true, false])
        add(scramClient({ family, plus, username, password, authzid, ...options.scram }));
    }
    add(plainClient(username, password, authzid));
    if (authzid === undefined || authzid === username) {
      add(cramMd5Client(username, password));
      add(loginClient(username, password));
    }
  }
  if (options.anonymous) add(anonymousClient(options.anonymous.trace));
  return mechanisms;
}

import { InvalidArgumentError, resolveLimits } from '@postwire/core';
import { anonymousServer } from './anonymous.js';
import type { BearerServerOptions } from './bearer.js';
import { cramMd5Challenge, cramMd5Server } from './cram-md5.js';
import { Decoys } from './decoy.js';
import { externalServer } from './external.js';
import { isSafeName } from './identity-text.js';
import { defaultSaslLimits, type SaslLimits } from './limits.js';
import { loginServer } from './login.js';
import {
  type AuthIdentity,
  isMechanismName,
  type SaslConnectionContext,
  type ServerMechanism,
} from './mechanism.js';
import { oauthBearerServer } from './oauthbearer.js';
import { plainServer } from './plain.js';
import { generateScramNonce, scramServer } from './scram.js';
import { DEFAULT_SCRAM_ITERATIONS, type ScramMechanismName, scramHashOf } from './scram-credentials.js';
import {
  createServerExchange,
  type SaslServerExchange,
  type SaslServerExchangeOptions,
  type SaslServerOutcome,
} from './server-exchange.js';
import type { SaslThrottle } from './throttle.js';
import {
  createPasswordCheck,
  createScramCredentialSource,
  type MaybePromise,
  type PasswordCheck,
  type SaslVerifiers,
  type VerifierResult,
} from './verifiers.js';
import { randomBytes } from './web-crypto.js';
import { xoauth2Server } from './xoauth2.js';

/** Built-in server mechanisms in the default order of advertisement, strongest first. */
export const SERVER_MECHANISM_ORDER = [
  'SCRAM-SHA-256-PLUS',
  'SCRAM-SHA-256',
  'SCRAM-SHA-1-PLUS',
  'SCRAM-SHA-1',
  'CRAM-MD5',
  'PLAIN',
  'LOGIN',
  'OAUTHBEARER',
  'XOAUTH2',
  'EXTERNAL',
  'ANONYMOUS',
] as const;

/** Options of {@link createSaslServer}. */
export interface SaslServerOptions {
  /** The application's credential checks; each mechanism is available only when what it needs is here. */
  verifiers?: SaslVerifiers;
  /** Custom mechanisms; one named like a built-in replaces it. */
  custom?: readonly ServerMechanism[];
  /** The mechanisms to enable, in the order advertised (default: every configured one, strongest first). */
  mechanisms?: readonly string[];
  /**
   * May `username` act as `authzid`? Called only when the client asked for a different authzid.
   * Default: no (RFC 4616 §2; catalogue case 46).
   */
  authorize?(username: string, authzid: string, context: SaslConnectionContext): MaybePromise<boolean>;
  /** Throttling and lockout hooks. */
  throttle?: SaslThrottle;
  /** Offer and accept cleartext mechanisms (PLAIN, LOGIN, bearer tokens) without TLS. Default `false`. */
  allowCleartext?: boolean;
  /** The maximum response length; see {@link SaslLimits}. */
  limits?: Partial<SaslLimits>;
  /**
   * The secret decoy credentials for unknown users derive from. Pass a stable one (32 random bytes)
   * in production, so an unknown user's SCRAM salt stays the same across restarts like a real one's.
   */
  secret?: Uint8Array;
  /** SCRAM settings. */
  scram?: {
    /**
     * Iterations for credentials derived from `lookupPassword` and for decoys (default 4096). Set it
     * to what stored credentials use, or an unknown user's `i=` stands out from a real one's.
     */
    iterations?: number;
    /** Generates the server's part of the nonce (default: 18 random bytes in base64). */
    generateNonce?: () => string;
  };
  /** CRAM-MD5 settings. */
  cramMd5?: {
    /** The host name in the challenge (default `localhost`). */
    hostname?: string;
    /** Generates the whole challenge, for tests. */
    generateChallenge?: () => string;
  };
  /** What a refused OAUTHBEARER or XOAUTH2 client is told (RFC 7628 §3.2.2). */
  oauth?: {
    /** The scope the client should request. */
    scope?: string;
    /** The URL of the OpenID Provider Configuration. */
    openidConfiguration?: string;
  };
}

/** A password check outside SASL (IMAP `LOGIN`, POP3 `USER`/`PASS`), with the same policy and hooks. */
export type SaslPasswordOutcome = Extract<SaslServerOutcome, { type: 'success' | 'failure' }>;

/** The server-side registry that SMTP AUTH, POP3 AUTH and IMAP AUTHENTICATE share. */
export interface SaslServer {
  /** The mechanisms to advertise on this connection, in order (EHLO `AUTH`, IMAP `AUTH=`, POP3 `SASL`). */
  mechanisms(context: SaslConnectionContext): string[];
  /** False when cleartext logins are refused on this connection (IMAP then advertises `LOGINDISABLED`). */
  allowsCleartext(context: SaslConnectionContext): boolean;
  /** Starts a new exchange for one AUTH / AUTHENTICATE command. */
  createExchange(context: SaslConnectionContext, options?: SaslServerExchangeOptions): SaslServerExchange;
  /** Checks a user name and password given outside SASL; the mechanism reported is `PASSWORD`. */
  verifyPassword(
    username: string,
    password: string,
    context: SaslConnectionContext,
  ): Promise<SaslPasswordOutcome>;
}

/**
 * Tells a ready-made {@link SaslServer} from the options to make one, for servers whose `sasl` option takes
 * either.
 */
export function isSaslServer(sasl: SaslServer | SaslServerOptions): sasl is SaslServer {
  return typeof (sasl as SaslServer).createExchange === 'function';
}

/**
 * Creates the SASL server registry. Mechanisms are enabled from what is configured: PLAIN and LOGIN
 * need a password check (`password`, `lookupPassword` or `scramCredentials`); CRAM-MD5 needs
 * `lookupPassword`; SCRAM needs `scramCredentials` or `lookupPassword` (and `-PLUS` a connection with
 * channel binding); OAUTHBEARER and XOAUTH2 need `token`; EXTERNAL needs `external` and an external
 * identity on the connection; ANONYMOUS needs `anonymous`. Throws {@link InvalidArgumentError} for an
 * unknown or unconfigured name in `mechanisms`, or an invalid custom mechanism.
 */
export function createSaslServer(options: SaslServerOptions = {}): SaslServer {
  const decoys = new Decoys(options.secret ?? randomBytes(32));
  const iterations = options.scram?.iterations ?? DEFAULT_SCRAM_ITERATIONS;
  const limits = resolveLimits(defaultSaslLimits, options.limits);
  const checkPassword = createPasswordCheck(options.verifiers ?? {}, decoys, iterations);
  const enabled = new Map<string, ServerMechanism>();
  const plusOffered = (family: ScramMechanismName, context: SaslConnectionContext) =>
    enabled.get(`${family}-PLUS`)?.available?.(context) === true;
  const available = builtInServerMechanisms(options, { decoys, iterations, checkPassword, plusOffered });

  const customNames: string[] = [];
  for (const mechanism of options.custom ?? []) {
    if (!isMechanismName(mechanism.name) || customNames.includes(mechanism.name)) {
      throw new InvalidArgumentError(`invalid or duplicate custom mechanism name "${mechanism.name}"`);
    }
    customNames.push(mechanism.name);
    available.set(mechanism.name, mechanism);
  }
  for (const requested of options.mechanisms ?? [...SERVER_MECHANISM_ORDER, ...customNames]) {
    const mechanism = available.get(requested.toUpperCase());
    if (mechanism) enabled.set(mechanism.name, mechanism);
    else if (options.mechanisms) {
      throw new InvalidArgumentError(`mechanism "${requested}" is unknown or lacks the verifier it needs`);
    }
  }

  const allowsCleartext = (context: SaslConnectionContext) =>
    context.secure || options.allowCleartext === true;
  const throttle = options.throttle ?? {};
  const authorize = options.authorize ?? (() => false);
  const policy = {
    find: (name: string) => enabled.get(name),
    allowsCleartext,
    authorize: async (username: string, authzid: string, context: SaslConnectionContext) =>
      authorize(username, authzid, context),
    throttle,
    limits,
  };

  return {
    mechanisms: (context) =>
      [...enabled.values()]
        .filter((mechanism) => !mechanism.cleartext || allowsCleartext(context))
        .filter((mechanism) => mechanism.available?.(context) ?? true)
        .map((mechanism) => mechanism.name),
    allowsCleartext,
    createExchange: (context, exchangeOptions) => createServerExchange(policy, context, exchangeOptions),
    async verifyPassword(username, password, context) {
      if (!checkPassword) return { type: 'failure', reason: 'mechanism-unavailable' };
      if (!allowsCleartext(context)) return { type: 'failure', reason: 'encryption-required' };
      if (!username || !password || !isSafeName(username)) return { type: 'failure', reason: 'malformed' };
      try {
        if ((await throttle.beforeAttempt?.(context)) === false) {
          return { type: 'failure', reason: 'throttled' };
        }
        const accepted = await checkPassword(username, password, context);
        if (accepted === undefined) {
          await throttle.onFailure?.(context, username, 'PASSWORD');
          return { type: 'failure', reason: 'invalid-credentials' };
        }
        const identity: AuthIdentity = { username: accepted };
        await throttle.onSuccess?.(context, identity, 'PASSWORD');
        return { type: 'success', mechanism: 'PASSWORD', identity };
      } catch (cause) {
        return { type: 'failure', reason: 'temporary', cause };
      }
    },
  };
}

/** What the built-in server mechanisms share. */
interface BuiltInDependencies {
  readonly decoys: Decoys;
  readonly iterations: number;
  readonly checkPassword: PasswordCheck | undefined;
  plusOffered(family: ScramMechanismName, context: SaslConnectionContext): boolean;
}

/** The built-in mechanisms that the configured verifiers make possible, by name. */
function builtInServerMechanisms(
  options: SaslServerOptions,
  { decoys, iterations, checkPassword, plusOffered }: BuiltInDependencies,
): Map<string, ServerMechanism> {
  const { lookupPassword, token, external, anonymous } = options.verifiers ?? {};
  const mechanisms: ServerMechanism[] = [];
  if (checkPassword) mechanisms.push(plainServer(checkPassword), loginServer(checkPassword));
  if (lookupPassword) {
    const hostname = options.cramMd5?.hostname ?? 'localhost';
    mechanisms.push(
      cramMd5Server({
        lookupPassword: async (username, context) => lookupPassword(username, context),
        decoys,
        generateChallenge: options.cramMd5?.generateChallenge ?? (() => cramMd5Challenge(hostname)),
      }),
    );
  }
  const credentials = createScramCredentialSource(options.verifiers ?? {}, decoys, iterations);
  if (credentials) {
    for (const family of ['SCRAM-SHA-256', 'SCRAM-SHA-1'] as const) {
      const shared = {
        family,
        credentials,
        decoy: (username: string) =>
          decoys.scramCredentials(username, family, scramHashOf(family), iterations),
        plusOffered: (context: SaslConnectionContext) => plusOffered(family, context),
        generateNonce: options.scram?.generateNonce ?? generateScramNonce,
      };
      mechanisms.push(scramServer({ ...shared, plus: true }), scramServer({ ...shared, plus: false }));
    }
  }
  if (token) {
    const bearer: BearerServerOptions = {
      verifyToken: async (username, presented, context) => token(username, presented, context),
      ...options.oauth,
    };
    mechanisms.push(oauthBearerServer(bearer), xoauth2Server(bearer));
  }
  if (external) mechanisms.push(externalServer(async (identity, context) => external(identity, context)));
  if (anonymous) mechanisms.push(anonymousServer(async (trace, context) => anonymous(trace, context)));
  return new Map(mechanisms.map((mechanism) => [mechanism.name, mechanism]));
}

/** A user name and password, as PLAIN and LOGIN carry them. */
export interface SaslPasswordCredentials {
  /** The authentication identity. */
  readonly username: string;
  /** The password. */
  readonly password: string;
}

/**
 * A SASL server offering PLAIN and LOGIN whose password check is one function, such as a protocol
 * server's `onAuth` option: it gets the credentials and the `connection` the protocol put in the
 * exchange's context. Cleartext rules (`allowCleartext`) and decoys are those of {@link createSaslServer}.
 */
export function createPasswordSaslServer<Connection>(
  check: (credentials: SaslPasswordCredentials, connection: Connection) => MaybePromise<VerifierResult>,
  options: Pick<SaslServerOptions, 'allowCleartext'> = {},
): SaslServer {
  return createSaslServer({
    ...options,
    mechanisms: ['PLAIN', 'LOGIN'],
    verifiers: {
      password: (username, password, context) =>
        check({ username, password }, context.connection as Connection),
    },
  });
}

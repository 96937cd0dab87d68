import {
  AuthenticationError,
  type ChannelBindingType,
  concatBytes,
  decodeBase64,
  decodeUtf8Strict,
  encodeBase64,
  InvalidArgumentError,
  LimitExceededError,
  ProtocolError,
  timingSafeEqual,
  utf8,
} from '@postwire/core';
import { decodeSaslName, encodeSaslName, formatGs2Header, type Gs2Header, parseGs2Header } from './gs2.js';
import { isSafeName } from './identity-text.js';
import type {
  ClientMechanism,
  ClientMechanismSession,
  SaslClientContext,
  SaslConnectionContext,
  ServerMechanism,
} from './mechanism.js';
import { saslprep } from './saslprep.js';
import {
  DEFAULT_SCRAM_ITERATIONS,
  type ScramMechanismName,
  type ScramStoredCredentials,
  scramHashOf,
  scramKeys,
} from './scram-credentials.js';
import { challenge, EMPTY, failure, success } from './steps.js';
import type { ScramCredentialSource } from './verifiers.js';
import { digest, hmac, pbkdf2, randomBytes, type ScramHash } from './web-crypto.js';

/** Channel-binding types SCRAM-PLUS tries, best first (RFC 9266 makes `tls-exporter` the default for TLS 1.3). */
export const CHANNEL_BINDING_TYPES: readonly ChannelBindingType[] = [
  'tls-exporter',
  'tls-unique',
  'tls-server-end-point',
];

/** A nonce: printable ASCII except `,` (RFC 5802 §7). */
const NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;

/** A fresh random nonce of 24 base64 characters. */
export function generateScramNonce(): string {
  return encodeBase64(randomBytes(18));
}

/**
 * The types a client picks unless told otherwise: `tls-exporter` on TLS 1.3 (RFC 9266), `tls-unique` before
 * it (RFC 5929). A server offers `-PLUS` only when it has one of them, so that a client's default choice is
 * never refused: with `tls-server-end-point` alone (as on a runtime that cannot export keying material), the
 * client binds nothing and the plain mechanism is used.
 */
const DEFAULT_CHANNEL_BINDING_TYPES: readonly ChannelBindingType[] = ['tls-exporter', 'tls-unique'];

/** The first channel-binding type with data on this connection. */
export function findChannelBinding(
  channelBinding: ((type: ChannelBindingType) => Uint8Array | undefined) | undefined,
): { type: ChannelBindingType; data: Uint8Array } | undefined {
  for (const type of CHANNEL_BINDING_TYPES) {
    const data = channelBinding?.(type);
    if (data) return { type, data };
  }
  return undefined;
}

/** Splits `a=1,b=2` into attribute pairs; `undefined` unless every part is one letter, `=`, a value. */
function parseAttributes(text: string): [string, string][] | undefined {
  const attributes: [string, string][] = [];
  for (const part of text.split(',')) {
    if (!/^[A-Za-z]=/.test(part)) return undefined;
    attributes.push([part[0]!, part.slice(2)]);
  }
  return attributes;
}

/** What a SCRAM server mechanism needs. */
export interface ScramServerOptions {
  readonly family: ScramMechanismName;
  /** True for the `-PLUS` variant, which requires channel binding. */
  readonly plus: boolean;
  readonly credentials: ScramCredentialSource;
  /** Credentials for unknown users, shaped like real ones. */
  decoy(username: string): Promise<ScramStoredCredentials>;
  /** Whether this connection advertises the `-PLUS` variant (a client's `y` flag is then a downgrade). */
  plusOffered(context: SaslConnectionContext): boolean;
  generateNonce(): string;
}

/** Parsed `client-first-message`. */
interface ClientFirst {
  readonly header: Gs2Header;
  readonly bare: string;
  readonly username: string;
  readonly nonce: string;
}

/** What the server remembers between its first message and the client's final one. */
interface ServerFirstState {
  readonly first: ClientFirst;
  readonly serverFirst: string;
  readonly nonce: string;
  readonly credentials: ScramStoredCredentials;
  /** False when `credentials` are a decoy: the exchange then fails however good the proof. */
  readonly known: boolean;
}

function parseClientFirst(message: string): ClientFirst | undefined {
  const header = parseGs2Header(message);
  const attributes = header && parseAttributes(header.rest);
  const [name, nonce] = attributes ?? [];
  if (!header || name?.[0] !== 'n' || nonce?.[0] !== 'r' || !NONCE.test(nonce[1])) return undefined;
  const username = prepareName(decodeSaslName(name[1]));
  if (!username || !isSafeName(header.authzid ?? '')) return undefined;
  return { header, bare: header.rest, username, nonce: nonce[1] };
}

/**
 * SASLprep of a received user name as a query string (RFC 5802 §5.1: the server MUST prepare it),
 * or `undefined` when it is absent, refused (control characters among others) or empty after it.
 */
function prepareName(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  try {
    return saslprep(name) || undefined;
  } catch {
    return undefined;
  }
}

/** The channel-binding data the client's header asks for, if this connection has it. */
function bindingFor(header: Gs2Header, context: SaslConnectionContext): Uint8Array | undefined {
  const type = CHANNEL_BINDING_TYPES.find((name) => name === header.channelBindingType);
  return type && context.channelBinding?.(type);
}

/**
 * The SCRAM server mechanisms (RFC 5802, RFC 7677): SCRAM-SHA-1, SCRAM-SHA-256 and their `-PLUS`
 * variants with channel binding (RFC 9266). Unknown users run the whole exchange against decoy
 * credentials and fail exactly like a wrong password; the proof is compared in constant time.
 */
export function scramServer(options: ScramServerOptions): ServerMechanism {
  const hash = scramHashOf(options.family);

  const answerFirst = async (message: string, context: SaslConnectionContext) => {
    const first = parseClientFirst(message);
    if (!first || options.plus !== (first.header.flag === 'p')) return failure('malformed');
    if (first.header.flag === 'p' && !bindingFor(first.header, context)) {
      return failure('invalid-credentials', first.username);
    }
    if (first.header.flag === 'y' && options.plusOffered(context)) {
      return failure('invalid-credentials', first.username);
    }
    const [stored, decoy] = await Promise.all([
      options.credentials(first.username, options.family, context),
      options.decoy(first.username),
    ]);
    const credentials = stored ?? decoy;
    const nonce = first.nonce + options.generateNonce();
    const serverFirst = `r=${nonce},s=${encodeBase64(credentials.salt)},i=${credentials.iterations}`;
    return { first, serverFirst, nonce, credentials, known: stored !== undefined };
  };

  const answerFinal = async (message: string, state: ServerFirstState, context: SaslConnectionContext) => {
    const { first, credentials } = state;
    const proofAt = message.lastIndexOf(',p=');
    const withoutProof = message.slice(0, proofAt);
    const [binding, nonce] = (proofAt > 0 && parseAttributes(withoutProof)) || [];
    const proof = decodeBase64(message.slice(proofAt + 3));
    if (binding?.[0] !== 'c' || nonce?.[0] !== 'r' || proof?.length !== credentials.storedKey.length) {
      return failure('malformed');
    }
    const bindingData = first.header.flag === 'p' ? bindingFor(first.header, context) : EMPTY;
    const expectedBinding = concatBytes([utf8(first.header.raw), bindingData ?? EMPTY]);
    const sentBinding = decodeBase64(binding[1]) ?? EMPTY;
    if (!timingSafeEqual(sentBinding, expectedBinding) || nonce[1] !== state.nonce) {
      return failure('invalid-credentials', first.username);
    }
    const authMessage = utf8(`${first.bare},${state.serverFirst},${withoutProof}`);
    const clientSignature = await hmac(hash, credentials.storedKey, authMessage);
    const clientKey = proof.map((byte, i) => byte ^ clientSignature[i]!);
    const valid = timingSafeEqual(await digest(hash, clientKey), credentials.storedKey);
    if (!valid || !state.known) return failure('invalid-credentials', first.username);
    const serverSignature = await hmac(hash, credentials.serverKey, authMessage);
    return success(first.username, first.header.authzid, utf8(`v=${encodeBase64(serverSignature)}`));
  };

  return {
    name: options.plus ? `${options.family}-PLUS` : options.family,
    available: options.plus
      ? (context) =>
          DEFAULT_CHANNEL_BINDING_TYPES.some((type) => context.channelBinding?.(type) !== undefined)
      : undefined,
    start: (context) => {
      let state: ServerFirstState | undefined;
      return async (response) => {
        if (response === undefined) return challenge(EMPTY);
        const message = decodeUtf8Strict(response);
        if (message === undefined) return failure('malformed');
        if (state) return answerFinal(message, state, context);
        const answer = await answerFirst(message, context);
        if ('type' in answer) return answer;
        state = answer;
        return challenge(utf8(state.serverFirst));
      };
    },
  };
}

/** What a SCRAM client mechanism needs. */
export interface ScramClientOptions {
  readonly family: ScramMechanismName;
  readonly plus: boolean;
  readonly username: string;
  readonly password: string;
  readonly authzid?: string;
  /** The lowest iteration count accepted from the server (default 4096, RFC 7677 §4). */
  readonly minIterations?: number;
  /** The highest iteration count accepted, against a server that makes the client spin (default 1,000,000). */
  readonly maxIterations?: number;
  readonly generateNonce?: () => string;
}

/**
 * The SCRAM client mechanisms. The client refuses a low iteration count and a server nonce that
 * does not extend its own, and verifies the server's signature (mutual authentication): `complete`
 * throws unless the server proved it knows the credentials.
 */
export function scramClient(options: ScramClientOptions): ClientMechanism {
  const hash = scramHashOf(options.family);
  const name = options.plus ? `${options.family}-PLUS` : options.family;
  return {
    name,
    available: options.plus
      ? (context) => findChannelBinding(context.channelBinding) !== undefined
      : undefined,
    start: (context) => startScramClient(options, hash, name, context),
  };
}

function startScramClient(
  options: ScramClientOptions,
  hash: ScramHash,
  name: string,
  context: SaslClientContext,
): ClientMechanismSession {
  const channelBinding = findChannelBinding(context.channelBinding);
  let flag: 'n' | 'y' | `p=${string}` = 'n';
  if (options.plus) {
    if (!channelBinding) {
      throw new InvalidArgumentError(`${name} needs channel binding, and the connection has none`);
    }
    flag = `p=${channelBinding.type}`;
  } else if (channelBinding && !context.serverMechanisms.includes(`${options.family}-PLUS`)) {
    flag = 'y';
  }
  const header = formatGs2Header(flag, options.authzid);
  const clientNonce = (options.generateNonce ?? generateScramNonce)();
  if (!NONCE.test(clientNonce)) {
    throw new InvalidArgumentError('a SCRAM nonce must be printable ASCII without ","');
  }
  const username = saslprep(options.username);
  if (!username) throw new InvalidArgumentError('the SCRAM user name is empty after SASLprep');
  const password = utf8(saslprep(options.password));
  const bare = `n=${encodeSaslName(username)},r=${clientNonce}`;
  const minIterations = options.minIterations ?? DEFAULT_SCRAM_ITERATIONS;
  const maxIterations = options.maxIterations ?? 1_000_000;
  let expectedServerSignature: Uint8Array | undefined;
  let verified = false;

  const verifyServerFinal = (message: Uint8Array): void => {
    const attributes = parseAttributes(decodeUtf8Strict(message) ?? '');
    const [key, value] = attributes?.[0] ?? [];
    if (key === 'e') {
      session.serverError = value;
      throw new AuthenticationError(`SCRAM server error: ${value}`);
    }
    const signature = key === 'v' ? decodeBase64(value ?? '') : undefined;
    if (!signature || !expectedServerSignature || !timingSafeEqual(signature, expectedServerSignature)) {
      throw new AuthenticationError('the SCRAM server signature did not verify');
    }
    verified = true;
  };

  const session: ClientMechanismSession & { serverError?: string } = {
    initialResponse: utf8(header + bare),
    respond: async (serverChallenge) => {
      if (expectedServerSignature) {
        if (verified) throw new ProtocolError(`unexpected ${name} challenge`);
        verifyServerFinal(serverChallenge);
        return EMPTY;
      }
      const serverFirst = decodeUtf8Strict(serverChallenge) ?? '';
      const attributes = parseAttributes(serverFirst);
      const [nonce, salt, iterations] = attributes ?? [];
      if (nonce?.[0] === 'e') {
        session.serverError = nonce[1];
        throw new AuthenticationError(`SCRAM server error: ${nonce[1]}`);
      }
      const saltBytes = salt?.[0] === 's' ? decodeBase64(salt[1]) : undefined;
      const count =
        iterations?.[0] === 'i' && /^[1-9][0-9]{0,9}$/.test(iterations[1]) ? Number(iterations[1]) : 0;
      if (nonce?.[0] !== 'r' || !saltBytes || count === 0) {
        throw new ProtocolError(`malformed ${name} challenge`);
      }
      if (
        !nonce[1].startsWith(clientNonce) ||
        nonce[1].length === clientNonce.length ||
        !NONCE.test(nonce[1])
      ) {
        throw new AuthenticationError('the SCRAM server nonce does not extend the client nonce');
      }
      if (count < minIterations) {
        throw new AuthenticationError(
          `SCRAM iteration count ${count} is below the minimum of ${minIterations}`,
        );
      }
      if (count > maxIterations) throw new LimitExceededError('maxIterations', maxIterations);
      const bindingData = concatBytes([utf8(header), options.plus ? channelBinding!.data : EMPTY]);
      const withoutProof = `c=${encodeBase64(bindingData)},r=${nonce[1]}`;
      const authMessage = utf8(`${bare},${serverFirst},${withoutProof}`);
      const keys = await scramKeys(hash, await pbkdf2(hash, password, saltBytes, count));
      const clientSignature = await hmac(hash, keys.storedKey, authMessage);
      const proof = keys.clientKey.map((byte, i) => byte ^ clientSignature[i]!);
      expectedServerSignature = await hmac(hash, keys.serverKey, authMessage);
      return utf8(`${withoutProof},p=${encodeBase64(proof)}`);
    },
    complete: async (additionalData) => {
      if (additionalData !== undefined && additionalData.length > 0 && !verified) {
        verifyServerFinal(additionalData);
      }
      if (!verified) {
        throw new AuthenticationError('the SCRAM server did not prove that it knows the credentials');
      }
    },
  };
  return session;
}

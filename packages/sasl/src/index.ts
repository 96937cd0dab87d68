export {
  CLIENT_MECHANISM_ORDER,
  createSaslClient,
  type SaslClient,
  type SaslClientConnection,
  type SaslClientOptions,
  type SaslClientStartOptions,
} from './client.js';
export type { SaslClientExchange } from './client-exchange.js';
export { defaultSaslLimits, type SaslLimits } from './limits.js';
export { hmacMd5, md5 } from './md5.js';
export {
  type AuthIdentity,
  type ClientMechanism,
  type ClientMechanismSession,
  isMechanismName,
  type SaslClientContext,
  type SaslConnectionContext,
  type SaslFailureReason,
  type ServerMechanism,
  type ServerStep,
  type ServerStepFunction,
  transportContext,
} from './mechanism.js';
export { type SaslprepOptions, saslprep } from './saslprep.js';
export {
  type DeriveScramOptions,
  deriveScramCredentials,
  type ScramMechanismName,
  type ScramStoredCredentials,
} from './scram-credentials.js';
export {
  createPasswordSaslServer,
  createSaslServer,
  isSaslServer,
  type SaslPasswordCredentials,
  type SaslPasswordOutcome,
  type SaslServer,
  type SaslServerOptions,
  SERVER_MECHANISM_ORDER,
} from './server.js';
export {
  type SaslServerExchange,
  type SaslServerExchangeOptions,
  type SaslServerOutcome,
  type SaslSessionStep,
  toSessionStep,
} from './server-exchange.js';
export type { SaslThrottle } from './throttle.js';
export type { MaybePromise, SaslVerifiers, VerifierResult } from './verifiers.js';
export type { ScramHash } from './web-crypto.js';

export {
  type ArcChainValidation,
  type ArcMessageSignature,
  type ArcParse,
  type ArcSeal,
  parseArcMessageSignature,
  parseArcSeal,
} from './headers.js';
export * from './seal.js';
export {
  type ArcResult,
  type ArcSet,
  type ArcVerification,
  type ArcVerifyOptions,
  arcAuthenticationResult,
  verifyArc,
} from './verify.js';

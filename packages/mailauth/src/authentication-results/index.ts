export {
  type FormatAuthenticationResultsOptions,
  formatAuthenticationResults,
  formatAuthenticationResultsField,
} from './format.js';
export {
  type AuthenticationResultsLimits,
  defaultAuthenticationResultsLimits,
  isOwnAuthenticationResults,
  type ParsedAuthenticationResults,
  parseAuthenticationResults,
} from './parse.js';
export { authenticationMethods, type RegisteredMethod, unregisteredPart } from './registry.js';
export {
  AUTHENTICATION_RESULTS_FIELD,
  type AuthenticationResult,
  type AuthenticationResults,
  type PropertyType,
  type ResultProperty,
} from './types.js';

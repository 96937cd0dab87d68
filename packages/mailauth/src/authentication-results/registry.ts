/** A method of the IANA "Email Authentication Methods" registry, with its registered result names. */
export interface RegisteredMethod {
  /** The document that defines the method. */
  specification: string;
  /** The result names registered for it. */
  results: readonly string[];
  /** True when the registry marks the method deprecated. */
  deprecated?: true;
}

const PASS_FAIL_ERRORS = ['none', 'pass', 'fail', 'temperror', 'permerror'];
const DKIM_RESULTS = [...PASS_FAIL_ERRORS, 'policy', 'neutral'];
/** SPF's results, with `hardfail`, an old name of `fail` that the registry keeps as deprecated. */
const SPF_RESULTS = [...DKIM_RESULTS, 'softfail', 'hardfail'];
const ADSP_RESULTS = [...PASS_FAIL_ERRORS, 'unknown', 'discard', 'nxdomain'];

/** The registered methods and their results (RFC 8601 §2.7 and §6, and the RFCs that added to it). */
export const authenticationMethods: ReadonlyMap<string, RegisteredMethod> = new Map<string, RegisteredMethod>(
  [
    ['arc', { specification: 'RFC 8617', results: ['none', 'pass', 'fail'] }],
    ['auth', { specification: 'RFC 8601 §2.7.4', results: PASS_FAIL_ERRORS }],
    ['dkim', { specification: 'RFC 6376, RFC 8601 §2.7.1', results: DKIM_RESULTS }],
    ['dkim-adsp', { specification: 'RFC 5617', results: ADSP_RESULTS, deprecated: true }],
    ['dkim-atps', { specification: 'RFC 6541', results: PASS_FAIL_ERRORS }],
    ['dmarc', { specification: 'RFC 7489', results: PASS_FAIL_ERRORS }],
    ['dnswl', { specification: 'RFC 8904', results: ['pass', 'none', 'temperror', 'permerror'] }],
    ['domainkeys', { specification: 'RFC 4870', results: DKIM_RESULTS, deprecated: true }],
    ['iprev', { specification: 'RFC 8601 §3', results: ['pass', 'fail', 'temperror', 'permerror'] }],
    ['rrvs', { specification: 'RFC 7293', results: [...PASS_FAIL_ERRORS, 'unknown'] }],
    ['sender-id', { specification: 'RFC 4406', results: SPF_RESULTS, deprecated: true }],
    ['smime', { specification: 'RFC 5751', results: DKIM_RESULTS }],
    ['spf', { specification: 'RFC 7208, RFC 8601 §2.7.2', results: SPF_RESULTS }],
    ['vbr', { specification: 'RFC 6212', results: PASS_FAIL_ERRORS }],
  ],
);

/**
 * Which part of a result the registry does not know: `'method'`, `'result'` (a result not registered for
 * that method), or `undefined` when both are registered. Names are compared in lower case.
 */
export function unregisteredPart(method: string, result: string): 'method' | 'result' | undefined {
  const registered = authenticationMethods.get(method.toLowerCase());
  if (!registered) return 'method';
  return registered.results.includes(result.toLowerCase()) ? undefined : 'result';
}

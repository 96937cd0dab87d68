/** The name of the header field (RFC 8601 §2.2). */
export const AUTHENTICATION_RESULTS_FIELD = 'Authentication-Results';

/** The registered property types (RFC 8601 §2.3): where the property's value was taken from. */
export type PropertyType = 'smtp' | 'header' | 'body' | 'policy';

/** One `ptype.property=value` of a result, such as `header.d=example.com`. */
export interface ResultProperty {
  /**
   * A {@link PropertyType}, or another keyword as a parsed field gave it. Lower case when parsed; empty for
   * a property without type, such as Microsoft 365's `action=none`.
   */
  type: PropertyType | (string & {});
  /** The property's name (`mailfrom`, `d`, `iprev` …). Lower case when parsed. */
  property: string;
  /** The value, quotes removed: a domain, an address, an IP address, part of a signature … */
  value: string;
}

/** The outcome of one authentication method, one `resinfo` of the field (RFC 8601 §2.2). */
export interface AuthenticationResult {
  /** The method (`dkim`, `spf`, `dmarc` …). Lower case when parsed. */
  method: string;
  /** The method's version (`dkim/1`), when the field gave one. */
  methodVersion?: number;
  /** The method's result (`pass`, `fail`, `temperror` …). Lower case when parsed. */
  result: string;
  /** The `reason="…"` text, when there is one. Comments are not kept. */
  reason?: string;
  /** The properties, in field order. */
  properties: ResultProperty[];
  /**
   * Set by the parser when the method is not in the IANA registry (`'method'`), or its result is not one
   * registered for it (`'result'`): RFC 8601 §2.7.x tells consumers to ignore such results. The formatter
   * ignores it.
   */
  unregistered?: 'method' | 'result';
}

/** An Authentication-Results field (RFC 8601): who checked, and what each check gave. */
export interface AuthenticationResults {
  /**
   * The authentication service identifier, usually the host name of the checking server. Empty when a
   * parsed field had none, as Microsoft 365 writes them.
   */
  authservId: string;
  /** The field's version; 1, the only one defined, when absent. */
  version?: number;
  /** The results; empty for `authserv-id; none`, no check done. */
  results: AuthenticationResult[];
}

/** An MX record: a mail exchanger and its preference (lower is preferred). */
export interface MxRecord {
  /** The mail exchanger's host name. */
  readonly exchange: string;
  /** The preference; lower is preferred. */
  readonly priority: number;
}

/**
 * The DNS lookups the checks make. Each method resolves to the records found: an empty array when the
 * name exists but has none of that type (NODATA), `null` when the name does not exist (NXDOMAIN).
 * Anything else, a timeout or SERVFAIL, is thrown, and the check that asked gives `temperror`. An
 * application may cache, log or answer from its own data; `createNodeDnsResolver` in
 * `@postwire/mailauth/node` asks the system's DNS servers, or the ones it is given.
 */
export interface DnsResolver {
  /** TXT records, each as its character-strings (joined by the checks). */
  txt(name: string): Promise<readonly (readonly string[])[] | null>;
  /** A records: IPv4 addresses as dotted quads. */
  a(name: string): Promise<readonly string[] | null>;
  /** AAAA records: IPv6 addresses as text. */
  aaaa(name: string): Promise<readonly string[] | null>;
  /** MX records. */
  mx(name: string): Promise<readonly MxRecord[] | null>;
  /** PTR records: the names of an `in-addr.arpa` or `ip6.arpa` name. */
  ptr(name: string): Promise<readonly string[] | null>;
}

/** The record types of {@link DnsResolver}, by method name. */
export type DnsRecordType = keyof DnsResolver;

/** What a lookup gave: records (maybe none), a name that does not exist, or a failure to answer. */
export type DnsLookup<T> =
  | {
      /** Records found. */
      readonly status: 'found';
      /** The records; empty when the name has none of the type. */
      readonly records: readonly T[];
    }
  | {
      /** The name does not exist. */
      readonly status: 'nxdomain';
    }
  | {
      /** The lookup failed. */
      readonly status: 'error';
      /** Why. */
      readonly reason: string;
    };

type RecordOf<K extends DnsRecordType> =
  Awaited<ReturnType<DnsResolver[K]>> extends readonly (infer R)[] | null ? R : never;

/**
 * Asks `resolver` for `type` records of `name` and says what came back, never throwing: a thrown
 * error or a malformed answer is a `status: 'error'` with its reason.
 */
export async function lookupDns<K extends DnsRecordType>(
  resolver: DnsResolver,
  type: K,
  name: string,
): Promise<DnsLookup<RecordOf<K>>> {
  try {
    const records = (await resolver[type](name)) as readonly RecordOf<K>[] | null;
    if (records === null) return { status: 'nxdomain' };
    if (!Array.isArray(records))
      return { status: 'error', reason: `the resolver gave no list for ${type} ${name}` };
    return { status: 'found', records };
  } catch (error) {
    return {
      status: 'error',
      reason: `DNS ${type.toUpperCase()} lookup of ${name} failed: ${describe(error)}`,
    };
  }
}

/** The TXT records of a lookup, each record's strings joined (RFC 7208 §3.3, RFC 6376 §3.6.2.2). */
export function joinTxt(records: readonly (readonly string[])[]): string[] {
  return records.map((strings) => strings.join(''));
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code)
      ? `${code}: ${error.message}`
      : error.message;
  }
  return String(error);
}

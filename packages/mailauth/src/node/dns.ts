import { Resolver } from 'node:dns/promises';
import type { DnsResolver } from '../dns/resolver.js';

/** Options of {@link createNodeDnsResolver}. */
export interface NodeDnsResolverOptions {
  /** DNS servers to ask, `address` or `address:port` (`[v6]:port`); default: the system's. */
  servers?: readonly string[];
  /** Milliseconds before one query is retried (default 2,000). */
  timeout?: number;
  /** How many times a query is sent before the lookup fails (default 3). */
  tries?: number;
}

/** The error codes of `node:dns` that mean the name does not exist, and that it has no such records. */
const NXDOMAIN = 'ENOTFOUND';
const NODATA = 'ENODATA';

/**
 * A {@link DnsResolver} on `node:dns/promises` (c-ares, not the system's `getaddrinfo`). NXDOMAIN
 * gives `null`, NODATA an empty list; other failures are thrown.
 */
export function createNodeDnsResolver(options: NodeDnsResolverOptions = {}): DnsResolver {
  const resolver = new Resolver({ timeout: options.timeout ?? 2_000, tries: options.tries ?? 3 });
  if (options.servers !== undefined) resolver.setServers([...options.servers]);
  const ask =
    <T>(query: (name: string) => Promise<T[]>) =>
    async (name: string): Promise<T[] | null> => {
      try {
        return await query(name);
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code === NXDOMAIN) return null;
        if (code === NODATA) return [];
        throw error;
      }
    };
  return {
    txt: ask((name) => resolver.resolveTxt(name)),
    a: ask((name) => resolver.resolve4(name)),
    aaaa: ask((name) => resolver.resolve6(name)),
    mx: ask((name) => resolver.resolveMx(name)),
    ptr: ask((name) => resolver.resolvePtr(name)),
  };
}

import { generateKeyPairSync } from 'node:crypto';
import type { DnsResolver } from '@postwire/mailauth';

/** An RSA or Ed25519 key pair as DKIM publishes and uses it. */
export interface TestKey {
  /** PKCS #8 PEM. */
  readonly privatePem: string;
  /** The key record's `p=` value. */
  readonly publicValue: string;
  readonly keyType: 'rsa' | 'ed25519';
}

/** A fresh RSA key of `bits` bits. */
export function rsaKey(bits = 2048): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicValue: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    keyType: 'rsa',
  };
}

/** A fresh Ed25519 key; `p=` is the raw 32-byte key (RFC 8463 §4). */
export function ed25519Key(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    publicValue: publicKey.export({ type: 'spki', format: 'der' }).subarray(12).toString('base64'),
    keyType: 'ed25519',
  };
}

/** The key record publishing `key`. */
export function keyRecord(key: TestKey, extra = ''): string {
  return `v=DKIM1; k=${key.keyType}; ${extra}p=${key.publicValue}`;
}

/**
 * A resolver answering TXT queries from `zone` (name → records, each one string or its strings), with
 * `null` (NXDOMAIN) for other names; names in `failing` throw, as a DNS timeout does. Counts queries.
 */
export function zoneResolver(
  zone: Record<string, readonly (string | readonly string[])[]>,
  failing: readonly string[] = [],
): DnsResolver & { queries: string[] } {
  const queries: string[] = [];
  const none = async () => null;
  return {
    queries,
    txt: async (name) => {
      queries.push(name);
      if (failing.includes(name)) throw Object.assign(new Error('queryTxt ETIMEOUT'), { code: 'ETIMEOUT' });
      const records = zone[name];
      return records === undefined
        ? null
        : records.map((record) => (typeof record === 'string' ? [record] : record));
    },
    a: none,
    aaaa: none,
    mx: none,
    ptr: none,
  };
}

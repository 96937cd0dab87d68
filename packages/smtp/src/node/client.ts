import { promises as dns } from 'node:dns';
import { hostname } from 'node:os';
import { connect } from '@postwire/core/node';
import { nodeSha256 } from '@postwire/mailauth/node';
import {
  createSmtpClient as createClient,
  type MxRecord,
  type SmtpClient,
  type SmtpClientOptions,
} from '../client/client.js';

/** Options of the Node {@link createSmtpClient}: the connector is Node's unless given. */
export interface NodeSmtpClientOptions extends Omit<SmtpClientOptions, 'connector' | 'mx'> {
  /** Opens the connection (default: Node's `connect`). */
  readonly connector?: SmtpClientOptions['connector'];
  /**
   * Deliver straight to each recipient domain's MX hosts: `true` looks them up with `node:dns`, a
   * function is used instead (for tests, or a resolver of the application's).
   */
  readonly mx?: boolean | SmtpClientOptions['mx'];
}

/**
 * An SMTP (or LMTP) client for Node: `@postwire/core/node`'s `connect`, the machine's name in EHLO when it
 * is a fully qualified one (else `[127.0.0.1]`, as RFC 5321 §4.1.4 allows), `node:dns` for `mx: true`, and
 * the native SHA-256 for DKIM signing.
 */
export function createSmtpClient(options: NodeSmtpClientOptions): SmtpClient {
  const { mx, ...rest } = options;
  return createClient({
    ...rest,
    connector: options.connector ?? connect,
    name: options.name ?? defaultName(),
    dkimOptions: { sha256: nodeSha256, ...options.dkimOptions },
    ...(mx === true ? { mx: resolveMx } : typeof mx === 'function' ? { mx } : {}),
  });
}

/** The machine's name when it is fully qualified, else an address literal. */
function defaultName(): string {
  const name = hostname();
  return /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/.test(name) ? name : '[127.0.0.1]';
}

/** MX records through `node:dns`; a domain without any (or without the record type) has none. */
async function resolveMx(domain: string): Promise<readonly MxRecord[]> {
  try {
    return await dns.resolveMx(domain);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENODATA') return [];
    throw error;
  }
}

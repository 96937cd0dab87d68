import {
  createImapClient as createClient,
  type ImapClient,
  type ImapClientOptions,
} from '../client/client.js';
import { connectCompressible } from './compressible-transport.js';

export { connectCompressible, NodeCompressibleTransport } from './compressible-transport.js';

/** Options of the Node {@link createImapClient}: the connector is Node's unless given. */
export interface NodeImapClientOptions extends Omit<ImapClientOptions, 'connector'> {
  /** Opens the connection; default {@link connectCompressible}. */
  readonly connector?: ImapClientOptions['connector'];
}

/**
 * Connects to an IMAP server over Node's sockets and logs in; see the runtime-neutral one. The default
 * connector ({@link connectCompressible}) can compress (COMPRESS=DEFLATE, with node:zlib).
 */
export function createImapClient(options: NodeImapClientOptions): Promise<ImapClient> {
  return createClient({ ...options, connector: options.connector ?? connectCompressible });
}

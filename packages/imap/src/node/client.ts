import { connect } from '@postwire/core/node';
import {
  createImapClient as createClient,
  type ImapClient,
  type ImapClientOptions,
} from '../client/client.js';

/** Options of the Node {@link createImapClient}: the connector is Node's unless given. */
export interface NodeImapClientOptions extends Omit<ImapClientOptions, 'connector'> {
  readonly connector?: ImapClientOptions['connector'];
}

/** Connects to an IMAP server with `@postwire/core/node`'s `connect` and logs in; see the runtime-neutral one. */
export function createImapClient(options: NodeImapClientOptions): Promise<ImapClient> {
  return createClient({ ...options, connector: options.connector ?? connect });
}

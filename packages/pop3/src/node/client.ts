import { connect } from '@postwire/core/node';
import {
  createPop3Client as createClient,
  type Pop3Client,
  type Pop3ClientOptions,
} from '../client/client.js';

/** Options of the Node {@link createPop3Client}: the connector is Node's unless given. */
export interface NodePop3ClientOptions extends Omit<Pop3ClientOptions, 'connector'> {
  /** Opens the connection (default: Node's `connect`). */
  readonly connector?: Pop3ClientOptions['connector'];
}

/** Connects to a POP3 server with `@postwire/core/node`'s `connect` and logs in; see the runtime-neutral one. */
export function createPop3Client(options: NodePop3ClientOptions): Promise<Pop3Client> {
  return createClient({ ...options, connector: options.connector ?? connect });
}

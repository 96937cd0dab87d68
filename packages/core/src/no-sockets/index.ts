import { InvalidArgumentError } from '../errors.js';
import type { ConnectOptions, Transport } from '../transport.js';

/**
 * What `@postwire/core/connect` gives where no runtime condition matched (a browser): there are no TCP
 * sockets to open, so every connect is refused.
 */
export async function connect(_options: ConnectOptions): Promise<Transport> {
  throw new InvalidArgumentError(
    'this runtime has no TCP sockets: @postwire/core/connect works on Node, Deno, Bun and Workers',
  );
}

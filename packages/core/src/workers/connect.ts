import { connect as connectSocketApi } from 'cloudflare:sockets';
import { InvalidArgumentError } from '../errors.js';
import { connectSocket, type OpenedSocket, type StreamSocket } from '../socket-transport.js';
import type { ConnectOptions, TlsClientOptions, Transport } from '../transport.js';

/** The Workers socket (`cloudflare:sockets`), as far as the adapter uses it. */
interface WorkersSocket extends StreamSocket {
  readonly opened: Promise<{ readonly remoteAddress?: string; readonly localAddress?: string }>;
  readonly closed: Promise<void>;
  startTls(options?: { expectedServerHostname?: string }): WorkersSocket;
  close(): Promise<void>;
}

/**
 * Workers check certificates against the runtime's roots (in `workerd`, those of the network service's
 * `tlsOptions`, where a test trusts its own CA); a connection cannot name its own CA, skip the check or
 * present a client certificate, so those options are refused rather than ignored.
 */
function checkTlsOptions(tls: TlsClientOptions | undefined): void {
  if (tls?.ca !== undefined || tls?.rejectUnauthorized === false) {
    throw new InvalidArgumentError(
      "Workers trust only the runtime's certificate authorities: configure them in workerd, not in tls.ca",
    );
  }
  if (tls?.cert !== undefined || tls?.key !== undefined) {
    throw new InvalidArgumentError('client certificates are not supported on Workers');
  }
}

async function opened(socket: WorkersSocket, secure: boolean): Promise<OpenedSocket> {
  const info = await socket.opened;
  return {
    socket,
    info: { secure, ...(info.remoteAddress ? { remoteAddress: info.remoteAddress } : {}) },
  };
}

/**
 * The Workers `Connector` (Cloudflare Workers and `workerd`): `connect()` from `cloudflare:sockets` with
 * `secureTransport: 'starttls'`, so that one socket serves plain TCP, STARTTLS and implicit TLS (upgraded
 * right after the connect, the certificate checked for `tls.servername`, default the host). Errors are those
 * of {@link connectSocket}.
 */
export async function connect(options: ConnectOptions): Promise<Transport> {
  checkTlsOptions(options.tls);
  return connectSocket(
    {
      open: (host, port) =>
        opened(
          connectSocketApi({ hostname: host, port }, { secureTransport: 'starttls', allowHalfOpen: false }),
          false,
        ),
      startTls: (socket, servername) =>
        opened((socket as WorkersSocket).startTls({ expectedServerHostname: servername }), true),
    },
    options,
  );
}

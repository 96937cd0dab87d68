import { InvalidArgumentError } from '../errors.js';
import { certificatePem } from '../pem.js';
import { connectSocket, type OpenedSocket, type StreamSocket } from '../socket-transport.js';
import type { ConnectOptions, TlsClientOptions, Transport, TransportInfo } from '../transport.js';

/** The part of Deno's API the adapter uses (Deno 2: `Deno.connect`, `Deno.startTls`). */
interface DenoNamespace {
  connect(options: { hostname: string; port: number; transport: 'tcp' }): Promise<DenoConn>;
  startTls(conn: DenoConn, options: { hostname: string; caCerts?: string[] }): Promise<DenoTlsConn>;
}

interface DenoAddress {
  readonly hostname?: string;
  readonly port?: number;
}

interface DenoConn extends StreamSocket {
  readonly remoteAddr: DenoAddress;
  readonly localAddr: DenoAddress;
  setNoDelay?(noDelay?: boolean): void;
  close(): void;
}

interface DenoTlsConn extends DenoConn {
  handshake(): Promise<unknown>;
}

function deno(): DenoNamespace {
  const namespace = (globalThis as { Deno?: DenoNamespace }).Deno;
  if (!namespace) throw new InvalidArgumentError('@postwire/core/deno runs on Deno only');
  return namespace;
}

function describe(conn: DenoConn, secure: boolean): TransportInfo {
  const { remoteAddr, localAddr } = conn;
  return {
    secure,
    ...(remoteAddr.hostname ? { remoteAddress: remoteAddr.hostname } : {}),
    ...(remoteAddr.port ? { remotePort: remoteAddr.port } : {}),
    ...(localAddr.hostname ? { localAddress: localAddr.hostname } : {}),
    ...(localAddr.port ? { localPort: localAddr.port } : {}),
  };
}

/**
 * Deno's TLS (rustls) checks every certificate against `ca` or the system's roots, from TLS 1.2 up; it has no
 * per-connection switch to skip the check, nor client certificates on `startTls`, so those options are refused
 * rather than ignored.
 */
function caCertificates(tls: TlsClientOptions | undefined): string[] | undefined {
  if (tls?.rejectUnauthorized === false) {
    throw new InvalidArgumentError(
      'Deno cannot skip the certificate check per connection: give the CA as tls.ca instead',
    );
  }
  if (tls?.cert !== undefined || tls?.key !== undefined) {
    throw new InvalidArgumentError('client certificates are not supported by the Deno adapter');
  }
  if (tls?.ca === undefined) return undefined;
  const list = typeof tls.ca === 'string' || tls.ca instanceof Uint8Array ? [tls.ca] : tls.ca;
  return list.map(certificatePem);
}

/**
 * Deno's `Connector`: `Deno.connect` for TCP and `Deno.startTls` for TLS, implicit (right after the TCP
 * connect) or by STARTTLS. Needs `--allow-net`. Certificates are checked for `tls.servername` (default: the
 * host) against `tls.ca` when given, else the system's roots. Errors are those of {@link connectSocket}.
 */
export async function connect(options: ConnectOptions): Promise<Transport> {
  const runtime = deno();
  const caCerts = caCertificates(options.tls);
  return connectSocket(
    {
      async open(host, port): Promise<OpenedSocket> {
        const conn = await runtime.connect({ hostname: host, port, transport: 'tcp' });
        conn.setNoDelay?.(true);
        return { socket: conn, info: describe(conn, false) };
      },
      async startTls(socket, servername): Promise<OpenedSocket> {
        const tls = await runtime.startTls(socket as DenoConn, {
          hostname: servername,
          ...(caCerts ? { caCerts } : {}),
        });
        await tls.handshake();
        return { socket: tls, info: describe(tls, true) };
      },
    },
    options,
  );
}

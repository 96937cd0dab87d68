import * as net from 'node:net';
import * as tls from 'node:tls';
import {
  AbortError,
  ConnectionError,
  ErrorCode,
  InvalidArgumentError,
  TimeoutError,
  TlsError,
} from '../errors.js';
import { startTimer } from '../timer.js';
import type { ConnectOptions } from '../transport.js';
import { clientTlsUpgrade, nodeClientTlsOptions } from './tls.js';
import { NodeTransport } from './transport.js';

const DEFAULT_CONNECT_TIMEOUT = 30_000;

/**
 * Node's `Connector`: opens a TCP connection, with TLS from the first byte when `secure` is set, and
 * resolves with a {@link NodeTransport} whose `startTls()` upgrades with `options.tls`. Certificates are checked
 * unless `tls.rejectUnauthorized` is `false`. Fails with a `ConnectionError` (`CONNECT_FAILED`), a
 * `TlsError` (`TLS_FAILED`), a `TimeoutError` once `timeout` ms have passed for the connect and the
 * handshake together, or an `AbortError` when `signal` aborts.
 */
export function connect(options: ConnectOptions): Promise<NodeTransport> {
  const timeout = options.timeout ?? DEFAULT_CONNECT_TIMEOUT;
  if (!(timeout > 0)) return Promise.reject(new InvalidArgumentError('timeout must be a positive number'));
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(new AbortError(undefined, { cause: signal.reason }));

  return new Promise((resolve, reject) => {
    const target = { host: options.host, port: options.port, localAddress: options.localAddress };
    const socket = options.secure
      ? tls.connect({ ...target, ...nodeClientTlsOptions(options.host, options.tls) })
      : net.connect(target);
    socket.setNoDelay(true);
    let tcpConnected = false;

    const cleanup = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('connect', onTcpConnect);
      socket.off(options.secure ? 'secureConnect' : 'connect', onReady);
      socket.off('error', onError);
    };
    const fail = (error: Error): void => {
      cleanup();
      socket.on('error', () => {});
      socket.destroy();
      reject(error);
    };
    const onTcpConnect = (): void => {
      tcpConnected = true;
    };
    const onReady = (): void => {
      cleanup();
      const upgrade = options.secure ? undefined : clientTlsUpgrade(options.host, options.tls, timeout);
      resolve(new NodeTransport(socket, { role: 'client', upgrade }));
    };
    const onError = (error: Error): void => {
      const where = `${options.host}:${options.port}`;
      fail(
        tcpConnected
          ? new TlsError(ErrorCode.Tls, `TLS handshake with ${where} failed: ${error.message}`, {
              cause: error,
            })
          : new ConnectionError(ErrorCode.ConnectFailed, `cannot connect to ${where}: ${error.message}`, {
              cause: error,
            }),
      );
    };
    const onAbort = (): void => fail(new AbortError(undefined, { cause: signal?.reason }));
    const timer = startTimer(timeout, () =>
      fail(new TimeoutError(`connecting to ${options.host}:${options.port} timed out after ${timeout} ms`)),
    );

    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', onTcpConnect);
    socket.once(options.secure ? 'secureConnect' : 'connect', onReady);
    socket.once('error', onError);
  });
}

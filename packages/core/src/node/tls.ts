import { createPrivateKey } from 'node:crypto';
import { isIP, type Socket } from 'node:net';
import * as tls from 'node:tls';
import { ConnectionError, ErrorCode, TimeoutError, TlsError } from '../errors.js';
import { certificatePem } from '../pem.js';
import { startTimer } from '../timer.js';
import type { TlsClientOptions } from '../transport.js';

/**
 * Performs a TLS handshake over a connected plain socket and resolves with the secured socket.
 * {@link NodeTransport} calls it from `startTls()`; it rejects with a `TlsError` or a `TimeoutError`
 * and destroys the connection when the handshake fails.
 */
export type TlsUpgrade = (socket: Socket) => Promise<tls.TLSSocket>;

/**
 * Server TLS settings: Node's secure-context options (`key`, `cert`, `ca`, `minVersion`, …; the
 * minimum version defaults to TLS 1.2) and whether to ask clients for a certificate.
 */
export interface ServerTlsOptions extends tls.SecureContextOptions {
  /** Ask the client for a certificate (mutual TLS, SASL EXTERNAL). */
  requestCert?: boolean;
  /** With `requestCert`, refuse clients whose certificate does not verify against `ca` (default `true`). */
  rejectUnauthorized?: boolean;
}

const noop = (): void => {};

/** Maps the runtime-neutral client options onto `tls.connect()`: checks on, TLS 1.2 at least, SNI unless an IP. */
export function nodeClientTlsOptions(host: string, options: TlsClientOptions = {}): tls.ConnectionOptions {
  const servername = options.servername ?? host;
  return {
    host,
    servername: isIP(servername) === 0 ? servername : undefined,
    ca: options.ca === undefined ? undefined : toPemList(options.ca),
    cert: options.cert === undefined ? undefined : certificatePem(options.cert),
    key: options.key === undefined ? undefined : toKeyPem(options.key),
    rejectUnauthorized: options.rejectUnauthorized ?? true,
    minVersion: options.minVersion ?? 'TLSv1.2',
  };
}

/** The client side of STARTTLS (and of implicit TLS over an open socket). */
export function clientTlsUpgrade(
  host: string,
  options: TlsClientOptions | undefined,
  timeout: number,
): TlsUpgrade {
  return (socket) =>
    clientHandshake(tls.connect({ ...nodeClientTlsOptions(host, options), socket }), timeout);
}

/**
 * The server side of STARTTLS and implicit TLS, with a handshake deadline against stalled clients.
 *
 * Handshakes run through one unlistened `tls.Server` fed with `emit('connection')`, so that Node's
 * own server logic applies, client-certificate verification included (a bare server-side
 * `TLSSocket` never sets `authorized`). The server hands back the secured socket without saying which
 * raw socket it wraps, so it is found by its peer address and port, unique among live connections.
 */
export function serverTlsUpgrade(options: ServerTlsOptions, timeout: number): TlsUpgrade {
  const requestCert = options.requestCert ?? false;
  const engine = tls.createServer({
    minVersion: 'TLSv1.2',
    ...options,
    requestCert,
    rejectUnauthorized: requestCert && (options.rejectUnauthorized ?? true),
  });
  const pending = new Map<
    Socket,
    { resolve: (socket: tls.TLSSocket) => void; reject: (error: Error) => void }
  >();
  const waiterOf = (secureSocket: tls.TLSSocket) => {
    for (const [socket, waiter] of pending) {
      if (
        socket.remotePort === secureSocket.remotePort &&
        socket.remoteAddress === secureSocket.remoteAddress
      ) {
        pending.delete(socket);
        return waiter;
      }
    }
    return undefined;
  };
  engine.on('secureConnection', (secureSocket: tls.TLSSocket) =>
    waiterOf(secureSocket)?.resolve(secureSocket),
  );
  engine.on('tlsClientError', (error: Error, secureSocket: tls.TLSSocket) => {
    waiterOf(secureSocket)?.reject(
      new TlsError(ErrorCode.Tls, `TLS handshake failed: ${error.message}`, { cause: error }),
    );
    secureSocket.destroy();
  });

  return (socket) =>
    new Promise<tls.TLSSocket>((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        socket.off('close', onClose);
        pending.delete(socket);
      };
      const fail = (error: Error): void => {
        settle();
        socket.destroy();
        reject(error);
      };
      const onClose = (): void =>
        fail(new TlsError(ErrorCode.Tls, 'the connection closed during the TLS handshake'));
      const timer = startTimer(timeout, () =>
        fail(new TimeoutError(`TLS handshake timed out after ${timeout} ms`)),
      );
      pending.set(socket, {
        resolve: (secureSocket) => {
          settle();
          secureSocket.on('error', noop);
          resolve(secureSocket);
        },
        reject: fail,
      });
      socket.once('close', onClose);
      engine.emit('connection', socket);
    });
}

/** Waits for a client TLS socket's handshake, failing on error, early close or after `timeout` ms. */
function clientHandshake(secureSocket: tls.TLSSocket, timeout: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      secureSocket.off('secureConnect', onSecure);
      secureSocket.off('error', onError);
      secureSocket.off('close', onClose);
      secureSocket.on('error', noop);
    };
    const fail = (error: Error): void => {
      cleanup();
      secureSocket.destroy();
      reject(error);
    };
    const onSecure = (): void => {
      cleanup();
      resolve(secureSocket);
    };
    const onError = (error: Error): void => {
      fail(new TlsError(ErrorCode.Tls, `TLS handshake failed: ${error.message}`, { cause: error }));
    };
    const onClose = (): void => {
      fail(new TlsError(ErrorCode.Tls, 'the connection closed during the TLS handshake'));
    };
    const timer = startTimer(timeout, () =>
      fail(new TimeoutError(`TLS handshake timed out after ${timeout} ms`)),
    );
    secureSocket.once('secureConnect', onSecure);
    secureSocket.once('error', onError);
    secureSocket.once('close', onClose);
  });
}

/** Turns a socket error into a typed error: TLS failures become `TlsError`, the rest `ConnectionError`. */
export function socketError(
  error: Error & { code?: unknown; library?: unknown },
): TlsError | ConnectionError {
  const code = typeof error.code === 'string' ? error.code : '';
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || typeof error.library === 'string') {
    return new TlsError(ErrorCode.Tls, `TLS failed: ${error.message}`, { cause: error });
  }
  return new ConnectionError(ErrorCode.ConnectionClosed, `connection failed: ${error.message}`, {
    cause: error,
  });
}

function toPemList(ca: NonNullable<TlsClientOptions['ca']>): string | string[] {
  return typeof ca === 'string' || ca instanceof Uint8Array ? certificatePem(ca) : ca.map(certificatePem);
}

/** Private keys in DER (PKCS #8, PKCS #1 or SEC 1) are re-armoured as PKCS #8 PEM. */
function toKeyPem(value: string | Uint8Array): string | Buffer {
  if (typeof value === 'string') return value;
  if (value[0] !== 0x30) return bufferView(value);
  const der = bufferView(value);
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try {
      return createPrivateKey({ key: der, format: 'der', type }).export({ format: 'pem', type: 'pkcs8' });
    } catch {}
  }
  throw new TlsError(ErrorCode.Tls, 'the private key is neither PEM nor DER');
}

function bufferView(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

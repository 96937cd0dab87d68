import { ErrorCode, TlsError } from './errors.js';

/**
 * TLS settings for a client. Certificate checks are on unless `rejectUnauthorized` is `false`.
 * PEM strings or DER/PEM bytes are accepted wherever a certificate or key is expected.
 */
export interface TlsClientOptions {
  /** The name sent in SNI and checked against the certificate; defaults to the host. */
  servername?: string;
  /** Trusted CA certificates, replacing the runtime's default store. */
  ca?: string | Uint8Array | ReadonlyArray<string | Uint8Array>;
  /** Verify the server certificate (default `true`). */
  rejectUnauthorized?: boolean;
  /** A client certificate, for SASL EXTERNAL and mutual TLS. */
  cert?: string | Uint8Array;
  /** The client certificate's private key. */
  key?: string | Uint8Array;
  /** The lowest TLS version accepted (default `TLSv1.2`). */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** Where a transport is connected, and how. */
export interface TransportInfo {
  /** The peer's IP address. */
  readonly remoteAddress?: string;
  /** The peer's port. */
  readonly remotePort?: number;
  /** The local IP address. */
  readonly localAddress?: string;
  /** The local port. */
  readonly localPort?: number;
  /** True once the bytes travel inside TLS (implicit TLS or after STARTTLS). */
  readonly secure: boolean;
  /** The negotiated TLS version, such as `TLSv1.3`. */
  readonly tlsProtocol?: string;
  /** The negotiated cipher suite's name. */
  readonly tlsCipher?: string;
  /** For a TLS client or a server that asked for client certificates: whether the peer's certificate verified. */
  readonly authorized?: boolean;
  /**
   * The common name (CN) of the peer's certificate, only when it verified: for a server that asked for client
   * certificates, the identity SASL EXTERNAL logs in with.
   */
  readonly peerCertificateName?: string;
}

/** Channel-binding types of RFC 5929 and RFC 9266 that a transport may export for SCRAM-PLUS. */
export type ChannelBindingType = 'tls-exporter' | 'tls-unique' | 'tls-server-end-point';

/**
 * A byte stream to a peer, shaped after the web-standard sockets API (`connect()` with `readable`,
 * `writable`, `closed` and `startTls()`), so that runtime adapters stay thin.
 *
 * `startTls()` returns a new transport. Every byte received before the handshake and not yet read
 * is discarded, and the old transport's streams end: a protocol must read from the new transport only,
 * and must reset its own decoder state too.
 */
export interface Transport {
  /** Bytes from the peer. Ends when the peer closes. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer, with backpressure. */
  readonly writable: WritableStream<Uint8Array>;
  /**
   * Settles when the connection has closed; rejects when it closed because of an error. A peer's close is
   * seen by reading: a transport nobody reads may learn of it only when it writes or is closed.
   */
  readonly closed: Promise<void>;
  /** Addresses and TLS state. */
  readonly info: TransportInfo;
  /** Upgrades the connection to TLS in place (STARTTLS). Settings come from the transport's creator. */
  startTls(): Promise<Transport>;
  /** The channel-binding data of the TLS session, or `undefined` when there is none of that type. */
  channelBinding?(type: ChannelBindingType): Uint8Array | undefined;
  /** Closes the connection (gracefully when possible) and releases its resources. */
  close(): Promise<void>;
}

/** How a client opens a connection. */
export interface ConnectOptions {
  /** The server's host name or address. */
  host: string;
  /** The server's port. */
  port: number;
  /** Implicit TLS from the first byte (SMTPS 465, IMAPS 993, POP3S 995). */
  secure?: boolean;
  /** TLS settings, for implicit TLS and for a later STARTTLS. */
  tls?: TlsClientOptions;
  /** Milliseconds allowed for the TCP connect and, with `secure`, the TLS handshake (default 30,000); a later STARTTLS handshake gets as long. */
  timeout?: number;
  /** Cancels the connect attempt. */
  signal?: AbortSignal;
  /** The local address to connect from. */
  localAddress?: string;
}

/** A runtime's way to open a {@link Transport}; `@postwire/core/node` provides one for Node. */
export type Connector = (options: ConnectOptions) => Promise<Transport>;

/**
 * Whether a client upgrades with STARTTLS: `required` (refuse to go on in cleartext),
 * `opportunistic` (upgrade when offered) or `never`.
 */
export type StartTlsPolicy = 'required' | 'opportunistic' | 'never';

/**
 * Decides whether to send STARTTLS given what the server advertised. With `required`, a server
 * that does not offer it gets a {@link TlsError} before any credential is sent.
 */
export function shouldStartTls(policy: StartTlsPolicy, offered: boolean, alreadySecure = false): boolean {
  if (alreadySecure || policy === 'never') return false;
  if (offered) return true;
  if (policy === 'required') {
    throw new TlsError(ErrorCode.StartTlsRequired, 'STARTTLS is required but the server does not offer it');
  }
  return false;
}

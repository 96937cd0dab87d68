/** The part of the Workers runtime's `cloudflare:sockets` module that `@postwire/core/workers` uses. */
declare module 'cloudflare:sockets' {
  interface SocketAddress {
    hostname: string;
    port: number;
  }
  interface SocketOptions {
    secureTransport?: 'off' | 'on' | 'starttls';
    allowHalfOpen?: boolean;
  }
  interface Socket {
    readonly readable: ReadableStream<Uint8Array>;
    readonly writable: WritableStream<Uint8Array>;
    readonly opened: Promise<{ remoteAddress?: string; localAddress?: string }>;
    readonly closed: Promise<void>;
    startTls(options?: { expectedServerHostname?: string }): Socket;
    close(): Promise<void>;
  }
  function connect(address: SocketAddress | string, options?: SocketOptions): Socket;
}

import { ConnectionError, ErrorCode, toConnectionError } from './errors.js';
import type { Connector, TlsClientOptions, Transport } from './transport.js';

/** Where {@link connectClient} connects, and how. */
export interface ClientConnectOptions {
  /** Opens the connection (the Node adapter's, or another runtime's). */
  readonly connector: Connector;
  /** The server's host name or address. */
  readonly host: string;
  /** The server's port. */
  readonly port: number;
  /** Implicit TLS from the first byte. */
  readonly secure: boolean;
  /** TLS settings, for implicit TLS and for a later STARTTLS. */
  readonly tls?: TlsClientOptions | undefined;
  /** Milliseconds allowed for the connect (and, with `secure`, the TLS handshake). */
  readonly timeout: number;
  /** Cancels the connect attempt. */
  readonly signal?: AbortSignal | undefined;
}

/** Opens a client's transport with `options.connector`, passing on only the options given. */
export function connectClient(options: ClientConnectOptions): Promise<Transport> {
  const { connector, host, port, secure, timeout, tls, signal } = options;
  return connector({
    host,
    port,
    secure,
    timeout,
    ...(tls ? { tls } : {}),
    ...(signal ? { signal } : {}),
  });
}

/** What a {@link ClientConnection} hands to the protocol session that owns it. */
export interface ClientConnectionHandler {
  /**
   * Bytes from the server, in order. A returned promise pauses reading until it settles (a slow
   * reader of a downloaded message); reading stops once the connection has failed.
   */
  receive(bytes: Uint8Array): void | Promise<void>;
  /** The connection failed: called once, with the first failure. */
  failed(error: Error): void;
}

/**
 * The part of a client session that is not the protocol: it holds the {@link Transport} with its
 * reader and writer, reads in the background and hands the bytes over, remembers the first failure
 * (of the connection, or one the session reports with {@link fail}) and upgrades to TLS in place so
 * that no byte read before the handshake is handed over after it.
 */
export class ClientConnection {
  readonly #server: string;
  readonly #handler: ClientConnectionHandler;
  #transport!: Transport;
  #writer!: WritableStreamDefaultWriter<Uint8Array>;
  #reader!: ReadableStreamDefaultReader<Uint8Array>;
  #failure: Error | undefined;
  #upgrading = false;
  /** Set while reading is held (see {@link holdReading}): resolving it lets the pump go on. */
  #hold: { readonly released: Promise<void>; readonly release: () => void } | undefined;

  /** Starts reading `transport`; `server` (`host:port`) names the peer in error messages. */
  constructor(transport: Transport, server: string, handler: ClientConnectionHandler) {
    this.#server = server;
    this.#handler = handler;
    this.#attach(transport);
  }

  /** The transport in use (after {@link startTls}, the one inside TLS). */
  get transport(): Transport {
    return this.#transport;
  }

  /** The first failure, or `undefined` while the connection is usable. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Writes bytes; rejects with the failure when the connection has failed or the write fails it. */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.#failure) throw this.#failure;
    try {
      await this.#writer.write(bytes);
    } catch (error) {
      throw this.fail(toConnectionError(error));
    }
  }

  /** Marks the connection failed (the first failure wins) and tells the handler; returns the failure. */
  fail(error: Error): Error {
    if (this.#failure) return this.#failure;
    this.#failure = error;
    this.#handler.failed(error);
    return error;
  }

  /** {@link fail}s and closes the transport without waiting (a timeout, an abort); returns the failure. */
  abort(error: Error): Error {
    const failure = this.fail(error);
    void this.#transport.close().catch(() => {});
    return failure;
  }

  /** {@link fail}s with `error` and closes the transport; never rejects. */
  async close(error: Error): Promise<void> {
    this.fail(error);
    await this.#transport.close().catch(() => {});
  }

  /**
   * Stops reading once the bytes being handed over now are dealt with. A session calls it from `receive`
   * when the answer that precedes a TLS handshake (STARTTLS's `220`, `OK`, `+OK`) is complete, so that no
   * read is in flight when {@link startTls} hands the socket to TLS: Deno and Workers refuse to upgrade a
   * socket that is being read. {@link resumeReading} goes on reading when the server refused the upgrade.
   */
  holdReading(): void {
    if (this.#hold) return;
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    this.#hold = { released, release };
  }

  /** Reads again after {@link holdReading}. */
  resumeReading(): void {
    const hold = this.#hold;
    this.#hold = undefined;
    hold?.release();
  }

  /**
   * Upgrades to TLS (STARTTLS, STLS). `reset` runs after the handshake and before the first byte
   * from inside TLS is handed over: the session clears its decoder there. A failed handshake
   * {@link abort}s the connection with its error, which the returned promise rejects with.
   */
  async startTls(reset: () => void): Promise<void> {
    this.#upgrading = true;
    this.#reader.releaseLock();
    this.#writer.releaseLock();
    let secure: Transport;
    try {
      secure = await this.#transport.startTls();
    } catch (error) {
      this.#upgrading = false;
      const failure = this.abort(toConnectionError(error));
      this.resumeReading();
      throw failure;
    }
    this.#upgrading = false;
    reset();
    this.#attach(secure);
    // The pump that was held ends: it reads a transport that is no longer there.
    this.resumeReading();
  }

  #attach(transport: Transport): void {
    this.#transport = transport;
    this.#writer = transport.writable.getWriter();
    this.#reader = transport.readable.getReader();
    void this.#pump(this.#reader);
  }

  async #pump(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (this.#failure) return;
        const wait = this.#handler.receive(value);
        if (wait) {
          await wait;
          if (this.#failure) return;
        }
        if (this.#hold) {
          await this.#hold.released;
          if (this.#failure || reader !== this.#reader) return;
        }
      }
      if (!this.#upgrading) {
        this.fail(new ConnectionError(ErrorCode.ConnectionClosed, `${this.#server} closed the connection`));
      }
    } catch (error) {
      if (!this.#upgrading) this.fail(toConnectionError(error));
    }
  }
}

import {
  AbortError,
  ConnectionError,
  ErrorCode,
  InvalidArgumentError,
  TimeoutError,
  TlsError,
  toConnectionError,
} from './errors.js';
import { startTimer } from './timer.js';
import type { ConnectOptions, Transport, TransportInfo } from './transport.js';

/**
 * A runtime's socket as web streams: what Deno's `Deno.connect()` and the Workers `connect()` give. A
 * runtime adapter wraps one in a {@link SocketTransport}.
 */
export interface StreamSocket {
  /** Bytes from the peer. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Bytes to the peer. */
  readonly writable: WritableStream<Uint8Array>;
  /** Settles when the socket has closed, where the runtime says so (Workers); else the transport watches `readable`. */
  readonly closed?: Promise<unknown>;
  /** Closes the socket. */
  close(): unknown;
}

/** How a {@link SocketTransport} upgrades to TLS, and what it says of itself. */
export interface SocketTransportOptions {
  /** Addresses and TLS state. */
  readonly info: TransportInfo;
  /**
   * Hands the socket to the runtime's TLS (STARTTLS) once nothing reads or writes it any more; resolves with
   * the transport inside TLS. Absent on a socket already inside TLS.
   */
  readonly upgrade?: () => Promise<Transport>;
  /** Milliseconds `close()` waits for written bytes to go out before it closes the socket regardless (default 2,000). */
  readonly closeTimeout?: number;
}

type State = 'open' | 'upgrading' | 'upgraded' | 'closed';

const DEFAULT_CLOSE_TIMEOUT = 2_000;

/**
 * A {@link Transport} over a runtime socket that already speaks web streams. `readable` reads the socket
 * only when asked (no read-ahead), so that STARTTLS can take the socket over: `startTls()` lets go of its
 * streams, and the pending read ends without a byte, as the transport contract asks. `closed` settles
 * when the socket closes, the peer ends the stream, or `close()` is called; `close()` lets written bytes go
 * out for up to the close timeout, then closes the socket even if the peer has stopped reading.
 */
export class SocketTransport implements Transport {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly closed: Promise<void>;
  readonly info: TransportInfo;
  readonly #socket: StreamSocket;
  readonly #upgrade: (() => Promise<Transport>) | undefined;
  readonly #closeTimeout: number;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  #state: State = 'open';
  #settle!: (error?: Error) => void;

  /** Wraps a connected socket; the transport owns it from now on. */
  constructor(socket: StreamSocket, options: SocketTransportOptions) {
    this.#socket = socket;
    this.#upgrade = options.upgrade;
    this.#closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    this.info = options.info;
    this.closed = new Promise<void>((resolve, reject) => {
      let settled = false;
      this.#settle = (error) => {
        if (settled) return;
        settled = true;
        if (error) reject(error);
        else resolve();
      };
    });
    this.closed.catch(() => {});
    socket.closed?.then(
      () => this.#ended(),
      (error: unknown) => this.#ended(toConnectionError(error)),
    );
    this.#reader = socket.readable.getReader();
    this.#writer = socket.writable.getWriter();
    this.readable = new ReadableStream<Uint8Array>(
      {
        pull: (controller) => this.#pull(controller),
        cancel: () => this.close(),
      },
      { highWaterMark: 0 },
    );
    this.writable = new WritableStream<Uint8Array>(
      {
        write: async (chunk) => {
          if (this.#state !== 'open') throw this.#closedError();
          try {
            await this.#writer.write(chunk);
          } catch (error) {
            const failure = toConnectionError(error);
            this.#ended(failure);
            throw failure;
          }
        },
        close: () => this.close(),
      },
      { highWaterMark: 0 },
    );
  }

  async #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    if (this.#state !== 'open') {
      controller.close();
      return;
    }
    try {
      const { done, value } = await this.#reader.read();
      if (this.#state !== 'open') controller.close();
      else if (done) {
        controller.close();
        this.#ended();
      } else controller.enqueue(value);
    } catch (error) {
      if (this.#state !== 'open') {
        controller.close();
        return;
      }
      const failure = toConnectionError(error);
      controller.error(failure);
      this.#ended(failure);
    }
  }

  async startTls(): Promise<Transport> {
    if (this.#state !== 'open' || !this.#upgrade) throw this.#closedError();
    this.#state = 'upgrading';
    this.#reader.releaseLock();
    this.#writer.releaseLock();
    try {
      const secure = await this.#upgrade();
      this.#state = 'upgraded';
      this.#settle();
      return secure;
    } catch (error) {
      this.#state = 'closed';
      this.#settle(toConnectionError(error));
      await closeQuietly(this.#socket);
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.#state === 'closed' || this.#state === 'upgraded') return;
    this.#state = 'closed';
    // The peer may have gone already, or stopped reading: closing the socket below ends it either way.
    const flushed = this.#writer.close().catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => {
      timer = startTimer(this.#closeTimeout, resolve);
    });
    await Promise.race([flushed, late]);
    clearTimeout(timer);
    await closeQuietly(this.#socket);
    this.#settle();
  }

  #ended(error?: Error): void {
    if (this.#state === 'upgrading' || this.#state === 'upgraded') return;
    this.#state = 'closed';
    this.#settle(error);
  }

  #closedError(): ConnectionError {
    return new ConnectionError(ErrorCode.ConnectionClosed, 'the connection is closed');
  }
}

/** A socket a runtime opened, with what it knows of the connection. */
export interface OpenedSocket {
  /** The socket. */
  readonly socket: StreamSocket;
  /** Addresses and TLS state. */
  readonly info: TransportInfo;
}

/** The two calls a runtime adapter gives {@link connectSocket}. */
export interface SocketRuntime {
  /** Opens a TCP connection. */
  open(host: string, port: number): Promise<OpenedSocket>;
  /**
   * Starts TLS on an open socket whose streams nobody holds, checking the server's certificate for
   * `servername`; resolves once the handshake is done.
   */
  startTls(socket: StreamSocket, servername: string): Promise<OpenedSocket>;
}

const DEFAULT_CONNECT_TIMEOUT = 30_000;

/**
 * A `Connector` on top of a runtime's web-stream sockets: opens the connection, with TLS from the first byte
 * when `secure` is set (a TCP connection and an immediate upgrade, so that the certificate is checked for
 * `tls.servername` whatever address was dialled), and gives a {@link SocketTransport} whose `startTls()`
 * upgrades the same way. Fails with a `ConnectionError` (`CONNECT_FAILED`), a `TlsError` (`TLS_FAILED`), a
 * `TimeoutError` once `timeout` ms have passed for the connect and the handshake together, or an
 * `AbortError` when `signal` aborts.
 */
export async function connectSocket(runtime: SocketRuntime, options: ConnectOptions): Promise<Transport> {
  const timeout = options.timeout ?? DEFAULT_CONNECT_TIMEOUT;
  if (!(timeout > 0)) throw new InvalidArgumentError('timeout must be a positive number');
  const where = `${options.host}:${options.port}`;
  const servername = options.tls?.servername ?? options.host;
  const secured = (opened: OpenedSocket): Promise<OpenedSocket> =>
    runtime.startTls(opened.socket, servername).catch((error: unknown) => {
      void closeQuietly(opened.socket);
      throw error instanceof TlsError
        ? error
        : new TlsError(ErrorCode.Tls, `TLS handshake with ${where} failed: ${messageOf(error)}`, {
            cause: error,
          });
    });
  const wrap = (opened: OpenedSocket, plain: boolean): SocketTransport =>
    new SocketTransport(opened.socket, {
      info: opened.info,
      ...(plain
        ? {
            upgrade: () =>
              withDeadline(
                secured(opened).then((tls) => wrap(tls, false)),
                timeout,
                undefined,
                `the TLS handshake with ${where}`,
              ),
          }
        : {}),
    });
  const attempt = async (): Promise<Transport> => {
    const opened = await runtime.open(options.host, options.port).catch((error: unknown) => {
      throw new ConnectionError(ErrorCode.ConnectFailed, `cannot connect to ${where}: ${messageOf(error)}`, {
        cause: error,
      });
    });
    return options.secure ? wrap(await secured(opened), false) : wrap(opened, true);
  };
  return withDeadline(attempt(), timeout, options.signal, `connecting to ${where}`);
}

/** Settles as `work` does, unless `timeout` ms pass or `signal` aborts first; a late transport is closed. */
async function withDeadline(
  work: Promise<Transport>,
  timeout: number,
  signal: AbortSignal | undefined,
  what: string,
): Promise<Transport> {
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<never>((_resolve, reject) => {
    timer = startTimer(timeout, () => reject(new TimeoutError(`${what} timed out after ${timeout} ms`)));
    onAbort = () => reject(new AbortError(undefined, { cause: signal?.reason }));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, stop]);
  } catch (error) {
    void work.then((late) => late.close()).catch(() => {});
    throw error;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/** Closes a socket, whether its `close()` throws (Deno, when closed already), rejects or returns. */
async function closeQuietly(socket: StreamSocket): Promise<void> {
  try {
    await socket.close();
  } catch {
    // Closed already.
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

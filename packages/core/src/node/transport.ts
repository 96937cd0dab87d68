import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { ConnectionError, ErrorCode, TlsError } from '../errors.js';
import type { ChannelBindingType, Transport, TransportInfo } from '../transport.js';
import { tlsChannelBinding } from './channel-binding.js';
import { socketError, type TlsUpgrade } from './tls.js';

/** Options of {@link NodeTransport}. */
export interface NodeTransportOptions {
  /** Which end of the connection this is; decides the `tls-unique` and `tls-server-end-point` bindings. */
  role?: 'client' | 'server';
  /** The handshake behind `startTls()`; without it `startTls()` rejects with a `TlsError`. */
  upgrade?: TlsUpgrade;
  /**
   * Called whenever bytes move: a chunk arrives, or a write is handed to the operating system.
   * Servers use it to push back an idle deadline; a peer that stops reading stops the calls.
   */
  onActivity?: () => void;
  /** Milliseconds `close()` waits for the peer to close its side before dropping the connection (default 2,000). */
  closeTimeout?: number;
}

type State = 'open' | 'upgrading' | 'upgraded' | 'closed';

const DEFAULT_CLOSE_TIMEOUT = 2_000;
const noop = (): void => {};

/**
 * A {@link Transport} over a Node `net.Socket` or `tls.TLSSocket`.
 *
 * Reading pulls from the socket one chunk per read: the socket stays paused while nobody reads, so
 * a fast sender fills the kernel buffers and then waits, and the readable never queues more than
 * one chunk. Received chunks are plain `Uint8Array` views of Node's buffers, not copies. A write
 * resolves once the socket has handed the bytes to the operating system, so a peer that does not
 * read holds the writer back. Chunks are written without copying: do not change one after writing it.
 *
 * `startTls()` stops reading plaintext at once. Bytes already delivered to the old readable are the
 * protocol's to discard; chunks still in its queue are dropped with it; bytes not yet read from the
 * socket go to the TLS handshake, where plaintext makes the handshake fail. A TLS error or close
 * during the session ends the connection: there is never a way back to the plaintext socket.
 */
export class NodeTransport implements Transport {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly closed: Promise<void>;
  readonly info: TransportInfo;

  readonly #socket: Socket;
  readonly #role: 'client' | 'server';
  readonly #upgrade: TlsUpgrade | undefined;
  readonly #onActivity: () => void;
  readonly #closeTimeout: number;
  #state: State = 'open';
  #successor: NodeTransport | undefined;
  #error: Error | undefined;
  #readController!: ReadableStreamDefaultController<Uint8Array>;
  #writeController!: WritableStreamDefaultController;
  #readableDone = false;
  #inFlightWrite: Promise<void> | undefined;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #resolveClosed!: () => void;
  #rejectClosed!: (error: Error) => void;

  /** Wraps a connected socket. The transport owns it from now on: read, write and close through the transport. */
  constructor(socket: Socket, options: NodeTransportOptions = {}) {
    this.#socket = socket;
    this.#role = options.role ?? 'client';
    this.#upgrade = options.upgrade;
    this.#onActivity = options.onActivity ?? noop;
    this.#closeTimeout = options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT;
    this.info = describe(socket);
    this.closed = new Promise<void>((resolve, reject) => {
      this.#resolveClosed = resolve;
      this.#rejectClosed = reject;
    });
    this.closed.catch(noop);

    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#readController = controller;
        },
        pull: () => {
          if (this.#state === 'open') socket.resume();
        },
        cancel: () => {
          this.#readableDone = true;
          socket.off('data', this.#onData);
          socket.pause();
        },
      },
      { highWaterMark: 0 },
    );
    this.writable = new WritableStream<Uint8Array>({
      start: (controller) => {
        this.#writeController = controller;
      },
      write: (chunk) => this.#write(chunk),
      close: () => this.#end(),
      abort: () => {
        socket.destroy();
      },
    });

    socket.pause();
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    if (socket.destroyed) this.#onClose();
  }

  /**
   * Upgrades to TLS with the settings given at creation and returns the secure transport. This
   * transport's streams end at once and never carry another byte; `closed` and `close()` keep
   * following the connection. Await every write before calling it: writes still queued are dropped.
   */
  async startTls(): Promise<Transport> {
    if (this.#upgrade === undefined) throw new TlsError(ErrorCode.Tls, 'this transport cannot start TLS');
    if (this.#state !== 'open') throw this.#closedError();
    this.#state = 'upgrading';
    const socket = this.#socket;
    this.#detach();
    await this.#inFlightWrite?.catch(noop);
    if (socket.destroyed) {
      this.#settle(this.#closedError());
      throw this.#closedError();
    }
    let secureSocket: TLSSocket;
    try {
      secureSocket = await this.#upgrade(socket);
    } catch (error) {
      socket.destroy();
      this.#settle(error as Error);
      throw error;
    }
    const next = new NodeTransport(secureSocket, {
      role: this.#role,
      onActivity: this.#onActivity,
      closeTimeout: this.#closeTimeout,
    });
    this.#successor = next;
    this.#state = 'upgraded';
    next.closed.then(
      () => this.#settle(undefined),
      (error: Error) => this.#settle(error),
    );
    return next;
  }

  /** The TLS channel binding of this connection; `undefined` in plaintext or when the type does not apply. */
  channelBinding(type: ChannelBindingType): Uint8Array | undefined {
    if (this.#successor) return this.#successor.channelBinding(type);
    return this.#socket instanceof TLSSocket ? tlsChannelBinding(this.#socket, type, this.#role) : undefined;
  }

  /**
   * Ends the connection gracefully: flushes what the socket holds, sends FIN (after a TLS
   * close_notify), discards whatever still arrives, and drops the connection if the peer has not
   * closed its side within the close timeout. Writes not yet awaited are dropped. Resolves when the
   * connection is closed; never rejects.
   */
  async close(): Promise<void> {
    if (this.#successor) return this.#successor.close();
    const socket = this.#socket;
    if (this.#state === 'upgrading') {
      socket.destroy();
    } else if (this.#state === 'open') {
      this.#state = 'closed';
      this.#endReadable();
      this.#writeController.error(this.#closedError());
      socket.off('data', this.#onData);
      socket.on('data', noop);
      socket.resume();
      socket.end();
      this.#closeTimer = setTimeout(() => socket.destroy(), this.#closeTimeout);
    }
    await this.closed.catch(noop);
  }

  /** Drops the connection at once, without flushing or waiting for the peer. */
  destroy(): void {
    if (this.#successor) this.#successor.destroy();
    else this.#socket.destroy();
  }

  readonly #onData = (chunk: Buffer): void => {
    // Handed on as the Buffer it is (a Uint8Array): its indexOf is a native memchr, several times
    // faster than Uint8Array's, and the line decoder's scans go through it.
    this.#readController.enqueue(chunk);
    if ((this.#readController.desiredSize ?? 0) <= 0) this.#socket.pause();
    this.#onActivity();
  };

  readonly #onEnd = (): void => {
    this.#endReadable();
  };

  readonly #onError = (error: Error): void => {
    this.#error ??= socketError(error);
  };

  readonly #onClose = (): void => {
    clearTimeout(this.#closeTimer);
    const error = this.#error;
    if (!this.#readableDone) {
      this.#readableDone = true;
      if (error) this.#readController.error(error);
      else this.#readController.close();
    }
    this.#writeController.error(error ?? this.#closedError());
    this.#state = 'closed';
    this.#settle(error);
  };

  #write(chunk: Uint8Array): Promise<void> {
    const socket = this.#socket;
    if (this.#state !== 'open' || !socket.writable) return Promise.reject(this.#error ?? this.#closedError());
    const written = new Promise<void>((resolve, reject) => {
      socket.write(chunk, (error) => {
        if (error) {
          reject(this.#error ?? socketError(error));
        } else {
          this.#onActivity();
          resolve();
        }
      });
    });
    this.#inFlightWrite = written;
    return written;
  }

  #end(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#socket.end((error?: Error | null) => (error ? reject(socketError(error)) : resolve()));
    });
  }

  /** Stops every plaintext byte: no more reads, the old streams end, the old socket's events are ignored. */
  #detach(): void {
    const socket = this.#socket;
    socket.pause();
    socket.off('data', this.#onData);
    socket.off('end', this.#onEnd);
    socket.off('error', this.#onError);
    socket.off('close', this.#onClose);
    socket.on('error', noop);
    if (!this.#readableDone) {
      this.#readableDone = true;
      if (this.#readController.desiredSize === 0) this.#readController.close();
      else this.#readController.error(new TlsError(ErrorCode.Tls, 'unread plaintext discarded by STARTTLS'));
    }
    this.#writeController.error(
      new TlsError(ErrorCode.Tls, 'the connection was upgraded; use the new transport'),
    );
  }

  #endReadable(): void {
    if (this.#readableDone) return;
    this.#readableDone = true;
    this.#readController.close();
  }

  #settle(error: Error | undefined): void {
    this.#state = 'closed';
    if (error) this.#rejectClosed(error);
    else this.#resolveClosed();
  }

  #closedError(): ConnectionError {
    return new ConnectionError(ErrorCode.ConnectionClosed, 'the connection is closed');
  }
}

function describe(socket: Socket): TransportInfo {
  const base = {
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    localAddress: socket.localAddress,
    localPort: socket.localPort,
  };
  if (!(socket instanceof TLSSocket)) return { ...base, secure: false };
  return {
    ...base,
    secure: true,
    tlsProtocol: socket.getProtocol() ?? undefined,
    tlsCipher: socket.getCipher()?.name,
    authorized: socket.authorized,
  };
}

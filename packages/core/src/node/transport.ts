import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { ConnectionError, ErrorCode, TlsError } from '../errors.js';
import { startTimer } from '../timer.js';
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

/** A write the operating system has not taken yet: settled once the socket's write count reaches `count`. */
interface PendingWrite {
  readonly count: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

const DEFAULT_CLOSE_TIMEOUT = 2_000;
/** The transport of each socket it listens to, for the socket's listeners: one set for all, not closures per transport. */
const transports = new WeakMap<Socket, NodeTransport>();
const noop = (): void => {};
const WRITTEN: Promise<void> = Promise.resolve();
const ENDED: Promise<undefined> = Promise.resolve(undefined);

/**
 * A {@link Transport} over a Node `net.Socket` or `tls.TLSSocket`.
 *
 * Reading pulls from the socket one chunk per read: the socket pauses as soon as a chunk arrives
 * that nobody waits for, so a fast sender fills the kernel buffers and then waits, and the transport
 * never holds more than one chunk. Received chunks are the socket's `Buffer`s (which are
 * `Uint8Array`s), not copies. A write resolves once the socket has handed the bytes to the operating
 * system, so a peer that does not read holds the writer back. Chunks are written without copying: do
 * not change one after writing it.
 *
 * `readable` and `writable` are created on first use, over {@link NodeTransport.read} and
 * {@link NodeTransport.write}: a Node adapter that calls those two directly skips the web streams
 * and their cost per connection and per chunk. Use one way or the other for each direction.
 *
 * `startTls()` stops reading plaintext at once. Bytes already read are the protocol's to discard;
 * bytes not yet read go to the TLS handshake, where plaintext makes the handshake fail. A TLS error
 * or close during the session ends the connection: there is never a way back to the plaintext socket.
 */
export class NodeTransport implements Transport {
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
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;
  #writeController: WritableStreamDefaultController | undefined;
  /** A chunk that arrived while nobody was reading; the socket is paused while it is held. */
  #held: Buffer | undefined;
  #resolveRead: ((chunk: Uint8Array | undefined) => void) | undefined;
  #rejectRead: ((error: Error) => void) | undefined;
  /** Set once reads only return the end (or `#readError`) after any held chunk. */
  #readDone = false;
  #readError: Error | undefined;
  /** Writes handed to the socket, and those it has reported done. */
  #writes = 0;
  #written = 0;
  /** Writes waiting for the operating system; created on the first that has to wait. */
  #pendingWrites: PendingWrite[] | undefined;
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

    socket.pause();
    transports.set(socket, this);
    socket.on('data', NodeTransport.#onData);
    socket.on('end', NodeTransport.#onEnd);
    socket.on('error', NodeTransport.#onError);
    socket.on('close', NodeTransport.#onClose);
    if (socket.destroyed) this.#socketClosed();
  }

  /** Bytes from the peer, as a web stream over {@link NodeTransport.read}; created on first use. */
  get readable(): ReadableStream<Uint8Array> {
    if (this.#readable) return this.#readable;
    let cancelled = false;
    this.#readable = new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          const chunk = await this.read();
          if (cancelled) return;
          if (chunk === undefined) controller.close();
          else controller.enqueue(chunk);
        },
        cancel: () => {
          cancelled = true;
          this.#stopReading();
        },
      },
      { highWaterMark: 0 },
    );
    return this.#readable;
  }

  /** Bytes to the peer, as a web stream over {@link NodeTransport.write}; created on first use. */
  get writable(): WritableStream<Uint8Array> {
    this.#writable ??= new WritableStream<Uint8Array>({
      start: (controller) => {
        this.#writeController = controller;
        if (this.#state !== 'open') controller.error(this.#writeFailure());
      },
      write: (chunk) => this.write(chunk),
      close: () => this.#end(),
      abort: () => {
        this.#socket.destroy();
      },
    });
    return this.#writable;
  }

  /**
   * The fast path for reading, without a stream: the next chunk from the peer, or `undefined` once
   * the peer has closed its side (or the readable was cancelled, or STARTTLS ended this transport).
   * Rejects as reading `readable` would. One read at a time: the next may start once this one settles.
   */
  read(): Promise<Uint8Array | undefined> {
    const held = this.#held;
    if (held !== undefined) {
      this.#held = undefined;
      return Promise.resolve(held);
    }
    if (this.#readError) return Promise.reject(this.#readError);
    if (this.#readDone) return ENDED;
    if (this.#resolveRead) return Promise.reject(new TypeError('a read is already pending'));
    return new Promise((resolve, reject) => {
      this.#resolveRead = resolve;
      this.#rejectRead = reject;
      this.#socket.resume();
    });
  }

  /**
   * The fast path for writing, without a stream: writes `chunk` (not copied: do not change it
   * afterwards) and resolves once the operating system has it, at once when the socket could hand
   * it over straight away. Rejects as writing to `writable` would. Writes may overlap; they go out
   * in order.
   */
  write(chunk: Uint8Array): Promise<void> {
    const socket = this.#socket;
    if (this.#state !== 'open' || !socket.writable) return Promise.reject(this.#writeFailure());
    socket.write(chunk, this.#afterWrite);
    const count = ++this.#writes;
    return socket.writableLength === 0 && !socket.errored ? WRITTEN : this.#whenWritten(count);
  }

  /**
   * Upgrades to TLS with the settings given at creation and returns the secure transport. This
   * transport's reads and writes end at once and never carry another byte; `closed` and `close()`
   * keep following the connection. Await every write before calling it: writes still queued are dropped.
   */
  async startTls(): Promise<NodeTransport> {
    if (this.#upgrade === undefined) throw new TlsError(ErrorCode.Tls, 'this transport cannot start TLS');
    if (this.#state !== 'open') throw this.#closedError();
    this.#state = 'upgrading';
    const socket = this.#socket;
    this.#detach();
    if (this.#written < this.#writes) await this.#whenWritten(this.#writes).catch(noop);
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
      this.#endReads(undefined);
      this.#writeController?.error(this.#closedError());
      socket.off('data', NodeTransport.#onData);
      socket.on('data', noop);
      socket.resume();
      socket.end();
      this.#closeTimer = startTimer(this.#closeTimeout, () => socket.destroy());
    }
    await this.closed.catch(noop);
  }

  /** Drops the connection at once, without flushing or waiting for the peer. */
  destroy(): void {
    if (this.#successor) this.#successor.destroy();
    else this.#socket.destroy();
  }

  // The socket's listeners, shared by every transport: functions that the socket calls with itself as
  // `this`, and that find its transport in `transports`.
  static readonly #onData = function (this: Socket, chunk: Buffer): void {
    const transport = transports.get(this);
    if (transport) transport.#received(chunk);
  };

  static readonly #onEnd = function (this: Socket): void {
    const transport = transports.get(this);
    if (transport) transport.#endReads(undefined);
  };

  static readonly #onError = function (this: Socket, error: Error): void {
    const transport = transports.get(this);
    if (transport) transport.#error ??= socketError(error);
  };

  static readonly #onClose = function (this: Socket): void {
    const transport = transports.get(this);
    if (transport) transport.#socketClosed();
  };

  #received(chunk: Buffer): void {
    // Handed on as the Buffer it is (a Uint8Array): its indexOf is a native memchr, several times
    // faster than Uint8Array's, and the line decoder's scans go through it.
    const resolve = this.#resolveRead;
    if (resolve) {
      this.#resolveRead = undefined;
      this.#rejectRead = undefined;
      resolve(chunk);
    } else {
      this.#socket.pause();
      this.#held = this.#held === undefined ? chunk : Buffer.concat([this.#held, chunk]);
    }
    this.#onActivity();
  }

  #socketClosed(): void {
    clearTimeout(this.#closeTimer);
    const error = this.#error;
    this.#endReads(error);
    this.#writeController?.error(error ?? this.#closedError());
    this.#state = 'closed';
    this.#settle(error);
  }

  /** Counts the socket's reports of finished writes, in order, and settles the writes waiting on them. */
  readonly #afterWrite = (error: Error | null | undefined): void => {
    this.#written++;
    if (error) {
      const failure = this.#error ?? socketError(error);
      for (const pending of this.#pendingWrites?.splice(0) ?? []) pending.reject(failure);
      return;
    }
    this.#onActivity();
    const pendingWrites = this.#pendingWrites;
    if (pendingWrites === undefined) return;
    while (pendingWrites.length > 0 && pendingWrites[0]!.count <= this.#written) {
      pendingWrites.shift()!.resolve();
    }
  };

  #whenWritten(count: number): Promise<void> {
    this.#pendingWrites ??= [];
    const pendingWrites = this.#pendingWrites;
    return new Promise((resolve, reject) => pendingWrites.push({ count, resolve, reject }));
  }

  #end(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#socket.end((error?: Error | null) => (error ? reject(socketError(error)) : resolve()));
    });
  }

  /**
   * Ends reading: a held chunk stays readable unless there is an error, then reads give the end, or
   * reject with `error`. A read in progress settles now.
   */
  #endReads(error: Error | undefined): void {
    if (this.#readDone) return;
    this.#readDone = true;
    if (error) {
      this.#held = undefined;
      this.#readError = error;
    }
    const resolve = this.#resolveRead;
    const reject = this.#rejectRead;
    this.#resolveRead = undefined;
    this.#rejectRead = undefined;
    if (error) reject?.(error);
    else resolve?.(undefined);
  }

  /** The readable was cancelled: stop reading, but keep the connection. */
  #stopReading(): void {
    this.#held = undefined;
    this.#endReads(undefined);
    this.#socket.pause();
  }

  /** Stops every plaintext byte: reads end, writes fail, the old socket's events are ignored. */
  #detach(): void {
    const socket = this.#socket;
    socket.pause();
    socket.off('data', NodeTransport.#onData);
    socket.off('end', NodeTransport.#onEnd);
    socket.off('error', NodeTransport.#onError);
    socket.off('close', NodeTransport.#onClose);
    transports.delete(socket);
    socket.on('error', noop);
    // A chunk received but never read goes back to the socket, and so to the TLS handshake.
    const held = this.#held;
    this.#held = undefined;
    if (held !== undefined) socket.unshift(held);
    this.#endReads(undefined);
    this.#writeController?.error(this.#writeFailure());
  }

  #writeFailure(): Error {
    if (this.#state === 'upgrading' || this.#state === 'upgraded') {
      return new TlsError(ErrorCode.Tls, 'the connection was upgraded; use the new transport');
    }
    return this.#error ?? this.#closedError();
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

/** The socket's addresses and TLS state, as object literals of one fixed shape each. */
function describe(socket: Socket): TransportInfo {
  if (!(socket instanceof TLSSocket)) {
    return {
      remoteAddress: socket.remoteAddress,
      remotePort: socket.remotePort,
      localAddress: socket.localAddress,
      localPort: socket.localPort,
      secure: false,
    };
  }
  return {
    remoteAddress: socket.remoteAddress,
    remotePort: socket.remotePort,
    localAddress: socket.localAddress,
    localPort: socket.localPort,
    secure: true,
    tlsProtocol: socket.getProtocol() ?? undefined,
    tlsCipher: socket.getCipher()?.name,
    authorized: socket.authorized,
    ...(socket.authorized ? verifiedName(socket) : {}),
  };
}

/** The CN of a verified peer certificate (the first, if the subject holds several). */
function verifiedName(socket: TLSSocket): { peerCertificateName?: string } {
  const name: unknown = socket.getPeerCertificate()?.subject?.CN;
  const first = Array.isArray(name) ? name[0] : name;
  return typeof first === 'string' && first !== '' ? { peerCertificateName: first } : {};
}

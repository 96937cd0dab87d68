import {
  constants,
  createDeflateRaw,
  createInflateRaw,
  type DeflateRaw,
  type InflateRaw,
  type ZlibOptions,
} from 'node:zlib';
import { concatBytes } from '../bytes.js';
import { ConnectionError, ErrorCode, ProtocolError, TlsError } from '../errors.js';
import type { ChannelBindingType, Transport, TransportInfo } from '../transport.js';

/**
 * A {@link Transport} with the fast path of `NodeTransport`: `read()` and `write()` without web streams,
 * and `destroy()`. What {@link DeflateTransport} compresses, and what it is itself.
 */
export interface FastTransport extends Transport {
  /** The next chunk from the peer, or `undefined` once the peer has closed its side. One read at a time. */
  read(): Promise<Uint8Array | undefined>;
  /** Writes `chunk` (not copied) and resolves once the operating system has the bytes. Writes go out in order. */
  write(chunk: Uint8Array): Promise<void>;
  /** Drops the connection at once. */
  destroy(): void;
  /** The TLS channel binding of the connection; `undefined` in plaintext or when the type does not apply. */
  channelBinding(type: ChannelBindingType): Uint8Array | undefined;
}

/** Options of {@link DeflateTransport}: the compressor's settings (node:zlib's, for raw DEFLATE). */
export interface DeflateTransportOptions {
  /** Compression level, 0 (none) to 9 (best); default zlib's (6). */
  level?: number;
  /** Memory for the compressor's internal state, 1 to 9; default 8 (about 128 KiB). */
  memLevel?: number;
  /** The compressor's window, 9 to 15 (512 B to 32 KiB, the default); the decompressor always accepts 32 KiB. */
  windowBits?: number;
}

/**
 * Inflated bytes made per step, and held ahead of reads at most: a stream that inflates to a gigabyte is
 * inflated as it is read, never ahead of the reader by more than this (and one step in progress).
 */
const INFLATE_CHUNK = 16 * 1024;
/** The decompressor's settings; zlib passes the stream option through, though its type does not list it. */
const INFLATE_OPTIONS: ZlibOptions & { readableHighWaterMark: number } = {
  chunkSize: INFLATE_CHUNK,
  readableHighWaterMark: INFLATE_CHUNK,
};
const WRITTEN: Promise<void> = Promise.resolve();

/**
 * Compresses both directions of a transport with raw DEFLATE (RFC 1951, no zlib header), as IMAP's
 * COMPRESS=DEFLATE (RFC 4978) and similar extensions do. Wrap the transport at the byte where compression
 * starts, with nothing buffered; works as well over TLS (compress the TLS transport).
 *
 * Each `write()` is compressed and sync-flushed (Z_SYNC_FLUSH) before its bytes go out, so the peer can
 * decode every write at once: write a response group in one call. Reading inflates incrementally with
 * backpressure: at most about 32 KiB are inflated ahead of what `read()` has returned, so a small stream
 * that inflates to a huge line meets the protocol's own limits on inflated bytes with bounded memory. A
 * corrupt stream makes `read()` reject with a `ProtocolError`. Each compressed connection costs about
 * 300 KiB of zlib state with the default settings.
 */
export class DeflateTransport implements FastTransport {
  readonly #inner: FastTransport;
  readonly #deflate: DeflateRaw;
  readonly #inflate: InflateRaw;
  /** Compressed output of the write being flushed. */
  #compressed: Uint8Array[] = [];
  /** Bytes `read()` has returned. */
  #returned = 0;
  /** An input chunk is being inflated: no more is read from the inner transport until it is done. */
  #feeding = false;
  /** The inner transport has no more bytes. */
  #inputDone = false;
  #reading = false;
  #readError: Error | undefined;
  #writeError: Error | undefined;
  #closed = false;
  /** Settles when something happens that a waiting `read()` may care about. */
  #wake: (() => void) | undefined;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;

  /** Starts compressing over `inner`, which this transport owns from now on. */
  constructor(inner: FastTransport, options: DeflateTransportOptions = {}) {
    this.#inner = inner;
    this.#deflate = createDeflateRaw({ ...options, flush: constants.Z_SYNC_FLUSH });
    this.#inflate = createInflateRaw(INFLATE_OPTIONS);
    this.#deflate.on('readable', this.#drainDeflate);
    this.#deflate.on('error', this.#onDeflateError);
    this.#inflate.on('readable', this.#signal);
    this.#inflate.on('error', this.#onInflateError);
    // Once the connection is closed nothing more can be written; what was received can still be read.
    const stopWriting = (): void => {
      this.#deflate.destroy();
    };
    inner.closed.then(stopWriting, stopWriting);
  }

  /** The inner transport's addresses and TLS state. */
  get info(): TransportInfo {
    return this.#inner.info;
  }

  /** Settles when the connection has closed, as the inner transport's `closed`. */
  get closed(): Promise<void> {
    return this.#inner.closed;
  }

  /** Bytes inflated so far, read or not: never more than about 32 KiB beyond what `read()` has returned. */
  get bytesInflated(): number {
    return this.#returned + this.#inflate.readableLength;
  }

  /** Decompressed bytes from the peer, as a web stream over {@link DeflateTransport.read}; created on first use. */
  get readable(): ReadableStream<Uint8Array> {
    this.#readable ??= new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          const chunk = await this.read();
          if (chunk === undefined) controller.close();
          else controller.enqueue(chunk);
        },
      },
      { highWaterMark: 0 },
    );
    return this.#readable;
  }

  /** Bytes to compress to the peer, as a web stream over {@link DeflateTransport.write}; created on first use. */
  get writable(): WritableStream<Uint8Array> {
    this.#writable ??= new WritableStream<Uint8Array>({
      write: (chunk) => this.write(chunk),
      close: () => this.close(),
      abort: () => this.destroy(),
    });
    return this.#writable;
  }

  /**
   * The next decompressed chunk, or `undefined` once the peer has closed its side. Rejects with a
   * `ProtocolError` for a corrupt stream, or as the inner transport's `read()` does. One read at a time.
   */
  async read(): Promise<Uint8Array | undefined> {
    if (this.#reading) throw new TypeError('a read is already pending');
    this.#reading = true;
    try {
      for (;;) {
        if (this.#readError) throw this.#readError;
        const chunk = this.#closed ? null : (this.#inflate.read() as Buffer | null);
        if (chunk !== null) {
          this.#returned += chunk.length;
          return chunk;
        }
        if (this.#closed) return undefined;
        if (this.#inputDone && !this.#feeding) {
          this.#inflate.destroy();
          return undefined;
        }
        const woken = new Promise<void>((resolve) => {
          this.#wake = resolve;
        });
        if (!this.#feeding && !this.#inputDone) void this.#feed();
        await woken;
      }
    } finally {
      this.#reading = false;
    }
  }

  /**
   * Compresses `chunk`, flushes, and resolves once the inner transport has written the compressed bytes.
   * Writes go out in order and may overlap.
   */
  write(chunk: Uint8Array): Promise<void> {
    if (this.#writeError) return Promise.reject(this.#writeError);
    if (this.#closed) return Promise.reject(closedError());
    if (chunk.length === 0) return WRITTEN;
    return new Promise<void>((resolve, reject) => {
      this.#deflate.write(chunk, (error) => {
        if (error) {
          reject(this.#writeError ?? closedError());
          return;
        }
        this.#drainDeflate();
        const compressed = this.#compressed;
        this.#compressed = [];
        const data = compressed.length === 1 ? compressed[0]! : concatBytes(compressed);
        this.#inner.write(data).then(resolve, reject);
      });
    });
  }

  /** TLS cannot start inside compression: always rejects with a `TlsError`. */
  startTls(): Promise<never> {
    return Promise.reject(new TlsError(ErrorCode.Tls, 'TLS cannot start inside a compressed stream'));
  }

  /** The inner transport's TLS channel binding. */
  channelBinding(type: ChannelBindingType): Uint8Array | undefined {
    return this.#inner.channelBinding(type);
  }

  /** Closes gracefully, as the inner transport's `close()`; writes not yet awaited are dropped. Never rejects. */
  close(): Promise<void> {
    this.#release();
    return this.#inner.close();
  }

  /** Drops the connection at once. */
  destroy(): void {
    this.#release();
    this.#inner.destroy();
  }

  /** Reads one chunk from the inner transport and hands it to the decompressor. */
  async #feed(): Promise<void> {
    this.#feeding = true;
    let chunk: Uint8Array | undefined;
    try {
      chunk = await this.#inner.read();
    } catch (error) {
      this.#readError ??= error as Error;
      this.#feeding = false;
      this.#signal();
      return;
    }
    if (chunk === undefined || this.#closed) {
      // The peer closed: the stream ends here, whether or not it was finished with a final block.
      this.#inputDone = true;
      this.#feeding = false;
      this.#signal();
      return;
    }
    // The callback comes once the chunk is inflated, which pauses while inflated bytes wait to be read.
    this.#inflate.write(chunk, () => {
      this.#feeding = false;
      this.#signal();
    });
  }

  readonly #signal = (): void => {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  };

  readonly #drainDeflate = (): void => {
    for (let chunk = this.#deflate.read() as Buffer | null; chunk !== null; chunk = this.#deflate.read())
      this.#compressed.push(chunk);
  };

  readonly #onInflateError = (error: Error): void => {
    if (this.#closed) return;
    this.#readError ??= new ProtocolError('the compressed stream from the peer is corrupt', { cause: error });
    this.#signal();
  };

  readonly #onDeflateError = (error: Error): void => {
    if (this.#closed) return;
    this.#writeError ??= new ConnectionError(ErrorCode.ConnectionClosed, 'compression failed', {
      cause: error,
    });
  };

  /** Frees the zlib state when the transport is closed: reads end, writes fail. */
  #release(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#deflate.destroy();
    this.#inflate.destroy();
    this.#signal();
  }
}

function closedError(): ConnectionError {
  return new ConnectionError(ErrorCode.ConnectionClosed, 'the connection is closed');
}

import { AbortError } from './errors.js';

/** Options of {@link PushStream}. */
export interface PushStreamOptions {
  /** Bytes queued for the reader before {@link PushStream.push} asks the producer to wait (default 256 KiB). */
  readonly highWaterMark?: number;
}

const DEFAULT_HIGH_WATER_MARK = 256 * 1024;

type Waiting = { resolve(result: IteratorResult<Uint8Array>): void; reject(error: Error): void };

/**
 * Bytes that a protocol engine hands over as they arrive from the network — a message a server
 * receives, or one a client downloads — read once, either by async iteration (`for await`, the cheap
 * way: no web stream is made) or as a web `ReadableStream` ({@link stream}, made on first use).
 * Pushing is synchronous while the reader keeps up; when it falls a high-water mark behind,
 * {@link push} returns a promise and the engine stops reading from its connection until the reader
 * catches up, so that a message is never held whole. A reader that stops early, or a {@link discard},
 * makes the rest be dropped as it arrives, so that the protocol stays in step.
 */
export class PushStream implements AsyncIterable<Uint8Array> {
  /** Settles when the last byte was pushed ({@link end}); rejects when the producer {@link fail}ed first. */
  readonly done: Promise<void>;
  readonly #highWaterMark: number;
  readonly #queue: Uint8Array[] = [];
  #queued = 0;
  #reader: Waiting | undefined;
  #resume: (() => void) | undefined;
  #ended = false;
  #error: Error | undefined;
  #dropping = false;
  #stream: ReadableStream<Uint8Array> | undefined;
  #settle!: { resolve(): void; reject(error: Error): void };

  constructor(options: PushStreamOptions = {}) {
    this.#highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.done = new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    this.done.catch(() => {});
  }

  /** The bytes as a web stream, made on first use; read it or iterate this object, not both. */
  get stream(): ReadableStream<Uint8Array> {
    this.#stream ??= new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          const result = await this.#next();
          if (result.done) controller.close();
          else controller.enqueue(result.value);
        },
        cancel: () => this.#stopReading(),
      },
      { highWaterMark: 0 },
    );
    return this.#stream;
  }

  /** Reads the bytes with `for await`, without making a web stream. */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return {
      next: () => this.#next(),
      return: async () => {
        this.#stopReading();
        return { done: true, value: undefined };
      },
    };
  }

  /** True once the reader stopped early or the rest was discarded: pushed bytes are dropped. */
  get dropping(): boolean {
    return this.#dropping;
  }

  /** Adds bytes; returns a promise to wait for when the reader is behind, else `undefined`. */
  push(data: Uint8Array): Promise<void> | undefined {
    if (this.#dropping || this.#ended) return undefined;
    const reader = this.#reader;
    if (reader) {
      this.#reader = undefined;
      reader.resolve({ done: false, value: data });
      return undefined;
    }
    this.#queue.push(data);
    this.#queued += data.byteLength;
    if (this.#queued < this.#highWaterMark) return undefined;
    return new Promise((resolve) => {
      this.#resume = resolve;
    });
  }

  /** The content is complete: the reader gets the end after what was pushed. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#settle.resolve();
    const reader = this.#reader;
    this.#reader = undefined;
    reader?.resolve({ done: true, value: undefined });
  }

  /** The content will not be complete (the connection failed, the message was refused): the reader gets `error`. */
  fail(error: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#settle.reject(error);
    this.#abandon(error);
  }

  /**
   * Drops whatever has not been pushed yet: a reader still reading gets an `AbortError` rather than
   * silently shortened content. Nothing happens once the content is complete.
   */
  discard(): void {
    if (this.#ended || this.#dropping) return;
    this.#abandon(new AbortError('the rest of the content was discarded'));
  }

  /** The next chunk for the reader: from the queue, or the next one pushed. */
  #next(): Promise<IteratorResult<Uint8Array>> {
    const chunk = this.#queue.shift();
    if (chunk) {
      this.#queued -= chunk.byteLength;
      if (this.#queued < this.#highWaterMark) this.#wake();
      return Promise.resolve({ done: false, value: chunk });
    }
    if (this.#error) return Promise.reject(this.#error);
    if (this.#ended || this.#dropping) return Promise.resolve({ done: true, value: undefined });
    this.#wake();
    return new Promise((resolve, reject) => {
      this.#reader = { resolve, reject };
    });
  }

  #stopReading(): void {
    this.#dropping = true;
    this.#queue.length = 0;
    this.#queued = 0;
    this.#wake();
  }

  #abandon(error: Error): void {
    this.#error = error;
    this.#stopReading();
    const reader = this.#reader;
    this.#reader = undefined;
    reader?.reject(error);
  }

  #wake(): void {
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.();
  }
}

/**
 * A web stream's chunks as an async iterable, for runtimes whose streams are not async iterable (and
 * the same everywhere): leaving the loop early cancels the stream.
 */
export async function* streamChunks<T>(stream: ReadableStream<T>): AsyncGenerator<T, void, undefined> {
  const reader = stream.getReader();
  let done = false;
  try {
    for (;;) {
      const result = await reader.read();
      if (result.done) {
        done = true;
        return;
      }
      yield result.value;
    }
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/**
 * Reads a web stream chunk by chunk through its reader (one promise per chunk, cheaper than an async
 * iterator's three), handing each to `visit` until it returns `false` or the stream ends; stopping
 * early, or a `visit` that throws, cancels the stream.
 */
export async function consumeStream<T>(
  stream: ReadableStream<T>,
  visit: (chunk: T) => boolean | Promise<boolean>,
): Promise<void> {
  const reader = stream.getReader();
  let done = false;
  try {
    for (;;) {
      const result = await reader.read();
      if (result.done) {
        done = true;
        return;
      }
      if (!(await visit(result.value))) return;
    }
  } finally {
    if (!done) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

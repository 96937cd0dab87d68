import { AbortError } from './errors.js';

/** Options of {@link PushStream}. */
export interface PushStreamOptions {
  /** Bytes queued for the reader before {@link PushStream.push} asks the producer to wait (default 256 KiB). */
  readonly highWaterMark?: number;
}

const DEFAULT_HIGH_WATER_MARK = 256 * 1024;

/**
 * A web `ReadableStream` of bytes that a protocol engine fills as they arrive from the network: a
 * message being received by a server, or downloaded by a client. Pushing is synchronous while the
 * reader keeps up; when it falls behind, {@link push} returns a promise, and the engine stops reading
 * from its connection until the reader catches up, so that a message is never held whole. A reader
 * that cancels, or a {@link discard}, makes the rest be dropped as it arrives, so that the protocol
 * stays in step.
 */
export class PushStream {
  readonly stream: ReadableStream<Uint8Array>;
  /** Settles when the last byte was pushed ({@link end}); rejects when the producer {@link fail}ed first. */
  readonly done: Promise<void>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #settle!: { resolve(): void; reject(error: Error): void };
  #resume: (() => void) | undefined;
  #dropping = false;
  #ended = false;

  constructor(options: PushStreamOptions = {}) {
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#controller = controller;
        },
        pull: () => this.#wake(),
        cancel: () => {
          this.#dropping = true;
          this.#wake();
        },
      },
      { highWaterMark: options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK, size: (chunk) => chunk.byteLength },
    );
    this.done = new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    this.done.catch(() => {});
  }

  /** True once the reader cancelled or the rest was discarded: pushed bytes are dropped. */
  get dropping(): boolean {
    return this.#dropping;
  }

  /** Adds bytes; returns a promise to wait for when the reader is behind, else `undefined`. */
  push(data: Uint8Array): Promise<void> | undefined {
    if (this.#dropping || this.#ended) return undefined;
    this.#controller.enqueue(data);
    if ((this.#controller.desiredSize ?? 0) > 0) return undefined;
    return new Promise((resolve) => {
      this.#resume = resolve;
    });
  }

  /** The content is complete: the stream ends after what was pushed. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (!this.#dropping) this.#controller.close();
    this.#settle.resolve();
  }

  /** The content will not be complete (the connection failed, the message was refused): the stream errors. */
  fail(error: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    if (!this.#dropping) this.#controller.error(error);
    this.#dropping = true;
    this.#settle.reject(error);
    this.#wake();
  }

  /**
   * Drops whatever has not been pushed yet: a reader still holding the stream gets an `AbortError`
   * rather than silently shortened content. Nothing happens once the content is complete.
   */
  discard(): void {
    if (this.#ended || this.#dropping) return;
    this.#dropping = true;
    this.#controller.error(new AbortError('the rest of the content was discarded'));
    this.#wake();
  }

  #wake(): void {
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.();
  }
}

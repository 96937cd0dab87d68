import { AbortError } from '@postwire/core';

/** Bytes of a message queued in its stream before the client stops reading from the server. */
const HIGH_WATER_MARK = 256 * 1024;

/**
 * The content of one RETR or TOP response as a web `ReadableStream`, fed by the session as the bytes
 * arrive. When the reader falls behind, {@link push} returns a promise and the session stops reading
 * from the connection until the reader catches up: a message is never held whole. A cancelled stream,
 * or one {@link discard}ed, has the rest of its message read and dropped, so that the responses after
 * it stay in step.
 */
export class MessageStream {
  readonly stream: ReadableStream<Uint8Array>;
  /** Settles when the message's last byte was read from the connection (rejects when the session failed first). */
  readonly done: Promise<void>;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #settle!: { resolve(): void; reject(error: Error): void };
  #resume: (() => void) | undefined;
  #dropping = false;
  #ended = false;

  constructor() {
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
      { highWaterMark: HIGH_WATER_MARK, size: (chunk) => chunk.byteLength },
    );
    this.done = new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    this.done.catch(() => {});
  }

  /** Adds content; returns a promise to wait for when the reader is behind. */
  push(data: Uint8Array): Promise<void> | undefined {
    if (this.#dropping) return undefined;
    this.#controller.enqueue(data);
    if ((this.#controller.desiredSize ?? 0) > 0) return undefined;
    return new Promise((resolve) => {
      this.#resume = resolve;
    });
  }

  /** The message is complete. */
  end(): void {
    this.#ended = true;
    if (!this.#dropping) this.#controller.close();
    this.#settle.resolve();
  }

  /** The session failed before the message was complete. */
  fail(error: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    if (!this.#dropping) this.#controller.error(error);
    this.#dropping = true;
    this.#settle.reject(error);
    this.#wake();
  }

  /**
   * Drops whatever of the message has not been read yet: a reader still holding the stream gets an
   * error rather than a silently shortened message. Nothing happens once the message is complete.
   */
  discard(): void {
    if (this.#ended || this.#dropping) return;
    this.#dropping = true;
    this.#controller.error(new AbortError('the rest of the message was discarded'));
    this.#wake();
  }

  #wake(): void {
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.();
  }
}

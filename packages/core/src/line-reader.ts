import type { LineDecoder, LineDecoderEvent } from './line-decoder.js';

/**
 * Pulls a {@link LineDecoder}'s events out of a byte stream, reading from the stream only when the
 * decoder needs more bytes, so that backpressure reaches the peer. The decoder stays in the caller's
 * hands for mode switches (`readBytes`, `readDotBlock`) between events.
 *
 * After a STARTTLS upgrade, {@link release} this reader, `reset()` the decoder and make a new reader
 * on the upgraded transport's stream: nothing read before the handshake survives.
 */
export class LineReader {
  /** The line decoder the reader feeds. */
  readonly decoder: LineDecoder;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #ended = false;

  constructor(readable: ReadableStream<Uint8Array>, decoder: LineDecoder) {
    this.decoder = decoder;
    this.#reader = readable.getReader();
  }

  /** True once the stream has ended and every buffered event has been returned. */
  get ended(): boolean {
    return this.#ended && this.decoder.buffered === 0;
  }

  /**
   * The next event, or `undefined` when the stream ended. Bytes of an unfinished line left at the
   * end stay in the decoder (`decoder.buffered` tells how many).
   */
  async next(): Promise<LineDecoderEvent | undefined> {
    for (;;) {
      const event = this.decoder.next();
      if (event) return event;
      if (this.#ended) return undefined;
      const { done, value } = await this.#reader.read();
      if (done) this.#ended = true;
      else this.decoder.push(value);
    }
  }

  /** Lets go of the stream without cancelling it. */
  release(): void {
    this.#reader.releaseLock();
  }

  /** Cancels the stream: the peer's further bytes are not wanted. */
  async cancel(reason?: unknown): Promise<void> {
    this.#ended = true;
    await this.#reader.cancel(reason);
  }
}

import type { LiteralSource } from '../protocol/writer.js';

const noop = (): void => {};

/**
 * A literal's chunks, asked for ahead of their turn: the first read starts when this is made, and each
 * later one as soon as the chunk before it is taken, so that reading overlaps the writes before it. At most
 * one chunk is held beyond the one being written.
 */
export class LiteralReadAhead {
  /** The octets the literal announced. */
  readonly size: number;
  readonly #iterator: AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  #next: Promise<IteratorResult<Uint8Array>> | undefined;
  #taken = 0;

  constructor(source: LiteralSource) {
    this.size = source.size;
    const chunks = source.chunks;
    this.#iterator =
      Symbol.asyncIterator in chunks ? chunks[Symbol.asyncIterator]() : chunks[Symbol.iterator]();
    this.#next = this.#ask();
  }

  /**
   * The next chunk, or `undefined` once all are taken.
   * @throws Error when the chunks do not hold exactly `size` octets, or the read failed.
   */
  async take(): Promise<Uint8Array | undefined> {
    const next = this.#next;
    if (next === undefined) return undefined;
    const result = await next;
    if (result.done) {
      this.#next = undefined;
      if (this.#taken !== this.size)
        throw new Error(`a streamed literal gave ${this.#taken} octets, not ${this.size}`);
      return undefined;
    }
    this.#taken += result.value.length;
    this.#next = this.#ask();
    return result.value;
  }

  /** Stops reading: the source is told it is no longer needed (a stream is cancelled). */
  cancel(): void {
    if (this.#next === undefined) return;
    this.#next = undefined;
    try {
      void Promise.resolve(this.#iterator.return?.()).catch(noop);
    } catch {
      // A source that fails to stop has nothing more to give.
    }
  }

  #ask(): Promise<IteratorResult<Uint8Array>> {
    let next: Promise<IteratorResult<Uint8Array>>;
    try {
      next = Promise.resolve(this.#iterator.next());
    } catch (error) {
      next = Promise.reject(error);
    }
    // A failure is thrown when its turn comes, not as an unhandled rejection meanwhile.
    next.catch(noop);
    return next;
  }
}

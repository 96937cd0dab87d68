import { InvalidArgumentError } from '@postwire/core';
import type { MessageSource } from './types.js';

/**
 * The chunks of a message source, whichever form it takes. Anything but bytes (a string, or a stream of
 * strings, as JavaScript callers may pass) is an `InvalidArgumentError`, before anything is stored.
 */
export async function* sourceChunks(source: MessageSource): AsyncIterable<Uint8Array> {
  if (source instanceof Uint8Array) {
    yield source;
    return;
  }
  if (typeof source !== 'object' || source === null) throw notBytes(source);
  if (isReadableStream(source)) {
    const reader = source.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        yield bytesOf(value);
      }
    } finally {
      reader.releaseLock();
    }
  } else {
    for await (const chunk of source) yield bytesOf(chunk);
  }
}

function bytesOf(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  throw notBytes(chunk);
}

function notBytes(value: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    `a message is bytes (Uint8Array), not ${typeof value}: encode text with TextEncoder`,
  );
}

function isReadableStream(source: MessageSource): source is ReadableStream<Uint8Array> {
  return typeof (source as ReadableStream<Uint8Array>).getReader === 'function';
}

/** A stream of `bytes[start, end)`, for a message held in memory. */
export function streamOf(bytes: Uint8Array, start = 0, end = bytes.length): ReadableStream<Uint8Array> {
  const slice = bytes.subarray(Math.min(start, bytes.length), Math.min(end, bytes.length));
  return new ReadableStream({
    start(controller) {
      if (slice.length > 0) controller.enqueue(slice);
      controller.close();
    },
  });
}

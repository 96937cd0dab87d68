import { streamChunks, utf8 } from '@postwire/core';

/** What the parsers read: bytes, a string (encoded as UTF-8), a web stream, or any async iterable of bytes. */
export type MessageInput =
  | Uint8Array
  | string
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array | string>;

/**
 * Turns any message input into an async iterable of byte chunks. A Node `Readable` is an async iterable of
 * `Buffer`s, which are `Uint8Array`s; string chunks are encoded as UTF-8. A web stream is read through its
 * reader and cancelled when the consumer stops early.
 */
export async function* toByteStream(input: MessageInput): AsyncIterable<Uint8Array> {
  if (typeof input === 'string') {
    yield utf8(input);
  } else if (input instanceof Uint8Array) {
    yield input;
  } else if (isReadableStream(input)) {
    yield* streamChunks(input);
  } else {
    for await (const chunk of input) yield typeof chunk === 'string' ? utf8(chunk) : chunk;
  }
}

function isReadableStream(input: object): input is ReadableStream<Uint8Array> {
  return typeof (input as { getReader?: unknown }).getReader === 'function';
}

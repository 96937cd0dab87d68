import { streamChunks, utf8 } from '@postwire/core';

/** A message as the checks read it: bytes, text (encoded as UTF-8), a web stream or any async iterable of bytes. */
export type MessageSource = Uint8Array | string | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/** The chunks of a {@link MessageSource}; a web stream is cancelled when the reader stops early. */
export async function* messageChunks(source: MessageSource): AsyncIterable<Uint8Array> {
  if (typeof source === 'string') yield utf8(source);
  else if (source instanceof Uint8Array) yield source;
  else if ('getReader' in source) yield* streamChunks(source);
  else yield* source;
}

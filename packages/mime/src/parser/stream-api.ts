import { type MessageInput, toByteStream } from './input.js';
import { MimeParser } from './stream.js';
import type { MimeEvent, ParseOptions } from './types.js';

/**
 * Parses a message as it arrives: yields each part's headers, its decoded body chunks and its end as soon as
 * the input holds them. Memory stays bounded by the largest header block and input chunk, so an attachment
 * of any size flows through.
 */
export async function* parseMessageStream(
  input: MessageInput,
  options?: ParseOptions,
): AsyncIterable<MimeEvent> {
  const parser = new MimeParser(options);
  for await (const chunk of toByteStream(input)) yield* parser.push(chunk);
  yield* parser.end();
}

import { expect } from 'vitest';
import { type Fragment, ImapReader, type ImapReaderOptions } from '../../src/protocol/reader.js';
import { type ImapResponse, parseResponse, type ResponseOptions } from '../../src/protocol/response.js';
import type { OutputPart } from '../../src/protocol/writer.js';

/** The bytes of serialized parts (streamed sources must be synchronous iterables here). */
export function wire(parts: OutputPart[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  for (const part of parts) {
    if (part.kind === 'bytes') chunks.push(part.data);
    else if (part.kind === 'stream') chunks.push(...(part.source.chunks as Iterable<Uint8Array>));
  }
  return Buffer.concat(chunks);
}

/** A framed response, and the streamed literal octets it carried. */
export interface Received {
  readonly fragments: Fragment[];
  readonly streamed: Uint8Array;
}

/** Frames `bytes` with a client-side reader, pushed in chunks of `chunk` octets. */
export function frameAll(
  bytes: Uint8Array,
  chunk = bytes.length || 1,
  options: Partial<ImapReaderOptions> = {},
): Received[] {
  const reader = new ImapReader({ side: 'client', limits: { maxLineLength: 200_000 }, ...options });
  const out: Received[] = [];
  let streamed: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += chunk) {
    reader.push(new Uint8Array(bytes.subarray(i, i + chunk)));
    for (let event = reader.next(); event; event = reader.next()) {
      if (event.type === 'error') throw event.error;
      if (event.type === 'literal-data') streamed.push(event.data);
      if (event.type === 'message') {
        out.push({ fragments: [...event.fragments], streamed: Buffer.concat(streamed) });
        streamed = [];
      }
    }
  }
  return out;
}

/** Parses every response of a transcript (CRLF added to each line). */
export function parseLines(lines: readonly string[], options?: ResponseOptions): ImapResponse[] {
  const received = frameAll(Buffer.from(lines.map((line) => `${line}\r\n`).join(''), 'utf8'));
  expect(received).toHaveLength(lines.length);
  return received.map(({ fragments }) => parseResponse(fragments, options));
}

/** Parses one response line. */
export const parseLine = (line: string, options?: ResponseOptions): ImapResponse =>
  parseLines([line], options)[0]!;

export { splitAt } from '../support/chunks.js';

import { concatBytes, decodeLatin1, utf8 } from '@postwire/core';
import { MimeParser } from '../../src/parser/stream.js';
import type { MimeEvent, ParseOptions } from '../../src/parser/types.js';

/** A plain view of an event for deep comparison: body pieces of one part are merged into Latin-1 text. */
export type Seen =
  | {
      type: 'part';
      path: string;
      mediaType: string;
      structure: string;
      headerStart: number;
      bodyStart: number;
    }
  | { type: 'body'; path: string; text: string }
  | { type: 'part-end'; path: string; end: number; size: number; lines?: number }
  | { type: 'defect'; code: string; part?: string };

/** Runs the parser over `chunks` and returns the merged plain view of its events. */
export function run(chunks: readonly (Uint8Array | string)[], options?: ParseOptions): Seen[] {
  const parser = new MimeParser(options);
  const events: MimeEvent[] = [];
  for (const chunk of chunks) events.push(...parser.push(typeof chunk === 'string' ? utf8(chunk) : chunk));
  events.push(...parser.end());
  return view(events);
}

/** The plain view of events, adjacent body pieces of a part merged. */
export function view(events: readonly MimeEvent[]): Seen[] {
  const seen: Seen[] = [];
  let pieces: Uint8Array[] = [];
  let bodyPath: string | undefined;
  const flush = () => {
    if (bodyPath !== undefined)
      seen.push({ type: 'body', path: bodyPath, text: decodeLatin1(concatBytes(pieces)) });
    bodyPath = undefined;
    pieces = [];
  };
  for (const event of events) {
    if (event.type === 'body') {
      if (bodyPath !== event.path) flush();
      bodyPath = event.path;
      pieces.push(event.data);
      continue;
    }
    flush();
    if (event.type === 'part') {
      const { path, contentType, structure, headerStart, bodyStart } = event;
      seen.push({ type: 'part', path, mediaType: contentType.mediaType, structure, headerStart, bodyStart });
    } else if (event.type === 'part-end') {
      const { type, path, end, size, lines } = event;
      seen.push(lines === undefined ? { type, path, end, size } : { type, path, end, size, lines });
    } else {
      const { code, part } = event.defect;
      seen.push(part === undefined ? { type: 'defect', code } : { type: 'defect', code, part });
    }
  }
  flush();
  return seen;
}

/** The paths and media types of the `part` events, in order: a compact view of a tree. */
export function outline(seen: readonly Seen[]): string[] {
  return seen.flatMap((event) =>
    event.type === 'part' ? [`${event.path || '(root)'} ${event.mediaType}`] : [],
  );
}

/** The body texts by path. */
export function bodies(seen: readonly Seen[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const event of seen) if (event.type === 'body') out[event.path] = (out[event.path] ?? '') + event.text;
  return out;
}

/** The defect codes, in order. */
export function defectCodes(seen: readonly Seen[]): string[] {
  return seen.flatMap((event) => (event.type === 'defect' ? [event.code] : []));
}

/** The first `part` event. */
export function firstPart(seen: readonly Seen[]): Seen | undefined {
  return seen.find((event) => event.type === 'part');
}

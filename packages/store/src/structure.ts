import { bodyStructure, envelope, type MimePart, parseMessageSync } from '@postwire/mime';
import type { MessageStructure, PartOffsets } from './types.js';

/** Parses a message once for everything FETCH needs: ENVELOPE, BODY, BODYSTRUCTURE, part offsets and header fields. */
export function describeMessage(bytes: Uint8Array): MessageStructure {
  const root = parseMessageSync(bytes, { decode: false }).parts;
  return {
    envelope: envelope(root.headers),
    bodyStructure: bodyStructure(root, bytes),
    body: bodyStructure(root, bytes, { extended: false }),
    parts: offsets(root),
    headers: root.headers.map((field) => [field.name, field.value] as const),
  };
}

function offsets(part: MimePart): PartOffsets {
  const { headerStart, bodyStart, end, structure } = part;
  if (structure === 'multipart')
    return { headerStart, bodyStart, end, structure, children: part.children.map(offsets) };
  if (part.message) return { headerStart, bodyStart, end, structure, message: offsets(part.message) };
  return { headerStart, bodyStart, end, structure };
}

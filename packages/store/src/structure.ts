import { type BodyStructure, bodyStructure, envelope, type MimePart, parseMessageSync } from '@postwire/mime';
import type { MessageStructure, PartOffsets } from './types.js';

/** Parses a message once for everything FETCH needs: ENVELOPE, BODY, BODYSTRUCTURE, part offsets and header fields. */
export function describeMessage(bytes: Uint8Array): MessageStructure {
  const root = parseMessageSync(bytes, { decode: false }).parts;
  const extended = bodyStructure(root, bytes);
  return {
    envelope: envelope(root.headers),
    bodyStructure: extended,
    body: bodyWithoutExtension(extended),
    parts: offsets(root),
    headers: root.headers.map((field) => [field.name, field.value] as const),
  };
}

/** FETCH BODY from BODYSTRUCTURE: the same tree without its `extension` data, at every level. */
export function bodyWithoutExtension(structure: BodyStructure): BodyStructure {
  if (structure.kind === 'multipart')
    return {
      kind: 'multipart',
      parts: structure.parts.map(bodyWithoutExtension),
      subtype: structure.subtype,
    };
  const { extension: _, ...fields } = structure;
  return fields.kind === 'message' ? { ...fields, body: bodyWithoutExtension(fields.body) } : fields;
}

function offsets(part: MimePart): PartOffsets {
  const { headerStart, bodyStart, end, structure } = part;
  if (structure === 'multipart')
    return { headerStart, bodyStart, end, structure, children: part.children.map(offsets) };
  if (part.message) return { headerStart, bodyStart, end, structure, message: offsets(part.message) };
  return { headerStart, bodyStart, end, structure };
}

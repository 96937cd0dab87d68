import type { Section } from '@postwire/mime';
import type { PartOffsets } from '@postwire/store';

/**
 * Where a FETCH section's content is, found from the stored part offsets without reading the message
 * (RFC 9051 §6.4.5 numbering): a byte range of the message, the fields of a header block (HEADER.FIELDS,
 * which needs that block's bytes), or nothing (no such part, or no message in it: sent as empty).
 */
export type SectionLocation =
  | { readonly kind: 'range'; readonly start: number; readonly end: number }
  | {
      readonly kind: 'fields';
      readonly start: number;
      readonly end: number;
      readonly fields: readonly string[];
      readonly exclude: boolean;
    }
  | { readonly kind: 'empty' };

const EMPTY: SectionLocation = { kind: 'empty' };

/** Locates `section` in a message whose tree of parts is `root`. */
export function locateSection(root: PartOffsets, section: Section): SectionLocation {
  const numbers = section.part;
  let part: PartOffsets | undefined = root;
  for (let i = 0; i < numbers.length && part; i++)
    part = i === 0 ? messagePart(root, numbers[i]!) : subpart(part, numbers[i]!);
  if (!part) return EMPTY;
  if (section.text === null)
    return numbers.length === 0 ? range(root.headerStart, root.end) : range(part.bodyStart, part.end);
  if (section.text === 'MIME') return range(part.headerStart, part.bodyStart);
  const message = numbers.length === 0 ? root : part.structure === 'message' ? part.message : undefined;
  if (!message) return EMPTY;
  if ('fields' in section)
    return {
      kind: 'fields',
      start: message.headerStart,
      end: message.bodyStart,
      fields: section.fields,
      exclude: section.text === 'HEADER.FIELDS.NOT',
    };
  return section.text === 'HEADER'
    ? range(message.headerStart, message.bodyStart)
    : range(message.bodyStart, message.end);
}

function messagePart(root: PartOffsets, n: number): PartOffsets | undefined {
  if (root.structure === 'multipart') return root.children?.[n - 1];
  return n === 1 ? root : undefined;
}

function subpart(part: PartOffsets, n: number): PartOffsets | undefined {
  if (part.structure === 'multipart') return part.children?.[n - 1];
  if (part.structure === 'message' && part.message) return messagePart(part.message, n);
  return undefined;
}

function range(start: number, end: number): SectionLocation {
  return { kind: 'range', start, end };
}

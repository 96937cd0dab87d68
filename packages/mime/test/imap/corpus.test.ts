import { readdirSync } from 'node:fs';
import { decodeLatin1 } from '@postwire/core';
import { describe, expect, it } from 'vitest';
import {
  type BodyStructure,
  bodyStructure,
  type MimePart,
  parseMessageSync,
  parseSection,
  resolveSection,
  type SectionContent,
} from '../../src/index.js';
import { CORPUS_DIR, corpusBytes, hasCorpus } from '../support/corpus.js';
import { bodySyntax } from './support/imap-syntax.js';

interface Numbered {
  readonly spec: string;
  readonly part: MimePart;
  readonly structure: BodyStructure;
  /** True for the root of a non-multipart message, numbered as its body (part 1). */
  readonly body: boolean;
}

/** Every part with its IMAP part number and BODYSTRUCTURE, numbered independently of `resolveSection`. */
function numberParts(root: MimePart, structure: BodyStructure): Numbered[] {
  const out: Numbered[] = [];
  const inMessage = (message: MimePart, body: BodyStructure, prefix: string): void => {
    const dot = prefix === '' ? '' : `${prefix}.`;
    if (message.structure === 'multipart' && body.kind === 'multipart') {
      for (const [i, child] of message.children.entries()) visit(child, body.parts[i]!, `${dot}${i + 1}`);
    } else visit(message, body, `${dot}1`, true);
  };
  const visit = (part: MimePart, body: BodyStructure, spec: string, isBody = false): void => {
    out.push({ spec, part, structure: body, body: isBody });
    if (part.structure === 'multipart' && body.kind === 'multipart') {
      for (const [i, child] of part.children.entries()) visit(child, body.parts[i]!, `${spec}.${i + 1}`);
    } else if (part.message && body.kind === 'message') inMessage(part.message, body.body, spec);
  };
  inMessage(root, structure, '');
  return out;
}

function slice(bytes: Uint8Array, content: SectionContent): Uint8Array | undefined {
  if (content.kind === 'range') return bytes.subarray(content.start, content.end);
  return content.kind === 'bytes' ? content.bytes : undefined;
}

const files = hasCorpus
  ? readdirSync(`${CORPUS_DIR}mime`, { recursive: true, encoding: 'utf8' }).filter((name) =>
      name.endsWith('.eml'),
    )
  : [];

describe.skipIf(!hasCorpus)('IMAP structures of the corpus messages', () => {
  it.each(files)('%s: every section equals what re-parsing its part alone gives', (file) => {
    const bytes = corpusBytes(`mime/${file}`);
    const root = parseMessageSync(bytes).parts;
    const structure = bodyStructure(root, bytes);
    const read = (spec: string) => slice(bytes, resolveSection(root, parseSection(spec)));
    const text = (data: Uint8Array | undefined) => (data === undefined ? undefined : decodeLatin1(data));

    expect(text(read(''))).toBe(decodeLatin1(bytes));
    for (const { spec, part, structure: body, body: isBody } of numberParts(root, structure)) {
      if (!isBody) expect(part.path).toBe(spec);
      const own = bytes.subarray(part.headerStart, part.end);
      const alone = parseMessageSync(own).parts;
      expect(text(read(spec)), spec).toBe(text(own.subarray(alone.bodyStart, alone.end)));
      expect(text(read(`${spec}.MIME`)), spec).toBe(text(own.subarray(0, alone.bodyStart)));
      if (body.kind !== 'multipart') expect(body.size, spec).toBe(alone.end - alone.bodyStart);
      if (body.kind === 'text') expect(body.lines, spec).toBe(alone.lines ?? 0);
      const embedded = read(spec)!;
      const message = parseMessageSync(embedded).parts;
      if (body.kind === 'message' && part.structure === 'message') {
        expect(text(read(`${spec}.HEADER`)), spec).toBe(text(embedded.subarray(0, message.bodyStart)));
        expect(text(read(`${spec}.TEXT`)), spec).toBe(text(embedded.subarray(message.bodyStart)));
        const wanted = message.headers.filter((field) => field.key === 'subject' || field.key === 'from');
        expect(text(read(`${spec}.HEADER.FIELDS (SUBJECT From)`)), spec).toBe(
          `${wanted.map((field) => `${decodeLatin1(field.raw)}\r\n`).join('')}\r\n`,
        );
        expect(bodySyntax(body.body), spec).toBe(bodySyntax(bodyStructure(message, embedded)));
      } else {
        expect(read(`${spec}.HEADER`), spec).toBeUndefined();
        expect(read(`${spec}.TEXT`), spec).toBeUndefined();
      }
    }
  });

  it('describes mimetorture.eml', () => {
    const bytes = corpusBytes('mime/postal-mime/mimetorture.eml');
    const root = parseMessageSync(bytes).parts;
    const specs = numberParts(root, bodyStructure(root, bytes)).map(({ spec, structure }) =>
      structure.kind === 'multipart'
        ? `${spec} MULTIPART/${structure.subtype}`
        : `${spec} ${structure.type}/${structure.subtype}`,
    );
    expect(specs).toHaveLength(39);
    expect(specs.slice(0, 6)).toEqual([
      '1 TEXT/PLAIN',
      '2 MESSAGE/RFC822',
      '2.1 TEXT/PLAIN',
      '3 MESSAGE/RFC822',
      '3.1 TEXT/PLAIN',
      '3.2 MESSAGE/RFC822',
    ]);
    expect(specs).toContain('10.1.1.1.2 TEXT/HTML');
    const html = resolveSection(root, parseSection('10.1.1.1.2'));
    expect(html).toEqual({ kind: 'range', start: 12568, end: 14642 });
    expect(bodySyntax(bodyStructure(root, bytes, { extended: false }))).toMatch(
      /^\(\("TEXT" "PLAIN" \("CHARSET" "US-ASCII"\) NIL NIL "8BIT" 601 16\)\("MESSAGE" "RFC822" /,
    );
  });
});

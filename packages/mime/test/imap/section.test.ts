import { decodeLatin1, InvalidArgumentError, utf8 } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyPartial,
  parseMessageSync,
  parseSection,
  partialSection,
  resolveSection,
  type SectionContent,
} from '../../src/index.js';

const outerHeader =
  'From: a@example.com\r\nSubject: outer\r\nX-Folded: one\r\n two\r\n' +
  'Content-Type: multipart/mixed; boundary=b1\r\n\r\n';
const part1Header = 'Content-Type: text/plain\r\n\r\n';
const part1Body = 'first part\r\n';
const innerHeader =
  'Subject: inner\r\nFrom: c@example.com\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n';
const inner1 = 'plain';
const inner2Header = 'Content-Type: text/html\r\n\r\n';
const inner2 = '<p>html</p>';
const innerBody = `--b2\r\n\r\n${inner1}\r\n--b2\r\n${inner2Header}${inner2}\r\n--b2--\r\n`;
const part2Header = 'Content-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n';
const part3Header = 'Content-Type: multipart/related; boundary=b3\r\n\r\n';
const part3Body = `--b3\r\nContent-Type: image/gif\r\n\r\nGIF\r\n--b3--\r\n`;
const outerBody =
  `preamble\r\n--b1\r\n${part1Header}${part1Body}\r\n--b1\r\n${part2Header}${innerHeader}${innerBody}` +
  `\r\n--b1\r\n${part3Header}${part3Body}\r\n--b1--\r\nepilogue\r\n`;
const message = outerHeader + outerBody;
const bytes = utf8(message);
const root = parseMessageSync(bytes).parts;

function contentOf(content: SectionContent): string | undefined {
  switch (content.kind) {
    case 'range':
      return decodeLatin1(bytes.subarray(content.start, content.end));
    case 'bytes':
      return decodeLatin1(content.bytes);
    case 'empty':
      return undefined;
  }
}

const fetch = (spec: string) => contentOf(resolveSection(root, parseSection(spec)));

describe('parseSection', () => {
  it('reads part numbers and section texts, keywords in any case', () => {
    expect(parseSection('')).toEqual({ part: [], text: null });
    expect(parseSection('1')).toEqual({ part: [1], text: null });
    expect(parseSection('1.2')).toEqual({ part: [1, 2], text: null });
    expect(parseSection('1.2.MIME')).toEqual({ part: [1, 2], text: 'MIME' });
    expect(parseSection('1.2.header')).toEqual({ part: [1, 2], text: 'HEADER' });
    expect(parseSection('HEADER')).toEqual({ part: [], text: 'HEADER' });
    expect(parseSection('Text')).toEqual({ part: [], text: 'TEXT' });
    expect(parseSection('1.2.TEXT')).toEqual({ part: [1, 2], text: 'TEXT' });
    expect(parseSection('4294967295')).toEqual({ part: [4294967295], text: null });
  });

  it('reads header lists of atoms and quoted strings', () => {
    expect(parseSection('HEADER.FIELDS (Subject From)')).toEqual({
      part: [],
      text: 'HEADER.FIELDS',
      fields: ['Subject', 'From'],
    });
    expect(parseSection('2.header.fields.not ("X-Odd \\"name\\"" List-ID])')).toEqual({
      part: [2],
      text: 'HEADER.FIELDS.NOT',
      fields: ['X-Odd "name"', 'List-ID]'],
    });
  });

  it('rejects what the grammar does not allow with InvalidArgumentError', () => {
    const invalid = [
      '0',
      '01',
      '1.',
      '1..2',
      '1x',
      '4294967296',
      'MIME',
      'HEADERS',
      'TEXT ',
      'HEADER.FIELDS',
      'HEADER.FIELDS ()',
      'HEADER.FIELDS Subject',
      'HEADER.FIELDS (Subject',
      'HEADER.FIELDS (Subject  From)',
      'HEADER.FIELDS (Subject) x',
      'HEADER.FIELDS (Sub{ject)',
      'HEADER.FIELDS ("unterminated)',
      'HEADER.FIELDS ("bad \\escape")',
      'HEADER.FIELDS ("line\r\nbreak")',
      'MIME (Subject)',
      'HEADER.\u017FIELDS (Subject)',
      'TEXT.MIME',
    ];
    for (const spec of invalid) expect(() => parseSection(spec), spec).toThrow(InvalidArgumentError);
  });
});

describe('resolveSection', () => {
  it('gives the whole message, its header (blank line included) and its text', () => {
    expect(fetch('')).toBe(message);
    expect(fetch('HEADER')).toBe(outerHeader);
    expect(fetch('TEXT')).toBe(outerBody);
  });

  it('gives the raw body and MIME header of each part', () => {
    expect(fetch('1')).toBe(part1Body);
    expect(fetch('1.MIME')).toBe(part1Header);
    expect(fetch('2')).toBe(innerHeader + innerBody);
    expect(fetch('2.MIME')).toBe(part2Header);
    expect(fetch('3')).toBe(part3Body);
    expect(fetch('3.1')).toBe('GIF');
    expect(fetch('3.1.MIME')).toBe('Content-Type: image/gif\r\n\r\n');
  });

  it('goes into the message of a message/rfc822 part', () => {
    expect(fetch('2.HEADER')).toBe(innerHeader);
    expect(fetch('2.TEXT')).toBe(innerBody);
    expect(fetch('2.1')).toBe(inner1);
    expect(fetch('2.1.MIME')).toBe('\r\n');
    expect(fetch('2.2')).toBe(inner2);
    expect(fetch('2.2.MIME')).toBe(inner2Header);
  });

  it('selects header fields as written, in order, ending with the blank line', () => {
    expect(fetch('HEADER.FIELDS (subject X-FOLDED)')).toBe('Subject: outer\r\nX-Folded: one\r\n two\r\n\r\n');
    expect(fetch('HEADER.FIELDS.NOT (Content-Type X-Folded)')).toBe(
      'From: a@example.com\r\nSubject: outer\r\n\r\n',
    );
    expect(fetch('HEADER.FIELDS (X-Absent)')).toBe('\r\n');
    expect(fetch('2.HEADER.FIELDS (From)')).toBe('From: c@example.com\r\n\r\n');
    expect(fetch('HEADER.FIELDS ("\u212Aey" Subject)')).toBe('Subject: outer\r\n\r\n');
  });

  it('gives nothing for a part that does not exist or holds no message', () => {
    for (const spec of ['4', '1.1', '2.3', '3.2', '3.1.1', '1.HEADER', '1.TEXT', '3.HEADER.FIELDS (From)']) {
      expect(fetch(spec), spec).toBeUndefined();
    }
    expect(resolveSection(root, { part: [], text: 'MIME' })).toEqual({ kind: 'empty' });
  });

  it('numbers the body of a non-multipart message as part 1', () => {
    const single = utf8('Subject: one\r\n\r\nbody\r\n');
    const singleRoot = parseMessageSync(single).parts;
    expect(resolveSection(singleRoot, parseSection('1'))).toEqual({ kind: 'range', start: 16, end: 22 });
    expect(resolveSection(singleRoot, parseSection('1.MIME'))).toEqual({ kind: 'range', start: 0, end: 16 });
    expect(resolveSection(singleRoot, parseSection('2'))).toEqual({ kind: 'empty' });
    expect(resolveSection(singleRoot, parseSection('1.1'))).toEqual({ kind: 'empty' });
  });

  it('numbers a top-level message/rfc822 body as part 1 and its parts as 1.1, 1.2 (as clients do from BODYSTRUCTURE)', () => {
    const text =
      'Content-Type: message/rfc822\r\n\r\nSubject: in\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n' +
      '--b\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\n';
    const data = utf8(text);
    const top = parseMessageSync(data).parts;
    const read = (spec: string) => {
      const content = resolveSection(top, parseSection(spec));
      return content.kind === 'range'
        ? decodeLatin1(data.subarray(content.start, content.end))
        : content.kind;
    };
    expect(read('1')).toBe(text.slice(32));
    expect(read('1.HEADER')).toBe('Subject: in\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n');
    expect(read('1.1')).toBe('one');
    expect(read('1.2')).toBe('two');
    expect(read('2')).toBe('empty');
  });

  it('numbers the body of a non-multipart embedded message as its part 1', () => {
    const text =
      'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n' +
      'Subject: in\r\n\r\ninner body\r\n--b--\r\n';
    const data = utf8(text);
    const top = parseMessageSync(data).parts;
    const content = resolveSection(top, parseSection('1.1'));
    expect(content.kind === 'range' && decodeLatin1(data.subarray(content.start, content.end))).toBe(
      'inner body',
    );
    expect(resolveSection(top, parseSection('1.2'))).toEqual({ kind: 'empty' });
  });
});

describe('applyPartial and partialSection', () => {
  it('cuts <offset.count> windows', () => {
    expect(applyPartial(10, 0, 4)).toEqual({ start: 0, end: 4 });
    expect(applyPartial(10, 8, 4)).toEqual({ start: 8, end: 10 });
    expect(applyPartial(10, 10, 4)).toEqual({ start: 10, end: 10 });
    expect(applyPartial(10, 50, 4)).toEqual({ start: 10, end: 10 });
    expect(applyPartial(0, 0, 0)).toEqual({ start: 0, end: 0 });
  });

  it('rejects negative and fractional numbers', () => {
    const cases: [number, number, number][] = [
      [-1, 0, 1],
      [10, -1, 1],
      [10, 0, -1],
      [10, 0.5, 1],
      [10, Number.NaN, 1],
    ];
    for (const [length, offset, count] of cases) {
      expect(() => applyPartial(length, offset, count)).toThrow(InvalidArgumentError);
    }
    expect(() => partialSection({ kind: 'empty' }, -1, 1)).toThrow(InvalidArgumentError);
  });

  it('applies a window to ranges, bytes and empty content', () => {
    const header = resolveSection(root, parseSection('HEADER'));
    expect(contentOf(partialSection(header, 6, 13))).toBe('a@example.com');
    const fields = resolveSection(root, parseSection('HEADER.FIELDS (Subject)'));
    expect(contentOf(partialSection(fields, 9, 100))).toBe('outer\r\n\r\n');
    expect(partialSection({ kind: 'empty' }, 0, 10)).toEqual({ kind: 'empty' });
  });

  it('gives the same bytes as slicing the whole content', () => {
    const whole = resolveSection(root, parseSection(''));
    fc.assert(
      fc.property(fc.nat(bytes.length + 10), fc.nat(bytes.length + 10), (offset, count) => {
        expect(contentOf(partialSection(whole, offset, count))).toBe(message.slice(offset, offset + count));
      }),
    );
  });
});

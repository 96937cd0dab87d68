import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFlowed, encodeFlowed } from '../../src/text/index.js';

describe('decodeFlowed', () => {
  it('joins flowed lines into paragraphs (RFC 3676 §4.1)', () => {
    const text =
      'This is a flowed \r\nparagraph of text.\r\nThis line is fixed.\r\n\r\nA second \r\none.\r\n';
    expect(decodeFlowed(text, { delSp: false })).toBe(
      'This is a flowed paragraph of text.\r\nThis line is fixed.\r\n\r\nA second one.\r\n',
    );
  });

  it('deletes the space of each soft break with DelSp=yes (§4.2)', () => {
    expect(decodeFlowed('日本語の \n文章です。\n', { delSp: true })).toBe('日本語の文章です。\n');
    expect(decodeFlowed('word  \nnext', { delSp: true })).toBe('word next');
  });

  it('removes space-stuffing (§4.4)', () => {
    expect(decodeFlowed(' From the start\n  indented\n >not a quote', { delSp: false })).toBe(
      'From the start\n indented\n>not a quote',
    );
  });

  it('joins quoted lines only with lines of the same depth (§4.5)', () => {
    const text = [
      '>> Deeply quoted ',
      '>> text.',
      '> Quoted text that ',
      '> flows and a flowed line ',
      '>> before another depth',
      'Reply.',
    ].join('\r\n');
    expect(decodeFlowed(text, { delSp: false })).toBe(
      [
        '>> Deeply quoted text.',
        '> Quoted text that flows and a flowed line ',
        '>> before another depth',
        'Reply.',
      ].join('\r\n'),
    );
  });

  it('keeps the quote marks as written when the first line has no space after them', () => {
    expect(decodeFlowed('>a \n>b', { delSp: false })).toBe('>a b');
  });

  it('never flows the signature separator (§4.3)', () => {
    const text = 'Thanks, \n-- \nAlice \nSmith';
    expect(decodeFlowed(text, { delSp: false })).toBe('Thanks, \n-- \nAlice Smith');
    expect(decodeFlowed('> sig \n> -- \n> x', { delSp: true })).toBe('> sig \n> -- \n> x');
  });

  it('keeps a flowed last line as it is', () => {
    expect(decodeFlowed('end ', { delSp: true })).toBe('end ');
    expect(decodeFlowed('', { delSp: false })).toBe('');
  });
});

describe('encodeFlowed', () => {
  it('wraps long lines at spaces, ending each soft-broken line with a space', () => {
    const words = Array.from({ length: 30 }, (_, i) => `word${i}`).join(' ');
    const encoded = encodeFlowed(words, { width: 40 });
    const lines = encoded.split('\n');
    for (const line of lines.slice(0, -1)) {
      expect(line.endsWith(' ')).toBe(true);
      expect(line.length).toBeLessThanOrEqual(40);
    }
    expect(lines.length).toBeGreaterThan(4);
    expect(decodeFlowed(encoded, { delSp: false })).toBe(words);
  });

  it('keeps a word longer than the width whole, unless DelSp', () => {
    const long = `short ${'x'.repeat(100)} end`;
    expect(encodeFlowed(long, { width: 20 })).toBe(`short \n${'x'.repeat(100)} \nend`);
    const cut = encodeFlowed(long, { width: 20, delSp: true });
    for (const line of cut.split('\n')) expect(line.length).toBeLessThanOrEqual(20);
    expect(decodeFlowed(cut, { delSp: true })).toBe(long);
  });

  it('stuffs lines that start with a space or From, and trims trailing spaces', () => {
    expect(encodeFlowed('From here\r\n  indented\r\ntrailing   \r\n')).toBe(
      ' From here\r\n   indented\r\ntrailing\r\n',
    );
  });

  it('keeps the quote marks on every line of a quoted paragraph', () => {
    const quoted = `> ${'quoted words '.repeat(10).trim()}`;
    const encoded = encodeFlowed(quoted, { width: 30 });
    for (const line of encoded.split('\n')) expect(line.startsWith('> ')).toBe(true);
    expect(decodeFlowed(encoded, { delSp: false })).toBe(quoted);
  });

  it('keeps the signature separator and never ends a piece on one', () => {
    expect(encodeFlowed('-- \nAlice')).toBe('-- \nAlice');
    const tricky = `-- ${'y'.repeat(30)}`;
    expect(decodeFlowed(encodeFlowed(tricky, { width: 10 }), { delSp: false })).toBe(tricky);
    expect(
      decodeFlowed(encodeFlowed(`--${'y'.repeat(30)}`, { width: 4, delSp: true }), { delSp: true }),
    ).toBe(`--${'y'.repeat(30)}`);
  });

  it('refuses a width that is not a positive integer', () => {
    expect(() => encodeFlowed('x', { width: 0 })).toThrow(/width/);
  });

  it('is undone by decodeFlowed for text without trailing spaces', () => {
    const line = fc
      .array(
        fc.oneof(
          fc.constantFrom(' ', '  ', '>', '> ', 'From ', '-- ', '--', '😀', 'x'),
          fc.string({ maxLength: 12 }),
        ),
        {
          maxLength: 12,
        },
      )
      .map((parts) =>
        parts
          .join('')
          .replace(/[\r\n]/g, '')
          .replace(/ +$/, ''),
      );
    const text = fc
      .tuple(fc.array(line, { minLength: 1, maxLength: 8 }), fc.constantFrom('\n', '\r\n'), fc.boolean())
      .map(([lines, lineBreak, finalBreak]) => lines.join(lineBreak) + (finalBreak ? lineBreak : ''));
    fc.assert(
      fc.property(text, fc.integer({ min: 4, max: 80 }), fc.boolean(), (input, width, delSp) => {
        expect(decodeFlowed(encodeFlowed(input, { width, delSp }), { delSp })).toBe(input);
      }),
      { numRuns: 500 },
    );
  });
});

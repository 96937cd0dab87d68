import { InvalidArgumentError } from '@postwire/core';
import { describe, expect, it } from 'vitest';
import { FOLD_WIDTH, foldField, MAX_LINE_LENGTH } from '../../src/composer/fold.js';
import { encodeEncodedWords } from '../../src/header/encoded-word.js';

const unfold = (field: string) => field.replace(/\r\n(?=[ \t])/g, '');

/** RFC 5322 §2.2.3: CRLF line ends, no line over 998, no continuation line of white space alone. */
function expectWellFolded(field: string, name: string, value: string): string[] {
  expect(field.endsWith('\r\n')).toBe(true);
  expect(unfold(field)).toBe(`${name}: ${value}\r\n`);
  const lines = field.slice(0, -2).split('\r\n');
  for (const [index, line] of lines.entries()) {
    expect(line.length).toBeLessThanOrEqual(MAX_LINE_LENGTH);
    if (index > 0) expect(line).toMatch(/^[ \t]+[^ \t]/);
  }
  return lines;
}

describe('foldField', () => {
  it('keeps a short field on one line', () => {
    expect(foldField('Subject', 'Hello')).toBe('Subject: Hello\r\n');
  });

  it('never writes a continuation line of white space alone (regression)', () => {
    for (const value of [
      `a${' '.repeat(200)}b`,
      `${'a'.repeat(70)}${' '.repeat(100)}`,
      `x ${'\t '.repeat(90)}y`,
    ]) {
      expectWellFolded(foldField('Subject', value), 'Subject', value);
    }
  });

  it('never folds inside a quoted string (regression)', () => {
    const value = '"Very Long Display Name With Many Words In It, Surely Over The Limit" <x@y.z>, b@c.d';
    const lines = expectWellFolded(foldField('To', value), 'To', value);
    expect(
      lines.some((line) =>
        line.includes('"Very Long Display Name With Many Words In It, Surely Over The Limit"'),
      ),
    ).toBe(true);
    const parameter =
      'attachment; filename*0="a very long file name with spaces that goes on and on"; filename*1=" and on.txt"';
    for (const line of expectWellFolded(
      foldField('Content-Disposition', parameter),
      'Content-Disposition',
      parameter,
    )) {
      expect((line.match(/"/g) ?? []).length % 2).toBe(0);
    }
  });

  it('folds inside a quoted string only when the line would otherwise pass 998 characters', () => {
    const value = `"${'word '.repeat(300)}end"`;
    const lines = expectWellFolded(foldField('To', value), 'To', value);
    expect(lines.length).toBeGreaterThan(1);
  });

  it('treats an unbalanced quote as text, so it does not stop folding', () => {
    const value = `He said "${'word '.repeat(40)}done`;
    for (const line of expectWellFolded(foldField('Subject', value), 'Subject', value)) {
      expect(line.length).toBeLessThanOrEqual(FOLD_WIDTH);
    }
  });

  it('never folds inside an encoded word', () => {
    const value = encodeEncodedWords('Grüße '.repeat(30));
    for (const line of expectWellFolded(foldField('Subject', value), 'Subject', value)) {
      for (const word of line
        .trim()
        .replace(/^Subject: /, '')
        .split(' '))
        expect(word).toMatch(/^=\?utf-8\?[BQ]\?[^?\s]*\?=$/);
    }
  });

  it('refuses a value with a line break or control character itself (case 30, defence in depth)', () => {
    for (const value of ['a\r\nBcc: x@y', 'a\nb', 'a\rb', 'a\u0000b']) {
      expect(() => foldField('X-Note', value)).toThrow(InvalidArgumentError);
    }
  });

  it('refuses a word longer than the hard limit', () => {
    expect(() => foldField('Subject', 'x'.repeat(1_200))).toThrow(InvalidArgumentError);
  });

  it('folds a long value in linear time', () => {
    const value = 'ab '.repeat(200_000);
    expectWellFolded(foldField('X-Long', value.trim()), 'X-Long', value.trim());
  });
});

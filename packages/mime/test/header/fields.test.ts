import { describe, expect, it } from 'vitest';
import { parseCommaList } from '../../src/header/list.js';
import { parseMessageId, parseMessageIds } from '../../src/header/message-id.js';
import { decodeUnstructured, parseUnstructured } from '../../src/header/unstructured.js';

describe('decodeUnstructured', () => {
  it('collapses each fold with its surrounding whitespace, keeps other whitespace, trims', () => {
    expect(decodeUnstructured(' Re:  two  spaces \r\n\t folded\r\n ')).toBe('Re:  two  spaces folded');
    expect(decodeUnstructured('a\rb\nc')).toBe('a b c');
    expect(decodeUnstructured('\u00a0kept\u00a0')).toBe('\u00a0kept\u00a0');
  });

  it('case 39: a Subject that decodes to CR LF is flagged and cannot inject a header', () => {
    expect(parseUnstructured('=?utf-8?q?a=0D=0ABcc:_x?=')).toEqual({
      text: 'a\uFFFD\uFFFDBcc: x',
      defects: ['control-characters'],
    });
    expect(parseUnstructured('=?utf-8?q?a?= =?utf-8?q?b?=', { maxEncodedWords: 1 })).toEqual({
      text: 'a =?utf-8?q?b?=',
      defects: ['limit-maxEncodedWords'],
    });
  });

  it('runs in linear time over long whitespace runs', () => {
    expect(decodeUnstructured(`a${' '.repeat(1_000_000)}b`)).toHaveLength(1_000_002);
    expect(decodeUnstructured(`a${' \r\n'.repeat(300_000)}b`)).toBe('a b');
  });
});

describe('parseCommaList', () => {
  it('splits outside quoted strings and comments', () => {
    expect(parseCommaList('"a, b", c (d, e), , =?utf-8?q?f=2C_g?=')).toEqual(['a, b', 'c (d, e)', 'f, g']);
    expect(parseCommaList('')).toEqual([]);
    expect(parseCommaList(',,,')).toEqual([]);
  });
});

describe('parseMessageIds', () => {
  it('reads bracketed ids, skipping comments, commas and phrases', () => {
    expect(parseMessageIds('<a@b> (comment) ,<c@d>\r\n <e@f>')).toEqual(['a@b', 'c@d', 'e@f']);
    expect(parseMessageIds('Your message of "Mon, 1 Jul" <a@b>')).toEqual(['a@b']);
    expect(parseMessageIds('<a@\r\n b>')).toEqual(['a@ b']);
    expect(parseMessageIds('<>')).toEqual([]);
    expect(parseMessageIds('<unterminated@x')).toEqual(['unterminated@x']);
    expect(parseMessageIds('> stray@x >')).toEqual(['stray@x']);
  });

  it('bare ids when there is no bracketed one', () => {
    expect(parseMessageIds(' a@b c@d ')).toEqual(['a@b', 'c@d']);
    expect(parseMessageId('<first@x> <second@x>')).toBe('first@x');
    expect(parseMessageId('  ')).toBeUndefined();
  });

  it('runs in linear time on hostile input', () => {
    expect(parseMessageIds('<'.repeat(1_000_000))).toHaveLength(1);
    expect(parseMessageIds('<a>'.repeat(300_000))).toHaveLength(300_000);
  });
});

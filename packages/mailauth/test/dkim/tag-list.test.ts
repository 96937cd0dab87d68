import { InvalidArgumentError } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatTagList, parseTagList } from '../../src/dkim/tag-list.js';

const tagsOf = (text: string) => {
  const parsed = parseTagList(text);
  if (!parsed.ok) throw new Error(parsed.reason);
  return [...parsed.tags];
};
const reasonOf = (text: string) => {
  const parsed = parseTagList(text);
  return parsed.ok ? undefined : parsed.reason;
};

describe('parseTagList', () => {
  it('reads tags in order, with folding space around names, "=" and values', () => {
    expect(tagsOf('v=1; a=rsa-sha256;d=example.net')).toEqual([
      ['v', '1'],
      ['a', 'rsa-sha256'],
      ['d', 'example.net'],
    ]);
    expect(tagsOf(' a = 1 ;\r\n\tb_2\t=\r\n x ;')).toEqual([
      ['a', '1'],
      ['b_2', 'x'],
    ]);
    expect(tagsOf('k=v; ')).toEqual([['k', 'v']]);
  });

  it('keeps white space and folding inside a value, and allows empty values', () => {
    expect(tagsOf('b=abc \r\n def  g; p=')).toEqual([
      ['b', 'abc \r\n def  g'],
      ['p', ''],
    ]);
    expect(tagsOf('p= ;')).toEqual([['p', '']]);
  });

  it('refuses what the ABNF does not allow, with a reason', () => {
    expect(reasonOf('')).toBe('empty tag list');
    expect(reasonOf('  ')).toBe('empty tag list');
    expect(reasonOf('a=1;;b=2')).toBe('empty tag');
    expect(reasonOf(';')).toBe('empty tag');
    expect(reasonOf('1a=x')).toBe('invalid tag name');
    expect(reasonOf('a-b=x')).toBe('missing "=" after tag "a"');
    expect(reasonOf('a')).toBe('missing "=" after tag "a"');
    expect(reasonOf('a=1; a=2')).toBe('duplicate tag "a"');
    expect(reasonOf('a=caf\u00e9')).toBe('invalid character in tag "a"');
    expect(reasonOf('a=x\u0001')).toBe('invalid character in tag "a"');
    expect(reasonOf('a=x\r\ny')).toBe('line break not followed by white space');
    expect(reasonOf('a=x\ny')).toBe('line break not followed by white space');
    expect(reasonOf('a=x;\r\n')).toBe('line break not followed by white space');
    expect(reasonOf('a\r\n=x')).toBe('line break not followed by white space');
    expect(reasonOf('a=\rx')).toBe('line break not followed by white space');
  });

  it('treats tag names as case-sensitive', () => {
    expect(tagsOf('a=1; A=2')).toEqual([
      ['a', '1'],
      ['A', '2'],
    ]);
  });
});

describe('formatTagList', () => {
  it('joins tags with "; "', () => {
    expect(
      formatTagList([
        ['v', '1'],
        ['b', ''],
      ]),
    ).toBe('v=1; b=');
    expect(formatTagList(new Map([['h', 'from : to']]))).toBe('h=from : to');
  });

  it('refuses names and values that would not read back', () => {
    expect(() => formatTagList([])).toThrow(InvalidArgumentError);
    expect(() => formatTagList([['1x', 'a']])).toThrow(InvalidArgumentError);
    expect(() => formatTagList([['a', 'x;y']])).toThrow(InvalidArgumentError);
    expect(() => formatTagList([['a', ' x']])).toThrow(InvalidArgumentError);
    expect(() => formatTagList([['a', 'x\r\ny']])).toThrow(InvalidArgumentError);
  });

  it('reads back what it writes', () => {
    const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,5}$/);
    const word = fc.stringMatching(/^[\x21-\x3a\x3c-\x7e]{1,8}$/);
    const space = fc.constantFrom(' ', '\t', '\r\n ', ' \r\n\t  ');
    const value = fc.oneof(
      fc.constant(''),
      fc
        .tuple(word, fc.array(fc.tuple(space, word), { maxLength: 3 }))
        .map(([first, rest]) => first + rest.map(([gap, next]) => gap + next).join('')),
    );
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(name, value), { minLength: 1, selector: ([n]) => n }), (tags) => {
        const parsed = parseTagList(formatTagList(tags));
        expect(parsed).toEqual({ ok: true, tags: new Map(tags) });
      }),
    );
  });
});

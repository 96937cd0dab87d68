import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readBodyParameters } from '../../src/index.js';

describe('readBodyParameters', () => {
  it('upper-cases names and keeps values as written, quoted strings unquoted', () => {
    expect(readBodyParameters('text/plain; charset=UTF-8; Format="flowed"; x="a \\"b\\" c"')).toEqual([
      ['CHARSET', 'UTF-8'],
      ['FORMAT', 'flowed'],
      ['X', 'a "b" c'],
    ]);
  });

  it('skips the media type however it is spaced, and the disposition type', () => {
    expect(readBodyParameters(' text (c) / plain (c) ; a=1')).toEqual([['A', '1']]);
    expect(readBodyParameters('attachment; filename="x.pdf"')).toEqual([['FILENAME', 'x.pdf']]);
    expect(readBodyParameters('text/plain')).toEqual([]);
  });

  it('does not decode encoded words, and keeps spaced encoded words together as the parser does', () => {
    expect(readBodyParameters('application/pdf; name==?utf-8?B?w6k=?= =?utf-8?B?w6k=?=.pdf; x=1')).toEqual([
      ['NAME', '=?utf-8?B?w6k=?= =?utf-8?B?w6k=?=.pdf'],
      ['X', '1'],
    ]);
  });

  it('joins RFC 2231 continuations (RFC 2231 §3 asks it of IMAP servers)', () => {
    expect(readBodyParameters('application/x; name*1="b.txt"; name*0="a"')).toEqual([['NAME', 'ab.txt']]);
    expect(readBodyParameters("application/x; name*0*=utf-8''%C3%A9; name*1*=%C3%A9.txt")).toEqual([
      ['NAME*', "utf-8''%C3%A9%C3%A9.txt"],
    ]);
    expect(readBodyParameters("application/x; name*=utf-8'en'%C3%A9")).toEqual([
      ['NAME*', "utf-8'en'%C3%A9"],
    ]);
  });

  it('escapes % in plain sections joined with extended ones, with an empty charset when section 0 is plain', () => {
    expect(readBodyParameters('application/x; name*0="100%"; name*1*=%C3%A9')).toEqual([
      ['NAME*', "''100%25%C3%A9"],
    ]);
  });

  it('keeps sections one by one when a number is missing or repeated', () => {
    expect(readBodyParameters('application/x; name*0=a; name*2=c')).toEqual([
      ['NAME*0', 'a'],
      ['NAME*2', 'c'],
    ]);
    expect(readBodyParameters('application/x; name*0=a; name*0=b')).toEqual([
      ['NAME*0', 'a'],
      ['NAME*0', 'b'],
    ]);
  });

  it('keeps a malformed star name as written', () => {
    expect(readBodyParameters('application/x; *=a; n*x=b; n*01=c')).toEqual([
      ['*', 'a'],
      ['N*X', 'b'],
      ['N*01', 'c'],
    ]);
  });

  it('skips what is no parameter, like the Content-Type parser', () => {
    expect(readBodyParameters('text/plain; junk; a=; ="x"; b="" ; (c) c=3 d=4;;')).toEqual([
      ['B', ''],
      ['C', '3'],
      ['D', '4'],
    ]);
    expect(readBodyParameters('text/plain; bad "quoted;x" (comment;y); e=5')).toEqual([['E', '5']]);
  });

  it('reads at most maxParameters parameters', () => {
    const value = `text/plain${'; a=1'.repeat(10)}`;
    expect(readBodyParameters(value, 3)).toHaveLength(3);
    expect(readBodyParameters(`text/plain${'; a=1'.repeat(200)}`)).toHaveLength(128);
  });

  it('never throws and runs in linear time', () => {
    fc.assert(
      fc.property(
        fc.string({
          unit: fc.constantFrom(';', '=', '"', '\\', '(', ')', '*', '0', '1', 'a', ' ', '%', "'"),
        }),
        (value) => {
          for (const [name, text] of readBodyParameters(`text/plain; ${value}`)) {
            expect(name).toBe(name.toUpperCase());
            expect(typeof text).toBe('string');
          }
        },
      ),
    );
    const hostile = `text/plain; ${'a*0=('.repeat(50_000)}`;
    readBodyParameters(hostile);
  });
});

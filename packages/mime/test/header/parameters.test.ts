import { InvalidArgumentError } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseContentDisposition, parseContentType } from '../../src/header/content-type.js';
import { formatParameter, parseParameterizedValue } from '../../src/header/parameters.js';

const parse = (field: string, options?: Parameters<typeof parseParameterizedValue>[1]) =>
  parseParameterizedValue(field, options);

describe('parseParameterizedValue', () => {
  it('reads RFC 2045 parameters with comments, quoted strings and folding', () => {
    expect(parse(' text/plain (note) ; Charset = "utf-8" (x) ;\r\n\tformat=flowed')).toEqual({
      value: 'text/plain',
      parameters: { charset: 'utf-8', format: 'flowed' },
      languages: {},
      defects: [],
    });
    expect(parse('a/b; name="with \\"quotes\\" and \\\\"').parameters).toEqual({
      name: 'with "quotes" and \\',
    });
    expect(parse('a/b; name="unterminated').parameters).toEqual({ name: 'unterminated' });
    expect(parse('a/b; name=""').parameters).toEqual({ name: '' });
  });

  it('keeps a backslash before a letter or digit, as in an unescaped Windows path', () => {
    expect(parse('attachment; filename="C:\\path\\f.txt"').parameters).toEqual({
      filename: 'C:\\path\\f.txt',
    });
    expect(parse('attachment; filename="\\\\server\\share\\a\\b.doc"').parameters).toEqual({
      filename: '\\server\\share\\a\\b.doc',
    });
    expect(parse('a/b; name="x\\;y \\(z\\) \\\\w \\= \\/ \\\' \\-"').parameters).toEqual({
      name: "x;y (z) \\w = / ' -",
    });
  });

  it('reports what it skipped', () => {
    expect(parse('a/b; novalue; =x; y=; ok=1').defects).toEqual(['invalid-parameter']);
    expect(parse('a/b; "junk;" ; ok=1').parameters).toEqual({ ok: '1' });
    expect(parse('a/b x=1 y=2')).toMatchObject({
      parameters: { x: '1', y: '2' },
      defects: ['missing-semicolon'],
    });
  });

  it('keeps parameter names off the prototype chain', () => {
    const { parameters } = parse('a/b; __proto__=x; constructor=y');
    expect(Object.getPrototypeOf(parameters)).toBeNull();
    expect(Object.getOwnPropertyDescriptor(parameters, '__proto__')?.value).toBe('x');
    expect(parameters.constructor).toBe('y');
    expect(parse('a/b').parameters.constructor).toBeUndefined();
  });

  it('RFC 2231: charset, language and continuations', () => {
    expect(parse("a/b; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A")).toMatchObject({
      parameters: { title: 'This is ***fun***' },
      languages: { title: 'en-us' },
    });
    expect(parse("a/b; name*=utf-8''%E2%82%AC%20rate.pdf").parameters).toEqual({ name: '€ rate.pdf' });
    expect(parse("a/b; name*0*=utf-8''%E2%82; name*1*=%AC").parameters).toEqual({ name: '€' });
    expect(parse('a/b; name*0*=iso-8859-1\'\'caf%E9; name*1=" au lait"').parameters).toEqual({
      name: 'café au lait',
    });
    expect(parse("a/b; name*=x-unknown''caf%C3%A9").parameters).toEqual({ name: 'café' });
    expect(parse("a/b; name*=''plain%20text").parameters).toEqual({ name: 'plain text' });
    expect(parse('a/b; name*=no-quote%20here')).toMatchObject({
      parameters: { name: 'no-quote here' },
      defects: ['invalid-parameter'],
    });
    expect(parse("a/b; name*=utf-8'fr").parameters).toEqual({ name: 'fr' });
  });

  it('RFC 2047 words inside parameter values are decoded', () => {
    expect(parse('a/b; filename="=?utf-8?B?w6kucGRm?="').parameters).toEqual({ filename: 'é.pdf' });
    expect(parse('a/b; filename==?utf-8?q?a?= =?utf-8?q?b?=.txt').parameters).toEqual({ filename: 'ab.txt' });
    expect(parse("a/b; filename*=utf-8''%3D%3Futf-8%3Fq%3Fa%3F%3D").parameters).toEqual({
      filename: '=?utf-8?q?a?=',
    });
  });

  it('case 37: boundary*0 / boundary*1 are joined deterministically', () => {
    expect(parse('multipart/mixed; boundary*0="abc"; boundary*1="def"')).toMatchObject({
      parameters: { boundary: 'abcdef' },
      defects: [],
    });
  });

  it('case 37: a duplicate boundary keeps the first and is flagged ambiguous', () => {
    expect(parse('multipart/mixed; boundary=a; boundary=b')).toMatchObject({
      parameters: { boundary: 'a' },
      defects: ['duplicate-parameter', 'ambiguous-boundary'],
    });
    expect(parse('multipart/mixed; boundary=a; boundary*0=b; boundary*1=c')).toMatchObject({
      parameters: { boundary: 'bc' },
      defects: ['ambiguous-parameter', 'ambiguous-boundary'],
    });
  });

  it('case 37: an encoded-word boundary is kept as written and flagged', () => {
    expect(parse('multipart/mixed; boundary="=?utf-8?q?abc?="')).toMatchObject({
      parameters: { boundary: '=?utf-8?q?abc?=' },
      defects: ['encoded-word-boundary'],
    });
  });

  it('case 37: a boundary over maxBoundaryLength is flagged (the parser makes the part opaque)', () => {
    const long = 'b'.repeat(2049);
    expect(parse(`multipart/mixed; boundary="${long}"`)).toMatchObject({
      parameters: { boundary: long },
      defects: ['limit-maxBoundaryLength'],
    });
    expect(parse('multipart/mixed; boundary=abcdef', { maxBoundaryLength: 4 }).defects).toEqual([
      'limit-maxBoundaryLength',
    ]);
  });

  it('case 38: the RFC 2231 form wins over the plain one', () => {
    expect(parse('a/b; filename="a.txt"; filename*0="evil."; filename*1="exe"')).toMatchObject({
      parameters: { filename: 'evil.exe' },
      defects: ['ambiguous-parameter'],
    });
    expect(parse('a/b; filename*0="evil."; filename*1="exe"; filename="a.txt"').parameters).toEqual({
      filename: 'evil.exe',
    });
  });

  it('case 38: gaps stop the continuation; without section 0 the plain value stands', () => {
    expect(parse('a/b; name*0=a; name*1=b; name*3=d')).toMatchObject({
      parameters: { name: 'ab' },
      defects: ['parameter-continuation-gap'],
    });
    expect(parse('a/b; name=plain; name*1=x')).toMatchObject({
      parameters: { name: 'plain' },
      defects: ['parameter-continuation-gap'],
    });
    expect(parse('a/b; name*1=x').parameters).toEqual({});
  });

  it('case 38: duplicates keep the first', () => {
    expect(parse('a/b; name=one; NAME=two')).toMatchObject({
      parameters: { name: 'one' },
      defects: ['duplicate-parameter'],
    });
    expect(parse('a/b; name*0=a; name*0=x; name*1=b').parameters).toEqual({ name: 'ab' });
  });

  it('case 38: *99999999 and malformed section numbers join nothing', () => {
    expect(parse('a/b; name*0=a; name*99999999=z')).toMatchObject({
      parameters: { name: 'a' },
      defects: ['parameter-continuation-gap'],
    });
    expect(parse('a/b; name*0=a; name*9999999999=z; name*01=q; name**=w; *=v')).toMatchObject({
      parameters: { name: 'a' },
      defects: ['invalid-parameter'],
    });
  });

  it('case 38: 10k parameters stop at maxParameters (128), in linear time', () => {
    const field = `a/b${Array.from({ length: 10_000 }, (_, i) => `; p${i}=v${i}`).join('')}`;
    const result = parse(field);
    expect(Object.keys(result.parameters)).toHaveLength(128);
    expect(result.parameters.p127).toBe('v127');
    expect(result.defects).toEqual(['limit-maxParameters']);
    const sections = `a/b${Array.from({ length: 10_000 }, (_, i) => `; name*${i}=x`).join('')}`;
    expect(parse(sections).parameters.name).toBe('x'.repeat(128));
    expect(parse(field, { maxParameters: 3 }).parameters).toEqual({ p0: 'v0', p1: 'v1', p2: 'v2' });
  });

  it('one-pass over hostile text', () => {
    for (const field of [
      ';'.repeat(1_000_000),
      `a/b; x="${'\\'.repeat(1_000_000)}`,
      `a/b; x=${'('.repeat(100_000)}`,
      `a/b; ${'x'.repeat(1_000_000)}`,
      `a/b; x=${'=?a?q?b?= '.repeat(50_000)}`,
    ]) {
      expect(parse(field).value).toBeDefined();
    }
  });
});

describe('parseContentType', () => {
  it('lower-cases the media type and keeps the parameters', () => {
    expect(parseContentType('Text/HTML; Charset="UTF-8"')).toEqual({
      type: 'text',
      subtype: 'html',
      mediaType: 'text/html',
      parameters: { charset: 'UTF-8' },
      defects: [],
    });
  });

  it('a missing field is text/plain; charset=us-ascii without a defect (RFC 2045 §5.2)', () => {
    expect(parseContentType(undefined)).toEqual({
      type: 'text',
      subtype: 'plain',
      mediaType: 'text/plain',
      parameters: { charset: 'us-ascii' },
      defects: [],
    });
  });

  it.each(['', 'text', 'text/', '/plain', 'text/plain/extra', 'tëxt/plain', '; charset=utf-8'])(
    'garbage %j defaults to text/plain with a defect',
    (value) => {
      const result = parseContentType(value);
      expect(result.mediaType).toBe('text/plain');
      expect(result.defects).toContain('invalid-content-type');
    },
  );

  it('keeps a declared charset when the media type is garbage', () => {
    expect(parseContentType('text; charset=utf-8').parameters).toEqual({ charset: 'utf-8' });
  });

  it('passes the limits on', () => {
    expect(parseContentType('multipart/mixed; boundary=abcdef', { maxBoundaryLength: 3 }).defects).toEqual([
      'limit-maxBoundaryLength',
    ]);
  });
});

describe('parseContentDisposition', () => {
  it('reads the disposition type and filename', () => {
    expect(parseContentDisposition('Attachment; filename="r\u00e9sum\u00e9.pdf"; size=12')).toEqual({
      type: 'attachment',
      parameters: { filename: 'résumé.pdf', size: '12' },
      defects: [],
    });
    expect(parseContentDisposition('inline').type).toBe('inline');
    expect(parseContentDisposition('form-data; name=x').type).toBe('form-data');
  });

  it('a missing type reads as attachment (RFC 2183 §2.8) with a defect', () => {
    expect(parseContentDisposition('; filename=x.pdf')).toEqual({
      type: 'attachment',
      parameters: { filename: 'x.pdf' },
      defects: ['invalid-content-disposition'],
    });
  });
});

describe('formatParameter', () => {
  it.each([
    ['charset', 'utf-8', 'charset=utf-8'],
    ['filename', 'my file.txt', 'filename="my file.txt"'],
    ['filename', 'a"b\\c', 'filename="a\\"b\\\\c"'],
    ['filename', '', 'filename=""'],
    ['filename', '€ rate.pdf', "filename*=utf-8''%E2%82%AC%20rate.pdf"],
    ['filename', '=?utf-8?q?x?=', "filename*=utf-8''%3D%3Futf-8%3Fq%3Fx%3F%3D"],
  ])('%s=%j → %s', (name, value, expected) => {
    expect(formatParameter(name, value)).toBe(expected);
  });

  it('splits long values into RFC 2231 sections that fit 78 columns', () => {
    const ascii = formatParameter('filename', `${'long name '.repeat(20)}.txt`);
    expect(ascii.startsWith('filename*0="long name')).toBe(true);
    const unicode = formatParameter('filename', `${'Ünïcödé 😀 '.repeat(10)}.pdf`);
    expect(unicode.startsWith("filename*0*=utf-8''%C3%9Cn")).toBe(true);
    for (const formatted of [ascii, unicode]) {
      const sections = formatted.split('; ');
      expect(sections.length).toBeGreaterThan(2);
      for (const section of sections) expect(` ${section};`.length).toBeLessThanOrEqual(78);
    }
  });

  it('case 30: throws on control characters instead of writing CR or LF', () => {
    for (const value of ['a\r\nContent-Type: text/html', 'a\nb', 'a\rb', 'nul\0', 'tab\t', 'del\x7f']) {
      expect(() => formatParameter('filename', value)).toThrow(InvalidArgumentError);
    }
  });

  it('throws on names that are not tokens', () => {
    for (const name of ['', 'a b', 'a*', 'a=b', 'é', "a'b", 'a%b', 'a\r\n']) {
      expect(() => formatParameter(name, 'x')).toThrow(InvalidArgumentError);
    }
  });

  it('format then parse is the identity (property)', () => {
    const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.-]{0,20}$/);
    const value = fc
      .oneof(fc.string({ unit: 'grapheme', maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 100 }))
      .filter((text) => !/[\x00-\x1f\x7f]/.test(text));
    fc.assert(
      fc.property(name, value, (parameterName, text) => {
        const formatted = formatParameter(parameterName, text);
        expect(formatted).not.toMatch(/[\r\n]/);
        const parsed = parseParameterizedValue(`application/octet-stream; ${formatted}`);
        expect(parsed.parameters[parameterName.toLowerCase()]).toBe(text);
        expect(parsed.defects).toEqual([]);
      }),
      { numRuns: 3000 },
    );
  });
});

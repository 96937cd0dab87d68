import { utf8 } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MimeParser } from '../../src/parser/stream.js';
import { bodies, defectCodes, firstPart, outline, run, splitAt } from './events.js';

const crlf = (text: string) => text.replace(/\n/g, '\r\n');

const mixed = crlf(`From: a@example.com
Content-Type: multipart/mixed; boundary="b1"

preamble
--b1
Content-Type: text/plain

hello
--b1
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

aGVsbG8g
d29ybGQ=
--b1--
epilogue
`);

describe('MimeParser', () => {
  it('reads a single-part message', () => {
    const seen = run(['Subject: x\r\n\r\nhello\r\n']);
    expect(seen).toEqual([
      { type: 'part', path: '', mediaType: 'text/plain', structure: 'leaf', headerStart: 0, bodyStart: 14 },
      { type: 'body', path: '', text: 'hello\r\n' },
      { type: 'part-end', path: '', end: 21, size: 7, lines: 1 },
    ]);
  });

  it('reads an empty input as an empty root part', () => {
    expect(run([])).toEqual([
      { type: 'part', path: '', mediaType: 'text/plain', structure: 'leaf', headerStart: 0, bodyStart: 0 },
      { type: 'part-end', path: '', end: 0, size: 0, lines: 0 },
    ]);
  });

  it('splits a multipart: the line ending before a delimiter belongs to it, bodies are decoded', () => {
    const seen = run([mixed]);
    expect(outline(seen)).toEqual(['(root) multipart/mixed', '1 text/plain', '2 application/octet-stream']);
    expect(bodies(seen)).toEqual({ '1': 'hello', '2': 'hello world' });
    const one = mixed.indexOf('hello');
    expect(seen).toContainEqual({ type: 'part-end', path: '1', end: one + 5, size: 5, lines: 1 });
    const bodyStart = mixed.indexOf('\r\n\r\n') + 4;
    expect(seen.at(-1)).toEqual({
      type: 'part-end',
      path: '',
      end: mixed.length,
      size: mixed.length - bodyStart,
    });
    expect(defectCodes(seen)).toEqual([]);
  });

  it('gives raw bodies with decode: false', () => {
    expect(bodies(run([mixed], { decode: false }))['2']).toBe('aGVsbG8g\r\nd29ybGQ=');
  });

  it('reads bare-LF messages', () => {
    const seen = run([mixed.replace(/\r\n/g, '\n')]);
    expect(outline(seen)).toEqual(['(root) multipart/mixed', '1 text/plain', '2 application/octet-stream']);
    expect(bodies(seen)).toEqual({ '1': 'hello', '2': 'hello world' });
  });

  it('accepts a delimiter right after the header block, and a part with an empty body', () => {
    const seen = run([crlf('Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--b\nX: 1\n--b--')]);
    expect(outline(seen)).toEqual(['(root) multipart/mixed', '1 text/plain', '2 text/plain']);
    expect(seen.filter((event) => event.type === 'part-end').map((event) => event.path)).toEqual([
      '1',
      '2',
      '',
    ]);
    expect(bodies(seen)).toEqual({});
  });

  it('numbers nested parts and embedded messages as IMAP sections (RFC 3501 §6.4.5)', () => {
    const message = crlf(`Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: text/plain

one
--outer
Content-Type: message/rfc822

Subject: inner
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain

plain
--inner
Content-Type: text/html

<p>html</p>
--inner--
--outer
Content-Type: message/rfc822

Subject: simple

just text
--outer
Content-Type: multipart/mixed; boundary=deep

--deep
Content-Type: image/gif

GIF
--deep--
--outer--
`);
    const seen = run([message]);
    expect(outline(seen)).toEqual([
      '(root) multipart/mixed',
      '1 text/plain',
      '2 message/rfc822',
      '2 multipart/alternative',
      '2.1 text/plain',
      '2.2 text/html',
      '3 message/rfc822',
      '3 text/plain',
      '4 multipart/mixed',
      '4.1 image/gif',
    ]);
    expect(bodies(seen)).toEqual({
      '1': 'one',
      '2.1': 'plain',
      '2.2': '<p>html</p>',
      '3': 'just text',
      '4.1': 'GIF',
    });
    expect(defectCodes(seen)).toEqual([]);
  });

  it('gives a multipart/digest part message/rfc822 by default', () => {
    const seen = run([
      crlf('Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: a\n\nbody\n--d--\n'),
    ]);
    expect(outline(seen)).toEqual(['(root) multipart/digest', '1 message/rfc822', '1 text/plain']);
  });

  it('keeps an encoded message/rfc822 as an opaque leaf', () => {
    const seen = run([
      crlf('Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeA0KDQpib2R5\n'),
    ]);
    expect(firstPart(seen)).toMatchObject({ structure: 'leaf' });
    expect(bodies(seen)['']).toBe('Subject: x\r\n\r\nbody');
  });

  it('flags a multipart without a boundary and reads it as a leaf', () => {
    const seen = run(['Content-Type: multipart/mixed\r\n\r\n--x\r\nbody']);
    expect(firstPart(seen)).toMatchObject({ structure: 'leaf' });
    expect(defectCodes(seen)).toContain('missing-boundary');
  });

  it('flags an encoded multipart and still splits it', () => {
    const seen = run([
      crlf('Content-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: base64\n\n--b\n\nx\n--b--'),
    ]);
    expect(outline(seen)).toEqual(['(root) multipart/mixed', '1 text/plain']);
    expect(defectCodes(seen)).toEqual(['encoded-multipart']);
  });

  it('flags a missing close delimiter and a multipart with no delimiter', () => {
    const open = run([crlf('Content-Type: multipart/mixed; boundary=b\n\n--b\n\ntext\n')]);
    expect(bodies(open)).toEqual({ '1': 'text\r\n' });
    expect(defectCodes(open)).toEqual(['missing-end-boundary']);
    const empty = run([crlf('Content-Type: multipart/mixed; boundary=b\n\nno parts here\n')]);
    expect(defectCodes(empty)).toEqual(['no-parts', 'missing-end-boundary']);
  });

  it('closes inner parts at an outer delimiter', () => {
    const seen = run([
      crlf(`Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: multipart/alternative; boundary=inner

--inner

a
--outer

b
--outer--`),
    ]);
    expect(outline(seen)).toEqual([
      '(root) multipart/mixed',
      '1 multipart/alternative',
      '1.1 text/plain',
      '2 text/plain',
    ]);
    expect(bodies(seen)).toEqual({ '1.1': 'a', '2': 'b' });
    expect(seen).toContainEqual({ type: 'defect', code: 'missing-end-boundary', part: '1' });
  });

  it('reads a part with no header and no blank line as body', () => {
    const seen = run([
      crlf('Content-Type: multipart/mixed; boundary=b\n\n--b\nhello\n--b\nX-Only: 1\n--b--'),
    ]);
    expect(bodies(seen)).toEqual({ '1': 'hello' });
    expect(seen).toContainEqual({ type: 'defect', code: 'missing-header-separator', part: '1' });
  });

  it('reads the body of a top-level message without header', () => {
    const seen = run(['just a line\nand another\n']);
    expect(bodies(seen)).toEqual({ '': 'just a line\nand another\n' });
  });

  it('takes the rest of an oversized header block as body (maxHeadersSize)', () => {
    const seen = run([`A: 1\r\nB: ${'x'.repeat(100)}\r\n\r\nbody`], { limits: { maxHeadersSize: 50 } });
    expect(firstPart(seen)).toMatchObject({ bodyStart: 6 });
    expect(defectCodes(seen)).toContain('limit-maxHeadersSize');
    const one = run([`A: ${'x'.repeat(100)}\r\n\r\nbody`], { limits: { maxHeadersSize: 50 } });
    expect(firstPart(one)).toMatchObject({ bodyStart: 50 });
  });

  it('case 41: a long header line arriving in small chunks is searched once, in linear time', () => {
    // The header scan used to search the unfinished line again from its start on every push.
    const bytes = utf8(`Subject: ${'a'.repeat(2_000_000)}\r\n\r\nbody`);
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += 64) chunks.push(bytes.subarray(i, i + 64));
    const seen = run(chunks);
    expect(seen).toEqual(run([bytes]));
    expect(bodies(seen)).toEqual({ '': 'body' });
  });

  describe('case 37: boundary tricks', () => {
    const message = (boundary: string, line: string) =>
      crlf(
        `Content-Type: multipart/mixed; boundary="${boundary}"\n\n--${boundary}\n\none\n${line}\n\ntwo\n--${boundary}--\n`,
      );

    it('`--ab` does not match boundary `a`', () => {
      const seen = run([message('a', '--ab')]);
      expect(bodies(seen)).toEqual({ '1': 'one\r\n--ab\r\n\r\ntwo' });
    });

    it('`--a ` with trailing whitespace matches, flagged', () => {
      const seen = run([message('a', '--a \t')]);
      expect(bodies(seen)).toEqual({ '1': 'one', '2': 'two' });
      expect(defectCodes(seen)).toEqual(['boundary-padding']);
    });

    it('a boundary parameter that ends in whitespace still splits, flagged', () => {
      // Delimiter lines are matched without their padding, so `boundary="a "` used to match no line at all.
      const seen = run([message('a ', '--a ')]);
      // `message` writes the close delimiter as `--a --`: the boundary, its space, then `--`.
      expect(bodies(seen)).toEqual({ '1': 'one', '2': 'two' });
      expect(defectCodes(seen)).toEqual(['boundary-whitespace', 'boundary-padding', 'boundary-padding']);
      const blank = run([crlf('Content-Type: multipart/mixed; boundary=" "\n\n-- \n\nx\n')]);
      expect(firstPart(blank)).toMatchObject({ mediaType: 'multipart/mixed', structure: 'leaf' });
      expect(defectCodes(blank)).toEqual(['boundary-whitespace']);
      // For a boundary without whitespace, `--a --` stays ordinary text.
      expect(bodies(run([message('a', '--a --')]))).toEqual({ '1': 'one\r\n--a --\r\n\r\ntwo' });
    });

    it('`--a--x` is not a close delimiter', () => {
      const seen = run([message('a', '--a--x')]);
      expect(bodies(seen)).toEqual({ '1': 'one\r\n--a--x\r\n\r\ntwo' });
    });

    it('a child reusing its parent boundary: the innermost multipart owns it, flagged', () => {
      const seen = run([
        crlf(`Content-Type: multipart/mixed; boundary=a

--a
Content-Type: multipart/alternative; boundary=a

--a

inner one
--a

inner two
--a--
--a

outer two
--a--
`),
      ]);
      expect(outline(seen)).toEqual([
        '(root) multipart/mixed',
        '1 multipart/alternative',
        '1.1 text/plain',
        '1.2 text/plain',
        '2 text/plain',
      ]);
      expect(bodies(seen)).toEqual({ '1.1': 'inner one', '1.2': 'inner two', '2': 'outer two' });
      expect(defectCodes(seen)).toEqual(['ambiguous-boundary']);
    });

    it('a child boundary that prefixes its parent one: exact matching keeps them apart, flagged', () => {
      const seen = run([
        crlf(`Content-Type: multipart/mixed; boundary=ab

--ab
Content-Type: multipart/alternative; boundary=a

--a

x
--ab

y
--ab--
`),
      ]);
      expect(bodies(seen)).toEqual({ '1.1': 'x', '2': 'y' });
      expect(defectCodes(seen)).toEqual(['ambiguous-boundary', 'missing-end-boundary']);
    });

    it('`boundary*0=`/`*1=` continuations, a duplicate parameter and an encoded-word boundary', () => {
      const split = (header: string, line: string) =>
        run([crlf(`Content-Type: multipart/mixed; ${header}\n\n${line}\n\none\n${line}--\n`)]);
      const continued = split('boundary*0="ab"; boundary*1="cd"', '--abcd');
      expect(bodies(continued)).toEqual({ '1': 'one' });
      const duplicate = split('boundary="first"; boundary="second"', '--first');
      expect(bodies(duplicate)).toEqual({ '1': 'one' });
      expect(defectCodes(duplicate)).toContain('ambiguous-boundary');
      const encoded = split('boundary="=?utf-8?Q?x?="', '--=?utf-8?Q?x?=');
      expect(bodies(encoded)).toEqual({ '1': 'one' });
      expect(defectCodes(encoded)).toContain('encoded-word-boundary');
    });

    it('a boundary over maxBoundaryLength makes the part opaque', () => {
      const boundary = 'b'.repeat(3000);
      const seen = run([message(boundary, '')]);
      expect(firstPart(seen)).toMatchObject({ structure: 'leaf' });
      expect(defectCodes(seen)).toContain('limit-maxBoundaryLength');
    });
  });

  describe('case 36: nesting and part limits', () => {
    it('10k nested multiparts stop at maxDepth, the rest kept opaque', () => {
      const depth = 10_000;
      const open: string[] = [];
      const close: string[] = [];
      for (let i = 0; i < depth; i++) {
        open.push(`Content-Type: multipart/mixed; boundary=b${i}x\r\n\r\n--b${i}x\r\n`);
        close.push(`\r\n--b${i}x--`);
      }
      const input = `${open.join('')}\r\nleaf${close.reverse().join('')}`;
      const seen = run([input]);
      const parts = seen.filter((event) => event.type === 'part');
      expect(parts).toHaveLength(101);
      expect(parts.at(-1)).toMatchObject({ structure: 'leaf', mediaType: 'multipart/mixed' });
      expect(defectCodes(seen)).toEqual(['limit-maxDepth']);
    });

    it('1M empty parts stop at maxParts, later delimiters read as body', () => {
      const input = `Content-Type: multipart/mixed; boundary=b\r\n\r\n${'--b\r\n\r\n'.repeat(1_000_000)}--b--\r\n`;
      const seen = run([input]);
      expect(seen.filter((event) => event.type === 'part')).toHaveLength(10_000);
      expect(defectCodes(seen)).toEqual(['limit-maxParts']);
      expect(bodies(seen)['9999']).toHaveLength(7 * (1_000_000 - 9_999) - 2);
    });

    it('message/rfc822 nesting counts toward maxDepth', () => {
      const input = `${'Content-Type: message/rfc822\r\n\r\n'.repeat(5)}body`;
      const seen = run([input], { limits: { maxDepth: 3 } });
      expect(seen.filter((event) => event.type === 'part')).toHaveLength(4);
      expect(defectCodes(seen)).toEqual(['limit-maxDepth']);
    });
  });

  it('returns nothing after end, and ignores empty chunks', () => {
    const parser = new MimeParser();
    expect(parser.push(new Uint8Array(0))).toEqual([]);
    parser.push(utf8('A: 1\r\n\r\nx'));
    expect(parser.end().length).toBeGreaterThan(0);
    expect(parser.end()).toEqual([]);
    expect(parser.push(utf8('more'))).toEqual([]);
  });

  const samples = [
    mixed,
    mixed.replace(/\r\n/g, '\n'),
    crlf(
      'Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: message/rfc822\n\nSubject: s\nContent-Type: multipart/alternative; boundary=b\n\n--b\nContent-Transfer-Encoding: quoted-printable\n\nq=3Dp=\n-x\n--b--\n--a \n\n--b\n--a--\ntail',
    ),
    'Content-Type: multipart/mixed; boundary=x\n\n--x\r\n\r\n-\r\n--\r\n--x-\r\n--x\r\r\n--x--',
    'A: 1\r\nB:\r\n 2\r\n',
  ];

  it('property: any chunking gives the same events', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...samples),
        fc.array(fc.nat({ max: 400 }), { maxLength: 12 }),
        fc.boolean(),
        (sample, cuts, decode) => {
          const bytes = utf8(sample);
          expect(run(splitAt(bytes, cuts), { decode })).toEqual(run([bytes], { decode }));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: byte-by-byte feeding gives the same events', () => {
    for (const sample of samples) {
      const bytes = utf8(sample);
      const single = Array.from(bytes, (byte) => Uint8Array.of(byte));
      expect(run(single)).toEqual(run([bytes]));
    }
  });

  it('property: arbitrary multipart soup parses without exceptions, identically in chunks', () => {
    const line = fc.constantFrom(
      '--a',
      '--a--',
      '--b',
      '--b--',
      '--ab',
      '',
      'x',
      'Content-Type: multipart/mixed; boundary=b',
      'Content-Type: message/rfc822',
      'A: 1',
      ' folded',
      '-',
      '--a  ',
    );
    const eol = fc.constantFrom('\r\n', '\n', '\r');
    fc.assert(
      fc.property(
        fc.array(fc.tuple(line, eol), { maxLength: 30 }),
        fc.array(fc.nat({ max: 300 })),
        (lines, cuts) => {
          const text = `Content-Type: multipart/mixed; boundary=a\r\n\r\n${lines.map(([l, e]) => l + e).join('')}`;
          const bytes = utf8(text);
          const whole = run([bytes]);
          expect(run(splitAt(bytes, cuts))).toEqual(whole);
          const ends = whole.filter((event) => event.type === 'part-end');
          expect(ends).toHaveLength(whole.filter((event) => event.type === 'part').length);
          for (const end of ends) expect(end.end).toBeLessThanOrEqual(bytes.length);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('a close delimiter followed at once by the enclosing delimiter', () => {
  const message = crlf(`Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: multipart/related; boundary="inner"

--inner
Content-Type: text/plain

x
--inner--
--outer--
`);

  it('leaves the CRLF to the enclosing delimiter, so the inner multipart ends right after --inner--', () => {
    const parser = new MimeParser();
    const events = [...parser.push(utf8(message)), ...parser.end()];
    const inner = events.find((event) => event.type === 'part-end' && event.path === '1');
    const end = message.indexOf('--inner--') + '--inner--'.length;
    expect(inner).toMatchObject({ end });
    const innerStart = events.find((event) => event.type === 'part' && event.path === '1');
    expect(
      innerStart?.type === 'part' && message.slice(innerStart.bodyStart, end).endsWith('x\r\n--inner--'),
    ).toBe(true);
  });

  it('gives the same offsets for any chunking', () => {
    const bytes = utf8(message);
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(run([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(run([bytes]));
    }
  });
});

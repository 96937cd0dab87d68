import { decodeLatin1 } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeQuotedPrintableBody,
  QuotedPrintableDecoder,
  QuotedPrintableEncoder,
  type QuotedPrintableEncoderOptions,
} from '../../src/transfer/quoted-printable.js';
import { bytewise, cuts, latin1, run, splitAt } from './chunking.js';

function decode(input: Uint8Array | string, chunks?: (bytes: Uint8Array) => Uint8Array[]) {
  const bytes = typeof input === 'string' ? latin1(input) : input;
  const decoder = new QuotedPrintableDecoder();
  const out = run(decoder, (d, chunk) => d.decode(chunk), chunks ? chunks(bytes) : [bytes]);
  return { text: decodeLatin1(out), defects: [...decoder.defects] };
}

function encode(
  input: Uint8Array | string,
  options?: QuotedPrintableEncoderOptions,
  fractions: number[] = [],
) {
  const bytes = typeof input === 'string' ? latin1(input) : input;
  return decodeLatin1(
    run(new QuotedPrintableEncoder(options), (e, chunk) => e.encode(chunk), splitAt(bytes, fractions)),
  );
}

/** Text rich in what matters to quoted-printable: `=`, hex digits, white space and line breaks. */
const trickyText = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '=',
        '=\r\n',
        '=\n',
        '= \r\n',
        ' ',
        '\t',
        '\r',
        '\n',
        '\r\n',
        '=4',
        '=41',
        '=a',
        'F',
        'x',
        '.',
        'a run longer than eight bytes',
        ' '.repeat(500),
      ),
      fc.string({ maxLength: 4 }),
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join('').replace(/[^\x00-\xff]/g, '\xe9'));

/** The longest run of white space a line break removes; a longer one is content. */
const MAX_REMOVED_SPACE = 998;

/** The decoding rules line by line with regular expressions: an oracle for the streaming decoder. */
function referenceDecode(text: string): string {
  const hexEscapes = (line: string) =>
    line.replace(/=([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
  const trimmed = (line: string) => {
    const space = /[ \t]+$/.exec(line)?.[0].length ?? 0;
    return space <= MAX_REMOVED_SPACE ? line.slice(0, line.length - space) : line;
  };
  /** The line without a final `=` (and the white space and CR after it), or undefined if it has none. */
  const softBroken = (line: string) => {
    const match = /=([ \t]*)\r?$/.exec(line);
    return match && match[1]!.length <= MAX_REMOVED_SPACE ? line.slice(0, match.index) : undefined;
  };
  const lines = text.split('\n');
  const last = lines.pop()!;
  let out = '';
  for (const line of lines) {
    const soft = softBroken(line);
    if (soft !== undefined) {
      out += hexEscapes(soft);
      continue;
    }
    const cr = line.endsWith('\r');
    out += `${hexEscapes(trimmed(cr ? line.slice(0, -1) : line))}${cr ? '\r' : ''}\n`;
  }
  // The last line has no break: a final `=` (with white space or a CR after it) goes; a CR is content.
  const dangling = softBroken(last);
  if (dangling !== undefined) return out + hexEscapes(dangling);
  return out + hexEscapes(last.endsWith('\r') ? last : trimmed(last));
}

describe('QuotedPrintableDecoder', () => {
  it('decodes the soft line breaks and escapes of RFC 2045 §6.7', () => {
    const encoded = "Now's the time =\r\nfor all folk to come=\r\n to the aid of their country.";
    expect(decode(encoded)).toEqual({
      text: "Now's the time for all folk to come to the aid of their country.",
      defects: [],
    });
    expect(decode('a=3Db=0D=0Ac=E9')).toEqual({ text: 'a=b\r\nc\xe9', defects: [] });
  });

  it('accepts lower-case hex and soft breaks before a bare LF', () => {
    expect(decode('caf=c3=a9=\nau lait')).toEqual({ text: 'caf\xc3\xa9au lait', defects: [] });
  });

  it('removes white space at the end of a line and of the body, but not before a soft break', () => {
    expect(decode('one  \t\r\ntwo \nthree =\r\nfour \t')).toEqual({
      text: 'one\r\ntwo\nthree four',
      defects: [],
    });
    expect(decode('a =20\r\n')).toEqual({ text: 'a  \r\n', defects: [] });
  });

  it('keeps hard line breaks as written', () => {
    expect(decode('a\r\nb\nc\rd\r')).toEqual({ text: 'a\r\nb\nc\rd\r', defects: [] });
  });

  it('keeps invalid escapes as written, with a defect', () => {
    expect(decode('=FJ and =4 and ==41 and =\rx')).toEqual({
      text: '=FJ and =4 and =A and =\rx',
      defects: ['invalid-quoted-printable'],
    });
    expect(decode('= x')).toEqual({ text: '= x', defects: ['invalid-quoted-printable'] });
    expect(decode('a= x', bytewise)).toEqual({ text: 'a= x', defects: ['invalid-quoted-printable'] });
    expect(decode('= \rx')).toEqual({ text: '= \rx', defects: ['invalid-quoted-printable'] });
    expect(decode('=A')).toEqual({ text: '=A', defects: ['invalid-quoted-printable'] });
  });

  it('takes white space between = and the line break as a soft break, with a defect', () => {
    for (const chunks of [undefined, bytewise]) {
      expect(decode('foo= \t\r\nbar= \nbaz', chunks)).toEqual({
        text: 'foobarbaz',
        defects: ['qp-soft-break-with-space'],
      });
    }
  });

  it('drops a final =, with a defect', () => {
    for (const body of ['foo=', 'foo=\r', 'foo= \t', 'foo= \r']) {
      expect(decode(body)).toEqual({ text: 'foo', defects: ['qp-dangling-equals'] });
    }
  });

  it('tolerates lines over 76 characters, with a defect', () => {
    expect(decode(`${'a'.repeat(76)}\r\n${'b'.repeat(76)}`)).toMatchObject({ defects: [] });
    expect(decode(`${'a'.repeat(77)}\r\nb`)).toEqual({
      text: `${'a'.repeat(77)}\r\nb`,
      defects: ['qp-line-too-long'],
    });
    expect(decode('b'.repeat(77)).defects).toEqual(['qp-line-too-long']);
    expect(decode(`${'c'.repeat(75)}=\r\n`, bytewise).defects).toEqual([]);
    expect(decode(`${'c'.repeat(76)}=\r\n`, bytewise).defects).toEqual(['qp-line-too-long']);
  });

  it('settles an escape, a soft break or trailing space cut at a chunk edge', () => {
    const encoded = 'a=3\r\nb=41 c= \r\nd  \r\ne=\r\nf   \r';
    expect(decode(encoded, bytewise)).toEqual(decode(encoded));
    expect(decode(encoded).text).toBe('a=3\r\nbA cd\r\nef   \r');
  });

  it('keeps a run of white space too long to remove, across many chunks, in linear time', () => {
    const spaces = ' '.repeat(200_000);
    const bytes = latin1(`x${spaces}\r\ny${spaces}z`);
    const chunks = (b: Uint8Array) =>
      splitAt(
        b,
        Array.from({ length: 2_000 }, (_, i) => i / 2_000),
      );
    expect(decode(bytes, chunks).text).toBe(`x${spaces}\r\ny${spaces}z`);
  });

  it('costs no more per chunk than the chunk itself while a run of white space is held (linear time)', () => {
    // Regression: every chunk allocated room for all the bytes held so far, quadratic in small chunks.
    const spaces = ' '.repeat(2_000_000);
    const bytes = latin1(`x${spaces}y=41 =`);
    const decoder = new QuotedPrintableDecoder();
    const out: string[] = [];
    for (let i = 0; i < bytes.length; i += 16) {
      out.push(decodeLatin1(decoder.decode(bytes.subarray(i, i + 16))));
    }
    out.push(decodeLatin1(decoder.end()));
    // Compared as a boolean: a failing diff of two 2 MB strings would take minutes.
    expect(out.join('') === `x${spaces}yA `).toBe(true);
    expect(decoder.defects).toEqual(['qp-dangling-equals', 'qp-line-too-long']);
  });

  it('is ready for another body after end()', () => {
    const decoder = new QuotedPrintableDecoder();
    decoder.decode(latin1('a=4'));
    expect(decodeLatin1(decoder.end())).toBe('=4');
    expect(decodeLatin1(decoder.decode(latin1('b=42')))).toBe('bB');
  });

  it('decodes as the line-by-line rules say, whole or a byte at a time', () => {
    fc.assert(
      fc.property(trickyText, (text) => {
        expect(decode(text).text).toBe(referenceDecode(text));
        expect(decode(text, bytewise).text).toBe(referenceDecode(text));
      }),
      { numRuns: 1000 },
    );
  });

  it('holds back no more than 998 bytes of a run of white space, however long the run', () => {
    const decoder = new QuotedPrintableDecoder();
    let fed = 0;
    let written = 0;
    for (let i = 0; i < 1000; i++) {
      fed += 1000;
      written += decoder.decode(latin1(' \t'.repeat(500))).length;
      expect(fed - written).toBeLessThanOrEqual(998);
    }
    written += decoder.decode(latin1('x\n')).length;
    expect(written).toBe(1_000_002);
    expect(decoder.end().length).toBe(0);
  });

  it('counts the line feeds of the encoded input, for any chunking', () => {
    fc.assert(
      fc.property(trickyText, cuts, (text, fractions) => {
        const decoder = new QuotedPrintableDecoder();
        for (const chunk of splitAt(latin1(text), fractions)) decoder.decode(chunk);
        expect(decoder.lineFeeds).toBe(text.split('\n').length - 1);
        decoder.end();
        expect(decoder.lineFeeds).toBe(0);
      }),
    );
  });

  it('gives the same bytes and defects for any chunking, never more bytes than it reads', () => {
    fc.assert(
      fc.property(trickyText, cuts, (text, fractions) => {
        const whole = decode(text);
        expect(decode(text, (b) => splitAt(b, fractions))).toEqual(whole);
        expect(whole.text.length).toBeLessThanOrEqual(text.length);
      }),
      { numRuns: 500 },
    );
  });
});

describe('QuotedPrintableEncoder', () => {
  it('encodes =, control characters and 8-bit bytes, and keeps printable ASCII', () => {
    expect(encode('a=b\x00\x7f\xe9~ ok')).toBe('a=3Db=00=7F=E9~ ok');
  });

  it('writes line breaks as CRLF hard breaks in text mode', () => {
    expect(encode('a\r\nb\nc\rd\r\n')).toBe('a\r\nb\r\nc\r\nd\r\n');
  });

  it('encodes CR and LF in binary mode', () => {
    expect(encode('a\r\nb', { binary: true })).toBe('a=0D=0Ab');
  });

  it('encodes white space before a line break and at the end', () => {
    expect(encode('a \r\nb\t\nc  ')).toBe('a=20\r\nb=09\r\nc =20');
    expect(encode('a ', { binary: true })).toBe('a=20');
    expect(encode('a \r\n', { binary: true })).toBe('a =0D=0A');
  });

  it('encodes a dot or F that starts a line', () => {
    expect(encode('.\r\nFrom me\r\nx.F')).toBe('=2E\r\n=46rom me\r\nx.F');
  });

  it('breaks long lines softly at 76 characters, never inside an escape', () => {
    const encoded = encode(`${'a'.repeat(74)}\xe9${'b'.repeat(100)}`);
    const lines = encoded.split('\r\n');
    expect(lines[0]).toBe(`${'a'.repeat(74)}=`);
    expect(lines[1]!.startsWith('=E9')).toBe(true);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(76);
    expect(decode(encoded).text).toBe(`${'a'.repeat(74)}\xe9${'b'.repeat(100)}`);
  });

  it('encodes a dot moved to the start of a line by a soft break', () => {
    expect(encode(`${'a'.repeat(75)}.`)).toBe(`${'a'.repeat(75)}=\r\n=2E`);
  });

  it('decides about a space or CR at a chunk edge from the next chunk', () => {
    const text = 'a \r\nb c\r\n\r\nd ';
    for (let cut = 0; cut <= text.length; cut++) {
      expect(encode(text, {}, [cut / text.length])).toBe(encode(text));
    }
    const encoder = new QuotedPrintableEncoder();
    expect(decodeLatin1(encoder.encode(latin1('x ')))).toBe('x');
    expect(decodeLatin1(encoder.encode(new Uint8Array(0)))).toBe('');
    expect(decodeLatin1(encoder.end(latin1('y')))).toBe(' y');
  });

  it('writes lines of at most 76 printable ASCII characters and CRLF', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), fc.boolean(), cuts, (bytes, binary, fractions) => {
        const encoded = encode(bytes, { binary }, fractions);
        expect(encoded).toMatch(/^[\x20-\x7e]*(\r\n[\x20-\x7e]*)*$/);
        for (const line of encoded.split('\r\n')) {
          expect(line.length).toBeLessThanOrEqual(76);
          expect(line).not.toMatch(/[ \t]$|^\.|^F/);
        }
      }),
    );
  });

  it('gives the same text for any chunking', () => {
    fc.assert(
      fc.property(trickyText, fc.boolean(), cuts, (text, binary, fractions) => {
        expect(encode(text, { binary }, fractions)).toBe(encode(text, { binary }));
      }),
    );
  });

  it('round-trips any bytes in binary mode under any chunking of both sides', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 500 }), cuts, cuts, (bytes, encodeCuts, decodeCuts) => {
        const encoded = latin1(encode(bytes, { binary: true }, encodeCuts));
        const decoded = decode(encoded, (b) => splitAt(b, decodeCuts));
        expect(decoded).toEqual({ text: decodeLatin1(bytes), defects: [] });
      }),
    );
  });

  it('round-trips CRLF text in text mode under any chunking of both sides', () => {
    const crlfText = fc
      .array(
        fc.oneof(
          fc.constantFrom('\r\n', ' ', '\t', '=', '.', 'From ', '\r\n.\r\n'),
          fc.string({ maxLength: 90 }),
        ),
        {
          maxLength: 20,
        },
      )
      .map((parts) =>
        parts
          .join('')
          .replace(/\r\n|\r|\n/g, '\r\n')
          .replace(/[^\x00-\xff]/g, '\xfe'),
      );
    fc.assert(
      fc.property(crlfText, cuts, cuts, (text, encodeCuts, decodeCuts) => {
        const encoded = latin1(encode(text, {}, encodeCuts));
        expect(decode(encoded, (b) => splitAt(b, decodeCuts))).toEqual({ text, defects: [] });
      }),
    );
  });

  it('encodes a whole body in one call', () => {
    expect(decodeLatin1(encodeQuotedPrintableBody(latin1('caf\xe9 \r\n'), {}))).toBe('caf=E9=20\r\n');
    expect(decodeLatin1(encodeQuotedPrintableBody(latin1('\r\n'), { binary: true }))).toBe('=0D=0A');
  });
});

import { decodeLatin1 } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Base64Decoder, Base64Encoder, encodeBase64Body } from '../../src/transfer/base64.js';
import { bytewise, cuts, latin1, run, splitAt } from './chunking.js';

function decode(input: Uint8Array | string, chunks?: (bytes: Uint8Array) => Uint8Array[]) {
  const bytes = typeof input === 'string' ? latin1(input) : input;
  const decoder = new Base64Decoder();
  const out = run(decoder, (d, chunk) => d.decode(chunk), chunks ? chunks(bytes) : [bytes]);
  return { text: decodeLatin1(out), bytes: out, defects: [...decoder.defects] };
}

function encode(bytes: Uint8Array, chunks: Uint8Array[] = [bytes], lineLength?: number): Uint8Array {
  return run(new Base64Encoder({ lineLength }), (e, chunk) => e.encode(chunk), chunks);
}

/** Base64 text with CRLF, spaces and tabs sprinkled in, as a decoder must skip them. */
const spacedBase64 = fc
  .tuple(
    fc.uint8Array({ maxLength: 300 }),
    fc.array(fc.constantFrom('\r\n', ' ', '\t', '\n'), { maxLength: 8 }),
    cuts,
  )
  .map(([bytes, spaces, fractions]) => {
    const clean = Buffer.from(bytes).toString('base64');
    const pieces = splitAt(latin1(clean), fractions).map((piece) => decodeLatin1(piece));
    return { bytes, text: pieces.map((piece, i) => piece + (spaces[i] ?? '')).join('') };
  });

describe('Base64Decoder', () => {
  it('decodes the RFC 4648 test vectors', () => {
    const vectors = {
      '': '',
      Zg: 'f',
      'Zg==': 'f',
      'Zm8=': 'fo',
      Zm9v: 'foo',
      'Zm9vYg==': 'foob',
      'Zm9vYmE=': 'fooba',
    };
    for (const [encoded, decoded] of Object.entries(vectors)) {
      expect(decode(encoded).text).toBe(decoded);
    }
    expect(decode('Zm9vYmFy')).toEqual({ text: 'foobar', bytes: latin1('foobar'), defects: [] });
  });

  it('skips line breaks and white space without a defect', () => {
    expect(decode('Zm9v\r\nYm Fy\tZm\n9v\r\n')).toMatchObject({ text: 'foobarfoo', defects: [] });
    expect(decode('Zm9v\nYmFy\n')).toMatchObject({ text: 'foobar', defects: [] });
  });

  it('skips characters outside the alphabet, with a defect', () => {
    expect(decode('Zm9v!Ym*Fy')).toMatchObject({ text: 'foobar', defects: ['invalid-base64'] });
  });

  it('decodes what an unpadded end holds, and drops a lone sextet', () => {
    expect(decode('Zm9vYg')).toMatchObject({ text: 'foob', defects: ['base64-missing-padding'] });
    expect(decode('Zm9vYmE')).toMatchObject({ text: 'fooba', defects: ['base64-missing-padding'] });
    expect(decode('Zm9vY')).toMatchObject({ text: 'foo', defects: ['base64-truncated'] });
    expect(decode('Zm9vY=')).toMatchObject({ text: 'foo', defects: ['base64-truncated'] });
  });

  it('goes on decoding after padding in mid-stream', () => {
    expect(decode('aGVsbA==bG8=')).toMatchObject({ text: 'helllo', defects: ['base64-data-after-padding'] });
    expect(decode('aGVs=bG8=')).toMatchObject({
      text: 'hello',
      defects: ['base64-misplaced-padding', 'base64-data-after-padding'],
    });
    expect(decode('Zg==\r\n')).toMatchObject({ text: 'f', defects: [] });
    expect(decode('Zg===')).toMatchObject({ text: 'f', defects: [] });
  });

  it('records each defect once', () => {
    expect(decode('!!!!Zm9v????').defects).toEqual(['invalid-base64']);
  });

  it('is ready for another body after end()', () => {
    const decoder = new Base64Decoder();
    decoder.decode(latin1('Zm9vY'));
    expect(decoder.end()).toEqual(new Uint8Array(0));
    expect(decodeLatin1(decoder.decode(latin1('Zm9v')))).toBe('foo');
  });

  it('decodes a body split one byte at a time', () => {
    const encoded = latin1(`${'QUJD'.repeat(40)}\r\nZm9vYg==`);
    expect(decode(encoded, bytewise).text).toBe(`${'ABC'.repeat(40)}foob`);
  });

  it('decodes a chunk at any offset into its buffer', () => {
    const buffer = latin1('xZm9vYmFy\r\nZm9v');
    expect(decode(buffer.subarray(1)).text).toBe('foobarfoo');
  });

  it('agrees with Buffer.from for valid base64 with white space', () => {
    fc.assert(
      fc.property(spacedBase64, ({ bytes, text }) => {
        const result = decode(text);
        expect(result.bytes).toEqual(new Uint8Array(Buffer.from(text, 'base64')));
        expect(result.bytes).toEqual(bytes);
        expect(result.defects).toEqual([]);
      }),
    );
  });

  it('gives the same bytes and defects for any chunking of any input', () => {
    const noisy = fc
      .array(
        fc.oneof(
          fc.constantFrom('=', '==', '\r\n', '!', ' ', 'Zm9v', 'Y', 'YQ'),
          fc.string({ maxLength: 5 }),
        ),
        {
          maxLength: 30,
        },
      )
      .map((parts) => latin1(parts.join('').replace(/[^\x00-\xff]/g, '?')));
    fc.assert(
      fc.property(noisy, cuts, (bytes, fractions) => {
        const whole = decode(bytes);
        expect(decode(bytes, (b) => splitAt(b, fractions))).toEqual(whole);
        expect(whole.bytes.length).toBeLessThanOrEqual(Math.ceil((bytes.length * 3) / 4));
      }),
    );
  });
});

describe('Base64Encoder', () => {
  it('writes lines of 76 characters separated by CRLF, without a final line break', () => {
    const bytes = new Uint8Array(200).map((_, i) => i);
    const text = decodeLatin1(encodeBase64Body(bytes));
    const lines = text.split('\r\n');
    expect(lines.map((line) => line.length)).toEqual([76, 76, 76, 40]);
    expect(lines.join('')).toBe(Buffer.from(bytes).toString('base64'));
  });

  it('writes no line break after a body that fills its last line', () => {
    expect(decodeLatin1(encodeBase64Body(new Uint8Array(57)))).toBe('A'.repeat(76));
    expect(decodeLatin1(encodeBase64Body(new Uint8Array(58)))).toBe(`${'A'.repeat(76)}\r\nAA==`);
  });

  it('pads the last quantum', () => {
    expect(decodeLatin1(encodeBase64Body(latin1('f')))).toBe('Zg==');
    expect(decodeLatin1(encodeBase64Body(latin1('fo')))).toBe('Zm8=');
    expect(decodeLatin1(encodeBase64Body(latin1('foo')))).toBe('Zm9v');
    expect(encodeBase64Body(new Uint8Array(0))).toEqual(new Uint8Array(0));
  });

  it('takes another line length, or none', () => {
    expect(decodeLatin1(encode(latin1('foobarfoo'), undefined, 8))).toBe('Zm9vYmFy\r\nZm9v');
    expect(decodeLatin1(encode(new Uint8Array(300), undefined, 0))).toBe('A'.repeat(400));
  });

  it('refuses a line length that is not a multiple of 4', () => {
    for (const lineLength of [-4, 3, 77, 1.5]) {
      expect(() => new Base64Encoder({ lineLength })).toThrow(/multiple of 4/);
    }
  });

  it('starts a new line for a quantum completed across chunks', () => {
    const encoder = new Base64Encoder({ lineLength: 4 });
    expect(decodeLatin1(encoder.encode(latin1('foob')))).toBe('Zm9v');
    expect(decodeLatin1(encoder.encode(latin1('ar')))).toBe('\r\nYmFy');
    expect(decodeLatin1(encoder.end(latin1('x')))).toBe('\r\neA==');
  });

  it('carries up to two bytes between chunks', () => {
    const encoder = new Base64Encoder();
    expect(decodeLatin1(encoder.encode(latin1('f')))).toBe('');
    expect(decodeLatin1(encoder.encode(latin1('o')))).toBe('');
    expect(decodeLatin1(encoder.encode(latin1('ob')))).toBe('Zm9v');
    expect(decodeLatin1(encoder.end())).toBe('Yg==');
    expect(decodeLatin1(encoder.end(latin1('foo')))).toBe('Zm9v');
  });

  it('gives the same text for any chunking', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        cuts,
        fc.constantFrom(0, 4, 8, 76),
        (bytes, fractions, lineLength) => {
          expect(encode(bytes, splitAt(bytes, fractions), lineLength)).toEqual(
            encode(bytes, [bytes], lineLength),
          );
        },
      ),
    );
  });

  it('round-trips through the decoder under any chunking of both', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), cuts, cuts, (bytes, encodeCuts, decodeCuts) => {
        const encoded = encode(bytes, splitAt(bytes, encodeCuts));
        const decoded = decode(encoded, (b) => splitAt(b, decodeCuts));
        expect(decoded.bytes).toEqual(bytes);
        expect(decoded.defects).toEqual([]);
      }),
    );
  });
});

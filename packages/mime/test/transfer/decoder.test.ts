import { decodeLatin1 } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Base64Decoder } from '../../src/transfer/base64.js';
import { createTransferDecoder } from '../../src/transfer/index.js';
import { QuotedPrintableDecoder } from '../../src/transfer/quoted-printable.js';
import { UuDecoder } from '../../src/transfer/uuencode.js';
import { bytewise, cuts, latin1, run, splitAt } from './chunking.js';

/** `binascii.b2a_uu` of the 77 bytes of {@link UU_TEXT}, in a mail body. */
const UU_BODY = [
  'Here is the file.',
  '',
  'begin 644 notes.txt',
  "M4&]S='=I<F4@9&5C;V1E<R!U=65N8V]D960@8F]D:65S('1O;SH@,#$R,S0U",
  "@-C<X.2!!0D-$149'2$E*2TQ-3D]045)35%565UA96B$`",
  '`',
  'end',
  'Bye.',
  '',
].join('\r\n');
const UU_TEXT = 'Postwire decodes uuencoded bodies too: 0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ!';

function uudecode(body: string, chunks: (bytes: Uint8Array) => Uint8Array[] = (b) => [b]) {
  const decoder = new UuDecoder();
  const out = run(decoder, (d, chunk) => d.decode(chunk), chunks(latin1(body)));
  return {
    text: decodeLatin1(out),
    defects: [...decoder.defects],
    fileName: decoder.fileName,
    mode: decoder.mode,
  };
}

describe('createTransferDecoder', () => {
  it('picks the decoder by name, in any case and with white space around', () => {
    expect(createTransferDecoder('base64')).toBeInstanceOf(Base64Decoder);
    expect(createTransferDecoder(' BASE64 \t')).toBeInstanceOf(Base64Decoder);
    expect(createTransferDecoder('Quoted-Printable')).toBeInstanceOf(QuotedPrintableDecoder);
    for (const name of ['x-uuencode', 'uuencode', 'X-UUE', 'uue']) {
      expect(createTransferDecoder(name)).toBeInstanceOf(UuDecoder);
    }
  });

  it('passes 7bit, 8bit, binary and a missing encoding through unchanged', () => {
    for (const name of ['7bit', '8BIT', 'binary', '', undefined]) {
      const decoder = createTransferDecoder(name);
      const chunk = latin1('=41 QUJD\r\n');
      expect(decoder.decode(chunk)).toBe(chunk);
      expect(decoder.end()).toEqual(new Uint8Array(0));
      expect(decoder.defects).toEqual([]);
    }
  });

  it('passes an unknown encoding through, with a defect', () => {
    const decoder = createTransferDecoder('x-gzip64');
    expect(decodeLatin1(decoder.decode(latin1('abc')))).toBe('abc');
    expect(decoder.defects).toEqual(['unknown-transfer-encoding']);
  });

  it('decodes through the common interface', () => {
    const decoder = createTransferDecoder('quoted-printable');
    expect(decodeLatin1(decoder.decode(latin1('caf=E9')))).toBe('caf\xe9');
    expect(decoder.end()).toEqual(new Uint8Array(0));
  });
});

describe('UuDecoder', () => {
  it('decodes a uuencoded sample and reads its begin line', () => {
    expect(uudecode(UU_BODY)).toEqual({ text: UU_TEXT, defects: [], fileName: 'notes.txt', mode: 0o644 });
    expect(uudecode('begin 600 cat.txt\n#0V%T\n`\nend\n').text).toBe('Cat');
  });

  it('gives the same bytes for any chunking', () => {
    expect(uudecode(UU_BODY, bytewise)).toEqual(uudecode(UU_BODY));
    fc.assert(
      fc.property(cuts, (fractions) => {
        expect(uudecode(UU_BODY, (b) => splitAt(b, fractions)).text).toBe(UU_TEXT);
      }),
    );
  });

  it('pads a data line whose trailing spaces were stripped in transit', () => {
    expect(uudecode('begin 644 z\n#   \n`\nend\n').text).toBe('\0\0\0');
    expect(uudecode('begin 644 z\n#\n`\nend\n').text).toBe('\0\0\0');
  });

  it('reports a missing begin or end line, and bytes outside the range', () => {
    expect(uudecode('#0V%T\nend\n')).toMatchObject({ text: '', defects: ['uuencode-missing-begin'] });
    expect(uudecode('begin 644 cat\n#0V%T')).toMatchObject({
      text: 'Cat',
      defects: ['uuencode-missing-end'],
    });
    expect(uudecode('begin 644 x\n#0v%t\nend').defects).toEqual(['invalid-uuencode']);
  });

  it('keeps only the start of an overlong line', () => {
    const long = `begin 644 x\n#0V%T${'x'.repeat(5000)}\nend\n`;
    expect(uudecode(long, (b) => splitAt(b, [0.1, 0.5, 0.9]))).toMatchObject({ text: 'Cat', defects: [] });
  });
});

import { createHash } from 'node:crypto';
import { decodeLatin1 } from '@postwire/core';
import { describe, expect, it } from 'vitest';
import { Base64Decoder } from '../../src/transfer/base64.js';
import { QuotedPrintableDecoder, QuotedPrintableEncoder } from '../../src/transfer/quoted-printable.js';
import { corpusBytes, hasCorpus } from '../support/corpus.js';
import { bytewise, run } from './chunking.js';

/** The body of the first part whose header block contains `marker`: after the blank line, up to the next `--` line. */
function partBody(message: Uint8Array, marker: string): Uint8Array {
  const text = decodeLatin1(message);
  const blank = /\r?\n\r?\n/g;
  blank.lastIndex = text.indexOf(marker);
  const match = blank.exec(text)!;
  const start = match.index + match[0].length;
  let end = text.indexOf('\n--', start);
  if (text[end - 1] === '\r') end--;
  return message.subarray(start, end);
}

function inChunks(bytes: Uint8Array, size: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
}

describe.skipIf(!hasCorpus)('transfer decoding of the third-party corpus', () => {
  it('decodes the base64 root of mailparser/base64encodedroot.eml, one byte at a time too', () => {
    const body = partBody(
      corpusBytes('mime/mailparser/base64encodedroot.eml'),
      'Content-Transfer-Encoding: base64',
    );
    for (const chunks of [[body], bytewise(body)]) {
      const decoder = new Base64Decoder();
      const png = run(decoder, (d, chunk) => d.decode(chunk), chunks);
      expect(png.length).toBe(425);
      expect(createHash('sha256').update(png).digest('hex')).toBe(
        '3d0c2d17edd1fed968f66ca200e7c165efd63834b488eec53deb24cca49c3d7b',
      );
      expect(decoder.defects).toEqual([]);
    }
  });

  it('decodes the 3.6 MB base64 image of mailsplit/large_image.eml like Buffer.from', () => {
    const body = partBody(corpusBytes('mime/mailsplit/large_image.eml'), 'Content-Type: image/jpeg');
    const decoder = new Base64Decoder();
    const image = run(decoder, (d, chunk) => d.decode(chunk), inChunks(body, 65_521));
    expect(image.length).toBeGreaterThan(2_000_000);
    expect(Buffer.from(image).equals(Buffer.from(decodeLatin1(body), 'base64'))).toBe(true);
    expect(decoder.defects).toEqual([]);
  });

  it('decodes the quoted-printable parts of mailsplit/large_image.eml the same under any chunking', () => {
    const message = corpusBytes('mime/mailsplit/large_image.eml');
    // Apple Mail wrote one line of the HTML part with 77 characters.
    const parts = { 'Content-Type: text/plain': [], 'Content-Type: text/html': ['qp-line-too-long'] };
    for (const [marker, defects] of Object.entries(parts)) {
      const body = partBody(message, marker);
      const whole = new QuotedPrintableDecoder();
      const text = run(whole, (d, chunk) => d.decode(chunk), [body]);
      expect(whole.defects).toEqual(defects);
      expect(run(new QuotedPrintableDecoder(), (d, chunk) => d.decode(chunk), bytewise(body))).toEqual(text);
      const encoded = new QuotedPrintableEncoder().end(text);
      expect(run(new QuotedPrintableDecoder(), (d, chunk) => d.decode(chunk), [encoded])).toEqual(text);
    }
  });
});

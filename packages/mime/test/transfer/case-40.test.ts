import { describe, expect, it } from 'vitest';
import { Base64Decoder } from '../../src/transfer/base64.js';
import { QuotedPrintableDecoder } from '../../src/transfer/quoted-printable.js';
import { bytewise, latin1, run } from './chunking.js';

/** Security catalogue case 40 (Dovecot test-qp-decoder.c, test-base64.c): edge cases of both decoders. */
const INPUTS: ReadonlyArray<{ input: string; qp: string[]; base64: string[] }> = [
  { input: 'foo=', qp: ['qp-dangling-equals'], base64: [] },
  {
    input: '=FJ',
    qp: ['invalid-quoted-printable'],
    base64: ['base64-misplaced-padding', 'base64-data-after-padding', 'base64-missing-padding'],
  },
  { input: 'foo= \t', qp: ['qp-dangling-equals'], base64: [] },
  {
    input: 'foo= \t\r\nbar',
    qp: ['qp-soft-break-with-space'],
    base64: ['base64-data-after-padding', 'base64-missing-padding'],
  },
  { input: 'x'.repeat(200), qp: ['qp-line-too-long'], base64: [] },
  {
    input: '=0D=0A',
    qp: [],
    base64: ['base64-misplaced-padding', 'base64-data-after-padding', 'base64-missing-padding'],
  },
  { input: 'aGVsb', qp: [], base64: ['base64-truncated'] },
  { input: 'aGVsb!!!!!', qp: [], base64: ['invalid-base64', 'base64-truncated'] },
  {
    input: 'aGVs=bG8=',
    qp: ['invalid-quoted-printable', 'qp-dangling-equals'],
    base64: ['base64-misplaced-padding', 'base64-data-after-padding'],
  },
  {
    input: 'aGVsbA==bG8=\r\naGk',
    qp: ['invalid-quoted-printable'],
    base64: ['base64-data-after-padding', 'base64-missing-padding'],
  },
  {
    input: '====',
    qp: ['invalid-quoted-printable', 'qp-dangling-equals'],
    base64: ['base64-misplaced-padding'],
  },
];

describe('case 40: QP and base64 edge cases', () => {
  it('case 40: QP and base64 edge inputs never throw and give bounded output', () => {
    for (const { input, qp, base64 } of INPUTS) {
      const bytes = latin1(input);
      for (const chunks of [[bytes], bytewise(bytes)]) {
        const qpDecoder = new QuotedPrintableDecoder();
        const qpOut = run(qpDecoder, (d, chunk) => d.decode(chunk), chunks);
        expect(qpOut.length, input).toBeLessThanOrEqual(bytes.length);
        expect(qpDecoder.defects, input).toEqual(qp);

        const base64Decoder = new Base64Decoder();
        const base64Out = run(base64Decoder, (d, chunk) => d.decode(chunk), chunks);
        expect(base64Out.length, input).toBeLessThanOrEqual(bytes.length);
        expect(base64Decoder.defects, input).toEqual(base64);
      }
    }
  });

  it('case 40: decodes the readable part of each input', () => {
    const qp = (input: string) =>
      Buffer.from(run(new QuotedPrintableDecoder(), (d, c) => d.decode(c), [latin1(input)])).toString(
        'latin1',
      );
    const base64 = (input: string) =>
      Buffer.from(run(new Base64Decoder(), (d, c) => d.decode(c), [latin1(input)])).toString('latin1');
    expect(qp('foo=')).toBe('foo');
    expect(qp('=FJ')).toBe('=FJ');
    expect(qp('foo= \t\r\nbar')).toBe('foobar');
    expect(qp('=0D=0A')).toBe('\r\n');
    expect(base64('aGVsb')).toBe('hel');
    expect(base64('aGVsb!!!!!')).toBe('hel');
    expect(base64('aGVs=bG8=')).toBe('hello');
  });
});

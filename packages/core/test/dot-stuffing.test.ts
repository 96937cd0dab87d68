import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type BareLineEndingPolicy,
  concatBytes,
  DotStuffedDecoder,
  DotStuffedEncoder,
  type DotStuffedEncoderOptions,
  decodeLatin1,
} from '../src/index.js';
import { bytes, splitAt } from './support/bytes.js';

interface Decoded {
  content: string;
  done: boolean;
  /** Bytes of the input consumed up to and including the terminator. */
  consumed: number;
  errors: string[];
}

function decode(
  chunks: Uint8Array[],
  policy: BareLineEndingPolicy = 'reject',
  maxLineLength?: number,
): Decoded {
  const decoder = new DotStuffedDecoder({ bareLineEndings: policy, maxLineLength });
  const content: Uint8Array[] = [];
  const errors: string[] = [];
  let consumed = 0;
  for (const chunk of chunks) {
    if (decoder.done) break;
    const result = decoder.decode(chunk);
    content.push(...result.data);
    if (result.error) errors.push(result.error.code);
    consumed += result.consumed;
  }
  return { content: decodeLatin1(concatBytes(content)), done: decoder.done, consumed, errors };
}

function encode(chunks: Uint8Array[], options?: DotStuffedEncoderOptions): Uint8Array {
  const encoder = new DotStuffedEncoder(options);
  const out: Uint8Array[] = [];
  for (const chunk of chunks) out.push(...encoder.encode(chunk));
  out.push(encoder.end());
  return concatBytes(out);
}

/** What the encoder's default normalisation promises: every CR, LF or CRLF becomes one CRLF. */
function normalize(text: string): string {
  return text.replace(/\r\n|\r|\n/g, '\r\n');
}

function withFinalCrlf(text: string): string {
  return text === '' || text.endsWith('\r\n') ? text : `${text}\r\n`;
}

const BARE = /\r(?!\n)|(?<!\r)\n/;
const TERMINATOR = '\r\n.\r\n';

/** Bytes rich in the characters that matter: CR, LF, dots. */
const trickyBytes = fc
  .array(
    fc.oneof(fc.constantFrom('\r', '\n', '.', '\r\n', '\r\n.', '..', 'a', '\0'), fc.string({ maxLength: 6 })),
    {
      maxLength: 40,
    },
  )
  .map((parts) => parts.join(''));

describe('DotStuffedDecoder', () => {
  it('unstuffs dots and keeps the CRLF that ends the last line', () => {
    expect(decode([bytes('Hi\r\n..leading dot\r\n...\r\n.\r\n')])).toEqual({
      content: 'Hi\r\n.leading dot\r\n..\r\n',
      done: true,
      consumed: 27,
      errors: [],
    });
  });

  it('ends an empty block at a leading dot line and says where the block ended', () => {
    const input = bytes('.\r\nQUIT\r\n');
    const decoder = new DotStuffedDecoder();
    const result = decoder.decode(input);
    expect(result).toEqual({ data: [], done: true, consumed: 3 });
    expect(decodeLatin1(input.subarray(result.consumed))).toBe('QUIT\r\n');
  });

  it('reads another block after reset', () => {
    const decoder = new DotStuffedDecoder();
    expect(decoder.decode(bytes('a\r\n.\r\n')).done).toBe(true);
    decoder.reset();
    const second = decoder.decode(bytes('b\r\n.\r\n'));
    expect(decodeLatin1(concatBytes(second.data))).toBe('b\r\n');
    expect(second.done).toBe(true);
  });

  describe('case 1: only CRLF . CRLF ends DATA, whatever fake end-of-data is smuggled in', () => {
    const smuggled = 'mail FROM:<s@x>\r\nrcpt TO:<v@y>\r\ndata\r\nforged\r\n';
    const fakeEnds = [
      '\n.\n',
      '\n.\r',
      '\r.\n',
      '\r.\r',
      '\n.\r\n',
      '\r.\r\n',
      '\r\n.\n',
      '\r\n.\r',
      '\r\n\x00.\r\n',
    ];
    for (const fake of fakeEnds) {
      for (const policy of ['reject', 'normalize', 'accept'] as const) {
        it(`${JSON.stringify(fake)} under ${policy}`, () => {
          const message = `Subject: hi\r\n\r\nbody${fake}${smuggled}`;
          const input = bytes(`${message}.\r\nQUIT\r\n`);
          const result = decode([input], policy);
          expect(result.done).toBe(true);
          expect(result.consumed).toBe(input.length - 'QUIT\r\n'.length);
          expect(result.content).toContain('mail FROM:<s@x>');
          expect(result.content.endsWith('forged\r\n')).toBe(true);
          const hasStray = BARE.test(fake);
          expect(result.errors).toEqual(policy === 'reject' && hasStray ? ['BARE_LINE_ENDING'] : []);
          if (policy === 'normalize') expect(BARE.test(result.content)).toBe(false);
        });
      }
    }
  });

  it('case 2: a bare LF or bare CR in DATA is reported once under the default policy', () => {
    const result = decode([bytes('a\nb\rc\n\r\n.\r\n')]);
    expect(result).toMatchObject({ done: true, errors: ['BARE_LINE_ENDING'] });
  });

  it('reports a content line over the limit once, right where it passes the limit', () => {
    const decoder = new DotStuffedDecoder({ maxLineLength: 4 });
    const result = decoder.decode(bytes('abcdefgh\r\nabcdefgh\r\n.\r\n'));
    expect(result.error?.code).toBe('LINE_TOO_LONG');
    expect(result.errorIndex).toBe(1);
    expect(decodeLatin1(result.data[0]!)).toBe('abcd');
    expect(decodeLatin1(concatBytes(result.data))).toBe('abcdefgh\r\nabcdefgh\r\n');
    expect(decode([bytes('abcd\r\n.\r\n')], 'reject', 4).errors).toEqual([]);
  });

  it('property: never ends anywhere but the first CRLF . CRLF (or a leading . CRLF)', () => {
    fc.assert(
      fc.property(trickyBytes, fc.array(fc.nat(), { maxLength: 10 }), (text, cuts) => {
        const input = bytes(text);
        const result = decode(splitAt(input, cuts), 'accept');
        const framed = `\r\n${text}`;
        const end = framed.indexOf(TERMINATOR);
        if (end === -1) {
          expect(result.done).toBe(false);
          expect(result.consumed).toBe(input.length);
        } else {
          expect(result.done).toBe(true);
          expect(result.consumed).toBe(end + TERMINATOR.length - 2);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('property: any chunking gives the same content, end and errors', () => {
    fc.assert(
      fc.property(
        trickyBytes,
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.constantFrom<BareLineEndingPolicy>('reject', 'normalize', 'accept'),
        (text, cuts, policy) => {
          const input = bytes(`${text}${TERMINATOR}`);
          expect(decode(splitAt(input, cuts), policy, 8)).toEqual(decode([input], policy, 8));
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('DotStuffedEncoder', () => {
  it('stuffs leading dots and terminates the block', () => {
    expect(decodeLatin1(encode([bytes('.a\r\nb\r\n.\r\n')]))).toBe('..a\r\nb\r\n..\r\n.\r\n');
    expect(decodeLatin1(encode([bytes('no final line end')]))).toBe('no final line end\r\n.\r\n');
    expect(decodeLatin1(encode([]))).toBe('.\r\n');
  });

  it('stuffs a dot that starts a chunk after a CRLF that ended the previous one', () => {
    expect(decodeLatin1(encode([bytes('a\r'), bytes('\n.b')]))).toBe('a\r\n..b\r\n.\r\n');
  });

  describe('case 4: stray CR and LF are normalised to CRLF before stuffing', () => {
    for (const body of ['\r', '\n', '\r.\r\n', '\r\n.\r\r\n', '\r\r\n.\r\r\n', 'x\n.\nmail FROM:<a@b>\n']) {
      it(JSON.stringify(body), () => {
        const wire = decodeLatin1(encode([bytes(body)]));
        expect(BARE.test(wire)).toBe(false);
        const decoded = decode([bytes(wire)]);
        expect(decoded).toMatchObject({ done: true, consumed: wire.length, errors: [] });
        expect(decoded.content).toBe(withFinalCrlf(normalize(body)));
      });
    }
  });

  it('property: stuffing then unstuffing is the identity (plus the CRLF that ends the last line)', () => {
    fc.assert(
      fc.property(trickyBytes, fc.array(fc.nat(), { maxLength: 10 }), (text, cuts) => {
        const wire = encode(splitAt(bytes(text), cuts), { normalize: false });
        const decoded = decode([wire], 'accept');
        expect(decoded).toMatchObject({ done: true, consumed: wire.length });
        expect(decoded.content).toBe(withFinalCrlf(text));
      }),
      { numRuns: 1000 },
    );
  });

  it('property: the normalised wire form holds no stray CR or LF and decodes cleanly to the normalised text', () => {
    fc.assert(
      fc.property(trickyBytes, fc.array(fc.nat(), { maxLength: 10 }), (text, cuts) => {
        const wire = encode(splitAt(bytes(text), cuts));
        expect(BARE.test(decodeLatin1(wire))).toBe(false);
        const decoded = decode([wire], 'reject');
        expect(decoded).toMatchObject({ done: true, consumed: wire.length, errors: [] });
        expect(decoded.content).toBe(withFinalCrlf(normalize(text)));
      }),
      { numRuns: 1000 },
    );
  });
});

/**
 * Longer inputs over the bytes that matter to a word-at-a-time scan: line ends, dots, other bytes
 * below 14 (which it must look at and pass over) and bytes with the high bit set.
 */
const longTrickyBytes = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '\r',
        '\n',
        '.',
        '\r\n',
        '\r\n.',
        '\r\n..',
        '\t',
        '\0',
        '\x0c',
        '\x0e',
        '\x80',
        '\x8d',
        '\xff',
      ),
      fc.string({ maxLength: 24 }),
    ),
    { maxLength: 80 },
  )
  .map((parts) => parts.join(''));

/** Chunks of the input: cut at the given points, or one byte each. */
function chunking(input: Uint8Array, cuts: readonly number[], bytewise: boolean): Uint8Array[] {
  return bytewise ? Array.from(input, (_, i) => input.subarray(i, i + 1)) : splitAt(input, cuts);
}

interface Traced extends Decoded {
  /** Where in the content the problem was reported, or -1. */
  errorAt: number;
}

/** Decodes chunk by chunk, tracing where in the content the problem was reported. */
function decodeTraced(chunks: Uint8Array[], policy: BareLineEndingPolicy, maxLineLength?: number): Traced {
  const decoder = new DotStuffedDecoder({ bareLineEndings: policy, maxLineLength });
  const content: Uint8Array[] = [];
  const errors: string[] = [];
  let errorAt = -1;
  let consumed = 0;
  for (const chunk of chunks) {
    if (decoder.done) break;
    const result = decoder.decode(chunk);
    if (result.error) {
      errors.push(result.error.code);
      errorAt = concatBytes([...content, ...result.data.slice(0, result.errorIndex)]).length;
    }
    content.push(...result.data);
    consumed += result.consumed;
  }
  return { content: decodeLatin1(concatBytes(content)), done: decoder.done, consumed, errors, errorAt };
}

/** The decoder's rules, byte by byte over the whole input. */
function referenceDecode(text: string, policy: BareLineEndingPolicy, maxLineLength = Infinity): Traced {
  let content = '';
  let lineLength = 0;
  let atLineStart = true;
  const errors: string[] = [];
  let errorAt = -1;
  const report = (code: string) => {
    if (errors.length > 0) return;
    errors.push(code);
    errorAt = content.length;
  };
  let at = 0;
  while (at < text.length) {
    if (atLineStart) {
      atLineStart = false;
      if (text[at] === '.') {
        if (text.startsWith('\r\n', at + 1))
          return { content, done: true, consumed: at + 3, errors, errorAt };
        if (text[at + 1] === '\r' && at + 2 === text.length) break;
        at++;
        continue;
      }
    }
    const byte = text[at]!;
    if (byte === '\r' && at + 1 === text.length) break;
    if (byte === '\r' && text[at + 1] === '\n') {
      content += '\r\n';
      lineLength = 0;
      atLineStart = true;
      at += 2;
      continue;
    }
    if ((byte === '\r' || byte === '\n') && policy === 'normalize') {
      content += '\r\n';
      lineLength = 0;
    } else {
      if ((byte === '\r' || byte === '\n') && policy === 'reject') report('BARE_LINE_ENDING');
      if (++lineLength > maxLineLength) report('LINE_TOO_LONG');
      content += byte;
    }
    at++;
  }
  return { content, done: false, consumed: text.length, errors, errorAt };
}

/** The encoder's rules, byte by byte over the whole input. */
function referenceEncode(text: string, normalize: boolean): string {
  let wire = '';
  let atLineStart = true;
  for (let at = 0; at < text.length; at++) {
    const byte = text[at]!;
    const crlf = (byte === '\r' && text[at + 1] === '\n') || (byte === '\n' && text[at - 1] === '\r');
    if (normalize && (byte === '\r' || byte === '\n') && !crlf) {
      wire += '\r\n';
      atLineStart = true;
      continue;
    }
    if (atLineStart && byte === '.') wire += '.';
    wire += byte;
    atLineStart = crlf && byte === '\n';
  }
  return `${wire}${atLineStart ? '' : '\r\n'}.\r\n`;
}

describe('against a byte-by-byte reference of the rules', () => {
  it('property: the decoder agrees on content, end, consumed bytes and where a problem is reported', () => {
    fc.assert(
      fc.property(
        longTrickyBytes,
        fc.constantFrom('', TERMINATOR, `${TERMINATOR}QUIT\r\n`),
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.boolean(),
        fc.constantFrom<BareLineEndingPolicy>('reject', 'normalize', 'accept'),
        fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
        (text, ending, cuts, bytewise, policy, maxLineLength) => {
          const input = bytes(`${text}${ending}`);
          expect(decodeTraced(chunking(input, cuts, bytewise), policy, maxLineLength)).toEqual(
            referenceDecode(`${text}${ending}`, policy, maxLineLength),
          );
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('property: the encoder agrees on the wire form', () => {
    fc.assert(
      fc.property(
        longTrickyBytes,
        fc.array(fc.nat(), { maxLength: 10 }),
        fc.boolean(),
        fc.boolean(),
        (text, cuts, bytewise, normalize) => {
          const wire = encode(chunking(bytes(text), cuts, bytewise), { normalize });
          expect(decodeLatin1(wire)).toBe(referenceEncode(text, normalize));
        },
      ),
      { numRuns: 1000 },
    );
  });
});

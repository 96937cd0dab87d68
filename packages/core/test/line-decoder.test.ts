import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BareLineEndingError,
  decodeLatin1,
  InvalidArgumentError,
  LineDecoder,
  type LineDecoderEvent,
  type LineDecoderOptions,
  LineTooLongError,
} from '../src/index.js';
import { bytes, splitAt } from './support/bytes.js';

/** A plain-data view of an event, for deep comparison. */
type Seen = [string, string] | ['block-end'];

/**
 * Runs a decoder over the chunks the way a protocol would: a line ending in `{n}` switches to a
 * counted run of n bytes, and a line `DATA` switches to a dot-stuffed block.
 */
function drive(chunks: Uint8Array[], options: LineDecoderOptions = {}): Seen[] {
  const decoder = new LineDecoder(options);
  const seen: Seen[] = [];
  const pump = () => {
    for (let event = decoder.next(); event; event = decoder.next()) record(decoder, event, seen);
  };
  for (const chunk of chunks) {
    decoder.push(chunk);
    pump();
  }
  return mergeBytes(seen);
}

function record(decoder: LineDecoder, event: LineDecoderEvent, seen: Seen[]): void {
  switch (event.type) {
    case 'line': {
      const text = decodeLatin1(event.line);
      seen.push(['line', text]);
      const literal = /\{(\d{1,3})\}$/.exec(text);
      if (literal) decoder.readBytes(Number(literal[1]));
      if (text === 'DATA') decoder.readDotBlock();
      break;
    }
    case 'bytes':
      seen.push(['bytes', decodeLatin1(event.data)]);
      break;
    case 'block-end':
      seen.push(['block-end']);
      break;
    case 'error':
      seen.push(['error', event.error.code]);
      break;
  }
}

/** Byte pieces arrive in chunk-dependent sizes; join neighbours so that only content is compared. */
function mergeBytes(seen: Seen[]): Seen[] {
  const out: Seen[] = [];
  for (const item of seen) {
    const last = out[out.length - 1];
    if (item.length === 1) out.push(item);
    else if (item[0] === 'bytes' && last?.[0] === 'bytes' && last.length === 2) last[1] += item[1];
    else out.push([item[0], item[1]]);
  }
  return out;
}

/** Protocol-shaped input: lines, literals, stray CR/LF, dots and DATA blocks. */
const protocolBytes = fc
  .array(
    fc.oneof(
      fc.constantFrom('\r\n', '\r', '\n', '.', '..', 'DATA\r\n', '\r\n.\r\n', 'A {3}\r\n', '{12}\r\n', 'x'),
      fc.string({ maxLength: 20 }),
    ),
    { maxLength: 40 },
  )
  .map((parts) => bytes(parts.join('')));

describe('LineDecoder', () => {
  it('splits CRLF lines and returns views without the line ending', () => {
    const decoder = new LineDecoder();
    const input = bytes('EHLO x\r\nNOOP\r\n\r\nQUIT');
    decoder.push(input);
    const first = decoder.next();
    expect(first).toEqual({ type: 'line', line: bytes('EHLO x') });
    expect(first?.type === 'line' && first.line.buffer).toBe(input.buffer);
    expect(decoder.next()).toEqual({ type: 'line', line: bytes('NOOP') });
    expect(decoder.next()).toEqual({ type: 'line', line: bytes('') });
    expect(decoder.next()).toBeUndefined();
    expect(decoder.buffered).toBe(4);
    decoder.push(bytes('\r\n'));
    expect(decoder.next()).toEqual({ type: 'line', line: bytes('QUIT') });
    expect(decoder.buffered).toBe(0);
  });

  it('joins a line that spans chunks, including a CR and LF split across them', () => {
    expect(drive([bytes('HE'), bytes('LO x\r'), bytes('\nB\r\n')])).toEqual([
      ['line', 'HELO x'],
      ['line', 'B'],
    ]);
  });

  it('case 2: reports a bare LF and a bare CR in a command line (RSET\\rQUIT), then goes on with the next line', () => {
    expect(drive([bytes('RSET\rQUIT\r\nNOOP\nHELP\r\n')])).toEqual([
      ['error', 'BARE_LINE_ENDING'],
      ['error', 'BARE_LINE_ENDING'],
      ['line', 'HELP'],
    ]);
    const decoder = new LineDecoder();
    decoder.push(bytes('a\rb\r\n'));
    const event = decoder.next();
    expect(event?.type === 'error' && event.error).toBeInstanceOf(BareLineEndingError);
    expect(event?.type === 'error' && (event.error as BareLineEndingError).ending).toBe('CR');
  });

  it('reports a CR that ends one chunk and is not followed by LF in the next', () => {
    expect(drive([bytes('ab\r'), bytes('c\r\n')])).toEqual([['error', 'BARE_LINE_ENDING']]);
  });

  it('accepts bare LF line ends in lenient mode and strips a CR before LF', () => {
    expect(drive([bytes('+OK\nline\r\nx\ry\n')], { mode: 'lenient' })).toEqual([
      ['line', '+OK'],
      ['line', 'line'],
      ['line', 'x\ry'],
    ]);
    expect(drive([bytes('ab\r'), bytes('\n')], { mode: 'lenient' })).toEqual([['line', 'ab']]);
  });

  it('refuses a line limit that would turn the limit off or refuse every line', () => {
    for (const maxLineLength of [Number.NaN, 0, -1, 1.5, Number.POSITIVE_INFINITY]) {
      expect(() => new LineDecoder({ maxLineLength })).toThrow('maxLineLength must be a positive integer');
    }
  });

  it('case 50: reports an over-long line once, as soon as it passes the limit, and resynchronises', () => {
    const decoder = new LineDecoder({ maxLineLength: 10 });
    decoder.push(bytes('0123456789A'));
    const event = decoder.next();
    expect(event?.type).toBe('error');
    expect(event?.type === 'error' && event.error).toBeInstanceOf(LineTooLongError);
    decoder.push(bytes('more and more'));
    expect(decoder.next()).toBeUndefined();
    decoder.push(bytes('\r\nNOOP\r\n'));
    expect(decoder.next()).toEqual({ type: 'line', line: bytes('NOOP') });
  });

  it('accepts a line of exactly the limit, even when its CR arrives in a later chunk', () => {
    expect(drive([bytes('0123456789\r'), bytes('\n')], { maxLineLength: 10 })).toEqual([
      ['line', '0123456789'],
    ]);
    expect(drive([bytes('0123456789A\r\n')], { maxLineLength: 10 })).toEqual([['error', 'LINE_TOO_LONG']]);
  });

  it('keeps memory bounded while a hostile peer sends an endless line', () => {
    const decoder = new LineDecoder({ maxLineLength: 1000 });
    const junk = new Uint8Array(4096).fill(0x41);
    let errors = 0;
    for (let i = 0; i < 256; i++) {
      decoder.push(junk);
      for (let event = decoder.next(); event; event = decoder.next()) if (event.type === 'error') errors++;
      expect(decoder.buffered).toBeLessThanOrEqual(1000 + junk.length);
    }
    expect(errors).toBe(1);
  });

  it('handles a chunk of nothing but bare line ends in linear time', () => {
    const decoder = new LineDecoder();
    decoder.push(new Uint8Array(200_000).fill(0x0a));
    let errors = 0;
    for (let event = decoder.next(); event; event = decoder.next()) if (event.type === 'error') errors++;
    expect(errors).toBe(200_000);
  });

  it('streams a counted byte run in pieces, with the bytes still to come', () => {
    const decoder = new LineDecoder();
    decoder.push(bytes('A1 APPEND x {10}\r\n0123'));
    expect(decoder.next()).toEqual({ type: 'line', line: bytes('A1 APPEND x {10}') });
    decoder.readBytes(10);
    expect(decoder.next()).toEqual({ type: 'bytes', data: bytes('0123'), remaining: 6 });
    expect(decoder.next()).toBeUndefined();
    decoder.push(bytes('456789 extra\r\nNEXT\r\n'));
    expect(decoder.next()).toEqual({ type: 'bytes', data: bytes('456789'), remaining: 0 });
    expect(decoder.next()).toEqual({ type: 'line', line: bytes(' extra') });
    expect(decoder.next()).toEqual({ type: 'line', line: bytes('NEXT') });
  });

  it('takes CR and LF inside a counted run as plain bytes, beyond the line limit', () => {
    const run = '\r\n.\r\n\n\r'.repeat(100);
    expect(drive([bytes(`{700}\r\n${run}\r\n`)], { maxLineLength: 20 })).toEqual([
      ['line', '{700}'],
      ['bytes', run],
      ['line', ''],
    ]);
  });

  it('rejects a bad byte count and a mode switch while one is active', () => {
    const decoder = new LineDecoder();
    expect(() => decoder.readBytes(-1)).toThrow(InvalidArgumentError);
    expect(() => decoder.readBytes(1.5)).toThrow(InvalidArgumentError);
    decoder.readBytes(0);
    decoder.readBytes(3);
    expect(() => decoder.readDotBlock()).toThrow(InvalidArgumentError);
  });

  it('reads a dot-stuffed block and resumes lines after it', () => {
    expect(drive([bytes('DATA\r\nHi\r\n..dot\r\n.\r\nQUIT\r\n')])).toEqual([
      ['line', 'DATA'],
      ['bytes', 'Hi\r\n.dot\r\n'],
      ['block-end'],
      ['line', 'QUIT'],
    ]);
  });

  it('reports a stray line ending inside a block once and still finds the true end', () => {
    expect(drive([bytes('DATA\r\na\nb\rc\r\n.\r\nQUIT\r\n')])).toEqual([
      ['line', 'DATA'],
      ['bytes', 'a'],
      ['error', 'BARE_LINE_ENDING'],
      ['bytes', '\nb\rc\r\n'],
      ['block-end'],
      ['line', 'QUIT'],
    ]);
  });

  it('discards everything buffered on reset, as a STARTTLS upgrade requires', () => {
    const decoder = new LineDecoder();
    decoder.push(bytes('STARTTLS\r\nRSET\r\nMAIL FROM:<a@b>\r\nhalf'));
    expect(decoder.next()).toEqual({ type: 'line', line: bytes('STARTTLS') });
    decoder.reset();
    expect(decoder.buffered).toBe(0);
    expect(decoder.next()).toBeUndefined();
    decoder.push(bytes('EHLO again\r\n'));
    expect(decoder.next()).toEqual({ type: 'line', line: bytes('EHLO again') });
  });

  it('property: any chunking of the same bytes gives the same events', () => {
    fc.assert(
      fc.property(
        protocolBytes,
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.boolean(),
        (input, cuts, lenient) => {
          const options: LineDecoderOptions = { maxLineLength: 16, mode: lenient ? 'lenient' : 'crlf' };
          expect(drive(splitAt(input, cuts), options)).toEqual(drive([input], options));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: one byte at a time gives the same events as one chunk', () => {
    fc.assert(
      fc.property(protocolBytes, (input) => {
        const single = Array.from(input, (byte) => new Uint8Array([byte]));
        expect(drive(single)).toEqual(drive([input]));
      }),
      { numRuns: 200 },
    );
  });

  it('property: no line ever exceeds the limit', () => {
    fc.assert(
      fc.property(
        protocolBytes,
        fc.integer({ min: 1, max: 24 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (input, max, cuts) => {
          const decoder = new LineDecoder({ maxLineLength: max, mode: 'lenient' });
          for (const chunk of splitAt(input, cuts)) {
            decoder.push(chunk);
            for (let event = decoder.next(); event; event = decoder.next()) {
              if (event.type === 'line') expect(event.line.length).toBeLessThanOrEqual(max);
            }
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('property: in crlf mode every line returned is free of CR and LF', () => {
    fc.assert(
      fc.property(protocolBytes, fc.array(fc.nat(), { maxLength: 8 }), (input, cuts) => {
        const decoder = new LineDecoder();
        for (const chunk of splitAt(input, cuts)) {
          decoder.push(chunk);
          for (let event = decoder.next(); event; event = decoder.next()) {
            if (event.type === 'line') {
              expect(event.line.includes(0x0d)).toBe(false);
              expect(event.line.includes(0x0a)).toBe(false);
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

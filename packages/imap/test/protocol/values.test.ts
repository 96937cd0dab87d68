import { LimitExceededError, utf8 } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ImapCursor } from '../../src/protocol/cursor.js';
import { ImapSyntaxError } from '../../src/protocol/errors.js';
import {
  type Fragment,
  ImapReader,
  type ImapReaderEvent,
  type ImapReaderOptions,
  literalAnnouncement,
} from '../../src/protocol/reader.js';
import { ImapWriter } from '../../src/protocol/writer.js';

const text = (value: string): Uint8Array => utf8(value);

function readAll(options: ImapReaderOptions, chunks: readonly Uint8Array[]): ImapReaderEvent[] {
  const reader = new ImapReader(options);
  const events: ImapReaderEvent[] = [];
  for (const chunk of chunks) {
    reader.push(chunk);
    for (let event = reader.next(); event; event = reader.next()) events.push(event);
  }
  return events;
}

function messages(events: readonly ImapReaderEvent[]): (readonly Fragment[])[] {
  return events.flatMap((event) => (event.type === 'message' ? [event.fragments] : []));
}

function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.slice(start, point));
    start = point;
  }
  chunks.push(bytes.slice(start));
  return chunks;
}

describe('ImapReader', () => {
  it('frames a command across its literals and asks for a continuation for each synchronising one', () => {
    const events = readAll({ side: 'server' }, [text('a1 LOGIN {5}\r\n'), text('alice {6+}\r\nsecret\r\n')]);
    expect(events.map((event) => event.type)).toEqual(['continuation', 'message']);
    const [fragments] = messages(events);
    const cursor = new ImapCursor(fragments!, { maxDepth: 10 });
    expect(cursor.word('astring')).toBe('a1');
    cursor.sp();
    expect(cursor.keyword()).toBe('LOGIN');
    cursor.sp();
    expect(cursor.astring()).toBe('alice');
    cursor.sp();
    expect(cursor.astring()).toBe('secret');
    cursor.end();
  });

  it('streams an APPEND message in pieces and keeps only its size', () => {
    const events = readAll({ side: 'server' }, [
      text('a2 APPEND INBOX (\\Seen) {11}\r\n'),
      text('hello'),
      text(' world\r\n'),
    ]);
    expect(events.map((event) => event.type)).toEqual([
      'continuation',
      'literal-start',
      'literal-data',
      'literal-data',
      'message',
    ]);
    const data = events.flatMap((event) => (event.type === 'literal-data' ? [event.data] : []));
    expect(new TextDecoder().decode(Buffer.concat(data))).toBe('hello world');
    expect(messages(events)[0]![1]).toEqual({ kind: 'streamed', size: 11, binary: false });
  });

  it('lets the server refuse a synchronising literal and read the next command', () => {
    const reader = new ImapReader({ side: 'server' });
    reader.push(text('a3 APPEND Nope {100}\r\n'));
    expect(reader.next()).toEqual({ type: 'continuation', size: 100 });
    reader.reject();
    reader.push(text('a4 NOOP\r\n'));
    expect(reader.next()).toMatchObject({ type: 'message', fragments: [text('a4 NOOP')] });
  });

  it('case 12: refuses huge literal sizes before any continuation or allocation', () => {
    for (const line of ['a LOGIN {999999999}\r\n', 'a LOGIN {99999999999999999999999}\r\n']) {
      const events = readAll({ side: 'server' }, [text(line)]);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type: 'error', tag: 'a', tooBig: true, fatal: false });
    }
    const client = readAll({ side: 'client' }, [text('* 1 FETCH (ENVELOPE ("x" {4000000000}\r\n')]);
    expect(client).toEqual([expect.objectContaining({ type: 'error', fatal: true })]);
  });

  it('case 13: refuses a non-synchronising literal over 4096 under LITERAL- and ends the session', () => {
    const events = readAll({ side: 'server', nonSyncLiterals: 'minus' }, [
      text('a APPEND INBOX {5000+}\r\n'),
    ]);
    expect(events).toEqual([expect.objectContaining({ type: 'error', tooBig: true, fatal: true })]);
    const error = (events[0] as { error: unknown }).error;
    expect(error).toBeInstanceOf(LimitExceededError);
    const none = readAll({ side: 'server', nonSyncLiterals: 'none' }, [text('a LOGIN {5+}\r\n')]);
    expect(none).toEqual([expect.objectContaining({ type: 'error', tooBig: false, fatal: true })]);
  });

  it('case 14: caps the number of literals and their total size in one command', () => {
    const many = `a SEARCH ${'TEXT {1+}\r\nx '.repeat(1001)}ALL\r\n`;
    const events = readAll({ side: 'server' }, [text(many)]);
    const error = events.find((event) => event.type === 'error');
    expect(error).toMatchObject({ tag: 'a', tooBig: true, error: { limit: 'maxLiterals' } });
    const big = `a SEARCH ${'TEXT {100000+}\r\n'.concat('x'.repeat(100000), ' ').repeat(11)}ALL\r\n`;
    const bigEvents = readAll({ side: 'server' }, [text(big)]);
    expect(bigEvents.find((event) => event.type === 'error')).toMatchObject({
      error: { limit: 'maxLiteralBytes' },
    });
  });

  it('case 16: reports an over-long line once, as fatal, with bounded memory', () => {
    const events = readAll({ side: 'server', limits: { maxLineLength: 1000 } }, [
      text(`a NOOP ${'('.repeat(4000)}`),
      text(`${')'.repeat(4000)}\r\n`),
    ]);
    expect(events).toEqual([expect.objectContaining({ type: 'error', fatal: true, tooBig: true })]);
  });

  it('reads literals of size zero, literal8, and does not take quoted braces for a literal', () => {
    const events = readAll({ side: 'client' }, [text('* 1 FETCH (BINARY[] ~{0}\r\n BODY[] {0}\r\n)\r\n')]);
    expect(events.map((event) => event.type)).toEqual([
      'literal-start',
      'literal-data',
      'literal-start',
      'literal-data',
      'message',
    ]);
    expect(events[0]).toMatchObject({ binary: true, size: 0 });
    expect(literalAnnouncement(text('a "x {5}'))).toBeUndefined();
    expect(literalAnnouncement(text('a "x\\" {5}'))).toBeUndefined();
    expect(literalAnnouncement(text('a {}'))).toBeUndefined();
    expect(literalAnnouncement(text('a ~{5-}'))).toEqual({
      size: 5,
      binary: true,
      sync: false,
      overflow: false,
    });
  });

  it('gives the same events for any chunking of the input', () => {
    const input = text('a1 LOGIN {5}\r\nalice "pw"\r\na2 APPEND x {3+}\r\nabc\r\na3 NOOP\r\n');
    const whole = readAll({ side: 'server' }, [input]);
    const joinData = (events: ImapReaderEvent[]) =>
      events.map((event) =>
        event.type === 'literal-data'
          ? { type: event.type }
          : event.type === 'message'
            ? {
                type: event.type,
                fragments: event.fragments.map((f) => (f instanceof Uint8Array ? [...f] : f)),
              }
            : event,
      );
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 12 }), (cuts) => {
        const events = readAll({ side: 'server' }, split(input, cuts));
        expect(joinData(events).filter((event) => event.type !== 'literal-data')).toEqual(
          joinData(whole).filter((event) => event.type !== 'literal-data'),
        );
      }),
    );
  });
});

describe('ImapCursor', () => {
  const cursor = (line: string, lenient = false) =>
    new ImapCursor(messages(readAll({ side: 'client' }, [text(`${line}\r\n`)]))[0]!, {
      maxDepth: 3,
      lenient,
    });

  it('reads numbers within their ranges', () => {
    expect(cursor('4294967295').number()).toBe(4294967295);
    expect(() => cursor('4294967296').number()).toThrow(ImapSyntaxError);
    expect(cursor('9007199254740991').number64()).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => cursor('9007199254740992').number64()).toThrow('out of range');
    expect(cursor('0000000000000000042').number()).toBe(42);
    expect(() => cursor('0').nzNumber()).toThrow('non-zero');
    expect(() => cursor('99999999999999999999').number64()).toThrow('out of range');
    expect(() => cursor('x').number()).toThrow('number');
  });

  it('case 16: caps list nesting', () => {
    const read = (c: ImapCursor): unknown => (c.peek() === 0x28 ? c.list(() => read(c)) : c.word());
    expect(read(cursor('(((a)))'))).toEqual([[['a']]]);
    expect(() => read(cursor('((((a))))'))).toThrow('Too deeply nested');
  });

  it('reads quoted strings with their escapes and refuses others unless lenient', () => {
    expect(cursor('"a\\"b\\\\c"').string()).toBe('a"b\\c');
    expect(() => cursor('"a\\b"').string()).toThrow('escape');
    expect(cursor('"a\\b"', true).string()).toBe('ab');
    expect(() => cursor('"abc').string()).toThrow('Unterminated');
    expect(cursor('NIL').nstring()).toBeNull();
    expect(() => cursor('abc').string()).toThrow('Expected a string');
  });

  it('tolerates odd spaces only when lenient', () => {
    const strict = cursor('(a  b)');
    expect(() => strict.list(() => strict.word())).toThrow();
    const lenient = cursor('( a  b )x', true);
    expect(lenient.list(() => lenient.word())).toEqual(['a', 'b']);
    lenient.end();
    expect(() => cursor('a b').end()).toThrow('extra');
  });
});

describe('ImapWriter', () => {
  it('chooses atom, quoted string or literal', () => {
    const w = new ImapWriter({ side: 'server' });
    w.astring('INBOX').sp().astring('NIL').sp().astring('a b').sp().astring('').sp().string('x\r\ny').crlf();
    expect(new TextDecoder().decode(w.bytes())).toBe('INBOX "NIL" "a b" "" {4}\r\nx\r\ny\r\n');
    expect(new TextDecoder().decode(new ImapWriter({ side: 'server' }).string('é').bytes())).toBe('{2}\r\né');
    expect(new TextDecoder().decode(new ImapWriter({ side: 'server', utf8: true }).string('é').bytes())).toBe(
      '"é"',
    );
  });

  it('waits for a continuation before a synchronising literal, unless the server allows non-synchronising ones', () => {
    const sync = new ImapWriter({ side: 'client' }).raw('a LOGIN').sp().literal(text('x')).crlf().finish();
    expect(sync.map((part) => part.kind)).toEqual(['bytes', 'await-continuation', 'bytes', 'bytes']);
    const plus = new ImapWriter({ side: 'client', nonSyncLiterals: 'plus' }).literal(text('x')).bytes();
    expect(new TextDecoder().decode(plus)).toBe('{1+}\r\nx');
    const minus = new ImapWriter({ side: 'client', nonSyncLiterals: 'minus' })
      .literal(new Uint8Array(5000).fill(0x61))
      .finish();
    expect(minus.map((part) => part.kind)).toEqual(['bytes', 'await-continuation', 'bytes']);
  });

  it('refuses values that would break the stream', () => {
    expect(() => new ImapWriter({ side: 'server' }).raw('a\r\n')).toThrow();
    expect(() => new ImapWriter({ side: 'server' }).atom('a b')).toThrow();
    expect(() => new ImapWriter({ side: 'server' }).string('a\0')).toThrow();
    expect(() => new ImapWriter({ side: 'server' }).number(-1)).toThrow();
    expect(() => new ImapWriter({ side: 'server' }).literal(new Uint8Array([0]))).toThrow();
    expect(new ImapWriter({ side: 'server' }).literal(new Uint8Array([0]), true).bytes()).toEqual(
      new Uint8Array([0x7e, 0x7b, 0x31, 0x7d, 0x0d, 0x0a, 0]),
    );
    const streamed = new ImapWriter({ side: 'server' }).streamedLiteral({ size: 1, chunks: [text('x')] });
    expect(() => streamed.bytes()).toThrow();
  });

  it('round-trips any string through the reader, in any chunking', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.includes('\0')),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 5 }),
        (value, utf8Mode, cuts) => {
          const bytes = new ImapWriter({ side: 'server', utf8: utf8Mode })
            .raw('* X')
            .sp()
            .astring(value)
            .sp()
            .nstring(value)
            .crlf()
            .bytes();
          const [fragments] = messages(readAll({ side: 'client' }, split(bytes, cuts)));
          const c = new ImapCursor(fragments!, { maxDepth: 5 });
          c.expect(0x2a, '*');
          c.sp();
          c.word();
          c.sp();
          expect(c.astring()).toBe(value);
          c.sp();
          expect(c.nstring()).toBe(value);
          c.end();
        },
      ),
    );
  });
});

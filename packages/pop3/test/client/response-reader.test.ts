import { LimitExceededError, ProtocolError } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Pop3ResponseEvent,
  Pop3ResponseReader,
  type Pop3ResponseShape,
} from '../../src/client/response-reader.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Feeds `chunks` and collects every event, message bytes joined into one `message` entry per block. */
function read(
  shapes: readonly Pop3ResponseShape[],
  chunks: readonly string[],
  reader = new Pop3ResponseReader(),
) {
  for (const shape of shapes) reader.expect(shape);
  const events: (Pop3ResponseEvent | { type: 'message'; text: string })[] = [];
  let message = '';
  for (const chunk of chunks) {
    reader.push(encoder.encode(chunk));
    for (let event = reader.next(); event; event = reader.next()) {
      if (event.type === 'bytes') {
        message += decoder.decode(event.data);
        continue;
      }
      if (event.type === 'end' && message !== '') {
        events.push({ type: 'message', text: message });
        message = '';
      }
      events.push(event);
    }
  }
  return { events, reader };
}

/** Splits a transcript at the given offsets. */
function split(text: string, cuts: readonly number[]): string[] {
  const points = [...new Set(cuts.map((cut) => cut % (text.length + 1)))].sort((a, b) => a - b);
  const pieces: string[] = [];
  let start = 0;
  for (const point of points) {
    pieces.push(text.slice(start, point));
    start = point;
  }
  pieces.push(text.slice(start));
  return pieces;
}

describe('Pop3ResponseReader', () => {
  it('frames a session of single, listing, message and SASL responses', () => {
    const transcript = [
      '+OK POP3 ready <1.2@host>\r\n',
      '+ PDEyMz4=\r\n',
      '+OK logged in\r\n',
      '+OK\r\nTOP\r\n..dotted\r\n.\r\n',
      '+OK 12 octets\r\nSubject: a\r\n\r\n..one\r\n.\r\n',
      '-ERR [IN-USE] no\r\n',
      '+OK 1 2\r\n',
    ].join('');
    const { events, reader } = read(
      ['single', 'auth', 'auth', 'lines', 'block', 'block', 'single'],
      [transcript],
    );
    expect(events).toEqual([
      {
        type: 'status',
        line: '+OK POP3 ready <1.2@host>',
        status: { ok: true, text: 'POP3 ready <1.2@host>' },
        multiline: false,
      },
      { type: 'continuation', line: '+ PDEyMz4=', challenge: 'PDEyMz4=' },
      { type: 'status', line: '+OK logged in', status: { ok: true, text: 'logged in' }, multiline: false },
      { type: 'status', line: '+OK', status: { ok: true, text: '' }, multiline: true },
      { type: 'line', line: 'TOP' },
      { type: 'line', line: '.dotted' },
      { type: 'end' },
      { type: 'status', line: '+OK 12 octets', status: { ok: true, text: '12 octets' }, multiline: true },
      { type: 'message', text: 'Subject: a\r\n\r\n.one\r\n' },
      { type: 'end' },
      {
        type: 'status',
        line: '-ERR [IN-USE] no',
        status: { ok: false, code: 'IN-USE', text: 'no' },
        multiline: false,
      },
      { type: 'status', line: '+OK 1 2', status: { ok: true, text: '1 2' }, multiline: false },
    ]);
    expect(reader.awaited).toBe(0);
  });

  it('reads the same events whatever the chunking', () => {
    const transcript = '+OK\r\n1 abc\r\n.\r\n+OK\r\nline\r\n..\r\n.x\r\n\r\n.\r\n-ERR gone\r\n+ \r\n+OK\r\n';
    const shapes: Pop3ResponseShape[] = ['lines', 'block', 'block', 'auth', 'single'];
    const whole = read(shapes, [transcript]).events;
    expect(whole.map((event) => event.type)).toEqual([
      'status',
      'line',
      'end',
      'status',
      'message',
      'end',
      'status',
      'continuation',
      'status',
    ]);
    expect(whole[4]).toEqual({ type: 'message', text: 'line\r\n.\r\nx\r\n\r\n' });
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 12 }), (cuts) => {
        expect(read(shapes, split(transcript, cuts)).events).toEqual(whole);
      }),
    );
  });

  it('keeps stray CR and LF inside a message, and ends it only at CRLF.CRLF', () => {
    const { events } = read(['block', 'single'], ['+OK\r\na\nb\rc\n.\n.\r.\r\n\r\n.\r\n+OK\r\n']);
    expect(events[1]).toEqual({ type: 'message', text: 'a\nb\rc\n.\n.\r.\r\n\r\n' });
    expect(events.at(-1)).toMatchObject({ type: 'status', status: { ok: true } });
  });

  it('reads an empty message and an empty listing', () => {
    const { events } = read(['block', 'lines'], ['+OK\r\n.\r\n+OK\r\n.\r\n']);
    expect(events.map((event) => event.type)).toEqual(['status', 'end', 'status', 'end']);
  });

  it('takes status lines ended by a bare LF, and +OK and -ERR in any case', () => {
    const { events } = read(['single', 'single'], ['+ok fine\n-err no\r\n']);
    expect(events).toMatchObject([
      { status: { ok: true, text: 'fine' } },
      { status: { ok: false, text: 'no' } },
    ]);
  });

  it('treats +OK, not a continuation, as the end of an AUTH exchange', () => {
    const { events } = read(['auth', 'auth'], ['+OK\r\n+\r\n']);
    expect(events).toMatchObject([{ type: 'status' }, { type: 'continuation', challenge: '' }]);
  });

  it('refuses a response nobody asked for (case 7)', () => {
    const reader = new Pop3ResponseReader();
    reader.expect('single');
    reader.push(encoder.encode('+OK Begin TLS\r\n+OK\r\nPLAIN\r\n.\r\n'));
    expect(reader.next()).toMatchObject({ type: 'status' });
    expect(() => reader.next()).toThrow(ProtocolError);
  });

  it('refuses any line before the first response is awaited', () => {
    const reader = new Pop3ResponseReader();
    reader.push(encoder.encode('+OK hello\r\n'));
    expect(() => reader.next()).toThrow(/nobody asked for/);
  });

  it('refuses a line that is not a status line, and a continuation outside AUTH', () => {
    for (const line of ['354 do something else\r\n', '+ abc\r\n', 'OK\r\n', '\r\n']) {
      const reader = new Pop3ResponseReader();
      reader.expect('single');
      reader.push(encoder.encode(line));
      expect(() => reader.next()).toThrow(ProtocolError);
    }
  });

  it('refuses an over-long status line and an over-long listing', () => {
    const long = new Pop3ResponseReader({ maxLineLength: 16 });
    long.expect('single');
    long.push(encoder.encode(`+OK ${'x'.repeat(40)}\r\n`));
    expect(() => long.next()).toThrow(/malformed response line/);

    const listing = new Pop3ResponseReader({ maxListingLines: 2 });
    listing.expect('lines');
    listing.push(encoder.encode('+OK\r\n1 a\r\n2 b\r\n3 c\r\n.\r\n'));
    expect(listing.next()).toMatchObject({ type: 'status' });
    expect(listing.next()).toMatchObject({ type: 'line' });
    expect(listing.next()).toMatchObject({ type: 'line' });
    expect(() => listing.next()).toThrow(LimitExceededError);
  });

  it('forgets buffered bytes on reset, as STLS requires', () => {
    const reader = new Pop3ResponseReader();
    reader.expect('single');
    reader.push(encoder.encode('+OK\r\n+OK inj'));
    expect(reader.next()).toMatchObject({ type: 'status' });
    expect(reader.next()).toBeUndefined();
    expect(reader.buffered).toBe(7);
    reader.reset();
    expect(reader.buffered).toBe(0);
    reader.expect('single');
    reader.push(encoder.encode('+OK after\r\n'));
    expect(reader.next()).toMatchObject({ status: { text: 'after' } });
  });

  it('keeps order over many pipelined responses', () => {
    const count = 3000;
    const reader = new Pop3ResponseReader();
    for (let i = 0; i < count; i++) reader.expect(i % 2 ? 'single' : 'block');
    const texts: string[] = [];
    for (let i = 0; i < count; i++) texts.push(i % 2 ? `+OK ${i}\r\n` : `+OK\r\nmessage ${i}\r\n.\r\n`);
    const { events } = read([], [texts.join('')], reader);
    const statuses = events.filter((event) => event.type === 'status');
    expect(statuses).toHaveLength(count);
    expect(events.filter((event) => event.type === 'message').at(-1)).toEqual({
      type: 'message',
      text: `message ${count - 2}\r\n`,
    });
    expect(reader.awaited).toBe(0);
  });
});

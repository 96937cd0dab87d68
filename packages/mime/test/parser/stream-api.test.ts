import { concatBytes, decodeLatin1, utf8 } from '@postwire/core';
import { describe, expect, it } from 'vitest';
import { toByteStream } from '../../src/parser/input.js';
import { parseMessageStream } from '../../src/parser/stream-api.js';
import type { MimeEvent } from '../../src/parser/types.js';

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of source) out.push(item);
  return out;
}

const text = (chunks: Uint8Array[]) => decodeLatin1(concatBytes(chunks));

describe('toByteStream', () => {
  it('encodes a string as UTF-8 and passes bytes through', async () => {
    expect(text(await collect(toByteStream('caf\u00e9')))).toBe('caf\u00c3\u00a9');
    const bytes = utf8('abc');
    expect(await collect(toByteStream(bytes))).toEqual([bytes]);
  });

  it('reads async iterables of bytes or strings (a Node Readable is one)', async () => {
    async function* source() {
      yield utf8('a');
      yield 'b';
      yield Buffer.from('c');
    }
    expect(text(await collect(toByteStream(source())))).toBe('abc');
  });

  it('reads a web ReadableStream, and cancels it when the consumer stops early', async () => {
    let cancelled = false;
    const stream = () =>
      new ReadableStream<Uint8Array>({
        pull(controller) {
          controller.enqueue(utf8('x'));
        },
        cancel() {
          cancelled = true;
        },
      });
    let seen = 0;
    for await (const _ of toByteStream(stream())) if (++seen === 3) break;
    expect(cancelled).toBe(true);
    const finite = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(utf8('a'));
        controller.enqueue(utf8('b'));
        controller.close();
      },
    });
    expect(text(await collect(toByteStream(finite)))).toBe('ab');
  });
});

describe('parseMessageStream', () => {
  it('yields part headers, decoded body chunks and part ends as they arrive', async () => {
    async function* chunks() {
      yield 'Content-Transfer-Encoding: base64\r\n';
      yield '\r\naGVs';
      yield 'bG8=\r\n';
    }
    const seen = await collect(parseMessageStream(chunks()));
    expect(seen.map((event) => event.type)).toEqual(['part', 'body', 'body', 'part-end']);
    const body = seen.filter((event): event is Extract<MimeEvent, { type: 'body' }> => event.type === 'body');
    expect(text(body.map((event) => event.data))).toBe('hello');
  });

  it('streams a 200 MB attachment in 64 KB chunks in bounded memory', async () => {
    const size = 200 * 1024 * 1024;
    const line = `${Buffer.alloc(57, 0xa5).toString('base64')}\r\n`;
    const block = utf8(line.repeat(Math.floor(65_536 / line.length)));
    async function* message() {
      yield 'Content-Type: multipart/mixed; boundary=big\r\n\r\n--big\r\nContent-Transfer-Encoding: base64\r\n\r\n';
      for (let sent = 0; sent < size; sent += block.length) yield block;
      yield '\r\n--big--\r\n';
    }
    global.gc?.();
    const before = process.memoryUsage().rss;
    let decoded = 0;
    let peak = before;
    let ends = 0;
    for await (const event of parseMessageStream(message())) {
      if (event.type === 'body') {
        decoded += event.data.length;
        if ((decoded & 0xfffff) < event.data.length) peak = Math.max(peak, process.memoryUsage().rss);
      } else if (event.type === 'part-end') ends++;
    }
    expect(ends).toBe(2);
    expect(decoded).toBe((Math.ceil(size / block.length) * block.length * 57) / 78);
    expect(peak - before).toBeLessThan(100 * 1024 * 1024);
  }, 60_000);
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AbortError } from '../src/errors.js';
import { consumeStream, PushStream, streamChunks } from '../src/push-stream.js';

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (chunks: readonly Uint8Array[]) =>
  chunks.map((chunk) => new TextDecoder().decode(chunk)).join('');

async function iterate(content: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of content) chunks.push(chunk);
  return text(chunks);
}

describe('PushStream', () => {
  it('gives the reader what was pushed, in order, whether iterated or read as a web stream', async () => {
    for (const read of [
      iterate,
      (content: PushStream) => iterate(content.stream as unknown as AsyncIterable<Uint8Array>),
    ]) {
      const content = new PushStream();
      expect(content.push(bytes('one '))).toBeUndefined();
      const reading = read(content);
      content.push(bytes('two'));
      content.end();
      await expect(reading).resolves.toBe('one two');
      await expect(content.done).resolves.toBeUndefined();
    }
  });

  it('delivers any sequence of pushes, with reads interleaved anyhow, unchanged', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ minLength: 1 }), { maxLength: 20 }),
        fc.integer({ min: 1, max: 64 }),
        async (pieces, highWaterMark) => {
          const content = new PushStream({ highWaterMark });
          const reading = iterate(content);
          for (const piece of pieces) await content.push(bytes(piece));
          content.end();
          expect(await reading).toBe(pieces.join(''));
        },
      ),
    );
  });

  it('asks the producer to wait once the reader is a high-water mark behind, and resumes it on read', async () => {
    const content = new PushStream({ highWaterMark: 4 });
    expect(content.push(bytes('ab'))).toBeUndefined();
    const wait = content.push(bytes('cd'));
    expect(wait).toBeInstanceOf(Promise);
    let resumed = false;
    void wait!.then(() => {
      resumed = true;
    });
    await Promise.resolve();
    expect(resumed).toBe(false);
    await content[Symbol.asyncIterator]().next();
    await wait;
    expect(resumed).toBe(true);
  });

  it('drops what comes after the reader stops early, and wakes a waiting producer', async () => {
    for (const stop of [
      async (content: PushStream) => {
        await content.stream.cancel();
      },
      async (content: PushStream) => {
        for await (const _ of content) break;
      },
    ]) {
      const content = new PushStream({ highWaterMark: 1 });
      const wait = content.push(bytes('x'));
      await stop(content);
      await wait;
      expect(content.dropping).toBe(true);
      expect(content.push(bytes('y'))).toBeUndefined();
      content.end();
      await expect(content.done).resolves.toBeUndefined();
    }
  });

  it('fails the reader, waiting or not, when the producer fails, and rejects done', async () => {
    const content = new PushStream();
    const iterator = content[Symbol.asyncIterator]();
    const waiting = iterator.next();
    const failure = new Error('connection lost');
    content.fail(failure);
    await expect(waiting).rejects.toBe(failure);
    await expect(iterator.next()).rejects.toBe(failure);
    await expect(content.done).rejects.toBe(failure);
    const queued = new PushStream();
    queued.push(bytes('half'));
    queued.fail(failure);
    await expect(iterate(queued.stream as unknown as AsyncIterable<Uint8Array>)).rejects.toBe(failure);
  });

  it('discard fails a reader with AbortError, and does nothing once the content is complete', async () => {
    const discarded = new PushStream();
    discarded.push(bytes('part'));
    discarded.discard();
    await expect(iterate(discarded)).rejects.toBeInstanceOf(AbortError);
    const complete = new PushStream();
    complete.push(bytes('all'));
    complete.end();
    complete.discard();
    complete.fail(new Error('late'));
    await expect(iterate(complete)).resolves.toBe('all');
  });
});

describe('streamChunks', () => {
  it('yields a web stream’s chunks, and cancels the stream when the loop ends early', async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const piece of ['a', 'b', 'c']) controller.enqueue(bytes(piece));
        controller.close();
      },
    });
    const seen: Uint8Array[] = [];
    for await (const chunk of streamChunks(stream)) seen.push(chunk);
    expect(text(seen)).toBe('abc');
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(bytes('x'));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const _ of streamChunks(endless)) break;
    expect(cancelled).toBe(true);
    expect(endless.locked).toBe(false);
  });
});

describe('consumeStream', () => {
  it('hands each chunk over until told to stop, then cancels the stream', async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(bytes('x'));
      },
      cancel() {
        cancelled = true;
      },
    });
    let seen = 0;
    await consumeStream(stream, () => ++seen < 3);
    expect(seen).toBe(3);
    expect(cancelled).toBe(true);
    const finite = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes('a'));
        controller.enqueue(bytes('b'));
        controller.close();
      },
    });
    const chunks: Uint8Array[] = [];
    await consumeStream(finite, (chunk) => {
      chunks.push(chunk);
      return true;
    });
    expect(text(chunks)).toBe('ab');
  });
});

import { describe, expect, it } from 'vitest';
import { AbortError } from '../src/errors.js';
import { PushStream } from '../src/push-stream.js';

const bytes = (text: string) => new TextEncoder().encode(text);

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  let text = '';
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>)
    text += new TextDecoder().decode(chunk);
  return text;
}

describe('PushStream', () => {
  it('gives the reader what was pushed, in order, and ends', async () => {
    const content = new PushStream();
    expect(content.push(bytes('one '))).toBeUndefined();
    content.push(bytes('two'));
    content.end();
    await expect(readAll(content.stream)).resolves.toBe('one two');
    await expect(content.done).resolves.toBeUndefined();
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
    const reader = content.stream.getReader();
    await reader.read();
    await wait;
    expect(resumed).toBe(true);
  });

  it('drops what comes after the reader cancels, and wakes a waiting producer', async () => {
    const content = new PushStream({ highWaterMark: 1 });
    const wait = content.push(bytes('x'));
    await content.stream.cancel();
    await wait;
    expect(content.dropping).toBe(true);
    expect(content.push(bytes('y'))).toBeUndefined();
    content.end();
    await expect(content.done).resolves.toBeUndefined();
  });

  it('errors the stream when the producer fails, and rejects done', async () => {
    const content = new PushStream();
    content.push(bytes('half'));
    const failure = new Error('connection lost');
    content.fail(failure);
    await expect(readAll(content.stream)).rejects.toBe(failure);
    await expect(content.done).rejects.toBe(failure);
  });

  it('discard errors a reader with AbortError, and does nothing once the content is complete', async () => {
    const discarded = new PushStream();
    discarded.push(bytes('part'));
    discarded.discard();
    await expect(readAll(discarded.stream)).rejects.toBeInstanceOf(AbortError);
    const complete = new PushStream();
    complete.push(bytes('all'));
    complete.end();
    complete.discard();
    complete.fail(new Error('late'));
    await expect(readAll(complete.stream)).resolves.toBe('all');
  });
});

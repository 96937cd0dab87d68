import { AbortError, ConnectionError, ErrorCode } from '@postwire/core';
import { describe, expect, it } from 'vitest';
import { MessageStream } from '../../src/client/message-stream.js';

const chunk = (size: number): Uint8Array => new Uint8Array(size).fill(0x61);

describe('MessageStream', () => {
  it('asks the session to wait once its reader is behind, and resumes it as the reader reads', async () => {
    const message = new MessageStream();
    expect(message.push(chunk(1024))).toBeUndefined();
    const wait = message.push(chunk(512 * 1024));
    expect(wait).toBeInstanceOf(Promise);
    let resumed = false;
    void wait!.then(() => {
      resumed = true;
    });
    const reader = message.stream.getReader();
    await reader.read();
    await Promise.resolve();
    expect(resumed).toBe(false);
    await reader.read();
    await wait;
    message.end();
    expect((await reader.read()).done).toBe(true);
    await message.done;
  });

  it('drops the rest of a cancelled message and lets the session go on', async () => {
    const message = new MessageStream();
    const wait = message.push(chunk(300 * 1024));
    await message.stream.cancel();
    await wait;
    expect(message.push(chunk(10))).toBeUndefined();
    message.end();
    await message.done;
  });

  it('errors a stream whose rest is discarded, rather than shortening it', async () => {
    const message = new MessageStream();
    message.push(chunk(10));
    const reader = message.stream.getReader();
    message.discard();
    await expect(reader.read()).rejects.toBeInstanceOf(AbortError);
    expect(message.push(chunk(10))).toBeUndefined();
    message.end();
    await message.done;
  });

  it('does nothing on discard once the message is complete', async () => {
    const message = new MessageStream();
    message.push(chunk(3));
    message.end();
    message.discard();
    expect(new Uint8Array(await new Response(message.stream).arrayBuffer())).toEqual(chunk(3));
  });

  it('fails the stream and `done` when the session fails, and wakes a waiting session', async () => {
    const message = new MessageStream();
    const wait = message.push(chunk(300 * 1024));
    const failure = new ConnectionError(ErrorCode.ConnectionClosed, 'gone');
    message.fail(failure);
    await wait;
    await expect(message.done).rejects.toBe(failure);
    await expect(message.stream.getReader().read()).rejects.toBe(failure);
    message.fail(new Error('second'));
    await expect(message.done).rejects.toBe(failure);
  });
});

import { describe, expect, it } from 'vitest';
import { decodeLatin1, LineDecoder, LineReader } from '../src/index.js';
import { bytes } from './support/bytes.js';

function streamOf(chunks: string[]): { stream: ReadableStream<Uint8Array>; pulls: () => number } {
  let index = 0;
  let pulls = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        pulls++;
        const chunk = chunks[index++];
        if (chunk === undefined) controller.close();
        else controller.enqueue(bytes(chunk));
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, pulls: () => pulls };
}

describe('LineReader', () => {
  it('pulls bytes only when the decoder needs them, and reports the end', async () => {
    const { stream, pulls } = streamOf(['EHLO a\r\nMAIL', ' FROM:<x@y>\r\n', 'tail']);
    const reader = new LineReader(stream, new LineDecoder());
    const first = await reader.next();
    expect(first?.type === 'line' && decodeLatin1(first.line)).toBe('EHLO a');
    const pullsAfterFirst = pulls();
    const second = await reader.next();
    expect(second?.type === 'line' && decodeLatin1(second.line)).toBe('MAIL FROM:<x@y>');
    expect(pulls()).toBe(pullsAfterFirst + 1);
    expect(await reader.next()).toBeUndefined();
    expect(reader.decoder.buffered).toBe(4);
    expect(reader.ended).toBe(false);
  });

  it('lets the caller switch the decoder to a counted run between events', async () => {
    const { stream } = streamOf(['A1 APPEND x {5}\r\nhel', 'lo\r\n']);
    const reader = new LineReader(stream, new LineDecoder());
    await reader.next();
    reader.decoder.readBytes(5);
    const pieces: string[] = [];
    for (let event = await reader.next(); event; event = await reader.next()) {
      if (event.type === 'bytes') pieces.push(decodeLatin1(event.data));
      else if (event.type === 'line') pieces.push(`line:${decodeLatin1(event.line)}`);
    }
    expect(pieces).toEqual(['hel', 'lo', 'line:']);
    expect(reader.ended).toBe(true);
  });

  it('releases the stream for a new reader, and cancels it', async () => {
    const { stream } = streamOf(['a\r\n', 'b\r\n']);
    const first = new LineReader(stream, new LineDecoder());
    await first.next();
    first.release();
    const second = new LineReader(stream, new LineDecoder());
    const event = await second.next();
    expect(event?.type === 'line' && decodeLatin1(event.line)).toBe('b');
    await second.cancel();
    expect(await second.next()).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { streamContains } from '../../src/server/search.js';

async function* chunksOf(...parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* parts;
}

describe('streamContains', () => {
  it('finds needles split across chunks, in the middle of a UTF-8 character too', async () => {
    const bytes = new TextEncoder().encode('abc Grüße xyz');
    const split = bytes.indexOf(0xc3) + 1;
    const found = await streamContains(chunksOf(bytes.slice(0, split), bytes.slice(split)), [
      'GRÜSSE',
      'c g',
      'missing',
      '',
    ]);
    expect(found).toEqual([true, true, false, true]);
  });

  it('stops reading once every needle is found', async () => {
    let read = 0;
    async function* counted(): AsyncGenerator<Uint8Array> {
      // The space settles `one`: a combining mark in the next chunk could still have made it `oné`.
      for (const text of ['one ', 'two ', 'three']) {
        read++;
        yield new TextEncoder().encode(text);
      }
    }
    expect(await streamContains(counted(), ['ONE'])).toEqual([true]);
    expect(read).toBe(1);
  });
});

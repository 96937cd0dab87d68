import { LimitExceededError } from '@postwire/core';
import { describe, expect, it } from 'vitest';
import { ChangeFeed, MAX_UNREAD_CHANGES } from '../src/change-feed.js';

describe('ChangeFeed', () => {
  it('fails a subscriber that leaves too many changes unread, instead of queueing without bound', async () => {
    const feed = new ChangeFeed();
    const iterator = feed.subscribe()[Symbol.asyncIterator]();
    const first = iterator.next();
    feed.publish({ type: 'gone' });
    expect(await first).toEqual({ done: false, value: { type: 'gone' } });
    for (let i = 0; i <= MAX_UNREAD_CHANGES; i++) feed.publish({ type: 'expunge', uids: [i], modseq: i });
    await expect(async () => {
      for (;;) if ((await iterator.next()).done) break;
    }).rejects.toThrow(LimitExceededError);
    expect(feed.active).toBe(false);
  });

  it('gives nothing to a subscription whose signal already aborted', async () => {
    const feed = new ChangeFeed();
    const seen: unknown[] = [];
    for await (const change of feed.subscribe(AbortSignal.abort())) seen.push(change);
    expect(seen).toEqual([]);
  });

  it('ends a subscription made after end() at once', async () => {
    const feed = new ChangeFeed();
    feed.end();
    const next = feed.subscribe()[Symbol.asyncIterator]().next();
    const atOnce = await Promise.race([
      next,
      new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending'))),
    ]);
    expect(atOnce).toEqual({ done: true, value: undefined });
    expect(feed.active).toBe(false);
  });
});

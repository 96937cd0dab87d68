import { createMemoryStore } from '@postwire/store';
import { describe, expect, it } from 'vitest';
import { ImapStoreBridge } from '../../src/index.js';

describe('ImapStoreBridge', () => {
  it('owns the user handle: close() closes the open mailbox and releases the user once', async () => {
    const store = createMemoryStore();
    const mail = await store.user('alice');
    let releases = 0;
    const watched = new Proxy(mail, {
      get(target, property) {
        if (property === 'release')
          return async () => {
            releases++;
            await target.release();
          };
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const bridge = new ImapStoreBridge(watched);
    await bridge.run({ op: 'select', mailbox: 'INBOX', readOnly: false });
    await bridge.close();
    expect(releases).toBe(1);
    await expect(bridge.run({ op: 'fetch', uids: [1], structure: false, seen: false })).rejects.toThrow(
      /no mailbox is open/,
    );
  });
});

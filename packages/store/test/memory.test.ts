import { describe, expect, it } from 'vitest';
import { createMemoryStore, OverQuotaError } from '../src/index.js';
import { message, quotaContract, storeContract } from './contract.js';

storeContract('memory', async () => ({ store: createMemoryStore(), async cleanup() {} }));
quotaContract('memory', async (quota) => ({ store: createMemoryStore({ quota }), async cleanup() {} }));

describe('memory store quota', () => {
  it('refuses an append or a copy that would exceed the quota', async () => {
    const store = createMemoryStore({ quota: { storage: message('a').length * 2, messages: 10 } });
    const alice = await store.user('alice');
    const inbox = await alice.open('INBOX');
    await inbox.append(message('a'));
    await inbox.append(message('b'));
    await expect(inbox.append(message('c'))).rejects.toThrow(OverQuotaError);
    await expect(inbox.copy([1], 'INBOX')).rejects.toThrow(OverQuotaError);
    expect(await alice.quota()).toMatchObject({
      messages: 2,
      storageLimit: message('a').length * 2,
      messageLimit: 10,
    });
    await store.close();
  });
});

import { createMemoryStore } from '../src/index.js';
import { quotaContract, storeContract } from './contract.js';

storeContract('memory', async () => ({ store: createMemoryStore(), async cleanup() {} }));
quotaContract('memory', async (quota) => ({ store: createMemoryStore({ quota }), async cleanup() {} }));

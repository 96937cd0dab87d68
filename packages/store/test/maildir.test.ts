import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMaildirStore } from '../src/node/maildir.js';
import { storeContract } from './contract.js';

async function fresh(root?: string) {
  const dir = root ?? (await mkdtemp(join(tmpdir(), 'pw-maildir-')));
  return {
    store: createMaildirStore({ root: dir, pollInterval: 50 }),
    dir,
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

storeContract(
  'maildir',
  () => fresh(),
  async (fixture) => fresh((fixture as Awaited<ReturnType<typeof fresh>>).dir),
);

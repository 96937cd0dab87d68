import { describe, expect, it } from 'vitest';
import { importDkimPrivateKey, importDkimPublicKey } from '../../src/crypto/keys.js';
import { ed25519Key } from '../dkim/keys.js';

describe('imported key cache', () => {
  it('imports a key once while it is in use, and again after 256 others pushed it out', async () => {
    const key = ed25519Key();
    const first = await importDkimPublicKey(key.publicValue, 'ed25519');
    const again = await importDkimPublicKey(key.publicValue, 'ed25519');
    expect(first.ok && again.ok && first.value.key === again.value.key).toBe(true);
    // Failed imports are remembered as well; 256 of them push the key out.
    for (let i = 0; i < 256; i++) expect((await importDkimPublicKey(`!${i}`, 'ed25519')).ok).toBe(false);
    const later = await importDkimPublicKey(key.publicValue, 'ed25519');
    expect(first.ok && later.ok && first.value.key !== later.value.key).toBe(true);
  });

  it('keeps private keys by their text and key type', async () => {
    const { privatePem } = ed25519Key();
    const first = await importDkimPrivateKey(privatePem, 'ed25519');
    const again = await importDkimPrivateKey(privatePem, 'ed25519');
    expect(first.ok && again.ok && first.value === again.value).toBe(true);
    expect((await importDkimPrivateKey(privatePem, 'rsa')).ok).toBe(false);
  });
});

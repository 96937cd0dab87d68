import { createHash } from 'node:crypto';
import { createSha256 } from '@postwire/mailauth';
import { nodeSha256 } from '@postwire/mailauth/node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('SHA-256', () => {
  it('gives the FIPS 180-4 digests of the empty string and "abc"', () => {
    for (const factory of [createSha256, nodeSha256]) {
      const empty = factory();
      expect(hex(empty.digest())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
      const abc = factory();
      abc.update(new TextEncoder().encode('abc'));
      expect(hex(abc.digest())).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    }
  });

  it('property: any chunking gives the digest node:crypto gives for the whole input', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.array(fc.nat(300), { maxLength: 5 }),
        (bytes, cuts) => {
          const points = [
            0,
            ...cuts.map((cut) => Math.min(cut, bytes.length)).sort((a, b) => a - b),
            bytes.length,
          ];
          const hash = createSha256();
          for (let i = 1; i < points.length; i++) hash.update(bytes.subarray(points[i - 1], points[i]));
          expect(hex(hash.digest())).toBe(createHash('sha256').update(bytes).digest('hex'));
        },
      ),
    );
  });

  it('refuses use after the digest', () => {
    const hash = createSha256();
    hash.digest();
    expect(() => hash.update(new Uint8Array(1))).toThrow(TypeError);
    expect(() => hash.digest()).toThrow(TypeError);
  });
});

/** A hash computed in steps: bytes in with `update`, the digest out once with `digest`. */
export interface StreamingHash {
  /** Adds bytes to the hashed input. */
  update(bytes: Uint8Array): void;
  /** The digest of everything added; call it once. */
  digest(): Uint8Array;
}

/**
 * Makes a new SHA-256 {@link StreamingHash}. Web Crypto hashes only whole inputs, so the checks take one of
 * these to hash a body of any size in constant memory: {@link createSha256} everywhere, or a native one such
 * as `nodeSha256` from `@postwire/mailauth/node`.
 */
export type Sha256Factory = () => StreamingHash;

const ROUND_CONSTANTS = Uint32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

const INITIAL_STATE = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/** SHA-256 (FIPS 180-4) in plain JavaScript, for runtimes without a native streaming hash. */
export const createSha256: Sha256Factory = () => new Sha256();

/** The SHA-256 digest of `bytes`. */
export function sha256Digest(sha256: Sha256Factory, bytes: Uint8Array): Uint8Array {
  const hash = sha256();
  hash.update(bytes);
  return hash.digest();
}

class Sha256 implements StreamingHash {
  readonly #state = Uint32Array.from(INITIAL_STATE);
  readonly #block = new Uint8Array(64);
  readonly #words = new Uint32Array(64);
  #blockLength = 0;
  #totalLength = 0;
  #done = false;

  update(bytes: Uint8Array): void {
    if (this.#done) throw new TypeError('the SHA-256 digest has already been taken');
    this.#totalLength += bytes.length;
    let offset = 0;
    if (this.#blockLength > 0) {
      offset = Math.min(64 - this.#blockLength, bytes.length);
      this.#block.set(bytes.subarray(0, offset), this.#blockLength);
      this.#blockLength += offset;
      if (this.#blockLength < 64) return;
      this.#compress(this.#block, 0);
      this.#blockLength = 0;
    }
    for (; offset + 64 <= bytes.length; offset += 64) this.#compress(bytes, offset);
    this.#block.set(bytes.subarray(offset), 0);
    this.#blockLength = bytes.length - offset;
  }

  digest(): Uint8Array {
    if (this.#done) throw new TypeError('the SHA-256 digest has already been taken');
    this.#done = true;
    const block = this.#block;
    block.fill(0, this.#blockLength);
    block[this.#blockLength] = 0x80;
    if (this.#blockLength >= 56) {
      this.#compress(block, 0);
      block.fill(0);
    }
    const view = new DataView(block.buffer);
    const bits = this.#totalLength * 8;
    view.setUint32(56, Math.floor(bits / 0x1_0000_0000));
    view.setUint32(60, bits >>> 0);
    this.#compress(block, 0);
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) outView.setUint32(4 * i, this.#state[i]!);
    return out;
  }

  #compress(bytes: Uint8Array, offset: number): void {
    const w = this.#words;
    for (let i = 0; i < 16; i++) {
      const at = offset + 4 * i;
      w[i] = (bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!;
    }
    for (let i = 16; i < 64; i++) {
      const w15 = w[i - 15]!;
      const w2 = w[i - 2]!;
      const s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >>> 3);
      const s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >>> 10);
      w[i] = w[i - 16]! + s0 + w[i - 7]! + s1;
    }
    const state = this.#state;
    let a = state[0]!;
    let b = state[1]!;
    let c = state[2]!;
    let d = state[3]!;
    let e = state[4]!;
    let f = state[5]!;
    let g = state[6]!;
    let h = state[7]!;
    for (let i = 0; i < 64; i++) {
      const t1 =
        (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + ROUND_CONSTANTS[i]! + w[i]!) |
        0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    state[0] = state[0]! + a;
    state[1] = state[1]! + b;
    state[2] = state[2]! + c;
    state[3] = state[3]! + d;
    state[4] = state[4]! + e;
    state[5] = state[5]! + f;
    state[6] = state[6]! + g;
    state[7] = state[7]! + h;
  }
}

function rotr(value: number, bits: number): number {
  return (value >>> bits) | (value << (32 - bits));
}

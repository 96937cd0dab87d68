import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hmacMd5, md5 } from '../src/index.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const text = (value: string) => new TextEncoder().encode(value);
const repeat = (byte: number, length: number) => new Uint8Array(length).fill(byte);

describe('md5', () => {
  it.each([
    ['', 'd41d8cd98f00b204e9800998ecf8427e'],
    ['a', '0cc175b9c0f1b6a831c399e269772661'],
    ['abc', '900150983cd24fb0d6963f7d28e17f72'],
    ['message digest', 'f96b697d7cb7938d525a2f31aaf161d0'],
    ['abcdefghijklmnopqrstuvwxyz', 'c3fcd3d76192e4007dfb496cca67e13b'],
    ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', 'd174ab98d277d9f5a5611c2c9f419d9f'],
    [
      '12345678901234567890123456789012345678901234567890123456789012345678901234567890',
      '57edf4a22be3c955ac49da2e2107b67a',
    ],
  ])('RFC 1321 test suite: MD5(%j)', (input, expected) => {
    expect(hex(md5(text(input)))).toBe(expected);
  });

  it('agrees with node:crypto on arbitrary input, across padding boundaries', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        expect(hex(md5(data))).toBe(createHash('md5').update(data).digest('hex'));
      }),
    );
  });
});

describe('hmacMd5', () => {
  const block = Uint8Array.from({ length: 25 }, (_, i) => i + 1);
  it.each([
    [repeat(0x0b, 16), text('Hi There'), '9294727a3638bb1c13f48ef8158bfc9d'],
    [text('Jefe'), text('what do ya want for nothing?'), '750c783e6ab0b503eaa86e310a5db738'],
    [repeat(0xaa, 16), repeat(0xdd, 50), '56be34521d144c88dbb8c733f0e8b3f6'],
    [block, repeat(0xcd, 50), '697eaf0aca3a3aea3a75164746ffaa79'],
    [repeat(0x0c, 16), text('Test With Truncation'), '56461ef2342edc00f9bab995690efd4c'],
    [
      repeat(0xaa, 80),
      text('Test Using Larger Than Block-Size Key - Hash Key First'),
      '6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd',
    ],
    [
      repeat(0xaa, 80),
      text('Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data'),
      '6f630fad67cda0ee1fb1f562db3aa53e',
    ],
  ])('RFC 2202 §2 test case %#', (key, data, expected) => {
    expect(hex(hmacMd5(key, data))).toBe(expected);
  });

  it('agrees with node:crypto on arbitrary keys and data', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 150 }), fc.uint8Array({ maxLength: 150 }), (key, data) => {
        expect(hex(hmacMd5(key, data))).toBe(createHmac('md5', key).update(data).digest('hex'));
      }),
    );
  });
});

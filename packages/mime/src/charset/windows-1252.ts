import { decodeLatin1 } from '@postwire/core';

/**
 * windows-1252 as the WHATWG Encoding Standard defines it (and so `latin1`, `iso-8859-1` and
 * `us-ascii` labels). Written here because Node 20's `TextDecoder('windows-1252')` decodes
 * 0x80–0x9F as C1 controls on its fast path, unlike its own streaming path and the standard.
 */

/** WHATWG index-windows-1252 for 0x80–0x9F; the five unassigned bytes map to themselves. */
const C1_MAPPING = [
  0x20ac, 0x81, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x8d,
  0x17d, 0x8f, 0x90, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a,
  0x153, 0x9d, 0x17e, 0x178,
];
const C1 = /[\x80-\x9f]/;
const C1_ALL = /[\x80-\x9f]/g;

/** Decodes windows-1252 bytes (stateless: chunks can be decoded one by one). */
export function decodeWindows1252(bytes: Uint8Array): string {
  const text = decodeLatin1(bytes);
  return C1.test(text)
    ? text.replace(C1_ALL, (char) => String.fromCharCode(C1_MAPPING[char.charCodeAt(0) - 0x80]!))
    : text;
}

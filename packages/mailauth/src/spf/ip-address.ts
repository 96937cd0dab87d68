const IP4_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const IP6_GROUP = /^[0-9a-f]{1,4}$/i;

/** The 4 bytes of a dotted quad, each 0–255 without leading zeros (RFC 7208 §5.6 `ip4-network`), or `undefined`. */
export function parseIp4(text: string): Uint8Array | undefined {
  const octets = text.split('.');
  if (octets.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (const [i, octet] of octets.entries()) {
    if (!IP4_OCTET.test(octet) || Number(octet) > 255) return undefined;
    bytes[i] = Number(octet);
  }
  return bytes;
}

/**
 * The 16 bytes of an IPv6 address in one of the text forms of RFC 4291 §2.2 (eight groups, `::` once
 * for one or more zero groups, a dotted quad as the last 32 bits), or `undefined`.
 */
export function parseIp6(text: string): Uint8Array | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const compressed = halves.length === 2;
  const head = readGroups(halves[0]!, !compressed);
  const tail = compressed ? readGroups(halves[1]!, true) : [];
  if (head === undefined || tail === undefined) return undefined;
  const count = head.length + tail.length;
  if (compressed ? count > 7 : count !== 8) return undefined;
  const words = [...head, ...new Array<number>(8 - count).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  for (const [i, word] of words.entries()) {
    bytes[2 * i] = word >> 8;
    bytes[2 * i + 1] = word & 0xff;
  }
  return bytes;
}

/** The 16-bit words of `:`-separated groups; a dotted quad may end them when `last`. */
function readGroups(part: string, last: boolean): number[] | undefined {
  if (part === '') return [];
  const groups = part.split(':');
  const words: number[] = [];
  for (const [i, group] of groups.entries()) {
    if (last && i === groups.length - 1 && group.includes('.')) {
      const ip4 = parseIp4(group);
      if (ip4 === undefined) return undefined;
      words.push((ip4[0]! << 8) | ip4[1]!, (ip4[2]! << 8) | ip4[3]!);
    } else if (IP6_GROUP.test(group)) {
      words.push(Number.parseInt(group, 16));
    } else {
      return undefined;
    }
  }
  return words;
}

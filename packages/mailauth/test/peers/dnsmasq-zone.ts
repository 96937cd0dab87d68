import { isIP } from 'node:net';

/**
 * The records a test's DNS serves, and how they are written for dnsmasq (2.90, Debian's
 * dnsmasq-base). Every name not listed answers NXDOMAIN; a listed name (or a parent of one, such as
 * `_domainkey.example.test`) asked for a type it lacks answers NODATA. See /work/shared/PEERS.md,
 * "dnsmasq".
 */

/** One TXT record: one string (split into 255-byte character-strings on the wire), or its character-strings. */
export type DnsTxtRecord = string | readonly string[];

/** The records of a test zone, by type and owner name (case-insensitive, with or without the final dot). */
export interface DnsZone {
  /** TXT records; a name may have several (an SPF test with two `v=spf1` records, say). */
  readonly txt?: Readonly<Record<string, readonly DnsTxtRecord[]>>;
  /**
   * A records (dotted quads). Trap: dnsmasq also answers the reverse name of a name's first address
   * with a PTR to that name, unless `ptr` gives that reverse name its own records.
   */
  readonly a?: Readonly<Record<string, readonly string[]>>;
  /** AAAA records (any IPv6 text form); the same automatic PTR as for `a`. */
  readonly aaaa?: Readonly<Record<string, readonly string[]>>;
  /** MX records. */
  readonly mx?: Readonly<Record<string, readonly { readonly exchange: string; readonly priority: number }[]>>;
  /** PTR records, by reverse name (`1.2.0.192.in-addr.arpa`) or by the address itself (`192.0.2.1`). */
  readonly ptr?: Readonly<Record<string, readonly string[]>>;
}

/** dnsmasq's options for a zone: config-file lines, and the few options that must go on the command line. */
export interface DnsmasqZoneOptions {
  /** `txt-record=…` etc., one option per line, for a config file. */
  readonly lines: readonly string[];
  /** `--txt-record=…` for TXT records too long for a config-file line (see {@link dnsmasqZoneOptions}). */
  readonly args: readonly string[];
}

/** dnsmasq reads config files with a 1,024-byte line buffer; a longer line is cut and fails to parse. */
const MAX_CONFIG_LINE = 1_023;
const MAX_CHARACTER_STRING = 255;

/**
 * The dnsmasq options serving `zone`: `host-record`, `mx-host`, `ptr-record` and `txt-record`. (Not
 * `dns-rr`: a name that has only `dns-rr` records answers NXDOMAIN, not NODATA, for its other types.)
 *
 * TXT: in a config file each character-string is quoted, `\` and `"` escaped (dnsmasq turns `\t`,
 * `\n`, `\r`, `\b`, `\e` inside quotes into control characters, so every backslash is doubled). A
 * record whose line would pass dnsmasq's 1,023-byte line limit goes on the command line instead,
 * where dnsmasq takes the text literally and only a comma separates strings; such a record must not
 * contain a comma. Control characters are refused.
 */
export function dnsmasqZoneOptions(zone: DnsZone): DnsmasqZoneOptions {
  const lines: string[] = [];
  const args: string[] = [];
  for (const [name, records] of Object.entries(zone.txt ?? {})) {
    const owner = hostName(name);
    for (const record of records) {
      const strings = characterStrings(record, owner);
      const line = `txt-record=${owner},${strings.map(quote).join(',')}`;
      if (Buffer.byteLength(line) <= MAX_CONFIG_LINE) {
        lines.push(line);
      } else if (strings.every((string) => string.length > 0 && !string.includes(','))) {
        args.push(`--txt-record=${owner},${strings.join(',')}`);
      } else {
        throw new Error(
          `TXT record of ${owner}: over ${MAX_CONFIG_LINE} bytes with a comma or an empty string, which dnsmasq cannot serve`,
        );
      }
    }
  }
  for (const [family, records] of [
    [4, zone.a],
    [6, zone.aaaa],
  ] as const) {
    for (const [name, addresses] of Object.entries(records ?? {})) {
      for (const address of addresses) {
        if (isIP(address) !== family) throw new Error(`${name}: not an IPv${family} address: ${address}`);
        lines.push(`host-record=${hostName(name)},${address}`);
      }
    }
  }
  for (const [name, exchanges] of Object.entries(zone.mx ?? {})) {
    for (const { exchange, priority } of exchanges) {
      if (!Number.isInteger(priority) || priority < 0 || priority > 65_535) {
        throw new Error(`${name}: MX priority out of range: ${priority}`);
      }
      lines.push(`mx-host=${hostName(name)},${hostName(exchange)},${priority}`);
    }
  }
  for (const [key, targets] of Object.entries(zone.ptr ?? {})) {
    const owner = isIP(key) === 0 ? hostName(key) : reverseName(key);
    for (const target of targets) lines.push(`ptr-record=${owner},${hostName(target)}`);
  }
  return { lines, args };
}

/** The `in-addr.arpa` / `ip6.arpa` name of an IPv4 or IPv6 address (RFC 1035 §3.5, RFC 3596 §2.5). */
export function reverseName(address: string): string {
  const family = isIP(address);
  if (family === 4) return `${address.split('.').reverse().join('.')}.in-addr.arpa`;
  if (family !== 6) throw new Error(`not an IP address: ${address}`);
  return `${[...ipv6Hex(address)].reverse().join('.')}.ip6.arpa`;
}

/** The 32 hex digits of an IPv6 address. */
function ipv6Hex(address: string): string {
  let text = address.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [high, low] = [
      Number(dotted[1]) * 256 + Number(dotted[2]),
      Number(dotted[3]) * 256 + Number(dotted[4]),
    ];
    text = `${text.slice(0, dotted.index)}${high.toString(16)}:${low.toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((group) => group.padStart(4, '0')).join('');
}

/** A name as dnsmasq's options take it: no final dot, nothing that would break the option syntax. */
function hostName(name: string): string {
  const host = name.endsWith('.') ? name.slice(0, -1) : name;
  if (host === '' || /[\s,"'\\#/]|[^\x21-\x7e]/.test(host))
    throw new Error(`unusable DNS name: ${JSON.stringify(name)}`);
  return host;
}

/** A TXT record's character-strings, each at most 255 bytes. */
function characterStrings(record: DnsTxtRecord, owner: string): string[] {
  const strings = typeof record === 'string' ? splitBytes(record) : [...record];
  for (const string of strings) {
    if (Buffer.byteLength(string) > MAX_CHARACTER_STRING) {
      throw new Error(`TXT record of ${owner}: a character-string over ${MAX_CHARACTER_STRING} bytes`);
    }
    if (/[\x00-\x1f\x7f]/.test(string)) throw new Error(`TXT record of ${owner}: control characters`);
  }
  return strings;
}

/** `text` cut into pieces of at most 255 UTF-8 bytes, never inside a character. */
function splitBytes(text: string): string[] {
  const pieces: string[] = [];
  let piece = '';
  for (const char of text) {
    if (Buffer.byteLength(piece + char) > MAX_CHARACTER_STRING) {
      pieces.push(piece);
      piece = '';
    }
    piece += char;
  }
  pieces.push(piece);
  return pieces;
}

/** A character-string quoted for a dnsmasq config file. */
function quote(string: string): string {
  return `"${string.replace(/[\\"]/g, (char) => `\\${char}`)}"`;
}

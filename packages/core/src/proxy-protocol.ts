/**
 * The PROXY protocol of HAProxy (versions 1 and 2), by which a load balancer tells the server
 * behind it who the real client is. Sans-IO: bytes in, a header and the bytes after it out.
 * Specification: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt
 */
import { decodeLatin1, decodeUtf8, utf8 } from './bytes.js';
import { ErrorCode, InvalidArgumentError, PostwireError } from './errors.js';

/** The twelve bytes that open every version 2 header: `\r\n\r\n\0\r\nQUIT\n`. */
export const PROXY_V2_SIGNATURE: Uint8Array = new Uint8Array([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);

/** The longest version 1 header, CRLF included. */
export const PROXY_V1_MAX_LENGTH = 107;

/** The longest version 2 header: 16 fixed bytes and a 16-bit length. */
export const PROXY_V2_MAX_LENGTH = 16 + 0xffff;

/** Registered TLV types of version 2 (section 2.2 of the specification). */
export const ProxyTlvType = {
  /** The ALPN protocol the client negotiated with the proxy. */
  Alpn: 0x01,
  /** The host name the client asked for (SNI or Host), UTF-8. */
  Authority: 0x02,
  /** A CRC-32C checksum of the whole header. */
  Crc32c: 0x03,
  /** Padding, to be ignored. */
  Noop: 0x04,
  /** An opaque connection identifier of up to 128 bytes. */
  UniqueId: 0x05,
  /** TLS details of the client's connection to the proxy, with sub-TLVs. */
  Ssl: 0x20,
  /** The network namespace the connection was accepted in. */
  Netns: 0x30,
} as const;

/** The address family: IPv4, IPv6, UNIX socket, or none. */
export type ProxyFamily = 'inet' | 'inet6' | 'unix' | 'unspec';

/** The transport protocol behind the addresses: TCP / `SOCK_STREAM`, UDP / `SOCK_DGRAM`, or none. */
export type ProxyTransportProtocol = 'stream' | 'dgram' | 'unspec';

/** One side of a proxied connection. For `unix`, `address` is the socket path and `port` is 0. */
export interface ProxyEndpoint {
  /** The IP address (or socket path). */
  readonly address: string;
  /** The port. */
  readonly port: number;
}

/** A type-length-value extension of a version 2 header, kept as raw bytes. */
export interface ProxyTlv {
  /** The TLV's type byte (`PP2_TYPE_*`). */
  readonly type: number;
  /** The TLV's value. */
  readonly value: Uint8Array;
}

/**
 * A decoded PROXY header. `source` and `destination` are present exactly when `family` is not
 * `unspec`; only then do they replace the addresses of the connection. A `local` command (version 2
 * health checks from the proxy itself), a version 1 `UNKNOWN` and a version 2 `AF_UNSPEC` all keep
 * the real connection's addresses. IPv6 addresses are in RFC 5952 canonical form.
 */
export interface ProxyHeader {
  /** The PROXY protocol version of the header. */
  readonly version: 1 | 2;
  /** `proxy` for a relayed client connection, `local` for the proxy's own (version 2 only). */
  readonly command: 'proxy' | 'local';
  /** The address family of `source` and `destination`. */
  readonly family: ProxyFamily;
  /** The transport protocol of the proxied connection. */
  readonly protocol: ProxyTransportProtocol;
  /** The original client. */
  readonly source?: ProxyEndpoint;
  /** The address the client connected to, at the proxy. */
  readonly destination?: ProxyEndpoint;
  /** Version 2 extensions in wire order; empty for version 1, `local` and `unspec`. */
  readonly tlvs: readonly ProxyTlv[];
}

/** What {@link ProxyHeaderParser.push} returns: more bytes needed, or the header and the bytes after it. */
export type ProxyParseResult =
  | {
      /** More bytes are needed. */
      readonly status: 'incomplete';
    }
  | {
      /** The header is complete. */
      readonly status: 'done';
      /** The decoded header. */
      readonly header: ProxyHeader;
      /** The bytes after the header: the start of the proxied stream. */
      readonly rest: Uint8Array;
    };

const INCOMPLETE: ProxyParseResult = Object.freeze({ status: 'incomplete' });

const V1_PREFIX = utf8('PROXY ');
const V2_FIXED_LENGTH = 16;
const UNIX_PATH_LENGTH = 108;
const ADDRESS_BLOCK_LENGTH = { inet: 12, inet6: 36, unix: 2 * UNIX_PATH_LENGTH } as const;
const FAMILY_CODES = { unspec: 0x0, inet: 0x1, inet6: 0x2, unix: 0x3 } as const;
const PROTOCOL_CODES = { unspec: 0x0, stream: 0x1, dgram: 0x2 } as const;

/**
 * Reads a PROXY header (version 1 or 2, told apart by the first byte) from the first bytes of a
 * connection, fed in chunks of any size. It never holds more than one header's maximum size: a
 * version 1 line without its end within 107 bytes is an error at once. Anything malformed throws a
 * {@link PostwireError} with code `PROXY_PROTOCOL_ERROR`. One parser reads one header.
 */
export class ProxyHeaderParser {
  #buffer = new Uint8Array(0);
  #length = 0;
  #done = false;

  /** Adds received bytes; returns the header once complete, with every byte that followed it. */
  push(chunk: Uint8Array): ProxyParseResult {
    if (this.#done) throw new InvalidArgumentError('this PROXY header has already been read');
    let data = chunk;
    if (this.#length > 0) {
      this.#append(chunk);
      data = this.#buffer.subarray(0, this.#length);
    }
    const parsed = parseHeader(data);
    if (parsed === undefined) {
      if (data === chunk) this.#append(chunk);
      return INCOMPLETE;
    }
    this.#done = true;
    this.#buffer = new Uint8Array(0);
    this.#length = 0;
    return { status: 'done', header: parsed.header, rest: data.subarray(parsed.length) };
  }

  #append(chunk: Uint8Array): void {
    const needed = this.#length + chunk.length;
    if (needed > this.#buffer.length) {
      const grown = new Uint8Array(Math.max(needed, this.#buffer.length * 2, 64));
      grown.set(this.#buffer.subarray(0, this.#length));
      this.#buffer = grown;
    }
    this.#buffer.set(chunk, this.#length);
    this.#length = needed;
  }
}

/**
 * Encodes a header as its `version` says. Version 1 carries only TCP over IPv4 or IPv6, or
 * `UNKNOWN` (family `unspec`), and no TLVs. Throws an `InvalidArgumentError` for a header that
 * cannot be encoded: a malformed address or port, a missing endpoint, a `local` command with
 * addresses, or a version 2 header over its 64 KiB limit.
 */
export function serializeProxyHeader(header: ProxyHeader): Uint8Array {
  checkHeaderShape(header);
  return header.version === 1 ? serializeV1(header) : serializeV2(header);
}

function proxyError(message: string): PostwireError {
  return new PostwireError(ErrorCode.ProxyProtocol, message);
}

function parseHeader(data: Uint8Array): { header: ProxyHeader; length: number } | undefined {
  if (data.length === 0) return undefined;
  if (data[0] === V1_PREFIX[0]) return parseV1(data);
  if (data[0] === PROXY_V2_SIGNATURE[0]) return parseV2(data);
  throw proxyError('the connection does not start with a PROXY header');
}

function checkPrefix(data: Uint8Array, prefix: Uint8Array, what: string): void {
  const length = Math.min(data.length, prefix.length);
  for (let i = 0; i < length; i++) {
    if (data[i] !== prefix[i]) throw proxyError(`bad PROXY ${what} signature`);
  }
}

function parseV1(data: Uint8Array): { header: ProxyHeader; length: number } | undefined {
  checkPrefix(data, V1_PREFIX, 'v1');
  const end = data.subarray(0, PROXY_V1_MAX_LENGTH).indexOf(0x0a);
  if (end < 0) {
    if (data.length >= PROXY_V1_MAX_LENGTH) throw proxyError('PROXY v1 header longer than 107 bytes');
    return undefined;
  }
  if (data[end - 1] !== 0x0d) throw proxyError('PROXY v1 header does not end with CRLF');
  const line = data.subarray(0, end - 1);
  if (line.some((byte) => byte < 0x20 || byte > 0x7e)) throw proxyError('PROXY v1 header has a control byte');
  const fields = decodeLatin1(line).split(' ');
  const length = end + 1;
  if (fields[1] === 'UNKNOWN') {
    return {
      header: { version: 1, command: 'proxy', family: 'unspec', protocol: 'unspec', tlvs: [] },
      length,
    };
  }
  if (fields.length !== 6) throw proxyError('PROXY v1 header must have six fields');
  const [, proto, sourceAddress, destinationAddress, sourcePort, destinationPort] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  let family: 'inet' | 'inet6';
  let parseAddress: (text: string) => string | undefined;
  if (proto === 'TCP4') {
    family = 'inet';
    parseAddress = (text) => (parseIPv4(text) ? text : undefined);
  } else if (proto === 'TCP6') {
    family = 'inet6';
    parseAddress = (text) => {
      const bytes = parseIPv6(text);
      return bytes && formatIPv6(bytes);
    };
  } else {
    throw proxyError('PROXY v1 protocol must be TCP4, TCP6 or UNKNOWN');
  }
  const source = parseAddress(sourceAddress);
  const destination = parseAddress(destinationAddress);
  if (source === undefined || destination === undefined)
    throw proxyError(`PROXY v1 ${proto} address is malformed`);
  const ports = [parsePort(sourcePort), parsePort(destinationPort)];
  if (ports[0] === undefined || ports[1] === undefined) throw proxyError('PROXY v1 port is malformed');
  return {
    header: {
      version: 1,
      command: 'proxy',
      family,
      protocol: 'stream',
      source: { address: source, port: ports[0] },
      destination: { address: destination, port: ports[1] },
      tlvs: [],
    },
    length,
  };
}

function parseV2(data: Uint8Array): { header: ProxyHeader; length: number } | undefined {
  checkPrefix(data, PROXY_V2_SIGNATURE, 'v2');
  if (data.length < V2_FIXED_LENGTH) return undefined;
  const versionCommand = data[12]!;
  if (versionCommand >> 4 !== 2) throw proxyError('PROXY v2 header has an unknown version');
  const command = versionCommand & 0x0f;
  if (command > 1) throw proxyError('PROXY v2 header has an unknown command');
  const length = V2_FIXED_LENGTH + ((data[14]! << 8) | data[15]!);
  if (data.length < length) return undefined;
  if (command === 0) {
    return {
      header: { version: 2, command: 'local', family: 'unspec', protocol: 'unspec', tlvs: [] },
      length,
    };
  }
  const familyProtocol = data[13]!;
  const family = decodeFamily(familyProtocol >> 4);
  const protocol = decodeProtocol(familyProtocol & 0x0f);
  if (family === 'unspec') {
    return { header: { version: 2, command: 'proxy', family, protocol: 'unspec', tlvs: [] }, length };
  }
  if (protocol === 'unspec') throw proxyError('PROXY v2 header has an address family but no protocol');
  const block = data.subarray(V2_FIXED_LENGTH, length);
  const addressLength = ADDRESS_BLOCK_LENGTH[family];
  if (block.length < addressLength) throw proxyError('PROXY v2 address block is truncated');
  const [source, destination] = decodeEndpoints(family, block);
  return {
    header: {
      version: 2,
      command: 'proxy',
      family,
      protocol,
      source,
      destination,
      tlvs: decodeTlvs(block.subarray(addressLength)),
    },
    length,
  };
}

function decodeFamily(code: number): ProxyFamily {
  const family = (Object.keys(FAMILY_CODES) as ProxyFamily[]).find((name) => FAMILY_CODES[name] === code);
  if (family === undefined) throw proxyError('PROXY v2 header has an unknown address family');
  return family;
}

function decodeProtocol(code: number): ProxyTransportProtocol {
  const protocol = (Object.keys(PROTOCOL_CODES) as ProxyTransportProtocol[]).find(
    (name) => PROTOCOL_CODES[name] === code,
  );
  if (protocol === undefined) throw proxyError('PROXY v2 header has an unknown transport protocol');
  return protocol;
}

function decodeEndpoints(
  family: 'inet' | 'inet6' | 'unix',
  block: Uint8Array,
): [ProxyEndpoint, ProxyEndpoint] {
  if (family === 'unix') {
    return [
      { address: decodeUnixPath(block.subarray(0, UNIX_PATH_LENGTH)), port: 0 },
      { address: decodeUnixPath(block.subarray(UNIX_PATH_LENGTH, 2 * UNIX_PATH_LENGTH)), port: 0 },
    ];
  }
  const size = family === 'inet' ? 4 : 16;
  const format = family === 'inet' ? (bytes: Uint8Array) => bytes.join('.') : formatIPv6;
  const ports = 2 * size;
  return [
    { address: format(block.subarray(0, size)), port: (block[ports]! << 8) | block[ports + 1]! },
    { address: format(block.subarray(size, ports)), port: (block[ports + 2]! << 8) | block[ports + 3]! },
  ];
}

function decodeUnixPath(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return decodeUtf8(end < 0 ? bytes : bytes.subarray(0, end));
}

function decodeTlvs(bytes: Uint8Array): ProxyTlv[] {
  const tlvs: ProxyTlv[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (bytes.length - offset < 3) throw proxyError('PROXY v2 TLV is truncated');
    const end = offset + 3 + ((bytes[offset + 1]! << 8) | bytes[offset + 2]!);
    if (end > bytes.length) throw proxyError('PROXY v2 TLV is truncated');
    tlvs.push({ type: bytes[offset]!, value: bytes.slice(offset + 3, end) });
    offset = end;
  }
  return tlvs;
}

function checkHeaderShape(header: ProxyHeader): void {
  const hasEndpoints = header.source !== undefined && header.destination !== undefined;
  if (header.family === 'unspec') {
    if (header.source !== undefined || header.destination !== undefined || header.tlvs.length > 0) {
      throw new InvalidArgumentError('a PROXY header of family unspec carries no addresses and no TLVs');
    }
  } else if (!hasEndpoints) {
    throw new InvalidArgumentError('a PROXY header needs a source and a destination');
  }
  if (header.command === 'local' && (header.version === 1 || header.family !== 'unspec')) {
    throw new InvalidArgumentError('a LOCAL PROXY header is version 2 with family unspec');
  }
  if ((header.family === 'unspec') !== (header.protocol === 'unspec')) {
    throw new InvalidArgumentError('a PROXY header has both a family and a protocol, or neither');
  }
}

function serializeV1(header: ProxyHeader): Uint8Array {
  if (header.family === 'unspec') return utf8('PROXY UNKNOWN\r\n');
  if (header.family === 'unix' || header.protocol !== 'stream' || header.tlvs.length > 0) {
    throw new InvalidArgumentError('PROXY v1 carries only TCP over IPv4 or IPv6, without TLVs');
  }
  const source = header.source!;
  const destination = header.destination!;
  const addresses = [source.address, destination.address].map((address) => {
    if (header.family === 'inet' && parseIPv4(address)) return address;
    const bytes = header.family === 'inet6' ? parseIPv6(address) : undefined;
    if (bytes === undefined) throw new InvalidArgumentError(`not an ${header.family} address: ${address}`);
    return formatIPv6(bytes);
  });
  const proto = header.family === 'inet' ? 'TCP4' : 'TCP6';
  const ports = [checkPort(source.port), checkPort(destination.port)];
  return utf8(`PROXY ${proto} ${addresses[0]} ${addresses[1]} ${ports[0]} ${ports[1]}\r\n`);
}

function serializeV2(header: ProxyHeader): Uint8Array {
  const addressBlock = header.family === 'unspec' ? new Uint8Array(0) : encodeEndpoints(header);
  let length = addressBlock.length;
  for (const tlv of header.tlvs) {
    if (!Number.isInteger(tlv.type) || tlv.type < 0 || tlv.type > 0xff || tlv.value.length > 0xffff) {
      throw new InvalidArgumentError(
        'a PROXY v2 TLV has a type of one byte and at most 65535 bytes of value',
      );
    }
    length += 3 + tlv.value.length;
  }
  if (length > 0xffff)
    throw new InvalidArgumentError('a PROXY v2 header is limited to 65535 bytes after its start');
  const out = new Uint8Array(V2_FIXED_LENGTH + length);
  out.set(PROXY_V2_SIGNATURE);
  out[12] = header.command === 'local' ? 0x20 : 0x21;
  out[13] = (FAMILY_CODES[header.family] << 4) | PROTOCOL_CODES[header.protocol];
  out[14] = length >> 8;
  out[15] = length & 0xff;
  out.set(addressBlock, V2_FIXED_LENGTH);
  let offset = V2_FIXED_LENGTH + addressBlock.length;
  for (const tlv of header.tlvs) {
    out[offset] = tlv.type;
    out[offset + 1] = tlv.value.length >> 8;
    out[offset + 2] = tlv.value.length & 0xff;
    out.set(tlv.value, offset + 3);
    offset += 3 + tlv.value.length;
  }
  return out;
}

function encodeEndpoints(header: ProxyHeader): Uint8Array {
  const endpoints = [header.source!, header.destination!];
  if (header.family === 'unix') {
    const block = new Uint8Array(2 * UNIX_PATH_LENGTH);
    endpoints.forEach((endpoint, i) => {
      const path = utf8(endpoint.address);
      if (path.length > UNIX_PATH_LENGTH || path.includes(0)) {
        throw new InvalidArgumentError('a UNIX socket path has at most 108 bytes and no NUL');
      }
      block.set(path, i * UNIX_PATH_LENGTH);
    });
    return block;
  }
  const parse = header.family === 'inet' ? parseIPv4 : parseIPv6;
  const size = header.family === 'inet' ? 4 : 16;
  const block = new Uint8Array(2 * size + 4);
  endpoints.forEach((endpoint, i) => {
    const bytes = parse(endpoint.address);
    if (bytes === undefined)
      throw new InvalidArgumentError(`not an ${header.family} address: ${endpoint.address}`);
    block.set(bytes, i * size);
    const port = checkPort(endpoint.port);
    block[2 * size + 2 * i] = port >> 8;
    block[2 * size + 2 * i + 1] = port & 0xff;
  });
  return block;
}

function parsePort(text: string): number | undefined {
  if (!/^(?:0|[1-9][0-9]{0,4})$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 0xffff ? port : undefined;
}

function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff)
    throw new InvalidArgumentError(`not a port: ${port}`);
  return port;
}

const IPV4_PATTERN = /^(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:\.(?!$)|$)){4}$/;

/** Dotted-quad IPv4 without leading zeros, to four bytes. */
function parseIPv4(text: string): Uint8Array | undefined {
  if (!IPV4_PATTERN.test(text)) return undefined;
  return new Uint8Array(text.split('.').map(Number));
}

/** IPv6 text (RFC 4291 §2.2, with `::` and a trailing dotted quad, no zone), to sixteen bytes. */
function parseIPv6(text: string): Uint8Array | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = halves.map((half) => (half === '' ? [] : half.split(':')));
  const last = groups[groups.length - 1]!;
  const tail = last[last.length - 1];
  if (tail?.includes('.')) {
    const ipv4 = parseIPv4(tail);
    if (ipv4 === undefined) return undefined;
    last.splice(-1, 1, ((ipv4[0]! << 8) | ipv4[1]!).toString(16), ((ipv4[2]! << 8) | ipv4[3]!).toString(16));
  }
  const head = groups[0]!;
  const rest = groups.length === 2 ? groups[1]! : [];
  const count = head.length + rest.length;
  if (groups.length === 2 ? count > 7 : count !== 8) return undefined;
  const words = [...head, ...new Array<string>(8 - count).fill('0'), ...rest];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    const word = words[i]!;
    if (!/^[0-9a-fA-F]{1,4}$/.test(word)) return undefined;
    const value = Number.parseInt(word, 16);
    bytes[2 * i] = value >> 8;
    bytes[2 * i + 1] = value & 0xff;
  }
  return bytes;
}

/** Sixteen bytes to RFC 5952 text: lowercase, the longest run of two or more zero words as `::`. */
function formatIPv6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((bytes[i]! << 8) | bytes[i + 1]!);
  if (words.slice(0, 5).every((word) => word === 0) && words[5] === 0xffff) {
    return `::ffff:${bytes.subarray(12).join('.')}`;
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let start = 0; start < 8; start++) {
    let length = 0;
    while (start + length < 8 && words[start + length] === 0) length++;
    if (length > bestLength) {
      bestStart = start;
      bestLength = length;
    }
  }
  const hex = words.map((word) => word.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

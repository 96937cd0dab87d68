import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  concatBytes,
  ErrorCode,
  InvalidArgumentError,
  PostwireError,
  PROXY_V1_MAX_LENGTH,
  PROXY_V2_MAX_LENGTH,
  PROXY_V2_SIGNATURE,
  type ProxyHeader,
  ProxyHeaderParser,
  type ProxyParseResult,
  ProxyTlvType,
  serializeProxyHeader,
} from '../src/index.js';
import { bytes, splitAt } from './support/bytes.js';

/** Parses bytes fed as the given chunks; returns the header and every byte after it. */
function parseChunks(chunks: readonly Uint8Array[]): { header: ProxyHeader; rest: Uint8Array } | undefined {
  const parser = new ProxyHeaderParser();
  for (let i = 0; i < chunks.length; i++) {
    const result = parser.push(chunks[i]!);
    if (result.status === 'done')
      return { header: result.header, rest: concatBytes([result.rest, ...chunks.slice(i + 1)]) };
  }
  return undefined;
}

function parse(input: Uint8Array | string): ProxyParseResult {
  return new ProxyHeaderParser().push(typeof input === 'string' ? bytes(input) : input);
}

function expectProxyError(input: Uint8Array | string, message?: RegExp): void {
  let caught: unknown;
  try {
    parse(input);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(PostwireError);
  expect((caught as PostwireError).code).toBe(ErrorCode.ProxyProtocol);
  if (message) expect((caught as PostwireError).message).toMatch(message);
}

/** A version 2 header from its parts: command byte, family byte and block. */
function v2(
  versionCommand: number,
  familyProtocol: number,
  block: Uint8Array = new Uint8Array(0),
): Uint8Array {
  return concatBytes([
    PROXY_V2_SIGNATURE,
    new Uint8Array([versionCommand, familyProtocol, block.length >> 8, block.length & 0xff]),
    block,
  ]);
}

/** IPv6 in RFC 5952 form, canonicalised by the WHATWG URL parser, an independent implementation. */
const ipv6 = fc
  .ipV6()
  .map((address) => new URL(`http://[${address}]/`).hostname.slice(1, -1))
  .filter((address) => !/^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$/.test(address));
const port = fc.integer({ min: 0, max: 0xffff });
const endpoint = (address: fc.Arbitrary<string>) => fc.record({ address, port });
const unixPath = fc
  .string({ unit: 'binary', maxLength: 40 })
  .filter((path) => !path.includes('\0') && new TextEncoder().encode(path).length <= 108)
  .map((address) => ({ address, port: 0 }));
const tlvs = fc.array(
  fc.record({ type: fc.integer({ min: 0, max: 0xff }), value: fc.uint8Array({ maxLength: 40 }) }),
  { maxLength: 4 },
);
const unspec = (version: 1 | 2, command: 'proxy' | 'local'): ProxyHeader => ({
  version,
  command,
  family: 'unspec',
  protocol: 'unspec',
  tlvs: [],
});

const v1Header: fc.Arbitrary<ProxyHeader> = fc.oneof(
  fc.constant(unspec(1, 'proxy')),
  fc.record({
    version: fc.constant(1 as const),
    command: fc.constant('proxy' as const),
    family: fc.constant('inet' as const),
    protocol: fc.constant('stream' as const),
    source: endpoint(fc.ipV4()),
    destination: endpoint(fc.ipV4()),
    tlvs: fc.constant([]),
  }),
  fc.record({
    version: fc.constant(1 as const),
    command: fc.constant('proxy' as const),
    family: fc.constant('inet6' as const),
    protocol: fc.constant('stream' as const),
    source: endpoint(ipv6),
    destination: endpoint(ipv6),
    tlvs: fc.constant([]),
  }),
);

const v2Header: fc.Arbitrary<ProxyHeader> = fc.oneof(
  fc.constant(unspec(2, 'local')),
  fc.constant(unspec(2, 'proxy')),
  fc
    .tuple(
      fc.constantFrom(
        ['inet', fc.ipV4().map((address) => ({ address }))] as const,
        ['inet6', ipv6.map((address) => ({ address }))] as const,
        ['unix', unixPath] as const,
      ),
      fc.constantFrom('stream' as const, 'dgram' as const),
    )
    .chain(([[family, address], protocol]) =>
      fc.record({
        version: fc.constant(2 as const),
        command: fc.constant('proxy' as const),
        family: fc.constant(family),
        protocol: fc.constant(protocol),
        source: family === 'unix' ? unixPath : endpoint(address.map((a) => a.address)),
        destination: family === 'unix' ? unixPath : endpoint(address.map((a) => a.address)),
        tlvs,
      }),
    ),
);

describe('PROXY protocol', () => {
  it('parses what it serializes, for any header of either version', () => {
    fc.assert(
      fc.property(fc.oneof(v1Header, v2Header), (header) => {
        const result = parse(serializeProxyHeader(header));
        expect(result).toEqual({ status: 'done', header, rest: new Uint8Array(0) });
      }),
      { numRuns: 500 },
    );
  });

  it('gives the same header and rest bytes however the input is chunked', () => {
    fc.assert(
      fc.property(
        fc.oneof(v1Header, v2Header),
        fc.uint8Array({ maxLength: 30 }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (header, after, cuts) => {
          const input = concatBytes([serializeProxyHeader(header), after]);
          expect(parseChunks(splitAt(input, cuts))).toEqual({ header, rest: after });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('reads a version 1 header byte by byte, and keeps the bytes that follow', () => {
    const input = bytes('PROXY TCP4 192.0.2.1 198.51.100.7 56324 25\r\nEHLO x\r\n');
    const parser = new ProxyHeaderParser();
    let result: ProxyParseResult = { status: 'incomplete' };
    let i = 0;
    while (result.status === 'incomplete') result = parser.push(input.subarray(i, ++i));
    expect(i).toBe(44);
    expect(result).toEqual({
      status: 'done',
      header: {
        version: 1,
        command: 'proxy',
        family: 'inet',
        protocol: 'stream',
        source: { address: '192.0.2.1', port: 56324 },
        destination: { address: '198.51.100.7', port: 25 },
        tlvs: [],
      },
      rest: new Uint8Array(0),
    });
    expect(parse(input)).toMatchObject({ status: 'done', rest: bytes('EHLO x\r\n') });
  });

  it('shows IPv6 addresses in canonical form, IPv4-mapped ones in mixed notation', () => {
    const result = parse('PROXY TCP6 2001:DB8:0:0:1:0:0:1 0:0:0:0:0:FFFF:c000:0201 1 2\r\n');
    expect(result).toMatchObject({
      header: { source: { address: '2001:db8::1:0:0:1' }, destination: { address: '::ffff:192.0.2.1' } },
    });
    expect(parse('PROXY TCP6 :: ::1.2.3.4 1 2\r\n')).toMatchObject({
      header: { source: { address: '::' }, destination: { address: '::102:304' } },
    });
    expect(parse('PROXY TCP6 1:0:0:2:0:0:0:3 1:2:3:4:5:6:7:8 1 2\r\n')).toMatchObject({
      header: { source: { address: '1:0:0:2::3' }, destination: { address: '1:2:3:4:5:6:7:8' } },
    });
  });

  it('accepts anything after UNKNOWN, and keeps the real addresses', () => {
    expect(parse('PROXY UNKNOWN ffff:f...f:ffff 1.2.3.4 65535 65535\r\n')).toEqual({
      status: 'done',
      header: unspec(1, 'proxy'),
      rest: new Uint8Array(0),
    });
  });

  it('decodes version 2 TLVs and skips the block of LOCAL and AF_UNSPEC headers', () => {
    const header: ProxyHeader = {
      version: 2,
      command: 'proxy',
      family: 'inet',
      protocol: 'stream',
      source: { address: '10.0.0.1', port: 40000 },
      destination: { address: '10.0.0.2', port: 993 },
      tlvs: [
        { type: ProxyTlvType.Authority, value: bytes('imap.example') },
        { type: ProxyTlvType.UniqueId, value: new Uint8Array([1, 2, 3]) },
      ],
    };
    expect(parse(serializeProxyHeader(header))).toMatchObject({ header });
    expect(parse(v2(0x20, 0x11, new Uint8Array(12)))).toEqual({
      status: 'done',
      header: unspec(2, 'local'),
      rest: new Uint8Array(0),
    });
    expect(parse(v2(0x20, 0xff, new Uint8Array(3)))).toMatchObject({ header: unspec(2, 'local') });
    expect(parse(v2(0x21, 0x00, new Uint8Array(5)))).toMatchObject({ header: unspec(2, 'proxy') });
  });

  it('accepts a version 2 header of the maximum size', () => {
    const header: ProxyHeader = {
      ...unspec(2, 'proxy'),
      family: 'inet',
      protocol: 'stream',
      source: { address: '1.2.3.4', port: 1 },
      destination: { address: '5.6.7.8', port: 2 },
      tlvs: [{ type: ProxyTlvType.Noop, value: new Uint8Array(0xffff - 12 - 3) }],
    };
    const encoded = serializeProxyHeader(header);
    expect(encoded.length).toBe(PROXY_V2_MAX_LENGTH);
    expect(parseChunks(splitAt(encoded, [100, 30000]))).toEqual({ header, rest: new Uint8Array(0) });
  });

  it('rejects a connection that does not start with a signature', () => {
    expectProxyError('EHLO client\r\n', /does not start/);
    expectProxyError('PROXZ', /v1 signature/);
    expectProxyError(new Uint8Array([0x0d, 0x0a, 0x0d, 0x0a, 0x01]), /v2 signature/);
    expect(parse('PROX')).toEqual({ status: 'incomplete' });
    expect(parse(PROXY_V2_SIGNATURE.subarray(0, 7))).toEqual({ status: 'incomplete' });
  });

  it('stops at 107 bytes when a version 1 line does not end', () => {
    const line = bytes(`PROXY TCP4 ${'1'.repeat(200)}`);
    expect(parse(line.subarray(0, PROXY_V1_MAX_LENGTH - 1))).toEqual({ status: 'incomplete' });
    expectProxyError(line.subarray(0, PROXY_V1_MAX_LENGTH), /longer than 107/);
    const parser = new ProxyHeaderParser();
    expect(parser.push(line.subarray(0, 100))).toEqual({ status: 'incomplete' });
    expect(() => parser.push(line.subarray(100, 110))).toThrow(/longer than 107/);
  });

  it.each([
    ['PROXY UNKNOWN\n', /CRLF/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1\x002\r\n', /control byte/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n', /six fields/],
    ['PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n', /six fields/],
    ['PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n', /TCP4, TCP6 or UNKNOWN/],
    ['PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n', /address/],
    ['PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n', /address/],
    ['PROXY TCP4 1.2.3.4 256.6.7.8 1 2\r\n', /address/],
    ['PROXY TCP4 ::1 ::1 1 2\r\n', /address/],
    ['PROXY TCP6 1.2.3.4 ::1 1 2\r\n', /address/],
    ['PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n', /address/],
    ['PROXY TCP6 1::2::3 ::1 1 2\r\n', /address/],
    ['PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n', /address/],
    ['PROXY TCP6 1:2:3:4:5:6:7:8:: ::1 1 2\r\n', /address/],
    ['PROXY TCP6 1:2:3:4:5:6:7 ::1 1 2\r\n', /address/],
    ['PROXY TCP6 ::1.2.3 ::1 1 2\r\n', /address/],
    ['PROXY TCP6 :1:: ::1 1 2\r\n', /address/],
    ['PROXY TCP6 12345:: ::1 1 2\r\n', /address/],
    ['PROXY TCP6 1.2.3.4:: ::1 1 2\r\n', /address/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n', /port/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n', /port/],
    ['PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n', /port/],
  ])('rejects the version 1 header %j', (input, message) => {
    expectProxyError(input, message);
  });

  it.each([
    ['version 1', v2(0x11, 0x11, new Uint8Array(12)), /version/],
    ['an unknown command', v2(0x22, 0x11, new Uint8Array(12)), /command/],
    ['a bad family', v2(0x21, 0x41, new Uint8Array(12)), /address family/],
    ['a bad protocol', v2(0x21, 0x13, new Uint8Array(12)), /transport protocol/],
    ['a family without protocol', v2(0x21, 0x10, new Uint8Array(12)), /no protocol/],
    ['a truncated IPv4 block', v2(0x21, 0x11, new Uint8Array(11)), /truncated/],
    ['a truncated IPv6 block', v2(0x21, 0x21, new Uint8Array(35)), /truncated/],
    ['a truncated UNIX block', v2(0x21, 0x31, new Uint8Array(215)), /truncated/],
    ['a truncated TLV header', v2(0x21, 0x11, new Uint8Array(14)), /TLV/],
    [
      'a TLV longer than the block',
      v2(0x21, 0x11, concatBytes([new Uint8Array(12), bytes('\x01\x00\x05ab')])),
      /TLV/,
    ],
  ])('rejects a version 2 header with %s', (_name, input, message) => {
    expectProxyError(input, message);
  });

  it('waits for a version 2 header that is not complete yet', () => {
    const whole = v2(0x21, 0x11, new Uint8Array(12));
    for (let end = 0; end < whole.length; end++)
      expect(parse(whole.subarray(0, end))).toEqual({ status: 'incomplete' });
  });

  it('reads a UNIX path that fills its field without a NUL', () => {
    const path = 'p'.repeat(108);
    const header: ProxyHeader = {
      ...unspec(2, 'proxy'),
      family: 'unix',
      protocol: 'stream',
      source: { address: path, port: 0 },
      destination: { address: '/run/x', port: 0 },
    };
    expect(parse(serializeProxyHeader(header))).toMatchObject({ header });
  });

  it('reads one header per parser', () => {
    const parser = new ProxyHeaderParser();
    parser.push(bytes('PROXY UNKNOWN\r\n'));
    expect(() => parser.push(bytes('PROXY UNKNOWN\r\n'))).toThrow(InvalidArgumentError);
  });

  const inet: ProxyHeader = {
    version: 2,
    command: 'proxy',
    family: 'inet',
    protocol: 'stream',
    source: { address: '1.2.3.4', port: 1 },
    destination: { address: '5.6.7.8', port: 2 },
    tlvs: [],
  };

  it.each<[string, ProxyHeader]>([
    ['a LOCAL v1 header', unspec(1, 'local')],
    ['a LOCAL header with addresses', { ...inet, command: 'local' }],
    ['unspec with addresses', { ...inet, family: 'unspec', protocol: 'unspec' }],
    ['unspec with TLVs', { ...unspec(2, 'proxy'), tlvs: [{ type: 1, value: new Uint8Array(1) }] }],
    ['a family without addresses', { ...unspec(2, 'proxy'), family: 'inet', protocol: 'stream' }],
    ['a family without protocol', { ...inet, protocol: 'unspec' }],
    ['v1 over UDP', { ...inet, version: 1, protocol: 'dgram' }],
    ['v1 over UNIX', { ...inet, version: 1, family: 'unix' }],
    ['v1 with TLVs', { ...inet, version: 1, tlvs: [{ type: 1, value: new Uint8Array(1) }] }],
    ['a bad v1 IPv4 address', { ...inet, version: 1, source: { address: '1.2.3', port: 1 } }],
    [
      'a bad v1 IPv6 address',
      { ...inet, version: 1, family: 'inet6', source: { address: '1.2.3.4', port: 1 } },
    ],
    ['a bad v2 address', { ...inet, source: { address: '::1', port: 1 } }],
    ['a port out of range', { ...inet, destination: { address: '5.6.7.8', port: 65536 } }],
    ['a fractional port', { ...inet, version: 1, destination: { address: '5.6.7.8', port: 1.5 } }],
    ['a TLV type over 255', { ...inet, tlvs: [{ type: 256, value: new Uint8Array(0) }] }],
    ['a TLV over 65535 bytes', { ...inet, tlvs: [{ type: 1, value: new Uint8Array(0x10000) }] }],
    [
      'a header over 65535 bytes',
      {
        ...inet,
        tlvs: [
          { type: 1, value: new Uint8Array(0xffff) },
          { type: 1, value: new Uint8Array(1) },
        ],
      },
    ],
    [
      'a UNIX path over 108 bytes',
      { ...inet, family: 'unix', source: { address: 'p'.repeat(109), port: 0 } },
    ],
    ['a UNIX path with NUL', { ...inet, family: 'unix', source: { address: 'a\0b', port: 0 } }],
  ])('refuses to serialize %s', (_name, header) => {
    expect(() => serializeProxyHeader(header)).toThrow(InvalidArgumentError);
  });
});

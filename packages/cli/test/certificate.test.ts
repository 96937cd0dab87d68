import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { ErrorCode, InvalidArgumentError } from '@postwire/core';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createSelfSignedCertificate,
  der,
  loadOrCreateCertificate,
  type SelfSignedCertificate,
} from '../src/node/certificate.js';

/** Made once: key generation is quick, but most tests only look at the default certificate. */
const fallback = createSelfSignedCertificate();
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

const scratch = mkdtempSync(join(tmpdir(), 'postwire-certificate-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let scratchCount = 0;
/** A fresh directory path under the scratch directory (not yet created). */
function freshDirectory(): string {
  scratchCount += 1;
  return join(scratch, `case-${scratchCount}`, 'tls');
}

/** Parses one DER element at `offset`: tag, content length and where the contents start. */
function readElement(bytes: Uint8Array, offset = 0): { tag: number; length: number; start: number } {
  const tag = bytes[offset]!;
  const first = bytes[offset + 1]!;
  if (first < 0x80) return { tag, length: first, start: offset + 2 };
  const count = first & 0x7f;
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + bytes[offset + 2 + i]!;
  return { tag, length, start: offset + 2 + count };
}

/** The contents of a DER element that fills `bytes`. */
function contentsOf(bytes: Uint8Array): Uint8Array {
  const { length, start } = readElement(bytes);
  expect(start + length).toBe(bytes.length);
  return bytes.subarray(start);
}

/** Reads a DER INTEGER's contents as two's complement. */
function twosComplement(octets: Uint8Array): bigint {
  let value = 0n;
  for (const octet of octets) value = (value << 8n) | BigInt(octet);
  return octets.length > 0 && (octets[0]! & 0x80) !== 0 ? value - (1n << BigInt(octets.length * 8)) : value;
}

/** The certificate's DER bytes, from its PEM. */
function derOf(cert: string): Buffer {
  return Buffer.from(cert.replace(/-----[^-]+-----|\s/g, ''), 'base64');
}

describe('DER encoding', () => {
  it('encodes lengths in the short form below 128 and in the shortest long form above', () => {
    expect([...der.length(0)]).toEqual([0]);
    expect([...der.length(127)]).toEqual([0x7f]);
    expect([...der.length(128)]).toEqual([0x81, 0x80]);
    expect([...der.length(255)]).toEqual([0x81, 0xff]);
    expect([...der.length(256)]).toEqual([0x82, 0x01, 0x00]);
    expect(() => der.length(-1)).toThrow(RangeError);
    expect(() => der.length(1.5)).toThrow(RangeError);
  });

  it('reads back every length it writes, in the fewest octets', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        const encoded = der.length(n);
        const parsed = readElement(Uint8Array.of(0x04, ...encoded));
        expect(parsed.length).toBe(n);
        expect(parsed.start).toBe(1 + encoded.length);
        if (n < 0x80) expect(encoded.length).toBe(1);
        else expect(encoded[1]).not.toBe(0);
      }),
    );
  });

  it('wraps contents of any size in an element whose length reads back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70_000 }), (size) => {
        const element = der.octetString(new Uint8Array(size));
        const parsed = readElement(element);
        expect(parsed).toMatchObject({ tag: 0x04, length: size });
        expect(parsed.start + size).toBe(element.length);
      }),
      { numRuns: 50 },
    );
  });

  it('encodes integers in minimal two’s complement, with a zero octet when the top bit is set', () => {
    expect([...der.integer(0)]).toEqual([0x02, 0x01, 0x00]);
    expect([...der.integer(2)]).toEqual([0x02, 0x01, 0x02]);
    expect([...der.integer(127)]).toEqual([0x02, 0x01, 0x7f]);
    expect([...der.integer(128)]).toEqual([0x02, 0x02, 0x00, 0x80]);
    expect([...der.integer(256)]).toEqual([0x02, 0x02, 0x01, 0x00]);
    expect([...der.integer(Uint8Array.of(0, 0, 0xff))]).toEqual([0x02, 0x02, 0x00, 0xff]);
    expect([...der.integer(new Uint8Array(0))]).toEqual([0x02, 0x01, 0x00]);
    expect(() => der.integer(-1)).toThrow(RangeError);
  });

  it('reads back every non-negative integer, from a bigint or from octets with leading zeros', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 300n) - 1n }), fc.nat({ max: 4 }), (value, zeros) => {
        const encoded = der.integer(value);
        expect(encoded[0]).toBe(0x02);
        const contents = contentsOf(encoded);
        expect(twosComplement(contents)).toBe(value);
        // Minimal (X.690 §8.3.2): the first nine bits are never all zero.
        if (contents.length > 1) expect(contents[0] === 0 && contents[1]! < 0x80).toBe(false);
        const hex = value.toString(16);
        const octets = Buffer.from('00'.repeat(zeros) + (hex.length % 2 === 0 ? hex : `0${hex}`), 'hex');
        expect([...der.integer(octets)]).toEqual([...encoded]);
      }),
    );
  });

  it('encodes object identifiers, the first two arcs together and the rest in base 128', () => {
    const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
    expect(hex(der.oid('1.2.840.10045.4.3.2'))).toBe('06082a8648ce3d040302');
    expect(hex(der.oid('2.5.29.17'))).toBe('0603551d11');
    expect(hex(der.oid('1.3.6.1.5.5.7.3.1'))).toBe('06082b06010505070301');
    expect(hex(der.oid('2.999.3'))).toBe('0603883703');
    for (const bad of ['1', '3.1', '1.2.x', '1.-2', '']) expect(() => der.oid(bad), bad).toThrow(RangeError);
  });

  it('reads back every object identifier it writes', () => {
    const decode = (contents: Uint8Array): number[] => {
      const values: number[] = [];
      let value = 0;
      for (const octet of contents) {
        value = value * 128 + (octet & 0x7f);
        if ((octet & 0x80) === 0) {
          values.push(value);
          value = 0;
        }
      }
      const [first = 0, ...rest] = values;
      return first < 80 ? [Math.floor(first / 40), first % 40, ...rest] : [2, first - 80, ...rest];
    };
    const arc = fc.nat({ max: 2 ** 40 });
    const oid = fc.oneof(
      fc.tuple(fc.integer({ min: 0, max: 1 }), fc.nat({ max: 39 }), fc.array(arc)),
      fc.tuple(fc.constant(2), arc, fc.array(arc)),
    );
    fc.assert(
      fc.property(oid, ([first, second, rest]) => {
        const arcs = [first, second, ...rest];
        const encoded = der.oid(arcs.join('.'));
        expect(encoded[0]).toBe(0x06);
        expect(decode(contentsOf(encoded))).toEqual(arcs);
      }),
    );
  });

  it('encodes the simple types', () => {
    const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
    expect(hex(der.boolean(true))).toBe('0101ff');
    expect(hex(der.boolean(false))).toBe('010100');
    expect(hex(der.bitString(Uint8Array.of(0x80), 7))).toBe('03020780');
    expect(hex(der.bitString(Uint8Array.of(1, 2)))).toBe('0303000102');
    expect(hex(der.sequence())).toBe('3000');
    expect(hex(der.set(der.boolean(true)))).toBe('31030101ff');
    expect(hex(der.explicit(3, der.integer(1)))).toBe('a303020101');
    expect(hex(der.implicit(7, Uint8Array.of(127, 0, 0, 1)))).toBe('87047f000001');
    expect(hex(der.ia5String('a.b'))).toBe('1603612e62');
    expect(hex(der.directoryString('Dev CA'))).toBe('1306446576204341');
    expect(hex(der.directoryString('Dev_CA'))).toBe('0c064465765f4341');
    expect(hex(der.directoryString('é'))).toBe('0c02c3a9');
  });

  it('writes a UTCTime before 2050 and from 1950, a GeneralizedTime otherwise, to the second', () => {
    const text = (bytes: Uint8Array): string => `${bytes[0]}:${Buffer.from(contentsOf(bytes)).toString()}`;
    expect(text(der.time(new Date('2049-12-31T23:59:59.999Z')))).toBe('23:491231235959Z');
    expect(text(der.time(new Date('2050-01-01T00:00:00Z')))).toBe('24:20500101000000Z');
    expect(text(der.time(new Date('1950-01-01T00:00:00Z')))).toBe('23:500101000000Z');
    expect(text(der.time(new Date('1949-12-31T23:59:59Z')))).toBe('24:19491231235959Z');
  });
});

describe('createSelfSignedCertificate', () => {
  it('makes a certificate that Node parses, for localhost and the loopback addresses by default', () => {
    const x509 = new X509Certificate(fallback.cert);
    expect(x509.subject).toBe('CN=Postwire dev server');
    expect(x509.issuer).toBe('CN=Postwire dev server');
    expect(x509.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(x509.checkHost('localhost')).toBe('localhost');
    expect(x509.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(x509.checkIP('::1')).toBe('::1');
    expect(x509.checkHost('example.test')).toBeUndefined();
    expect(x509.checkIP('127.0.0.2')).toBeUndefined();
    expect(x509.ca).toBe(false);
    expect(x509.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']);
    expect(x509.fingerprint256).toBe(fallback.fingerprint256);
    expect(fallback.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('signs it with its own key, ECDSA P-256 with SHA-256, and returns that key as PKCS#8', () => {
    const x509 = new X509Certificate(fallback.cert);
    expect(x509.verify(x509.publicKey)).toBe(true);
    expect(x509.publicKey.asymmetricKeyType).toBe('ec');
    expect(x509.publicKey.asymmetricKeyDetails).toEqual({ namedCurve: 'prime256v1' });
    expect(fallback.key).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+\n-----END PRIVATE KEY-----\n$/);
    expect(x509.checkPrivateKey(createPrivateKey(fallback.key))).toBe(true);
    expect(x509.checkPrivateKey(createPrivateKey(createSelfSignedCertificate().key))).toBe(false);
    expect(fallback.cert).toMatch(
      /^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE-----\n$/,
    );
  });

  it('is valid from an hour ago to 825 days from now, to the second', () => {
    const before = Math.floor(Date.now() / 1000) * 1000;
    const made = createSelfSignedCertificate();
    const after = Date.now();
    const x509 = new X509Certificate(made.cert);
    const issued = Date.parse(x509.validFrom) + HOUR_MS;
    expect(issued).toBeGreaterThanOrEqual(before);
    expect(issued).toBeLessThanOrEqual(after);
    expect(Date.parse(x509.validTo) - issued).toBe(825 * DAY_MS);
  });

  it('takes the start, the length and the names it is given', () => {
    const made = createSelfSignedCertificate({
      now: new Date('2030-05-06T07:08:09.750Z'),
      days: 30,
      commonName: 'Mail test – ü',
      hostnames: [
        'Mail.Example.TEST',
        '*.example.test',
        'bücher.example',
        '192.0.2.7',
        '2001:DB8::1',
        '::ffff:192.0.2.1',
      ],
    });
    const x509 = new X509Certificate(made.cert);
    expect(x509.subject).toBe('CN=Mail test – ü');
    expect(x509.issuer).toBe('CN=Mail test – ü');
    expect(x509.validFrom).toBe('May  6 06:08:09 2030 GMT');
    expect(x509.validTo).toBe('Jun  5 07:08:09 2030 GMT');
    expect(x509.subjectAltName).toBe(
      'DNS:mail.example.test, DNS:*.example.test, DNS:xn--bcher-kva.example, IP Address:192.0.2.7, ' +
        'IP Address:2001:DB8:0:0:0:0:0:1, IP Address:0:0:0:0:0:FFFF:C000:201',
    );
    expect(x509.checkHost('mail.example.test')).toBe('mail.example.test');
    expect(x509.checkHost('other.example.test')).toBe('*.example.test');
    expect(x509.checkHost('xn--bcher-kva.example')).toBe('xn--bcher-kva.example');
    expect(x509.checkIP('2001:db8:0::1')).toBe('2001:db8:0::1');
    expect(x509.checkIP('::ffff:c000:201')).toBe('::ffff:c000:201');
    expect(x509.checkHost('localhost')).toBeUndefined();
    expect(x509.verify(x509.publicKey)).toBe(true);
  });

  it('writes each IPv6 address as its 16 octets, however it is spelled', () => {
    const word = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(word, { minLength: 8, maxLength: 8 }), fc.boolean(), (words, dottedTail) => {
        const full = words.map((w) => w.toString(16));
        // The longest run of zero groups (if any) becomes `::`.
        let best = { at: -1, length: 0 };
        for (let at = 0; at < 8; at++) {
          let length = 0;
          while (at + length < 8 && words[at + length] === 0) length += 1;
          if (length > best.length) best = { at, length };
        }
        const compressed =
          best.length === 0
            ? full.join(':')
            : `${full.slice(0, best.at).join(':')}::${full.slice(best.at + best.length).join(':')}`;
        const [w6 = 0, w7 = 0] = words.slice(6);
        const dotted = `${full.slice(0, 6).join(':')}:${w6 >> 8}.${w6 & 0xff}.${w7 >> 8}.${w7 & 0xff}`;
        const spelled = dottedTail ? dotted : compressed;
        const x509 = new X509Certificate(createSelfSignedCertificate({ hostnames: [spelled] }).cert);
        expect(x509.subjectAltName).toBe(`IP Address:${full.join(':').toUpperCase()}`);
        expect(x509.checkIP(full.join(':'))).toBeDefined();
      }),
      { numRuns: 60 },
    );
  });

  it('writes the names once each, however often they are asked for', () => {
    const made = createSelfSignedCertificate({ hostnames: ['localhost', 'LOCALHOST', '::1', '0:0::1'] });
    expect(new X509Certificate(made.cert).subjectAltName).toBe('DNS:localhost, IP Address:0:0:0:0:0:0:0:1');
  });

  it('uses a UTCTime up to 2049 and a GeneralizedTime from 2050, which Node reads alike', () => {
    const across = new X509Certificate(
      createSelfSignedCertificate({ now: new Date('2049-12-31T12:00:00Z'), days: 1 }).cert,
    );
    expect(across.validFrom).toBe('Dec 31 11:00:00 2049 GMT');
    expect(across.validTo).toBe('Jan  1 12:00:00 2050 GMT');
    const old = new X509Certificate(
      createSelfSignedCertificate({ now: new Date('1949-06-01T00:00:00Z'), days: 1 }).cert,
    );
    expect(old.validFrom).toBe('May 31 23:00:00 1949 GMT');
    expect(old.validTo).toBe('Jun  2 00:00:00 1949 GMT');
  });

  it('gives each certificate a random positive 16-octet serial number', () => {
    const serials = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const serial = new X509Certificate(createSelfSignedCertificate().cert).serialNumber;
      expect(serial).toMatch(/^[4-7][0-9A-F]{31}$/);
      serials.add(serial);
    }
    expect(serials.size).toBe(20);
  });

  it('is DER throughout: every element is read back at the length it claims', () => {
    // A walk over the whole tree; any length that is off by one leaves bytes over or runs short.
    const walk = (bytes: Uint8Array, start: number, end: number): number => {
      let count = 0;
      for (let offset = start; offset < end; ) {
        const { tag, length, start: contents } = readElement(bytes, offset);
        if ((tag & 0x20) !== 0) count += walk(bytes, contents, contents + length);
        offset = contents + length;
        expect(offset).toBeLessThanOrEqual(end);
        count += 1;
      }
      return count;
    };
    const bytes = derOf(fallback.cert);
    expect(walk(bytes, 0, bytes.length)).toBeGreaterThan(40);
    expect(Buffer.from(new X509Certificate(fallback.cert).raw).equals(bytes)).toBe(true);
  });

  it('refuses options it cannot make a certificate from', () => {
    const bad: Parameters<typeof createSelfSignedCertificate>[0][] = [
      { hostnames: [] },
      { hostnames: ['a..b'] },
      { hostnames: ['-mail.test'] },
      { hostnames: ['mail_1.test'] },
      { hostnames: ['[::1]'] },
      { hostnames: ['fe80::1%eth0'] },
      { hostnames: ['1.2.3.04'] },
      { hostnames: [`${'a'.repeat(64)}.test`] },
      { hostnames: [`${'a.'.repeat(127)}aa`] },
      { hostnames: ['mail.*.test'] },
      { hostnames: ['exa mple.test'] },
      { days: 0 },
      { days: -1 },
      { days: Number.NaN },
      { days: Number.POSITIVE_INFINITY },
      { days: 3_000_000 },
      { commonName: '' },
      { commonName: 'x'.repeat(65) },
      { now: new Date(Number.NaN) },
    ];
    for (const options of bad) {
      let thrown: unknown;
      try {
        createSelfSignedCertificate(options);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, JSON.stringify(options)).toBeInstanceOf(InvalidArgumentError);
      expect((thrown as InvalidArgumentError).code).toBe(ErrorCode.InvalidArgument);
    }
    expect(() => createSelfSignedCertificate({ commonName: 'x'.repeat(64), hostnames: ['a'] })).not.toThrow();
  });
});

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
if (!hasOpenssl) console.warn('skipping the openssl checks of the certificate: openssl is not installed');

describe.skipIf(!hasOpenssl)('createSelfSignedCertificate, read by openssl', () => {
  const directory = mkdtempSync(join(tmpdir(), 'postwire-openssl-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  const certFile = join(directory, 'cert.pem');
  writeFileSync(certFile, fallback.cert);
  const openssl = (...args: string[]): { status: number | null; output: string } => {
    const run = spawnSync('openssl', args, { encoding: 'utf8' });
    return { status: run.status, output: `${run.stdout}${run.stderr}` };
  };

  it('shows a v3 certificate with the intended extensions', () => {
    const { status, output } = openssl('x509', '-in', certFile, '-noout', '-text');
    expect(status).toBe(0);
    const text = output.replace(/[ \t]+/g, ' ');
    expect(text).toContain('Version: 3 (0x2)');
    expect(text).toContain('Signature Algorithm: ecdsa-with-SHA256');
    expect(text).toContain('Issuer: CN = Postwire dev server');
    expect(text).toContain('Subject: CN = Postwire dev server');
    expect(text).toContain('Public Key Algorithm: id-ecPublicKey');
    expect(text).toContain('NIST CURVE: P-256');
    expect(text).toContain(
      'X509v3 Subject Alternative Name: \n DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1\n',
    );
    expect(text).toContain('X509v3 Basic Constraints: critical\n CA:FALSE\n');
    expect(text).toContain('X509v3 Key Usage: critical\n Digital Signature\n');
    expect(text).toContain('X509v3 Extended Key Usage: \n TLS Web Server Authentication\n');
    // Method 1 of RFC 5280 §4.2.1.2: the SHA-1 of the public key's bits (the last 65 octets of the SPKI).
    const spki = new X509Certificate(fallback.cert).publicKey.export({ type: 'spki', format: 'der' });
    const keyId = createHash('sha1').update(spki.subarray(-65)).digest('hex').toUpperCase();
    expect(text).toContain(`X509v3 Subject Key Identifier: \n ${keyId.match(/../g)!.join(':')}\n`);
  });

  it('verifies it as its own trust anchor, for a TLS server and that host, and not for a client', () => {
    // OpenSSL 3 accepts a self-signed CA:FALSE certificate given as the trust anchor: it prints "OK".
    const verify = (...args: string[]) =>
      openssl('verify', '-x509_strict', '-CAfile', certFile, ...args, certFile);
    expect(verify('-purpose', 'sslserver', '-verify_hostname', 'localhost')).toEqual({
      status: 0,
      output: `${certFile}: OK\n`,
    });
    expect(verify('-verify_ip', '::1').status).toBe(0);
    const otherHost = verify('-verify_hostname', 'mail.example.test');
    expect(otherHost.status).not.toBe(0);
    expect(otherHost.output).toContain('hostname mismatch');
    // extendedKeyUsage serverAuth only: no use as a TLS client certificate.
    const asClient = verify('-purpose', 'sslclient');
    expect(asClient.status).not.toBe(0);
    expect(asClient.output).toContain('unsuitable certificate purpose');
  });

  it('matches the host and the addresses in openssl’s own checks', () => {
    const check = (flag: string, value: string) =>
      execFileSync('openssl', ['x509', '-in', certFile, '-noout', flag, value], { encoding: 'utf8' }).trim();
    expect(check('-checkhost', 'localhost')).toBe('Hostname localhost does match certificate');
    expect(check('-checkhost', 'example.test')).toBe('Hostname example.test does NOT match certificate');
    expect(check('-checkip', '127.0.0.1')).toBe('IP 127.0.0.1 does match certificate');
    expect(check('-checkip', '::1')).toBe('IP ::1 does match certificate');
  });

  it('is strict DER to openssl’s parser', () => {
    expect(openssl('asn1parse', '-in', certFile, '-strictpem').status).toBe(0);
    const reencoded = execFileSync('openssl', ['x509', '-in', certFile, '-outform', 'DER']);
    expect(reencoded.equals(derOf(fallback.cert))).toBe(true);
  });
});

/** Connects a TLS 1.3 client to a server with the given certificate; resolves with the outcome. */
async function handshake(
  served: SelfSignedCertificate,
  client: { host: string; servername?: string; ca?: string },
): Promise<{ authorized: boolean; protocol: string | null } | { error: NodeJS.ErrnoException }> {
  const server = tls.createServer({ key: served.key, cert: served.cert, minVersion: 'TLSv1.3' }, (socket) =>
    socket.end(),
  );
  await new Promise<void>((resolve) => server.listen(0, client.host, resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise((resolve) => {
      const socket = tls.connect({ port, minVersion: 'TLSv1.3', ...client });
      socket.on('secureConnect', () => {
        resolve({ authorized: socket.authorized, protocol: socket.getProtocol() });
        socket.destroy();
      });
      socket.on('error', (error) => resolve({ error }));
    });
  } finally {
    server.close();
  }
}

describe('createSelfSignedCertificate in a TLS handshake', () => {
  it('is accepted by a client that trusts it, for its hostname', async () => {
    const outcome = await handshake(fallback, {
      host: '127.0.0.1',
      servername: 'localhost',
      ca: fallback.cert,
    });
    expect(outcome).toEqual({ authorized: true, protocol: 'TLSv1.3' });
  });

  it('is valid at once, even when made just after the second has turned', async () => {
    // OpenSSL reads the coarse clock, some milliseconds behind Date.now(): a validity starting at the
    // new second would not have begun yet for it.
    for (let i = 0; i < 2; i++) {
      do await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000)));
      while (Date.now() % 1000 > 100); // until the timer fires just after the turn
      const fresh = createSelfSignedCertificate();
      const outcome = await handshake(fresh, { host: '127.0.0.1', servername: 'localhost', ca: fresh.cert });
      expect(outcome).toEqual({ authorized: true, protocol: 'TLSv1.3' });
    }
  }, 10_000);

  it('is accepted for its IPv4 and IPv6 addresses', async () => {
    expect(await handshake(fallback, { host: '127.0.0.1', ca: fallback.cert })).toEqual({
      authorized: true,
      protocol: 'TLSv1.3',
    });
    expect(await handshake(fallback, { host: '::1', ca: fallback.cert })).toEqual({
      authorized: true,
      protocol: 'TLSv1.3',
    });
  });

  it('is refused for a hostname it was not made for', async () => {
    const other = createSelfSignedCertificate({ hostnames: ['mail.example.test', '192.0.2.1'] });
    const outcome = await handshake(other, { host: '127.0.0.1', servername: 'localhost', ca: other.cert });
    expect(outcome).toMatchObject({ error: { code: 'ERR_TLS_CERT_ALTNAME_INVALID' } });
    const byAddress = await handshake(other, { host: '127.0.0.1', ca: other.cert });
    expect(byAddress).toMatchObject({ error: { code: 'ERR_TLS_CERT_ALTNAME_INVALID' } });
  });

  it('is refused by a client that does not trust it', async () => {
    const outcome = await handshake(fallback, { host: '127.0.0.1', servername: 'localhost' });
    expect(outcome).toMatchObject({ error: { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' } });
  });
});

describe('loadOrCreateCertificate', () => {
  const mode = (file: string): number => statSync(file).mode & 0o777;

  it('creates the directory and the files the first time, and reuses them after', async () => {
    const directory = freshDirectory();
    const first = await loadOrCreateCertificate(directory);
    expect(first).toMatchObject({
      created: true,
      reason: 'missing',
      certFile: join(directory, 'cert.pem'),
      keyFile: join(directory, 'key.pem'),
    });
    expect(readFileSync(first.certFile, 'utf8')).toBe(first.cert);
    expect(readFileSync(first.keyFile, 'utf8')).toBe(first.key);
    expect(new X509Certificate(first.cert).fingerprint256).toBe(first.fingerprint256);
    expect(readdirSync(directory).sort()).toEqual(['cert.pem', 'key.pem']);

    const second = await loadOrCreateCertificate(directory);
    expect(second).toEqual({ ...first, created: false, reason: undefined });
    expect('reason' in second).toBe(false);
  });

  it.skipIf(process.platform === 'win32')(
    'writes the key 0600, the certificate 0644 and the directory 0700',
    async () => {
      const directory = freshDirectory();
      const previous = process.umask(0o077);
      try {
        const made = await loadOrCreateCertificate(directory);
        expect(mode(made.keyFile)).toBe(0o600);
        expect(mode(made.certFile)).toBe(0o644);
        expect(mode(directory)).toBe(0o700);
      } finally {
        process.umask(previous);
      }
    },
  );

  it('makes a new one when the old one has expired, or is not valid yet', async () => {
    const directory = freshDirectory();
    const old = await loadOrCreateCertificate(directory, { now: new Date(Date.now() - 3 * DAY_MS), days: 1 });
    const renewed = await loadOrCreateCertificate(directory);
    expect(renewed).toMatchObject({ created: true, reason: 'expired' });
    expect(renewed.fingerprint256).not.toBe(old.fingerprint256);
    expect(readFileSync(renewed.certFile, 'utf8')).toBe(renewed.cert);
    expect(await loadOrCreateCertificate(directory)).toMatchObject({ created: false });

    const future = await loadOrCreateCertificate(directory, { now: new Date(Date.now() - 1000 * DAY_MS) });
    expect(future).toMatchObject({ created: true, reason: 'not-yet-valid' });
  });

  it('makes a new one when a hostname is asked for that it does not cover', async () => {
    const directory = freshDirectory();
    const first = await loadOrCreateCertificate(directory);
    // Fewer names than it has are covered.
    expect(await loadOrCreateCertificate(directory, { hostnames: ['::1', 'LocalHost'] })).toMatchObject({
      created: false,
      fingerprint256: first.fingerprint256,
    });
    const wider = await loadOrCreateCertificate(directory, { hostnames: ['localhost', 'mail.example.test'] });
    expect(wider).toMatchObject({ created: true, reason: 'hostnames' });
    expect(new X509Certificate(wider.cert).checkHost('mail.example.test')).toBe('mail.example.test');
    expect(await loadOrCreateCertificate(directory, { hostnames: ['localhost', '127.0.0.1'] })).toMatchObject(
      {
        created: true,
        reason: 'hostnames',
      },
    );
  });

  it('covers a wildcard only with the wildcard', async () => {
    const directory = freshDirectory();
    await loadOrCreateCertificate(directory, { hostnames: ['mail.example.test'] });
    const wildcard = await loadOrCreateCertificate(directory, { hostnames: ['*.example.test'] });
    expect(wildcard).toMatchObject({ created: true, reason: 'hostnames' });
    expect(
      await loadOrCreateCertificate(directory, { hostnames: ['*.example.test', 'imap.example.test'] }),
    ).toMatchObject({
      created: false,
      fingerprint256: wildcard.fingerprint256,
    });
  });

  it('makes a new one when a file is missing, unreadable as PEM, or the key is another certificate’s', async () => {
    const directory = freshDirectory();
    const first = await loadOrCreateCertificate(directory);

    rmSync(first.keyFile);
    const noKey = await loadOrCreateCertificate(directory);
    expect(noKey).toMatchObject({ created: true, reason: 'missing' });

    rmSync(noKey.certFile);
    expect(await loadOrCreateCertificate(directory)).toMatchObject({ created: true, reason: 'missing' });

    writeFileSync(join(directory, 'cert.pem'), 'not a certificate');
    const garbled = await loadOrCreateCertificate(directory);
    expect(garbled).toMatchObject({ created: true, reason: 'invalid' });

    writeFileSync(join(directory, 'key.pem'), 'not a key');
    expect(await loadOrCreateCertificate(directory)).toMatchObject({ created: true, reason: 'invalid' });

    writeFileSync(join(directory, 'key.pem'), createSelfSignedCertificate().key);
    const mismatched = await loadOrCreateCertificate(directory);
    expect(mismatched).toMatchObject({ created: true, reason: 'invalid' });
    expect(await loadOrCreateCertificate(directory)).toMatchObject({
      created: false,
      fingerprint256: mismatched.fingerprint256,
    });
  });

  it('passes on file system errors and leaves no temporary file behind', async () => {
    const directory = freshDirectory();
    // key.pem is a directory that is not empty: no file can be renamed over it.
    mkdirSync(join(directory, 'key.pem', 'inside'), { recursive: true });
    await expect(loadOrCreateCertificate(directory)).rejects.toMatchObject({
      code: expect.stringMatching(/^E/),
    });
    expect(readdirSync(directory)).toEqual(['key.pem']);

    writeFileSync(join(directory, 'cert.pem'), fallback.cert);
    await expect(loadOrCreateCertificate(directory)).rejects.toMatchObject({ code: 'EISDIR' });
  });

  it('refuses invalid options whether or not it has to generate', async () => {
    const directory = freshDirectory();
    await expect(loadOrCreateCertificate(directory, { hostnames: [] })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
    await loadOrCreateCertificate(directory);
    await expect(loadOrCreateCertificate(directory, { hostnames: ['a..b'] })).rejects.toBeInstanceOf(
      InvalidArgumentError,
    );
  });
});

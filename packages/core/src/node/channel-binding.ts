import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { ChannelBindingType } from '../transport.js';

/**
 * Signature algorithms of RFC 5929 §4.1 by their DER-encoded OID: those hashed with MD5 or SHA-1
 * map to SHA-256, the others to their own hash. Algorithms with no single hash (Ed25519, RSA-PSS
 * with parameters) are absent, and their `tls-server-end-point` binding is undefined.
 */
const END_POINT_HASHES: ReadonlyMap<string, string> = new Map([
  ['2a864886f70d010104', 'sha256'], // md5WithRSAEncryption
  ['2a864886f70d010105', 'sha256'], // sha1WithRSAEncryption
  ['2a864886f70d01010b', 'sha256'], // sha256WithRSAEncryption
  ['2a864886f70d01010c', 'sha384'], // sha384WithRSAEncryption
  ['2a864886f70d01010d', 'sha512'], // sha512WithRSAEncryption
  ['2a864886f70d01010e', 'sha224'], // sha224WithRSAEncryption
  ['2a8648ce3d0401', 'sha256'], // ecdsa-with-SHA1
  ['2a8648ce3d040301', 'sha224'], // ecdsa-with-SHA224
  ['2a8648ce3d040302', 'sha256'], // ecdsa-with-SHA256
  ['2a8648ce3d040303', 'sha384'], // ecdsa-with-SHA384
  ['2a8648ce3d040304', 'sha512'], // ecdsa-with-SHA512
]);

/**
 * The channel-binding data of a TLS socket: `tls-exporter` (RFC 9266, TLS 1.3 only),
 * `tls-unique` (RFC 5929 §3, TLS 1.2 and below) and `tls-server-end-point` (RFC 5929 §4).
 * Returns `undefined` when the type is not defined for this session, or the runtime cannot export it.
 */
export function tlsChannelBinding(
  socket: TLSSocket,
  type: ChannelBindingType,
  role: 'client' | 'server',
): Uint8Array | undefined {
  try {
    return bindingOf(socket, type, role);
  } catch {
    // A runtime whose node:tls lacks the call (Deno has no exportKeyingMaterial) has no binding to give.
    return undefined;
  }
}

function bindingOf(
  socket: TLSSocket,
  type: ChannelBindingType,
  role: 'client' | 'server',
): Uint8Array | undefined {
  const tls13 = socket.getProtocol() === 'TLSv1.3';
  switch (type) {
    case 'tls-exporter':
      return tls13
        ? view(socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0)))
        : undefined;
    case 'tls-unique': {
      if (tls13) return undefined;
      const clientFinishedFirst = !socket.isSessionReused();
      const ownFirst = clientFinishedFirst === (role === 'client');
      const finished = ownFirst ? socket.getFinished() : socket.getPeerFinished();
      return finished && view(finished);
    }
    case 'tls-server-end-point': {
      const certificate = role === 'client' ? socket.getPeerCertificate() : socket.getCertificate();
      const der = (certificate as { raw?: Buffer } | null)?.raw;
      const hash = der && endPointHash(der);
      return der && hash ? view(createHash(hash).update(der).digest()) : undefined;
    }
  }
}

/** Reads `Certificate.signatureAlgorithm.algorithm` (RFC 5280 §4.1) and picks the RFC 5929 hash. */
function endPointHash(der: Uint8Array): string | undefined {
  const certificate = readTlv(der, 0);
  const tbsCertificate = certificate && readTlv(der, certificate.contentStart);
  const algorithm = tbsCertificate && readTlv(der, tbsCertificate.end);
  const oid = algorithm && readTlv(der, algorithm.contentStart);
  if (oid === undefined || der[oid.start] !== 0x06) return undefined;
  return END_POINT_HASHES.get(Buffer.from(der.subarray(oid.contentStart, oid.end)).toString('hex'));
}

interface Tlv {
  readonly start: number;
  readonly contentStart: number;
  readonly end: number;
}

/** One DER type-length-value at `start`; `undefined` if it runs past the input. */
function readTlv(der: Uint8Array, start: number): Tlv | undefined {
  let offset = start + 1;
  const first = der[offset++];
  if (first === undefined) return undefined;
  let length = first;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) return undefined;
    length = 0;
    for (let i = 0; i < count; i++) {
      const byte = der[offset++];
      if (byte === undefined) return undefined;
      length = length * 256 + byte;
    }
  }
  const end = offset + length;
  return end <= der.length ? { start, contentStart: offset, end } : undefined;
}

function view(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

import {
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { domainToASCII } from 'node:url';
import { concatBytes, InvalidArgumentError } from '@postwire/core';

/*
 * A self-signed X.509 v3 certificate for the dev server, built by hand: Node can make keys and
 * signatures but has no API to issue a certificate. The certificate (RFC 5280 §4.1) is
 *
 *   Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
 *
 * and everything in it is DER (ITU-T X.690): tag, length, contents, with one encoding per value.
 */

// ---------------------------------------------------------------------------------------------
// DER encoding (X.690 §8 and §10): only what a certificate needs.
// ---------------------------------------------------------------------------------------------

/** Universal tags (X.690 §8.1.2): class universal, bit 6 set for the constructed ones. */
const Tag = {
  Boolean: 0x01,
  Integer: 0x02,
  BitString: 0x03,
  OctetString: 0x04,
  ObjectIdentifier: 0x06,
  Utf8String: 0x0c,
  PrintableString: 0x13,
  Ia5String: 0x16,
  UtcTime: 0x17,
  GeneralizedTime: 0x18,
  Sequence: 0x30,
  Set: 0x31,
} as const;

const ascii = new TextEncoder();

/** The characters of a PrintableString (X.680 §41.4): letters, digits, space and `'()+,-./:=?`. */
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/**
 * A small DER encoder: each function returns one complete element (tag, length and contents) except
 * {@link der.length}, which is the length octets alone. Exposed for the tests; not part of the
 * package's public API.
 *
 * @internal
 */
export const der = {
  /**
   * The length octets (X.690 §8.1.3, §10.1): one octet below 128 (short form), else `0x80 | n`
   * followed by the length in n big-endian octets, as few as possible (long form).
   */
  length(length: number): Uint8Array {
    if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`bad DER length ${length}`);
    if (length < 0x80) return Uint8Array.of(length);
    const octets: number[] = [];
    for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) octets.unshift(rest % 256);
    return Uint8Array.of(0x80 | octets.length, ...octets);
  },

  /** One element: the tag octet, the length octets and the contents, concatenated. */
  element(tag: number, ...contents: readonly Uint8Array[]): Uint8Array {
    const body = concatBytes(contents);
    return concatBytes([Uint8Array.of(tag), der.length(body.length), body]);
  },

  /**
   * A non-negative INTEGER (X.690 §8.3), from a number, a bigint or big-endian unsigned octets: the
   * fewest two's-complement octets, so redundant leading zeros go and a zero octet is put in front
   * when the top bit is set (which would otherwise make it negative).
   */
  integer(value: number | bigint | Uint8Array): Uint8Array {
    let octets: Uint8Array;
    if (value instanceof Uint8Array) octets = value;
    else {
      const big = BigInt(value);
      if (big < 0n) throw new RangeError('only non-negative DER integers are supported');
      const hex = big.toString(16);
      octets = Buffer.from(hex.length % 2 === 0 ? hex : `0${hex}`, 'hex');
    }
    let start = 0;
    while (start < octets.length - 1 && octets[start] === 0) start += 1;
    const magnitude = octets.subarray(start);
    const sign = magnitude.length === 0 || (magnitude[0]! & 0x80) !== 0 ? [Uint8Array.of(0)] : [];
    return der.element(Tag.Integer, ...sign, magnitude);
  },

  /**
   * An OBJECT IDENTIFIER (X.690 §8.19) from its dotted form: the first two arcs as `40 * a + b`, then
   * every arc in base 128, most significant group first, bit 8 set on all but an arc's last octet.
   */
  oid(dotted: string): Uint8Array {
    const arcs = dotted.split('.').map(Number);
    const [first = Number.NaN, second = Number.NaN, ...rest] = arcs;
    if (arcs.length < 2 || arcs.some((arc) => !Number.isSafeInteger(arc) || arc < 0) || first > 2)
      throw new RangeError(`bad object identifier ${dotted}`);
    const octets: number[] = [];
    for (const arc of [first * 40 + second, ...rest]) {
      const groups = [arc % 128];
      for (let high = Math.floor(arc / 128); high > 0; high = Math.floor(high / 128))
        groups.unshift(0x80 | (high % 128));
      octets.push(...groups);
    }
    return der.element(Tag.ObjectIdentifier, Uint8Array.from(octets));
  },

  /** A SEQUENCE of the given elements, in order. */
  sequence(...elements: readonly Uint8Array[]): Uint8Array {
    return der.element(Tag.Sequence, ...elements);
  },

  /** A SET OF the given elements; DER sorts them (X.690 §11.6), so pass them already sorted. */
  set(...elements: readonly Uint8Array[]): Uint8Array {
    return der.element(Tag.Set, ...elements);
  },

  /** `[n] EXPLICIT`: a constructed context-specific tag around the given elements. */
  explicit(n: number, ...elements: readonly Uint8Array[]): Uint8Array {
    return der.element(0xa0 | n, ...elements);
  },

  /** `[n] IMPLICIT` of a primitive type: its contents under a context-specific tag. */
  implicit(n: number, contents: Uint8Array): Uint8Array {
    return der.element(0x80 | n, contents);
  },

  /** A BOOLEAN (X.690 §11.1: TRUE is `0xff`). */
  boolean(value: boolean): Uint8Array {
    return der.element(Tag.Boolean, Uint8Array.of(value ? 0xff : 0));
  },

  /** A BIT STRING (X.690 §8.6): the number of unused bits in the last octet, then the octets. */
  bitString(octets: Uint8Array, unusedBits = 0): Uint8Array {
    return der.element(Tag.BitString, Uint8Array.of(unusedBits), octets);
  },

  /** An OCTET STRING. */
  octetString(octets: Uint8Array): Uint8Array {
    return der.element(Tag.OctetString, octets);
  },

  /**
   * A DirectoryString (RFC 5280 §4.1.2.4): a PrintableString when every character allows it (the
   * form any client reads), else a UTF8String.
   */
  directoryString(text: string): Uint8Array {
    return der.element(PRINTABLE.test(text) ? Tag.PrintableString : Tag.Utf8String, ascii.encode(text));
  },

  /** An IA5String (ASCII), as in a `dNSName`. */
  ia5String(text: string): Uint8Array {
    return der.element(Tag.Ia5String, ascii.encode(text));
  },

  /**
   * A certificate's Time (RFC 5280 §4.1.2.5), to the second in UTC: `YYMMDDHHMMSSZ` as a UTCTime for
   * the years 1950 to 2049, `YYYYMMDDHHMMSSZ` as a GeneralizedTime otherwise.
   */
  time(date: Date): Uint8Array {
    const digits = date
      .toISOString()
      .replace(/\.\d+Z$/, 'Z')
      .replace(/[-T:]/g, '');
    const year = date.getUTCFullYear();
    return year >= 1950 && year < 2050
      ? der.element(Tag.UtcTime, ascii.encode(digits.slice(2)))
      : der.element(Tag.GeneralizedTime, ascii.encode(digits));
  },
};

// ---------------------------------------------------------------------------------------------
// The certificate.
// ---------------------------------------------------------------------------------------------

/** Object identifiers, each with where it is defined. */
const Oid = {
  /** ecdsa-with-SHA256 (RFC 5758 §3.2), with no parameters. */
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  /** id-at-commonName (RFC 5280 Appendix A.1). */
  commonName: '2.5.4.3',
  /** id-ce-subjectKeyIdentifier (RFC 5280 §4.2.1.2). */
  subjectKeyIdentifier: '2.5.29.14',
  /** id-ce-keyUsage (RFC 5280 §4.2.1.3). */
  keyUsage: '2.5.29.15',
  /** id-ce-subjectAltName (RFC 5280 §4.2.1.6). */
  subjectAltName: '2.5.29.17',
  /** id-ce-basicConstraints (RFC 5280 §4.2.1.9). */
  basicConstraints: '2.5.29.19',
  /** id-ce-extKeyUsage (RFC 5280 §4.2.1.12). */
  extKeyUsage: '2.5.29.37',
  /** id-kp-serverAuth (RFC 5280 §4.2.1.12). */
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

/** The names a certificate is made for when none are given: this machine, by name and loopback address. */
const DEFAULT_HOSTNAMES: readonly string[] = ['localhost', '127.0.0.1', '::1'];
/** The default lifetime: 825 days, the longest that Apple platforms accept for a TLS server certificate. */
const DEFAULT_DAYS = 825;
const DEFAULT_COMMON_NAME = 'Postwire dev server';
/** ub-common-name (RFC 5280 Appendix A.1). */
const MAX_COMMON_NAME = 64;
const DAY_MS = 86_400_000;
/**
 * How long before `now` the validity starts. Without it a certificate made just after a second
 * boundary is "not yet valid" to OpenSSL, which reads the coarse clock (`time()`), a few milliseconds
 * behind `Date.now()`; an hour also forgives a client whose clock is slow.
 */
const BACKDATE_MS = 3_600_000;

/** What {@link createSelfSignedCertificate} and {@link loadOrCreateCertificate} make. */
export interface SelfSignedCertificateOptions {
  /**
   * The names and addresses the certificate is for, each a DNS name (internationalized names are
   * converted to A-labels; `*.example.test` is a wildcard), an IPv4 or an IPv6 address. Default
   * `['localhost', '127.0.0.1', '::1']`.
   */
  readonly hostnames?: readonly string[];
  /** How many days it is valid for, from `now` (its validity starts an hour before `now`). Default 825. */
  readonly days?: number;
  /** The subject's and issuer's common name. Default `'Postwire dev server'`. */
  readonly commonName?: string;
  /**
   * The time of issue, default now: the validity runs from an hour before it (clocks differ) to `days`
   * after it, to the second. {@link loadOrCreateCertificate} also checks the stored one at this time.
   */
  readonly now?: Date;
}

/** A private key and the certificate for it, both PEM. */
export interface SelfSignedCertificate {
  /** The private key: PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), ECDSA P-256. */
  readonly key: string;
  /** The certificate, PEM (`-----BEGIN CERTIFICATE-----`). */
  readonly cert: string;
  /** The certificate's SHA-256 fingerprint as `X509Certificate#fingerprint256` gives it (`AB:CD:…`). */
  readonly fingerprint256: string;
}

/** A subjectAltName entry (RFC 5280 §4.2.1.6): a `dNSName` or an `iPAddress`. */
type AltName =
  | { readonly kind: 'dns'; readonly name: string }
  | { readonly kind: 'ip'; readonly address: string; readonly octets: Uint8Array };

/**
 * Creates an ECDSA P-256 key and a self-signed X.509 v3 certificate for it, valid for the given
 * hostnames and addresses: subjectAltName, basicConstraints `CA:FALSE` (critical), keyUsage
 * `digitalSignature` (critical), extendedKeyUsage `serverAuth`, subjectKeyIdentifier; signed with
 * ecdsa-with-SHA256. A client trusts it when given the certificate itself as its CA.
 *
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for an empty or malformed hostname list, a
 *   non-positive or non-finite `days`, a common name that is empty or longer than 64 characters, or an
 *   invalid `now`.
 */
export function createSelfSignedCertificate(
  options: SelfSignedCertificateOptions = {},
): SelfSignedCertificate {
  const altNames = parseHostnames(options.hostnames ?? DEFAULT_HOSTNAMES);
  const commonName = options.commonName ?? DEFAULT_COMMON_NAME;
  if (commonName.length === 0 || commonName.length > MAX_COMMON_NAME)
    throw new InvalidArgumentError(`the common name must have 1 to ${MAX_COMMON_NAME} characters`);
  const days = options.days ?? DEFAULT_DAYS;
  if (!Number.isFinite(days) || days <= 0) throw new InvalidArgumentError('days must be a positive number');
  const now = options.now ?? new Date();
  if (Number.isNaN(now.getTime())) throw new InvalidArgumentError('now is not a valid date');
  const issued = Math.floor(now.getTime() / 1000) * 1000;
  const notBefore = new Date(issued - BACKDATE_MS);
  const notAfter = new Date(issued + Math.round((days * DAY_MS) / 1000) * 1000);
  if (notAfter.getUTCFullYear() > 9999) throw new InvalidArgumentError('the validity ends after 9999');

  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const algorithm = der.sequence(der.oid(Oid.ecdsaWithSha256));
  const name = der.sequence(der.set(der.sequence(der.oid(Oid.commonName), der.directoryString(commonName))));
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40; // positive (RFC 5280 §4.1.2.2), and all 16 octets significant
  const tbs = der.sequence(
    der.explicit(0, der.integer(2)), // version v3
    der.integer(serial),
    algorithm,
    name, // issuer
    der.sequence(der.time(notBefore), der.time(notAfter)),
    name, // subject: the same, as it is self-signed
    publicKey.export({ type: 'spki', format: 'der' }),
    der.explicit(3, der.sequence(...extensions(altNames, publicKey))),
  );
  const signature = sign('sha256', tbs, privateKey); // DER Ecdsa-Sig-Value (RFC 5758 §3.2)
  const certificate = der.sequence(tbs, algorithm, der.bitString(signature));

  const cert = toPem('CERTIFICATE', certificate);
  return {
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    cert,
    fingerprint256: new X509Certificate(cert).fingerprint256,
  };
}

/** The extensions (RFC 5280 §4.2), each `SEQUENCE { extnID, critical DEFAULT FALSE, extnValue }`. */
function extensions(altNames: readonly AltName[], publicKey: KeyObject): Uint8Array[] {
  const extension = (oid: string, critical: boolean, value: Uint8Array): Uint8Array =>
    der.sequence(der.oid(oid), ...(critical ? [der.boolean(true)] : []), der.octetString(value));
  const generalNames = altNames.map((entry) =>
    entry.kind === 'dns' ? der.implicit(2, ascii.encode(entry.name)) : der.implicit(7, entry.octets),
  );
  return [
    extension(Oid.subjectAltName, false, der.sequence(...generalNames)),
    // cA DEFAULT FALSE is left out, as DER requires: an empty SEQUENCE.
    extension(Oid.basicConstraints, true, der.sequence()),
    // digitalSignature is bit 0; DER drops trailing zero bits (X.690 §11.2.2): 7 unused bits.
    extension(Oid.keyUsage, true, der.bitString(Uint8Array.of(0x80), 7)),
    extension(Oid.extKeyUsage, false, der.sequence(der.oid(Oid.serverAuth))),
    extension(Oid.subjectKeyIdentifier, false, der.octetString(keyIdentifier(publicKey))),
  ];
}

/** The SHA-1 of the subjectPublicKey bits, the uncompressed point `04 || x || y` (RFC 5280 §4.2.1.2, method 1). */
function keyIdentifier(publicKey: KeyObject): Uint8Array {
  const { x = '', y = '' } = publicKey.export({ format: 'jwk' });
  const point = concatBytes([Uint8Array.of(4), Buffer.from(x, 'base64url'), Buffer.from(y, 'base64url')]);
  return createHash('sha1').update(point).digest();
}

/** One DNS label: letters, digits and inner hyphens, at most 63 octets (RFC 1123 §2.1). */
const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
/**
 * A DNS name, perhaps a wildcard for one label (RFC 6125 §6.4.3) whose last label is not all digits,
 * so that a malformed address (`1.2.3.04`) is not taken for a name.
 */
const DNS_NAME = new RegExp(`^(?:\\*\\.)?(?:${LABEL}\\.)*(?!\\d+$)${LABEL}$`);

/** The hostnames as subjectAltName entries, checked, normalized and without duplicates. */
function parseHostnames(hostnames: readonly string[]): AltName[] {
  if (hostnames.length === 0) throw new InvalidArgumentError('a certificate needs at least one hostname');
  const entries = new Map<string, AltName>();
  for (const hostname of hostnames) {
    const entry = parseHostname(hostname);
    const key =
      entry.kind === 'dns' ? `dns:${entry.name}` : `ip:${Buffer.from(entry.octets).toString('hex')}`;
    if (!entries.has(key)) entries.set(key, entry);
  }
  return [...entries.values()];
}

/** One hostname as a subjectAltName entry: an IP address by `net.isIP`, else a DNS name. */
function parseHostname(hostname: string): AltName {
  const family = isIP(hostname);
  if (family === 4) return { kind: 'ip', address: hostname, octets: Uint8Array.from(ipv4Octets(hostname)) };
  if (family === 6) {
    if (hostname.includes('%'))
      throw new InvalidArgumentError(`an IPv6 zone cannot be in a certificate: ${hostname}`);
    return { kind: 'ip', address: hostname, octets: ipv6Octets(hostname) };
  }
  const name = /^[\x20-\x7e]*$/.test(hostname) ? hostname.toLowerCase() : domainToASCII(hostname);
  if (!DNS_NAME.test(name) || name.length > 253)
    throw new InvalidArgumentError(`not a hostname or an IP address: ${JSON.stringify(hostname)}`);
  return { kind: 'dns', name };
}

/** The four octets of a dotted-quad IPv4 address that `isIP` accepted. */
function ipv4Octets(address: string): number[] {
  return address.split('.').map(Number);
}

/**
 * The 16 octets of an IPv6 address that `isIP` accepted (RFC 4291 §2.2): eight hexadecimal groups,
 * `::` standing for a run of zero groups, and possibly a dotted IPv4 address as the last two groups.
 */
function ipv6Octets(address: string): Uint8Array {
  const groups = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [Number.parseInt(group, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = ipv4Octets(group);
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head = '', tail] = address.split('::');
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const words = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const octets = new Uint8Array(16);
  words.forEach((word, i) => {
    octets[2 * i] = word >> 8;
    octets[2 * i + 1] = word & 0xff;
  });
  return octets;
}

/** PEM (RFC 7468): the base64 in lines of 64 characters between the BEGIN and END lines. */
function toPem(label: string, der: Uint8Array): string {
  const lines = Buffer.from(der)
    .toString('base64')
    .replace(/.{64}(?!$)/g, '$&\n');
  return `-----BEGIN ${label}-----\n${lines}\n-----END ${label}-----\n`;
}

// ---------------------------------------------------------------------------------------------
// Keeping one in a directory.
// ---------------------------------------------------------------------------------------------

/**
 * Why {@link loadOrCreateCertificate} made a new certificate: a file was `missing`; the files were
 * `invalid` (not a certificate and a key, or a key that is not the certificate's); the certificate
 * has `expired` or is `not-yet-valid` (the clock went back); or it does not cover every requested
 * hostname (`hostnames`).
 */
export type CertificateRenewalReason = 'missing' | 'invalid' | 'expired' | 'not-yet-valid' | 'hostnames';

/** A certificate and key kept in a directory, and whether they were just made. */
export interface StoredCertificate extends SelfSignedCertificate {
  /** The certificate's file: `cert.pem` in the directory. */
  readonly certFile: string;
  /** The private key's file: `key.pem` in the directory. */
  readonly keyFile: string;
  /** `true` when the certificate was generated by this call, `false` when the existing one was reused. */
  readonly created: boolean;
  /** Why it was generated; absent when it was reused. */
  readonly reason?: CertificateRenewalReason;
}

/**
 * The dev server's certificate, kept in `directory` as `cert.pem` and `key.pem`: reused when both
 * files are there, belong together, are valid at `options.now` and cover every requested hostname;
 * otherwise (re)generated with {@link createSelfSignedCertificate}. The directory is created if
 * needed (mode 0700); each file is written to a temporary file beside it, given its mode (0600 for
 * the key, 0644 for the certificate) and renamed into place, so no reader sees half a file. The key is
 * written first: if the process dies between the two renames, the next start sees a key that does not
 * match and generates again.
 *
 * The files are this function's: files that are there but unusable are replaced. A certificate the
 * user supplies belongs elsewhere.
 *
 * @throws InvalidArgumentError (`INVALID_ARGUMENT`) for invalid options, as
 *   {@link createSelfSignedCertificate}; and the file system's errors other than a missing file.
 */
export async function loadOrCreateCertificate(
  directory: string,
  options: SelfSignedCertificateOptions = {},
): Promise<StoredCertificate> {
  const certFile = join(directory, 'cert.pem');
  const keyFile = join(directory, 'key.pem');
  const cert = await readIfPresent(certFile);
  const key = cert === undefined ? undefined : await readIfPresent(keyFile);
  if (cert !== undefined && key !== undefined) {
    const checked = check(cert, key, options);
    if (typeof checked !== 'string')
      return { key, cert, fingerprint256: checked.fingerprint256, certFile, keyFile, created: false };
    return create(checked);
  }
  return create('missing');

  async function create(reason: CertificateRenewalReason): Promise<StoredCertificate> {
    const made = createSelfSignedCertificate(options);
    await mkdir(directory, { recursive: true, mode: 0o700 });
    await writeAtomically(keyFile, made.key, 0o600);
    await writeAtomically(certFile, made.cert, 0o644);
    return { ...made, certFile, keyFile, created: true, reason };
  }
}

/** The stored certificate if it can be reused, else why not. */
function check(
  cert: string,
  key: string,
  options: SelfSignedCertificateOptions,
): X509Certificate | CertificateRenewalReason {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
    if (!x509.checkPrivateKey(createPrivateKey(key))) return 'invalid';
  } catch {
    return 'invalid';
  }
  const now = (options.now ?? new Date()).getTime();
  if (Date.parse(x509.validFrom) > now) return 'not-yet-valid';
  if (Date.parse(x509.validTo) <= now) return 'expired';
  for (const entry of parseHostnames(options.hostnames ?? DEFAULT_HOSTNAMES)) {
    if (!covers(x509, entry)) return 'hostnames';
  }
  return x509;
}

/**
 * Whether the certificate is valid for the entry, by its subjectAltName only. A wildcard is covered
 * when a name it matches would be: `*.example.test` by a certificate for `*.example.test`.
 */
function covers(x509: X509Certificate, entry: AltName): boolean {
  if (entry.kind === 'ip') return x509.checkIP(entry.address) !== undefined;
  const name = entry.name.replace(/^\*\./, 'postwire-wildcard-probe.');
  return x509.checkHost(name, { subject: 'never' }) !== undefined;
}

/** The file's text, or `undefined` when there is no such file. */
async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Writes `file` whole or not at all: a temporary file beside it, its mode set, then renamed over it. */
async function writeAtomically(file: string, text: string, mode: number): Promise<void> {
  const temporary = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, text, { mode, flag: 'wx' });
    await chmod(temporary, mode); // the umask may have taken bits away
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

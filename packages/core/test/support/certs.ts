import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway certificate authority and a server certificate it signed, all PEM. */
export interface TestCertificates {
  /** The CA certificate: trust it to make the server certificate verify. */
  readonly ca: string;
  /** The server certificate, for `localhost` and `127.0.0.1`. */
  readonly cert: string;
  /** The server certificate's private key. */
  readonly key: string;
}

let cached: TestCertificates | undefined;

/**
 * Creates (once per test file) a P-256 CA and a server certificate for `localhost` and
 * `127.0.0.1`, with the `openssl` command line, valid for one day. The files are deleted at once;
 * only the PEM text is kept.
 */
export function testCertificates(): TestCertificates {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'postwire-certs-'));
  const file = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: 'pipe' });
  };
  try {
    const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    openssl(
      'req',
      '-x509',
      ...newKey,
      ...['-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '1', '-subj', '/CN=Postwire Test CA'],
      ...['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    );
    openssl(
      'req',
      ...newKey,
      '-keyout',
      file('server.key'),
      '-out',
      file('server.csr'),
      '-subj',
      '/CN=localhost',
    );
    writeFileSync(
      file('server.ext'),
      'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n',
    );
    openssl(
      'x509',
      '-req',
      ...['-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial'],
      ...['-out', file('server.pem'), '-days', '1', '-sha256', '-extfile', file('server.ext')],
    );
    cached = {
      ca: readFileSync(file('ca.pem'), 'utf8'),
      cert: readFileSync(file('server.pem'), 'utf8'),
      key: readFileSync(file('server.key'), 'utf8'),
    };
    return cached;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

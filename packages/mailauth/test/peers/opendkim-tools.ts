import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DnsTxtRecord } from './dnsmasq-zone.js';
import { runWithPrivateResolver } from './private-resolver.js';
import { runTool, runToolOk } from './tool-process.js';

/**
 * OpenDKIM's command-line tools (Debian's opendkim-tools 2.11.0~beta2, libopendkim 11) as a second
 * reference implementation of DKIM, next to dkimpy:
 *
 * - `opendkim-testmsg` signs offline, but only `a=rsa-sha1` with `c=relaxed/simple` (built in), and
 *   only messages with a Date field ({@link opendkimSign}).
 * - `opendkim-testmsg` with no options verifies the first signature, looking the key up through
 *   glibc's resolver (port 53 of /etc/resolv.conf's server, nothing to configure), so it runs in a
 *   private namespace with its own dnsmasq ({@link opendkimVerify}; root only).
 * - `opendkim-testkey` checks a published key record (and that it matches a private key) through
 *   libunbound, which a config file can point at any server and port ({@link opendkimTestKey}).
 *
 * See /work/shared/PEERS.md, "opendkim-tools".
 */

const TESTMSG = '/usr/sbin/opendkim-testmsg';
const TESTKEY = '/usr/sbin/opendkim-testkey';

/** True when opendkim-testmsg and opendkim-testkey are installed (`.ci/run` installs opendkim-tools). */
export function opendkimAvailable(): boolean {
  return existsSync(TESTMSG) && existsSync(TESTKEY);
}

/** Options of {@link opendkimSign}. */
export interface OpendkimSignOptions {
  readonly selector: string;
  readonly domain: string;
  /** An RSA private key, PEM (PKCS #1 or PKCS #8). Ed25519 keys are refused. */
  readonly privateKeyPem: string;
}

/**
 * Signs `message` with `opendkim-testmsg -C -d DOMAIN -s SELECTOR -k KEYFILE`: `a=rsa-sha1`,
 * `c=relaxed/simple`, `h=` every field present, `t=` now — the algorithm RFC 8301 forbids, which
 * makes it a signature a verifier should not accept. Give the message CRLF line endings and a Date
 * field (without one, libopendkim fails with `dkim_chunk(): Syntax error`). `-C` keeps the CRLFs of
 * the new field (without it, opendkim-testmsg strips them and garbles the end of `b=`). Resolves the
 * new field (ending with CRLF) and the signed message.
 */
export async function opendkimSign(
  message: Uint8Array,
  options: OpendkimSignOptions,
): Promise<{ header: string; signed: Uint8Array }> {
  const dir = await mkdtemp(join(tmpdir(), 'pw-opendkim-'));
  try {
    const keyFile = join(dir, 'key.pem');
    await writeFile(keyFile, options.privateKeyPem, { mode: 0o600 });
    const signed = await runToolOk(
      TESTMSG,
      ['-C', '-d', options.domain, '-s', options.selector, '-k', keyFile],
      { input: message, timeout: 20_000 },
    );
    const header = signed.subarray(0, signed.length - message.length).toString('utf8');
    if (!header.startsWith('DKIM-Signature:') || !signed.subarray(header.length).equals(message)) {
      throw new Error(`opendkim-testmsg wrote something else than a signature and the message:\n${signed}`);
    }
    return { header, signed };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What OpenDKIM said about the first signature of a message. */
export interface OpendkimVerdict {
  /** opendkim-testmsg exited with 0: `dkim_eom()` found the signature good. */
  readonly valid: boolean;
  /** Its complaint otherwise: `dkim_eom(): Bad signature`, `dkim_chunk(): No signature`, … */
  readonly output: string;
}

/**
 * Verifies the first DKIM signature of `message` with `opendkim-testmsg` (no options, message on
 * stdin), its key records served from `dnsTxt` (name → record, as for `dkimpyVerify`) by a dnsmasq in
 * a private namespace (see `runWithPrivateResolver`; check `privateResolverAvailable()` first).
 * libopendkim verifies rsa-sha256, rsa-sha1 and ed25519-sha256.
 */
export async function opendkimVerify(
  message: Uint8Array,
  options: { readonly dnsTxt: Readonly<Record<string, DnsTxtRecord>> },
): Promise<OpendkimVerdict> {
  const txt = Object.fromEntries(Object.entries(options.dnsTxt).map(([name, record]) => [name, [record]]));
  const result = await runWithPrivateResolver({ txt }, TESTMSG, [], { input: message });
  return { valid: result.code === 0, output: `${result.stderr}${result.stdout.toString('utf8')}`.trim() };
}

/** Options of {@link opendkimTestKey}. */
export interface OpendkimTestKeyOptions {
  readonly selector: string;
  readonly domain: string;
  /** An RSA private key (PEM) the published key must match; without it only the record is checked. */
  readonly privateKeyPem?: string;
  /** DNS servers (`127.0.0.1:PORT`, as `DnsServer.servers`) libunbound forwards every query to. */
  readonly servers: readonly string[];
}

/** What opendkim-testkey said. */
export interface OpendkimTestKeyVerdict {
  /**
   * `ok` (exit 0, `key OK`), `mismatch` (exit 65: `keys do not match`, or a record that does not
   * parse), or `unavailable` (exit 69: `record not found`, a revoked key `p=`, an Ed25519 key).
   */
  readonly status: 'ok' | 'mismatch' | 'unavailable';
  readonly code: number | null;
  /** Its output with `-vvv`. */
  readonly output: string;
}

/**
 * Checks `SELECTOR._domainkey.DOMAIN` with `opendkim-testkey -x CONF -d DOMAIN -s SELECTOR [-k KEY]
 * -vvv`. CONF holds only `ResolverConfiguration UNBOUND_CONF`, and that unbound config forwards `.`
 * to `servers` (`forward-addr: 127.0.0.1@PORT`) with `do-not-query-localhost: no` and
 * `local-zone: "test." nodefault` (plus `invalid.`): unbound otherwise answers the RFC 6761 names
 * `*.test` and `*.invalid` itself with NXDOMAIN and never asks. RSA keys only.
 */
export async function opendkimTestKey(options: OpendkimTestKeyOptions): Promise<OpendkimTestKeyVerdict> {
  const dir = await mkdtemp(join(tmpdir(), 'pw-opendkim-'));
  try {
    const forwards = options.servers.map((server) => {
      const [, host, port] = /^\[?([^\]]+?)\]?(?::(\d+))?$/.exec(server) ?? [];
      return `  forward-addr: ${host}@${port ?? 53}`;
    });
    await writeFile(
      join(dir, 'unbound.conf'),
      [
        'server:',
        '  do-not-query-localhost: no',
        '  local-zone: "test." nodefault',
        '  local-zone: "invalid." nodefault',
        'forward-zone:',
        '  name: "."',
        ...forwards,
        '',
      ].join('\n'),
    );
    await writeFile(join(dir, 'opendkim.conf'), `ResolverConfiguration ${join(dir, 'unbound.conf')}\n`);
    const args = ['-x', join(dir, 'opendkim.conf'), '-d', options.domain, '-s', options.selector, '-vvv'];
    if (options.privateKeyPem !== undefined) {
      await writeFile(join(dir, 'key.pem'), options.privateKeyPem, { mode: 0o600 });
      args.push('-k', join(dir, 'key.pem'));
    }
    const result = await runTool(TESTKEY, args, { timeout: 20_000 });
    const status = result.code === 0 ? 'ok' : result.code === 65 ? 'mismatch' : 'unavailable';
    return { status, code: result.code, output: `${result.stderr}${result.stdout.toString('utf8')}`.trim() };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

import { createPrivateKey } from 'node:crypto';
import type { DnsTxtRecord } from './dnsmasq-zone.js';
import { DKIM_SCRIPT_PRELUDE, type DkimpyKeySource } from './python-tools.js';
import { PYTHON, pythonModulesAvailable, runToolOk } from './tool-process.js';

/**
 * dkimpy 1.1.4's ARC (RFC 8617) as the reference implementation for cross-checks of Postwire's
 * `sealArc` and `verifyArc`: `dkim.arc_sign()` adds a set, `dkim.arc_verify()` validates a chain. Each
 * helper runs one short script with Debian's `/usr/bin/python3 -I`, input as JSON on stdin, JSON or the
 * fields back; a Python error rejects with its traceback. Like python-tools.ts. See /work/shared/PEERS.md,
 * "dkimpy".
 *
 * dkimpy's ARC needs the `authres` module (Debian python3-authres, only "Suggested" by python3-dkim):
 * `arc_sign` reads the Authentication-Results fields whose authserv-id is its `srv_id`, copies their
 * results into the ARC-Authentication-Results, and takes `cv=` from an `arc=` result among them (none: `cv=none`,
 * allowed only at i=1). Without such a field it returns no set at all.
 */

/** True when dkimpy, PyNaCl and authres can be imported (`.ci/run` installs python3-dkim, python3-authres). */
export function dkimpyArcAvailable(): boolean {
  return pythonModulesAvailable('dkim', 'nacl', 'authres');
}

/** Options of {@link dkimpyArcSign}. */
export interface DkimpyArcSignOptions {
  /** `s=` of the ARC-Message-Signature and the ARC-Seal. */
  readonly selector: string;
  /** `d=` of both. */
  readonly domain: string;
  /** The private key as PEM: RSA (PKCS #1 or #8), or Ed25519 (PKCS #8; dkimpy gets the 32-byte seed). */
  readonly privateKeyPem: string;
  /**
   * dkimpy's `srv_id`: the authserv-id of the Authentication-Results field(s) in the message that this
   * hop added; they become the ARC-Authentication-Results.
   */
  readonly authservId: string;
  /** `a=`; default `ed25519-sha256` for an Ed25519 key, `rsa-sha256` otherwise. */
  readonly algorithm?: 'rsa-sha256' | 'ed25519-sha256';
  /** The AMS's `h=` (default: dkimpy's default list of the fields present). Must contain `from`. */
  readonly headers?: readonly string[];
  /** `t=` in seconds since the epoch; default now. */
  readonly timestamp?: number;
}

/** What {@link dkimpyArcSign} made. */
export interface DkimpyArcSet {
  /** ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results, in that order, each ending with CRLF. */
  readonly fields: string;
  /** `fields` followed by the message as given. */
  readonly sealed: Buffer;
}

const ARC_SIGN_SCRIPT = `
import base64, json, sys
import dkim
config = json.load(sys.stdin)
message = base64.b64decode(config['message'])
fields = dkim.arc_sign(
    message,
    config['selector'].encode(),
    config['domain'].encode(),
    config['key'].encode(),
    config['srvId'].encode(),
    signature_algorithm=config['algorithm'].encode(),
    include_headers=[name.encode() for name in config['headers']] if config['headers'] is not None else None,
    timestamp=config['timestamp'],
)
if not fields:
    sys.exit('dkim.arc_sign returned no ARC set (no Authentication-Results field with authserv-id %s?)' % config['srvId'])
sys.stdout.buffer.write(b''.join(fields))
`;

/** Adds an ARC set to `message` with dkimpy's `dkim.arc_sign()`. */
export async function dkimpyArcSign(
  message: Uint8Array,
  options: DkimpyArcSignOptions,
): Promise<DkimpyArcSet> {
  const key = createPrivateKey(options.privateKeyPem);
  const ed25519 = key.asymmetricKeyType === 'ed25519';
  const fields = await runPython(ARC_SIGN_SCRIPT, {
    message: Buffer.from(message).toString('base64'),
    selector: options.selector,
    domain: options.domain,
    key: ed25519
      ? Buffer.from(key.export({ format: 'jwk' }).d ?? '', 'base64url').toString('base64')
      : options.privateKeyPem,
    srvId: options.authservId,
    algorithm: options.algorithm ?? (ed25519 ? 'ed25519-sha256' : 'rsa-sha256'),
    headers: options.headers ?? null,
    timestamp: options.timestamp ?? null,
  });
  return { fields: fields.toString('utf8'), sealed: Buffer.concat([fields, message]) };
}

/** One set's checks as dkimpy reports them (from the newest set down). */
export interface DkimpyArcSetResult {
  readonly instance: number;
  readonly amsDomain: string;
  readonly amsValid: boolean;
  readonly asDomain: string;
  readonly asValid: boolean;
  /** The set's `cv=`. */
  readonly cv: string;
}

/** What `dkim.arc_verify()` said. */
export interface DkimpyArcVerdict {
  /**
   * The chain's validation status: `pass`, `fail`, `none`, or `null` — dkimpy's verdict (Python `None`)
   * for a chain whose ARC-Seal says `cv=fail` ("the chain is terminated").
   */
  readonly cv: 'pass' | 'fail' | 'none' | null;
  readonly sets: readonly DkimpyArcSetResult[];
  /** dkimpy's reason: `success`, `Message is not ARC signed`, `ARC-Seal[1] did not validate` … */
  readonly reason: string;
  /** dkimpy's debug log. */
  readonly log: string;
}

const ARC_VERIFY_SCRIPT = `
${DKIM_SCRIPT_PRELUDE}cv, results, reason = dkim.arc_verify(message, logger=logger, dnsfunc=dnsfunc, minkey=config['minKeyBits'])
text = lambda value: value.decode('utf-8', 'replace') if isinstance(value, bytes) else value
json.dump({
    'cv': text(cv),
    'sets': [{
        'instance': r.get('instance'),
        'amsDomain': text(r.get('ams-domain')),
        'amsValid': bool(r.get('ams-valid')),
        'asDomain': text(r.get('as-domain')),
        'asValid': bool(r.get('as-valid')),
        'cv': text(r.get('cv')),
    } for r in results],
    'reason': text(reason),
    'log': log.getvalue(),
}, sys.stdout)
`;

/** Options of {@link dkimpyArcVerify}: where the keys come from. */
export type DkimpyArcVerifyOptions = DkimpyKeySource & {
  /** The smallest RSA key dkimpy accepts, in bits; default dkimpy's 1024. */
  readonly minKeyBits?: number;
};

/** Validates the ARC chain of `message` with dkimpy's `dkim.arc_verify()`. */
export async function dkimpyArcVerify(
  message: Uint8Array,
  options: DkimpyArcVerifyOptions,
): Promise<DkimpyArcVerdict> {
  const txt =
    'dnsTxt' in options
      ? Object.fromEntries(
          Object.entries(options.dnsTxt as Record<string, DnsTxtRecord>).map(([name, record]) => [
            name,
            typeof record === 'string' ? record : record.join(''),
          ]),
        )
      : null;
  const output = await runPython(ARC_VERIFY_SCRIPT, {
    message: Buffer.from(message).toString('base64'),
    txt,
    servers: 'servers' in options ? options.servers.map(hostAndPort) : null,
    minKeyBits: options.minKeyBits ?? 1024,
  });
  return JSON.parse(output.toString('utf8')) as DkimpyArcVerdict;
}

/** `host:port`, `[v6]:port` or a bare address (port 53) as `[host, port]`. */
function hostAndPort(server: string): [string, number] {
  const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(server) ?? /^([^:]+)(?::(\d+))?$/.exec(server);
  if (!match) return [server, 53];
  return [match[1]!, match[2] === undefined ? 53 : Number(match[2])];
}

function runPython(script: string, input: unknown): Promise<Buffer> {
  return runToolOk(PYTHON, ['-I', '-c', script], { input: JSON.stringify(input), timeout: 30_000 });
}

import { createPrivateKey } from 'node:crypto';
import type { DnsTxtRecord } from './dnsmasq-zone.js';
import { PYTHON, pythonModulesAvailable, runToolOk } from './tool-process.js';

/**
 * Debian's Python mail-authentication libraries as reference implementations for cross-checks:
 * dkimpy 1.1.4 (python3-dkim; Ed25519 through python3-nacl) signs and verifies DKIM, pyspf 2.0.14
 * (python3-spf, on dnspython 2.3) evaluates SPF. Each helper runs one short script with Debian's own
 * `/usr/bin/python3 -I` (the `python3` first on PATH may be another build without these modules),
 * passing its input as JSON on stdin and reading JSON back; a Python error rejects with its traceback.
 * See /work/shared/PEERS.md, "dkimpy" and "pyspf".
 */

/** True when dkimpy and PyNaCl (for Ed25519) can be imported (`.ci/run` installs python3-dkim). */
export function dkimpyAvailable(): boolean {
  return pythonModulesAvailable('dkim', 'nacl');
}

/** True when pyspf and dnspython can be imported (`.ci/run` installs python3-spf, python3-dnspython). */
export function pyspfAvailable(): boolean {
  return pythonModulesAvailable('spf', 'dns.resolver');
}

/** A DKIM canonicalization as the `c=` tag writes it: header/body. */
export type DkimCanonicalization = `${'simple' | 'relaxed'}/${'simple' | 'relaxed'}`;

/** Options of {@link dkimpySign}. */
export interface DkimpySignOptions {
  /** `s=` */
  readonly selector: string;
  /** `d=` */
  readonly domain: string;
  /**
   * The private key as PEM: RSA in PKCS #1 or PKCS #8, Ed25519 in PKCS #8 (the helper hands dkimpy
   * the 32-byte seed it wants for Ed25519).
   */
  readonly privateKeyPem: string;
  /** `a=`; default `ed25519-sha256` for an Ed25519 key, `rsa-sha256` otherwise. */
  readonly algorithm?: 'rsa-sha256' | 'rsa-sha1' | 'ed25519-sha256';
  /** `c=`; default `relaxed/simple` (dkimpy's default). */
  readonly canonicalization?: DkimCanonicalization;
  /**
   * `h=`: the header field names to sign, in order (repeat a name to sign more instances of it, or
   * one more than present to oversign). Default: dkimpy's choice, every field present except those it
   * should not sign. dkimpy refuses a list without `from`, and fields it SHOULD NOT sign (`Received`,
   * `Return-Path`, …).
   */
  readonly headers?: readonly string[];
  /** `i=`; must end with `domain`. Default: dkimpy's `@domain`. */
  readonly identity?: string;
  /** Add `l=` (the body length signed). */
  readonly bodyLength?: boolean;
  /** `t=` in seconds since the epoch (dkimpy's clock is replaced for this run); default now. */
  readonly timestamp?: number;
}

/** What {@link dkimpySign} made. */
export interface DkimpySignature {
  /**
   * The `DKIM-Signature: …` field, folded and ending with the message's own line ending (CRLF, or
   * LF when the message uses LF).
   */
  readonly header: string;
  /** `header` followed by the message as given. */
  readonly signed: Uint8Array;
}

const SIGN_SCRIPT = `
import base64, json, sys, time
import dkim, dkim.util
config = json.load(sys.stdin)
message = base64.b64decode(config['message'])
if config['timestamp'] is not None:
    stamp = config['timestamp']
    time.time = lambda: stamp
signature = dkim.sign(
    message,
    config['selector'].encode(),
    config['domain'].encode(),
    config['key'].encode(),
    identity=config['identity'].encode() if config['identity'] is not None else None,
    canonicalize=tuple(part.encode() for part in config['canonicalization'].split('/')),
    signature_algorithm=config['algorithm'].encode(),
    include_headers=[name.encode() for name in config['headers']] if config['headers'] is not None else None,
    length=config['bodyLength'],
    linesep=dkim.util.get_linesep(message),
)
sys.stdout.buffer.write(signature)
`;

/**
 * Signs `message` with dkimpy's `dkim.sign()` (in Python, with the key in memory: the `dkimsign`
 * command prints errors and then writes the message unsigned with exit status 0, so it is not used).
 */
export async function dkimpySign(message: Uint8Array, options: DkimpySignOptions): Promise<DkimpySignature> {
  const key = createPrivateKey(options.privateKeyPem);
  const ed25519 = key.asymmetricKeyType === 'ed25519';
  const algorithm = options.algorithm ?? (ed25519 ? 'ed25519-sha256' : 'rsa-sha256');
  if (ed25519 !== (algorithm === 'ed25519-sha256')) {
    throw new Error(`dkimpySign: a ${key.asymmetricKeyType} key cannot sign with ${algorithm}`);
  }
  const header = await runPython(SIGN_SCRIPT, {
    message: Buffer.from(message).toString('base64'),
    selector: options.selector,
    domain: options.domain,
    // dkimpy takes an Ed25519 private key as the base64 of its 32-byte seed (the JWK's `d`).
    key: ed25519
      ? Buffer.from(key.export({ format: 'jwk' }).d ?? '', 'base64url').toString('base64')
      : options.privateKeyPem,
    algorithm,
    canonicalization: options.canonicalization ?? 'relaxed/simple',
    headers: options.headers ?? null,
    identity: options.identity ?? null,
    bodyLength: options.bodyLength ?? false,
    timestamp: options.timestamp ?? null,
  });
  return { header: header.toString('utf8'), signed: Buffer.concat([header, message]) };
}

/** Where {@link dkimpyVerify} finds key records: a map it answers from, or real DNS servers. */
export type DkimpyKeySource =
  | {
      /**
       * Key records by name (`sel._domainkey.example.test`, case-insensitive, with or without the
       * final dot), each one string or its character-strings (joined). Other names have no record.
       * Given to dkimpy as its `dnsfunc`, so no DNS is asked.
       */
      readonly dnsTxt: Readonly<Record<string, DnsTxtRecord>>;
    }
  | {
      /**
       * DNS servers (`127.0.0.1:PORT`, as `DnsServer.servers`) for dkimpy's own lookup through
       * dnspython. Trap: dkimpy then reads only the first TXT record of the answer.
       */
      readonly servers: readonly string[];
    };

/** Options of {@link dkimpyVerify}: the key source, and which signature. */
export type DkimpyVerifyOptions = DkimpyKeySource & {
  /** Which DKIM-Signature field, 0 being the topmost; default 0. */
  readonly index?: number;
  /** The smallest RSA key dkimpy accepts, in bits; default dkimpy's 1024. */
  readonly minKeyBits?: number;
};

/** What dkimpy said about a signature. */
export interface DkimpyVerdict {
  readonly valid: boolean;
  /** dkimpy's debug log of the verification (the hashes it computed, why it failed). */
  readonly log: string;
}

/**
 * The start of the dkimpy scripts: reads the JSON config from stdin (`message` in base64, `txt` key
 * records or `servers` for dnspython, `minKeyBits`), sets up a debug log in `log` and `dnsfunc`.
 */
export const DKIM_SCRIPT_PRELUDE = `
import base64, io, json, logging, sys
import dkim
config = json.load(sys.stdin)
message = base64.b64decode(config['message'])
log = io.StringIO()
logger = logging.getLogger('dkimpy')
logger.setLevel(logging.DEBUG)
logger.addHandler(logging.StreamHandler(log))
if config['txt'] is not None:
    records = {name.lower().rstrip('.'): value.encode() for name, value in config['txt'].items()}
    def dnsfunc(name, timeout=5):
        key = name.decode('ascii', 'replace').lower().rstrip('.')
        logger.debug('key record %s: %s', key, 'found' if key in records else 'none')
        return records.get(key)
else:
    import dns.resolver
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host for host, port in config['servers']]
    resolver.nameserver_ports = {host: port for host, port in config['servers']}
    resolver.lifetime = 5
    dns.resolver.default_resolver = resolver
    from dkim.dnsplug import get_txt as dnsfunc
`;

const VERIFY_SCRIPT = `
${DKIM_SCRIPT_PRELUDE}verifier = dkim.DKIM(message, logger=logger, minkey=config['minKeyBits'])
try:
    valid = bool(verifier.verify(idx=config['index'], dnsfunc=dnsfunc))
except dkim.DKIMException as error:
    logger.error('%s: %s', type(error).__name__, error)
    valid = False
json.dump({'valid': valid, 'log': log.getvalue()}, sys.stdout)
`;

/** Verifies one DKIM signature of `message` with dkimpy's `DKIM.verify()`; see {@link dkimpyVerifyDetailed}. */
export async function dkimpyVerify(message: Uint8Array, options: DkimpyVerifyOptions): Promise<boolean> {
  return (await dkimpyVerifyDetailed(message, options)).valid;
}

/**
 * Verifies one DKIM signature of `message` with dkimpy and says why: `valid` is dkimpy's verdict
 * (an exception such as a bad key record counts as invalid), `log` its debug output.
 */
export async function dkimpyVerifyDetailed(
  message: Uint8Array,
  options: DkimpyVerifyOptions,
): Promise<DkimpyVerdict> {
  const txt =
    'dnsTxt' in options
      ? Object.fromEntries(
          Object.entries(options.dnsTxt).map(([name, record]) => [
            name,
            typeof record === 'string' ? record : record.join(''),
          ]),
        )
      : null;
  const output = await runPython(VERIFY_SCRIPT, {
    message: Buffer.from(message).toString('base64'),
    txt,
    servers: 'servers' in options ? options.servers.map(hostAndPort) : null,
    index: options.index ?? 0,
    minKeyBits: options.minKeyBits ?? 1024,
  });
  return JSON.parse(output.toString('utf8')) as DkimpyVerdict;
}

/** Options of {@link pyspfCheck}. */
export interface PyspfCheckOptions {
  /** The SMTP client's address (`<ip>` of check_host()). */
  readonly ip: string;
  /** The MAIL FROM address; empty for the null reverse path (pyspf then checks `postmaster@helo`). */
  readonly sender: string;
  /** The HELO/EHLO name. */
  readonly helo: string;
  /** DNS servers to ask (`127.0.0.1:PORT`, as `DnsServer.servers`): pyspf's dnspython goes nowhere else. */
  readonly servers: readonly string[];
  /** The receiving host named in the explanation and header; default `receiver.postwire.test`. */
  readonly receiver?: string;
  /** Seconds for the whole check (pyspf's `querytime`, RFC 7208 §4.6.4); default 5. */
  readonly timeout?: number;
}

/** pyspf's verdict. */
export interface PyspfVerdict {
  /** `pass`, `fail`, `softfail`, `neutral`, `none`, `permerror` or `temperror`. */
  readonly result: string;
  /** pyspf's explanation (the `exp=` text on `fail`, its own wording otherwise). */
  readonly explanation: string;
  /** The `Received-SPF:` field value pyspf would add. */
  readonly header: string;
}

const SPF_SCRIPT = `
import json, sys
import dns.resolver
config = json.load(sys.stdin)
resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = [host for host, port in config['servers']]
resolver.nameserver_ports = {host: port for host, port in config['servers']}
resolver.lifetime = config['timeout']
dns.resolver.default_resolver = resolver
import spf
query = spf.query(i=config['ip'], s=config['sender'], h=config['helo'], receiver=config['receiver'],
                  querytime=config['timeout'])
result, code, explanation = query.check()
json.dump({'result': result, 'explanation': explanation, 'header': query.get_header(result, config['receiver'])},
          sys.stdout)
`;

/**
 * Evaluates SPF with pyspf (`spf.query(…).check()`, RFC 7208), its DNS pointed at `servers` by
 * replacing dnspython's default resolver (pyspf and dkimpy both look up through it).
 */
export async function pyspfCheck(options: PyspfCheckOptions): Promise<PyspfVerdict> {
  const output = await runPython(SPF_SCRIPT, {
    ip: options.ip,
    sender: options.sender,
    helo: options.helo,
    servers: options.servers.map(hostAndPort),
    receiver: options.receiver ?? 'receiver.postwire.test',
    timeout: options.timeout ?? 5,
  });
  return JSON.parse(output.toString('utf8')) as PyspfVerdict;
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

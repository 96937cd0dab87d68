import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestCertificates, testCertificates } from '../../../core/test/support/certs.js';
import { spawnPeer, waitForGreeting } from '../../../core/test/support/peer-process.js';

/**
 * aiosmtpd (Debian's python3-aiosmtpd) as a real SMTP server for tests: a small Python script in a
 * temporary directory, on loopback ports that Python itself picks (no race for a free port). Each
 * accepted message is written into that directory (`NNNNNN.eml` and then `NNNNNN.json`) before the
 * client hears `250`, so `messages()` sees it as soon as the client is done.
 */

/** Only Debian's Python can import aiosmtpd; the `python3` first on PATH may be another build. */
const PYTHON = '/usr/bin/python3';
/** How long the script gets to listen and greet. */
const START_DEADLINE = 10_000;

let available: boolean | undefined;

/** True when Debian's Python and its aiosmtpd are installed (`.ci/run` installs them). */
export function aiosmtpdAvailable(): boolean {
  available ??=
    existsSync(PYTHON) &&
    spawnSync(PYTHON, ['-I', '-c', 'import aiosmtpd'], { timeout: 10_000 }).status === 0;
  return available;
}

/** Options of {@link startAiosmtpd}. */
export interface AiosmtpdOptions {
  /** The name in the greeting and the EHLO reply; default `aiosmtpd.postwire.test`. */
  readonly hostname?: string;
  /** Offer STARTTLS on `port`, with the test certificates. */
  readonly startTls?: boolean;
  /** Refuse MAIL until STARTTLS (aiosmtpd's `require_starttls`). */
  readonly requireStartTls?: boolean;
  /** Also listen with implicit TLS (RFC 8314) on `tlsPort`. */
  readonly implicitTls?: boolean;
  /** The certificate both TLS modes use; default `testCertificates()` (for `localhost` and 127.0.0.1). */
  readonly certificates?: TestCertificates;
  /**
   * AUTH PLAIN and LOGIN against these users and passwords. By default AUTH is offered only on TLS
   * (after STARTTLS, and on `tlsPort`); `requireTls: false` offers it in cleartext too, and
   * `required` refuses MAIL without it.
   */
  readonly auth?: {
    readonly users: Readonly<Record<string, string>>;
    readonly requireTls?: boolean;
    readonly required?: boolean;
  };
  /** Offer SMTPUTF8; default true. */
  readonly smtputf8?: boolean;
  /** The SIZE limit in bytes (aiosmtpd's `data_size_limit`); default aiosmtpd's 33,554,432. */
  readonly sizeLimit?: number;
  /**
   * Replies to RCPT TO for some addresses, as full reply lines (`'550 5.1.1 No such user'`); the
   * address is compared as written. Every other recipient is accepted.
   */
  readonly recipientReplies?: Readonly<Record<string, string>>;
}

/** One message aiosmtpd accepted. */
export interface AiosmtpdMessage {
  /** The reverse path as written (`''` for `<>`). */
  readonly from: string;
  readonly recipients: readonly string[];
  /** MAIL FROM parameters as written (`SIZE=123`, `BODY=8BITMIME`, `SMTPUTF8`). */
  readonly mailOptions: readonly string[];
  /** RCPT TO parameters, one list per recipient. */
  readonly rcptOptions: readonly (readonly string[])[];
  /** The transaction was SMTPUTF8. */
  readonly smtputf8: boolean;
  /** The client's HELO/EHLO name. */
  readonly heloName: string | null;
  /** The TLS version (`TLSv1.3`) when the message came over TLS (implicit or STARTTLS). */
  readonly tls: string | null;
  /** The user the client authenticated as. */
  readonly user: string | null;
  /** The message bytes as received (dot-stuffing removed). */
  readonly data: Buffer;
}

/** A running aiosmtpd. */
export interface AiosmtpdPeer {
  readonly pid: number;
  readonly hostname: string;
  /** Plain SMTP (with STARTTLS if asked). */
  readonly port: number;
  /** Implicit TLS, when `implicitTls` was asked. */
  readonly tlsPort?: number;
  /** The messages accepted so far, in order. */
  messages(): Promise<AiosmtpdMessage[]>;
  /** What the Python process wrote (its log) so far. */
  output(): string;
  /** Stops the process (SIGTERM, then SIGKILL) and removes its directory. */
  stop(): Promise<void>;
}

/** The peer: reads its settings from the JSON file named by argv[1], prints `READY <port> <tlsPort>`. */
const SCRIPT = `
import asyncio, json, os, signal, ssl, sys
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

with open(sys.argv[1]) as f:
    config = json.load(f)
outbox = config['outbox']
users = {user.encode(): password.encode() for user, password in config['users'].items()}
replies = config['recipientReplies']


class Handler:
    def __init__(self):
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in replies:
            return replies[address]
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(rcpt_options)
        return '250 2.1.5 OK'

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = os.path.join(outbox, '%06d' % self.count)
        ssl_object = server.transport.get_extra_info('ssl_object')
        meta = {
            'from': envelope.mail_from,
            'recipients': envelope.rcpt_tos,
            'mailOptions': envelope.mail_options,
            'rcptOptions': envelope.rcpt_options,
            'smtputf8': envelope.smtp_utf8,
            'heloName': session.host_name,
            'tls': ssl_object.version() if ssl_object else None,
            'user': session.auth_data if session.authenticated else None,
        }
        with open(name + '.eml.tmp', 'wb') as f:
            f.write(envelope.original_content)
        os.rename(name + '.eml.tmp', name + '.eml')
        with open(name + '.json.tmp', 'w') as f:
            json.dump(meta, f)
        os.rename(name + '.json.tmp', name + '.json')
        return '250 2.0.0 Message accepted'


def authenticator(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword) and users.get(auth_data.login) == auth_data.password:
        return AuthResult(success=True, auth_data=auth_data.login.decode())
    # handled=False: aiosmtpd then replies 535 itself; the default (True) means "already replied".
    return AuthResult(success=False, handled=False)


def tls_context():
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config['certFile'], config['keyFile'])
    return context


async def main():
    loop = asyncio.get_running_loop()
    handler = Handler()
    common = dict(
        hostname=config['hostname'],
        enable_SMTPUTF8=config['smtputf8'],
        data_size_limit=config['sizeLimit'],
        authenticator=authenticator if users else None,
        auth_required=config['authRequired'],
        auth_exclude_mechanism=[] if users else ['LOGIN', 'PLAIN'],
    )
    plain = await loop.create_server(
        lambda: SMTP(
            handler,
            tls_context=tls_context() if config['startTls'] else None,
            require_starttls=config['requireStartTls'],
            auth_require_tls=config['authRequireTls'],
            **common,
        ),
        '127.0.0.1',
        0,
    )
    servers = [plain]
    tls_port = 0
    if config['implicitTls']:
        # aiosmtpd counts only STARTTLS as TLS for auth_require_tls: on implicit TLS, AUTH must not require it.
        secure = await loop.create_server(
            lambda: SMTP(handler, auth_require_tls=False, **common), '127.0.0.1', 0, ssl=tls_context()
        )
        servers.append(secure)
        tls_port = secure.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print('READY', plain.sockets[0].getsockname()[1], tls_port, flush=True)
    await stop.wait()
    for server in servers:
        server.close()


asyncio.run(main())
`;

/** Starts aiosmtpd on loopback; see {@link AiosmtpdOptions}. Check {@link aiosmtpdAvailable} first. */
export async function startAiosmtpd(options: AiosmtpdOptions = {}): Promise<AiosmtpdPeer> {
  const dir = await mkdtemp(join(tmpdir(), 'pw-aiosmtpd-'));
  const outbox = join(dir, 'outbox');
  const hostname = options.hostname ?? 'aiosmtpd.postwire.test';
  try {
    if (options.startTls || options.implicitTls) {
      const certificates = options.certificates ?? testCertificates();
      await writeFile(join(dir, 'cert.pem'), certificates.cert);
      await writeFile(join(dir, 'key.pem'), certificates.key, { mode: 0o600 });
    }
    await writeFile(join(dir, 'peer.py'), SCRIPT);
    await mkdir(outbox);
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({
        outbox,
        hostname,
        certFile: join(dir, 'cert.pem'),
        keyFile: join(dir, 'key.pem'),
        startTls: options.startTls ?? false,
        requireStartTls: options.requireStartTls ?? false,
        implicitTls: options.implicitTls ?? false,
        users: options.auth?.users ?? {},
        authRequireTls: options.auth?.requireTls ?? true,
        authRequired: options.auth?.required ?? false,
        smtputf8: options.smtputf8 ?? true,
        sizeLimit: options.sizeLimit ?? 33_554_432,
        recipientReplies: options.recipientReplies ?? {},
      }),
    );
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  const peer = spawnPeer(PYTHON, ['-I', join(dir, 'peer.py'), join(dir, 'config.json')], { cwd: dir });
  const stop = async (): Promise<void> => {
    await peer.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + START_DEADLINE;
    const readyLine = () => /^READY (\d+) (\d+)$/m.exec(peer.output());
    let ready = readyLine();
    while (!ready) {
      if (!peer.running()) throw new Error('aiosmtpd exited before it was ready');
      if (Date.now() >= deadline) throw new Error(`aiosmtpd was not ready within ${START_DEADLINE} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
      ready = readyLine();
    }
    const port = Number(ready[1]);
    const tlsPort = Number(ready[2]) || undefined;
    await waitForGreeting(peer, port, { deadline });
    if (tlsPort !== undefined) await waitForGreeting(peer, tlsPort, { tls: true, deadline });
    return {
      pid: peer.pid,
      hostname,
      port,
      ...(tlsPort !== undefined ? { tlsPort } : {}),
      messages: () => readOutbox(outbox),
      output: () => peer.output(),
      stop,
    };
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${peer.output()}`);
  }
}

async function readOutbox(outbox: string): Promise<AiosmtpdMessage[]> {
  const names = (await readdir(outbox)).filter((name) => name.endsWith('.json')).sort();
  return Promise.all(
    names.map(async (name) => {
      const meta = JSON.parse(await readFile(join(outbox, name), 'utf8')) as Omit<AiosmtpdMessage, 'data'>;
      return { ...meta, data: await readFile(join(outbox, name.replace(/\.json$/, '.eml'))) };
    }),
  );
}

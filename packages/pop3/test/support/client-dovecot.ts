import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePorts, spawnPeer, waitForGreeting } from '../../../core/test/support/peer-process.js';
import {
  dovecotAvailable,
  dovecotProcessSettings,
  prepareMaildirForDovecot,
} from '../../../store/test/support/dovecot.js';

/**
 * A real Dovecot 2.3 POP3 server for the client's tests: a passwd-file of plain passwords (so that
 * APOP, CRAM-MD5 and SCRAM work), a Maildir per user, STLS and POP3S with the test certificates, and
 * failed logins answered at once. The store's harness
 * (packages/store/test/support/dovecot.ts) serves IMAP without TLS; this one adds what POP3 needs. See
 * /work/shared/PEERS.md for the traps it works around.
 */

export { dovecotAvailable };

const DOVECOT = '/usr/sbin/dovecot';
/** How long Dovecot gets to greet after it was started. */
const START_DEADLINE = 10_000;

/** Options of {@link startPop3Dovecot}. */
export interface Pop3DovecotOptions {
  /** User names and their plain-text passwords. */
  readonly users: Record<string, string>;
  /** The certificate and key for STLS and POP3S; without them Dovecot runs with `ssl = no` (no STLS). */
  readonly tls?: { readonly cert: string; readonly key: string };
}

/** A running Dovecot. */
export interface Pop3Dovecot {
  /** The PID of the `dovecot -F` master this harness started. */
  readonly pid: number;
  /** Plain POP3 (with STLS when TLS is configured). */
  readonly port: number;
  /** POP3 over implicit TLS, when TLS is configured. */
  readonly securePort?: number;
  /** Adds a message to a user's INBOX (a file in the Maildir's `new/`, as a delivery agent would). */
  deliver(user: string, message: string | Uint8Array): Promise<void>;
  /** How many messages a user's INBOX holds now, as files in `new/` and `cur/`. */
  count(user: string): Promise<number>;
  /** Dovecot's log, for a failing test's message. */
  readLog(): Promise<string>;
  /** Stops Dovecot (SIGTERM, then SIGKILL), waits for it to exit, removes its directory. */
  stop(): Promise<void>;
}

/**
 * Starts a throwaway Dovecot serving POP3 only, on free loopback ports, ready once it has greeted.
 */
export async function startPop3Dovecot(options: Pop3DovecotOptions): Promise<Pop3Dovecot> {
  // Another process may take a free port between our probe and Dovecot's bind: try again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (attempt >= 3 || !/Address already in use/.test((error as Error).message)) throw error;
    }
  }
}

async function startOnce(options: Pop3DovecotOptions): Promise<Pop3Dovecot> {
  // Short: the unix sockets in base_dir must fit in 108 bytes.
  const dir = await mkdtemp('/tmp/pwp3-');
  // mkdtemp makes 0700; Dovecot's auth process (its own user) must read the passwd-file.
  await chmod(dir, 0o755);
  const mailRoot = join(dir, 'mail');
  const logPath = join(dir, 'dovecot.log');
  await mkdir(mailRoot);
  for (const user of Object.keys(options.users)) {
    for (const sub of ['new', 'cur', 'tmp']) await mkdir(join(mailRoot, user, sub), { recursive: true });
  }
  await prepareMaildirForDovecot(mailRoot);
  await writeFile(
    join(dir, 'passwd'),
    Object.entries(options.users)
      .map(([user, password]) => `${user}:{PLAIN}${password}::::::\n`)
      .join(''),
    { mode: 0o644 },
  );
  if (options.tls) {
    await writeFile(join(dir, 'cert.pem'), options.tls.cert, { mode: 0o644 });
    await writeFile(join(dir, 'key.pem'), options.tls.key, { mode: 0o600 });
  }
  const [port, securePort] = (await freePorts(2)) as [number, number];
  await writeFile(
    join(dir, 'dovecot.conf'),
    config({ dir, mailRoot, logPath, port, securePort, tls: options.tls !== undefined }),
    { mode: 0o644 },
  );

  const dovecot = spawnPeer(DOVECOT, ['-F', '-c', join(dir, 'dovecot.conf')]);
  const cleanUp = async (): Promise<void> => {
    await dovecot.stop();
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  };
  try {
    await waitForGreeting(dovecot, port, { deadline: Date.now() + START_DEADLINE, greeting: /^\+OK/ });
  } catch (error) {
    const log = await readFile(logPath, 'utf8').catch(() => '');
    await cleanUp();
    throw new Error(`${(error as Error).message}\n${dovecot.output()}${log}`.trim());
  }

  let delivered = 0;
  let stopping: Promise<void> | undefined;
  return {
    pid: dovecot.pid,
    port,
    ...(options.tls ? { securePort } : {}),
    async deliver(user, message) {
      // Dovecot numbers new messages in the order of their file names.
      const name = `${Math.floor(Date.now() / 1000)}.M${String(++delivered).padStart(8, '0')}P${process.pid}.postwire`;
      const path = join(mailRoot, user, 'new', name);
      await writeFile(path, message);
      await prepareMaildirForDovecot(path);
    },
    async count(user) {
      const files = await Promise.all(['new', 'cur'].map((sub) => readdir(join(mailRoot, user, sub))));
      return files.flat().length;
    },
    readLog: () => readFile(logPath, 'utf8'),
    stop() {
      stopping ??= cleanUp();
      return stopping;
    },
  };
}

function config(c: {
  dir: string;
  mailRoot: string;
  logPath: string;
  port: number;
  securePort: number;
  tls: boolean;
}): string {
  const { root, uid, gid, users, noChroot } = dovecotProcessSettings();
  const chroot = root ? [] : ['  chroot ='];
  return `${[
    `# Throwaway Dovecot for the POP3 client's tests (packages/pop3/test/support/client-dovecot.ts).`,
    `instance_name = postwire-${c.dir.split('/').pop()}`,
    `base_dir = ${c.dir}/run`,
    `state_dir = ${c.dir}/state`,
    `log_path = ${c.logPath}`,
    'listen = 127.0.0.1',
    'protocols = pop3',
    ...(c.tls ? ['ssl = yes', `ssl_cert = <${c.dir}/cert.pem`, `ssl_key = <${c.dir}/key.pem`] : ['ssl = no']),
    'disable_plaintext_auth = no',
    'auth_mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256 apop',
    'auth_failure_delay = 0',
    ...users,
    // Dovecot refuses mail uids below first_valid_uid (default 500) and always uid 0.
    `first_valid_uid = ${Math.min(uid, 500)}`,
    `first_valid_gid = ${Math.min(gid, 1)}`,
    `mail_location = maildir:${c.mailRoot}/%u`,
    'passdb {',
    '  driver = passwd-file',
    `  args = scheme=PLAIN ${c.dir}/passwd`,
    '}',
    'userdb {',
    '  driver = static',
    `  args = uid=${uid} gid=${gid} home=${c.mailRoot}/%u`,
    '}',
    'service pop3-login {',
    `  inet_listener pop3 {\n    port = ${c.port}\n  }`,
    `  inet_listener pop3s {\n    port = ${c.tls ? c.securePort : 0}\n${c.tls ? '    ssl = yes\n' : ''}  }`,
    ...chroot,
    '}',
    // Without this a failed login costs 2 s plus a growing per-IP penalty.
    'service anvil {',
    '  unix_listener anvil-auth-penalty {\n    mode = 0\n  }',
    ...chroot,
    '}',
    ...noChroot,
  ].join('\n')}\n`;
}

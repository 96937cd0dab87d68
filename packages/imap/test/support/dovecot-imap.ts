import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { testCertificates } from '../../../core/test/support/certs.js';
import { freePorts, spawnPeer, waitForGreeting } from '../../../core/test/support/peer-process.js';
import {
  dovecotAvailable,
  dovecotProcessSettings,
  prepareMaildirForDovecot,
} from '../../../store/test/support/dovecot.js';

/**
 * A real Dovecot 2.3 IMAP server as the reference the IMAP server is compared with: IMAP with STARTTLS
 * and IMAPS (the test certificates of packages/core/test/support/certs.ts), a passwd-file of plain
 * passwords (so CRAM-MD5 and SCRAM work), `mail_location = maildir:<mailRoot>/%u`, and failed logins
 * answered at once. The store's harness (packages/store/test/support/dovecot.ts) serves IMAP without
 * TLS and the POP3 client's (packages/pop3/test/support/client-dovecot.ts) serves POP3 only; this one is
 * what the IMAP peers need. See /work/shared/PEERS.md for the traps it works around.
 */

export { dovecotAvailable };

const DOVECOT = '/usr/sbin/dovecot';
/** How long Dovecot gets to greet after it was started. */
const START_DEADLINE = 10_000;

/** Options of {@link startImapDovecot}. */
export interface ImapDovecotOptions {
  /** User names and their plain-text passwords. */
  readonly users: Record<string, string>;
  /**
   * The directory holding one Maildir per user (`<mailRoot>/<user>`), e.g. one that Postwire's server
   * also serves; created if missing and handed to Dovecot's mail uid (after writing into it as root, call
   * the store harness's `prepareMaildirForDovecot` again). Default: `mail/` in Dovecot's own
   * throwaway directory, removed by `stop()`.
   */
  readonly mailRoot?: string;
  /**
   * Lines appended to the generated `dovecot.conf`, e.g. a `namespace inbox { separator = / … }` block
   * so that Dovecot names mailboxes as Postwire's store does (Maildir++'s own separator is `.`).
   */
  readonly extraConfig?: readonly string[];
  /** Serve POP3 too, with STLS and on implicit TLS (the cross-runtime suite reads the same mail over both). */
  readonly pop3?: boolean;
}

/** A running Dovecot. */
export interface ImapDovecot {
  /** The PID of the `dovecot -F` master this harness started. */
  readonly pid: number;
  /** IMAP on 127.0.0.1, with STARTTLS. */
  readonly port: number;
  /** IMAPS (implicit TLS) on 127.0.0.1. */
  readonly tlsPort: number;
  /** With `pop3`: POP3 with STLS, and POP3S, on 127.0.0.1. */
  readonly pop3Ports?: { readonly port: number; readonly tlsPort: number };
  /** The PEM CA that signed Dovecot's certificate (for `localhost` and `127.0.0.1`). */
  readonly ca: string;
  /** The directory holding every user's Maildir. */
  readonly mailRoot: string;
  /** A user's Maildir (INBOX at its root, Maildir++ folders as `.Name` beside `cur`/`new`/`tmp`). */
  maildir(user: string): string;
  /** Dovecot's log, for a failing test's message. */
  readLog(): Promise<string>;
  /** Stops Dovecot (SIGTERM, then SIGKILL, by its PID), waits for it to exit, removes its directory. */
  stop(): Promise<void>;
}

/** Starts a throwaway Dovecot serving IMAP and IMAPS on free loopback ports, ready once both greeted. */
export async function startImapDovecot(options: ImapDovecotOptions): Promise<ImapDovecot> {
  for (const [user, password] of Object.entries(options.users)) {
    if (!/^[A-Za-z0-9._@-]+$/.test(user)) throw new Error(`unsupported user name for Dovecot: ${user}`);
    if (/[:\r\n]/.test(password)) throw new Error(`unsupported password for ${user} (no ':' or newlines)`);
  }
  // Another process may take a free port between our probe and Dovecot's bind: try again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (attempt >= 3 || !/Address already in use/.test((error as Error).message)) throw error;
    }
  }
}

async function startOnce(options: ImapDovecotOptions): Promise<ImapDovecot> {
  // Short: the unix sockets in base_dir must fit in 108 bytes.
  const dir = await mkdtemp('/tmp/pwim-');
  // mkdtemp makes 0700; Dovecot's auth process (its own user) must read the passwd-file.
  await chmod(dir, 0o755);
  const mailRoot = options.mailRoot ?? join(dir, 'mail');
  const logPath = join(dir, 'dovecot.log');
  const { ca, cert, key } = testCertificates();
  await mkdir(mailRoot, { recursive: true });
  await prepareMaildirForDovecot(mailRoot);
  await writeFile(
    join(dir, 'passwd'),
    Object.entries(options.users)
      .map(([user, password]) => `${user}:{PLAIN}${password}::::::\n`)
      .join(''),
    { mode: 0o644 },
  );
  await writeFile(join(dir, 'cert.pem'), cert, { mode: 0o644 });
  await writeFile(join(dir, 'key.pem'), key, { mode: 0o600 });
  const [port, tlsPort, pop3Port, pop3TlsPort] = (await freePorts(options.pop3 ? 4 : 2)) as number[];
  const pop3Ports = options.pop3 ? { port: pop3Port!, tlsPort: pop3TlsPort! } : undefined;
  const extra = options.extraConfig ?? [];
  await writeFile(
    join(dir, 'dovecot.conf'),
    config({ dir, mailRoot, logPath, port: port!, tlsPort: tlsPort!, pop3Ports, extra }),
    { mode: 0o644 },
  );

  const dovecot = spawnPeer(DOVECOT, ['-F', '-c', join(dir, 'dovecot.conf')]);
  const cleanUp = async (): Promise<void> => {
    await dovecot.stop();
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  };
  try {
    const deadline = Date.now() + START_DEADLINE;
    await waitForGreeting(dovecot, port!, { deadline, greeting: /^\* OK/ });
    await waitForGreeting(dovecot, tlsPort!, { deadline, greeting: /^\* OK/, tls: true });
    if (pop3Ports) {
      await waitForGreeting(dovecot, pop3Ports.port, { deadline, greeting: /^\+OK/ });
      await waitForGreeting(dovecot, pop3Ports.tlsPort, { deadline, greeting: /^\+OK/, tls: true });
    }
  } catch (error) {
    const log = await readFile(logPath, 'utf8').catch(() => '');
    await cleanUp();
    throw new Error(`${(error as Error).message}\n${dovecot.output()}${log}`.trim());
  }

  let stopping: Promise<void> | undefined;
  return {
    pid: dovecot.pid,
    port: port!,
    tlsPort: tlsPort!,
    ...(pop3Ports ? { pop3Ports } : {}),
    ca,
    mailRoot,
    maildir: (user) => join(mailRoot, user),
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
  tlsPort: number;
  pop3Ports: { readonly port: number; readonly tlsPort: number } | undefined;
  extra: readonly string[];
}): string {
  const { root, uid, gid, users, noChroot } = dovecotProcessSettings();
  const chroot = root ? [] : ['  chroot ='];
  return `${[
    `# Throwaway Dovecot for the IMAP peer tests (packages/imap/test/support/dovecot-imap.ts).`,
    `instance_name = postwire-${c.dir.split('/').pop()}`,
    `base_dir = ${c.dir}/run`,
    `state_dir = ${c.dir}/state`,
    `log_path = ${c.logPath}`,
    'listen = 127.0.0.1',
    `protocols = imap${c.pop3Ports ? ' pop3' : ''}`,
    'ssl = yes',
    `ssl_cert = <${c.dir}/cert.pem`,
    `ssl_key = <${c.dir}/key.pem`,
    'disable_plaintext_auth = no',
    'auth_mechanisms = plain login cram-md5 scram-sha-1 scram-sha-256',
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
    'service imap-login {',
    `  inet_listener imap {\n    port = ${c.port}\n  }`,
    `  inet_listener imaps {\n    port = ${c.tlsPort}\n    ssl = yes\n  }`,
    ...chroot,
    '}',
    ...(c.pop3Ports
      ? [
          'service pop3-login {',
          `  inet_listener pop3 {\n    port = ${c.pop3Ports.port}\n  }`,
          `  inet_listener pop3s {\n    port = ${c.pop3Ports.tlsPort}\n    ssl = yes\n  }`,
          ...chroot,
          '}',
          // POP3 lists what IMAP appended, and the UIDL format Dovecot's POP3 tests use.
          'pop3_uidl_format = %08Xu%08Xv',
        ]
      : []),
    // Without this a failed login costs 2 s plus a growing per-IP penalty.
    'service anvil {',
    '  unix_listener anvil-auth-penalty {\n    mode = 0\n  }',
    ...chroot,
    '}',
    ...noChroot,
    ...c.extra,
  ].join('\n')}\n`;
}

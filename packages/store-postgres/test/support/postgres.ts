import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'pg';
import {
  freePorts,
  type PeerProcess,
  settlesWithin,
  spawnPeer,
} from '../../../core/test/support/peer-process.js';

/**
 * A real PostgreSQL (Debian's packages, the newest `/usr/lib/postgresql/<version>/bin`) as a test
 * peer: a throwaway cluster made by `initdb` in a fresh directory in /tmp, served on a free loopback
 * port with trust authentication, stopped by the PID of its postmaster. See /work/shared/PEERS.md for
 * the traps this harness works around (PostgreSQL refuses to run as root, the socket directory …).
 */

/** The superuser `initdb` creates, and the database {@link startPostgres} creates for the tests. */
const USER = 'postwire';
const DATABASE = 'postwire';

/** Where Debian installs each major version's server binaries (`<version>/bin`). */
const DEBIAN_ROOT = '/usr/lib/postgresql';
/** Drops root without a wrapper process: it execs, so its PID becomes the postmaster's. */
const SETPRIV = '/usr/bin/setpriv';

/** How long `initdb` may take. */
const INITDB_DEADLINE = 60_000;
/** How long the server gets to accept connections after it was started. */
const START_DEADLINE = 20_000;
/** How long a fast shutdown (SIGINT), then an immediate one (SIGQUIT), may take before SIGKILL. */
const FAST_STOP_DEADLINE = 10_000;
const IMMEDIATE_STOP_DEADLINE = 5_000;

const runningAsRoot = (): boolean => process.getuid?.() === 0;

/** The newest Debian PostgreSQL `bin` directory holding both `initdb` and `postgres`, if any. */
function postgresBinDir(): string | undefined {
  let versions: string[];
  try {
    versions = readdirSync(DEBIAN_ROOT);
  } catch {
    return undefined;
  }
  const usable = versions
    .filter((name) => /^\d+(\.\d+)?$/.test(name))
    .sort((a, b) => Number(b) - Number(a))
    .map((version) => join(DEBIAN_ROOT, version, 'bin'))
    .filter((bin) => existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'postgres')));
  return usable[0];
}

/**
 * True when PostgreSQL's `initdb` and `postgres` are installed (`.ci/run` installs Debian's
 * `postgresql`), and, when the tests run as root, `setpriv` to drop to an unprivileged user.
 */
export function postgresAvailable(): boolean {
  return postgresBinDir() !== undefined && (!runningAsRoot() || existsSync(SETPRIV));
}

/** A running throwaway PostgreSQL cluster. */
export interface RunningPostgres {
  /** The PID of the postmaster this harness started (the real `postgres`, not a wrapper). */
  readonly pid: number;
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The cluster's superuser (trust authentication: no password). */
  readonly user: string;
  /** A database created for the tests (the cluster also has `postgres`, `template0`, `template1`). */
  readonly database: string;
  /** `postgresql://<user>@127.0.0.1:<port>/<database>`, for `pg`'s `Client` or `Pool`. */
  readonly connectionString: string;
  /** Everything the server wrote to stdout and stderr so far (its log), for a failing test's message. */
  log(): string;
  /**
   * Stops the server by its PID with a fast shutdown (SIGINT: open sessions are ended, not waited
   * for), then SIGQUIT and SIGKILL if it does not exit in time; waits for it to exit and removes its
   * directory. Idempotent.
   */
  stop(): Promise<void>;
}

/** The user the cluster runs as when the tests run as root (PostgreSQL refuses uid 0): `nobody`. */
function unprivilegedIds(): { uid: number; gid: number } {
  const id = (flag: string): number => {
    try {
      return Number(execFileSync('id', [flag, 'nobody'], { encoding: 'utf8' }).trim());
    } catch {
      return 65534;
    }
  };
  return { uid: id('-u'), gid: id('-g') };
}

/** The command line that runs `bin/<program> …args`: through `setpriv` as `nobody` when root. */
function commandFor(
  bin: string,
  program: string,
  args: readonly string[],
): { command: string; args: string[] } {
  const path = join(bin, program);
  if (!runningAsRoot()) return { command: path, args: [...args] };
  const { uid, gid } = unprivilegedIds();
  return {
    command: SETPRIV,
    args: [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', path, ...args],
  };
}

/**
 * Starts a throwaway PostgreSQL: `initdb` (UTF8, locale C.UTF-8, trust authentication, superuser
 * `postwire`) in a fresh directory in /tmp, then `postgres` on a free port on 127.0.0.1 only, its unix
 * socket in that directory, time zone UTC; without fsync (a test cluster need not survive a crash) unless
 * `durable` (the benchmark's, which compares with a Maildir that flushes). Resolves once it accepts
 * connections and the database `postwire` exists.
 */
export async function startPostgres(options: { durable?: boolean } = {}): Promise<RunningPostgres> {
  return startWithRetries(options.durable === true);
}

/**
 * Starts a hot standby of `primary`: a copy made by `pg_basebackup` (streaming the WAL, `-R` so that it
 * follows the primary), served read-only on a port of its own, replaying the primary's changes as they
 * stream. Resolves once it accepts connections; `stop()` it before the primary.
 */
export async function startStandby(primary: RunningPostgres): Promise<RunningPostgres> {
  return startWithRetries(false, primary);
}

async function startWithRetries(durable: boolean, primary?: RunningPostgres): Promise<RunningPostgres> {
  const bin = postgresBinDir();
  if (bin === undefined) throw new Error(`no PostgreSQL in ${DEBIAN_ROOT}/*/bin (.ci/run installs it)`);
  // Another process may take the free port between our probe and the postmaster's bind: try again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(bin, durable, primary);
    } catch (error) {
      if (attempt >= 3 || !(error instanceof PortTakenError)) throw error;
    }
  }
}

class PortTakenError extends Error {}

async function startOnce(bin: string, durable: boolean, primary?: RunningPostgres): Promise<RunningPostgres> {
  // Short, and in /tmp: the unix socket path (`<dir>/.s.PGSQL.<port>`) must fit in 107 bytes.
  const dir = await mkdtemp(join(existsSync('/tmp') ? '/tmp' : process.cwd(), 'pwpg-'));
  const dataDir = join(dir, 'data');
  // If the test process exits without stop(), spawnPeer SIGKILLs the postmaster; its files and its
  // shared memory segment must not outlive it (this listener runs first, being registered first).
  const removeDir = (): void => {
    dropSharedMemory(dataDir);
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  };
  process.once('exit', removeDir);
  let server: PeerProcess | undefined;
  try {
    if (runningAsRoot()) {
      // mkdtemp makes 0700 as root: the cluster's user must own the directory to create `data` in it.
      const { uid, gid } = unprivilegedIds();
      await chown(dir, uid, gid);
    }
    // A standby copies the primary's cluster (initdb's pg_hba.conf trusts replication from loopback).
    const create = primary
      ? commandFor(bin, 'pg_basebackup', [
          '-D',
          dataDir,
          '-h',
          primary.host,
          '-p',
          String(primary.port),
          '-U',
          USER,
          '-X',
          'stream',
          '-R',
          // Not a spread checkpoint, which would wait minutes for the primary's next one.
          '--checkpoint=fast',
          '--no-sync',
        ])
      : commandFor(bin, 'initdb', [
          '-D',
          dataDir,
          '-U',
          USER,
          '-A',
          'trust',
          '-E',
          'UTF8',
          '--locale=C.UTF-8',
          '--no-sync',
          '--no-instructions',
        ]);
    await run(create.command, create.args, dir);

    const [port] = (await freePorts(1)) as [number];
    const postgres = commandFor(bin, 'postgres', [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-k',
      dir,
      '-c',
      'listen_addresses=127.0.0.1',
      ...(durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off']),
      '-c',
      'TimeZone=UTC',
    ]);
    // The postmaster's working directory must be readable by its user (not root's cwd).
    const started = spawnPeer(postgres.command, postgres.args, { cwd: dir });
    server = started;
    try {
      await waitForConnections(started, port, Date.now() + START_DEADLINE);
    } catch (error) {
      const details = started.output().trim();
      const message = `${(error as Error).message}${details ? `\n${details}` : ''}`;
      if (/Address already in use/.test(details)) throw new PortTakenError(message);
      throw new Error(message);
    }
    if (!primary) await withClient(port, 'postgres', (client) => client.query(`CREATE DATABASE ${DATABASE}`));

    let stopping: Promise<void> | undefined;
    return {
      pid: started.pid,
      host: '127.0.0.1',
      port,
      user: USER,
      database: DATABASE,
      connectionString: `postgresql://${USER}@127.0.0.1:${port}/${DATABASE}`,
      log: () => started.output(),
      stop: () => {
        stopping ??= (async () => {
          await sessionsEnded(`postgresql://${USER}@127.0.0.1:${port}/${DATABASE}`);
          await stopServer(started);
          await rm(dir, { recursive: true, force: true, maxRetries: 3 });
          process.removeListener('exit', removeDir);
        })();
        return stopping;
      },
    };
  } catch (error) {
    if (server) await stopServer(server);
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
    process.removeListener('exit', removeDir);
    throw error;
  }
}

/**
 * Marks the running postmaster's System V shared memory segment for removal (`ipcrm`; it goes once
 * the last process detaches). A clean shutdown removes it; a SIGKILLed postmaster leaves it behind.
 * Synchronous, for a process `exit` listener; best effort.
 */
function dropSharedMemory(dataDir: string): void {
  try {
    // Line 7 of postmaster.pid: "<key> <shmid>".
    const shmid = readFileSync(join(dataDir, 'postmaster.pid'), 'utf8')
      .split('\n')[6]
      ?.trim()
      .split(/\s+/)[1];
    if (shmid && /^\d+$/.test(shmid)) execFileSync('ipcrm', ['-m', shmid], { stdio: 'ignore' });
  } catch {
    // No server running, or the segment is already gone.
  }
}

/** Fast shutdown (SIGINT), then immediate (SIGQUIT), then the peer's own SIGTERM/SIGKILL. */
/**
 * Waits (2 s at most) until no other client session is open: a `pg` pool ends its clients without waiting
 * for the server to see them go, and a shutdown that ends one makes that client report an error.
 */
async function sessionsEnded(connectionString: string): Promise<void> {
  const admin = new Client({ connectionString });
  try {
    await admin.connect();
    for (const deadline = Date.now() + 2_000; Date.now() < deadline; ) {
      const { rows } = await admin.query<{ sessions: number }>(
        "SELECT count(*)::int AS sessions FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
      );
      if (rows[0]!.sessions === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } catch {
    // The server is not answering: there is nothing to wait for.
  } finally {
    await admin.end().catch(() => {});
  }
}

async function stopServer(server: PeerProcess): Promise<void> {
  // SIGTERM would be PostgreSQL's "smart" shutdown, which waits for every client to disconnect.
  for (const [signal, deadline] of [
    ['SIGINT', FAST_STOP_DEADLINE],
    ['SIGQUIT', IMMEDIATE_STOP_DEADLINE],
  ] as const) {
    if (!server.running()) return;
    try {
      process.kill(server.pid, signal);
    } catch {
      // Already gone.
    }
    await settlesWithin(server.exited, deadline);
  }
  await server.stop();
}

/**
 * Connects until the server accepts a session (it answers "the database system is starting up"
 * while it starts), trying again until `deadline`; fails at once if the server exits.
 */
async function waitForConnections(server: PeerProcess, port: number, deadline: number): Promise<void> {
  let last: unknown;
  for (;;) {
    if (!server.running()) throw new Error(`PostgreSQL exited before accepting connections on port ${port}`);
    try {
      await withClient(port, 'postgres', (client) => client.query('SELECT 1'));
      return;
    } catch (error) {
      last = error;
    }
    if (Date.now() >= deadline) {
      throw new Error(`PostgreSQL did not accept connections on 127.0.0.1:${port} in time: ${String(last)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Runs `use` with a client connected as the superuser to `database`, then disconnects. */
async function withClient<T>(
  port: number,
  database: string,
  use: (client: Client) => Promise<T>,
): Promise<T> {
  const client = new Client({
    host: '127.0.0.1',
    port,
    user: USER,
    database,
    connectionTimeoutMillis: 2_000,
  });
  // A connection that fails later (e.g. the server shuts down) must not crash the test process.
  client.on('error', () => {});
  try {
    await client.connect();
    return await use(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Runs a command to its end in `cwd`; rejects with its output when it fails or takes too long. */
function run(command: string, args: readonly string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      [...args],
      { cwd, timeout: INITDB_DEADLINE, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error)
          reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${stderr}${stdout}`));
        else resolve();
      },
    );
  });
}

/**
 * Ends a `pg` pool, waiting 2 s at most: a pool waits for every client it lent to come back, and a test that
 * failed half-way may never give one back. The server's stop must not wait on that, or the server outlives
 * the test run.
 */
export async function endPool(pool: { end(): Promise<void> } | undefined): Promise<void> {
  if (pool) await settlesWithin(pool.end(), 2_000);
}

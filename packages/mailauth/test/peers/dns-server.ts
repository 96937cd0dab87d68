import { randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnPeer } from '../../../core/test/support/peer-process.js';
import { type DnsZone, dnsmasqZoneOptions } from './dnsmasq-zone.js';

export type { DnsTxtRecord, DnsZone } from './dnsmasq-zone.js';
export { reverseName } from './dnsmasq-zone.js';

/**
 * A real DNS server for tests: dnsmasq (Debian's dnsmasq-base 2.90) answering for one {@link DnsZone}
 * on 127.0.0.1, UDP and TCP on one free high port, from a throwaway config file (never the system's),
 * forwarding nothing: every name that is not in the zone answers NXDOMAIN at once. Stopped by its
 * PID. See /work/shared/PEERS.md, "dnsmasq".
 */

export const DNSMASQ = '/usr/sbin/dnsmasq';
/** How long dnsmasq gets to answer its first query. */
const START_DEADLINE = 10_000;
/** How many ports are tried when another process takes the chosen one first. */
const PORT_ATTEMPTS = 5;

/** True when dnsmasq is installed (`.ci/run` installs dnsmasq-base). */
export function dnsmasqAvailable(): boolean {
  return existsSync(DNSMASQ);
}

/** Options of {@link startDnsServer}. */
export interface DnsServerOptions {
  /** Log every query to {@link DnsServer.output} (dnsmasq's `--log-queries`). */
  readonly logQueries?: boolean;
}

/** A running dnsmasq. */
export interface DnsServer {
  readonly pid: number;
  readonly host: '127.0.0.1';
  /** UDP and TCP. */
  readonly port: number;
  /** `['127.0.0.1:PORT']`, as `createNodeDnsResolver({ servers })` and the tool helpers take it. */
  readonly servers: readonly string[];
  /** What dnsmasq logged so far (with `logQueries`, one `query[TXT] name` and one answer line per query). */
  output(): string;
  /** SIGTERM, then SIGKILL; waits for the exit and removes the config directory. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts dnsmasq serving `zone` and resolves once it answers a query over UDP and accepts TCP.
 * Check {@link dnsmasqAvailable} first.
 */
export async function startDnsServer(zone: DnsZone, options: DnsServerOptions = {}): Promise<DnsServer> {
  const { lines, args } = dnsmasqZoneOptions(zone);
  const dir = await mkdtemp(join(tmpdir(), 'pw-dnsmasq-'));
  const config = join(dir, 'dnsmasq.conf');
  await writeFile(config, `${[...dnsmasqBaseConfig(), ...lines].join('\n')}\n`);
  let lastFailure = '';
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const port = await freeUdpAndTcpPort();
    const peer = spawnPeer(DNSMASQ, [
      `--conf-file=${config}`,
      `--port=${port}`,
      '--listen-address=127.0.0.1',
      '--bind-interfaces',
      '--keep-in-foreground',
      '--pid-file=',
      '--log-facility=-',
      ...(options.logQueries ? ['--log-queries'] : []),
      ...args,
    ]);
    const stop = async (): Promise<void> => {
      await peer.stop();
      await rm(dir, { recursive: true, force: true });
    };
    const deadline = Date.now() + START_DEADLINE;
    try {
      await waitUntilAnswering(port, deadline, () => peer.running());
      return {
        pid: peer.pid,
        host: '127.0.0.1',
        port,
        servers: [`127.0.0.1:${port}`],
        output: () => peer.output(),
        stop,
      };
    } catch (error) {
      const exited = !peer.running();
      await peer.stop();
      await new Promise((resolve) => setTimeout(resolve, 50)); // its last words may still be in the pipe
      lastFailure = `${(error as Error).message}\n${peer.output()}`;
      // It exited at once: most likely another process took the port after the check (dnsmasq says
      // "Address already in use"), so another port is tried; a bad config fails each time the same way.
      if (!exited) break;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw new Error(`dnsmasq did not start: ${lastFailure}`);
}

/**
 * The options every test dnsmasq runs with, as config-file lines: no system config (`conf-file` is
 * given), no `/etc/resolv.conf` and no upstream servers, no `/etc/hosts`, no DHCP (no `dhcp-range`),
 * and `local=/#/`: every name dnsmasq has no record for is NXDOMAIN, never forwarded or REFUSED (a
 * REFUSED is a temperror to SPF checkers). As root, `user=root` keeps it from switching to the
 * `dnsmasq` user; as another user it never switches. The PID file is set on the command line.
 */
export function dnsmasqBaseConfig(): string[] {
  return [
    'no-resolv',
    'no-hosts',
    'no-poll',
    'local=/#/',
    ...(process.getuid?.() === 0 ? ['user=root'] : []),
  ];
}

/** A loopback port that is free for both UDP and TCP right now. */
async function freeUdpAndTcpPort(): Promise<number> {
  for (;;) {
    const socket = dgram.createSocket('udp4');
    const port = await new Promise<number>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => resolve(socket.address().port));
    });
    const tcpFree = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    if (tcpFree) return port;
  }
}

/** Waits until 127.0.0.1:`port` answers a DNS query over UDP and accepts a TCP connection. */
async function waitUntilAnswering(port: number, deadline: number, running: () => boolean): Promise<void> {
  for (;;) {
    if (!running()) throw new Error('dnsmasq exited');
    // TCP first: until dnsmasq listens, a connection is refused at once, a UDP query only times out.
    if ((await tcpAccepts(port)) && (await udpAnswers(port))) return;
    if (Date.now() >= deadline) throw new Error(`no DNS answer on 127.0.0.1:${port} in time`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Sends one query (`ready.invalid A`) and says whether an answer with its ID came back within 200 ms. */
function udpAnswers(port: number): Promise<boolean> {
  const id = randomBytes(2);
  const question = Buffer.concat([
    id,
    Buffer.from([0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]), // RD; one question
    Buffer.from('\x05ready\x07invalid\x00', 'latin1'),
    Buffer.from([0, 1, 0, 1]), // A, IN
  ]);
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const finish = (answered: boolean): void => {
      clearTimeout(timer);
      socket.close();
      resolve(answered);
    };
    const timer = setTimeout(() => finish(false), 200);
    socket.on('error', () => finish(false));
    socket.on('message', (answer) => {
      if (answer.length >= 12 && answer.subarray(0, 2).equals(id)) finish(true);
    });
    socket.send(question, port, '127.0.0.1');
  });
}

function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

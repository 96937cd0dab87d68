import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@postwire/core/node';
import { createImapClient } from '@postwire/imap';
import { testCertificates } from '../../packages/core/test/support/certs.js';
import { spawnPeer } from '../../packages/core/test/support/peer-process.js';
import {
  bin,
  firstJsonLine,
  requireBuild,
  runScript,
  runtimesDir,
  startWorker,
} from '../../runtimes/test/support.js';

/** One workload measured on every runtime, in the same run. */
export interface RuntimeRow {
  readonly workload: string;
  readonly unit: string;
  readonly figures: Readonly<Record<string, number>>;
}

/** What runtimes/bench/throughput.mjs reports. */
interface Throughput {
  readonly mimeNewsletter: number;
  readonly mimeAttachments: number;
  readonly imapFetch: number;
  readonly newsletterBytes: number;
  readonly attachmentBytes: number;
  readonly mailboxBytes: number;
  readonly error?: string;
}

const USER = { username: 'alice', password: 'wonderland' };
/** The mailbox every runtime fetches: 100 messages of 102,400 bytes (CRLF lines of 78 octets). */
const MESSAGES = 100;
const MESSAGE_SIZE = 102_400;

function message(n: number): string {
  const head = `From: ann@example.org\r\nTo: alice@localhost\r\nSubject: Message ${n}\r\nMessage-ID: <${n}@example.org>\r\n\r\n`;
  const line = `${'abcdefghijklmnopqrstuvwxyz'.repeat(3)}\r\n`;
  return head + line.repeat(Math.floor((MESSAGE_SIZE - head.length) / line.length));
}

/** The version each runtime reports of itself. */
export function runtimeVersions(): Record<string, string> {
  const first = (command: string, args: string[]) =>
    execFileSync(command, args, { encoding: 'utf8' }).split('\n')[0]!.trim();
  return {
    Node: process.version,
    Deno: first(bin('deno'), ['--version']).split(' ')[1]!,
    Bun: first(bin('bun'), ['--version']),
    workerd: first(bin('workerd'), ['--version']).split(' ')[1]!,
  };
}

/**
 * MIME parse and IMAP FETCH throughput on Node, Deno, Bun and workerd, each runtime in turn, with the same
 * script (runtimes/bench/throughput.mjs) on the built packages. The IMAP server is Postwire's dev server in
 * a Node child process, holding one mailbox that every runtime fetches over loopback.
 */
export async function runtimesSuite(): Promise<RuntimeRow[]> {
  requireBuild();
  const directory = await mkdtemp(join(tmpdir(), 'postwire-bench-runtimes-'));
  const { ca, cert, key } = testCertificates();
  await writeFile(join(directory, 'tls.json'), JSON.stringify({ cert, key }));
  const server = spawnPeer(
    process.execPath,
    [join(runtimesDir, 'scenario/dev-server.mjs'), join(directory, 'tls.json')],
    {
      cwd: runtimesDir,
    },
  );
  try {
    const ports = await firstJsonLine<Record<string, number>>(server);
    const filler = await createImapClient({
      connector: connect,
      host: '127.0.0.1',
      port: ports.imap!,
      starttls: 'never',
      auth: { ...USER, allowCleartext: true },
    });
    for (let n = 1; n <= MESSAGES; n++) await filler.append('INBOX', message(n));
    await filler.logout();

    const settingsFile = join(directory, 'settings.json');
    const settings = { imap: { host: '127.0.0.1', port: ports.imap, user: USER } };
    await writeFile(settingsFile, JSON.stringify(settings));
    const results: Record<string, Throughput> = {};
    for (const runtime of ['node', 'deno', 'bun'] as const) {
      results[{ node: 'Node', deno: 'Deno', bun: 'Bun' }[runtime]] = await runScript<Throughput>(
        runtime,
        `bench/${runtime}.mjs`,
        [settingsFile],
        300_000,
      );
    }
    const worker = await startWorker('bench/worker.mjs', join(directory, 'worker'), ca);
    try {
      results.workerd = (await worker.post(settings)) as Throughput;
    } finally {
      await worker.stop();
    }
    for (const [runtime, result] of Object.entries(results))
      if (result.error) throw new Error(`${runtime}: ${result.error}`);
    const node = results.Node!;
    const figures = (pick: (result: Throughput) => number) =>
      Object.fromEntries(Object.entries(results).map(([runtime, result]) => [runtime, pick(result)]));
    const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
    return [
      {
        workload: `Parse a ${mb(node.newsletterBytes)} MB HTML newsletter (quoted-printable)`,
        unit: 'MB/s',
        figures: figures((result) => result.mimeNewsletter),
      },
      {
        workload: `Parse a ${mb(node.attachmentBytes)} MB message with five base64 attachments`,
        unit: 'MB/s',
        figures: figures((result) => result.mimeAttachments),
      },
      {
        workload: `IMAP FETCH BODY.PEEK[] of ${MESSAGES} messages (${mb(node.mailboxBytes)} MB), plain TCP`,
        unit: 'MB/s',
        figures: figures((result) => result.imapFetch),
      },
    ];
  } finally {
    await server.stop();
    await rm(directory, { recursive: true, force: true });
  }
}

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { anyFreeDevServerPorts, type DevServer, type DevServerPorts, startDevServer } from '@postwire/cli';
import { createMemoryStore } from '@postwire/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCertificates } from '../../packages/core/test/support/certs.js';
import { spawnPeer } from '../../packages/core/test/support/peer-process.js';
import {
  dovecotAvailable,
  type ImapDovecot,
  startImapDovecot,
} from '../../packages/imap/test/support/dovecot-imap.js';
import { bin, firstJsonLine, requireBuild, runScript, runtimesDir, startWorker } from './support.js';

/**
 * One client scenario (scenario/client-scenario.mjs: MIME, every SASL mechanism, SMTP send, POP3 list and
 * retrieve, IMAP login/select/append/search/fetch/IDLE, over plain TCP, STARTTLS and implicit TLS) on Node,
 * Deno, Bun and workerd, against Postwire's dev server and a real Dovecot, with certificates the test makes.
 * A failure on any runtime fails the build.
 */
const WAYS = ['plain', 'starttls', 'implicit'] as const;
const USER = { username: 'alice', password: 'wonderland' };

const hasDovecot = dovecotAvailable();
if (!hasDovecot) console.warn('runtimes: Dovecot is not installed; the scenarios run against Postwire only');

let directory: string;
let settingsFile: string;
let settings: { ways: readonly string[]; targets: Record<string, unknown>[] };
let server: DevServer;
let dovecot: ImapDovecot | undefined;

/** A dev server as the scenario's target: its submission, IMAP and POP3 ports, each with STARTTLS and implicit TLS. */
function devServerTarget(name: string, ports: DevServerPorts, ca: string): Record<string, unknown> {
  return {
    name,
    host: '127.0.0.1',
    smtp: ports.submission,
    smtpTls: ports.submissions,
    imap: ports.imap,
    imapTls: ports.imaps,
    pop3: ports.pop3,
    pop3Tls: ports.pop3s,
    user: USER,
    ca,
  };
}

/** The steps the scenario reports when all went well. */
function expectedSteps(): string[] {
  const steps = ['mime', 'sasl'];
  for (const target of settings.targets)
    for (const how of WAYS) {
      if (target.smtp) steps.push(`smtp ${target.name} ${how}`);
      steps.push(`imap ${target.name} ${how}`, `pop3 ${target.name} ${how}`);
    }
  return steps;
}

beforeAll(async () => {
  requireBuild();
  directory = await mkdtemp(join(tmpdir(), 'postwire-runtimes-'));
  const { ca, cert, key } = testCertificates();
  server = await startDevServer({
    store: createMemoryStore(),
    users: [{ name: USER.username, password: USER.password }],
    tls: { key, cert },
    ports: anyFreeDevServerPorts,
    mailAuthentication: false,
  });
  const targets: Record<string, unknown>[] = [devServerTarget('postwire', server.ports, ca)];
  if (hasDovecot) {
    dovecot = await startImapDovecot({ users: { alice: USER.password }, pop3: true });
    targets.push({
      name: 'dovecot',
      host: '127.0.0.1',
      imap: dovecot.port,
      imapTls: dovecot.tlsPort,
      pop3: dovecot.pop3Ports!.port,
      pop3Tls: dovecot.pop3Ports!.tlsPort,
      user: USER,
      ca: dovecot.ca,
    });
  }
  settings = { ways: WAYS, targets };
  settingsFile = join(directory, 'settings.json');
  await writeFile(settingsFile, JSON.stringify(settings));
}, 60_000);

afterAll(async () => {
  await server?.close();
  await dovecot?.stop();
  if (directory) await rm(directory, { recursive: true, force: true });
});

describe('the client scenario on every runtime', () => {
  it.each(['node', 'deno', 'bun'] as const)('%s', async (runtime) => {
    const result = await runScript<{ passed: string[]; conditionPicksAdapter: boolean }>(
      runtime,
      `scenario/${runtime}.mjs`,
      [settingsFile],
    );
    expect(result.passed).toEqual(expectedSteps());
    expect(result.conditionPicksAdapter).toBe(true);
  });

  it('workerd, bundled with esbuild for the workerd condition', async () => {
    const worker = await startWorker('scenario/worker.mjs', join(directory, 'worker'), testCertificates().ca);
    try {
      const result = (await worker.post(settings)) as {
        passed?: string[];
        conditionPicksAdapter?: boolean;
        error?: string;
      };
      expect(result.error).toBeUndefined();
      expect(result.passed).toEqual(expectedSteps());
      expect(result.conditionPicksAdapter).toBe(true);
    } finally {
      await worker.stop();
    }
  });
});

describe('the servers on Deno and Bun', () => {
  it.each(['deno', 'bun'] as const)(
    "Postwire's dev server on %s serves the Node scenario over plain TCP, STARTTLS and implicit TLS",
    async (runtime) => {
      const { cert, key, ca } = testCertificates();
      const tlsFile = join(directory, `${runtime}-tls.json`);
      await writeFile(tlsFile, JSON.stringify({ cert, key }));
      const command =
        runtime === 'deno'
          ? [bin('deno'), 'run', '--allow-net', '--allow-read', '--allow-env', '--allow-sys']
          : [bin('bun')];
      const peer = spawnPeer(
        command[0]!,
        [...command.slice(1), join(runtimesDir, 'scenario/dev-server.mjs'), tlsFile],
        {
          cwd: runtimesDir,
        },
      );
      try {
        const target = devServerTarget(runtime, await firstJsonLine<DevServerPorts>(peer), ca);
        const file = join(directory, `${runtime}-server.json`);
        await writeFile(file, JSON.stringify({ ways: WAYS, targets: [target] }));
        const result = await runScript<{ passed: string[] }>('node', 'scenario/node.mjs', [file]);
        expect(result.passed).toEqual([
          'mime',
          'sasl',
          ...WAYS.flatMap((how) => [
            `smtp ${runtime} ${how}`,
            `imap ${runtime} ${how}`,
            `pop3 ${runtime} ${how}`,
          ]),
        ]);
      } finally {
        await peer.stop();
      }
    },
  );
});

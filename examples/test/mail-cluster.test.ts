import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createImapClient } from '@postwire/imap/node';
import { createPop3Client } from '@postwire/pop3/node';
import { createSmtpClient } from '@postwire/smtp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  postgresAvailable,
  type RunningPostgres,
  startPostgres,
} from '../../packages/store-postgres/test/support/postgres.js';

const examples = fileURLToPath(new URL('..', import.meta.url));

/** The script runs under plain `node`, which resolves `@postwire/*` to the packages' dist builds. */
function requireBuild(): void {
  if (!existsSync(join(examples, 'node_modules/@postwire/store-postgres/dist/index.js')))
    throw new Error('the examples import the built packages: run `npx -y pnpm@10 build` first');
}

interface FrontEnd {
  readonly child: ChildProcess;
  readonly ports: { smtp: number; imap: number; pop3: number };
}

/** Starts one mail-cluster.mjs process; resolves once it printed its ports. */
function startFrontEnd(databaseUrl: string, started: ChildProcess[]): Promise<FrontEnd> {
  const child = spawn(process.execPath, [join(examples, 'mail-cluster.mjs')], {
    env: { ...process.env, DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  const output: string[] = [];
  return new Promise((resolve, reject) => {
    const lines = (stream: NodeJS.ReadableStream) =>
      createInterface({ input: stream }).on('line', (line) => {
        output.push(line);
        const listening = /SMTP \S+:(\d+), IMAP \S+:(\d+), POP3 \S+:(\d+)$/.exec(line);
        if (listening) {
          const [smtp, imap, pop3] = listening.slice(1).map(Number) as [number, number, number];
          resolve({ child, ports: { smtp, imap, pop3 } });
        }
      });
    lines(child.stdout!);
    lines(child.stderr!);
    child.once('exit', (code) =>
      reject(new Error(`mail-cluster.mjs exited (${code}) before listening:\n${output.join('\n')}`)),
    );
  });
}

/** SIGTERM, as a deploy stops a process; resolves with its exit code. */
function stopFrontEnd(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  return exited;
}

const available = postgresAvailable();
if (!available) console.warn('examples/mail-cluster.mjs: PostgreSQL is not installed; its test is skipped');

describe.skipIf(!available)('examples/mail-cluster.mjs: two front ends over one PostgreSQL', () => {
  let database: RunningPostgres;
  const children: ChildProcess[] = [];
  let first: FrontEnd;
  let second: FrontEnd;

  beforeAll(async () => {
    requireBuild();
    database = await startPostgres();
    // Started together, as a deploy starts them: both migrate, and the schema is made once.
    [first, second] = await Promise.all([
      startFrontEnd(database.connectionString, children),
      startFrontEnd(database.connectionString, children),
    ]);
  }, 60_000);

  afterAll(async () => {
    const exitCodes = await Promise.all(children.map(stopFrontEnd));
    await database?.stop();
    expect(exitCodes).toEqual(children.map(() => 0));
  }, 30_000);

  it('mail delivered over SMTP to one front end reaches an IDLE session on the other, and POP3 on the first', async () => {
    const alice = { username: 'alice', password: 'wonderland', allowCleartext: true };
    const watcher = await createImapClient({
      host: '127.0.0.1',
      port: second.ports.imap,
      starttls: 'never',
      auth: alice,
    });
    await watcher.open('INBOX');
    expect(watcher.mailbox!.exists).toBe(0);
    const arrived = new Promise<number>((resolve) =>
      watcher.addEventListener('exists', (event) => resolve(event.detail.count)),
    );
    const controller = new AbortController();
    const idling = watcher.idle({ signal: controller.signal });

    const smtp = createSmtpClient({ host: '127.0.0.1', port: first.ports.smtp, starttls: 'never' });
    const sent = await smtp
      .send({
        envelope: { from: 'ann@example.org', to: ['alice@example.com'] },
        message:
          'From: ann@example.org\r\nTo: alice@example.com\r\nSubject: Across the cluster\r\n\r\nHello.\r\n',
      })
      .finally(() => smtp.close());
    expect(sent.accepted).toEqual(['alice@example.com']);

    expect(await arrived).toBe(1);
    controller.abort();
    await idling;
    const subjects: (string | null | undefined)[] = [];
    for await (const message of watcher.fetch('1:*', { envelope: true }))
      subjects.push(message.envelope?.subject);
    expect(subjects).toEqual(['Across the cluster']);
    await watcher.logout();

    const pop3 = await createPop3Client({
      host: '127.0.0.1',
      port: first.ports.pop3,
      starttls: 'never',
      auth: { ...alice, mechanisms: [] },
    });
    expect(await pop3.list()).toEqual([{ message: 1, size: expect.any(Number) }]);
    await pop3.quit();
  });
});

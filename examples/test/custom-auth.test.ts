import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createImapClient } from '@postwire/imap/node';
import { createPop3Client } from '@postwire/pop3/node';
import type { ClientMechanism } from '@postwire/sasl';
import { createSmtpClient } from '@postwire/smtp/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const examples = fileURLToPath(new URL('..', import.meta.url));

/** The script runs under plain `node`, which resolves `@postwire/*` to the packages' dist builds. */
function requireBuild(): void {
  if (!existsSync(join(examples, 'node_modules/@postwire/cli/dist/index.js')))
    throw new Error('the examples import the built packages: run `npx -y pnpm@10 build` first');
}

interface Running {
  readonly child: ChildProcess;
  readonly output: string[];
  /** Resolves with the first line (seen so far or to come) that matches. */
  line(pattern: RegExp): Promise<RegExpExecArray>;
}

function run(script: string, cwd: string): Running {
  const child = spawn(process.execPath, [join(examples, script)], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const waiting = new Set<() => void>();
  const lines = (stream: NodeJS.ReadableStream) =>
    createInterface({ input: stream }).on('line', (line) => {
      output.push(line);
      for (const wake of waiting) wake();
    });
  lines(child.stdout!);
  lines(child.stderr!);
  const line = (pattern: RegExp) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const look = () => {
        for (const seen of output) {
          const match = pattern.exec(seen);
          if (match) {
            waiting.delete(look);
            resolve(match);
            return;
          }
        }
      };
      waiting.add(look);
      child.once('exit', (code) => {
        waiting.delete(look);
        reject(new Error(`${script} exited (${code}) before printing ${pattern}:\n${output.join('\n')}`));
      });
      look();
    });
  return { child, output, line };
}

/** The client side of the script's X-TOKEN: "name SP token" as the initial response. */
const xToken = (name: string, token: string): ClientMechanism => ({
  name: 'X-TOKEN',
  cleartext: true,
  start: () => ({
    initialResponse: new TextEncoder().encode(`${name} ${token}`),
    respond: async () => {
      throw new Error('X-TOKEN sends no challenge');
    },
  }),
});

describe('examples/custom-auth.mjs', () => {
  let directory: string;
  let script: Running;
  let ports: { smtp: number; imap: number; pop3: number };
  let token: string;
  let tls: { ca: string; servername: string };

  beforeAll(async () => {
    requireBuild();
    directory = await mkdtemp(join(tmpdir(), 'postwire-custom-auth-'));
    script = run('custom-auth.mjs', directory);
    const port = async (name: string) =>
      Number((await script.line(new RegExp(`^\\s+${name}\\s+127\\.0\\.0\\.1:(\\d+)`)))[1]);
    ports = { smtp: await port('SMTP submission'), imap: await port('IMAP'), pop3: await port('POP3') };
    token = (await script.line(/^\s+X-TOKEN\s+alice (\S+)$/))[1]!;
    const certificate = (await script.line(/^\s+Certificate\s+(\S+)$/))[1]!;
    tls = { ca: await readFile(certificate, 'utf8'), servername: 'localhost' };
    await script.line(/^Press Ctrl-C/);
  }, 30_000);

  afterAll(async () => {
    if (script && script.child.exitCode === null) {
      const exited = new Promise((resolve) => script.child.once('exit', resolve));
      script.child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  const send = (auth: Record<string, unknown>, subject: string) => {
    const smtp = createSmtpClient({ host: '127.0.0.1', port: ports.smtp, starttls: 'required', tls, auth });
    return smtp
      .send({
        envelope: { from: 'alice@localhost', to: ['alice@localhost'] },
        message: `From: alice@localhost\r\nTo: alice@localhost\r\nSubject: ${subject}\r\n\r\nHello.\r\n`,
      })
      .finally(() => smtp.close());
  };
  const imapLogin = async (auth: Record<string, unknown>) => {
    const imap = await createImapClient({
      host: '127.0.0.1',
      port: ports.imap,
      starttls: 'required',
      tls,
      auth,
    });
    const { messages } = await imap.status('INBOX', ['MESSAGES']);
    await imap.logout();
    return messages;
  };
  const pop3Login = async (auth: Record<string, unknown>) => {
    const pop3 = await createPop3Client({
      host: '127.0.0.1',
      port: ports.pop3,
      starttls: 'required',
      tls,
      auth,
    });
    const { messages } = await pop3.stat();
    await pop3.quit();
    return messages;
  };
  const alice = { username: 'alice', password: 'wonderland' };
  const wrong = { username: 'alice', password: 'looking-glass' };
  const refused = { code: 'AUTH_FAILED' };

  it('SMTP submission: the table user sends with SCRAM, PLAIN and LOGIN; a wrong password is refused', async () => {
    for (const mechanisms of [['SCRAM-SHA-256-PLUS'], ['SCRAM-SHA-256'], ['PLAIN'], ['LOGIN']]) {
      const sent = await send({ ...alice, mechanisms }, `via ${mechanisms[0]}`);
      expect(sent.accepted).toEqual(['alice@localhost']);
    }
    for (const mechanisms of [['SCRAM-SHA-256'], ['PLAIN']])
      await expect(send({ ...wrong, mechanisms }, 'nope')).rejects.toMatchObject(refused);
    await expect(
      send({ username: 'mallory', password: 'x', mechanisms: ['PLAIN'] }, 'nope'),
    ).rejects.toMatchObject(refused);
    await script.line(/^login refused: mallory with PLAIN from /);
  });

  it('IMAP: the table user logs in with SCRAM, PLAIN and the LOGIN command; a wrong password is refused', async () => {
    for (const mechanisms of [undefined, ['SCRAM-SHA-256'], ['PLAIN'], []])
      expect(await imapLogin({ ...alice, ...(mechanisms && { mechanisms }) })).toBe(4);
    for (const mechanisms of [['SCRAM-SHA-256'], ['PLAIN'], []])
      await expect(imapLogin({ ...wrong, mechanisms })).rejects.toMatchObject(refused);
    // bob is in the table too, with no mail.
    expect(await imapLogin({ username: 'bob', password: 'builder' })).toBe(0);
  });

  it('POP3: the table user logs in with SCRAM, PLAIN and USER/PASS; a wrong password is refused', async () => {
    for (const mechanisms of [undefined, ['SCRAM-SHA-256'], ['PLAIN'], []])
      expect(await pop3Login({ ...alice, ...(mechanisms && { mechanisms }) })).toBe(4);
    for (const mechanisms of [['SCRAM-SHA-256'], ['PLAIN'], []])
      await expect(pop3Login({ ...wrong, mechanisms })).rejects.toMatchObject(refused);
  });

  it('the custom X-TOKEN mechanism logs in over all three with the issued token, and refuses another', async () => {
    const good = { custom: [xToken('alice', token)], mechanisms: ['X-TOKEN'] };
    const sent = await send(good, 'via X-TOKEN');
    expect(sent.accepted).toEqual(['alice@localhost']);
    expect(await imapLogin(good)).toBe(5);
    expect(await pop3Login(good)).toBe(5);

    for (const bad of [xToken('alice', 'not-the-token'), xToken('bob', token)]) {
      const auth = { custom: [bad], mechanisms: ['X-TOKEN'] };
      await expect(send(auth, 'nope')).rejects.toMatchObject(refused);
      await expect(imapLogin(auth)).rejects.toMatchObject(refused);
      await expect(pop3Login(auth)).rejects.toMatchObject(refused);
    }
    expect(script.output).toContain('login: alice with X-TOKEN from 127.0.0.1');
    expect(
      script.output.filter((line) => line === 'login refused: bob with X-TOKEN from 127.0.0.1'),
    ).toHaveLength(3);
  });
});

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  anyFreeDevServerPorts,
  createSelfSignedCertificate,
  type DevServer,
  startDevServer,
} from '@postwire/cli';
import { createSmtpClient } from '@postwire/smtp/node';
import { createMemoryStore, type MailStore } from '@postwire/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const examples = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

/** The script runs under plain `node`, which resolves `@postwire/*` to the packages' dist builds. */
function requireBuild(): void {
  if (!existsSync(join(examples, 'node_modules/@postwire/pop3/dist/node/index.js')))
    throw new Error('the examples import the built packages: run `npx -y pnpm@10 build` first');
}

describe('examples/pop3-download.mjs', () => {
  let directory: string;
  let store: MailStore;
  let server: DevServer;
  let certificate: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    requireBuild();
    directory = await mkdtemp(join(tmpdir(), 'postwire-pop3-download-'));
    const tls = createSelfSignedCertificate();
    certificate = tls.cert;
    await writeFile(join(directory, 'cert.pem'), tls.cert);
    store = createMemoryStore();
    server = await startDevServer({
      store,
      users: [{ name: 'alice', password: 'secret' }],
      tls,
      ports: anyFreeDevServerPorts,
      mailAuthentication: false,
    });
    env = {
      ...process.env,
      POP3_HOST: server.host,
      POP3_PORT: String(server.ports.pop3),
      POP3_USER: 'alice',
      POP3_PASSWORD: 'secret',
      POP3_CA: join(directory, 'cert.pem'),
    };
  });

  afterAll(async () => {
    await server?.close();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  /** Sends a message to alice through the dev server's submission port. */
  const deliver = async (subject: string) => {
    const smtp = createSmtpClient({
      host: server.host,
      port: server.ports.submission,
      starttls: 'required',
      tls: { ca: certificate, servername: 'localhost' },
      auth: { username: 'alice', password: 'secret' },
    });
    try {
      await smtp.send({
        envelope: { from: 'alice@localhost', to: ['alice@localhost'] },
        message: `From: alice@localhost\r\nTo: alice@localhost\r\nSubject: ${subject}\r\n\r\n${subject}.\r\n`,
      });
    } finally {
      await smtp.close();
    }
  };
  const download = async (...args: string[]) =>
    (await run(process.execPath, [join(examples, 'pop3-download.mjs'), ...args], { cwd: directory, env }))
      .stdout;
  const files = async () =>
    (await readdir(join(directory, 'pop3-mail'))).filter((name) => name.endsWith('.eml'));
  const remembered = async () =>
    JSON.parse(await readFile(join(directory, 'pop3-mail/.pop3-uidl.json'), 'utf8')).uids as string[];
  const onServer = async () => (await (await store.user('alice')).status('INBOX')).messages;

  it('leaves the mail on the server and downloads only what it has not seen; --delete empties the maildrop', async () => {
    for (const subject of ['One', 'Two', 'Three']) await deliver(subject);

    const first = await download();
    expect(first).toContain('pop3-download: 3 downloaded (not seen before), 3 left on the server');
    expect(await files()).toHaveLength(3);
    expect(await remembered()).toHaveLength(3);
    expect(await onServer()).toBe(3);
    const texts = await Promise.all(
      (await files()).map((name) => readFile(join(directory, 'pop3-mail', name), 'utf8')),
    );
    expect(texts.map((text) => /^Subject: (.*)$/m.exec(text)?.[1]).sort()).toEqual(['One', 'Three', 'Two']);

    // Run again: every UIDL is known, nothing is downloaded, nothing leaves the server.
    const second = await download();
    expect(second).toContain('pop3-download: 0 downloaded (not seen before), 3 left on the server');
    expect(await files()).toHaveLength(3);
    expect(await onServer()).toBe(3);

    // One more, then --delete: the new one is downloaded, and all four are deleted from the server.
    await deliver('Four');
    const third = await download('--delete');
    expect(third).toContain('pop3-download --delete: 1 downloaded, 4 deleted from the server');
    expect(await files()).toHaveLength(4);
    expect(await onServer()).toBe(0);
    expect(await remembered()).toEqual([]);

    // A message delivered after that is downloaded and deleted at once.
    await deliver('Five');
    expect(await download('--delete')).toContain('1 downloaded, 1 deleted from the server');
    expect(await files()).toHaveLength(5);
    expect(await onServer()).toBe(0);
  });
});

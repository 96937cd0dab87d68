import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import { parseMessage } from '@postwire/mime';
import { createMemoryStore, type MailStore } from '@postwire/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * `examples/send-mail.mjs`, run as `node send-mail.mjs` is run: a child process, against the dev server
 * started here in-process on free ports. The child imports the built packages (their `dist/`).
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const script = join(root, 'examples', 'send-mail.mjs');
const run = promisify(execFile);

/** The script imports `@postwire/*` from the packages' builds: without them it cannot run at all. */
function requireBuiltPackages(entries: readonly string[]): void {
  const missing = entries.filter((entry) => !existsSync(join(root, 'packages', entry)));
  if (missing.length > 0) {
    throw new Error(
      `examples/send-mail.mjs runs on the built packages, and ${missing.map((entry) => `packages/${entry}`).join(', ')} is missing: ` +
        'run `npx -y pnpm@10 build` (pnpm build) first',
    );
  }
}

const tls = createSelfSignedCertificate();
const user = { name: 'dev', password: 'dev' }; // the script's default login
const dir = mkdtempSync(join(tmpdir(), 'postwire-send-mail-'));
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, tls.cert);
const photo = randomBytes(300 * 1024);
writeFileSync(join(dir, 'photo.bin'), photo);
const report = 'day,messages,bytes\r\n2024-05-01,12,48213\r\n2024-05-02,7,19920\r\n';
let store: MailStore;
let server: DevServer;

beforeAll(async () => {
  requireBuiltPackages([
    'core/dist/index.js',
    'sasl/dist/index.js',
    'mailauth/dist/index.js',
    'mime/dist/index.js',
    'smtp/dist/node/index.js',
  ]);
  store = createMemoryStore();
  server = await startDevServer({
    store,
    users: [user],
    tls,
    ports: anyFreeDevServerPorts,
    mailAuthentication: false,
  });
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the script with only these SMTP_* variables set (none inherited from the shell). */
function sendMail(args: readonly string[], env: Record<string, string>, cwd = dir) {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('SMTP_')),
  );
  return run(process.execPath, [script, ...args], {
    cwd,
    env: { ...inherited, SMTP_HOST: server.host, SMTP_PORT: String(server.ports.submission), ...env },
  });
}

/** The message the script reported sending, as stored in dev's INBOX. */
async function delivered(stdout: string) {
  const id = /^Sent <([^>]+)> through /m.exec(stdout)?.[1];
  expect(id, stdout).toBeDefined();
  const mail = await store.user(user.name);
  const inbox = await mail.open('INBOX');
  try {
    for (const { uid } of await inbox.messages()) {
      const message = await parseMessage(inbox.read(uid));
      if (message.messageId === id) return message;
    }
  } finally {
    await inbox.close();
    await mail.release();
  }
  throw new Error(`<${id}> is not in ${user.name}'s INBOX`);
}

/** How many messages dev's INBOX holds. */
async function messageCount(): Promise<number> {
  const mail = await store.user(user.name);
  const inbox = await mail.open('INBOX');
  try {
    return (await inbox.status()).messages;
  } finally {
    await inbox.close();
    await mail.release();
  }
}

describe('examples/send-mail.mjs', () => {
  it('sends text, HTML, the generated report and the file named, which arrive intact', async () => {
    const { stdout, stderr } = await sendMail([join(dir, 'photo.bin')], {
      SMTP_USER: user.name,
      SMTP_PASSWORD: user.password,
      SMTP_CA: caFile,
    });
    expect(stderr).toBe('');
    expect(stdout).toMatch(/^Sent <[0-9a-f]+@localhost> through 127\.0\.0\.1:\d+\n/);
    expect(stdout).toContain('  accepted: dev@localhost\n  rejected: (none)\n  server said: 250 ');

    const message = await delivered(stdout);
    expect(message.subject).toBe('Monthly report, with attachments');
    expect(message.from).toEqual([expect.objectContaining({ address: 'dev@localhost' })]);
    expect(message.text).toContain('The report is attached');
    expect(message.html).toContain('<b>report</b>');
    expect(message.attachments.map(({ filename, contentType }) => ({ filename, contentType }))).toEqual([
      { filename: 'report.csv', contentType: 'text/csv' },
      { filename: 'photo.bin', contentType: 'application/octet-stream' },
    ]);
    const [csv, bin] = message.attachments;
    expect(new TextDecoder().decode(csv!.content)).toBe(report);
    expect(Buffer.from(bin!.content).equals(photo)).toBe(true);
  }, 30_000);

  it('attaches itself and trusts ./.postwire/tls/cert.pem by default, as next to `postwire serve`', async () => {
    const project = join(dir, 'project');
    mkdirSync(join(project, '.postwire', 'tls'), { recursive: true });
    writeFileSync(join(project, '.postwire', 'tls', 'cert.pem'), tls.cert);
    const { stdout } = await sendMail([], {}, project);

    const message = await delivered(stdout);
    const [csv, self] = message.attachments;
    expect(new TextDecoder().decode(csv!.content)).toBe(report);
    expect(self?.filename).toBe('send-mail.mjs');
    expect(Buffer.from(self!.content).equals(readFileSync(script))).toBe(true);
  }, 30_000);

  it('exits with an error, and sends nothing, when the certificate is not trusted or the login is wrong', async () => {
    const before = await messageCount();
    await expect(sendMail([], {})).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/certificate/i),
    });
    await expect(sendMail([], { SMTP_CA: caFile, SMTP_PASSWORD: 'wrong' })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/AuthenticationError|authentication/i),
    });
    expect(await messageCount()).toBe(before);
  }, 30_000);
});

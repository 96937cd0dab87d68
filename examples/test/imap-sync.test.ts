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
import { createImapServer, type ImapServer } from '@postwire/imap/node';
import { createMemoryStore, type Mailbox, type MailStore } from '@postwire/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const examples = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

/** The script runs under plain `node`, which resolves `@postwire/*` to the packages' dist builds. */
function requireBuild(): void {
  if (!existsSync(join(examples, 'node_modules/@postwire/imap/dist/node/index.js')))
    throw new Error('the examples import the built packages: run `npx -y pnpm@10 build` first');
}

const message = (n: number) =>
  `From: bob@localhost\r\nTo: alice@localhost\r\nSubject: Message ${n}\r\nMessage-ID: <${n}@localhost>\r\n\r\nBody ${n}.\r\n`;

describe('examples/imap-sync.mjs', () => {
  let directory: string;
  let store: MailStore;
  let server: DevServer;
  /** The same store behind a server without QRESYNC, as many servers are. */
  let condstoreOnly: ImapServer;
  let condstoreOnlyPort: number;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    requireBuild();
    directory = await mkdtemp(join(tmpdir(), 'postwire-imap-sync-'));
    const certificate = createSelfSignedCertificate();
    await writeFile(join(directory, 'cert.pem'), certificate.cert);
    store = createMemoryStore();
    server = await startDevServer({
      store,
      users: [{ name: 'alice', password: 'secret' }],
      tls: certificate,
      ports: anyFreeDevServerPorts,
      mailAuthentication: false,
    });
    condstoreOnly = createImapServer({
      store,
      sasl: { verifiers: { lookupPassword: (name) => (name === 'alice' ? 'secret' : undefined) } },
      startTls: certificate,
      qresync: false,
      host: '127.0.0.1',
      port: 0,
    });
    condstoreOnlyPort = (await condstoreOnly.listen()).port;
    env = {
      ...process.env,
      IMAP_HOST: server.host,
      IMAP_PORT: String(server.ports.imap),
      IMAP_USER: 'alice',
      IMAP_PASSWORD: 'secret',
      IMAP_CA: join(directory, 'cert.pem'),
      IMAP_TRACE: '1',
    };
  });

  afterAll(async () => {
    await server?.close();
    await condstoreOnly?.close();
    if (directory) await rm(directory, { recursive: true, force: true });
  });

  /** Runs the script in the temporary directory; resolves with what it printed. */
  const sync = async (mirror: string, mailbox = 'INBOX', port = server.ports.imap) =>
    (
      await run(process.execPath, [join(examples, 'imap-sync.mjs'), mirror], {
        cwd: directory,
        env: { ...env, IMAP_MAILBOX: mailbox, IMAP_PORT: String(port) },
      })
    ).stdout;
  /** Runs `work` on one of alice's mailboxes, straight in the store. */
  const inStore = async <T>(mailbox: string, work: (box: Mailbox) => Promise<T>) => {
    const box = await (await user()).open(mailbox);
    try {
      return await work(box);
    } finally {
      await box.close();
    }
  };
  const user = () => store.user('alice');
  const deliver = (mailbox: string, n: number) =>
    inStore(mailbox, async (box) => (await box.append(new TextEncoder().encode(message(n)))).uid);
  const files = async (mirror: string) =>
    (await readdir(join(directory, mirror))).filter((name) => name.endsWith('.eml')).sort();
  const contents = (mirror: string, name: string) => readFile(join(directory, mirror, name), 'utf8');
  const commands = (output: string) => output.split('\n').filter((line) => line.startsWith('  C: '));

  it('downloads everything first, then only the new messages and the deletions, through QRESYNC', async () => {
    const uids: number[] = [];
    for (const n of [1, 2, 3]) uids.push(await deliver('INBOX', n));

    const first = await sync('mirror');
    expect(first).toContain('no saved state: full download');
    expect(first).toContain('3 downloaded, 0 deleted: 3 messages');
    expect(await files('mirror')).toEqual(uids.map((uid) => `${uid}.eml`).sort());
    expect(await contents('mirror', `${uids[1]}.eml`)).toBe(message(2));
    expect(commands(first).some((line) => /EXAMINE INBOX \(CONDSTORE\)/.test(line))).toBe(true);

    // Two new messages, one expunged, one flagged.
    const added = [await deliver('INBOX', 4), await deliver('INBOX', 5)];
    await inStore('INBOX', (box) => box.expunge([uids[0]!]));
    await inStore('INBOX', (box) => box.setFlags([uids[2]!], 'add', ['\\Flagged']));

    const second = await sync('mirror');
    expect(second).toMatch(/QRESYNC since HIGHESTMODSEQ \d+: 1 vanished, 1 with changed flags/);
    expect(second).toContain('2 downloaded, 1 deleted: 4 messages');
    // The server was asked with QRESYNC, and only for what changed since the saved HIGHESTMODSEQ.
    const sent = commands(second);
    expect(sent.some((line) => /ENABLE QRESYNC/.test(line))).toBe(true);
    expect(sent.some((line) => /EXAMINE INBOX \(QRESYNC \(\d+ \d+ [\d:,]+\)\)/.test(line))).toBe(true);
    expect(
      sent.some((line) => new RegExp(`UID FETCH ${added[0]}:\\* .*\\(CHANGEDSINCE \\d+\\)`).test(line)),
    ).toBe(true);
    expect(await files('mirror')).toEqual([uids[1], uids[2], ...added].map((uid) => `${uid}.eml`).sort());
    expect(await contents('mirror', `${added[1]}.eml`)).toBe(message(5));

    const state = JSON.parse(await readFile(join(directory, 'mirror/.imap-sync.json'), 'utf8'));
    expect(state.messages[uids[2]!]).toEqual(['\\Flagged']);
    expect(Object.keys(state.messages).map(Number).sort()).toEqual([uids[1], uids[2], ...added].sort());

    // Nothing changed: nothing is fetched.
    const third = await sync('mirror');
    expect(third).toMatch(/QRESYNC since HIGHESTMODSEQ \d+: 0 vanished, 0 with changed flags/);
    expect(third).toContain('0 downloaded, 0 deleted: 4 messages');
    expect(commands(third).some((line) => /FETCH/.test(line))).toBe(false);
  });

  it('downloads everything again when the UIDVALIDITY changed', async () => {
    await (await user()).create('Archive');
    await deliver('Archive', 10);
    await deliver('Archive', 11);
    expect(await sync('archive', 'Archive')).toContain('2 downloaded, 0 deleted: 2 messages');
    expect(await files('archive')).toEqual(['1.eml', '2.eml']);

    // The mailbox is made again: the same UIDs now name other messages.
    await (await user()).delete('Archive');
    await (await user()).create('Archive');
    await deliver('Archive', 12);
    const output = await sync('archive', 'Archive');
    expect(output).toMatch(/UIDVALIDITY changed \(was \d+\): the mirror is void, full download/);
    expect(output).toContain('1 downloaded, 2 deleted: 1 messages');
    expect(await files('archive')).toEqual(['1.eml']);
    expect(await contents('archive', '1.eml')).toBe(message(12));
  });

  it('falls back to CONDSTORE on a server without QRESYNC: its UIDs say what is gone, CHANGEDSINCE what changed', async () => {
    await (await user()).create('Plain');
    const uids = [await deliver('Plain', 20), await deliver('Plain', 21), await deliver('Plain', 22)];
    const condstore = (mirror: string) => sync(mirror, 'Plain', condstoreOnlyPort);
    expect(await condstore('plain')).toContain('3 downloaded, 0 deleted: 3 messages');

    const added = await deliver('Plain', 23);
    await inStore('Plain', (box) => box.expunge([uids[1]!]));
    await inStore('Plain', (box) => box.setFlags([uids[0]!], 'add', ['\\Seen']));
    const second = await condstore('plain');
    expect(second).toMatch(/CONDSTORE since HIGHESTMODSEQ \d+: 1 gone, 1 changed/);
    expect(second).toContain('1 downloaded, 1 deleted: 3 messages');
    const sent = commands(second);
    expect(sent.some((line) => /QRESYNC/.test(line))).toBe(false);
    expect(sent.some((line) => /EXAMINE Plain \(CONDSTORE\)/.test(line))).toBe(true);
    expect(await files('plain')).toEqual([uids[0], uids[2], added].map((uid) => `${uid}.eml`).sort());
    const state = JSON.parse(await readFile(join(directory, 'plain/.imap-sync.json'), 'utf8'));
    expect(state.messages[uids[0]!]).toEqual(['\\Seen']);
  });
});

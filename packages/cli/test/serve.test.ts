import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readServeSettings, runCli, serveCommand, UsageError } from '@postwire/cli';
import { createImapClient } from '@postwire/imap/node';
import { createSmtpClient } from '@postwire/smtp/node';
import { afterAll, describe, expect, it } from 'vitest';
import { captureIo } from './support/capture-io.js';

const anyPorts = ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http'].flatMap(
  (name) => [`--${name}-port`, '0'],
);
const data = mkdtempSync(join(tmpdir(), 'postwire-serve-'));
afterAll(() => rmSync(data, { recursive: true, force: true }));

describe('postwire serve', () => {
  it('serves a Maildir with a generated certificate, prints the settings as JSON, and stops on request', async () => {
    const io = captureIo();
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => {
      stop = resolve;
    });
    const running = serveCommand(
      ['--data', data, '--user', 'alice:wonder', '--json', '--no-auth-checks', ...anyPorts],
      io,
      stopped,
    );
    await expect.poll(() => io.stdout, { timeout: 10_000 }).toContain('\n');
    const settings = JSON.parse(io.stdout) as {
      ports: Record<string, number>;
      certificate: string;
      store: string;
      users: { name: string }[];
    };
    expect(settings.users.map((user) => user.name)).toEqual(['alice']);
    expect(settings.store).toBe(join(data, 'mail'));
    expect(settings.certificate).toBe(join(data, 'tls', 'cert.pem'));
    const { readFileSync } = await import('node:fs');
    const ca = readFileSync(settings.certificate, 'utf8');
    const smtp = createSmtpClient({
      host: '127.0.0.1',
      port: settings.ports.submission!,
      starttls: 'required',
      tls: { ca, servername: 'localhost' },
      auth: { username: 'alice', password: 'wonder' },
    });
    await smtp.send({
      envelope: { from: 'alice@example.test', to: ['alice@example.test'] },
      message:
        'From: alice@example.test\r\nTo: alice@example.test\r\nSubject: kept\r\n\r\nIn the Maildir.\r\n',
    });
    await smtp.close();
    const imap = await createImapClient({
      host: '127.0.0.1',
      port: settings.ports.imaps!,
      secure: true,
      tls: { ca, servername: 'localhost' },
      auth: { username: 'alice', password: 'wonder' },
    });
    await imap.open('INBOX');
    const subjects: string[] = [];
    for await (const item of imap.fetch('1:*', { envelope: true }))
      subjects.push(item.envelope?.subject ?? '');
    await imap.logout();
    expect(subjects).toEqual(['kept']);
    stop();
    expect(await running).toBe(0);
    expect(io.stderr).toContain('stopping');
  });

  it('prints the settings as text, with a default user, in memory', async () => {
    const io = captureIo();
    const running = serveCommand(
      ['--memory', '--data', data, '--catch-all', ...anyPorts],
      io,
      Promise.resolve(),
    );
    expect(await running).toBe(0);
    expect(io.stdout).toContain('postwire dev mail server, localhost');
    expect(io.stdout).toMatch(/Users \(name, password\)\s+dev dev/);
    expect(io.stdout).toContain("any address not a user's goes to dev (catch-all)");
    expect(io.stdout).toContain('in memory');
  });

  it('reads users, a catch-all user and ports from a config file; refuses bad arguments', async () => {
    const config = join(data, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({ users: [{ name: 'ops', password: 'x' }], catchAll: 'ops', ports: { imap: 0 } }),
    );
    const settings = await readServeSettings(['--config', config, '--smtp-port', '2600']);
    expect(settings).toMatchObject({
      users: [{ name: 'ops' }],
      catchAll: 'ops',
      ports: { imap: 0, smtp: 2600 },
    });
    await expect(readServeSettings(['--user', 'nopassword'])).rejects.toThrow(/NAME:PASSWORD/);
    await expect(readServeSettings(['--imap-port', '70000'])).rejects.toThrow(/port number/);
    await expect(readServeSettings(['--cert', 'a.pem'])).rejects.toThrow(/together/);
    writeFileSync(config, '{"users": [{"name": ""}]}');
    await expect(readServeSettings(['--config', config])).rejects.toThrow(/wants/);
    await expect(readServeSettings(['--config', join(data, 'missing.json')])).rejects.toThrow(/cannot read/);
    for (const json of ['null', '"users"', '{"users": [null]}']) {
      writeFileSync(config, json);
      await expect(readServeSettings(['--config', config]), json).rejects.toBeInstanceOf(UsageError);
    }
  });

  it('refuses a config file whose ports, catchAll or hostname have the wrong type, with status 2 and its shape', async () => {
    const config = join(data, 'typed-config.json');
    for (const json of [
      '{"ports": 2525}',
      '{"ports": [2525]}',
      '{"ports": {"imap": "1143"}}',
      '{"ports": {"imap": 70000}}',
      '{"ports": {"imap": 1.5}}',
      '{"ports": {"imapp": 1143}}',
      '{"catchAll": 5}',
      '{"hostname": ["mx.test"]}',
      '{"hostname": ""}',
    ]) {
      writeFileSync(config, json);
      await expect(readServeSettings(['--config', config]), json).rejects.toBeInstanceOf(UsageError);
      const io = captureIo();
      expect(await runCli(['serve', '--config', config], io), json).toBe(2);
      expect(io.stderr, json).toContain(`the config file ${config} wants {`);
    }
  });
});

describe('postwire', () => {
  it('shows help, the version, and refuses unknown commands and options with status 2', async () => {
    const help = captureIo();
    expect(await runCli(['help'], help)).toBe(0);
    expect(help.stdout).toContain('Usage: postwire <command>');
    const bare = captureIo();
    expect(await runCli([], bare)).toBe(2);
    const version = captureIo();
    expect(await runCli(['--version'], version)).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+/);
    const unknown = captureIo();
    expect(await runCli(['frobnicate'], unknown)).toBe(2);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
    const serveHelp = captureIo();
    expect(await runCli(['serve', '--help'], serveHelp)).toBe(0);
    expect(serveHelp.stdout).toContain('Usage: postwire serve');
    const badOption = captureIo();
    expect(await runCli(['serve', '--bogus'], badOption)).toBe(2);
    expect(badOption.stderr).toContain("postwire serve: Unknown option '--bogus'");
    const badUser = captureIo();
    expect(await runCli(['serve', '--user', 'x'], badUser)).toBe(2);
  });

  it('reports a failure to start with status 1, not a stack trace', async () => {
    const io = captureIo();
    const missing = join(data, 'nothing.pem');
    expect(await runCli(['serve', '--memory', '--cert', missing, '--key', missing], io)).toBe(1);
    expect(io.stderr).toMatch(/^postwire serve: ENOENT/);
  });

  it('leaves no SIGINT or SIGTERM handler behind when serve fails to start', async () => {
    const handlers = () => [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    const before = handlers();
    expect(await runCli(['serve', '--bogus'], captureIo())).toBe(2);
    const missing = join(data, 'nothing.pem');
    expect(await runCli(['serve', '--memory', '--cert', missing, '--key', missing], captureIo())).toBe(1);
    expect(handlers()).toEqual(before);
  });
});

import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type DnsResolver, verifyDkim } from '@postwire/mailauth';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * `examples/dkim.mjs`, run as `node dkim.mjs` is run: a child process importing the built packages
 * (their `dist/`). Its output is checked, and so is what it prints: the signed message it shows must
 * verify here against the DNS record it says to publish.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
const script = join(root, 'examples', 'dkim.mjs');
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'postwire-dkim-'));

beforeAll(() => {
  // The script imports `@postwire/mailauth` from its build: without it, it cannot run at all.
  const missing = ['core/dist/index.js', 'mailauth/dist/index.js'].filter(
    (entry) => !existsSync(join(root, 'packages', entry)),
  );
  if (missing.length > 0) {
    throw new Error(
      `examples/dkim.mjs runs on the built packages, and ${missing.map((entry) => `packages/${entry}`).join(', ')} is missing: ` +
        'run `npx -y pnpm@10 build` (pnpm build) first',
    );
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the script; checks it succeeded quietly and that its output holds what every run prints. */
async function runDkim(args: readonly string[] = []) {
  const { stdout, stderr } = await run(process.execPath, [script, ...args], { cwd: dir });
  expect(stderr).toBe('');
  const recordLine = /^postwire\._domainkey\.example\.com\. IN TXT (.+)$/m.exec(stdout);
  expect(recordLine, stdout).not.toBeNull();
  const strings = [...recordLine![1]!.matchAll(/"([^"]*)"/g)].map((match) => match[1]!);
  const signed = /^Signed message:\n([\s\S]+?)\n^signed message: /m.exec(stdout)?.[1];
  expect(signed, stdout).toBeDefined();
  return { stdout, record: strings.join(''), strings, signed: signed! };
}

/** A resolver that knows only the record the script said to publish. */
function resolverFor(strings: readonly string[]): DnsResolver {
  return {
    txt: async (name) => (name.toLowerCase() === 'postwire._domainkey.example.com' ? [strings] : null),
    a: async () => null,
    aaaa: async () => null,
    mx: async () => null,
    ptr: async () => null,
  };
}

describe('examples/dkim.mjs', () => {
  it('makes an RSA key, prints its v=DKIM1 record, passes the signed message and fails the tampered one', async () => {
    const { stdout, record, strings, signed } = await runDkim();
    expect(record).toMatch(/^v=DKIM1; k=rsa; p=[A-Za-z0-9+/]+=*$/);
    expect(strings.every((text) => text.length <= 255)).toBe(true);
    expect(stdout).toContain('signed message: dkim=pass (d=example.com s=postwire a=rsa-sha256)\n');
    expect(stdout).toMatch(/^tampered copy: dkim=fail \(d=example\.com s=postwire a=rsa-sha256\): .+$/m);
    expect(stdout).toMatch(
      /^ {2}Authentication-Results: mx\.example\.org; dkim=pass header\.d=example\.com /m,
    );
    expect(stdout).toMatch(/^ {2}Authentication-Results: mx\.example\.org; dkim=fail reason="[^"]+" /m);

    // What it printed is usable: the message it shows verifies against the record it shows.
    expect(signed).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256; /);
    const [verification] = await verifyDkim(signed, { resolver: resolverFor(strings) });
    expect(verification).toMatchObject({ result: 'pass', signature: { domain: 'example.com' } });
  }, 30_000);

  it('signs with an Ed25519 key read from a PEM file', async () => {
    const keyFile = join(dir, 'ed25519.pem');
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const { stdout, record, strings, signed } = await runDkim([keyFile]);
    expect(record).toMatch(/^v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=$/);
    expect(stdout).toContain('signed message: dkim=pass (d=example.com s=postwire a=ed25519-sha256)\n');
    expect(stdout).toMatch(/^tampered copy: dkim=fail \(d=example\.com s=postwire a=ed25519-sha256\)/m);
    const [verification] = await verifyDkim(signed, { resolver: resolverFor(strings) });
    expect(verification?.result).toBe('pass');
  }, 30_000);

  it('refuses a key DKIM has no algorithm for', async () => {
    const keyFile = join(dir, 'ec.pem');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await expect(run(process.execPath, [script, keyFile], { cwd: dir })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('DKIM has no ec keys'),
    });
  }, 30_000);
});

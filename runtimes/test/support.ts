import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts, type PeerProcess, spawnPeer } from '../../packages/core/test/support/peer-process.js';

/** The runtimes/ directory: its node_modules holds the deno, bun, workerd and esbuild binaries. */
export const runtimesDir = fileURLToPath(new URL('..', import.meta.url));

/**
 * Where runtimes/package.json's packages put each binary. Not the `node_modules/.bin` shims: those are shell
 * scripts that start the binary as their child, which stopping the shim by its PID would leave running.
 */
const BINARIES = {
  deno: 'deno/deno',
  bun: 'bun/bin/bun.exe',
  workerd: 'workerd/bin/workerd',
  esbuild: 'esbuild/bin/esbuild',
} as const;

/** A binary installed by runtimes/package.json. */
export function bin(name: keyof typeof BINARIES): string {
  return join(runtimesDir, 'node_modules', BINARIES[name]);
}

/** The scenarios import the built packages (dist), as users do: the build must have run. */
export function requireBuild(): void {
  if (!existsSync(join(runtimesDir, 'node_modules/@postwire/imap/dist/index.js')))
    throw new Error('the runtime scenarios import the built packages: run `npx -y pnpm@10 build` first');
}

/** How to run a script on each runtime that runs scripts from a file. */
export const scriptRuntimes = {
  node: (script: string) => [process.execPath, script],
  deno: (script: string) => [bin('deno'), 'run', '--allow-net', '--allow-read', '--allow-env', script],
  bun: (script: string) => [bin('bun'), script],
} as const;

/** The first line a process prints, parsed as JSON, within `timeout` ms; rejects with its output otherwise. */
export async function firstJsonLine<T>(peer: PeerProcess, timeout = 20_000): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const line = peer
      .output()
      .split('\n')
      .find((each) => each.startsWith('{'));
    if (line) return JSON.parse(line) as T;
    if (!peer.running() || Date.now() > deadline)
      throw new Error(`no JSON line from the process:\n${peer.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Runs a script of runtimes/ (`scenario/node.mjs`) on a runtime and returns the JSON line it printed. */
export async function runScript<T>(
  runtime: keyof typeof scriptRuntimes,
  script: string,
  args: readonly string[],
  timeout = 60_000,
): Promise<T> {
  const [command, ...rest] = scriptRuntimes[runtime](join(runtimesDir, script));
  const peer = spawnPeer(command!, [...rest, ...args], { cwd: runtimesDir });
  try {
    return await firstJsonLine<T>(peer, timeout);
  } finally {
    await peer.stop();
  }
}

/** A script of runtimes/ running in workerd: POST it JSON, get its JSON answer. */
export interface RunningWorker {
  post(body: unknown): Promise<unknown>;
  stop(): Promise<void>;
}

/**
 * Bundles `script` (a Worker module under runtimes/) with esbuild for the `workerd` condition into
 * `directory`, and serves it with workerd on a free loopback port: outbound sockets may reach loopback
 * only, and `ca` is the one certificate authority trusted.
 */
export async function startWorker(script: string, directory: string, ca: string): Promise<RunningWorker> {
  await rm(directory, { recursive: true, force: true });
  await mkdir(directory, { recursive: true });
  const build = spawnPeer(bin('esbuild'), [
    join(runtimesDir, script),
    '--bundle',
    '--format=esm',
    '--platform=neutral',
    '--conditions=workerd,worker,browser',
    '--main-fields=module,main',
    '--external:cloudflare:sockets',
    `--outfile=${join(directory, 'worker.js')}`,
  ]);
  await build.exited;
  if (!existsSync(join(directory, 'worker.js'))) throw new Error(`esbuild failed:\n${build.output()}`);
  const [port] = (await freePorts(1)) as [number];
  await writeFile(join(directory, 'ca.pem'), ca);
  await writeFile(join(directory, 'config.capnp'), workerdConfig(port));
  const workerd = spawnPeer(bin('workerd'), ['serve', join(directory, 'config.capnp')], { cwd: directory });
  const url = `http://127.0.0.1:${port}/`;
  return {
    async post(body) {
      const deadline = Date.now() + 15_000;
      for (;;) {
        let response: Response;
        try {
          response = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
        } catch (error) {
          // workerd takes a moment to listen.
          if (Date.now() > deadline || !workerd.running())
            throw new Error(`workerd did not answer: ${String(error)}\n${workerd.output()}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
          continue;
        }
        return response.json();
      }
    },
    stop: () => workerd.stop(),
  };
}

/** workerd serving worker.js on `port`, with outbound sockets allowed to loopback and ca.pem trusted. */
function workerdConfig(port: number): string {
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .scenario),
    (name = "internet", network = (allow = ["local"], tlsOptions = (trustedCertificates = [ embed "ca.pem" ]))),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);

const scenario :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "2026-11-01",
  globalOutbound = "internet",
);
`;
}

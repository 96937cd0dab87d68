import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** How a tool run by {@link runTool} ended. */
export interface ToolResult {
  /** The exit status (`null` when a signal ended it). */
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/**
 * Runs a command-line tool to its end with `input` on stdin. Resolves whatever the exit status
 * (the caller reads meaning into it); rejects if the tool cannot be started or runs past `timeout`
 * ms (then it is killed).
 */
export function runTool(
  command: string,
  args: readonly string[],
  options: { input?: string | Uint8Array; timeout?: number; cwd?: string } = {},
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const timeout = options.timeout ?? 20_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeout);
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.stdin.on('error', () => {}); // the tool may exit before reading all of stdin
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const result = { code, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString('utf8') };
      if (timedOut)
        reject(new Error(`${command} ${args.join(' ')}: killed after ${timeout} ms\n${result.stderr}`));
      else resolve(result);
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Like {@link runTool}, but rejects with the tool's output unless it exits with 0; resolves stdout. */
export async function runToolOk(
  command: string,
  args: readonly string[],
  options: { input?: string | Uint8Array; timeout?: number; cwd?: string } = {},
): Promise<Buffer> {
  const result = await runTool(command, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed (exit ${result.code}):\n${result.stderr}${result.stdout.toString('utf8')}`,
    );
  }
  return result.stdout;
}

/** Only Debian's Python has python3-dkim and python3-spf; the `python3` first on PATH may be another build. */
export const PYTHON = '/usr/bin/python3';

const importable = new Map<string, boolean>();

/** True when Debian's Python can import every module in `modules` (checked once per list). */
export function pythonModulesAvailable(...modules: string[]): boolean {
  const key = modules.join(',');
  let available = importable.get(key);
  if (available === undefined) {
    available =
      existsSync(PYTHON) &&
      spawnSync(PYTHON, ['-I', '-c', `import ${key}`], { stdio: 'ignore', timeout: 20_000 }).status === 0;
    importable.set(key, available);
  }
  return available;
}

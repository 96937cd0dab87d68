import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CliIo, type ExitCode, processIo, UsageError } from './io.js';
import { probeCommand } from './probe.js';
import { fetchCommand, fetchUsage, lsCommand, lsUsage } from './read.js';
import { sendCommand, sendUsage } from './send.js';
import { serveCommand, serveUsage } from './serve.js';

/** The help text of `postwire`. */
export const usage = `Usage: postwire <command> [options]

Commands:
  serve        run a dev mail server: SMTP, IMAP and POP3 on loopback (postwire serve --help)
  probe        show a server's greeting, capabilities, TLS and auth mechanisms (postwire probe --help)
  send         compose and send a message over SMTP, with attachments and DKIM (postwire send --help)
  ls           list mailboxes or messages over IMAP or POP3 (postwire ls --help)
  fetch        download messages over IMAP or POP3 to .eml files (postwire fetch --help)
  help         show this help
  version      show the version
`;

const commands: Record<
  string,
  { run(args: readonly string[], io: CliIo): Promise<ExitCode>; help?: string }
> = {
  serve: { run: (args, io) => serveCommand(args, io), help: serveUsage },
  probe: { run: probeCommand },
  send: { run: (args, io) => sendCommand(args, io), help: sendUsage },
  ls: { run: (args, io) => lsCommand(args, io), help: lsUsage },
  fetch: { run: (args, io) => fetchCommand(args, io), help: fetchUsage },
};

/** Runs one `postwire` command line; returns the exit status. Errors become messages, never stack traces. */
export async function runCli(args: readonly string[], io: CliIo = processIo): Promise<ExitCode> {
  const [name, ...rest] = args;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.out(usage);
    return name === undefined ? 2 : 0;
  }
  if (name === 'version' || name === '--version') {
    io.out(`${version()}\n`);
    return 0;
  }
  const command = commands[name];
  if (command === undefined) {
    io.err(`postwire: unknown command "${name}"\n\n${usage}`);
    return 2;
  }
  if (command.help !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    io.out(command.help);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err(`postwire ${name}: ${(error as Error).message}\n\n${command.help ?? usage}`);
      return 2;
    }
    io.err(`postwire ${name}: ${(error as Error).message ?? String(error)}\n`);
    return 1;
  }
}

/** The version in this package's package.json, found by walking up from this module (built or not). */
function version(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(directory, 'package.json');
    if (existsSync(file)) {
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (manifest.name === '@postwire/cli') return manifest.version ?? 'unknown';
    }
    const parent = dirname(directory);
    if (parent === directory) return 'unknown';
    directory = parent;
  }
}

/** Where a command writes, and whether it talks to a person (a terminal) or to a program. */
export interface CliIo {
  /** Writes to standard output (results: text, or JSON with `--json`). */
  out(text: string): void;
  /** Writes to standard error (progress, warnings, errors). */
  err(text: string): void;
  /** Standard error is a terminal: progress bars and colours may be shown there. */
  readonly interactive: boolean;
}

/** The process's own standard streams. */
export const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  interactive: process.stderr.isTTY === true,
};

/** A command's outcome: the exit status (0 success, 1 failure, 2 usage error). */
export type ExitCode = 0 | 1 | 2;

/** A mistake in the command line: shown with the usage, exit status 2. */
export class UsageError extends Error {
  /** The error's name, `UsageError`. */
  override readonly name = 'UsageError';
}

import type { CliIo } from '../../src/node/io.js';

/** A `CliIo` that keeps what a command writes, for the test to read. */
export function captureIo(interactive = false): CliIo & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    interactive,
    out(text: string) {
      io.stdout += text;
    },
    err(text: string) {
      io.stderr += text;
    },
  };
  return io;
}

import type { CliIo } from './io.js';

/** A transfer's progress as the person at the terminal sees it: one line on standard error, redrawn. */
export interface TransferProgress {
  /** The next item (a message) starts. */
  nextItem(): void;
  /** `bytes` more were moved. */
  advance(bytes: number): void;
  /** The transfer is over (done or failed): the line is cleared. */
  end(): void;
}

/** Options of {@link createTransferProgress}. */
export interface TransferProgressOptions {
  /** What is being done: `sending`, `fetching`. */
  verb: string;
  /** The bytes expected in all (an estimate is fine: the bar stops at 100 %); absent: bytes only. */
  totalBytes?: number;
  /** The items expected; absent: no count is shown. */
  items?: number;
  /** Milliseconds between redraws (default 100): a fast transfer does not flood the terminal. */
  interval?: number;
  /** The clock, in milliseconds. */
  now?: () => number;
}

const BAR_WIDTH = 24;
/** Carriage return, then the line, then erase to the end of the line (ECMA-48 EL). */
const CLEAR_LINE = '\r\x1b[K';

/**
 * A progress bar on standard error when it is a terminal (`io.interactive`), redrawn in place at most
 * every `interval` ms and when an item starts; nothing at all otherwise, so that logs and pipes stay clean.
 */
export function createTransferProgress(io: CliIo, options: TransferProgressOptions): TransferProgress {
  if (!io.interactive) return { nextItem() {}, advance() {}, end() {} };
  const now = options.now ?? Date.now;
  const interval = options.interval ?? 100;
  let item = 0;
  let done = 0;
  let drawnAt: number | undefined;
  const draw = () => {
    drawnAt = now();
    io.err(`${CLEAR_LINE}${progressLine(options, item, done)}`);
  };
  return {
    nextItem() {
      item++;
      draw();
    },
    advance(bytes) {
      done += bytes;
      if (drawnAt === undefined || now() - drawnAt >= interval) draw();
    },
    end() {
      if (drawnAt !== undefined) io.err(CLEAR_LINE);
      drawnAt = undefined;
    },
  };
}

/** `fetching 2/5  [#########...............]  38%  1.2 MiB / 3.1 MiB` */
export function progressLine(options: TransferProgressOptions, item: number, done: number): string {
  const parts = [options.verb];
  if (options.items !== undefined) parts.push(`${Math.min(item, options.items)}/${options.items}`);
  const total = options.totalBytes;
  if (total === undefined) {
    parts.push(formatBytes(done));
    return parts.join('  ');
  }
  const fraction = total <= 0 ? 1 : Math.min(1, done / total);
  const filled = Math.round(fraction * BAR_WIDTH);
  parts.push(
    `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`,
    `${String(Math.floor(fraction * 100)).padStart(3)}%`,
    `${formatBytes(done)} / ${formatBytes(total)}`,
  );
  return parts.join('  ');
}

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];

/** `512 B`, `1.5 KiB`, `20.0 MiB`: binary units, one decimal. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${UNITS[unit]}`;
}

import { InvalidArgumentError } from './errors.js';

/** The longest delay `setTimeout` honours; larger values would fire at once. */
const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * A timer that calls a function once when a moment passes, and that can be pushed back or
 * cancelled. Servers use it for idle timeouts and for whole-command deadlines (a slow sender that
 * trickles one byte at a time still runs out of time), clients for reply timeouts.
 *
 * Pushing the deadline back is cheap: `reset()` only records the new moment, and the one underlying
 * timer re-arms itself when it fires early. This makes it safe to call on every received chunk.
 */
export interface Deadline {
  /**
   * Arms the deadline to expire `ms` milliseconds from now (default: the last duration given),
   * whether it was pending, cleared or already expired. A new `ms` becomes the default.
   */
  reset(ms?: number): void;
  /** Disarms the deadline; `onExpire` is not called until the next `reset()`. */
  clear(): void;
  /** True while armed and not yet expired. */
  readonly pending: boolean;
  /** True once `onExpire` has been called, until the next `reset()`. */
  readonly expired: boolean;
  /** The current duration in milliseconds. */
  readonly ms: number;
}

/** Options of {@link createDeadline}. */
export interface DeadlineOptions {
  /** Arm the deadline at once (default `true`); otherwise it waits for the first `reset()`. */
  start?: boolean;
}

/**
 * Creates a {@link Deadline} that calls `onExpire` `ms` milliseconds from now. `ms` is a positive
 * number of milliseconds, or `Infinity` for a deadline that never expires. Uses only the
 * web-standard `setTimeout`, so it runs on every runtime.
 */
export function createDeadline(ms: number, onExpire: () => void, options: DeadlineOptions = {}): Deadline {
  checkDuration(ms);
  let duration = ms;
  let dueAt = Number.POSITIVE_INFINITY;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timerDueAt = Number.POSITIVE_INFINITY;
  let expired = false;

  const disarm = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    timerDueAt = Number.POSITIVE_INFINITY;
  };

  const arm = (): void => {
    const delay = Math.max(0, Math.ceil(dueAt - performance.now()));
    timerDueAt = dueAt;
    timer = setTimeout(fire, delay);
  };

  const fire = (): void => {
    timer = undefined;
    timerDueAt = Number.POSITIVE_INFINITY;
    if (performance.now() < dueAt) {
      arm();
      return;
    }
    dueAt = Number.POSITIVE_INFINITY;
    expired = true;
    onExpire();
  };

  const deadline: Deadline = {
    reset(next?: number): void {
      if (next !== undefined) {
        checkDuration(next);
        duration = next;
      }
      expired = false;
      if (duration === Number.POSITIVE_INFINITY) {
        dueAt = Number.POSITIVE_INFINITY;
        disarm();
        return;
      }
      dueAt = performance.now() + duration;
      if (dueAt < timerDueAt) {
        disarm();
        arm();
      }
    },
    clear(): void {
      dueAt = Number.POSITIVE_INFINITY;
      disarm();
    },
    get pending(): boolean {
      return dueAt !== Number.POSITIVE_INFINITY;
    },
    get expired(): boolean {
      return expired;
    },
    get ms(): number {
      return duration;
    },
  };
  if (options.start !== false) deadline.reset();
  return deadline;
}

function checkDuration(ms: number): void {
  if (ms === Number.POSITIVE_INFINITY) return;
  if (!Number.isFinite(ms) || ms <= 0 || ms > MAX_TIMER_DELAY) {
    throw new InvalidArgumentError(`a deadline must be between 1 and ${MAX_TIMER_DELAY} ms, or Infinity`);
  }
}

import { InvalidArgumentError } from './errors.js';
import { MAX_TIMER_DELAY } from './timer.js';

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
  const deadline = new TimerDeadline(ms, onExpire);
  if (options.start !== false) deadline.reset();
  return deadline;
}

/**
 * The {@link Deadline} of {@link createDeadline}: a plain object with its state in fields and its
 * methods on the prototype, so that the two or three deadlines of each server connection stay small.
 * It holds one timer while armed, none otherwise.
 */
class TimerDeadline implements Deadline {
  readonly #onExpire: () => void;
  #duration: number;
  /** The moment of expiry (a `performance.now()` reading), or `Infinity` when not armed. */
  #dueAt = Number.POSITIVE_INFINITY;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the timer fires: at `#dueAt` or before it, since a reset only pushes `#dueAt` back. */
  #timerDueAt = Number.POSITIVE_INFINITY;
  #expired = false;

  constructor(ms: number, onExpire: () => void) {
    this.#duration = ms;
    this.#onExpire = onExpire;
  }

  reset(next?: number): void {
    if (next !== undefined) {
      checkDuration(next);
      this.#duration = next;
    }
    this.#expired = false;
    if (this.#duration === Number.POSITIVE_INFINITY) {
      this.clear();
      return;
    }
    this.#dueAt = performance.now() + this.#duration;
    if (this.#dueAt < this.#timerDueAt) {
      this.#disarm();
      this.#arm();
    }
  }

  clear(): void {
    this.#dueAt = Number.POSITIVE_INFINITY;
    this.#disarm();
  }

  get pending(): boolean {
    return this.#dueAt !== Number.POSITIVE_INFINITY;
  }

  get expired(): boolean {
    return this.#expired;
  }

  get ms(): number {
    return this.#duration;
  }

  /**
   * The timer's callback, shared so that arming allocates no closure: expires, or re-arms when
   * resets have pushed the moment back.
   */
  static #fire(deadline: TimerDeadline): void {
    deadline.#timer = undefined;
    deadline.#timerDueAt = Number.POSITIVE_INFINITY;
    if (performance.now() < deadline.#dueAt) {
      deadline.#arm();
      return;
    }
    deadline.#dueAt = Number.POSITIVE_INFINITY;
    deadline.#expired = true;
    deadline.#onExpire();
  }

  #arm(): void {
    this.#timerDueAt = this.#dueAt;
    this.#timer = setTimeout(
      TimerDeadline.#fire,
      Math.max(0, Math.ceil(this.#dueAt - performance.now())),
      this,
    );
  }

  #disarm(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerDueAt = Number.POSITIVE_INFINITY;
  }
}

function checkDuration(ms: number): void {
  if (ms === Number.POSITIVE_INFINITY) return;
  if (!Number.isFinite(ms) || ms <= 0 || ms > MAX_TIMER_DELAY) {
    throw new InvalidArgumentError(`a deadline must be between 1 and ${MAX_TIMER_DELAY} ms, or Infinity`);
  }
}

/** The longest delay `setTimeout` honours; it fires a longer one at once. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * `setTimeout` for a duration that may be `Infinity`: no timer then, nor for a duration beyond what
 * `setTimeout` can hold (about 24.8 days), which it would otherwise fire at once.
 */
export function startTimer(ms: number, onExpire: () => void): ReturnType<typeof setTimeout> | undefined {
  return ms > MAX_TIMER_DELAY ? undefined : setTimeout(onExpire, ms);
}

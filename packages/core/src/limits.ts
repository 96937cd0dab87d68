import { InvalidArgumentError } from './errors.js';

/** Results for frozen defaults and frozen (or no) overrides, by defaults, then by overrides (or defaults). */
const shared = new WeakMap<object, WeakMap<object, object>>();

/**
 * Merges an application's limit overrides onto a protocol's safe defaults. Every limit is a
 * positive integer or `Infinity`; anything else is rejected at construction time, not at the
 * first hostile input. The result is frozen; for frozen defaults and frozen (or no) overrides,
 * which cannot change, it is one object shared by every call, so that a session per connection
 * does not hold a copy of its own.
 */
export function resolveLimits<T extends Record<string, number>>(
  defaults: T,
  overrides: Partial<T> | undefined,
): Readonly<T> {
  const shareable = Object.isFrozen(defaults) && (overrides === undefined || Object.isFrozen(overrides));
  const key = overrides ?? defaults;
  const known = shareable ? shared.get(defaults)?.get(key) : undefined;
  if (known) return known as Readonly<T>;
  const merged: Record<string, number> = { ...defaults };
  for (const [name, value] of Object.entries(overrides ?? {})) {
    if (!Object.hasOwn(defaults, name)) throw new InvalidArgumentError(`unknown limit "${name}"`);
    if (value === undefined) continue;
    if (value !== Number.POSITIVE_INFINITY && (!Number.isInteger(value) || value <= 0)) {
      throw new InvalidArgumentError(`limit "${name}" must be a positive integer or Infinity`);
    }
    merged[name] = value;
  }
  const result = Object.freeze(merged) as Readonly<T>;
  if (shareable) {
    let byOverrides = shared.get(defaults);
    if (!byOverrides) {
      byOverrides = new WeakMap();
      shared.set(defaults, byOverrides);
    }
    byOverrides.set(key, result);
  }
  return result;
}

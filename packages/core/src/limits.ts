import { InvalidArgumentError } from './errors.js';

/**
 * Merges an application's limit overrides onto a protocol's safe defaults. Every limit is a
 * positive integer or `Infinity`; anything else is rejected at construction time, not at the
 * first hostile input.
 */
export function resolveLimits<T extends Record<string, number>>(
  defaults: T,
  overrides: Partial<T> | undefined,
): Readonly<T> {
  const merged: Record<string, number> = { ...defaults };
  for (const [name, value] of Object.entries(overrides ?? {})) {
    if (!(name in defaults)) throw new InvalidArgumentError(`unknown limit "${name}"`);
    if (value === undefined) continue;
    if (value !== Number.POSITIVE_INFINITY && (!Number.isInteger(value) || value <= 0)) {
      throw new InvalidArgumentError(`limit "${name}" must be a positive integer or Infinity`);
    }
    merged[name] = value;
  }
  return Object.freeze(merged) as Readonly<T>;
}

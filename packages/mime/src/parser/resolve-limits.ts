import { resolveLimits } from '@postwire/core';
import { defaultMimeLimits, type MimeLimits } from '../limits.js';

/** The default MIME limits with a caller's overrides applied (validated by core's `resolveLimits`). */
export function resolveMimeLimits(overrides: Partial<MimeLimits> | undefined): Readonly<MimeLimits> {
  const defaults: Record<keyof MimeLimits, number> = { ...defaultMimeLimits };
  return resolveLimits<Record<keyof MimeLimits, number>>(defaults, overrides);
}

import { InvalidArgumentError } from '@postwire/core';
import type { FlagOperation, SystemFlag } from './types.js';

/** The system flags a store keeps, by their lower-case spelling. */
const SYSTEM_FLAGS = new Map<string, SystemFlag>(
  (['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'] as const).map((flag) => [
    flag.toLowerCase(),
    flag,
  ]),
);

/** The longest keyword a store accepts, in characters. */
export const MAX_KEYWORD_LENGTH = 255;

/** Characters an IMAP atom may not hold (RFC 9051 `atom-specials`), plus `]` which `flag-keyword` excludes. */
const NOT_ATOM = /[\x00-\x20\x7f-\uffff(){%*"\\\]]/;

/**
 * A flag in its stored form: system flags in their canonical case (`\seen` → `\Seen`), keywords as
 * written. `\Recent` and any other `\` name are refused, as are keywords that are not IMAP atoms.
 * @throws InvalidArgumentError for a flag that cannot be stored.
 */
export function canonicalFlag(flag: string): string {
  if (flag.startsWith('\\')) {
    const system = SYSTEM_FLAGS.get(flag.toLowerCase());
    if (!system) throw new InvalidArgumentError(`${JSON.stringify(flag)} is not a flag a message can store`);
    return system;
  }
  if (flag.length === 0 || flag.length > MAX_KEYWORD_LENGTH || NOT_ATOM.test(flag)) {
    throw new InvalidArgumentError(`${JSON.stringify(flag)} is not a valid keyword`);
  }
  return flag;
}

/** The canonical forms of `flags`, each once, in their first order. */
export function canonicalFlags(flags: readonly string[]): string[] {
  return [...new Set(flags.map(canonicalFlag))];
}

/** The flags after an operation, or `undefined` when they do not change. */
export function applyFlags(
  current: readonly string[],
  operation: FlagOperation,
  flags: readonly string[],
): string[] | undefined {
  let next: string[];
  switch (operation) {
    case 'add':
      next = [...current, ...flags.filter((flag) => !current.includes(flag))];
      break;
    case 'remove':
      next = current.filter((flag) => !flags.includes(flag));
      break;
    case 'replace':
      next = [...flags];
      break;
  }
  const same = next.length === current.length && next.every((flag) => current.includes(flag));
  return same ? undefined : next;
}

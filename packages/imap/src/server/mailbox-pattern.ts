import { InvalidArgumentError } from '@postwire/core';

/** A pattern element: one character to match, `*` (anything) or `%` (anything but the delimiter). */
type Token = string | 0 | 1;
const STAR = 0;
const PERCENT = 1;

/** The most wildcards a pattern may hold once runs of them are merged: the bound on LIST's cost (case 21). */
export const MAX_PATTERN_WILDCARDS = 64;

/**
 * A LIST / LSUB mailbox pattern (RFC 9051 §6.3.9): `*` matches anything, `%` anything but the hierarchy
 * delimiter. A run of wildcards is merged into one (`*` if it holds a `*`), and matching walks the name
 * once with a set of pattern positions, so its cost is the name's length times the wildcards, never
 * exponential (catalogue case 21). `INBOX` at the start matches in any case.
 */
export class MailboxPattern {
  readonly #tokens: readonly Token[];
  readonly #delimiter: string;

  /** @throws InvalidArgumentError for a pattern with more than {@link MAX_PATTERN_WILDCARDS} wildcards. */
  constructor(pattern: string, delimiter: string) {
    const source = /^inbox(?=$|[/*%])/i.test(pattern) ? `INBOX${pattern.slice(5)}` : pattern;
    const tokens: Token[] = [];
    let wildcards = 0;
    for (const char of source) {
      const token: Token = char === '*' ? STAR : char === '%' ? PERCENT : char;
      const last = tokens[tokens.length - 1];
      if (typeof token === 'number' && typeof last === 'number') {
        if (token === STAR) tokens[tokens.length - 1] = STAR;
        continue;
      }
      if (typeof token === 'number' && ++wildcards > MAX_PATTERN_WILDCARDS)
        throw new InvalidArgumentError('too many wildcards in the pattern');
      tokens.push(token);
    }
    this.#tokens = tokens;
    this.#delimiter = delimiter;
  }

  /** Whether `name` matches the pattern. */
  matches(name: string): boolean {
    const tokens = this.#tokens;
    let active = this.#closure([0]);
    for (const char of name) {
      const next: number[] = [];
      for (const position of active) {
        const token = tokens[position];
        if (token === STAR || (token === PERCENT && char !== this.#delimiter)) next.push(position);
        else if (token === char) next.push(position + 1);
      }
      if (next.length === 0) return false;
      active = this.#closure(next);
    }
    return active.includes(tokens.length);
  }

  /** The positions, with those a wildcard reaches by matching nothing; each once. */
  #closure(positions: number[]): number[] {
    const seen = new Set<number>();
    for (let position of positions) {
      while (!seen.has(position)) {
        seen.add(position);
        if (typeof this.#tokens[position] !== 'number') break;
        position++;
      }
    }
    return [...seen];
  }
}

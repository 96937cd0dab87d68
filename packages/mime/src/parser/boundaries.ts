import { CR, decodeLatin1, utf8 } from '@postwire/core';

/** Transport padding (RFC 2046 §5.1.1) longer than this after a boundary makes the line ordinary text. */
export const MAX_TRANSPORT_PADDING = 256;

const SP = 32;
const HT = 9;
const DASH = 45;

/** A delimiter line that matched one of the active boundaries. */
export interface DelimiterMatch {
  /** The index of the boundary's owner, as given to `BoundarySet.add`. */
  readonly owner: number;
  /** `--boundary--`: the close delimiter. */
  readonly close: boolean;
  /** Whitespace followed the boundary (legal transport padding, but read differently by some parsers). */
  readonly padded: boolean;
}

/**
 * The boundaries of the open multiparts, keyed by their bytes as Latin-1 text so that a delimiter line is
 * matched with one lookup whatever the nesting depth. When two owners share a boundary the innermost
 * (highest owner index) wins, which is the only reading under which a child reusing its parent's
 * boundary still gives a well-formed tree.
 */
export class BoundarySet {
  readonly #owners = new Map<string, number[]>();
  /** Keys of boundaries written with trailing whitespace, whose close delimiter is `--key --`. */
  readonly #spaced = new Set<string>();
  #longest = 0;

  /**
   * The key under which `boundary` is matched against raw bytes. Delimiter lines are matched without
   * their trailing spaces and tabs (transport padding), so those of the boundary itself, which RFC 2046
   * §5.1.1 forbids (`bcharsnospace`), are dropped too: else no delimiter could ever match it.
   */
  static keyOf(boundary: string): string {
    let end = boundary.length;
    while (end > 0 && isBlank(boundary.charCodeAt(end - 1))) end--;
    const key = end === boundary.length ? boundary : boundary.slice(0, end);
    for (let i = 0; i < key.length; i++) {
      if (key.charCodeAt(i) > 0x7f) return decodeLatin1(utf8(key));
    }
    return key;
  }

  get size(): number {
    return this.#owners.size;
  }

  /** The longest delimiter line that could match, padding and line ending included. */
  get maxLineLength(): number {
    return this.#longest + 6 + MAX_TRANSPORT_PADDING;
  }

  /** True when `key` equals another active boundary, or one is a prefix of the other. */
  overlaps(key: string): boolean {
    for (const other of this.#owners.keys()) {
      if (other.startsWith(key) || key.startsWith(other)) return true;
    }
    return false;
  }

  /** Adds a boundary key; `spaced` when the boundary had trailing whitespace that `keyOf` dropped. */
  add(key: string, owner: number, spaced = false): void {
    if (spaced) this.#spaced.add(key);
    const owners = this.#owners.get(key);
    if (owners) owners.push(owner);
    else this.#owners.set(key, [owner]);
    if (key.length > this.#longest) this.#longest = key.length;
  }

  delete(key: string, owner: number): void {
    const owners = this.#owners.get(key);
    if (!owners) return;
    const index = owners.lastIndexOf(owner);
    if (index >= 0) owners.splice(index, 1);
    if (owners.length === 0) {
      this.#owners.delete(key);
      this.#spaced.delete(key);
    }
  }

  /**
   * Matches the line `bytes[start, end)` (without its LF), which starts with `--`, against the active
   * boundaries: `--boundary`, or `--boundary--`, then optional spaces and tabs (and a CR).
   */
  match(bytes: Uint8Array, start: number, end: number): DelimiterMatch | undefined {
    let trimmed = end;
    while (trimmed > start + 2 && isPadding(bytes[trimmed - 1]!)) trimmed--;
    const padded = trimmed < end && !(trimmed === end - 1 && bytes[trimmed] === CR);
    const line = decodeLatin1(bytes.subarray(start + 2, trimmed));
    const open = this.#innermost(line);
    const closes = line.length >= 2 && bytes[trimmed - 1] === DASH && bytes[trimmed - 2] === DASH;
    const close = closes ? this.#closeOwner(line.slice(0, -2)) : -1;
    if (open < 0 && close < 0) return undefined;
    return close > open ? { owner: close, close: true, padded } : { owner: open, close: false, padded };
  }

  #closeOwner(key: string): number {
    const owner = this.#innermost(key);
    if (owner >= 0 || this.#spaced.size === 0) return owner;
    let end = key.length;
    while (end > 0 && isBlank(key.charCodeAt(end - 1))) end--;
    const trimmed = key.slice(0, end);
    return end < key.length && this.#spaced.has(trimmed) ? this.#innermost(trimmed) : -1;
  }

  #innermost(key: string): number {
    const owners = this.#owners.get(key);
    return owners ? owners[owners.length - 1]! : -1;
  }
}

function isBlank(code: number): boolean {
  return code === SP || code === HT;
}

function isPadding(byte: number): boolean {
  return byte === SP || byte === HT || byte === CR;
}

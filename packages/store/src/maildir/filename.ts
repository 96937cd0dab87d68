/**
 * Maildir file names (https://cr.yp.to/proto/maildir.html, with the `,S=`/`,W=` sizes Dovecot adds):
 * `<base>:2,<flags>`, where the base is unique and never changes, and the flags are letters in ASCII
 * order: the system flags `D F P R S T` and Dovecot's keyword letters `a`–`z`.
 */

/** The separator between a file's base name and its info (`:2,FLAGS`). */
export const INFO_SEPARATOR = ':2,';

/** Maildir flag letters and the IMAP flags they stand for. `P` (passed) has no IMAP flag and is kept. */
const LETTER_FLAGS: ReadonlyMap<string, string> = new Map([
  ['D', '\\Draft'],
  ['F', '\\Flagged'],
  ['R', '\\Answered'],
  ['S', '\\Seen'],
  ['T', '\\Deleted'],
]);
const FLAG_LETTERS: ReadonlyMap<string, string> = new Map(
  [...LETTER_FLAGS].map(([letter, flag]) => [flag, letter]),
);

/** The parts of a Maildir file name. */
export interface MaildirName {
  /** The unique part, up to the info. */
  readonly base: string;
  /** The flag letters of the info, as written (`''` for a file in `new/` or without info). */
  readonly letters: string;
  /** `,S=` from the base: the size of the file. */
  readonly size?: number;
  /** `,W=` from the base: the size with CRLF line endings. */
  readonly virtualSize?: number;
}

/** Splits a file name into its base, flag letters and sizes. */
export function parseMaildirName(name: string): MaildirName {
  const base = baseOfName(name);
  const letters = lettersOfName(name);
  const size = sizeInBase(base, ',S=');
  const virtualSize = sizeInBase(base, ',W=');
  return {
    base,
    letters,
    ...(size !== undefined ? { size } : {}),
    ...(virtualSize !== undefined ? { virtualSize } : {}),
  };
}

/** The base of a file name: up to its info. */
export function baseOfName(name: string): string {
  const info = name.indexOf(INFO_SEPARATOR);
  return info === -1 ? name : name.slice(0, info);
}

/** The flag letters of a file name's info (`''` when it has none). */
export function lettersOfName(name: string): string {
  const info = name.indexOf(INFO_SEPARATOR);
  return info === -1 ? '' : name.slice(info + INFO_SEPARATOR.length);
}

/**
 * The number of the first `,S=` or `,W=` field of a base followed by a digit, as `/,S=(\d+)/` finds it:
 * searched for without a regular expression, as it is for every file of a folder opened.
 */
export function sizeInBase(base: string, field: ',S=' | ',W='): number | undefined {
  for (let at = base.indexOf(field); at !== -1; at = base.indexOf(field, at + 1)) {
    const start = at + field.length;
    let end = start;
    while (end < base.length && isDigit(base.charCodeAt(end))) end++;
    if (end > start) return Number(base.slice(start, end));
  }
  return undefined;
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/**
 * The IMAP flags of a file's letters; `keywordOf` names the keyword of a letter `a`–`z` (from
 * `dovecot-keywords`). Letters with no meaning here (`P`, unknown keywords) are left out.
 */
export function flagsOfLetters(letters: string, keywordOf: (letter: string) => string | undefined): string[] {
  const flags: string[] = [];
  for (const letter of letters) {
    const flag = LETTER_FLAGS.get(letter) ?? (letter >= 'a' && letter <= 'z' ? keywordOf(letter) : undefined);
    if (flag !== undefined && !flags.includes(flag)) flags.push(flag);
  }
  return flags;
}

/**
 * The letters for a file's flags, in ASCII order as Maildir requires. `letterOf` gives a keyword's letter;
 * `kept` are letters to carry over that no IMAP flag stands for (`P`).
 */
export function lettersOfFlags(
  flags: readonly string[],
  letterOf: (keyword: string) => string,
  kept = '',
): string {
  const letters = new Set(kept);
  for (const flag of flags) letters.add(FLAG_LETTERS.get(flag) ?? letterOf(flag));
  return [...letters].sort().join('');
}

/** The letters of `letters` that no IMAP flag stands for (so a flag change keeps them). */
export function unmappedLetters(letters: string): string {
  return [...letters].filter((letter) => letter === 'P').join('');
}

/** A file name from its base and letters. */
export function maildirName(base: string, letters: string): string {
  return `${base}${INFO_SEPARATOR}${letters}`;
}

/**
 * Dovecot's order for files that have no UID yet: by the delivery time in the name (seconds, then the
 * microseconds after `M`), then by name.
 */
export function compareDeliveryOrder(a: string, b: string): number {
  const [aSeconds, aMicros] = deliveryTime(a);
  const [bSeconds, bMicros] = deliveryTime(b);
  return aSeconds - bSeconds || aMicros - bMicros || (a < b ? -1 : a > b ? 1 : 0);
}

function deliveryTime(base: string): [number, number] {
  const match = /^(\d+)\.(?:[^.]*?M(\d+))?/.exec(base);
  return [Number(match?.[1] ?? 0), Number(match?.[2] ?? 0)];
}

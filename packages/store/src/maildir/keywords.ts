/**
 * Dovecot's `dovecot-keywords` file: one `<index> <keyword>` line per keyword, index 0 being letter `a`.
 * Only 26 keywords fit in file names.
 */

/** The most keywords a Maildir folder can hold in its file names. */
export const MAX_MAILDIR_KEYWORDS = 26;

/** Keywords by their index, from the file's text (`undefined` where an index is unused); malformed lines are skipped. */
export function parseKeywords(text: string): (string | undefined)[] {
  const keywords: (string | undefined)[] = [];
  for (const line of text.split('\n')) {
    const match = /^(\d+) (\S+)$/.exec(line.trimEnd());
    if (!match) continue;
    const index = Number(match[1]);
    if (index < MAX_MAILDIR_KEYWORDS) keywords[index] = match[2]!;
  }
  return Array.from(keywords);
}

/** The file's text for keywords by index. */
export function serializeKeywords(keywords: readonly (string | undefined)[]): string {
  return keywords.map((keyword, index) => (keyword === undefined ? '' : `${index} ${keyword}\n`)).join('');
}

/** The letter of keyword index `index` (`0` → `a`). */
export function keywordLetter(index: number): string {
  return String.fromCharCode(0x61 + index);
}

/**
 * The case fold SEARCH compares strings with: NFC, upper case first so that `ß` and `ss` meet, then lower
 * case, with the final sigma `ς` made `σ` (the only lower-case mapping that depends on the letters around).
 */
export function foldCase(text: string): string {
  return text.normalize('NFC').toUpperCase().toLowerCase().replaceAll('ς', 'σ');
}

/**
 * Text held back at most before it is scanned, in UTF-16 code units, when no place to cut it safely was
 * found (a long run of combining marks): past it, a needle may be missed where the cut falls.
 */
const MAX_HELD = 4096;

/**
 * Where `text` may be cut so that folding the two sides apart gives the fold of the whole: before its last
 * character that never composes with, nor reorders around, what precedes it, or 0. Such are the characters
 * below U+0300 (white space and punctuation among them), kana, CJK ideographs and Hangul syllables; text of
 * other scripts waits for the next one.
 */
function safeCut(text: string): number {
  for (let i = text.length - 1; i > 0; i--) if (startsAfresh(text.charCodeAt(i))) return i;
  if (text.length <= MAX_HELD) return 0;
  const last = text.charCodeAt(text.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? text.length - 1 : text.length;
}

/** Whether a code unit is one of the characters {@link safeCut} may cut before. */
function startsAfresh(code: number): boolean {
  return (
    code < 0x300 ||
    (code >= 0x3040 && code <= 0x3098) ||
    (code >= 0x30a0 && code <= 0x30ff) ||
    (code >= 0x3400 && code <= 0x9fff) ||
    (code >= 0xac00 && code <= 0xd7a3)
  );
}

/**
 * Looks for several strings at once, folded with {@link foldCase}, in text that arrives in pieces, in
 * bounded memory: between pieces it keeps only the folded tail a match may span and the unfolded text
 * after the last safe cut. Any split of the same text into pieces gives the same answer. Text comes in
 * stretches (a header block, a part's body); no match spans two.
 */
export class TextMatcher {
  readonly #needles: readonly string[];
  readonly #found: boolean[];
  /** Folded code units a match may span back into text already scanned. */
  readonly #keep: number;
  #tail = '';
  #held = '';

  /** Looks for `needles`; an empty one is found at once. */
  constructor(needles: readonly string[]) {
    this.#needles = needles.map(foldCase);
    this.#found = this.#needles.map((needle) => needle === '');
    this.#keep = Math.max(0, ...this.#needles.map((needle) => needle.length - 1));
  }

  /** Whether every needle has been found: further text changes nothing. */
  get done(): boolean {
    return this.#found.every(Boolean);
  }

  /** For each needle, in order, whether it has been found so far. */
  get found(): boolean[] {
    return [...this.#found];
  }

  /** Takes the next piece of the current stretch. */
  feed(piece: string): void {
    if (piece === '' || this.done) return;
    const text = this.#held + piece;
    const cut = safeCut(text);
    this.#held = text.slice(cut);
    this.#scan(text.slice(0, cut));
  }

  /** Ends the current stretch: its held text is scanned, and the next stretch starts afresh. */
  end(): void {
    if (!this.done) this.#scan(this.#held);
    this.#held = '';
    this.#tail = '';
  }

  #scan(text: string): void {
    if (text === '') return;
    const window = this.#tail + foldCase(text);
    this.#needles.forEach((needle, index) => {
      if (!this.#found[index] && window.includes(needle)) this.#found[index] = true;
    });
    this.#tail = this.#keep === 0 ? '' : window.slice(-this.#keep);
  }
}

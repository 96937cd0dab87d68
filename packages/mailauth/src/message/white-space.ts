// Trimming by loops: a regular expression anchored at the end, such as /[ \t]+$/, retries from every
// position of a long inner run of white space and takes quadratic time on hostile input.

const SP = 0x20;
const HTAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;

/** `text` without SP, HTAB, CR and LF at either end. */
export function trimFoldingSpace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isFoldingSpace(text.charCodeAt(start))) start++;
  while (end > start && isFoldingSpace(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

/** `text` without SP and HTAB at its end. */
export function trimEndSpaceTab(text: string): string {
  let end = text.length;
  while (end > 0 && (text.charCodeAt(end - 1) === SP || text.charCodeAt(end - 1) === HTAB)) end--;
  return text.slice(0, end);
}

function isFoldingSpace(code: number): boolean {
  return code === SP || code === HTAB || code === CR || code === LF;
}

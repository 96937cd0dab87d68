/**
 * The field body of a Stalwart vector: its `header` up to the first line break that is not followed
 * by SP or HTAB (the header-block splitter's job in a real parse), without that line break.
 */
export function fieldBody(header: string): string {
  let from = 0;
  for (;;) {
    const lf = header.indexOf('\n', from);
    if (lf === -1) return header;
    const next = header[lf + 1];
    if (next !== ' ' && next !== '\t') return header.slice(0, header[lf - 1] === '\r' ? lf - 1 : lf);
    from = lf + 1;
  }
}

/** The result of comparing one vector file: which cases differ, by index. */
export interface VectorResult {
  passed: number;
  total: number;
  failing: number[];
}

/** Compares every vector; prints `<file>: N/M cases pass` as the issue asks. */
export function runVectors<T>(
  file: string,
  vectors: readonly { header: string; expected: T | null }[],
  parse: (body: string) => unknown,
  equal: (actual: unknown, expected: T | null) => boolean = (a, e) => JSON.stringify(a) === JSON.stringify(e),
): VectorResult {
  const failing: number[] = [];
  vectors.forEach((vector, index) => {
    if (!equal(parse(fieldBody(vector.header)), vector.expected)) failing.push(index);
  });
  const passed = vectors.length - failing.length;
  console.log(`${file}: ${passed}/${vectors.length} cases pass`);
  return { passed, total: vectors.length, failing };
}

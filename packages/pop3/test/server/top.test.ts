import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TopFilter } from '../../src/server/top.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** TOP's output computed from the whole text, as RFC 1939 §7 describes it (a line of only CRs is blank). */
function expected(text: string, lines: number): string {
  const end = /(^|\n)\r*\n/.exec(text);
  if (!end) return text;
  const headerEnd = end.index + end[0].length;
  let at = headerEnd;
  for (let n = 0; n < lines && at < text.length; n++) {
    const lf = text.indexOf('\n', at);
    at = lf === -1 ? text.length : lf + 1;
  }
  return text.slice(0, at);
}

/** TOP's output through the filter, the text split at `cuts`. */
function filtered(text: string, lines: number, cuts: readonly number[]): string {
  const bytes = encoder.encode(text);
  const points = [...new Set(cuts.filter((cut) => cut < bytes.length))].sort((a, b) => a - b);
  const filter = new TopFilter(lines);
  let out = '';
  for (const [index, start] of [0, ...points].entries()) {
    out += decoder.decode(filter.push(bytes.subarray(start, points[index] ?? bytes.length)), {
      stream: true,
    });
  }
  return out;
}

describe('TopFilter', () => {
  it('keeps the header, the blank line and n lines of the body', () => {
    const text = 'A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\nthree\r\n';
    expect(filtered(text, 0, [])).toBe('A: 1\r\nB: 2\r\n\r\n');
    expect(filtered(text, 2, [])).toBe('A: 1\r\nB: 2\r\n\r\none\r\ntwo\r\n');
    expect(filtered(text, 9, [])).toBe(text);
    expect(filtered('\r\nbody\r\n', 0, [])).toBe('\r\n');
    expect(filtered('A: no body at all\r\n', 0, [])).toBe('A: no body at all\r\n');
  });

  it('says when it has all it needs, and takes nothing more', () => {
    const filter = new TopFilter(0);
    expect(filter.done).toBe(false);
    expect(decoder.decode(filter.push(encoder.encode('A: 1\r\n\r\nbody')))).toBe('A: 1\r\n\r\n');
    expect(filter.done).toBe(true);
    expect(filter.push(encoder.encode('more')).length).toBe(0);
  });

  it('gives the same output as the whole text for any message, count and chunking', () => {
    const line = fc.stringMatching(/^[a-z:. \r]{0,12}$/);
    fc.assert(
      fc.property(
        fc.array(line, { maxLength: 8 }),
        fc.array(line, { maxLength: 8 }),
        fc.integer({ min: 0, max: 10 }),
        fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 10 }),
        (header, body, lines, cuts) => {
          const text = `${header.map((each) => `${each}\r\n`).join('')}\r\n${body.join('\r\n')}`;
          expect(filtered(text, lines, cuts)).toBe(expected(text, lines));
        },
      ),
    );
  });
});

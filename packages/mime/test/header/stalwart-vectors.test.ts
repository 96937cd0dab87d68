import { describe, expect, it } from 'vitest';
import { parseDate } from '../../src/header/date.js';
import { parseCommaList } from '../../src/header/list.js';
import { parseMessageIds } from '../../src/header/message-id.js';
import { parseParameterizedValue } from '../../src/header/parameters.js';
import { decodeUnstructured } from '../../src/header/unstructured.js';
import { fieldVectors, hasCorpus } from '../support/corpus.js';
import { runVectors } from './support.js';

/**
 * Stalwart's field vectors (third-party data read from ../shared/corpus, never copied here). Each
 * file's cases that we answer differently on purpose are listed by index with the reason; the test
 * fails if any other case differs, or if a listed one starts to agree (then update the list).
 */

type Attributes = [string, string][] | null;
interface ContentTypeVector {
  c_type: string;
  c_subtype: string | null;
  attributes?: Attributes;
}
interface DateVector {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  tz_before_gmt: boolean;
  tz_hour: number;
  tz_minute: number;
}

function byName(attributes: Attributes | undefined): Attributes {
  if (!attributes || attributes.length === 0) return null;
  return [...attributes].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/**
 * The parameter parser in Stalwart's shape. Attributes are compared sorted by name: our result is
 * an object, whose key order JavaScript fixes (integer-like names first), not a list.
 */
function contentTypeShape(body: string): ContentTypeVector | null {
  const parsed = parseParameterizedValue(body);
  const slash = parsed.value.indexOf('/');
  const type = (slash === -1 ? parsed.value : parsed.value.slice(0, slash)).toLowerCase();
  if (type === '') return null;
  const subtype = slash === -1 ? '' : parsed.value.slice(slash + 1).toLowerCase();
  const attributes: [string, string][] = [];
  for (const [name, value] of Object.entries(parsed.parameters)) {
    const language = parsed.languages[name];
    if (language) attributes.push([`${name}-language`, language]);
    attributes.push([name, value]);
  }
  return { c_type: type, c_subtype: subtype || null, attributes: byName(attributes) };
}

function dateShape(body: string): DateVector | null {
  const date = parseDate(body);
  if (!date) return null;
  const offset = Math.abs(date.offsetMinutes);
  return {
    year: date.year,
    month: date.month,
    day: date.day,
    hour: date.hour,
    minute: date.minute,
    second: date.second,
    tz_before_gmt: date.offsetMinutes < 0,
    tz_hour: Math.floor(offset / 60),
    tz_minute: offset % 60,
  };
}

describe.skipIf(!hasCorpus)('Stalwart field vectors', () => {
  it('content_type.json', () => {
    const vectors = fieldVectors<ContentTypeVector>('content_type.json');
    const result = runVectors('content_type.json', vectors, contentTypeShape, (actual, expected) =>
      expected === null
        ? actual === null
        : JSON.stringify(actual) ===
          JSON.stringify({ c_type: expected.c_type, c_subtype: expected.c_subtype, attributes: byName(expected.attributes) }),
    );
    const different: Record<number, string> = {
      // `name="=?iso-8859-1?B?4Q==?= =?utf-8?B?w6k=?= …"`: RFC 2047 §6.2 drops the space between
      // adjacent encoded words whatever their charsets; Stalwart keeps it inside quotes.
      34: 'whitespace between adjacent encoded words is dropped (RFC 2047 §6.2)',
      // `key*0; key*1; key*9999`: our merge rule stops at the first gap (case 38); Stalwart joins 0, 1, 9999.
      59: 'RFC 2231 continuation stops at the first missing section (catalogue case 38)',
      // `3**=b; 4***=c; 1 * 999… *= h` …: names that are not `name[*N][*]` are dropped, not repaired.
      61: 'malformed RFC 2231 names are dropped (invalid-parameter), not guessed at',
    };
    expect(result.failing).toEqual(Object.keys(different).map(Number));
    expect(result.passed).toBeGreaterThanOrEqual(100);
  });

  it('date.json', () => {
    const result = runVectors('date.json', fieldVectors<DateVector>('date.json'), dateShape);
    const different: Record<number, string> = {
      // ` 4 8 15 16 23 42, …`: six bare numbers are not a date (no time of day); Stalwart guesses one.
      12: 'bare numbers without a time of day are not read as a date',
    };
    expect(result.failing).toEqual(Object.keys(different).map(Number));
    expect(result.passed).toBeGreaterThanOrEqual(39);
  });

  it('id.json', () => {
    const result = runVectors('id.json', fieldVectors<string[]>('id.json'), (body) => {
      const ids = parseMessageIds(body);
      return ids.length > 0 ? ids : null;
    });
    expect(result.failing).toEqual([]);
    expect(result.passed).toBe(11);
  });

  it('list.json', () => {
    const result = runVectors('list.json', fieldVectors<string[]>('list.json'), parseCommaList);
    expect(result.failing).toEqual([]);
    expect(result.passed).toBe(7);
  });

  it('unstructured.json', () => {
    const result = runVectors('unstructured.json', fieldVectors<string>('unstructured.json'), decodeUnstructured);
    expect(result.failing).toEqual([]);
    expect(result.passed).toBe(30);
  });
});

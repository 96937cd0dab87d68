import { describe, expect, it } from 'vitest';
import { type ParsedDate, parseDate } from '../../src/header/date.js';
import { parseCommaList } from '../../src/header/list.js';
import { parseMessageIds } from '../../src/header/message-id.js';
import { parseParameterizedValue } from '../../src/header/parameters.js';
import { parseReceived } from '../../src/header/received.js';
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
  return dateVector(parseDate(body));
}

function dateVector(date: ParsedDate | undefined): DateVector | null {
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

type Host = { Name: string } | { IpAddr: string };

/** Stalwart tells host names from IP addresses; ours are strings, IP addresses already canonical. */
function hostShape(host: string): Host {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':') ? { IpAddr: host } : { Name: host };
}

/** A Received parse in Stalwart's shape; keys are compared in a fixed order. */
function receivedShape(body: string): Record<string, unknown> {
  const received = parseReceived(body);
  const shape: Record<string, unknown> = {};
  const put = (key: string, value: unknown): void => {
    if (value !== undefined) shape[key] = value;
  };
  put('from', received.from === undefined ? undefined : hostShape(received.from));
  put('from_ip', received.fromIp);
  put('from_iprev', received.fromIpRev);
  put('by', received.by === undefined ? undefined : hostShape(received.by));
  put('for_', received.for);
  put('with', received.with);
  put('tls_version', received.tlsVersion);
  put('tls_cipher', received.tlsCipher);
  put('id', received.id);
  put('ident', received.ident);
  put('helo', received.helo === undefined ? undefined : hostShape(received.helo));
  put(
    'helo_cmd',
    received.heloCommand === undefined
      ? undefined
      : `${received.heloCommand[0]}${received.heloCommand.slice(1).toLowerCase()}`,
  );
  put('via', received.via);
  shape.date = dateVector(received.date);
  return shape;
}

function sortedKeys(value: Record<string, unknown> | null): string {
  return JSON.stringify(
    value ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1))) : value,
  );
}

describe.skipIf(!hasCorpus)('Stalwart field vectors', () => {
  it('content_type.json', () => {
    const vectors = fieldVectors<ContentTypeVector>('content_type.json');
    const result = runVectors('content_type.json', vectors, contentTypeShape, (actual, expected) =>
      expected === null
        ? actual === null
        : JSON.stringify(actual) ===
          JSON.stringify({
            c_type: expected.c_type,
            c_subtype: expected.c_subtype,
            attributes: byName(expected.attributes),
          }),
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
    const result = runVectors(
      'unstructured.json',
      fieldVectors<string>('unstructured.json'),
      decodeUnstructured,
    );
    expect(result.failing).toEqual([]);
    expect(result.passed).toBe(30);
  });

  it('received.json', () => {
    const vectors = fieldVectors<Record<string, unknown>>('received.json');
    const result = runVectors(
      'received.json',
      vectors,
      receivedShape,
      (actual, expected) => sortedKeys(actual as Record<string, unknown>) === sortedKeys(expected),
    );
    // Stalwart's Received parser reads dates with its own rules, unlike its date.json ones and RFC 5322.
    const gmtBeforeGmt = 'GMT/UT (or no zone) read as "before GMT" there; +0000 here, as in date.json';
    const usZone = 'PST/PDT read as +0000 there; -0800/-0700 here (RFC 5322 §4.3)';
    const twoDigitYear = 'two-digit year 03/04 read as 1903/1904 there; 2003/2004 here (RFC 5322 §4.3)';
    const asctime = 'asctime dates (`Fri Feb 07 10:18:12 2003`) misread there (month 13, second 211 …)';
    const different: Record<number, string> = {
      13: asctime,
      48: gmtBeforeGmt,
      49: gmtBeforeGmt,
      57: gmtBeforeGmt,
      65: 'ident taken from a later `(envelope-sender <…>)` comment there; from `user@[ip]` here',
      67: usZone,
      68: '`as user jason@localhost` is not read as an ident here',
      76: gmtBeforeGmt,
      89: twoDigitYear,
      90: twoDigitYear,
      96: gmtBeforeGmt,
      116: 'ident `?a/b?@ip` cut after the slash there, before it here; missing zone "before GMT" there',
      117: asctime,
      118: asctime,
      123: 'the last of two `by` clauses wins there; the first here',
      128: twoDigitYear,
      131: gmtBeforeGmt,
      140: gmtBeforeGmt,
      144: 'fractional seconds (`07:53:55.516`) drop the seconds there; kept here',
      151: 'asctime date; and `from [<addr>]` is no host there, the address here',
      155: 'a cipher outside any comment (`tower-with AES256-GCM-SHA384`) is not read here',
      162: gmtBeforeGmt,
      163: usZone,
      165: '`(qmail … invoked from network)`: comments are not read as clauses here (only a leading `(from …)`)',
      171: '`(Postfix, from userid 1002)`: comments are not read as clauses here',
      179: gmtBeforeGmt,
      180: gmtBeforeGmt,
    };
    expect(result.failing).toEqual(Object.keys(different).map(Number));
    expect(result.passed).toBeGreaterThanOrEqual(154);
  });
});

import { InvalidArgumentError } from '@postwire/core';
import { isFoldingSpace, skipComment } from './cfws.js';

/** A date-time as written in a header, and the instant it names. */
export interface ParsedDate {
  /** The instant. */
  date: Date;
  /** The fields as written (local to the zone), the year expanded to four digits. */
  year: number;
  /** 1–12. */
  month: number;
  /** 1–31. */
  day: number;
  /** 0–23. */
  hour: number;
  /** 0–59. */
  minute: number;
  /** 0 when the seconds are missing. */
  second: number;
  /** The zone's offset from UTC in minutes (`-0330` → -210); 0 for unknown and missing zones. */
  offsetMinutes: number;
  /** The zone as written, when there was one (`+0200`, `EST`, `Z`). */
  zone?: string;
  /** `missing-zone` or `unknown-zone` (both read as +0000). */
  defects: string[];
}

/**
 * Parses an RFC 5322 date-time, obsolete syntax included, and the malformed forms common in mail.
 *
 * Accepted: an optional day of week; `D Mon YYYY`, `D-Mon-YYYY`, a numeric month (`20 11 79`) and
 * `Mon D YYYY`; asctime order (`Fri Feb 07 10:18:12 2003 -0800`, also with the zone before the
 * year); ISO 8601 (`2003-07-01T10:52:37Z`); comments anywhere; missing or fractional seconds; any case and spacing. Two-digit years below 50 are 20xx,
 * other two- and three-digit years add 1900 (RFC 5322 §4.3). Zones: `±hhmm` (or `±hh:mm`), UT, UTC,
 * GMT, these three followed by an offset (`GMT+0100`, as JavaScript writes dates), the US names of
 * RFC 5322 §4.3, a few other abbreviations common in mail, and military letters, which RFC 5322 §4.3
 * says to read as -0000 (so 0 here). A `POSIX` name such as `EST5EDT` is read by its first part. An
 * unknown zone reads as +0000 (`unknown-zone`), a missing one too (`missing-zone`). Text before the
 * date is skipped (a Received trace's `…; date`). Returns `undefined` when no valid date is found (a
 * month name that is not one, day 31 in a 30-day month, hour 24 …).
 */
export function parseDate(value: string): ParsedDate | undefined {
  return parseIsoDate(value) ?? parseMailDate(tokenize(value));
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const MONTH_NAMES = [
  'january',
  'february',
  'march',
  'april',
  'may',
  'june',
  'july',
  'august',
  'september',
  'october',
  'november',
  'december',
];

/** Zone names and their offsets in hours: RFC 5322 §4.3, then abbreviations seen in mail. */
const ZONES: ReadonlyMap<string, number> = new Map([
  ['ut', 0],
  ['utc', 0],
  ['gmt', 0],
  ['z', 0],
  ['est', -5],
  ['edt', -4],
  ['cst', -6],
  ['cdt', -5],
  ['mst', -7],
  ['mdt', -6],
  ['pst', -8],
  ['pdt', -7],
  ['wet', 0],
  ['west', 1],
  ['bst', 1],
  ['cet', 1],
  ['met', 1],
  ['cest', 2],
  ['mest', 2],
  ['eet', 2],
  ['eest', 3],
  ['msk', 3],
  ['jst', 9],
  ['kst', 9],
  ['hkt', 8],
  ['aest', 10],
  ['aedt', 11],
  ['nzst', 12],
  ['nzdt', 13],
  ['ast', -4],
  ['adt', -3],
  ['akst', -9],
  ['akdt', -8],
  ['hst', -10],
]);

/**
 * Matched against the value with its folding whitespace trimmed: no two quantifiers here can take the
 * same characters, so a long run of spaces cannot make the match backtrack quadratically.
 */
const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:[ \t]*([Zz]|[+-]\d{2}:?\d{2}))?$/;
const NUMERIC_ZONE = /^[+-](\d{2}):?(\d{2})$/;
/** A UTC name followed by an offset, as JavaScript and Java write dates: `GMT+0100`, `UTC-05:30`, `UT+2`. */
const UTC_WITH_OFFSET = /^(?:gmt|utc|ut)([+-])(\d{1,2})(?::?(\d{2}))?$/i;
const TIME = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?$/;
const DASHED_DATE = /^(\d{1,2})-([A-Za-z]{3,9})-(\d{2,4})$/;
const DIGITS = /^\d+$/;
const LETTERS = /^[A-Za-z]+/;

function parseIsoDate(value: string): ParsedDate | undefined {
  let start = 0;
  let end = value.length;
  while (start < end && isFoldingSpace(value.charCodeAt(start))) start++;
  while (end > start && isFoldingSpace(value.charCodeAt(end - 1))) end--;
  const match = ISO_DATE.exec(value.slice(start, end));
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, zone] = match;
  const defects: string[] = [];
  const offset = zone === undefined ? 0 : zone.toLowerCase() === 'z' ? 0 : numericOffset(zone);
  if (zone === undefined) defects.push('missing-zone');
  if (offset === undefined) return undefined;
  return build(
    [Number(year), Number(month), Number(day), Number(hour), Number(minute), Number(second ?? 0)],
    offset,
    zone,
    defects,
  );
}

/** Splits on whitespace, commas and semicolons, skipping comments; `1-Jul-2003` becomes three tokens. */
function tokenize(value: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < value.length) {
    const code = value.charCodeAt(i);
    if (code === 0x28) {
      i = skipComment(value, i);
      continue;
    }
    if (isSeparator(code)) {
      i++;
      continue;
    }
    const start = i;
    while (i < value.length && !isSeparator(value.charCodeAt(i)) && value.charCodeAt(i) !== 0x28) i++;
    const token = value.slice(start, i);
    const dashed = DASHED_DATE.exec(token);
    if (dashed) tokens.push(dashed[1]!, dashed[2]!, dashed[3]!);
    else tokens.push(token);
  }
  return tokens;
}

function isSeparator(code: number): boolean {
  return isFoldingSpace(code) || code === 0x2c || code === 0x3b;
}

/** Tries each time token in turn as the anchor of a date; the first that gives a valid date wins. */
function parseMailDate(tokens: readonly string[]): ParsedDate | undefined {
  for (let t = 0; t < tokens.length; t++) {
    const time = TIME.exec(tokens[t]!);
    if (!time) continue;
    const clock = [Number(time[1]), Number(time[2]), Number(time[3] ?? 0)];
    const before = tokens.slice(Math.max(0, t - 3), t);
    const dayMonthYear = readDayMonthYear(before);
    if (dayMonthYear) {
      const date = withZone([...dayMonthYear, ...clock], tokens[t + 1]);
      if (date) return date;
    }
    // asctime: `Mon D hh:mm:ss YYYY [zone]`, or `Mon D hh:mm:ss zone YYYY`
    const [monthToken, dayToken] = before.slice(-2);
    const month = monthToken === undefined ? undefined : monthNumber(monthToken);
    if (month !== undefined && isNumber(dayToken, 2)) {
      const zoneFirst = !isYear(tokens[t + 1]) && isYear(tokens[t + 2]);
      const year = zoneFirst ? tokens[t + 2] : tokens[t + 1];
      if (isYear(year)) {
        const date = withZone(
          [Number(year), month, Number(dayToken), ...clock],
          tokens[zoneFirst ? t + 1 : t + 2],
        );
        if (date) return date;
      }
    }
  }
  return undefined;
}

/** `[year, month, day]` from the three tokens before the time, in `D M Y` or `M D Y` order. */
function readDayMonthYear(tokens: readonly string[]): [number, number, number] | undefined {
  if (tokens.length < 3) return undefined;
  const [first, second, third] = tokens as [string, string, string];
  if (!isNumber(third, 4)) return undefined;
  const year = expandYear(third);
  const namedMonth = monthNumber(second);
  if (isNumber(first, 2) && namedMonth !== undefined) return [year, namedMonth, Number(first)];
  if (isNumber(first, 2) && isNumber(second, 2)) return [year, Number(second), Number(first)];
  const leadingMonth = monthNumber(first);
  if (leadingMonth !== undefined && isNumber(second, 2)) return [year, leadingMonth, Number(second)];
  return undefined;
}

function isYear(token: string | undefined): token is string {
  return token !== undefined && token.length === 4 && DIGITS.test(token);
}

function isNumber(token: string | undefined, maxDigits: number): token is string {
  return token !== undefined && token.length <= maxDigits && DIGITS.test(token);
}

/** RFC 5322 §4.3: two-digit years below 50 are 20xx, other two- and three-digit years add 1900. */
function expandYear(token: string): number {
  const year = Number(token);
  if (token.length === 2) return year < 50 ? 2000 + year : 1900 + year;
  if (token.length === 3) return 1900 + year;
  return year;
}

function monthNumber(token: string): number | undefined {
  const name = token.toLowerCase();
  const index = name.length === 3 ? MONTHS.indexOf(name) : name === 'sept' ? 8 : MONTH_NAMES.indexOf(name);
  return index === -1 ? undefined : index + 1;
}

function withZone(fields: number[], token: string | undefined): ParsedDate | undefined {
  const defects: string[] = [];
  if (token === undefined) {
    defects.push('missing-zone');
    return build(fields, 0, undefined, defects);
  }
  const numeric = numericOffset(token) ?? utcOffset(token);
  if (numeric !== undefined) return build(fields, numeric, token, defects);
  const name = LETTERS.exec(token)?.[0].toLowerCase();
  const hours = name === undefined ? undefined : ZONES.get(name);
  if (hours !== undefined) return build(fields, hours * 60, token, defects);
  if (name !== undefined && name.length === 1 && name !== 'j') return build(fields, 0, token, defects);
  if (DIGITS.test(token)) {
    defects.push('missing-zone');
    return build(fields, 0, undefined, defects);
  }
  defects.push('unknown-zone');
  return build(fields, 0, token, defects);
}

function numericOffset(token: string): number | undefined {
  const match = NUMERIC_ZONE.exec(token);
  if (!match) return undefined;
  const hours = Number(match[1]);
  const minutes = Number(match[2]);
  if (hours > 23 || minutes > 59) return undefined;
  const offset = hours * 60 + minutes;
  return token[0] === '-' ? -offset : offset;
}

/** The offset of `GMT+0100` and the like, in minutes; `undefined` for anything else or an offset out of range. */
function utcOffset(token: string): number | undefined {
  const match = UTC_WITH_OFFSET.exec(token);
  if (!match) return undefined;
  const [, sign, hours, minutes = '00'] = match;
  return numericOffset(`${sign}${hours!.padStart(2, '0')}${minutes}`);
}

function build(
  fields: number[],
  offsetMinutes: number,
  zone: string | undefined,
  defects: string[],
): ParsedDate | undefined {
  const [year, month, day, hour, minute, second] = fields as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  const instant = new Date(0);
  instant.setUTCFullYear(year, month - 1, day);
  instant.setUTCHours(hour, minute, second, 0);
  const date = new Date(instant.getTime() - offsetMinutes * 60_000);
  const parsed: ParsedDate = { date, year, month, day, hour, minute, second, offsetMinutes, defects };
  if (zone !== undefined) parsed.zone = zone;
  return parsed;
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !isLeapYear(year) ? 1 : 0);
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const DAY_LABELS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTH_LABELS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * Formats an instant as an RFC 5322 date-time (`Tue, 1 Jul 2003 10:52:37 +0200`), in the zone
 * `offsetMinutes` east of UTC (default 0, written `+0000`). Throws `InvalidArgumentError` for an
 * invalid date or an offset that is not a whole number of minutes within ±23:59.
 */
export function formatDate(date: Date, offsetMinutes = 0): string {
  if (Number.isNaN(date.getTime())) throw new InvalidArgumentError('invalid date');
  if (!Number.isInteger(offsetMinutes) || Math.abs(offsetMinutes) >= 24 * 60) {
    throw new InvalidArgumentError('invalid zone offset');
  }
  const local = new Date(date.getTime() + offsetMinutes * 60_000);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const zone = Math.abs(offsetMinutes);
  const two = (n: number): string => String(n).padStart(2, '0');
  return (
    `${DAY_LABELS[local.getUTCDay()]}, ${local.getUTCDate()} ${MONTH_LABELS[local.getUTCMonth()]} ` +
    `${String(local.getUTCFullYear()).padStart(4, '0')} ${two(local.getUTCHours())}:${two(local.getUTCMinutes())}:` +
    `${two(local.getUTCSeconds())} ${sign}${two(Math.floor(zone / 60))}${two(zone % 60)}`
  );
}

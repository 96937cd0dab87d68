import { InvalidArgumentError } from '@postwire/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDate, parseDate } from '../../src/header/date.js';

/** The fields of a parse, as `[y, m, d, h, mi, s, offset]`, and its instant. */
function fields(value: string) {
  const date = parseDate(value);
  if (!date) return undefined;
  return [date.year, date.month, date.day, date.hour, date.minute, date.second, date.offsetMinutes];
}

describe('parseDate', () => {
  it('reads an RFC 5322 date-time and the instant it names', () => {
    expect(parseDate('Tue, 1 Jul 2003 10:52:37 +0200')).toEqual({
      date: new Date('2003-07-01T08:52:37Z'),
      year: 2003,
      month: 7,
      day: 1,
      hour: 10,
      minute: 52,
      second: 37,
      offsetMinutes: 120,
      zone: '+0200',
      defects: [],
    });
    expect(parseDate('Tue, 30 Dec 1969 23:32:54 -0330')?.date).toEqual(new Date('1969-12-31T03:02:54Z'));
  });

  it.each([
    ['Tue, 1 Jul 2003 10:52:37 +0200 (CEST)', [2003, 7, 1, 10, 52, 37, 120]],
    ['1 Jul 2003 10:52 +0200', [2003, 7, 1, 10, 52, 0, 120]],
    ['  Tue,  1   jul  2003   10:52:37   +0200  ', [2003, 7, 1, 10, 52, 37, 120]],
    ['Tue, 01-Jul-2003 10:52:37 +0200', [2003, 7, 1, 10, 52, 37, 120]],
    ['Tuesday, July 1 2003 10:52:37 +0200', [2003, 7, 1, 10, 52, 37, 120]],
    ['1 Sept 2003 10:52:37 +0200', [2003, 9, 1, 10, 52, 37, 120]],
    ['21 Nov 97 09:55:06 GMT', [1997, 11, 21, 9, 55, 6, 0]],
    ['21 Nov 49 09:55:06 GMT', [2049, 11, 21, 9, 55, 6, 0]],
    ['21 Nov 103 09:55:06 UT', [2003, 11, 21, 9, 55, 6, 0]],
    ['Sun, 27 Oct 2002 23:57:07 EST', [2002, 10, 27, 23, 57, 7, -300]],
    ['Sun, 27 Oct 2002 23:57:07 edt', [2002, 10, 27, 23, 57, 7, -240]],
    ['Sun, 27 Oct 2002 23:57:07 PDT', [2002, 10, 27, 23, 57, 7, -420]],
    ['Sun, 27 Oct 2002 23:57:07 CEST', [2002, 10, 27, 23, 57, 7, 120]],
    ['Sun, 27 Oct 2002 23:57:07 A', [2002, 10, 27, 23, 57, 7, 0]],
    ['Sun, 27 Oct 2002 23:57:07 Z', [2002, 10, 27, 23, 57, 7, 0]],
    ['Sun, 27 Oct 2002 23:57:07 +05:30', [2002, 10, 27, 23, 57, 7, 330]],
    ['Fri Feb 07 10:18:12 2003 -0800', [2003, 2, 7, 10, 18, 12, -480]],
    ['Fri Feb  7 10:18:12 2003', [2003, 2, 7, 10, 18, 12, 0]],
    ['Fri Sep 14 14:36:56 EDT 2018', [2018, 9, 14, 14, 36, 56, -240]],
    ['Thu, 02 Apr 2020 07:53:55.516 +0000 (UTC)', [2020, 4, 2, 7, 53, 55, 0]],
    ['2003-07-01T10:52:37Z', [2003, 7, 1, 10, 52, 37, 0]],
    ['2003-07-01 10:52:37.123+02:00', [2003, 7, 1, 10, 52, 37, 120]],
    ['2003-07-01T10:52-0500', [2003, 7, 1, 10, 52, 0, -300]],
    ['29 Feb 2004 00:00:00 +0000', [2004, 2, 29, 0, 0, 0, 0]],
    ['by mx.example; Mon, 10 Oct 2022 10:31:15 -0700 (PDT)', [2022, 10, 10, 10, 31, 15, -420]],
  ])('%s', (value, expected) => {
    expect(fields(value)).toEqual(expected);
  });

  it.each([
    ['Wed, 6 Mar 2019 09:58:47 GMT+0100', [2019, 3, 6, 9, 58, 47, 60]],
    ['Wed Mar 06 2019 09:58:47 GMT+0100 (Central European Standard Time)', [2019, 3, 6, 9, 58, 47, 60]],
    ['Wed, 6 Mar 2019 09:58:47 UTC-05:30', [2019, 3, 6, 9, 58, 47, -330]],
    ['Wed, 6 Mar 2019 09:58:47 UT+2', [2019, 3, 6, 9, 58, 47, 120]],
  ])('a UTC name with an offset (%s, as JavaScript dates write it) takes the offset', (value, expected) => {
    expect(fields(value)).toEqual(expected);
    expect(parseDate(value)?.defects).toEqual([]);
  });

  it('a missing or unknown zone reads as +0000 with a defect', () => {
    expect(parseDate('1 Jul 2003 10:52:37')).toMatchObject({ offsetMinutes: 0, defects: ['missing-zone'] });
    expect(parseDate('1 Jul 2003 10:52:37')?.zone).toBeUndefined();
    expect(parseDate('1 Jul 2003 10:52:37 0200')).toMatchObject({
      offsetMinutes: 0,
      defects: ['missing-zone'],
    });
    expect(parseDate('1 Jul 2003 10:52:37 ZZZZ')).toMatchObject({
      offsetMinutes: 0,
      zone: 'ZZZZ',
      defects: ['unknown-zone'],
    });
    expect(parseDate('1 Jul 2003 10:52:37 +2500')).toMatchObject({
      offsetMinutes: 0,
      defects: ['unknown-zone'],
    });
    expect(parseDate('2003-07-01T10:52:37')).toMatchObject({ offsetMinutes: 0, defects: ['missing-zone'] });
  });

  it.each([
    '',
    'yesterday',
    '13 Foo 2003 10:52:37 +0200',
    '31 Apr 2003 10:52:37 +0200',
    '29 Feb 2003 10:52:37 +0200',
    '1 Jul 2003 24:00:00 +0200',
    '1 Jul 2003 10:60:00 +0200',
    '0 Jul 2003 10:52:37 +0200',
    '1 13 2003 10:52:37 +0200',
    '1 Jul 2003',
    '2003-13-01T10:52:37Z',
    '2003-07-01T10:52:37+2400',
  ])('%j is not a date', (value) => {
    expect(parseDate(value)).toBeUndefined();
  });

  it('runs in linear time on hostile input', () => {
    expect(parseDate('1 '.repeat(500_000))).toBeUndefined();
    expect(parseDate('10:52:37 '.repeat(100_000))).toBeUndefined();
    expect(parseDate('('.repeat(1_000_000))).toBeUndefined();
  });

  it('runs in linear time on an ISO date followed by a long run of spaces', () => {
    // The ISO pattern once had `[ \t]*` before the zone and `[ \t\r\n]*$` after it: quadratic backtracking.
    expect(parseDate(`2003-07-01T10:52:37${' '.repeat(200_000)}x`)).toBeUndefined();
    expect(parseDate(`2003-07-01T10:52:37${' \t'.repeat(100_000)}`)?.defects).toEqual(['missing-zone']);
    expect(parseDate(` \r\n 2003-07-01T10:52:37 \t Z \r\n`)?.offsetMinutes).toBe(0);
  });
});

describe('formatDate', () => {
  it('writes RFC 5322 date-times', () => {
    const instant = new Date('2003-07-01T08:52:37Z');
    expect(formatDate(instant)).toBe('Tue, 1 Jul 2003 08:52:37 +0000');
    expect(formatDate(instant, 120)).toBe('Tue, 1 Jul 2003 10:52:37 +0200');
    expect(formatDate(instant, -210)).toBe('Tue, 1 Jul 2003 05:22:37 -0330');
  });

  it('throws on an invalid date or offset', () => {
    expect(() => formatDate(new Date(Number.NaN))).toThrow(InvalidArgumentError);
    expect(() => formatDate(new Date(0), 1.5)).toThrow(InvalidArgumentError);
    expect(() => formatDate(new Date(0), 24 * 60)).toThrow(InvalidArgumentError);
  });

  it('format then parse gives back the instant and the offset (property)', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('1900-01-02T00:00:00Z'),
          max: new Date('9999-12-30T00:00:00Z'),
          noInvalidDate: true,
        }),
        fc.integer({ min: -(24 * 60 - 1), max: 24 * 60 - 1 }),
        (date, offset) => {
          const parsed = parseDate(formatDate(date, offset));
          expect(parsed?.date.getTime()).toBe(Math.floor(date.getTime() / 1000) * 1000);
          expect(parsed?.offsetMinutes).toBe(offset);
          expect(parsed?.defects).toEqual([]);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

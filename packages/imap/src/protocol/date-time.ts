const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DATE_TIME = /^ ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/;

/**
 * Reads an IMAP `date-time` (`17-Jul-1996 02:44:25 -0700`, without quotes), as APPEND gives it; `undefined`
 * when it names no real instant (a 31st of February, a 25th hour).
 */
export function parseDateTime(text: string): Date | undefined {
  const match = DATE_TIME.exec(text);
  if (!match) return undefined;
  const [, day, monthName, year, hour, minute, second, sign, zoneHours, zoneMinutes] = match;
  const month = MONTHS.findIndex((name) => name.toLowerCase() === monthName!.toLowerCase());
  const numbers = [day, year, hour, minute, second, zoneHours, zoneMinutes].map(Number) as number[];
  const [d, y, h, m, s, zh, zm] = numbers as [number, number, number, number, number, number, number];
  if (month === -1 || h > 23 || m > 59 || s > 60 || zm > 59) return undefined;
  const local = Date.UTC(y, month, d, h, m, Math.min(s, 59));
  if (new Date(local).getUTCDate() !== d) return undefined;
  const offset = (sign === '-' ? -1 : 1) * (zh * 60 + zm) * 60_000;
  return new Date(local - offset);
}

/** Writes an instant as an IMAP `date-time` in UTC (`01-Jan-2024 10:00:00 +0000`), for INTERNALDATE. */
export function formatDateTime(date: Date): string {
  const two = (value: number): string => String(value).padStart(2, '0');
  return (
    `${two(date.getUTCDate())}-${MONTHS[date.getUTCMonth()]}-${date.getUTCFullYear()} ` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`
  );
}

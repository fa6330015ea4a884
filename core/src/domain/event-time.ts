/**
 * The event times the system takes: those RFC 3339 can write (section 5.6: four-digit
 * years), 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z, in epoch milliseconds.
 * Postgres's timestamptz holds all of them; a direct producer's Avro `long` can hold far more.
 */
export const MIN_EVENT_TIME_MS = Date.parse('0000-01-01T00:00:00.000Z');
export const MAX_EVENT_TIME_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** True for an integer number of milliseconds within [MIN_EVENT_TIME_MS, MAX_EVENT_TIME_MS]. */
export function isEventTimeInRange(ms: number): boolean {
  return Number.isInteger(ms) && ms >= MIN_EVENT_TIME_MS && ms <= MAX_EVENT_TIME_MS;
}

/**
 * RFC 3339 section 5.6 `date-time`: `full-date "T" full-time`, with `T` and `Z` in either
 * case (section 5.6, note on case) and a `Z` or `±hh:mm` offset. Nothing else: no space
 * instead of `T`, no missing offset, no week or ordinal dates.
 */
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Reads an RFC 3339 `date-time` as epoch milliseconds, or undefined when the text is not
 * one (a wrong shape, month 13, February 30, an hour 24, an offset beyond 23:59).
 *
 * Decisions, documented in the README:
 * - A leap second (second 60, RFC 3339 section 5.7) is accepted at the end of any minute
 *   and read as second 59 of that minute, fraction kept, as ECMAScript Temporal does:
 *   epoch time has no leap seconds, and the event stays in its minute.
 * - Digits beyond milliseconds are truncated (the event time is stored in milliseconds).
 * - `-00:00` (offset unknown, section 4.3) is read as UTC.
 * The instant must fall within years 0000 to 9999 in UTC as well (an offset can push a
 * time across), the range the projector takes from direct producers; all of it encodes.
 */
export function parseEventTime(text: string): number | undefined {
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 60) return undefined;
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const offsetHours = Number(m[10]);
    const offsetMins = Number(m[11]);
    if (offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  const millis = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC reads years 0 to 99 as 1900 to 1999.
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, Math.min(second, 59), millis);
  const epochMs = date.getTime() - offsetMinutes * 60_000;
  // In UTC too, within the years RFC 3339 writes: what the projector takes from any producer.
  return isEventTimeInRange(epochMs) ? epochMs : undefined;
}

/** True when `text` is an RFC 3339 date-time that parseEventTime reads (a schema format). */
export function isEventTime(text: string): boolean {
  return parseEventTime(text) !== undefined;
}

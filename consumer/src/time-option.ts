import { parseEventTime } from '@catchall/core';
import { UsageError } from './usage-error';

/** The forms a time option (`dlq --since`/`--until`, `replay rebuild --from-time`) takes, as its errors and usages name them. */
export const TIME_FORMATS =
  'a date YYYY-MM-DD (its start, UTC) or an RFC 3339 date and time YYYY-MM-DDTHH:MM:SS[.fff] with Z or ±HH:MM (2026-03-01T12:00:00Z)';

/**
 * A time option as epoch ms: an RFC 3339 `date-time` (parseEventTime, core: a real
 * calendar date and time, an offset), or a `full-date` read as that day's start in UTC. Not
 * Date.parse, which takes February 30 for March 2 and guesses at other shapes. A UsageError
 * naming TIME_FORMATS otherwise.
 */
export function parseTime(name: string, text: string): number {
  const at = parseEventTime(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text);
  if (at === undefined) {
    throw new UsageError(`${name} must be ${TIME_FORMATS}; got "${text}"`);
  }
  return at;
}

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

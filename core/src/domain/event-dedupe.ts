import type { CountedEvent } from './fold';

/**
 * One try of an event whose id the client chose (an idempotency key): the projector counts
 * it unless a counted try of the same event is near it in time (decideTries).
 */
export interface EventTry {
  /** Normalized domain: with the id, what names the event (the same id on two domains is two events). */
  domain: string;
  eventId: string;
  /** The Kafka record's timestamp, epoch milliseconds: the time the window is measured in. */
  at: number;
  event: CountedEvent;
}

/**
 * Decides which tries count, in their order: a try counts unless a counted try of the same
 * event (same key) has a timestamp within `windowMs` of its own, before or after it (the
 * clocks of two ingest processes may disagree). Only counted tries are remembered, so a try
 * more than the window away from every counted one counts again.
 *
 * `counted` holds the timestamps (epoch ms) of the tries counted before, by key, as the store
 * has them; the tries this call counts are added to it. Pure and deterministic for a given
 * order: the records of a partition decide the same way in the live projector and in a
 * rebuild, however they are split into flushes. Returns one boolean per try: true, counted.
 */
export function decideTries<T extends { at: number }>(
  tries: readonly T[],
  keyOf: (t: T) => string,
  counted: Map<string, number[]>,
  windowMs: number,
): boolean[] {
  return tries.map((t) => {
    const key = keyOf(t);
    const times = counted.get(key);
    if (times?.some((at) => Math.abs(at - t.at) <= windowMs)) return false;
    if (times) times.push(t.at);
    else counted.set(key, [t.at]);
    return true;
  });
}

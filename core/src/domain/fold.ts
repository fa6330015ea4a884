import type { EventType } from './event-type';

/** What a run of events adds to one domain's row: counts and the span of event times. */
export interface DomainDelta {
  delivered: number;
  bounced: number;
  /** Epoch milliseconds of the earliest and latest event folded in. */
  firstEventAt: number;
  lastEventAt: number;
}

export interface CountedEvent {
  type: EventType;
  occurredAt: number;
}

/**
 * Folds one event into a domain's delta. Counts add and times take min/max, so folding is
 * commutative and associative: the order of partitions or batches never changes the result.
 */
export function evolve(state: DomainDelta | undefined, event: CountedEvent): DomainDelta {
  if (state === undefined) {
    return {
      delivered: event.type === 'delivered' ? 1 : 0,
      bounced: event.type === 'bounced' ? 1 : 0,
      firstEventAt: event.occurredAt,
      lastEventAt: event.occurredAt,
    };
  }
  const next = { ...state };
  foldInto(next, event);
  return next;
}

/** evolve in place: folds one event into `delta` itself, for a delta the caller owns. */
export function foldInto(delta: DomainDelta, event: CountedEvent): void {
  if (event.type === 'delivered') delta.delivered += 1;
  else if (event.type === 'bounced') delta.bounced += 1;
  delta.firstEventAt = Math.min(delta.firstEventAt, event.occurredAt);
  delta.lastEventAt = Math.max(delta.lastEventAt, event.occurredAt);
}

/**
 * Adds delta `b` to delta `a`: counts add, times take min/max. The read model's upsert applies
 * the same rule in SQL (consumer/src/projection-store.ts) to a stored row and a flush's delta.
 */
export function mergeDeltas(a: DomainDelta | undefined, b: DomainDelta): DomainDelta {
  if (a === undefined) return { ...b };
  return {
    delivered: a.delivered + b.delivered,
    bounced: a.bounced + b.bounced,
    firstEventAt: Math.min(a.firstEventAt, b.firstEventAt),
    lastEventAt: Math.max(a.lastEventAt, b.lastEventAt),
  };
}

/** Folds many (domain, event) pairs into one delta per domain. */
export function foldEvents(
  events: Iterable<{ domain: string; event: CountedEvent }>,
  into: Map<string, DomainDelta> = new Map(),
): Map<string, DomainDelta> {
  for (const { domain, event } of events) {
    into.set(domain, evolve(into.get(domain), event));
  }
  return into;
}

import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { EventType } from '@catchall/core/domain';

/** The Avro contract, read from the one file that defines it. */
export const domainEventSchema = JSON.parse(
  readFileSync(path.join(__dirname, '..', 'domain-event.avsc'), 'utf8'),
) as Record<string, unknown>;

/**
 * Who chose an event's id (the contract's `eventIdOrigin`): the client (an idempotency key,
 * deduplicated by the projector) or the ingest API (a random UUID, never looked up).
 */
export type EventIdOrigin = 'client' | 'ingest';

/** The TypeScript shape of `domain-event.avsc`. */
export interface DomainEvent {
  eventId: string;
  domain: string;
  type: EventType;
  /** Epoch milliseconds. */
  occurredAt: number;
  source: string | null;
  /** Absent: the contract's default, `client`. */
  eventIdOrigin?: EventIdOrigin;
}

/** What a reader gets: `unknown` stands for a symbol this reader's schema does not know. */
export interface DecodedDomainEvent extends Omit<DomainEvent, 'type' | 'eventIdOrigin'> {
  type: EventType | 'unknown';
  eventIdOrigin: EventIdOrigin;
}

/** Confluent TopicNameStrategy: the value schema of topic T is registered under `T-value`. */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}

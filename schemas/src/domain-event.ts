import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { EventType } from '@catchall/core/domain';

/** The Avro contract, read from the one file that defines it. */
export const domainEventSchema = JSON.parse(
  readFileSync(path.join(__dirname, '..', 'domain-event.avsc'), 'utf8'),
) as Record<string, unknown>;

/** The TypeScript shape of `domain-event.avsc`. */
export interface DomainEvent {
  eventId: string;
  domain: string;
  type: EventType;
  /** Epoch milliseconds. */
  occurredAt: number;
  source: string | null;
}

/** What a reader gets: `unknown` stands for a symbol this reader's schema does not know. */
export interface DecodedDomainEvent extends Omit<DomainEvent, 'type'> {
  type: EventType | 'unknown';
}

/** Confluent TopicNameStrategy: the value schema of topic T is registered under `T-value`. */
export function valueSubject(topic: string): string {
  return `${topic}-value`;
}

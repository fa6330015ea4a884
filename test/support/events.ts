import { randomUUID } from 'node:crypto';
import type { Message } from 'kafkajs';
import {
  createEventEncoder,
  domainEventSchema,
  registerSchema,
  valueSubject,
  type DomainEvent,
} from '@catchall/schemas';
import { createIdempotentProducer, type EventType } from '@catchall/core';
import { testInfra } from './env';
import { testKafka } from './kafka';

export interface TestEvent {
  domain: string;
  type: EventType;
}

/** Registers the contract under the topic's subject and encodes events with it. */
export async function encoderFor(
  topic: string,
  schema: Record<string, unknown> = domainEventSchema,
) {
  const { registryUrl } = testInfra();
  const schemaId = await registerSchema({
    registryUrl,
    subject: valueSubject(topic),
    schema,
    compatibility: 'BACKWARD',
  });
  return createEventEncoder({ registryUrl, schemaId });
}

export function toEvent(e: TestEvent, occurredAt = Date.now()): DomainEvent {
  return { eventId: randomUUID(), domain: e.domain, type: e.type, occurredAt, source: 'test' };
}

/** Appends raw messages to a topic the way a direct producer would (acks=all). */
export async function produceMessages(topic: string, messages: Message[]): Promise<void> {
  const producer = createIdempotentProducer(testKafka());
  await producer.connect();
  try {
    for (let i = 0; i < messages.length; i += 1000) {
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 1000) });
    }
  } finally {
    await producer.disconnect();
  }
}

/** Encodes and appends events keyed by their domain. */
export async function publishEvents(topic: string, events: TestEvent[]): Promise<void> {
  const encoder = await encoderFor(topic);
  await produceMessages(
    topic,
    events.map((e) => ({ key: e.domain, value: encoder.encode(toEvent(e)) })),
  );
}

/** The counts a correct projection of these events must hold. */
export function expectedCounts(
  events: TestEvent[],
): Map<string, { delivered: number; bounced: number }> {
  const counts = new Map<string, { delivered: number; bounced: number }>();
  for (const e of events) {
    const c = counts.get(e.domain) ?? { delivered: 0, bounced: 0 };
    c[e.type] += 1;
    counts.set(e.domain, c);
  }
  return counts;
}

/** A deterministic mix of deliveries and bounces over `domains` domains. */
export function makeEvents(count: number, domains: number, prefix: string): TestEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    domain: `${prefix}-${i % domains}.example`,
    type: i % 7 === 3 ? 'bounced' : 'delivered',
  }));
}

/**
 * The contract as a newer writer might extend it: an extra optional field and an extra enum
 * symbol. Readers of the current contract must still read it (schema evolution).
 */
export function newerWriterSchema(): Record<string, unknown> {
  const fields = (domainEventSchema.fields as Record<string, unknown>[]).map((f) =>
    f.name === 'type'
      ? {
          ...f,
          type: { ...(f.type as object), symbols: ['unknown', 'delivered', 'bounced', 'deferred'] },
        }
      : f,
  );
  return {
    ...domainEventSchema,
    fields: [...fields, { name: 'mailbox', type: ['null', 'string'], default: null }],
  };
}

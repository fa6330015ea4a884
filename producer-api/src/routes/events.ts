import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { errors, normalizeDomain, type EventType } from '@catchall/core';
import type { DomainEvent } from '@catchall/schemas';
import { newEventId } from '../event-ids';
import type { ProducerMetrics } from '../metrics';
import type { Publisher } from '../publisher';
import type { SchemaRegistration } from '../schema-registration';

const Params = Type.Object({
  domain: Type.String({ maxLength: 1024, description: 'the mail domain; normalized before use' }),
});

const Headers = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 128,
      pattern: '^[\\x21-\\x7e]+$',
      description: 'the event id to record (printable ASCII); generated when absent',
    }),
  ),
});

const Body = Type.Union([
  Type.Null(),
  Type.Object(
    {
      occurredAt: Type.Optional(
        Type.String({ format: 'date-time', description: 'when it happened; default: now' }),
      ),
      source: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    },
    { additionalProperties: false },
  ),
]);

export const Accepted = Type.Object({
  eventId: Type.String(),
  domain: Type.String({ description: 'the normalized domain the event was counted for' }),
  type: Type.Union([Type.Literal('delivered'), Type.Literal('bounced')]),
});

export interface EventRouteDeps {
  publisher: Publisher;
  schema: SchemaRegistration;
  metrics: ProducerMetrics;
}

export function buildEvent(
  input: {
    domain: string;
    type: EventType;
    eventId?: string;
    occurredAt?: string;
    source?: string;
  },
  now: number,
): DomainEvent {
  const normalized = normalizeDomain(input.domain);
  if (!normalized.ok) throw errors.invalidDomain(input.domain, normalized.reason);
  return {
    eventId: input.eventId ?? newEventId(),
    domain: normalized.domain,
    type: input.type,
    occurredAt: input.occurredAt === undefined ? now : Date.parse(input.occurredAt),
    source: input.source ?? null,
  };
}

/** PUT /events/<domain>/delivered and /bounced: one event, answered once Kafka acked it. */
export function registerEventRoutes(app: FastifyInstance, deps: EventRouteDeps): void {
  for (const type of ['delivered', 'bounced'] as const) {
    app.put<{
      Params: Static<typeof Params>;
      Headers: Static<typeof Headers>;
      Body: Static<typeof Body>;
    }>(
      `/events/:domain/${type}`,
      {
        bodyLimit: 16 * 1024,
        schema: {
          summary: `Record that mail to a domain was ${type}`,
          params: Params,
          headers: Headers,
          body: Body,
          response: { 202: Accepted },
        },
      },
      async (request, reply) => {
        const event = buildEvent(
          {
            domain: request.params.domain,
            type,
            eventId: request.headers['idempotency-key'],
            occurredAt: request.body?.occurredAt,
            source: request.body?.source,
          },
          Date.now(),
        );
        const value = deps.schema.encoder().encode(event);
        await deps.publisher.publish([{ key: event.domain, value }]);
        deps.metrics.eventsAccepted.inc({ type });
        void reply.code(202);
        return { eventId: event.eventId, domain: event.domain, type };
      },
    );
  }
}

import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import {
  bearerSecurity,
  DomainField,
  errorResponses,
  errors,
  normalizeDomain,
  parseEventTime,
  type EventType,
  type Tracing,
} from '@catchall/core';
import type { DomainEvent } from '@catchall/schemas';
import { newEventId } from '../event-ids';
import type { ProducerMetrics } from '../metrics';
import type { Publisher } from '../publisher';
import type { SchemaRegistration } from '../schema-registration';
import {
  answerConsistencyToken,
  consistencyTokenHeader,
  ConsistencyTokenField,
} from './consistency-token';

/** RFC 3339 date-time; see parseEventTime for leap seconds, offsets and fractions. */
export const EventTimeField = Type.String({
  format: 'date-time',
  description:
    'when it happened, RFC 3339 (`T`/`Z` in either case, `Z` or an offset; a leap second is read as second 59; precision: milliseconds); default: now',
});

export const SourceField = Type.String({
  minLength: 1,
  maxLength: 200,
  description:
    'the system that reported the event; well-formed Unicode (a lone surrogate such as `\\ud800` has no UTF-8 form to store: 400)',
});

/** A lone surrogate: JSON can carry one (`"\\ud800"`), UTF-8 and so Avro cannot. */
const LONE_SURROGATE = /\p{Surrogate}/u;

const Params = Type.Object({ domain: DomainField });

const Headers = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 128,
      pattern: '^[\\x21-\\x7e]+$',
      description:
        'the event id (printable ASCII), an idempotency key: tries of one event with the same key and domain are counted once within DEDUPE_WINDOW_S, over PUT and batches alike; a random id is made when absent',
    }),
  ),
});

const Body = Type.Union(
  [
    Type.Null(),
    Type.Object(
      { occurredAt: Type.Optional(EventTimeField), source: Type.Optional(SourceField) },
      { additionalProperties: false },
    ),
  ],
  { description: 'optional: no body (with or without Content-Type) is the same as {}' },
);

export const Accepted = Type.Object({
  eventId: Type.String(),
  domain: Type.String({ description: 'the normalized domain the event was counted for' }),
  type: Type.Union([Type.Literal('delivered'), Type.Literal('bounced')]),
});

/** The answer to one event: what was accepted, and the token to read it back. */
const EventAccepted = Type.Composite(
  [Accepted, Type.Object({ consistencyToken: ConsistencyTokenField })],
  consistencyTokenHeader,
);

export interface EventRouteDeps {
  /** Error statuses besides those of every route: 413, 503, and 401 or 429 when on. */
  errorStatuses: number[];
  /** The routes take a bearer token (API_TOKENS set): the OpenAPI document says so. */
  authenticated: boolean;
  publisher: Publisher;
  schema: SchemaRegistration;
  metrics: ProducerMetrics;
  /** The events topic: the one consistency tokens name. */
  topic: string;
  /** Answers carry a consistency token (off only to measure what it costs). */
  consistencyTokens: boolean;
  /** The request span's context goes into each record's headers (tracing on). */
  tracing: Tracing;
}

/**
 * One event from an API input: the domain normalized (400 CATCHALL_INVALID_DOMAIN
 * otherwise), the time read as RFC 3339 into epoch milliseconds (400
 * CATCHALL_INVALID_EVENT_TIME otherwise), `now` (epoch ms) when absent, an id made when
 * the client sent none. `eventIdOrigin` says which: the projector deduplicates the client's
 * ids only (README "Retries are counted once").
 */
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
  if (input.source !== undefined && LONE_SURROGATE.test(input.source)) {
    throw errors.invalidRequest('source is not well-formed Unicode (it holds a lone surrogate)');
  }
  const occurredAt = input.occurredAt === undefined ? now : parseEventTime(input.occurredAt);
  // The schema's date-time format is parseEventTime itself; this guards its callers.
  if (occurredAt === undefined) throw errors.invalidEventTime('occurredAt', input.occurredAt);
  return {
    eventId: input.eventId ?? newEventId(),
    domain: normalized.domain,
    type: input.type,
    occurredAt,
    source: input.source ?? null,
    eventIdOrigin: input.eventId === undefined ? 'ingest' : 'client',
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
          'x-optional-body': true,
          params: Params,
          headers: Headers,
          body: Body,
          response: { 202: EventAccepted, ...errorResponses(deps.errorStatuses) },
          ...bearerSecurity(deps.authenticated),
        },
        // A batch item's eventId is a common guess here: say where a PUT takes it.
        // A callback, not an async function: no promise per request on the ingest path.
        preValidation: (request, _reply, done) => {
          const body: unknown = request.body;
          if (body !== null && typeof body === 'object' && Object.hasOwn(body, 'eventId')) {
            done(
              errors.invalidRequest(
                '"body/eventId": a PUT takes the event id the client chose in the Idempotency-Key header (the items of POST /events take eventId)',
              ),
            );
            return;
          }
          done();
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
        const offsets = await deps.publisher.publish(
          [{ key: event.domain, value, headers: deps.tracing.recordHeaders(request) }],
          deps.consistencyTokens,
        );
        deps.metrics.eventsAccepted.inc({ type });
        void reply.code(202);
        const consistencyToken = answerConsistencyToken(reply, deps.topic, offsets);
        return { eventId: event.eventId, domain: event.domain, type, consistencyToken };
      },
    );
  }
}

import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import {
  bearerToken,
  createServiceApp,
  answerCodeOf,
  errors,
  NotReady,
  requireBearerTokens,
  type DependencyCheck,
  splitList,
  tracingOff,
  type Logger,
  type Tracing,
} from '@catchall/core';
import type { ProducerMetrics } from './metrics';
import type { Publisher } from './publisher';
import { registerBatchRoute } from './routes/batch';
import { registerEventRoutes } from './routes/events';
import type { SchemaRegistration } from './schema-registration';

export interface ProducerAppOptions {
  logger: Logger;
  registry: Registry;
  metrics: ProducerMetrics;
  publisher: Publisher;
  schema: SchemaRegistration;
  /** Kafka asked in the background (createKafkaCheck): whether it answers, traffic or not. */
  kafkaCheck: Pick<DependencyCheck, 'check'>;
  /** Accepted bearer tokens; empty turns authentication off. */
  tokens: string;
  /** Requests per minute per client; 0 turns rate limiting off. */
  rateLimitPerMinute: number;
  batchMaxEvents: number;
  batchMaxBytes: number;
  /** A request not received completely within this many milliseconds is answered 408. */
  requestTimeoutMs: number;
  /** The events topic, which consistency tokens name. */
  topic: string;
  /**
   * A span per request, its context in the `traceparent` header of each record the request
   * writes; absent: tracingOff.
   */
  tracing?: Tracing;
  /**
   * Internal, not a setting: false answers without consistency tokens, so that a benchmark
   * can measure what they cost. Default true.
   */
  consistencyTokens?: boolean;
}

/** The ingest API's routes over the shared service shell; does not listen. */
export function buildApp(options: ProducerAppOptions): FastifyInstance {
  const tokens = splitList(options.tokens);
  const app = createServiceApp({
    logger: options.logger,
    tracing: options.tracing,
    metrics: options.registry,
    openapi: {
      title: 'Catch-all ingest API',
      description: 'Records delivery outcomes of mail domains as events in Kafka.',
      version: '0.1.0',
      bearerTokens: tokens.length > 0,
    },
    readiness: {
      schemaRegistry: () => options.schema.check(),
      // Kafka answers the background check, and the last produce request did not fail (which
      // the check alone may not see: a broker that answers metadata but refuses records).
      kafka: async () => {
        await options.kafkaCheck.check();
        if (options.publisher.failing()) throw new NotReady('the last produce request failed');
      },
    },
    requestTimeoutMs: options.requestTimeoutMs,
  });
  // Auth and rate limits apply to the API routes only; health and metrics stay open.
  void app.register(async (api) => {
    // Every answer of these routes that stores nothing, by its error code (401 and 429 too).
    // By the answer's code (read by the shell's onSend hook, which runs first), or
    // `HTTP_<status>` for a body without one.
    api.addHook('onSend', (request, reply, payload, done) => {
      const status = reply.statusCode;
      if (status >= 400) {
        options.metrics.eventsRejected.inc({ reason: answerCodeOf(request) ?? `HTTP_${status}` });
      }
      done(null, payload);
    });
    await requireBearerTokens(api, tokens);
    if (options.rateLimitPerMinute > 0) {
      await api.register(rateLimit, {
        max: options.rateLimitPerMinute,
        timeWindow: 60000,
        // By token, not by header: `bearer t` and `Bearer  t` are the same client.
        keyGenerator: ({ headers: { authorization }, ip }) =>
          bearerToken(authorization) ?? authorization ?? ip,
        errorResponseBuilder: (_request, context) => errors.rateLimited(context.after),
      });
    }
    const errorStatuses = [
      413,
      503,
      ...(tokens.length > 0 ? [401] : []),
      ...(options.rateLimitPerMinute > 0 ? [429] : []),
    ];
    const authenticated = tokens.length > 0;
    const consistencyTokens = options.consistencyTokens ?? true;
    const tracing = options.tracing ?? tracingOff;
    registerEventRoutes(api, {
      ...options,
      errorStatuses,
      authenticated,
      consistencyTokens,
      tracing,
    });
    // In a context of its own: its NDJSON parser serves POST /events only (a PUT in NDJSON
    // is 415, as any media type a route does not take).
    void api.register(async (batch) =>
      registerBatchRoute(batch, {
        ...options,
        errorStatuses,
        authenticated,
        consistencyTokens,
        tracing,
        maxEvents: options.batchMaxEvents,
        maxBytes: options.batchMaxBytes,
      }),
    );
  });
  return app;
}

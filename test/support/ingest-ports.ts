import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import type { DependencyCheck, Tracing } from '@catchall/core';
import type { EventEncoder } from '@catchall/schemas';
import { buildApp } from '../../producer-api/src/app';
import { createProducerMetrics } from '../../producer-api/src/metrics';
import { createPublisher, type PublisherOptions } from '../../producer-api/src/publisher';
import type { SchemaRegistration } from '../../producer-api/src/schema-registration';
import { createInMemoryProducerHandle, type InMemoryProducerHandle } from './in-memory-ports';
import { testLogger } from './logger';

/** The event itself as JSON, standing in for the registry's Avro encoder. */
export const jsonEncoder: EventEncoder = {
  schemaId: 1,
  encode: (event) => Buffer.from(JSON.stringify(event)),
};

/** A schema registration that is registered already and never fails: the ingest API's port. */
export const readySchema: SchemaRegistration = {
  encoder: () => jsonEncoder,
  start: () => Promise.resolve(),
  stop: () => undefined,
  check: () => Promise.resolve(),
};

/** A background Kafka check whose last probe passed: the in-memory producer always answers. */
const answeringKafkaCheck: Pick<DependencyCheck, 'check' | 'failing'> = {
  check: async () => undefined,
  failing: () => false,
};

/**
 * The ingest API over an in-memory transactional producer: no socket, no Kafka. `publisher`
 * overrides the publisher's options (defaults: no linger, 1000 records a transaction);
 * `kafkaCheck` stands for the background Kafka check (default: answeringKafkaCheck).
 */
export function inMemoryIngestApp(
  name: string,
  options: {
    publisher?: Partial<PublisherOptions>;
    consistencyTokens?: boolean;
    tracing?: Tracing;
    kafkaCheck?: Pick<DependencyCheck, 'check' | 'failing'>;
  } = {},
): { app: FastifyInstance; kafka: InMemoryProducerHandle } {
  const kafka = createInMemoryProducerHandle();
  const registry = new Registry();
  const metrics = createProducerMetrics(registry);
  const logger = testLogger(name);
  const kafkaCheck = options.kafkaCheck ?? answeringKafkaCheck;
  const publisher = createPublisher({
    producers: [kafka],
    idempotentProducers: [],
    topic: 'domain-events',
    lingerMs: 0,
    maxBatchRecords: 1000,
    maxRequestBytes: 1024 * 1024,
    maxQueuedRecords: 10_000,
    ackTimeoutMs: 5000,
    kafkaCheck,
    metrics,
    logger,
    ...options.publisher,
  });
  const app = buildApp({
    logger,
    registry,
    metrics,
    publisher,
    schema: readySchema,
    kafkaCheck,
    tokens: '',
    rateLimitPerMinute: 0,
    batchMaxEvents: 100,
    batchMaxBytes: 1024 * 1024,
    requestTimeoutMs: 5000,
    topic: 'domain-events',
    tracing: options.tracing,
    ...(options.consistencyTokens === undefined
      ? {}
      : { consistencyTokens: options.consistencyTokens }),
  });
  return { app, kafka };
}

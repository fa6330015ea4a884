import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  connectKafka,
  startKafkaCheck,
  createProducerHandle,
  createIdempotentProducer,
  createLifecycle,
  createMetricsRegistry,
  createTransactionalProducer,
  createTracing,
  topicMaxMessageBytes,
  type Logger,
  type StartedService,
} from '@catchall/core';
import { connectRegistry } from '@catchall/schemas';
import { buildApp, type ProducerAppOptions } from './app';
import type { ProducerConfig } from './config';
import { createProducerMetrics } from './metrics';
import { createPublisher } from './publisher';
import { createSchemaRegistration } from './schema-registration';

export interface ProducerService extends StartedService {
  /** Resolves when the event schema is registered (or gives up on stop). */
  ready: Promise<void>;
}

/**
 * Opens the Kafka producer and wires the ingest API; does not listen. `internal`: options of
 * buildApp that are no setting (a benchmark's), none by default.
 */
export async function startProducerService(
  config: ProducerConfig,
  logger: Logger,
  internal: Pick<ProducerAppOptions, 'consistencyTokens'> = {},
): Promise<ProducerService> {
  const lifecycle = createLifecycle({ logger, timeoutMs: config.SHUTDOWN_TIMEOUT_MS });
  const tracing = createTracing({
    endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    serviceName: config.OTEL_SERVICE_NAME,
    logger,
  });
  // Closed last: the spans of the requests answered while closing are sent too.
  lifecycle.onClose('tracing', () => tracing.shutdown());
  const registry = createMetricsRegistry('producer-api');
  const metrics = createProducerMetrics(registry);
  // Refused credentials or an untrusted certificate stop the start; unreachable does not.
  const kafka = await connectKafka({ config, role: 'producer-api', logger });
  const registryAccess = await connectRegistry(config);
  // Kafka asked in the background, so that /readyz tells whether it answers without traffic.
  const kafkaCheck = await startKafkaCheck({ config, role: 'producer-api', lifecycle, logger });
  // One transactional id per producer and process: each replacement producer (after a
  // failed send) takes its predecessor's id over and so fences it.
  const idPrefix = `${config.KAFKA_CLIENT_ID}-producer-api-${hostname()}-${process.pid}-${randomUUID()}`;
  const producers = Array.from({ length: config.PRODUCE_TRANSACTIONS }, (_, i) =>
    createProducerHandle({
      create: () =>
        createTransactionalProducer(kafka, {
          transactionalId: `${idPrefix}-${i}`,
          // A transaction left open by a crashed process blocks read_committed readers of its
          // partitions until the broker aborts it: no longer than a request may wait anyway.
          transactionTimeoutMs: config.PRODUCE_ACK_TIMEOUT_MS,
        }),
      logger,
    }),
  );
  // Single events need no transaction (see createPublisher): plain idempotent producers.
  const idempotentProducers = Array.from({ length: config.PRODUCE_IDEMPOTENT_PRODUCERS }, () =>
    createProducerHandle({ create: () => createIdempotentProducer(kafka), logger }),
  );
  const all = [...producers, ...idempotentProducers];
  await Promise.all(all.map((p) => p.get()));
  lifecycle.onClose('kafka producers', async () => {
    await Promise.all(all.map((p) => p.close()));
  });
  // Produce requests are split to fit the topic's per-batch limit, whatever it is set to.
  const topicLimit = await topicMaxMessageBytes(kafka, config.EVENTS_TOPIC);
  const maxRequestBytes = Math.min(config.PRODUCE_REQUEST_MAX_BYTES, topicLimit ?? Infinity);
  logger.info({ maxRequestBytes, topicLimit }, 'produce requests sized');

  const publisher = createPublisher({
    producers,
    idempotentProducers,
    topic: config.EVENTS_TOPIC,
    lingerMs: config.PRODUCE_LINGER_MS,
    maxBatchRecords: config.PRODUCE_BATCH_MAX,
    maxRequestBytes,
    maxQueuedRecords: config.PRODUCE_QUEUE_MAX,
    ackTimeoutMs: config.PRODUCE_ACK_TIMEOUT_MS,
    kafkaCheck,
    metrics,
    logger,
  });
  lifecycle.onClose('publisher', () => publisher.drain());

  const schema = createSchemaRegistration({
    ...registryAccess,
    topic: config.EVENTS_TOPIC,
    autoRegister: config.SCHEMA_AUTO_REGISTER,
    logger,
  });
  const ready = schema.start();
  lifecycle.onClose('schema registration', () => schema.stop());

  const app = buildApp({
    logger,
    registry,
    metrics,
    publisher,
    schema,
    kafkaCheck,
    tokens: config.API_TOKENS,
    rateLimitPerMinute: config.RATE_LIMIT_PER_MINUTE,
    batchMaxEvents: config.BATCH_MAX_EVENTS,
    batchMaxBytes: config.BATCH_MAX_BYTES,
    requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
    topic: config.EVENTS_TOPIC,
    tracing,
    ...internal,
  });
  // Closed first: stop taking requests and answer those in flight, then drain the queue.
  lifecycle.onClose('http server', () => app.close());
  return { app, lifecycle, ready };
}

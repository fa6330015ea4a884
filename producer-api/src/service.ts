import {
  createIdempotentProducer,
  createKafka,
  createProducerHandle,
  createLifecycle,
  createMetricsRegistry,
  type Logger,
  type StartedService,
} from '@catchall/core';
import { buildApp } from './app';
import type { ProducerConfig } from './config';
import { createProducerMetrics } from './metrics';
import { createPublisher } from './publisher';
import { createSchemaRegistration } from './schema-registration';

export interface ProducerService extends StartedService {
  /** Resolves when the event schema is registered (or gives up on stop). */
  ready: Promise<void>;
}

/** Opens the Kafka producer and wires the ingest API; does not listen. */
export async function startProducerService(
  config: ProducerConfig,
  logger: Logger,
): Promise<ProducerService> {
  const lifecycle = createLifecycle({ logger, timeoutMs: config.SHUTDOWN_TIMEOUT_MS });
  const registry = createMetricsRegistry('producer-api');
  const metrics = createProducerMetrics(registry);
  const kafka = createKafka({
    brokers: config.KAFKA_BROKERS,
    clientId: `${config.KAFKA_CLIENT_ID}-producer-api`,
    logger,
  });
  const producer = createProducerHandle({ create: () => createIdempotentProducer(kafka), logger });
  await producer.get();
  lifecycle.onClose('kafka producer', () => producer.close());

  const publisher = createPublisher({
    producer,
    topic: config.EVENTS_TOPIC,
    lingerMs: config.PRODUCE_LINGER_MS,
    maxBatchRecords: config.PRODUCE_BATCH_MAX,
    maxQueuedRecords: config.PRODUCE_QUEUE_MAX,
    ackTimeoutMs: config.PRODUCE_ACK_TIMEOUT_MS,
    metrics,
  });
  lifecycle.onClose('publisher', () => publisher.drain());

  const schema = createSchemaRegistration({
    registryUrl: config.SCHEMA_REGISTRY_URL,
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
    tokens: config.API_TOKENS,
    rateLimitPerMinute: config.RATE_LIMIT_PER_MINUTE,
    batchMaxEvents: config.BATCH_MAX_EVENTS,
    batchMaxBytes: config.BATCH_MAX_BYTES,
    requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
  });
  // Closed first: stop taking requests and answer those in flight, then drain the queue.
  lifecycle.onClose('http server', () => app.close());
  return { app, lifecycle, ready };
}

import type { Registry } from 'prom-client';
import {
  createIdempotentProducer,
  createKafka,
  type KafkaSecurity,
  createMetricsRegistry,
  createPool,
  createProducerHandle,
  DEFAULT_CATCH_ALL_THRESHOLD,
} from '@catchall/core';
import {
  createDeadLetters,
  createConsumerMetrics,
  eventIdMetrics,
  createProjectionStore,
  createProjector,
  type Projector,
  type ProjectionStore,
} from '@catchall/consumer';
import { createEventDecoder, type RegistryAuth } from '@catchall/schemas';
import { testInfra, uniqueName } from './env';
import type { TestTopic } from './kafka';
import { testLogger } from './logger';
import type { TestDatabase } from './postgres';

/** A projector of a test, with what it was given to watch. */
export interface TestProjector {
  projector: Projector;
  /** Its metrics. */
  registry: Registry;
  /** The failures that stopped it for good (ProjectorOptions.onFatal), in order. */
  fatal: unknown[];
  stop(): Promise<void>;
}

/**
 * A projector of `topic` into `db`'s read model version 1, on the real broker, registry and
 * Postgres, started (member of its group when this resolves). Flushes every 100 ms; the
 * options change what a test needs: its group (a fresh one when absent), other addresses
 * (through a TCP proxy, say), a store `wrap` that fails, the stall bound.
 */
export async function startTestProjector(
  topic: TestTopic,
  db: TestDatabase,
  options: {
    groupId?: string;
    databaseUrl?: string;
    registryUrl?: string;
    /** Credentials and CA of that registry: `registryConnection(config).registryAuth`. */
    registryAuth?: RegistryAuth;
    /** Another way to the brokers (a secured listener): `kafkaConnection(config)`. */
    kafka?: { brokers: string } & KafkaSecurity;
    wrap?: (store: ProjectionStore) => ProjectionStore;
    partitionStallMs?: number;
    partitionsConsumedConcurrently?: number;
  } = {},
): Promise<TestProjector> {
  const infra = testInfra();
  const logger = testLogger('projector');
  const kafka = createKafka({
    brokers: infra.brokers,
    ...options.kafka,
    clientId: 'projector-test',
    logger,
  });
  const producer = createProducerHandle({ create: () => createIdempotentProducer(kafka), logger });
  await producer.get();
  const pool = createPool({
    connectionString: options.databaseUrl ?? db.url,
    max: 4,
    logger,
    applicationName: 'projector-test',
  });
  const registry = createMetricsRegistry('projector-test');
  const metrics = createConsumerMetrics(registry);
  const store = createProjectionStore({
    pool,
    version: 1,
    threshold: DEFAULT_CATCH_ALL_THRESHOLD,
    synchronousCommit: false,
    eventIds: eventIdMetrics(metrics),
  });
  const fatal: unknown[] = [];
  const projector = createProjector({
    kafka,
    codec: createEventDecoder({
      registryUrl: options.registryUrl ?? infra.registryUrl,
      ...(options.registryAuth ? { registryAuth: options.registryAuth } : {}),
    }),
    store: options.wrap ? options.wrap(store) : store,
    deadLetters: createDeadLetters({ producer, topic: topic.dlq }),
    topic: topic.name,
    groupId: options.groupId ?? uniqueName('group'),
    flushIntervalMs: 100,
    maxPendingDomains: 1000,
    partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 3,
    sessionTimeoutMs: 6000,
    partitionStallMs: options.partitionStallMs,
    logger,
    metrics,
    onFatal: (err) => fatal.push(err),
  });
  await projector.start();
  return {
    projector,
    registry,
    fatal,
    async stop() {
      await projector.stop();
      await producer.close();
      await pool.end();
    },
  };
}

/**
 * The value of gauge `name` for `partition` in a test projector's metrics (prom-client's
 * registry), or undefined when the projector has not set it yet.
 */
export async function partitionGauge(
  running: TestProjector,
  name: 'catchall_consumer_lag' | 'catchall_partition_stalled',
  partition: number,
): Promise<number | undefined> {
  const metric = running.registry.getSingleMetric(name);
  if (!metric) return undefined;
  const { values } = await metric.get();
  return values.find((v) => v.labels.partition === String(partition))?.value;
}

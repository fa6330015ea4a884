import type { Registry } from 'prom-client';
import {
  createIdempotentProducer,
  createKafka,
  createMetricsRegistry,
  createPool,
  createProducerHandle,
  DEFAULT_CATCH_ALL_THRESHOLD,
} from '@catchall/core';
import {
  createDeadLetters,
  createProjectionStore,
  createProjector,
  type ProjectionStore,
  type Projector,
} from '@catchall/consumer';
import { createEventDecoder } from '@catchall/schemas';
import { createConsumerMetrics } from '../../consumer/src/metrics';
import { testInfra, uniqueName } from './env';
import type { TestTopic } from './kafka';
import { testLogger } from './logger';
import type { TestDatabase } from './postgres';

export interface TestProjectorOptions {
  /** The consumer group; a new unique one when absent. */
  groupId?: string;
  /** Postgres to write to, when not the test database's own URL (a proxy in front, say). */
  databaseUrl?: string;
  /** The schema registry, when not the test infrastructure's (a proxy in front, say). */
  registryUrl?: string;
  /** Changes the store the projector writes through (to inject failures). */
  wrapStore?: (store: ProjectionStore) => ProjectionStore;
  /** Default 3. */
  partitionsConsumedConcurrently?: number;
  /** Milliseconds without progress before a partition with lag is reported stalled. */
  partitionStallMs?: number;
}

export interface TestProjector {
  projector: Projector;
  registry: Registry;
  /** The failures that stopped the projector for good (onFatal), in order. */
  fatal: unknown[];
  /** Stops the projector, then closes its dead-letter producer and its pool. */
  stop(): Promise<void>;
}

/**
 * A started projector on the real broker, registry and Postgres of the test infrastructure
 * (`topic` and its dead-letter topic, the read model version 1 of `db`), flushing every
 * 100 ms. The caller registers `stop` as its cleanup.
 */
export async function startTestProjector(
  topic: TestTopic,
  db: TestDatabase,
  options: TestProjectorOptions = {},
): Promise<TestProjector> {
  const infra = testInfra();
  const logger = testLogger('projector');
  const kafka = createKafka({ brokers: infra.brokers, clientId: 'projector-test', logger });
  const producer = createProducerHandle({ create: () => createIdempotentProducer(kafka), logger });
  await producer.get();
  const pool = createPool({
    connectionString: options.databaseUrl ?? db.url,
    max: 4,
    logger,
    applicationName: 'test',
  });
  const registry = createMetricsRegistry('consumer-test');
  const store = createProjectionStore({
    pool,
    version: 1,
    threshold: DEFAULT_CATCH_ALL_THRESHOLD,
    synchronousCommit: false,
  });
  const fatal: unknown[] = [];
  const projector = createProjector({
    kafka,
    codec: createEventDecoder({ registryUrl: options.registryUrl ?? infra.registryUrl }),
    store: options.wrapStore ? options.wrapStore(store) : store,
    deadLetters: createDeadLetters({ producer, topic: topic.dlq }),
    topic: topic.name,
    groupId: options.groupId ?? uniqueName('group'),
    flushIntervalMs: 100,
    maxPendingDomains: 1000,
    partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 3,
    sessionTimeoutMs: 6000,
    ...(options.partitionStallMs === undefined
      ? {}
      : { partitionStallMs: options.partitionStallMs }),
    logger,
    metrics: createConsumerMetrics(registry),
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

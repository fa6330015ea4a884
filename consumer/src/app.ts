import type { FastifyInstance } from 'fastify';
import {
  checkPostgresAccess,
  connectKafka,
  createDependencyCheck,
  startDependencyCheck,
  createIdempotentProducer,
  startKafkaCheck,
  startPostgresCheck,
  createProducerHandle,
  createLifecycle,
  createMetricsRegistry,
  createPool,
  createServiceApp,
  createTracing,
  deadLetterTopic,
  type DependencyCheck,
  type Lifecycle,
  NotReady,
  type Logger,
} from '@catchall/core';
import {
  connectRegistry,
  createEventDecoder,
  pingRegistry,
  type RegistryAuth,
} from '@catchall/schemas';
import type { ConsumerConfig } from './config';
import { createDeadLetters } from './dead-letters';
import { createConsumerMetrics, eventIdMetrics, redrivenMetrics } from './metrics';
import { migrate } from './migrate';
import { createProjectionStore } from './projection-store';
import { createProjector, type Projector } from './projector';
import { followLiveVersion } from './live-version-follower';
import { liveReadModelVersion, openVersion } from './read-model-version';

/**
 * Kafka, the schema registry and Postgres asked in the background at
 * DEPENDENCY_CHECK_INTERVAL_MS, each within DEPENDENCY_CHECK_TIMEOUT_MS, for the readiness
 * checks `kafka`, `schemaRegistry` and `postgres`; resolves once each has a first outcome.
 * All stop at shutdown.
 */
async function startDependencyChecks(
  config: ConsumerConfig,
  registryAccess: { registryUrl: string; registryAuth: RegistryAuth },
  lifecycle: Lifecycle,
  logger: Logger,
): Promise<{
  kafkaCheck: DependencyCheck;
  registryCheck: DependencyCheck;
  postgresCheck: DependencyCheck;
}> {
  const intervalMs = config.DEPENDENCY_CHECK_INTERVAL_MS;
  const timeoutMs = config.DEPENDENCY_CHECK_TIMEOUT_MS;
  const kafkaChecking = startKafkaCheck({ config, role: 'consumer', lifecycle, logger });
  // A connection of its own: a probe that hangs holds none of the flushes' pool.
  const postgresChecking = startPostgresCheck({
    config,
    applicationName: 'catchall-consumer-check',
    lifecycle,
    logger,
  });
  const registryChecking = startDependencyCheck(
    createDependencyCheck({
      dependency: 'schema registry',
      probe: () => pingRegistry({ ...registryAccess, timeoutMs }),
      intervalMs,
      timeoutMs,
      logger,
    }),
    'schema registry check',
    lifecycle,
  );
  const [kafkaCheck, postgresCheck, registryCheck] = await Promise.all([
    kafkaChecking,
    postgresChecking,
    registryChecking,
  ]);
  return { kafkaCheck, registryCheck, postgresCheck };
}

export interface ConsumerService {
  app: FastifyInstance;
  projector: Projector;
  lifecycle: Lifecycle;
}

/**
 * Wires the projector and its health/metrics endpoint; does not listen or consume yet.
 * Every resource registers its close, so `lifecycle.shutdown` undoes this in reverse.
 */
export async function buildConsumer(
  config: ConsumerConfig,
  logger: Logger,
  /** Called once if the projector stops for good (see ProjectorOptions.onFatal). */
  onFatal: (err: unknown) => void = () => undefined,
): Promise<ConsumerService> {
  const lifecycle = createLifecycle({ logger, timeoutMs: config.SHUTDOWN_TIMEOUT_MS });
  const tracing = createTracing({
    endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    serviceName: config.OTEL_SERVICE_NAME,
    linkCountLimit: config.OTEL_SPAN_LINK_COUNT_LIMIT,
    logger,
  });
  // Closed last: the spans of the last flushes (at shutdown) are sent too.
  lifecycle.onClose('tracing', () => tracing.shutdown());
  const registry = createMetricsRegistry('consumer');
  const metrics = createConsumerMetrics(registry);
  // Refused credentials or an untrusted certificate stop the start; unreachable does not.
  await checkPostgresAccess(config.DATABASE_URL, logger);
  if (config.MIGRATE_ON_START) await migrate({ databaseUrl: config.DATABASE_URL, logger });

  const pool = createPool({
    connectionString: config.DATABASE_URL,
    max: config.PG_POOL_MAX,
    logger,
    applicationName: 'catchall-consumer',
  });
  lifecycle.onClose('postgres pool', () => pool.end());
  const openStore = async (version: number) =>
    createProjectionStore({
      pool,
      version,
      threshold: await openVersion(pool, version, config.CATCH_ALL_THRESHOLD, logger),
      synchronousCommit: false,
      dedupeWindowMs: config.DEDUPE_WINDOW_S * 1000,
      eventIds: eventIdMetrics(metrics),
      redriven: redrivenMetrics(metrics),
    });
  const version = await liveReadModelVersion(pool);
  const store = await openStore(version);

  // Refused credentials or an untrusted certificate stop the start; unreachable does not.
  const kafka = await connectKafka({ config, role: 'consumer', logger });
  const registryAccess = await connectRegistry(config);
  const { kafkaCheck, registryCheck, postgresCheck } = await startDependencyChecks(
    config,
    registryAccess,
    lifecycle,
    logger,
  );
  const producer = createProducerHandle({ create: () => createIdempotentProducer(kafka), logger });
  await producer.get();
  lifecycle.onClose('dead-letter producer', () => producer.close());

  const projector = createProjector({
    kafka,
    codec: createEventDecoder({
      ...registryAccess,
      unknownSchemaRetryMs: config.SCHEMA_UNKNOWN_RETRY_MS,
    }),
    store,
    deadLetters: createDeadLetters({ producer, topic: deadLetterTopic(config.EVENTS_TOPIC) }),
    topic: config.EVENTS_TOPIC,
    groupId: config.CONSUMER_GROUP,
    flushIntervalMs: config.FLUSH_INTERVAL_MS,
    maxPendingDomains: config.FLUSH_MAX_DOMAINS,
    partitionsConsumedConcurrently: config.PARTITIONS_CONCURRENCY,
    sessionTimeoutMs: config.KAFKA_SESSION_TIMEOUT_MS,
    fetchMaxBytes: config.KAFKA_FETCH_MAX_BYTES,
    maxPartitionFetchBytes: config.KAFKA_MAX_PARTITION_FETCH_BYTES,
    partitionStallMs: config.PARTITION_STALL_MS,
    tracing,
    logger,
    metrics,
    onFatal: (err) => onFatal(err),
  });
  lifecycle.onClose('projector', () => projector.stop());

  /** Why following the live version stopped for good, once it has. */
  let followingFailure: unknown;
  const stopFollowing = followLiveVersion({
    pool,
    projector,
    openStore,
    intervalMs: config.LIVE_VERSION_CHECK_MS,
    logger,
    onFatal: (err) => {
      followingFailure = err;
      onFatal(err);
    },
  });
  lifecycle.onClose('live version check', stopFollowing);

  const app = createServiceApp({
    logger,
    metrics: registry,
    // A projector stopped by a failure it cannot mend is not alive, nor one that no longer
    // follows the live version: the orchestrator restarts it (the process also exits
    // non-zero).
    liveness: () => {
      const failure = projector.failure() ?? followingFailure;
      if (failure !== undefined) {
        const reason = failure instanceof Error ? failure.message : JSON.stringify(failure);
        throw new NotReady(`projector stopped: ${reason}`);
      }
    },
    readiness: {
      // Postgres answers the background check: a frozen server cannot hold /readyz or a
      // scrape, whose answers only read the last outcome.
      postgres: () => postgresCheck.check(),
      // Kafka answers the background check (a member keeps its membership for a session
      // timeout and longer while the broker is frozen), and the projector is a member.
      kafka: async () => {
        await kafkaCheck.check();
        if (!projector.isMember()) throw new NotReady('not a member of the consumer group');
      },
      // The registry answers: records with a schema id the projector has not seen need it.
      schemaRegistry: () => registryCheck.check(),
      partitions: async () => {
        const stalled = projector.stalled();
        if (stalled.length > 0) {
          throw new NotReady(
            `stalled: ${stalled
              .map(
                (p) =>
                  `partition ${p.partition} at offset ${p.offset} (lag ${p.lag}, ${Math.round(p.forMs / 1000)} s)`,
              )
              .join('; ')}`,
          );
        }
      },
    },
  });
  lifecycle.onClose('http server', () => app.close());
  logger.info({ version, topic: config.EVENTS_TOPIC }, 'projector wired');
  return { app, projector, lifecycle };
}

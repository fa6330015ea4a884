import { Type } from '@sinclair/typebox';
import {
  ConfigError,
  configFields,
  kafkaSecurityFields,
  MAX_HEAP_GROWING_PERCENT,
  loadConfig,
  registryConnectionFields,
  tracingFields,
} from '@catchall/core';
import { DEFAULT_UNKNOWN_SCHEMA_RETRY_MS } from '@catchall/schemas';
import {
  DEFAULT_FETCH_MAX_BYTES,
  DEFAULT_MAX_PARTITION_FETCH_BYTES,
  DEFAULT_PARTITION_STALL_MS,
} from './projector';
import { DEFAULT_DEDUPE_WINDOW_MS } from './event-ids';

export const consumerConfigFields = {
  LOG_LEVEL: configFields.LOG_LEVEL,
  HOST: configFields.HOST,
  PORT: Type.Integer({
    minimum: 0,
    maximum: 65535,
    default: 3002,
    description: 'consumer health and metrics port',
  }),
  SHUTDOWN_TIMEOUT_MS: configFields.SHUTDOWN_TIMEOUT_MS,
  KAFKA_BROKERS: configFields.KAFKA_BROKERS,
  ...kafkaSecurityFields,
  KAFKA_CLIENT_ID: configFields.KAFKA_CLIENT_ID,
  EVENTS_TOPIC: configFields.EVENTS_TOPIC,
  ...registryConnectionFields,
  DEPENDENCY_CHECK_INTERVAL_MS: configFields.DEPENDENCY_CHECK_INTERVAL_MS,
  DEPENDENCY_CHECK_TIMEOUT_MS: configFields.DEPENDENCY_CHECK_TIMEOUT_MS,
  DATABASE_URL: configFields.DATABASE_URL,
  PG_POOL_MAX: configFields.PG_POOL_MAX,
  ...tracingFields('catchall-consumer'),
  OTEL_SPAN_LINK_COUNT_LIMIT: Type.Integer({
    minimum: 0,
    default: 128,
    description:
      'links per span at most (the OpenTelemetry default): a flush span links to the first this many distinct trace contexts of the records it applies, and counts the others',
  }),
  CONSUMER_GROUP: Type.String({
    default: 'catchall-projector',
    minLength: 1,
    description: 'Kafka consumer group of the projector',
  }),
  KAFKA_SESSION_TIMEOUT_MS: Type.Integer({
    minimum: 6000,
    maximum: 300000,
    default: 10000,
    description: 'a member that stops heartbeating (crashed) loses its partitions after this long',
  }),
  KAFKA_FETCH_MAX_BYTES: Type.Integer({
    minimum: 1024,
    default: DEFAULT_FETCH_MAX_BYTES,
    description:
      "bytes one fetch asks for at most (Kafka's fetch.max.bytes); its records are held decoded, at about ten times their size, until applied: with the next setting, this bounds most of the projector's memory",
  }),
  KAFKA_MAX_PARTITION_FETCH_BYTES: Type.Integer({
    minimum: 1024,
    default: DEFAULT_MAX_PARTITION_FETCH_BYTES,
    description:
      "bytes one fetch asks for at most from one partition (Kafka's max.partition.fetch.bytes); a larger first record batch is still returned whole",
  }),
  FLUSH_INTERVAL_MS: Type.Integer({
    minimum: 10,
    maximum: 60000,
    default: 250,
    description: 'pending counts are written to Postgres at least this often (staleness bound)',
  }),
  FLUSH_MAX_DOMAINS: Type.Integer({
    minimum: 1,
    default: 20000,
    description: 'a flush starts as soon as this many domains are pending (memory bound)',
  }),
  HEAP_GROWING_PERCENT: Type.Integer({
    minimum: 0,
    maximum: MAX_HEAP_GROWING_PERCENT,
    default: 150,
    description:
      "how far V8's heap may grow past what its last full collection kept, in percent (V8's --heap-growing-percent; 0: V8's own choice, up to 300): the projector keeps about 35 MB and allocates fast, so this bounds most of its memory beside the fetch and flush settings",
  }),
  PARTITIONS_CONCURRENCY: Type.Integer({
    minimum: 1,
    default: 4,
    description: 'partitions processed (and flushed) concurrently by one consumer process',
  }),
  PARTITION_STALL_MS: Type.Integer({
    minimum: 1000,
    default: DEFAULT_PARTITION_STALL_MS,
    description:
      'a partition with records to apply whose position has not moved for this long is reported stalled (/readyz, catchall_partition_stalled, a log line); records behind a transaction a producer left open count',
  }),
  SCHEMA_UNKNOWN_RETRY_MS: Type.Integer({
    minimum: 0,
    default: DEFAULT_UNKNOWN_SCHEMA_RETRY_MS,
    description:
      'records with a schema id the registry does not know are retried this long (a lagging or restored registry) before they are dead-lettered',
  }),
  CATCH_ALL_THRESHOLD: configFields.CATCH_ALL_THRESHOLD,
  DEDUPE_WINDOW_S: Type.Integer({
    minimum: 1,
    maximum: 7 * 86400,
    default: DEFAULT_DEDUPE_WINDOW_MS / 1000,
    description:
      "an event whose id the client chose is counted at most once when its tries are at most this far apart (Kafka timestamps); a try later than this after the counted one is counted again. Rebuilds must use the live projector's value to give its numbers",
  }),
  LIVE_VERSION_CHECK_MS: Type.Integer({
    minimum: 100,
    maximum: 60000,
    default: 1000,
    description:
      'how often the projector checks which read model version is live (after a rebuild)',
  }),
  MIGRATE_ON_START: Type.Boolean({
    default: true,
    description: 'run the read model migrations when the consumer starts',
  }),
};

export type ConsumerConfig = ReturnType<typeof loadConsumerConfig>;

export function loadConsumerConfig(env: Record<string, string | undefined>) {
  return loadConfig(consumerConfigFields, env);
}

/**
 * The dead-letter tools' configuration for `command`: the consumer's (loadConsumerConfig).
 * `redrive` reads the live read model's redrive ledger in Postgres and takes DATABASE_URL
 * only as given (or DATABASE_URL_FILE): the default, a Postgres at 127.0.0.1:5432, is the
 * services' fall-back for a local start, and may not be the database the projector writes
 * (npm start's has its own port). A ConfigError naming it, before anything connects.
 */
export function loadDlqConfig(
  env: Record<string, string | undefined>,
  command: string,
): ConsumerConfig {
  if (command === 'redrive' && !env.DATABASE_URL && !env.DATABASE_URL_FILE) {
    throw new ConfigError(
      "Invalid configuration: DATABASE_URL is not set, and redrive reads the live read model's redrive ledger in Postgres: set DATABASE_URL (or DATABASE_URL_FILE) to the database the projector writes (npm start prints its own)",
    );
  }
  return loadConsumerConfig(env);
}

/** What the one-shot setup (migrations, then topics) reads. */
export const setupConfigFields = {
  LOG_LEVEL: configFields.LOG_LEVEL,
  DATABASE_URL: configFields.DATABASE_URL,
  KAFKA_BROKERS: configFields.KAFKA_BROKERS,
  ...kafkaSecurityFields,
  KAFKA_CLIENT_ID: configFields.KAFKA_CLIENT_ID,
  EVENTS_TOPIC: configFields.EVENTS_TOPIC,
  EVENTS_TOPIC_PARTITIONS: configFields.EVENTS_TOPIC_PARTITIONS,
  EVENTS_TOPIC_REPLICATION: configFields.EVENTS_TOPIC_REPLICATION,
};

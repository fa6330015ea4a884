import { Type } from '@sinclair/typebox';
import {
  ConfigError,
  configFields,
  kafkaSecurityFields,
  loadConfig,
  registryConnectionFields,
  secret,
  tracingFields,
} from '@catchall/core';

export const producerConfigFields = {
  LOG_LEVEL: configFields.LOG_LEVEL,
  HOST: configFields.HOST,
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3000, description: 'ingest API port' }),
  SHUTDOWN_TIMEOUT_MS: configFields.SHUTDOWN_TIMEOUT_MS,
  WORKERS: configFields.WORKERS,
  KAFKA_BROKERS: configFields.KAFKA_BROKERS,
  DEPENDENCY_CHECK_INTERVAL_MS: configFields.DEPENDENCY_CHECK_INTERVAL_MS,
  DEPENDENCY_CHECK_TIMEOUT_MS: configFields.DEPENDENCY_CHECK_TIMEOUT_MS,
  ...kafkaSecurityFields,
  KAFKA_CLIENT_ID: configFields.KAFKA_CLIENT_ID,
  EVENTS_TOPIC: configFields.EVENTS_TOPIC,
  ...registryConnectionFields,
  SCHEMA_AUTO_REGISTER: Type.Boolean({
    default: true,
    description: 'register the event schema at start (turn off in production to only look it up)',
  }),
  API_TOKENS: secret(
    Type.String({
      default: '',
      description: 'comma-separated bearer tokens accepted by /events; empty turns auth off',
    }),
  ),
  RATE_LIMIT_PER_MINUTE: Type.Integer({
    minimum: 0,
    default: 0,
    description: 'requests per minute per client (token, else address) on /events; 0 is off',
  }),
  BATCH_MAX_EVENTS: Type.Integer({
    minimum: 1,
    default: 10000,
    description: 'events per POST /events at most (413 beyond)',
  }),
  BATCH_MAX_BYTES: Type.Integer({
    minimum: 1024,
    default: 5 * 1024 * 1024,
    description: 'body size of POST /events at most (413 beyond)',
  }),
  REQUEST_TIMEOUT_MS: configFields.REQUEST_TIMEOUT_MS,
  ...tracingFields('catchall-producer-api'),
  PRODUCE_LINGER_MS: Type.Integer({
    minimum: 0,
    maximum: 1000,
    default: 2,
    description:
      'how long requests of several events wait to share a Kafka transaction while a transactional producer is idle (single events do not wait)',
  }),
  PRODUCE_BATCH_MAX: Type.Integer({
    minimum: 1,
    default: 5000,
    description: 'records per Kafka transaction or idempotent produce request at most',
  }),
  PRODUCE_TRANSACTIONS: Type.Integer({
    minimum: 1,
    maximum: 64,
    default: 8,
    description:
      'Kafka transactions in flight at most, one transactional producer each (a producer starts its next only once the broker completed its last)',
  }),
  PRODUCE_IDEMPOTENT_PRODUCERS: Type.Integer({
    minimum: 0,
    maximum: 64,
    default: 4,
    description:
      'idempotent producers without transactions, one produce request in flight each, that send the requests of a single event (a PUT, a batch of one); 0 sends them in transactions too',
  }),
  PRODUCE_REQUEST_MAX_BYTES: Type.Integer({
    minimum: 4096,
    default: 1048576,
    description:
      "bytes of records per Kafka produce request at most (the Java client's max.request.size); the topic's max.message.bytes caps it",
  }),
  PRODUCE_QUEUE_MAX: Type.Integer({
    minimum: 1,
    default: 100000,
    description: 'records accepted but not yet acknowledged at most; beyond, 503',
  }),
  PRODUCE_ACK_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 10000,
    description: 'a request not acknowledged by Kafka within this time answers 503',
  }),
};

export type ProducerConfigFields = typeof producerConfigFields;
export type ProducerConfig = ReturnType<typeof loadProducerConfig>;

export function loadProducerConfig(env: Record<string, string | undefined>) {
  const config = loadConfig(producerConfigFields, env);
  // Each process would count a client's requests on its own: the limit would multiply.
  if (config.WORKERS > 1 && config.RATE_LIMIT_PER_MINUTE > 0) {
    throw new ConfigError(
      'Invalid configuration: RATE_LIMIT_PER_MINUTE needs WORKERS=1 (each worker would count on its own)',
    );
  }
  return config;
}

import envSchema from 'env-schema';
import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import { DEFAULT_CATCH_ALL_THRESHOLD } from '../domain/status';
import { DEFAULT_EVENTS_TOPIC } from '../domain/topics';
import { errorCatalogue } from '../domain/error-catalogue';

/**
 * Every environment variable a service may read, defined once with its default and its
 * meaning. Each service picks the ones it needs; the README's configuration table lists
 * the same names.
 */
export const configFields = {
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info', description: 'pino log level' },
  ),
  HOST: Type.String({ default: '127.0.0.1', description: 'address the HTTP server binds to' }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 10000,
    description: 'deadline for a graceful shutdown before the process exits anyway',
  }),
  REQUEST_TIMEOUT_MS: Type.Integer({
    minimum: 1000,
    default: 30000,
    description:
      'a request whose line, headers and body have not all arrived within this is answered 408 and its connection closed (slow clients)',
  }),
  WORKERS: Type.Integer({
    minimum: 1,
    maximum: 64,
    default: 1,
    description:
      'processes answering on the port (node:cluster); 1 in a container, where replicas scale instead',
  }),
  KAFKA_BROKERS: Type.String({
    default: '127.0.0.1:9092',
    description: 'comma-separated Kafka bootstrap brokers (the broker listener)',
  }),
  KAFKA_CLIENT_ID: Type.String({ default: 'catch-all', description: 'Kafka client id' }),
  EVENTS_TOPIC: Type.String({
    default: DEFAULT_EVENTS_TOPIC,
    minLength: 1,
    description: 'topic of domain events; its dead-letter topic is `<topic>.dlq`',
  }),
  EVENTS_TOPIC_PARTITIONS: Type.Integer({
    minimum: 1,
    default: 12,
    description:
      'partitions of the events topic when setup creates it (the consumers scale up to it)',
  }),
  EVENTS_TOPIC_REPLICATION: Type.Integer({
    minimum: 1,
    default: 1,
    description: 'replication factor of the topics when setup creates them (3 in production)',
  }),
  SCHEMA_REGISTRY_URL: Type.String({
    default: 'http://127.0.0.1:8081/apis/ccompat/v7',
    description: 'Confluent-compatible schema registry API',
  }),
  DATABASE_URL: Type.String({
    default: 'postgres://postgres:postgres@127.0.0.1:5432/catchall',
    description: 'Postgres connection string of the read model',
  }),
  PG_POOL_MAX: Type.Integer({ minimum: 1, default: 10, description: 'Postgres pool size' }),
  CATCH_ALL_THRESHOLD: Type.Integer({
    minimum: 0,
    default: DEFAULT_CATCH_ALL_THRESHOLD,
    description: 'a domain with more deliveries than this and no bounce is a catch-all',
  }),
};

/** A configuration variable is missing or wrong: the program does not start. */
export class ConfigError extends Error {
  readonly code = errorCatalogue.invalidConfig.code;
  readonly retriable = errorCatalogue.invalidConfig.retriable;
}

interface AjvError {
  instancePath: string;
  message?: string;
  params?: Record<string, unknown>;
}

function describe(error: AjvError, env: Record<string, string | undefined>): string {
  const missing = error.params?.missingProperty;
  const name =
    error.instancePath.replace(/^\//, '') || (typeof missing === 'string' ? missing : '');
  const got = env[name];
  return `${name} ${error.message ?? 'is invalid'}${got === undefined ? '' : ` (got "${got}")`}`;
}

/**
 * Reads and validates a service's configuration once, at start. A wrong value throws a
 * ConfigError that names each offending variable.
 */
export function loadConfig<T extends TProperties>(
  properties: T,
  env: Record<string, string | undefined>,
): Static<TObject<T>> {
  const schema = Type.Object(properties);
  try {
    return envSchema<Static<TObject<T>>>({ schema, data: env, dotenv: false });
  } catch (err) {
    const errors = (err as { errors?: AjvError[] }).errors;
    if (!errors) throw err;
    const details = errors.map((e) => describe(e, env)).join('; ');
    throw new ConfigError(`Invalid configuration: ${details}`);
  }
}

export function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

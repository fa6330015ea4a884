import { Type } from '@sinclair/typebox';
import { configFields, loadConfig, secret, tracingFields } from '@catchall/core';

export const queryConfigFields = {
  LOG_LEVEL: configFields.LOG_LEVEL,
  HOST: configFields.HOST,
  PORT: Type.Integer({ minimum: 0, maximum: 65535, default: 3001, description: 'query API port' }),
  SHUTDOWN_TIMEOUT_MS: configFields.SHUTDOWN_TIMEOUT_MS,
  REQUEST_TIMEOUT_MS: configFields.REQUEST_TIMEOUT_MS,
  WORKERS: configFields.WORKERS,
  DATABASE_URL: configFields.DATABASE_URL,
  EVENTS_TOPIC: configFields.EVENTS_TOPIC,
  PG_POOL_MAX: configFields.PG_POOL_MAX,
  DEPENDENCY_CHECK_INTERVAL_MS: configFields.DEPENDENCY_CHECK_INTERVAL_MS,
  DEPENDENCY_CHECK_TIMEOUT_MS: configFields.DEPENDENCY_CHECK_TIMEOUT_MS,
  ...tracingFields('catchall-query-api'),
  QUERY_API_TOKENS: secret(
    Type.String({
      default: '',
      description:
        'comma-separated bearer tokens accepted by the query routes (/domains...); empty turns auth off. Not the ingest API_TOKENS: a token that may publish is not one that may read',
    }),
  ),
  PG_IDLE_TIMEOUT_MS: Type.Integer({
    minimum: 0,
    default: 300000,
    description:
      'how long an unused Postgres connection stays open (0: until the pool ends); a kept backend keeps its warm caches',
  }),
  PG_QUERY_TIMEOUT_MS: Type.Integer({
    minimum: 100,
    default: 5000,
    description:
      'a Postgres query not answered within this fails, and the request is answered 503 CATCHALL_UNAVAILABLE (a database that stopped answering)',
  }),
  LOOKUP_MAX_DOMAINS: Type.Integer({
    minimum: 1,
    default: 1000,
    description: 'domains per POST /domains/lookup at most (413 beyond)',
  }),
  LIST_MAX_LIMIT: Type.Integer({
    minimum: 1,
    maximum: 10000,
    default: 1000,
    description: 'domains per page of GET /domains at most (the limit parameter)',
  }),
  CONSISTENCY_WAIT_MS: Type.Integer({
    minimum: 0,
    maximum: 60000,
    default: 2000,
    description:
      'a read with a Consistency-Token waits at most this long for the read model to apply its records, then answers 503 CATCHALL_CONSISTENCY_TIMEOUT',
  }),
  CACHE_MAX_AGE_S: Type.Integer({
    minimum: 0,
    maximum: 60,
    default: 1,
    description:
      'Cache-Control max-age of answers, within the projector staleness bound; 0 sends no-cache',
  }),
};

export type QueryConfig = ReturnType<typeof loadQueryConfig>;

export function loadQueryConfig(env: Record<string, string | undefined>) {
  return loadConfig(queryConfigFields, env);
}

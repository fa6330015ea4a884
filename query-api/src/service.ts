import type { FastifyInstance } from 'fastify';
import {
  createLifecycle,
  createMetricsRegistry,
  createPool,
  createTracing,
  startPostgresCheck,
  type Lifecycle,
  type Logger,
} from '@catchall/core';
import { buildApp } from './app';
import type { QueryConfig } from './config';
import { createReadModel, READ_MODEL_CHECK_STATEMENT } from './read-model';

export interface QueryService {
  app: FastifyInstance;
  lifecycle: Lifecycle;
}

/**
 * Opens the Postgres pool, starts the background Postgres check (readiness `postgres`) and
 * wires the query API; does not listen. Resolves once the check has a first outcome (passed
 * or failed: an unreachable Postgres does not stop the start). Each worker of serveInWorkers
 * calls it, and so runs a check of its own on a connection of its own.
 */
export async function startQueryService(
  config: QueryConfig,
  logger: Logger,
): Promise<QueryService> {
  const lifecycle = createLifecycle({ logger, timeoutMs: config.SHUTDOWN_TIMEOUT_MS });
  const tracing = createTracing({
    endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT,
    serviceName: config.OTEL_SERVICE_NAME,
    logger,
  });
  // Closed last: the spans of the requests answered while closing are sent too.
  lifecycle.onClose('tracing', () => tracing.shutdown());
  const pool = createPool({
    connectionString: config.DATABASE_URL,
    max: config.PG_POOL_MAX,
    idleTimeoutMs: config.PG_IDLE_TIMEOUT_MS,
    queryTimeoutMs: config.PG_QUERY_TIMEOUT_MS,
    logger,
    applicationName: 'catchall-query-api',
  });
  lifecycle.onClose('postgres pool', () => pool.end());
  const postgresCheck = await startPostgresCheck({
    config,
    applicationName: 'catchall-query-api-check',
    statement: READ_MODEL_CHECK_STATEMENT,
    lifecycle,
    logger,
  });
  const app = buildApp({
    logger,
    registry: createMetricsRegistry('query-api'),
    topic: config.EVENTS_TOPIC,
    consistencyWaitMs: config.CONSISTENCY_WAIT_MS,
    readModel: createReadModel({ pool }),
    postgresReady: () => postgresCheck.check(),
    lookupMaxDomains: config.LOOKUP_MAX_DOMAINS,
    listMaxLimit: config.LIST_MAX_LIMIT,
    cacheMaxAgeS: config.CACHE_MAX_AGE_S,
    tokens: config.QUERY_API_TOKENS,
    requestTimeoutMs: config.REQUEST_TIMEOUT_MS,
    tracing,
  });
  lifecycle.onClose('http server', () => app.close());
  return { app, lifecycle };
}

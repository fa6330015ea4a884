import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import {
  createServiceApp,
  type ReadinessCheck,
  requireBearerTokens,
  splitList,
  type Logger,
  type Tracing,
} from '@catchall/core';
import { conditionalGets } from './conditional-get';
import { createConsistencyWatcher } from './consistency-watcher';
import { createQueryMetrics } from './metrics';
import type { ReadModel } from './read-model';
import { registerDomainRoutes } from './routes/domains';

export interface QueryAppOptions {
  logger: Logger;
  /** A span per request; absent: none. */
  tracing?: Tracing;
  registry: Registry;
  readModel: ReadModel;
  /**
   * The readiness check `postgres`: the last outcome of the background Postgres check
   * (startPostgresCheck), so that `/readyz` and scrapes never wait on Postgres.
   */
  postgresReady: ReadinessCheck;
  lookupMaxDomains: number;
  listMaxLimit: number;
  cacheMaxAgeS: number;
  /**
   * Accepted bearer tokens, comma-separated (QUERY_API_TOKENS); empty turns authentication
   * off. Health, readiness, metrics and the OpenAPI document stay open.
   */
  tokens?: string;
  /** A request not received completely within this many milliseconds is answered 408. */
  requestTimeoutMs?: number;
  /** The events topic the read model follows: the one consistency tokens must name. */
  topic: string;
  /** How long a read with a Consistency-Token waits at most (CONSISTENCY_WAIT_MS). */
  consistencyWaitMs: number;
  /**
   * Milliseconds between two reads of the positions while reads wait for a token; default
   * 10, a fraction of the projector's flush interval. Not a setting.
   */
  consistencyPollMs?: number;
}

/** The query API's routes over the shared service shell; does not listen. */
export function buildApp(options: QueryAppOptions): FastifyInstance {
  const tokens = splitList(options.tokens ?? '');
  const app = createServiceApp({
    logger: options.logger,
    tracing: options.tracing,
    metrics: options.registry,
    openapi: {
      title: 'Catch-all query API',
      description: 'Answers whether a mail domain is a catch-all.',
      version: '0.1.0',
      bearerTokens: tokens.length > 0,
    },
    readiness: { postgres: options.postgresReady },
    requestTimeoutMs: options.requestTimeoutMs,
  });
  const watcher = createConsistencyWatcher({
    positions: () => options.readModel.livePositions(options.topic),
    waitMs: options.consistencyWaitMs,
    pollIntervalMs: options.consistencyPollMs ?? 10,
    metrics: createQueryMetrics(options.registry),
  });
  // Before the server waits for the requests in flight: those waiting for a token are
  // answered 503 at once rather than holding the shutdown for up to CONSISTENCY_WAIT_MS.
  app.addHook('preClose', (done) => {
    watcher.close();
    done();
  });
  void app.register(async (api) => {
    await requireBearerTokens(api, tokens);
    // A weak ETag on GET answers: If-None-Match with an unchanged answer gets 304.
    conditionalGets(api);
    registerDomainRoutes(api, { ...options, watcher, authenticated: tokens.length > 0 });
  });
  return app;
}

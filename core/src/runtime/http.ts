/// <reference types="@fastify/swagger" preserve="true" />
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
} from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { errors } from './errors';

export type ReadinessCheck = () => Promise<void>;

export interface ServiceAppOptions {
  logger: Logger;
  metrics: Registry;
  /** Named dependency checks; /readyz answers 503 naming the ones that fail. */
  readiness: Record<string, ReadinessCheck>;
  /** Seconds a client should wait before retrying a 503. */
  retryAfterSeconds?: number;
  /** Describes the API: served at /openapi.json and browsable at /docs. */
  openapi?: { title: string; description: string; version: string };
  fastify?: Omit<FastifyServerOptions, 'logger' | 'loggerInstance'>;
}

async function checkAll(
  checks: Record<string, ReadinessCheck>,
): Promise<Record<string, { ok: boolean; error?: string }>> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      try {
        await check();
        return [name, { ok: true }] as const;
      } catch (err) {
        return [name, { ok: false, error: (err as Error).message }] as const;
      }
    }),
  );
  return Object.fromEntries(entries);
}

/**
 * The HTTP shell every service shares: JSON errors in fastify's shape, /healthz (the
 * process is alive), /readyz (its dependencies answer) and /metrics (Prometheus).
 */
export function createServiceApp(options: ServiceAppOptions): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    // One line per request is too much at the rates this serves; metrics count requests.
    logController: new LogController({ disableRequestLogging: true }),
    // Unknown fields are an error the client should hear about, not something to drop.
    ajv: { customOptions: { removeAdditional: false } },
    ...options.fastify,
  });
  const retryAfter = String(options.retryAfterSeconds ?? 1);

  app.setNotFoundHandler((request, reply) => {
    const err = errors.routeNotFound(request.method, request.url.split('?')[0]);
    void reply.code(404).send(err);
  });

  app.setErrorHandler(
    (err: Error & { statusCode?: number; retriable?: boolean }, request, reply) => {
      const statusCode = err.statusCode ?? 500;
      if (statusCode >= 500) {
        request.log.error({ err, url: request.url }, 'request failed');
      }
      if (statusCode === 503) void reply.header('retry-after', retryAfter);
      void reply.code(statusCode).send(err);
    },
  );

  if (options.openapi) {
    // Route schemas are the single source of validation, serialization and this document.
    void app.register(swagger, { openapi: { info: options.openapi } });
    void app.register(swaggerUi, { routePrefix: '/docs' });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  }

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const checks = await checkAll(options.readiness);
    const ready = Object.values(checks).every((c) => c.ok);
    if (!ready) void reply.code(503).header('retry-after', retryAfter);
    return { status: ready ? 'ready' : 'not ready', checks };
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    void reply.header('content-type', options.metrics.contentType);
    return options.metrics.metrics();
  });

  return app;
}

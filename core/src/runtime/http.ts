/// <reference types="@fastify/swagger" preserve="true" />
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { MAX_ENCODED_DOMAIN_LENGTH } from '../domain/normalize-domain';
import { errorCatalogue } from '../domain/error-catalogue';
import { errors } from './errors';
import { acceptJsonBodies } from './http-body';
import { bearerSecurityScheme } from './bearer-tokens';
import { configFields } from './config';
import {
  answerExpectations,
  clientErrorHandler,
  errorBody,
  frameworkErrors,
  toCatalogueError,
  trackAllowedMethods,
} from './http-errors';
import { answerConnect, nodeServerOptions, requireHost } from './http-server';
import { lazyChildLoggerFactory } from './lazy-child-logger';
import { strictValidatorCompiler } from './validation';
import type { Tracing } from './tracing';
import { serviceMetrics } from './workers';

/** What the error handler reads: fastify's errors, ours, and a batch's per-item errors. */
interface ErrorWithDetails extends Error {
  statusCode?: number;
  code?: string;
  errors?: unknown[];
  validation?: unknown;
}

export type ReadinessCheck = () => Promise<void>;

export interface ServiceAppOptions {
  logger: Logger;
  /** The service's metrics; in a worker of serveInWorkers, /metrics adds up all workers'. */
  metrics: Registry;
  /**
   * Throws when the process can no longer do its job whatever its dependencies do (the
   * projector stopped for good): /healthz then answers 503 with the reason, and an
   * orchestrator restarts the process. Absent: alive while it answers.
   */
  liveness?: () => void;
  /** Named dependency checks; /readyz answers 503 naming the ones that fail. */
  readiness: Record<string, ReadinessCheck>;
  /** Seconds a client should wait before retrying a 503. */
  retryAfterSeconds?: number;
  /**
   * Milliseconds within which a request's line, headers and body must all arrive; later it
   * is answered 408 CATCHALL_REQUEST_TIMEOUT and its connection closed. Default: the
   * REQUEST_TIMEOUT_MS setting's.
   */
  requestTimeoutMs?: number;
  /**
   * Describes the API: served at /openapi.json and browsable at /docs. `bearerTokens`: the
   * document declares the bearer token scheme its protected routes name (bearerSecurity).
   */
  openapi?: { title: string; description: string; version: string; bearerTokens?: boolean };
  fastify?: Omit<FastifyServerOptions, 'logger' | 'loggerInstance'>;
  /** A span per request (see Tracing.instrument); absent or off: none. */
  tracing?: Tracing;
}

/**
 * Why a readiness check fails: something the service needs does not answer or work yet.
 * Its message is the reason `/readyz` gives for the check (503).
 */
export class NotReady extends Error {
  readonly code = errorCatalogue.notReady.code;
  readonly retriable = errorCatalogue.notReady.retriable;
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
  return Object.fromEntries(entries) as Record<string, { ok: boolean; error?: string }>;
}

/**
 * `catchall_readiness{check}`: 1 while a readiness check passes, 0 while it fails, each
 * check run at scrape time as /readyz runs it (a check of Kafka, the registry or Postgres
 * reads the last outcome of its background probe, createDependencyCheck), so that an alert sees a
 * dependency that stopped answering (a Postgres, Kafka or registry unreachable). With
 * workers, a check counts as passing only when it passes in every worker (the minimum).
 */
function observeReadiness(registry: Registry, checks: Record<string, ReadinessCheck>): void {
  new Gauge({
    name: 'catchall_readiness',
    help: '1 while a readiness check (a dependency, or the partitions) passes, 0 while it fails, checked at scrape time as /readyz checks it',
    labelNames: ['check'],
    registers: [registry],
    aggregator: 'min',
    async collect() {
      for (const [check, result] of Object.entries(await checkAll(checks))) {
        this.set({ check }, result.ok ? 1 : 0);
      }
    },
  });
}

/** One series of the HTTP request metrics: its labels, requests since the last scrape, its histogram. */
interface Series {
  labels: Record<string, string>;
  answered: number;
  time: Histogram.Internal<string>;
}

/**
 * Requests by route, status and, for an error answer, its catalogue code; and their duration
 * by route and status: the RED metrics of every API. The code tells apart answers of one
 * status that mean different things to an operator: a 503 CATCHALL_CONSISTENCY_TIMEOUT
 * answers a client's token naming records not applied yet (perhaps never written), a 503
 * CATCHALL_UNAVAILABLE a dependency that is gone. Answers without a catalogue code (successes,
 * /healthz and /readyz) have none (`code=""`, which Prometheus drops). The histogram has no
 * code: it would multiply its buckets for no question a latency panel asks.
 */
function observeRequests(app: FastifyInstance, registry: Registry): void {
  const labelNames = ['method', 'route', 'status'];
  /** Each series, made once; its requests since the last scrape, added to the counter then. */
  const series: Series[] = [];
  const requests = new Counter({
    name: 'catchall_http_requests_total',
    help: 'HTTP requests answered, by route, status code and, for an error answer, its CATCHALL_ code',
    labelNames: [...labelNames, 'code'],
    registers: [registry],
    // Counted in a number per series and added here, at each scrape: prom-client hashes a
    // series' labels on every increment, a cost per request that this saves.
    collect() {
      for (const s of series) {
        if (s.answered === 0) continue;
        requests.inc(s.labels, s.answered);
        s.answered = 0;
      }
    },
  });
  const duration = new Histogram({
    name: 'catchall_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route and status code',
    labelNames,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  // The code of each error answer, read once from its serialized body (error answers only:
  // a success costs one comparison), for these metrics and answerCodeOf.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (reply.statusCode >= 400) {
      const code = errorCodeOf(payload);
      if (code !== undefined) answerCodes.set(request, code);
    }
    done(null, payload);
  });
  /**
   * The series of each route, by its options' `config` (one object per route, also the 404
   * handler's), then by answer: the status alone for an answer without a code to a request of
   * the route's one method, else `<method> <status> <code>` (a route of several methods, an
   * error code).
   */
  const routes = new WeakMap<object, Map<number | string, Series>>();
  app.addHook('onResponse', (request, reply, done) => {
    const { config, url } = request.routeOptions;
    let byAnswer = routes.get(config);
    if (byAnswer === undefined) {
      byAnswer = new Map();
      routes.set(config, byAnswer);
    }
    const { method } = request;
    const status = reply.statusCode;
    const answered = status >= 400 ? answerCodes.get(request) : undefined;
    const code = answered?.startsWith('CATCHALL_') ? answered : '';
    const key =
      code === '' && method === (config as { method?: unknown }).method
        ? status
        : `${method} ${status} ${code}`;
    let s = byAnswer.get(key);
    if (!s) {
      // The route pattern, not the URL: one series per route whatever the domains are.
      const labels = { method, route: url ?? 'unmatched', status: String(status) };
      s = { labels: { ...labels, code }, answered: 0, time: duration.labels(labels) };
      series.push(s);
      byAnswer.set(key, s);
    }
    s.answered += 1;
    s.time.observe(reply.elapsedTime / 1000);
    done();
  });
}

/** The `code` of each error answer with one, by request (see observeRequests). */
const answerCodes = new WeakMap<FastifyRequest, string>();

/**
 * The `code` of the error answer to `request` (fastify's body shape: `{statusCode, code,
 * error, message}`), read by the shell's own onSend hook from the serialized body: available
 * to onSend hooks registered after createServiceApp and later. Undefined for a success, or
 * a body that is not JSON text or has no string `code`.
 */
export function answerCodeOf(request: FastifyRequest): string | undefined {
  return answerCodes.get(request);
}

/** The string `code` of a serialized JSON body, or undefined (not a string, not JSON, none). */
function errorCodeOf(payload: unknown): string | undefined {
  if (typeof payload !== 'string') return undefined;
  try {
    const { code } = JSON.parse(payload) as { code?: unknown };
    return typeof code === 'string' ? code : undefined;
  } catch {
    // Not JSON: no code.
    return undefined;
  }
}

interface OpenApiDocument {
  paths?: Record<string, Record<string, Record<string, unknown>>>;
}

/**
 * @fastify/swagger marks every request body required; a route whose schema says
 * `'x-optional-body': true` takes none (its schema allows null), and its document says so.
 */
function markOptionalBodies(document: OpenApiDocument): OpenApiDocument {
  for (const item of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(item)) {
      if (operation['x-optional-body'] !== true) continue;
      delete operation['x-optional-body'];
      const body = operation.requestBody as { required?: boolean } | undefined;
      if (body) body.required = false;
    }
  }
  return document;
}

/**
 * The HTTP shell every service shares: JSON errors in fastify's shape with a code from the
 * catalogue (also for what Node and fastify answer before a route runs), strict JSON
 * bodies (optionally compressed), validation without type coercion, 405 with `Allow`,
 * /healthz (the process is alive), /readyz (its dependencies answer) and /metrics.
 */
export function createServiceApp(options: ServiceAppOptions): FastifyInstance {
  const app: FastifyInstance = Fastify({
    // Needed although lint calls it unnecessary: without it fastify's overloads take pino's
    // Logger as the instance's logger type, which FastifyInstance does not accept (tsc).
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    loggerInstance: options.logger as FastifyBaseLogger,
    // One line per request is too much at the rates this serves; metrics count requests.
    logController: new LogController({ disableRequestLogging: true }),
    // A request's pino child is made only if the request logs (see LazyChildLogger).
    childLoggerFactory: lazyChildLoggerFactory,
    // A domain in a path may be percent-encoded Unicode: one limit for every route.
    routerOptions: { maxParamLength: MAX_ENCODED_DOMAIN_LENGTH },
    clientErrorHandler,
    frameworkErrors,
    ...nodeServerOptions(
      options.requestTimeoutMs ?? (configFields.REQUEST_TIMEOUT_MS.default as number),
    ),
    ...options.fastify,
  });
  // First, so that the span covers every hook and answer, refusals included.
  options.tracing?.instrument(app);
  const retryAfter = String(options.retryAfterSeconds ?? 1);
  app.setValidatorCompiler(strictValidatorCompiler());
  acceptJsonBodies(app);
  answerExpectations(app);
  requireHost(app);
  const allowedMethods = trackAllowedMethods(app);
  answerConnect(app, allowedMethods);

  observeRequests(app, options.metrics);
  observeReadiness(options.metrics, options.readiness);

  const notFound = (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0]!;
    const allowed = allowedMethods(path);
    if (allowed.length > 0) {
      const err = errors.methodNotAllowed(request.method, path);
      void reply.code(405).header('allow', allowed.join(', ')).send(errorBody(err));
      return;
    }
    void reply.code(404).send(errorBody(errors.routeNotFound(request.method, path)));
  };
  app.setNotFoundHandler(notFound);

  app.setErrorHandler((raw: ErrorWithDetails, request, reply) => {
    // No route: the answer is 404 or 405 whatever the body (which fastify reads first).
    if (request.is404) {
      notFound(request, reply);
      return;
    }
    const err = toCatalogueError(raw, request);
    const { statusCode } = err;
    // An unexpected failure is logged in full but not described to the client.
    if (statusCode >= 500) request.log.error({ err: raw, url: request.url }, 'request failed');
    if (statusCode === 503) void reply.header('retry-after', retryAfter);
    void reply
      .code(statusCode)
      .send(errorBody(err, Array.isArray(raw.errors) ? { errors: raw.errors } : {}));
  });

  if (options.openapi) {
    // Route schemas are the single source of validation, serialization and this document.
    const { bearerTokens, ...info } = options.openapi;
    void app.register(swagger, {
      openapi: {
        info,
        ...(bearerTokens ? { components: { securitySchemes: bearerSecurityScheme } } : {}),
      },
      transformObject: (documents) =>
        'openapiObject' in documents
          ? markOptionalBodies(documents.openapiObject as OpenApiDocument)
          : documents.swaggerObject,
    });
    void app.register(swaggerUi, { routePrefix: '/docs' });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  }

  app.get('/healthz', { schema: { hide: true } }, async (_request, reply) => {
    try {
      options.liveness?.();
    } catch (err) {
      void reply.code(503).header('retry-after', retryAfter);
      return { status: 'failed', error: (err as Error).message };
    }
    return { status: 'ok' };
  });

  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const checks = await checkAll(options.readiness);
    const ready = Object.values(checks).every((c) => c.ok);
    if (!ready) void reply.code(503).header('retry-after', retryAfter);
    return { status: ready ? 'ready' : 'not ready', checks };
  });

  const metricsText = serviceMetrics(options.metrics);
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    void reply.header('content-type', options.metrics.contentType);
    return metricsText();
  });

  return app;
}

declare module 'fastify' {
  interface FastifySchema {
    /** The request body is optional (its schema takes null); see markOptionalBodies. */
    'x-optional-body'?: boolean;
  }
}

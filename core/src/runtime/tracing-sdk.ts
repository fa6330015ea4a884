// Loaded only when tracing is on (createTracing's dynamic import): with tracing off, no
// OpenTelemetry module is ever required.
import {
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  diag,
  SpanStatusCode,
  isSpanContextValid,
  trace,
  type Attributes,
  type Link,
  type Span,
  type TextMapGetter,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import {
  defaultResource,
  detectResources,
  envDetector,
  resourceFromAttributes,
} from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVICE_NAME,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
} from '@opentelemetry/semantic-conventions';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IHeaders } from 'kafkajs';
import type { CollectedLinks, FlushLinks, Tracing, TracingOptions } from './tracing';

const propagator = new W3CTraceContextPropagator();

/**
 * The `error.type` of a failed operation: the most specific low-cardinality identifier of
 * the error (OpenTelemetry semantic conventions, "error.type"). Its `code` when it has a
 * non-empty string one (ours are `CATCHALL_*` from the error catalogue, a PostgresFailure's
 * among them; pg's DatabaseError has the SQLSTATE, node's system errors `ECONNREFUSED` and
 * the like); else the name of its class (`PositionConflict`, `KafkaJSProtocolError`), its
 * `name` when the class has none; `_OTHER`, the conventions' fallback, for a thrown value
 * that is not an Error.
 */
export function errorType(err: unknown): string {
  if (!(err instanceof Error)) return '_OTHER';
  const { code } = err as { code?: unknown };
  if (typeof code === 'string' && code !== '') return code;
  // A subclass that does not set `name` keeps Error's: its constructor names it.
  const className = (err.constructor as { name?: unknown } | undefined)?.name;
  if (typeof className === 'string' && className !== '') return className;
  return err.name || 'Error';
}

/** Probes and scrapes: answered every few seconds, they would bury the requests that matter. */
const UNTRACED_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/** Incoming HTTP headers: node lower-cases names; a repeated header is an array. */
const httpGetter: TextMapGetter<FastifyRequest['headers']> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/** Kafka record headers: Buffers (as kafkajs hands them over) or strings. */
const kafkaGetter: TextMapGetter<IHeaders> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    const first = Array.isArray(value) ? value[0] : value;
    return first === undefined ? undefined : first.toString();
  },
};

/**
 * Flush links: distinct record contexts (by trace and span id) up to `limit`, in arrival
 * order; past it, records with another context are counted as dropped. A record without a
 * `traceparent`, or with one that W3C Trace Context does not accept, adds nothing.
 */
function createFlushLinks(limit: number): FlushLinks {
  let kept = new Map<string, Link>();
  let dropped = 0;
  return {
    add(headers) {
      if (headers === undefined || headers.traceparent === undefined) return;
      const context = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, headers, kafkaGetter));
      if (context === undefined || !isSpanContextValid(context)) return;
      const key = `${context.traceId}-${context.spanId}`;
      if (kept.has(key)) return;
      if (kept.size >= limit) dropped += 1;
      else kept.set(key, { context });
    },
    take() {
      const taken: CollectedLinks = { links: [...kept.values()], dropped };
      kept = new Map();
      dropped = 0;
      return taken;
    },
  };
}

/** The span name of an HTTP server span: `{method} {route}`, the method alone without a route. */
function spanName(method: string, route: string | undefined): string {
  return route === undefined ? method : `${method} ${route}`;
}

/**
 * Tracing on (see createTracing): spans go through a batch span processor to an OTLP/HTTP
 * (protobuf) exporter at `<endpoint>/v1/traces`; context is propagated with W3C Trace
 * Context only, explicitly (no global provider, propagator or context manager is
 * registered: nothing else in the process is traced by accident). `exporter` (tests): spans
 * go to it, one by one, instead.
 */
export function createSdkTracing(
  options: Required<TracingOptions>,
  exporter?: SpanExporter,
): Tracing {
  const provider = new BasicTracerProvider({
    // OTEL_SERVICE_NAME (our setting, its default per service) wins over
    // OTEL_RESOURCE_ATTRIBUTES's service.name, as the specification says.
    resource: defaultResource()
      .merge(detectResources({ detectors: [envDetector] }))
      .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName })),
    spanLimits: { linkCountLimit: options.linkCountLimit },
    spanProcessors: [
      exporter
        ? new SimpleSpanProcessor(exporter)
        : new BatchSpanProcessor(
            new OTLPTraceExporter({ url: `${options.endpoint.replace(/\/+$/, '')}/v1/traces` }),
          ),
    ],
  });
  const tracer = provider.getTracer('catch-all');
  // The SDK tells of failed exports through its diagnostic logger, silent unless one is set:
  // its warnings and errors go to the service's log (process-wide, as diag is).
  const { logger } = options;
  diag.setLogger(
    {
      error: (message, ...args) => logger.warn({ args }, `opentelemetry: ${message}`),
      warn: (message, ...args) => logger.warn({ args }, `opentelemetry: ${message}`),
      info: () => undefined,
      debug: () => undefined,
      verbose: () => undefined,
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
  logger.info(
    { endpoint: options.endpoint, serviceName: options.serviceName },
    'tracing on: spans exported over OTLP/HTTP',
  );
  const spans = new WeakMap<FastifyRequest, Span>();

  function endRequestSpan(request: FastifyRequest, status: number | undefined, error?: string) {
    const span = spans.get(request);
    if (!span) return;
    spans.delete(request);
    const attributes: Attributes = {};
    if (status !== undefined) attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = status;
    // Semantic conventions: a server span is an error for 5xx answers only.
    const errorType = error ?? (status !== undefined && status >= 500 ? String(status) : undefined);
    if (errorType !== undefined) {
      attributes[ATTR_ERROR_TYPE] = errorType;
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.setAttributes(attributes);
    span.end();
  }

  return {
    enabled: true,
    instrument(app: FastifyInstance) {
      app.addHook('onRequest', (request, _reply, done) => {
        const parent = propagator.extract(ROOT_CONTEXT, request.headers, httpGetter);
        const route = request.routeOptions.url;
        if (route !== undefined && UNTRACED_ROUTES.has(route)) {
          done();
          return;
        }
        const attributes: Attributes = {
          [ATTR_HTTP_REQUEST_METHOD]: request.method,
          [ATTR_URL_PATH]: request.url.split('?')[0],
          [ATTR_URL_SCHEME]: request.protocol,
        };
        if (route !== undefined) attributes[ATTR_HTTP_ROUTE] = route;
        spans.set(
          request,
          tracer.startSpan(
            spanName(request.method, route),
            { kind: SpanKind.SERVER, attributes },
            parent,
          ),
        );
        done();
      });
      app.addHook('onResponse', (request, reply, done) => {
        endRequestSpan(request, reply.statusCode);
        done();
      });
      app.addHook('onRequestAbort', (request, done) => {
        endRequestSpan(request, undefined, 'aborted');
        done();
      });
    },
    recordHeaders(request) {
      const span = spans.get(request);
      if (!span) return undefined;
      const carrier: Record<string, string> = {};
      propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, {
        set: (c: Record<string, string>, key: string, value: string) => {
          c[key] = value;
        },
      });
      return carrier;
    },
    flushLinks: () => createFlushLinks(options.linkCountLimit),
    async inFlushSpan(attributes, collected, write) {
      const span = tracer.startSpan('projector flush', {
        kind: SpanKind.CONSUMER,
        links: collected.links as Link[],
        attributes: {
          'messaging.system': 'kafka',
          'messaging.operation.type': 'process',
          'messaging.destination.name': attributes.topic,
          'messaging.destination.partition.id': String(attributes.partition),
          'catchall.flush.domains': attributes.domains,
          'catchall.flush.tries': attributes.tries,
          'catchall.flush.next_offset': attributes.nextOffset,
          'catchall.flush.links': collected.links.length,
          'catchall.flush.links_dropped': collected.dropped,
        },
      });
      try {
        return await write();
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.setAttribute(ATTR_ERROR_TYPE, errorType(err));
        throw err;
      } finally {
        span.end();
      }
    },
    async shutdown() {
      await provider.shutdown();
    },
  };
}

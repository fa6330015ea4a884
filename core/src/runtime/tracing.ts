import { Type } from '@sinclair/typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IHeaders } from 'kafkajs';
import type { Logger } from './logger';

/**
 * The tracing settings of a service: the OpenTelemetry variables' standard names, read with
 * the rest of its configuration. `serviceName` is the service's default `service.name`.
 */
export function tracingFields(serviceName: string) {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: Type.String({
      default: '',
      pattern: '^(https?://[^\\s]+)?$',
      description:
        'OTLP/HTTP (protobuf) receiver that traces are sent to, as `http(s)://host:port` (spans go to `<endpoint>/v1/traces`); empty turns tracing off, at no cost',
    }),
    OTEL_SERVICE_NAME: Type.String({
      default: serviceName,
      minLength: 1,
      description: 'the `service.name` of this service’s spans',
    }),
  };
}

/** The span links of a flush: the trace contexts of the records it applied. */
export interface FlushLinks {
  /** Adds the trace context a record's headers carry (`traceparent`, `tracestate`), if any. */
  add(headers: IHeaders | undefined): void;
  /** Distinct contexts collected since the last take, then forgets them. */
  take(): CollectedLinks;
}

/**
 * What a flush span links to: at most the link limit's distinct contexts, in the order the
 * records came, and how many records' contexts were left out past it (a context equal to a
 * kept one is never counted there).
 */
export interface CollectedLinks {
  /** Opaque to the caller: the tracing implementation's links. */
  readonly links: readonly unknown[];
  readonly dropped: number;
}

/** What a flush span says of its Postgres transaction. */
export interface FlushSpanAttributes {
  topic: string;
  partition: number;
  /** Domains whose counts the transaction may change (its events', tries' and copies'). */
  domains: number;
  /** Records (events with client-chosen ids) checked against the dedupe window. */
  tries: number;
  /** The position the transaction stores: the next offset to apply. */
  nextOffset: number;
}

/**
 * Tracing as the services use it. Off (no endpoint) it is a set of no-ops that load no
 * OpenTelemetry code and add no header; on, see tracing-sdk.ts.
 */
export interface Tracing {
  readonly enabled: boolean;
  /** A span per HTTP request of `app` (continuing an incoming `traceparent`). */
  instrument(app: FastifyInstance): void;
  /**
   * The W3C trace-context headers (`traceparent`, and `tracestate` when there is one) of
   * the request's span, for the Kafka records the request writes; undefined when off.
   */
  recordHeaders(request: FastifyRequest): Record<string, string> | undefined;
  /** A collector of the links of one partition's next flush. */
  flushLinks(): FlushLinks;
  /**
   * Runs `write` (one Postgres transaction) inside a flush span linked to `links`; the
   * span records a failure and rethrows it.
   */
  inFlushSpan<T>(
    attributes: FlushSpanAttributes,
    links: CollectedLinks,
    write: () => Promise<T>,
  ): Promise<T>;
  /** Sends the spans still buffered and stops the exporter. */
  shutdown(): Promise<void>;
}

const NO_LINKS: CollectedLinks = { links: [], dropped: 0 };
const noLinks: FlushLinks = { add: () => undefined, take: () => NO_LINKS };

/** Tracing off: nothing is recorded, propagated or loaded. */
export const tracingOff: Tracing = {
  enabled: false,
  instrument: () => undefined,
  recordHeaders: () => undefined,
  flushLinks: () => noLinks,
  inFlushSpan: (_attributes, _links, write) => write(),
  shutdown: async () => undefined,
};

export interface TracingOptions {
  /** OTEL_EXPORTER_OTLP_ENDPOINT: empty turns tracing off. */
  endpoint: string;
  /** OTEL_SERVICE_NAME. */
  serviceName: string;
  /**
   * Links per span at most (OTEL_SPAN_LINK_COUNT_LIMIT, the SDK's default 128): the flush
   * span links to the first this many distinct record contexts.
   */
  linkCountLimit?: number;
  logger: Logger;
}

/**
 * The service's tracing: tracingOff when `endpoint` is empty; otherwise the OpenTelemetry
 * SDK, loaded now (and only now), exporting over OTLP/HTTP with a batch span processor. The
 * SDK reads the other standard variables itself (OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT,
 * OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER and _ARG, OTEL_BSP_*, span limits).
 */
export function createTracing(options: TracingOptions): Tracing {
  if (options.endpoint === '') return tracingOff;
  // Required here, not imported at the top: with tracing off no OpenTelemetry module loads.
  // (tsc would keep an `import()` as an ES import, which the CommonJS test transform cannot
  // resolve to the TypeScript file.)
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { createSdkTracing } = require('./tracing-sdk') as typeof import('./tracing-sdk');
  return createSdkTracing({ ...options, linkCountLimit: options.linkCountLimit ?? 128 });
}

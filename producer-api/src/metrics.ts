import { EVENT_TYPES, codesAnsweredBy } from '@catchall/core';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The `reason` values of `catchall_events_rejected_total` exported from the start: every code
 * the ingest routes answer with, as the error catalogue marks them (`answeredBy`), so that a
 * code added for the ingest API adds its series. Another code (or `HTTP_<status>` for an
 * answer without one) still gets its series when first counted.
 */
export const INGEST_REFUSAL_CODES = codesAnsweredBy('ingest');

/**
 * Every metric the ingest API exposes, defined once. The labelled counters are exported at 0
 * for their known label values (each event type, each refusal code) from the start: a series
 * that first appears at 1 is no increase to Prometheus's rate(), so the first refusals would
 * go unseen, and a fresh system's dashboard panels would show no data.
 */
export function createProducerMetrics(registry: Registry) {
  const registers = [registry];
  /** Reads the records queued (the publisher's count); none until one is named. */
  let queued: () => number = () => 0;
  const metrics = {
    eventsAccepted: new Counter({
      name: 'catchall_events_accepted_total',
      help: 'Events acknowledged by Kafka and answered 2xx',
      labelNames: ['type'],
      registers,
    }),
    eventsRejected: new Counter({
      name: 'catchall_events_rejected_total',
      help: 'Requests to store events answered with an error (nothing of them stored), by the error code of the answer',
      labelNames: ['reason'],
      registers,
    }),
    produceLatency: new Histogram({
      name: 'catchall_produce_latency_seconds',
      help: 'Time from a request entering the queue to its Kafka acknowledgement',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    produceBatchSize: new Histogram({
      name: 'catchall_produce_batch_records',
      help: 'Records per Kafka produce request',
      buckets: [1, 5, 10, 50, 100, 500, 1000, 5000, 10000],
      registers,
    }),
    // Read at each scrape rather than set on every request: prom-client's set() hashes the
    // labels and makes a new entry each time, a cost per request on the ingest path.
    queueDepth: new Gauge({
      name: 'catchall_produce_queue_records',
      help: 'Records accepted but not yet acknowledged by Kafka, read at each scrape',
      registers,
      collect() {
        this.set(queued());
      },
    }),
    /** Names the function `catchall_produce_queue_records` reads its value from (records). */
    readQueueDepth(source: () => number): void {
      queued = source;
    },
  };
  for (const type of EVENT_TYPES) metrics.eventsAccepted.inc({ type }, 0);
  for (const reason of INGEST_REFUSAL_CODES) metrics.eventsRejected.inc({ reason }, 0);
  return metrics;
}

export type ProducerMetrics = ReturnType<typeof createProducerMetrics>;

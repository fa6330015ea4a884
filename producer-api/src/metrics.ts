import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Every metric the ingest API exposes, defined once. */
export function createProducerMetrics(registry: Registry) {
  const registers = [registry];
  return {
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
    queueDepth: new Gauge({
      name: 'catchall_produce_queue_records',
      help: 'Records accepted but not yet acknowledged by Kafka',
      registers,
    }),
  };
}

export type ProducerMetrics = ReturnType<typeof createProducerMetrics>;

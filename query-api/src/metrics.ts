import { Counter, Histogram, type Registry } from 'prom-client';

/** The query API's own metrics (the HTTP ones are the service shell's), defined once. */
export function createQueryMetrics(registry: Registry) {
  const registers = [registry];
  return {
    consistencyWaits: new Counter({
      name: 'catchall_consistency_waits_total',
      help: 'Reads with a Consistency-Token, by outcome: known (applied already), applied (after a wait), timeout, failed (reading the positions failed), closed (shutdown)',
      labelNames: ['outcome'],
      registers,
    }),
    consistencyWaitSeconds: new Histogram({
      name: 'catchall_consistency_wait_seconds',
      help: 'Time a read with a Consistency-Token waited for the read model, whatever its outcome',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
  };
}

export type QueryMetrics = ReturnType<typeof createQueryMetrics>;

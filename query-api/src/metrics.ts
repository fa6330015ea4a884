import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * How a read with a Consistency-Token ended: `known` (applied already), `applied` (after a
 * wait), `timeout`, `failed` (reading the positions failed), `closed` (shutdown).
 */
export const CONSISTENCY_WAIT_OUTCOMES = [
  'known',
  'applied',
  'timeout',
  'failed',
  'closed',
] as const;
export type ConsistencyWaitOutcome = (typeof CONSISTENCY_WAIT_OUTCOMES)[number];

/**
 * The query API's own metrics (the HTTP ones are the service shell's), defined once. The
 * wait counter is exported at 0 for every outcome from the start: a series that first
 * appears at 1 is no increase to Prometheus's rate(), and a fresh system's dashboard panel
 * would show no data.
 */
export function createQueryMetrics(registry: Registry) {
  const registers = [registry];
  const metrics = {
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
  for (const outcome of CONSISTENCY_WAIT_OUTCOMES) metrics.consistencyWaits.inc({ outcome }, 0);
  return metrics;
}

export type QueryMetrics = ReturnType<typeof createQueryMetrics>;

import { Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per service, with the process metrics every service exposes. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'catchall_' });
  return registry;
}

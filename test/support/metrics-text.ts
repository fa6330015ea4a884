import { Registry } from 'prom-client';

/**
 * The Prometheus text exposition of a fresh registry on which `create` defined a service's
 * metrics, before anything was counted: what the first scrape of a new process reads.
 */
export async function freshMetricsText(create: (registry: Registry) => unknown): Promise<string> {
  const registry = new Registry();
  create(registry);
  return registry.metrics();
}

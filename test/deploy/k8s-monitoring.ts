import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { alertRules, dashboardQueries } from '../support/monitoring';
import { configOf } from '../support/service-config';
import {
  imageContainers,
  type Container,
  type ImageContainer,
  type Resource,
} from './k8s-manifests';

const ROOT = path.resolve(__dirname, '..', '..');

interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}
interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
}
interface Endpoint {
  port?: string;
  targetPort?: number | string;
  path?: string;
  scheme?: string;
  honorLabels?: boolean;
  relabelings?: Relabeling[];
  metricRelabelings?: Relabeling[];
}
interface Relabeling {
  sourceLabels?: string[];
  targetLabel?: string;
  action?: string;
}

/** Kubernetes's label selector semantics (In, NotIn, Exists, DoesNotExist). */
function selects(selector: LabelSelector, labels: Record<string, string> = {}): boolean {
  const plain = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  return (
    plain &&
    (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
      if (operator === 'In') return values.includes(labels[key] ?? '');
      if (operator === 'NotIn') return !values.includes(labels[key] ?? '');
      if (operator === 'Exists') return key in labels;
      if (operator === 'DoesNotExist') return !(key in labels);
      throw new Error(`unknown selector operator ${operator}`);
    })
  );
}

/**
 * The `service` label a program's metrics carry: the name its `createMetricsRegistry` call
 * gives (core/src/runtime/metrics.ts sets it as a default label on every series).
 */
function serviceLabelOf(program: string): string | undefined {
  const dir = path.join(ROOT, program, 'src');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.includes('.test.'))) {
    const text = readFileSync(path.join(dir, file), 'utf8');
    const name = /createMetricsRegistry\('([^']+)'\)/.exec(text)?.[1];
    if (name === program) return name;
  }
  return undefined;
}

/** The values of `service` that the alerts and the dashboard select (`=` and `=~` alike). */
export function selectedServiceLabels(): Set<string> {
  const exprs = [...alertRules().map((r) => r.expr), ...dashboardQueries().map((q) => q.expr)];
  const values = new Set<string>();
  for (const expr of exprs) {
    for (const [, op, value] of expr.matchAll(/\bservice(=~|=)"([^"]*)"/g)) {
      for (const v of op === '=~' ? value!.split('|') : [value!]) values.add(v);
    }
  }
  return values;
}

/** A Kubernetes label's name as service discovery spells it (`app.kubernetes.io/name` gives `app_kubernetes_io_name`). */
function metaName(label: string): string {
  return label.replace(/[^a-zA-Z0-9_]/g, '_');
}

/**
 * The `service` label a scrape target (and so its `up` series) gets: the Operator sets the
 * Service's name, and a relabelling to `service` replaces it with the value of its one
 * source label (a label of the Service or the pod, or the Service's name); undefined for a
 * source this cannot follow, or for a PodMonitor that sets none.
 */
function targetServiceLabel(
  endpoint: Endpoint,
  service: Resource | undefined,
  podLabels: Record<string, string>,
): string | undefined {
  const rule = (endpoint.relabelings ?? []).findLast(
    (r) => r.targetLabel === 'service' && (r.action ?? 'replace') === 'replace',
  );
  if (!rule) return service?.metadata.name;
  const [source, ...more] = rule.sourceLabels ?? [];
  if (source === undefined || more.length > 0) return undefined;
  if (service && source === '__meta_kubernetes_service_name') return service.metadata.name;
  const labelsOf: [string, Record<string, string>][] = [
    ['__meta_kubernetes_pod_label_', podLabels],
    ['__meta_kubernetes_service_label_', service?.metadata.labels ?? {}],
  ];
  for (const [prefix, labels] of labelsOf) {
    if (!source.startsWith(prefix)) continue;
    const key = Object.keys(labels).find((k) => metaName(k) === source.slice(prefix.length));
    return key === undefined ? undefined : labels[key];
  }
  return undefined;
}

function containerPort(container: Container, target: number | string | undefined): number {
  if (typeof target === 'number') return target;
  return container.ports?.find((p) => p.name === target)?.containerPort ?? Number.NaN;
}

/** Where each scrape of a program's pods by a ServiceMonitor or a PodMonitor lands. */
function scrapesOf(
  c: ImageContainer,
  podLabels: Record<string, string>,
  resources: Resource[],
): { by: string; port: number; endpoint: Endpoint; upService?: string }[] {
  const scrapes: { by: string; port: number; endpoint: Endpoint; upService?: string }[] = [];
  const services = resources.filter(
    (r) =>
      r.kind === 'Service' &&
      selects(
        { matchLabels: (r.spec as { selector?: Record<string, string> }).selector },
        podLabels,
      ),
  );
  for (const monitor of resources.filter((r) => r.kind === 'ServiceMonitor')) {
    const spec = monitor.spec as { selector: LabelSelector; endpoints: Endpoint[] };
    for (const service of services.filter((s) => selects(spec.selector, s.metadata.labels))) {
      const ports = (service.spec as { ports: ServicePort[] }).ports;
      for (const endpoint of spec.endpoints) {
        const port = ports.find((p) => p.name === endpoint.port);
        const target = endpoint.targetPort ?? port?.targetPort ?? port?.port;
        scrapes.push({
          by: `ServiceMonitor ${monitor.metadata.name} via Service ${service.metadata.name}`,
          port: containerPort(c.container, target),
          endpoint,
          upService: targetServiceLabel(endpoint, service, podLabels),
        });
      }
    }
  }
  for (const monitor of resources.filter((r) => r.kind === 'PodMonitor')) {
    const spec = monitor.spec as { selector: LabelSelector; podMetricsEndpoints: Endpoint[] };
    if (!selects(spec.selector, podLabels)) continue;
    for (const endpoint of spec.podMetricsEndpoints) {
      scrapes.push({
        by: `PodMonitor ${monitor.metadata.name}`,
        port: containerPort(c.container, endpoint.port ?? endpoint.targetPort),
        endpoint,
        upService: targetServiceLabel(endpoint, undefined, podLabels),
      });
    }
  }
  return scrapes;
}

/**
 * What keeps the Prometheus Operator from scraping the services as the alerts and the
 * dashboard expect, one line each; empty when all is well, and for an overlay without
 * monitoring (no PrometheusRule, no monitor). Each service (producer-api, consumer,
 * query-api) is scraped exactly once per pod, by a ServiceMonitor or a PodMonitor, at the
 * port its program listens on (`PORT`), path /metrics, over http; its series keep their own
 * `service` label (honorLabels, or put back from `exported_service`), and its target (its
 * `up` series, CatchAllServiceDown) is given the same; and every `service` value the alerts
 * and the dashboard select is one a scraped program sets.
 */
export function scrapeProblems(resources: Resource[]): string[] {
  const monitoring = resources.some((r) =>
    ['PrometheusRule', 'ServiceMonitor', 'PodMonitor'].includes(r.kind),
  );
  if (!monitoring) return [];
  const problems: string[] = [];
  const scraped = new Set<string>();
  for (const c of imageContainers(resources)) {
    if (c.program === 'setup') continue;
    const workload = resources.find(
      (r) => `${r.kind} ${r.metadata.name}` === c.workload,
    ) as Resource;
    const podLabels = (
      workload.spec as { template: { metadata: { labels: Record<string, string> } } }
    ).template.metadata.labels;
    const scrapes = scrapesOf(c, podLabels, resources);
    if (scrapes.length !== 1) {
      problems.push(
        `${c.workload}: scraped ${scrapes.length} times (${scrapes.map((s) => s.by).join(', ')})`,
      );
    }
    const listens = Number(
      c.values.PORT ?? (configOf[c.program]!.PORT as { default?: number }).default,
    );
    for (const { by, port, endpoint } of scrapes) {
      if (port !== listens)
        problems.push(`${c.workload}: ${by} scrapes port ${port}, not ${listens}`);
      if ((endpoint.path ?? '/metrics') !== '/metrics') {
        problems.push(`${c.workload}: ${by} scrapes ${endpoint.path}, not /metrics`);
      }
      if ((endpoint.scheme ?? 'http') !== 'http') {
        problems.push(`${c.workload}: ${by} scrapes over ${endpoint.scheme}, not http`);
      }
      const putBack = (endpoint.metricRelabelings ?? []).some(
        (r) => r.sourceLabels?.join() === 'exported_service' && r.targetLabel === 'service',
      );
      if (endpoint.honorLabels !== true && !putBack) {
        problems.push(`${c.workload}: ${by} replaces the series' own service label`);
      }
    }
    const label = serviceLabelOf(c.program);
    for (const { by, upService } of scrapes) {
      if (label !== undefined && upService !== label) {
        problems.push(
          `${c.workload}: ${by} gives its targets (up) service="${upService ?? ''}", not "${label}"`,
        );
      }
    }
    if (label === undefined)
      problems.push(`${c.program}: no createMetricsRegistry('${c.program}')`);
    else if (scrapes.length > 0) scraped.add(label);
  }
  for (const value of selectedServiceLabels()) {
    if (!scraped.has(value)) {
      problems.push(
        `the alerts or the dashboard select service="${value}", which nothing scraped sets`,
      );
    }
  }
  return problems;
}

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

const ROOT = path.resolve(__dirname, '..', '..');
/** The alert rules Prometheus loads (Docker Compose) and the PrometheusRule carries. */
export const RULES = path.join(ROOT, 'monitoring', 'prometheus', 'alerts.yml');
/** The Grafana dashboard, mounted by Docker Compose and generated into a ConfigMap. */
export const DASHBOARD = path.join(
  ROOT,
  'k8s',
  'components',
  'monitoring',
  'catch-all-dashboard.json',
);

export interface AlertRule {
  alert: string;
  expr: string;
  annotations: Record<string, string>;
}

/** Every alert rule of RULES, over all its groups. */
export function alertRules(): AlertRule[] {
  return (
    parse(readFileSync(RULES, 'utf8')) as { groups: { rules: AlertRule[] }[] }
  ).groups.flatMap((g) => g.rules);
}

/** Every query of the dashboard, with Grafana's `$__rate_interval` as a plain range (1m). */
export function dashboardQueries(): { panel: string; expr: string }[] {
  const { panels } = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    panels: { title: string; targets?: { expr: string }[] }[];
  };
  return panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      panel: p.title,
      expr: t.expr.replaceAll('$__rate_interval', '1m'),
    })),
  );
}

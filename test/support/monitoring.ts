import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { LRParser } from '@lezer/lr';
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

/**
 * Every query of the dashboard, with Grafana's `$__rate_interval` as a plain range (1m) and
 * its `$namespace` variable as "All" gives it (`.*`: every namespace, and series without one).
 */
export function dashboardQueries(): { panel: string; expr: string }[] {
  const { panels } = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    panels: { title: string; targets?: { expr: string }[] }[];
  };
  return panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      panel: p.title,
      expr: t.expr.replaceAll('$__rate_interval', '1m').replaceAll('$namespace', '.*'),
    })),
  );
}

/**
 * Prometheus's PromQL grammar. Its type declarations are an ES module's, which TypeScript
 * does not let a CommonJS file import; the package ships a CommonJS build, required here.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parser } = require('@prometheus-io/lezer-promql') as { parser: LRParser };

/** The comparison operators of PromQL, as the parser names them. */
const COMPARISONS = new Set(['Gtr', 'Lss', 'Gte', 'Lte', 'Eql', 'Neq']);

/**
 * What of an alert expression should return series while the system works, whether or not
 * the alert fires: each vector selector in it, each side of each comparison that is not
 * a number (`sum(x) > 10` gives `sum(x)`), and both sides of each `unless` (`expected unless
 * present` is empty on a healthy system because `present` covers `expected`, not because
 * either is empty), with `offset` modifiers left out (a test's Prometheus has no data from
 * 10 minutes ago). Parsed with Prometheus's own grammar (@prometheus-io/lezer-promql);
 * throws for an expression it cannot parse.
 */
export function alertParts(expr: string): string[] {
  const tree = parser.parse(expr);
  const offsets: [number, number][] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) throw new Error(`${expr}: no PromQL at ${node.from}`);
      const keyword = node.name === 'OffsetExpr' ? node.node.getChild('Offset') : null;
      if (keyword) offsets.push([keyword.from, node.to]);
    },
  });
  const text = (from: number, to: number) => {
    let out = '';
    let at = from;
    for (const [start, end] of offsets) {
      if (start < from || end > to) continue;
      out += expr.slice(at, start);
      at = end;
    }
    return (out + expr.slice(at, to)).replace(/\s+/g, ' ').replace(/ \)/g, ')').trim();
  };
  const parts = new Set<string>();
  tree.iterate({
    enter({ name, node }) {
      if (name === 'VectorSelector') parts.add(text(node.from, node.to));
      if (name !== 'BinaryExpr') return;
      let child = node.firstChild;
      let comparison = false;
      while (child) {
        if (COMPARISONS.has(child.name) || child.name === 'Unless') comparison = true;
        child = child.nextSibling;
      }
      if (!comparison) return;
      for (const side of [node.firstChild!, node.lastChild!]) {
        if (!side.name.includes('Literal')) parts.add(text(side.from, side.to));
      }
    },
  });
  return [...parts];
}

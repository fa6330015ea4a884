import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { fetchPromtool } from '../../scripts/src/infra';
import { alertRules, DASHBOARD, dashboardQueries, RULES } from '../support/monitoring';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const RULES_DIR = path.join(ROOT, 'monitoring', 'prometheus');

interface RuleTest {
  alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[];
}

const rules = alertRules();

/** promtool's exit code and output, run in `cwd`; a failing run resolves too. */
async function promtool(
  args: string[],
  cwd = RULES_DIR,
): Promise<{ code: number; output: string }> {
  const binary = await fetchPromtool();
  try {
    const { stdout, stderr } = await run(binary, args, { cwd });
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('the alert rules (monitoring/prometheus/alerts.yml)', () => {
  it('pass promtool check rules', async () => {
    const { code, output } = await promtool(['check', 'rules', 'alerts.yml']);
    expect(output).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(code).toBe(0);
  });

  it('pass their unit tests (promtool test rules), and fail them when a threshold moves', async () => {
    const passing = await promtool(['test', 'rules', 'alerts.test.yml']);
    expect(passing.output).toContain('SUCCESS');
    expect(passing.code).toBe(0);
    // The same tests against the staleness alert at 60 s instead of 30 s: they must notice.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'alerts-'));
    try {
      cpSync(path.join(RULES_DIR, 'alerts.test.yml'), path.join(dir, 'alerts.test.yml'));
      const rulesText = readFileSync(RULES, 'utf8');
      expect(rulesText).toContain('catchall_freshness_seconds{service="consumer"}) > 30');
      writeFileSync(path.join(dir, 'alerts.yml'), rulesText.replace(') > 30', ') > 60'));
      const moved = await promtool(['test', 'rules', 'alerts.test.yml'], dir);
      expect(moved.output).toContain('CatchAllReadModelStale');
      expect(moved.code).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has a test of every alert firing and one of it not firing', () => {
    const tests = (
      parse(readFileSync(path.join(RULES_DIR, 'alerts.test.yml'), 'utf8')) as {
        tests: RuleTest[];
      }
    ).tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const { alert } of rules) {
      const of = tests.filter((t) => t.alertname === alert);
      expect([alert, of.some((t) => (t.exp_alerts ?? []).length > 0)]).toEqual([alert, true]);
      expect([alert, of.some((t) => (t.exp_alerts ?? []).length === 0)]).toEqual([alert, true]);
    }
  });

  it('names a runbook for every alert (runbook_url), and the README has its row', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Alerts and what to do'));
    expect(section.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect([rule.alert, rule.annotations.runbook_url]).toEqual([
        rule.alert,
        'README.md#alerts-and-what-to-do',
      ]);
      expect(section).toContain(`| \`${rule.alert}\` |`);
    }
  });

  it('describes every alert with its namespace, when it has one, and the labels it groups by', () => {
    for (const rule of rules) {
      const description = rule.annotations.description ?? '';
      expect([rule.alert, description]).toEqual([
        rule.alert,
        expect.stringContaining('{{ with $labels.namespace }} in namespace {{ . }}{{ end }}'),
      ]);
      const grouped = [...rule.expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) =>
        m[1]!.split(',').map((l) => l.trim()),
      );
      for (const label of new Set(grouped)) {
        if (label === 'le' || label === 'namespace') continue;
        expect([rule.alert, description]).toEqual([
          rule.alert,
          expect.stringContaining(`$labels.${label}`),
        ]);
      }
    }
  });

  it('are the PrometheusRule of k8s/components/monitoring, rule for rule', () => {
    const resource = parse(
      readFileSync(
        path.join(ROOT, 'k8s', 'components', 'monitoring', 'prometheus-rule.yaml'),
        'utf8',
      ),
    ) as { kind: string; spec: unknown };
    expect(resource.kind).toBe('PrometheusRule');
    expect(resource.spec).toEqual(parse(readFileSync(RULES, 'utf8')));
  });
});

/**
 * The metric names the services define (`name: 'catchall_...'` in their sources), their
 * histograms' series, and prom-client's process metrics under the services' prefix.
 */
function definedMetrics(): Set<string> {
  const names = new Set<string>();
  for (const dir of ['core', 'producer-api', 'consumer', 'query-api']) {
    const files = readdirSync(path.join(ROOT, dir, 'src'), { recursive: true, encoding: 'utf8' });
    for (const file of files.filter((f) => f.endsWith('.ts') && !f.includes('.test.'))) {
      const text = readFileSync(path.join(ROOT, dir, 'src', file), 'utf8');
      for (const [, name] of text.matchAll(/name: '(catchall_[a-z_]+)'/g)) {
        for (const suffix of ['', '_bucket', '_sum', '_count']) names.add(`${name}${suffix}`);
      }
    }
  }
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes']) {
    names.add(`catchall_${name}`);
  }
  return names;
}

describe('the Grafana dashboard (k8s/components/monitoring/catch-all-dashboard.json)', () => {
  it('has queries that Prometheus parses (promtool checks them as recording rules)', async () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(20);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dashboard-'));
    try {
      const rulesFile = {
        groups: [
          {
            name: 'dashboard',
            rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: q.expr })),
          },
        ],
      };
      writeFileSync(path.join(dir, 'queries.yml'), stringify(rulesFile));
      const { code, output } = await promtool(['check', 'rules', 'queries.yml'], dir);
      expect(output).toContain(`SUCCESS: ${queries.length} rules found`);
      expect(code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('selects the namespaces of its variable in every query, All by default, and leaves probes and scrapes out of the HTTP panels', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      templating: { list: { name: string; includeAll?: boolean; allValue?: string }[] };
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    expect(dashboard.templating.list.find((v) => v.name === 'namespace')).toMatchObject({
      includeAll: true,
      allValue: '.*',
      current: { value: '$__all' },
    });
    const selectors = dashboard.panels.flatMap((p) =>
      (p.targets ?? []).flatMap((t) => [...t.expr.matchAll(/\bcatchall_[a-z_]+(\{[^}]*\})?/g)]),
    );
    expect(selectors.length).toBeGreaterThan(30);
    expect(
      selectors.filter((m) => !(m[1] ?? '').includes('namespace=~"$namespace"')).map((m) => m[0]),
    ).toEqual([]);
    expect(
      selectors
        .filter((m) => m[0].startsWith('catchall_http_request'))
        .filter((m) => !m[1]!.includes('route!~"/healthz|/readyz|/metrics"'))
        .map((m) => m[0]),
    ).toEqual([]);
  });

  it('and the alerts ask only for metrics the services export', () => {
    const defined = definedMetrics();
    const used = [...dashboardQueries().map((q) => q.expr), ...rules.map((r) => r.expr)].flatMap(
      (expr) => [...expr.matchAll(/\bcatchall_[a-z_]+/g)].map((m) => m[0]),
    );
    expect(used.length).toBeGreaterThan(30);
    expect([...new Set(used)].filter((name) => !defined.has(name))).toEqual([]);
  });

  it('is what Docker Compose gives Grafana, beside a Prometheus scraping every service with its service label', () => {
    const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), {
      merge: true,
    }) as {
      services: Record<string, { volumes?: string[]; environment?: Record<string, unknown> }>;
    };
    expect(compose.services.grafana?.volumes).toContain(
      './k8s/components/monitoring/catch-all-dashboard.json:/var/lib/grafana/dashboards/catch-all.json:ro',
    );
    expect(compose.services.prometheus?.volumes).toContain(
      './monitoring/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro',
    );
    const scrape = parse(readFileSync(path.join(RULES_DIR, 'prometheus.yml'), 'utf8')) as {
      scrape_configs: {
        static_configs: { targets: string[]; labels?: Record<string, string> }[];
      }[];
    };
    // Each target labelled with its service, as its series are: `up` has it (CatchAllServiceDown).
    const targets = scrape.scrape_configs.flatMap((c) =>
      c.static_configs.flatMap((s) => s.targets.map((t) => `${t} ${s.labels?.service ?? ''}`)),
    );
    for (const service of ['producer-api', 'consumer', 'query-api']) {
      const port = compose.services[service]?.environment?.PORT;
      expect(targets).toContain(`${service}:${String(port)} ${service}`);
    }
  });
});

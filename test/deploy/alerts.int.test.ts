import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { fetchPromtool } from '../../scripts/src/infra';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const RULES_DIR = path.join(ROOT, 'monitoring', 'prometheus');
const RULES = path.join(RULES_DIR, 'alerts.yml');

interface Rule {
  alert: string;
  expr: string;
  annotations: Record<string, string>;
}
interface RuleTest {
  alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[];
}

const rules = (
  parse(readFileSync(RULES, 'utf8')) as { groups: { rules: Rule[] }[] }
).groups.flatMap((g) => g.rules);

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

  it('names a runbook for every alert, and the README has its row', () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('### Alerts and what to do'));
    expect(section.length).toBeGreaterThan(0);
    for (const rule of rules) {
      expect(rule.annotations.runbook).toBe('README.md#alerts-and-what-to-do');
      expect(section).toContain(`| \`${rule.alert}\` |`);
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

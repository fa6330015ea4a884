import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { devPostgresBase } from '../../scripts/src/infra';
import { freePort } from '../../scripts/src/infra/ports';
import { EXAMPLE_DASHBOARD_QUERY } from '../../scripts/src/local-prometheus';
import { alertRules, dashboardQueries } from '../support/monitoring';
import { descendants, stillRunning, type ProcessInfo } from '../support/processes';
import { waitFor } from '../support/wait';

const ROOT = path.resolve(__dirname, '..', '..');
/** A start from built code with the distributions already fetched: well within this. */
const START_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 60_000;

interface ApiAnswer<T> {
  status: string;
  error?: string;
  data: T;
}

/** The `data` of a Prometheus API answer at `url`; throws unless its status is success. */
async function prometheusApi<T>(url: string): Promise<T> {
  const body = (await (await fetch(url)).json()) as ApiAnswer<T>;
  if (body.status !== 'success') throw new Error(`${url}: ${body.error ?? body.status}`);
  return body.data;
}

describe('npm start, with its Prometheus, stopped by a signal to its own process alone', () => {
  let npm: ChildProcess | undefined;
  let localDir = '';
  let started: ProcessInfo[] = [];

  afterAll(() => {
    // Whatever the test left running is killed here, so that a failure strands nothing.
    for (const p of stillRunning(started.map((s) => s.pid))) process.kill(p.pid, 'SIGKILL');
    if (npm?.exitCode === null && npm.signalCode === null) npm.kill('SIGKILL');
    if (localDir !== '') {
      rmSync(devPostgresBase(path.join(localDir, 'dev')), { recursive: true, force: true });
      rmSync(localDir, { recursive: true, force: true });
    }
  });

  // SIGTERM takes the same way (npm, the launcher and the start script pass both on); one
  // start of everything is what this costs, so the test sends the one Ctrl-C sends.
  it(
    'given every part started, when SIGINT reaches the npm process only, then every process it started is gone',
    async () => {
      // A data folder of the test's own beside the distributions already fetched.
      localDir = mkdtempSync(path.join(os.tmpdir(), 'catchall-npm-start-'));
      symlinkSync(path.join(ROOT, '.local', 'dist'), path.join(localDir, 'dist'));
      const env: NodeJS.ProcessEnv = { ...process.env, CATCHALL_LOCAL_DIR: localDir };
      // Its own Postgres, so that stopping one is part of what is checked.
      delete env.DATABASE_URL;
      for (const name of [
        'CATCHALL_KAFKA_PORT',
        'CATCHALL_KAFKA_CONTROLLER_PORT',
        'CATCHALL_REGISTRY_PORT',
        'CATCHALL_POSTGRES_PORT',
        'CATCHALL_PRODUCER_PORT',
        'CATCHALL_QUERY_PORT',
        'CATCHALL_CONSUMER_PORT',
        'CATCHALL_PROMETHEUS_PORT',
      ]) {
        env[name] = String(await freePort());
      }
      delete env.CATCHALL_MONITORING;
      const child = spawn(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['start'], {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      npm = child;
      let output = '';
      child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));

      await waitFor('npm start to say everything is up', () => /Catch-all is up/.test(output), {
        timeoutMs: START_TIMEOUT_MS,
        intervalMs: 500,
      });
      // The banner names the Postgres npm start runs, for the commands that need it.
      for (const command of ['npm run replay -- rebuild', 'npm run dlq -- redrive --help']) {
        expect(output).toContain(
          `DATABASE_URL=postgres://postgres:postgres@127.0.0.1:${env.CATCHALL_POSTGRES_PORT}/catchall ${command}`,
        );
      }
      started = descendants(child.pid!);
      const commands = started.map((p) => p.command);
      expect(commands.filter((c) => c === 'java').length).toBeGreaterThanOrEqual(2);
      expect(commands).toContain('postgres');
      expect(commands).toContain('prometheus');

      // Prometheus, at the port asked for and named by the banner with its curl commands.
      const prometheus = `http://127.0.0.1:${env.CATCHALL_PROMETHEUS_PORT}`;
      expect(output).toContain(`curl -s ${prometheus}/api/v1/alerts`);
      expect(output).toContain(
        `curl -sG ${prometheus}/api/v1/query --data-urlencode 'query=${EXAMPLE_DASHBOARD_QUERY}'`,
      );
      expect(dashboardQueries().map((q) => q.expr)).toContain(EXAMPLE_DASHBOARD_QUERY);
      // It scrapes the three services at their ports, every 5 s, as Docker Compose's job does.
      const targets = await waitFor(
        'Prometheus to have scraped the three services',
        async () => {
          const { activeTargets } = await prometheusApi<{
            activeTargets: {
              health: string;
              labels: { instance: string; job: string; service: string };
              scrapeInterval: string;
            }[];
          }>(`${prometheus}/api/v1/targets?state=active`);
          return activeTargets.length === 3 && activeTargets.every((t) => t.health === 'up')
            ? activeTargets
            : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      expect(
        targets
          .map((t) => ({ ...t.labels, scrapeInterval: t.scrapeInterval }))
          .sort((a, b) => a.instance.localeCompare(b.instance)),
      ).toEqual(
        (
          [
            ['CATCHALL_PRODUCER_PORT', 'producer-api'],
            ['CATCHALL_QUERY_PORT', 'query-api'],
            ['CATCHALL_CONSUMER_PORT', 'consumer'],
          ] as const
        )
          .map(([name, service]) => ({
            instance: `127.0.0.1:${env[name]}`,
            job: 'catch-all',
            // Each target's `up` has its service's label, as Docker Compose's do.
            service,
            scrapeInterval: '5s',
          }))
          .sort((a, b) => a.instance.localeCompare(b.instance)),
      );
      // The series keep the `service` label the alerts and the dashboard select.
      const services = await prometheusApi<{ result: { metric: { service?: string } }[] }>(
        `${prometheus}/api/v1/query?query=${encodeURIComponent('count by (service) (catchall_process_cpu_seconds_total)')}`,
      );
      expect(services.result.map((r) => r.metric.service).sort()).toEqual([
        'consumer',
        'producer-api',
        'query-api',
      ]);
      // The alerts of monitoring/prometheus/alerts.yml are loaded and evaluated.
      const { groups } = await prometheusApi<{
        groups: { rules: { name: string; type: string; health: string }[] }[];
      }>(`${prometheus}/api/v1/rules?type=alert`);
      const loaded = groups.flatMap((g) => g.rules);
      expect(loaded.map((r) => r.name).sort()).toEqual(
        alertRules()
          .map((r) => r.alert)
          .sort(),
      );
      expect(loaded.filter((r) => r.health === 'err')).toEqual([]);
      await prometheusApi(`${prometheus}/api/v1/alerts`);
      const example = await prometheusApi<{ resultType: string }>(
        `${prometheus}/api/v1/query?query=${encodeURIComponent(EXAMPLE_DASHBOARD_QUERY)}`,
      );
      expect(example.resultType).toBe('vector');
      // The launcher, the start script and the three services at least.
      expect(commands.filter((c) => c === 'node').length).toBeGreaterThanOrEqual(5);

      child.kill('SIGINT');
      const code = await Promise.race([
        exited,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('npm start did not exit')), STOP_TIMEOUT_MS).unref(),
        ),
      ]);
      expect({ code, output: /everything stopped/.test(output) }).toEqual({
        code: 0,
        output: true,
      });
      const left = await waitFor(
        'every process npm start started to be gone',
        () => {
          const running = stillRunning(started.map((p) => p.pid));
          return running.length === 0 ? running : undefined;
        },
        { timeoutMs: 10_000 },
      );
      expect(left).toEqual([]);
    },
    START_TIMEOUT_MS + STOP_TIMEOUT_MS + 30_000,
  );
});

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { buildGoTools } from './go-build';
import { startProcess, type ManagedProcess } from './managed-process';
import { REPO_ROOT } from './paths';
import { freePort } from './ports';

/**
 * The Prometheus Go module version built, as scripts/prometheus/go.mod pins it (its `require`
 * line for github.com/prometheus/prometheus): v0.305.0 is the Prometheus v3.5.0 release
 * (see prometheusRelease), the image docker-compose.yml runs (prom/prometheus:v3.5.0). A
 * unit test (versions.unit.test.ts) fails when the two differ.
 */
export const PROMETHEUS_VERSION = 'v0.305.0';
const PROMETHEUS_PACKAGES = [
  'github.com/prometheus/prometheus/cmd/prometheus',
  'github.com/prometheus/prometheus/cmd/promtool',
];
/** The Go module that pins Prometheus and every dependency (go.sum checks what the proxy serves). */
const PROMETHEUS_MODULE_DIR = path.join(REPO_ROOT, 'scripts', 'prometheus');

/**
 * The Prometheus release (as its images are tagged, `v3.5.0`) of a Prometheus Go module
 * version (`v0.305.0`): Prometheus tags release v3.XX.Y as v0.3XX.Y for Go, whose module path
 * has no /v3. Throws for a version that is not `v0.3XX.Y`.
 */
export function prometheusRelease(moduleVersion: string): string {
  const match = /^v0\.3(\d\d)\.(\d+)$/.exec(moduleVersion);
  if (!match) throw new Error(`${moduleVersion} is not a Prometheus v3 module version (v0.3XX.Y)`);
  return `v3.${Number(match[1])}.${match[2]}`;
}

export interface PrometheusBinaries {
  prometheus: string;
  promtool: string;
}

/**
 * The Prometheus server and promtool of PROMETHEUS_VERSION, built once from the Go module
 * proxy into .local/dist/prometheus-<release>/ with the installed Go (never another
 * toolchain), the release's version stamped in (`--version`, `prometheus_build_info`).
 * Prometheus's web UI assets are not in its Go module: the server answers its API and
 * `/-/ready`, not the UI. A fresh machine takes many minutes (downloading and compiling some
 * 400 modules); later calls return at once. Throws when Go is missing or the build fails,
 * with its output.
 */
export async function fetchPrometheusBinaries(
  log?: (message: string) => void,
): Promise<PrometheusBinaries> {
  const release = prometheusRelease(PROMETHEUS_VERSION);
  const dir = await buildGoTools(
    {
      title: `Prometheus ${release}`,
      distName: `prometheus-${release}`,
      moduleDir: PROMETHEUS_MODULE_DIR,
      packages: PROMETHEUS_PACKAGES,
      ldflags: `-X github.com/prometheus/common/version.Version=${release.slice(1)}`,
      neededFor: 'the alert rule checks and the end-to-end test of the metrics (a real Prometheus)',
    },
    log,
  );
  return { prometheus: path.join(dir, 'prometheus'), promtool: path.join(dir, 'promtool') };
}

/** promtool (rules checks and rule unit tests), see fetchPrometheusBinaries. */
export async function fetchPromtool(): Promise<string> {
  return (await fetchPrometheusBinaries()).promtool;
}

/** The Prometheus server (the end-to-end test's), see fetchPrometheusBinaries. */
export async function fetchPrometheus(): Promise<string> {
  return (await fetchPrometheusBinaries()).prometheus;
}

export interface RunningPrometheus {
  /** Its HTTP API, `http://127.0.0.1:<port>`. */
  url: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** A scrape target: `host:port` serving /metrics, and the `service` label its `up` series gets. */
export interface PrometheusTarget {
  address: string;
  service: string;
}

/**
 * A real Prometheus server (see fetchPrometheusBinaries) on a free loopback port,
 * keeping its data in `dir`: it scrapes `targets` every `scrapeIntervalS` seconds (each
 * labelled with its `service`, as monitoring/prometheus/prometheus.yml labels Docker
 * Compose's), evaluates `ruleFiles` as often, and resolves once it is ready.
 */
export async function startPrometheus(options: {
  dir: string;
  targets: PrometheusTarget[];
  ruleFiles: string[];
  scrapeIntervalS: number;
}): Promise<RunningPrometheus> {
  const binary = await fetchPrometheus();
  mkdirSync(options.dir, { recursive: true });
  const config = path.join(options.dir, 'prometheus.yml');
  writeFileSync(
    config,
    JSON.stringify({
      global: {
        scrape_interval: `${options.scrapeIntervalS}s`,
        evaluation_interval: `${options.scrapeIntervalS}s`,
      },
      rule_files: options.ruleFiles,
      scrape_configs: [
        {
          job_name: 'catch-all',
          honor_labels: true,
          static_configs: options.targets.map((t) => ({
            targets: [t.address],
            labels: { service: t.service },
          })),
        },
      ],
    }),
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = await startProcess({
    name: 'prometheus',
    command: binary,
    args: [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(options.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    logFile: path.join(options.dir, 'prometheus.log'),
    ready: async () => (await fetch(`${url}/-/ready`)).ok,
    timeoutMs: 30_000,
  });
  return { url, process: proc, stop: () => proc.stop() };
}

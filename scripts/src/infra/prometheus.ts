import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { buildGoTools, goToolsBuilt } from './go-build';
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
 * How long a first build takes, as measured: on a 2-core machine shared with other work,
 * about 14 minutes from nothing, about 20 s with Go's build cache warm.
 */
export const PROMETHEUS_FIRST_BUILD =
  "about 14 minutes on a 2-core machine, about 20 s when Go's build cache holds its modules";
/** Docker Compose's Prometheus configuration: its scrape job is the one every local Prometheus runs. */
export const COMPOSE_PROMETHEUS_CONFIG = path.join(
  REPO_ROOT,
  'monitoring',
  'prometheus',
  'prometheus.yml',
);
/** The file in a Prometheus's folder that holds its pid (startPrometheus). */
export const PROMETHEUS_PID_FILE = 'prometheus.pid';
/** The alert rules that Docker Compose's Prometheus loads (and the PrometheusRule carries). */
export const ALERT_RULES = path.join(REPO_ROOT, 'monitoring', 'prometheus', 'alerts.yml');

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

/** True when fetchPrometheusBinaries would return at once (built by an earlier run). */
export function prometheusBuilt(): boolean {
  return goToolsBuilt(`prometheus-${prometheusRelease(PROMETHEUS_VERSION)}`);
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
 * 400 modules); later calls return at once. `signal` stops a build under way. Throws when Go
 * is missing, or the build fails (with its output) or is stopped.
 */
export async function fetchPrometheusBinaries(
  log?: (message: string) => void,
  signal?: AbortSignal,
): Promise<PrometheusBinaries> {
  const release = prometheusRelease(PROMETHEUS_VERSION);
  const dir = await buildGoTools(
    {
      title: `Prometheus ${release}`,
      distName: `prometheus-${release}`, // as prometheusBuilt names it
      moduleDir: PROMETHEUS_MODULE_DIR,
      packages: PROMETHEUS_PACKAGES,
      ldflags: `-X github.com/prometheus/common/version.Version=${release.slice(1)}`,
      neededFor:
        "the alert rule checks, the end-to-end test of the metrics and npm start's Prometheus",
      firstBuild: PROMETHEUS_FIRST_BUILD,
    },
    log,
    signal,
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

/** One scrape job of a Prometheus configuration, as far as this module reads or writes it. */
interface ScrapeConfig {
  job_name: string;
  static_configs?: { targets: string[]; labels?: Record<string, string> }[];
  [setting: string]: unknown;
}

/**
 * The configuration of a local Prometheus: Docker Compose's scrape job
 * (COMPOSE_PROMETHEUS_CONFIG: its job name, `honor_labels` that keeps the services' own
 * `service` label, which the alerts and the dashboard select) with `targets` (each serving
 * /metrics, its `up` series labelled with its `service` as Docker Compose's are) in place of
 * the compose host names, scraped and evaluated every
 * `scrapeIntervalS` seconds, loading `ruleFiles`. Throws when the compose file does not hold
 * exactly one scrape job with static targets.
 */
export function localPrometheusConfig(options: {
  targets: PrometheusTarget[];
  ruleFiles: string[];
  scrapeIntervalS: number;
}): { global: Record<string, string>; rule_files: string[]; scrape_configs: ScrapeConfig[] } {
  const compose = parse(readFileSync(COMPOSE_PROMETHEUS_CONFIG, 'utf8')) as {
    scrape_configs?: ScrapeConfig[];
  };
  const jobs = compose.scrape_configs ?? [];
  if (jobs.length !== 1 || jobs[0]!.static_configs === undefined) {
    throw new Error(
      `${COMPOSE_PROMETHEUS_CONFIG} must hold one scrape job with static_configs (it holds ${jobs.length} jobs)`,
    );
  }
  return {
    global: {
      scrape_interval: `${options.scrapeIntervalS}s`,
      evaluation_interval: `${options.scrapeIntervalS}s`,
    },
    rule_files: options.ruleFiles,
    scrape_configs: [
      {
        ...jobs[0]!,
        static_configs: options.targets.map((t) => ({
          targets: [t.address],
          labels: { service: t.service },
        })),
      },
    ],
  };
}

/**
 * A real Prometheus server (see fetchPrometheusBinaries) on loopback, at `port` (default: a
 * free one), keeping its data in `dir` (a pid file there lets a later start kill one a
 * killed run left): it scrapes `targets` as localPrometheusConfig says, evaluates `ruleFiles`
 * as often, and resolves once it is ready. Throws when it does not start within 30 s, with
 * the end of its log.
 */
export async function startPrometheus(options: {
  dir: string;
  targets: PrometheusTarget[];
  ruleFiles: string[];
  scrapeIntervalS: number;
  port?: number;
}): Promise<RunningPrometheus> {
  const binary = await fetchPrometheus();
  mkdirSync(options.dir, { recursive: true });
  const config = path.join(options.dir, 'prometheus.yml');
  // JSON is YAML: Prometheus reads it as it is.
  writeFileSync(config, JSON.stringify(localPrometheusConfig(options)));
  const port = options.port ?? (await freePort());
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
    pidFile: path.join(options.dir, PROMETHEUS_PID_FILE),
    ready: async () => (await fetch(`${url}/-/ready`)).ok,
    timeoutMs: 30_000,
  });
  return { url, process: proc, stop: () => proc.stop() };
}

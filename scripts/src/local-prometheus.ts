import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { killStale } from './infra/managed-process';
import {
  ALERT_RULES,
  fetchPrometheusBinaries,
  freePort,
  portIsFree,
  PROMETHEUS_FIRST_BUILD,
  PROMETHEUS_PID_FILE,
  prometheusBuilt,
  startPrometheus,
  type PrometheusTarget,
  type RunningPrometheus,
} from './infra';

/** Prometheus's usual port, which `npm start` takes unless told otherwise or it is taken. */
export const DEFAULT_PROMETHEUS_PORT = 9090;
/** How often `npm start`'s Prometheus scrapes the services and evaluates the alerts. */
export const LOCAL_SCRAPE_INTERVAL_S = 5;
/**
 * A query of the dashboard (panel "Events accepted / s"), with Grafana's `$__rate_interval`
 * as 1m and `$namespace` as All (`.*`): what the banner shows to try. The npm start test checks that the dashboard has it.
 */
export const EXAMPLE_DASHBOARD_QUERY =
  'sum by (type) (rate(catchall_events_accepted_total{namespace=~".*",service="producer-api"}[1m]))';

/** Why there is no Prometheus, or the one running. */
export type PrometheusOutcome = { server: RunningPrometheus } | { reason: string };

export interface LocalPrometheus {
  /** True once the binaries are there: built by this run, or found built by an earlier one. */
  built(): boolean;
  /** The server once it serves, or why it does not (already logged, in one line). */
  readonly outcome: Promise<PrometheusOutcome>;
  /** Stops the build under way, or the server; idempotent. */
  stop(): Promise<void>;
}

/** The first line of an error's message; the whole of it goes to `file` when it has more. */
function oneLine(err: unknown, file: string): string {
  const message = err instanceof Error ? err.message : String(err);
  const [first, ...rest] = message.split('\n');
  if (rest.length === 0) return message;
  writeFileSync(file, message);
  return `${first} (the whole output: ${file})`;
}

/** The port to listen on: the one asked for, else 9090, else (9090 taken) a free one. */
async function choosePort(asked: number | undefined, log: (m: string) => void): Promise<number> {
  if (asked !== undefined) {
    if (await portIsFree(asked)) return asked;
    throw new Error(`port ${asked} (CATCHALL_PROMETHEUS_PORT) is taken`);
  }
  if (await portIsFree(DEFAULT_PROMETHEUS_PORT)) return DEFAULT_PROMETHEUS_PORT;
  const port = await freePort();
  log(`port ${DEFAULT_PROMETHEUS_PORT} is taken: Prometheus listens on ${port}`);
  return port;
}

/**
 * `npm start`'s Prometheus: built on first use as the tests build it (fetchPrometheusBinaries,
 * into .local/dist; the log says how long a first build takes), then started on loopback at
 * `port` (default 9090, a free port when 9090 is taken), with its data in `dir`, scraping
 * `targets` (the three services' `host:port` and `service` label) every LOCAL_SCRAPE_INTERVAL_S seconds with
 * Docker Compose's scrape job and loading monitoring/prometheus/alerts.yml. It begins at
 * once and never throws: when it cannot be built (no Go) or started, `outcome` says why and
 * `warn` has said it, and the system runs on without it.
 */
export function startLocalPrometheus(options: {
  dir: string;
  port?: number;
  targets: PrometheusTarget[];
  log: (message: string) => void;
  warn: (message: string) => void;
}): LocalPrometheus {
  const abort = new AbortController();
  let built = prometheusBuilt();
  const outcome = (async (): Promise<PrometheusOutcome> => {
    try {
      await fetchPrometheusBinaries(options.log, abort.signal);
      built = true;
      // One a killed run left would hold the port: stopped before the port is chosen.
      killStale(path.join(options.dir, PROMETHEUS_PID_FILE));
      const port = await choosePort(options.port, options.log);
      const server = await startPrometheus({
        dir: options.dir,
        port,
        targets: options.targets,
        ruleFiles: [ALERT_RULES],
        scrapeIntervalS: LOCAL_SCRAPE_INTERVAL_S,
      });
      return { server };
    } catch (err) {
      built = true;
      if (abort.signal.aborted) return { reason: 'stopped while starting' };
      mkdirSync(options.dir, { recursive: true });
      const reason = oneLine(err, path.join(options.dir, 'start-error.log'));
      options.warn(`Prometheus not started, the system runs without it: ${reason}`);
      return { reason };
    }
  })();
  let stopping: Promise<void> | undefined;
  return {
    built: () => built,
    outcome,
    stop() {
      stopping ??= (async () => {
        abort.abort();
        const done = await outcome;
        if ('server' in done) await done.server.stop();
      })();
      return stopping;
    },
  };
}

/**
 * The banner's lines for Prometheus: its address, the curl commands for the alerts, the
 * rules and one dashboard query, and what this build lacks (the web UI).
 */
export function prometheusBanner(url: string): string[] {
  return [
    `Prometheus (scrapes the three services every ${LOCAL_SCRAPE_INTERVAL_S} s, evaluates monitoring/prometheus/alerts.yml): ${url}`,
    `  curl -s ${url}/api/v1/alerts     # alerts pending or firing`,
    `  curl -s ${url}/api/v1/rules      # every alert rule, its state and its last evaluation`,
    `  curl -sG ${url}/api/v1/query --data-urlencode 'query=${EXAMPLE_DASHBOARD_QUERY}'`,
    "  No web UI in this build (Prometheus's Go module leaves it out: /alerts and /query answer 500).",
    '  Every dashboard query runs as above; Grafana itself: Docker Compose or Kubernetes (README, "Observability").',
  ];
}

/**
 * What the banner says of Prometheus: its lines (waiting for it to start when it is built
 * already: a few seconds), why it is not there, or, while a first build runs, that its
 * address follows, with `later` called with its lines once it is up.
 */
export async function prometheusBannerNow(
  prometheus: LocalPrometheus | undefined,
  later: (lines: string[]) => void,
): Promise<string[]> {
  if (prometheus === undefined) return ['Prometheus: off (CATCHALL_MONITORING=false).'];
  const linesOf = (done: PrometheusOutcome) =>
    'server' in done
      ? prometheusBanner(done.server.url)
      : [`Prometheus: not running (${done.reason}).`];
  if (prometheus.built()) return linesOf(await prometheus.outcome);
  void prometheus.outcome.then((done) => {
    if ('server' in done) later(prometheusBanner(done.server.url));
  });
  return [
    `Prometheus: being built (first start only: ${PROMETHEUS_FIRST_BUILD}; kept in .local/dist for later starts); its address follows once it is up.`,
  ];
}

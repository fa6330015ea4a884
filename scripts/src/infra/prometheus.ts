import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fetchPrometheus } from './debian-package';
import { startProcess, type ManagedProcess } from './managed-process';
import { freePort } from './ports';

export interface RunningPrometheus {
  /** Its HTTP API, `http://127.0.0.1:<port>`. */
  url: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/**
 * A real Prometheus server (Debian's package, see fetchPrometheus) on a free loopback port,
 * keeping its data in `dir`: it scrapes `targets` (`host:port`, each serving /metrics) every
 * `scrapeIntervalS` seconds, evaluates `ruleFiles` as often, and resolves once it is ready.
 */
export async function startPrometheus(options: {
  dir: string;
  targets: string[];
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
          static_configs: [{ targets: options.targets }],
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

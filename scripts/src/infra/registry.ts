import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { findJava } from './java';
import { startProcess, type ManagedProcess } from './managed-process';
import { fetchRegistry } from './maven';

export interface RegistryOptions {
  dir: string;
  port: number;
  /** Postgres storage (kept across restarts); in memory when absent. */
  postgres?: { jdbcUrl: string; user: string; password: string };
}

export interface RunningRegistry {
  /** The Confluent-compatible API, as services and clients use it. */
  url: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  const response = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(1000) });
  return response.ok;
}

/** Apicurio Registry 3 from its fetched distribution, bound to 127.0.0.1. */
export async function startRegistry(options: RegistryOptions): Promise<RunningRegistry> {
  const { dir: dist } = await fetchRegistry();
  const java = findJava(21);
  mkdirSync(options.dir, { recursive: true });
  const url = `http://127.0.0.1:${options.port}/apis/ccompat/v7`;
  const storage = options.postgres
    ? {
        APICURIO_STORAGE_KIND: 'sql',
        APICURIO_STORAGE_SQL_KIND: 'postgresql',
        APICURIO_DATASOURCE_URL: options.postgres.jdbcUrl,
        APICURIO_DATASOURCE_USERNAME: options.postgres.user,
        APICURIO_DATASOURCE_PASSWORD: options.postgres.password,
      }
    : {};
  const proc = await startProcess({
    name: 'schema registry',
    command: java,
    args: [
      '-Xmx512m',
      `-Dquarkus.http.host=127.0.0.1`,
      `-Dquarkus.http.port=${options.port}`,
      // Quarkus's management interface (health, metrics) listens on 0.0.0.0:9000 by default
      // (and `quarkus.management.enabled` is fixed when the registry is built): loopback and
      // a port the system picks as it binds (0), so that two registries (two test runs) run
      // side by side and no port picked beforehand can be taken meanwhile.
      '-Dquarkus.management.host=127.0.0.1',
      '-Dquarkus.management.port=0',
      '-Dquarkus.log.level=WARN',
      '-Dquarkus.log.category."io.quarkus".level=INFO',
      '-jar',
      path.join(dist, 'quarkus-run.jar'),
    ],
    env: storage,
    cwd: options.dir,
    logFile: path.join(options.dir, 'registry.log'),
    pidFile: path.join(options.dir, 'registry.pid'),
    ready: () => answers(url),
    timeoutMs: 90000,
  });
  return { url, process: proc, stop: () => proc.stop() };
}

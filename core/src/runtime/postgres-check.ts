import type { Logger } from 'pino';
import {
  createDependencyCheck,
  startDependencyCheck,
  type DependencyCheck,
} from './dependency-check';
import type { Lifecycle } from './lifecycle';
import { createPool, queryPool } from './postgres';

/** The statement of a Postgres check unless a service names its own: the server answers. */
export const POSTGRES_CHECK_STATEMENT = 'SELECT 1';

/**
 * Postgres as a readiness check: `statement` every `intervalMs` (createDependencyCheck), on a
 * connection of the check's own (a pool of one, `application_name` `applicationName`), never
 * on the service's pool. Connecting, the client's wait for the answer (pg's `query_timeout`)
 * and the statement on the server (`statement_timeout`) are each bounded by `timeoutMs`: a
 * server that stops answering while it keeps its connections open (a frozen process, a
 * black-holed network) fails the check within about an interval and a deadline, and the
 * probe's connection is then dropped rather than returned (pg-pool destroys a client whose
 * query failed), so that the next probe connects afresh and a hung probe holds nothing of the
 * service's pool. The connection stays open between probes. Its `stop` also ends the pool.
 * A failure rejects as PostgresFailure (SQLSTATE classes, see postgresFailure).
 */
export function createPostgresCheck(options: {
  /** The service's DATABASE_URL. */
  connectionString: string;
  /** `application_name` of the check's connection, e.g. `catchall-consumer-check`. */
  applicationName: string;
  /** What the check runs; POSTGRES_CHECK_STATEMENT when absent. */
  statement?: string;
  intervalMs: number;
  timeoutMs: number;
  logger: Logger;
}): DependencyCheck {
  const { timeoutMs } = options;
  const pool = createPool({
    connectionString: options.connectionString,
    max: 1,
    logger: options.logger,
    applicationName: options.applicationName,
    idleTimeoutMs: 0,
    connectionTimeoutMs: timeoutMs,
    queryTimeoutMs: timeoutMs,
    statementTimeoutMs: timeoutMs,
  });
  const statement = options.statement ?? POSTGRES_CHECK_STATEMENT;
  return createDependencyCheck({
    dependency: 'Postgres',
    intervalMs: options.intervalMs,
    timeoutMs,
    logger: options.logger,
    async probe() {
      await queryPool(pool, statement);
    },
    close: () => pool.end(),
  });
}

/**
 * A service's Postgres check (createPostgresCheck) as its settings say: DATABASE_URL, probed
 * every DEPENDENCY_CHECK_INTERVAL_MS within DEPENDENCY_CHECK_TIMEOUT_MS, stopped when
 * `lifecycle` closes. Resolves once the first probe has an outcome (passed or failed: an
 * unreachable server does not stop the start). In a worker of serveInWorkers, each worker
 * runs its own (one connection each), so that its `/readyz` reads an outcome of its own.
 */
export async function startPostgresCheck(options: {
  config: {
    DATABASE_URL: string;
    DEPENDENCY_CHECK_INTERVAL_MS: number;
    DEPENDENCY_CHECK_TIMEOUT_MS: number;
  };
  applicationName: string;
  statement?: string;
  lifecycle: Lifecycle;
  logger: Logger;
}): Promise<DependencyCheck> {
  const { config } = options;
  const check = createPostgresCheck({
    connectionString: config.DATABASE_URL,
    applicationName: options.applicationName,
    statement: options.statement,
    intervalMs: config.DEPENDENCY_CHECK_INTERVAL_MS,
    timeoutMs: config.DEPENDENCY_CHECK_TIMEOUT_MS,
    logger: options.logger,
  });
  return startDependencyCheck(check, 'postgres check', options.lifecycle);
}

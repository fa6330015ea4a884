import pg from 'pg';
import type { Logger } from 'pino';

const INT8 = 20;

/**
 * A pg pool whose bigint counts arrive as numbers (safe up to 2^53, far beyond any count)
 * and whose idle-client errors are logged instead of crashing the process.
 */
export function createPool(options: {
  connectionString: string;
  max: number;
  logger: Logger;
  applicationName: string;
  /** How long an unused connection stays open (pg's default, 10 s, when absent; 0: always). */
  idleTimeoutMs?: number;
}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max,
    application_name: options.applicationName,
    connectionTimeoutMillis: 5000,
    ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMillis: options.idleTimeoutMs }),
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as never,
    },
  });
  pool.on('error', (err) => options.logger.warn({ err }, 'idle Postgres client failed'));
  return pool;
}

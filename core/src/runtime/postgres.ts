import pg from 'pg';
import type { Logger } from 'pino';
import { errorCatalogue } from '../domain/error-catalogue';
import { isProgrammerError } from './retriable';

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
  /**
   * How long a query may wait for its answer, in milliseconds (none when absent): pg's
   * client-side `query_timeout`, so that a server that stopped answering (not only one that
   * refuses connections) fails the query, as a retriable PostgresFailure ('unavailable').
   */
  queryTimeoutMs?: number;
  /** How long making a connection may take, in milliseconds (5000 when absent). */
  connectionTimeoutMs?: number;
  /**
   * The server's `statement_timeout` for the pool's connections, in milliseconds (the
   * server's own setting when absent): the server cancels a statement still running then,
   * one waiting on a lock too, even after the client stopped waiting for it.
   */
  statementTimeoutMs?: number;
}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max,
    application_name: options.applicationName,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
    ...(options.statementTimeoutMs === undefined
      ? {}
      : { statement_timeout: options.statementTimeoutMs }),
    ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMillis: options.idleTimeoutMs }),
    ...(options.queryTimeoutMs === undefined ? {} : { query_timeout: options.queryTimeoutMs }),
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8
          ? (v: string) => Number(v)
          : (pg.types.getTypeParser(oid, format) as (v: string) => unknown)) as never,
    },
  });
  pool.on('error', (err) => options.logger.warn({ err }, 'idle Postgres client failed'));
  // pg emits 'error' on a client whose connection breaks (a backend terminated, Postgres
  // restarting) whether it is idle, checked out or closing, and the pool listens only on
  // idle ones: unheard, the event would end the process. Every client gets a listener; the
  // same failure rejects the query in flight, or the next one, where it is handled.
  pool.on('connect', (client) => {
    client.on('error', (err) => options.logger.warn({ err }, 'Postgres connection failed'));
  });
  return pool;
}

/** SQLSTATE classes (PostgreSQL, Appendix A) whose failures may pass when tried again. */
const TRANSIENT_CLASSES = new Set(['08', '40', '53', '57', '58']);
const TRANSIENT_STATES = new Set(['55P03', '55006']);
/**
 * In those classes, states that a wrong request or a broken installation gives, not a passing
 * condition: 08P01 protocol violation (a statement sent with the wrong number of parameters),
 * 58P01 and 58P02 (a file of the server missing or already there).
 */
const LASTING_STATES = new Set(['08P01', '58P01', '58P02']);
/** Data exception, integrity constraint violation: the values were refused. */
const REFUSED_CLASSES = new Set(['22', '23']);

export type PostgresFailureKind = 'unavailable' | 'refused' | 'failed';

/** The catalogue entry of each kind: its code and whether it is retriable. */
const KIND_ENTRIES = {
  unavailable: 'postgresUnavailable',
  refused: 'postgresRefused',
  failed: 'postgresFailed',
} as const satisfies Record<PostgresFailureKind, keyof typeof errorCatalogue>;

/**
 * A Postgres operation that failed, classified by its SQLSTATE (PostgreSQL documentation,
 * Appendix A "Error Codes"):
 * - `unavailable` (retriable): no SQLSTATE (the connection broke or could not be made), or
 *   classes 08 connection, 40 transaction rollback (serialization failure, deadlock), 53
 *   insufficient resources, 57 operator intervention, 58 system error, and 55P03/55006
 *   (lock or object in use); a read replica's recovery conflicts ("canceling statement due
 *   to conflict with recovery": 40001, 40P01; 57P04 for a database dropped) are among them;
 * - `refused` (not retriable): classes 22 data exception and 23 integrity constraint
 *   violation, the values written were refused: writing them again fails again;
 * - `failed` (not retriable): anything else (42 undefined table or column, XX internal):
 *   the database or the code is wrong, not the data.
 */
export class PostgresFailure extends Error {
  readonly code:
    | typeof errorCatalogue.postgresUnavailable.code
    | typeof errorCatalogue.postgresRefused.code
    | typeof errorCatalogue.postgresFailed.code;
  readonly retriable: boolean;
  constructor(
    readonly kind: PostgresFailureKind,
    /** The five-character SQLSTATE, when the server answered with one. */
    readonly sqlState: string | undefined,
    cause: Error,
  ) {
    super(`Postgres ${kind}${sqlState ? ` (SQLSTATE ${sqlState})` : ''}: ${cause.message}`, {
      cause,
    });
    const entry = errorCatalogue[KIND_ENTRIES[kind]];
    this.code = entry.code;
    this.retriable = entry.retriable;
  }
}

/** Classifies an error thrown by pg (see PostgresFailure); errors of other origins pass as they are. */
export function postgresFailure(err: unknown): unknown {
  if (err instanceof PostgresFailure || !(err instanceof Error)) return err;
  // A bug of ours is not Postgres being unavailable: it stays what it is (not retriable).
  if (isProgrammerError(err)) return err;
  if (typeof (err as { retriable?: unknown }).retriable === 'boolean') return err;
  if (!(err instanceof pg.DatabaseError)) return new PostgresFailure('unavailable', undefined, err);
  const state = err.code ?? '';
  const kind: PostgresFailureKind =
    (TRANSIENT_CLASSES.has(state.slice(0, 2)) && !LASTING_STATES.has(state)) ||
    TRANSIENT_STATES.has(state)
      ? 'unavailable'
      : REFUSED_CLASSES.has(state.slice(0, 2))
        ? 'refused'
        : 'failed';
  return new PostgresFailure(kind, state || undefined, err);
}

/**
 * `pool.query(text, values)` outside a transaction, its failure classified by
 * postgresFailure: what every query of ours that is not in withTransaction goes through,
 * so that retry logic (isRetriable) sees a connection lost or a server restarting as
 * retriable. Resolves to pg's result.
 */
export function queryPool<R extends pg.QueryResultRow>(
  pool: pg.Pool,
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<R>> {
  return pool.query<R>(text, values).catch((err: unknown) => {
    throw postgresFailure(err);
  });
}

/**
 * Runs `work` in one transaction on one pooled client: committed when it returns, rolled back
 * when it throws (the error is passed on, classified by postgresFailure). A client whose
 * transaction failed is destroyed rather than returned to the pool: its connection may be
 * broken or still inside the aborted transaction.
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect().catch((err: unknown) => {
    throw postgresFailure(err);
  });
  let failed = false;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    failed = true;
    // A failed ROLLBACK changes nothing: the client is destroyed below either way, and the
    // failure thrown is the one that made the transaction fail.
    await client.query('ROLLBACK').catch(() => undefined);
    throw postgresFailure(err);
  } finally {
    // true: destroyed, not returned to the pool (its connection may be broken or still
    // inside the aborted transaction).
    client.release(failed);
  }
}

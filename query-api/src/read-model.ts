import DataLoader from 'dataloader';
import type pg from 'pg';
import {
  errors,
  isRetriable,
  postgresFailure,
  type DomainStatus,
  type PartitionOffsets,
} from '@catchall/core';

export interface DomainRow {
  domain: string;
  status: DomainStatus;
  delivered: number;
  bounced: number;
  /** ISO 8601 in UTC, as Date.toISOString writes it. */
  firstEventAt: string;
  lastEventAt: string;
  updatedAt: string;
}

export interface ReadModel {
  /** The domain's row in the live read model version, or undefined when never seen. */
  find(domain: string): Promise<DomainRow | undefined>;
  /** The rows of those domains that were ever seen, keyed by domain: one index scan. */
  findMany(domains: string[]): Promise<Map<string, DomainRow>>;
  /**
   * Up to `limit` domains with this status, in domain order, after `after` (keyset
   * pagination on the (version, status, domain) index: no offset to skip, and rows written
   * meanwhile never shift a page).
   */
  list(status: DomainStatus, after: string | undefined, limit: number): Promise<DomainRow[]>;
  /**
   * The live version's stored positions of `topic`: partition -> next offset to apply (the
   * projector writes them with the counts, so offset o is in the rows once it is above o).
   * Rejects as the lookups do (503 CATCHALL_UNAVAILABLE when Postgres may answer later).
   */
  livePositions(topic: string): Promise<PartitionOffsets>;
}

/**
 * The statement of the query API's Postgres check (startPostgresCheck): the read model's own
 * table, not `SELECT 1`, so that a database setup never migrated (42P01) is not ready, rather
 * than ready and answering 500 to every lookup.
 */
export const READ_MODEL_CHECK_STATEMENT = 'SELECT 1 FROM live_read_model LIMIT 1';

// Times formatted by Postgres exactly as Date.toISOString does: no Date per field here.
// Postgres counts years without a year 0 (`YYYY` of 1 BC is 0001); the earliest event time
// kept is 0000-01-01 (ISO 8601's year 0, which is 1 BC), so that one year is written apart.
const iso = (column: string) =>
  `CASE WHEN ${column} < '0001-01-01T00:00:00Z' THEN '0000' ELSE to_char(${column} AT TIME ZONE 'UTC', 'YYYY') END
   || to_char(${column} AT TIME ZONE 'UTC', '-MM-DD"T"HH24:MI:SS.MS"Z"')`;

const COLUMNS = `s.domain, s.status::text AS status, s.delivered, s.bounced,
  ${iso('s.first_event_at')} AS "firstEventAt", ${iso('s.last_event_at')} AS "lastEventAt",
  ${iso('s.updated_at')} AS "updatedAt"`;

// The live version as a scalar subquery (read in the statement's snapshot, like the rows):
// Postgres then prunes to that version's partition and scans its index on (version, ...).
// A join with live_read_model would let the planner scan domain_stats by domain alone.
const LIVE = '(SELECT version FROM live_read_model)';

const FIND_MANY = `
  SELECT ${COLUMNS} FROM domain_stats s
  WHERE s.version = ${LIVE} AND s.domain = ANY($1::text[])`;

const LIST = `
  SELECT ${COLUMNS} FROM domain_stats s
  WHERE s.version = ${LIVE} AND s.status = $1::domain_status AND s.domain > $2
  ORDER BY s.domain
  LIMIT $3`;

const LIVE_POSITIONS = `
  SELECT p.partition, p.next_offset AS "nextOffset" FROM projection_positions p
  WHERE p.version = ${LIVE} AND p.topic = $1`;

/**
 * The read side of the read model. Single lookups that arrive together (in one turn of the
 * event loop) share one index scan: under load a query serves many requests.
 */
export function createReadModel(options: { pool: pg.Pool; maxBatch?: number }): ReadModel {
  async function query<Row extends object = DomainRow>(
    name: string,
    text: string,
    values: unknown[],
  ): Promise<Row[]> {
    try {
      return (await options.pool.query<Row>({ name, text, values })).rows;
    } catch (err) {
      // Classified once (core's SQLSTATE classes): what may pass on retry is a 503.
      const failure = postgresFailure(err);
      if (isRetriable(failure))
        throw Object.assign(errors.unavailable('Postgres'), { cause: failure });
      throw failure;
    }
  }

  async function findMany(domains: readonly string[]): Promise<Map<string, DomainRow>> {
    const rows = await query('find-domains', FIND_MANY, [domains]);
    return new Map(rows.map((row) => [row.domain, row]));
  }

  const loader = new DataLoader<string, DomainRow | undefined>(
    async (domains) => {
      const rows = await findMany(domains);
      return domains.map((d) => rows.get(d));
    },
    {
      // No cache across requests: each answer is as fresh as the read model.
      cache: false,
      maxBatchSize: options.maxBatch ?? 256,
      // After the poll phase: every request read from any socket in this turn joins.
      batchScheduleFn: (dispatch) => setImmediate(dispatch),
    },
  );

  return {
    find: (domain) => loader.load(domain),
    findMany: (domains) => findMany(domains),
    list: (status, after, limit) => query('list-domains', LIST, [status, after ?? '', limit]),
    async livePositions(topic) {
      const rows = await query<{ partition: number; nextOffset: number }>(
        'live-positions',
        LIVE_POSITIONS,
        [topic],
      );
      return new Map(rows.map((r) => [r.partition, r.nextOffset]));
    },
  };
}

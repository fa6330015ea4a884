import autocannon from 'autocannon';
import type pg from 'pg';
import { events } from './workloads';

/**
 * `POST /events` batches of `batch` Zipf-like events over the 10,000,000-domain key space at
 * `rate` events/s for `seconds` (autocannon, 16 connections): the events answered 202, the
 * requests answered otherwise, those that failed or timed out, and the p99 latency in ms.
 * Requests still in flight when the time is up are not counted, though they may be stored.
 */
export async function batchLoad(
  url: string,
  rate: number,
  seconds: number,
  batch: number,
  seed: number,
) {
  const source = events('zipf', Number.MAX_SAFE_INTEGER, seed);
  const body = () => {
    const items: { domain: string; type: string }[] = [];
    for (let i = 0; i < batch; i += 1) {
      const [domain, type] = source.next().value as [string, string];
      items.push({ domain, type });
    }
    return JSON.stringify(items);
  };
  const result = await autocannon({
    url,
    connections: 16,
    duration: seconds,
    overallRate: rate / batch,
    requests: [
      {
        method: 'POST',
        path: '/events',
        headers: { 'content-type': 'application/json', prefer: 'return=minimal' },
        setupRequest: (request) => ({ ...request, body: body() }),
      },
    ],
  });
  return {
    accepted: result['2xx'] * batch,
    refused: result.non2xx,
    errors: result.errors + result.timeouts,
    p99: result.latency.p99,
  };
}

/** What Postgres did in a period: WAL bytes, and rows the read model inserted or updated. */
export async function postgresCounters(pool: pg.Pool) {
  const { rows } = await pool.query<{ wal: string; rows: string }>(
    `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS wal,
            coalesce(sum(n_tup_ins + n_tup_upd), 0)::text AS rows
     FROM pg_stat_user_tables WHERE relname LIKE 'domain_stats_v%'`,
  );
  return { wal: Number(rows[0]!.wal), rows: Number(rows[0]!.rows) };
}

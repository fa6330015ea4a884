import type pg from 'pg';
import { queryPool } from '@catchall/core';
import type { RedrivenEvent } from './projection-store';

/**
 * Stores the origins of the redriven events ($2), each with the coordinates of the record that
 * counted it ($3), and returns those it stored: an origin already there (counted before by
 * this version, or by a concurrent flush, which this statement waits for) is not stored again.
 * In origin order, so that concurrent flushes take the ledger's rows in the same order.
 */
const ADMIT = `
  INSERT INTO redriven_origins (version, origin, counted_as)
  SELECT $1, u.origin, u.counted_as FROM unnest($2::text[], $3::text[]) AS u(origin, counted_as)
  ORDER BY u.origin
  ON CONFLICT (version, origin) DO NOTHING
  RETURNING origin`;

/**
 * Inside a flush's transaction: the redriven events that count, those whose origin this
 * read-model version never counted (README, "Dead-letter tools"). Each origin is remembered in
 * the same transaction as the counts and the position, so that a redriven record is counted
 * once however many copies of it reach the topic (two redrive runs, a run that crashed and
 * was run again, two operators at once) and whatever crashes happen meanwhile; a rebuild
 * fills its own version's ledger as it reads the same records, so it gives the same counts.
 * Of several events of one origin in `redriven` (in offset order), the first counts.
 * `topic` and `partition`: where the flush's records are, for `counted_as`.
 */
export async function admitRedriven(
  client: pg.PoolClient,
  where: { version: number; topic: string; partition: number },
  redriven: readonly RedrivenEvent[],
): Promise<RedrivenEvent[]> {
  if (redriven.length === 0) return [];
  const first = new Map<string, RedrivenEvent>();
  for (const r of redriven) if (!first.has(r.origin)) first.set(r.origin, r);
  const events = [...first.values()];
  const { rows } = await client.query<{ origin: string }>(ADMIT, [
    where.version,
    events.map((r) => r.origin),
    events.map((r) => `${where.topic}:${where.partition}:${r.offset}`),
  ]);
  const stored = new Set(rows.map((r) => r.origin));
  return events.filter((r) => stored.has(r.origin));
}

/**
 * Of `origins` (`<topic>:<partition>:<offset>`), those read-model version `version` counted
 * already, with the coordinates of the redriven record that counted each.
 */
export async function countedOrigins(
  pool: pg.Pool,
  version: number,
  origins: readonly string[],
): Promise<Map<string, string>> {
  if (origins.length === 0) return new Map();
  const { rows } = await queryPool<{ origin: string; counted_as: string }>(
    pool,
    `SELECT origin, counted_as FROM redriven_origins WHERE version = $1 AND origin = ANY($2::text[])`,
    [version, origins],
  );
  return new Map(rows.map((r) => [r.origin, r.counted_as]));
}

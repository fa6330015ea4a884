import { randomUUID } from 'node:crypto';
import pg from 'pg';
import pino from 'pino';
import { withTransaction, type EventTry } from '@catchall/core';
import {
  DEFAULT_DEDUPE_WINDOW_MS,
  EVENT_ID_BUCKET_MS,
  createEventIdStore,
  eventIdTable,
  migrate,
} from '@catchall/consumer';
import { processCpuSeconds } from './process-cpu';

/** What one measurement of eventIdCost found. */
export interface EventIdCost {
  /** Tables of ids older than the current one that each look-up reads. */
  olderTables: number;
  /** Postgres backend CPU per id decided (look-up and row), µs. */
  postgresMicrosPerId: number;
  /** Wall time per id on the one connection, µs (Postgres's time and the client's). */
  wallMicrosPerId: number;
}

const DOMAINS = 1000;

/**
 * Postgres's cost of the ids a client chose, with the tables a look-up reads in a steady
 * state: a flush looks each id up in every 15-minute table of ids within the deduplication
 * window of its records (EVENT_ID_BUCKET_MS, DEFAULT_DEDUPE_WINDOW_MS: four older tables and
 * the current one at the default hour), where a short catch-up finds only the tables its own
 * run made. For each count of older tables in `olderTables`, a fresh database (migrated, so
 * the real schema) gets that many older tables of `idsPerOlderTable` random ids, then
 * `ids` new tries go through the projector's own EventIdStore (prepare, then decide in a
 * transaction, as a flush does) in flushes of `flushIds`, on one connection whose backend
 * CPU is read from /proc (Linux). `createDatabase`/`urlFor`: the bench stack's Postgres.
 */
export async function eventIdCost(
  postgres: { createDatabase(name: string): Promise<void>; urlFor(name: string): string },
  options: { olderTables: number[]; idsPerOlderTable: number; ids: number; flushIds: number },
): Promise<EventIdCost[]> {
  const results: EventIdCost[] = [];
  for (const [i, olderTables] of options.olderTables.entries()) {
    const name = `bench_event_ids_${i}`;
    await postgres.createDatabase(name);
    await migrate({ databaseUrl: postgres.urlFor(name), logger: pino({ level: 'silent' }) });
    const pool = new pg.Pool({ connectionString: postgres.urlFor(name), max: 1 });
    try {
      results.push(await measure(pool, olderTables, options));
    } finally {
      await pool.end();
    }
  }
  return results;
}

async function measure(
  pool: pg.Pool,
  olderTables: number,
  options: { idsPerOlderTable: number; ids: number; flushIds: number },
): Promise<EventIdCost> {
  const version = 1;
  const store = createEventIdStore({ pool, version, windowMs: DEFAULT_DEDUPE_WINDOW_MS });
  const now = Date.now();
  const tryAt = (at: number): EventTry => ({
    domain: `d${Math.floor(Math.random() * DOMAINS)}.example`,
    eventId: randomUUID(),
    at,
    event: { type: 'delivered', occurredAt: at },
  });
  // The older tables, made as a flush makes them, then filled in bulk.
  for (let k = 1; k <= olderTables; k++) {
    const from = (Math.floor(now / EVENT_ID_BUCKET_MS) - k) * EVENT_ID_BUCKET_MS;
    await store.prepare([tryAt(from)]);
    await pool.query(
      `INSERT INTO ${eventIdTable(version)} (version, key, at)
       SELECT $1, md5(random()::text || g)::uuid, $2::bigint + g % $3::bigint FROM generate_series(1, $4) g`,
      [version, from, EVENT_ID_BUCKET_MS, options.idsPerOlderTable],
    );
  }
  // The current table and the next, as the projector's expiry run makes them.
  await store.expire();
  await pool.query(`VACUUM ANALYZE ${eventIdTable(version)}`);
  const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const backend = rows[0]!.pid;
  const cpuBefore = processCpuSeconds(backend)!;
  const t0 = performance.now();
  for (let done = 0; done < options.ids; done += options.flushIds) {
    const tries = Array.from({ length: options.flushIds }, () => tryAt(now));
    const { checked } = await store.prepare(tries);
    const { counted } = await withTransaction(pool, (client) => store.decide(client, checked));
    if (counted.length !== tries.length) {
      throw new Error(`${tries.length - counted.length} new ids were taken for duplicates`);
    }
  }
  const wall = performance.now() - t0;
  const cpu = processCpuSeconds(backend)! - cpuBefore;
  const ids = Math.ceil(options.ids / options.flushIds) * options.flushIds;
  return {
    olderTables,
    postgresMicrosPerId: Number(((cpu * 1e6) / ids).toFixed(2)),
    wallMicrosPerId: Number(((wall * 1e3) / ids).toFixed(2)),
  };
}

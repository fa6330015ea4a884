import { hash } from 'node:crypto';
import type pg from 'pg';
import {
  PostgresFailure,
  decideTries,
  errorCatalogue,
  queryPool,
  withTransaction,
  type EventTry,
} from '@catchall/core';
import { inKeyOrder } from './key-order';
import { int8Array, uuidArray } from './pg-array';

/**
 * Event ids are kept in time ranges of this width (by Kafka timestamp), one Postgres table
 * each, so that expiry drops whole tables instead of deleting rows.
 */
export const EVENT_ID_BUCKET_MS = 15 * 60_000;
/**
 * How far behind the slowest partition's newest record a try may be and still be checked:
 * records of one partition are appended roughly in time order, give or take the clocks of
 * the producers and their batching.
 */
export const EVENT_ID_GRACE_MS = 10 * 60_000;

/** Default of DEDUPE_WINDOW_S (in ms here): an hour covers a client's retries and a queue's redeliveries. */
export const DEFAULT_DEDUPE_WINDOW_MS = 3_600_000;

/** What deduplication reports, for metrics. */
export interface EventIdObserver {
  /** Tries not counted: a counted try of the same event was within the window. */
  duplicates(n: number): void;
  /** Tries counted without a check: their timestamp is outside the range kept (see checkable). */
  unchecked(n: number): void;
  /**
   * A flush found tries of its domains counted by another partition's flush after it looked,
   * and was done again holding its domains' rows first.
   */
  concurrent(): void;
}

/** The tries of one flush, split by whether they can be checked. */
export interface PreparedTries {
  checked: EventTry[];
  /** Counted as they are: outside the range of timestamps kept. */
  unchecked: EventTry[];
}

/** What EventIdStore.decide found. */
export interface Decided {
  /** The tries that count, in their order. */
  counted: EventTry[];
  /** The look-up's snapshot (pg_snapshot text form, `xmin:xmax:xip,...`); null without tries. */
  snapshot: string | null;
}

export interface EventIdStore {
  /**
   * Outside the flush's transaction: splits the tries into those that can be checked and
   * the others, and makes sure the tables the checked ones go to exist (creating a table
   * locks its parent, which must never happen inside a flush holding row locks).
   */
  prepare(tries: readonly EventTry[]): Promise<PreparedTries>;
  /**
   * Inside the flush's transaction: the checked tries that count (decideTries against the
   * tries counted before, in Postgres), remembered in the same transaction, and the snapshot
   * the look-up saw them in (pg_current_snapshot as text): a transaction it does not see
   * committed after the look-up. Throws the retriable EventIdsExpired when a table it writes
   * to was dropped meanwhile, EventCountedConcurrently when a concurrent flush stored the
   * same try first.
   */
  decide(client: pg.PoolClient, checked: EventTry[]): Promise<Decided>;
  /**
   * Drops the tables whose every id is older than what any partition may still need: the
   * window and EVENT_ID_GRACE_MS behind the slowest partition's newest record (and behind
   * now), never while the version is being built. Creates the tables of the coming range.
   */
  expire(): Promise<void>;
}

/** A table of event ids was dropped while a flush wrote to it: the flush is tried again. */
export class EventIdsExpired extends Error {
  readonly code = errorCatalogue.eventIdsExpired.code;
  readonly retriable = errorCatalogue.eventIdsExpired.retriable;
}

/**
 * A version's event ids lack their unique index and Postgres refuses to build it over a try
 * stored twice (see createIndex): not retriable, the version needs a rebuild.
 */
export class EventIdIndexMissing extends Error {
  readonly code = errorCatalogue.eventIdIndexMissing.code;
  readonly retriable = errorCatalogue.eventIdIndexMissing.retriable;
}

/**
 * The key of an event: an MD5 of its domain and id (a normalized domain holds no `/`), as
 * its 16 bytes in a latin1 string (one character per byte), the form uuidArray sends and
 * Postgres stores as a uuid: 16 bytes whatever the id's length. Not a security boundary: a
 * client that can publish can publish anything anyway.
 */
export function eventKey(domain: string, eventId: string): string {
  return hash('md5', `${domain}/${eventId}`, 'binary');
}

/** The table of read-model version `version`'s event ids (partitioned by time range). */
export function eventIdTable(version: number): string {
  return `event_ids_v${version}`;
}

/** The unique index of a version's event ids, on its table (see eventIdIndexSql). */
export function eventIdIndex(version: number): string {
  return `${eventIdTable(version)}_key_at`;
}

/**
 * The statement that gives version `version`'s table of event ids its unique index on
 * (key, at) (migration 1700000000009): Postgres builds it on each of the version's tables
 * and on every table created under it later, so no id is ever stored without it. The index
 * is what every look-up probes, and it refuses a try stored twice (23505).
 */
export function eventIdIndexSql(version: number): string {
  return `CREATE UNIQUE INDEX IF NOT EXISTS ${eventIdIndex(version)} ON ${eventIdTable(version)} (key, at)`;
}

function bucketTable(version: number, bucket: number): string {
  return `${eventIdTable(version)}_b${bucket}`;
}

const bucketOf = (at: number) => Math.floor(at / EVENT_ID_BUCKET_MS);

/**
 * A flush of another partition counted a try of the same event after this flush looked (a
 * producer that put one domain on two partitions): its decision stands, and this flush is
 * read again and tried once more, when it sees that try. Postgres's serializable isolation
 * would report the same as a serialization failure.
 */
export class EventCountedConcurrently extends Error {
  readonly code = errorCatalogue.eventCountedConcurrently.code;
  readonly retriable = errorCatalogue.eventCountedConcurrently.retriable;
}

/**
 * The keys ($N, a uuid[]) a look-up probes each table of ids with, out of the planner's
 * sight: a parameter of an unnamed statement is planned as a constant, and the planner then
 * estimates `key = ANY(...)` element by element for every table in the range, about a
 * tenth of Postgres's time per id. As a sub-select's value (an InitPlan), the array is read
 * when the statement runs; the index scans and the pruning of tables by time are the same.
 */
const probedKeys = (n: number) => `CAST((SELECT $${n}::uuid[]) AS uuid[])`;

/** One row per stored try of the keys ($2) near the flush's range ($3 to $4), and the snapshot. */
const FIND = `
  SELECT key::text AS key, at, NULL AS snapshot FROM event_ids
  WHERE version = $1 AND key = ANY(${probedKeys(2)}) AND at BETWEEN $3 AND $4
  UNION ALL SELECT NULL, NULL, pg_current_snapshot()::text`;

/**
 * FIND, and when it finds nothing, stores every try ($2 keys, $3 timestamps) as STORE does,
 * in the same statement: one snapshot, the keys sent and parsed once.
 */
const FIND_OR_STORE = `
  WITH found AS (
    SELECT key::text AS key, at FROM event_ids
    WHERE version = $1 AND key = ANY(${probedKeys(2)}) AND at BETWEEN $4 AND $5
  ), stored AS (
    INSERT INTO event_ids (version, key, at)
    SELECT $1, u.key, u.at FROM unnest($2::uuid[], $3::bigint[]) AS u(key, at)
    WHERE NOT EXISTS (SELECT FROM found)
    ORDER BY u.key
  )
  SELECT key, at, NULL AS snapshot FROM found
  UNION ALL SELECT NULL, NULL, pg_current_snapshot()::text`;

/**
 * Before a look-up: a table of few ids that Postgres has analyzed would otherwise be read
 * whole, each row compared with every key of the flush (an array read when the statement
 * runs is not hashed), 7 ms for 300 ids and 5,000 keys against 0.4 through the index. For
 * the rest of the flush's transaction, whose later statements read no table but through an
 * index either.
 */
const INDEX_SCANS_ONLY = 'SET LOCAL enable_seqscan = off';

/**
 * Stores the tries that count ($2 keys, $3 timestamps), in key order: the index is then
 * filled page after page, not at random (30 % faster at a million ids). No ON CONFLICT: a
 * row already there means a concurrent flush of another partition stored the same try after
 * this one looked (23505), which then fails this flush, and the arbiter's checks cost a
 * quarter of every insert.
 */
const STORE = `
  INSERT INTO event_ids (version, key, at)
  SELECT $1, u.key, u.at FROM unnest($2::uuid[], $3::bigint[]) AS u(key, at) ORDER BY u.key`;

/** A row of FIND: a stored try, or (key null) the statement's snapshot. */
interface StoredRow {
  /** The uuid's text form (`8-4-4-4-12` hex digits). */
  key: string | null;
  at: number | string | null;
  snapshot: string | null;
}

interface LookedUp {
  /** Timestamps of the stored tries, by key. */
  counted: Map<string, number[]>;
  snapshot: string | null;
}

function lookedUp(rows: StoredRow[]): LookedUp {
  let snapshot: string | null = null;
  const counted = new Map<string, number[]>();
  for (const r of rows) {
    if (r.key === null) {
      snapshot = r.snapshot;
      continue;
    }
    // Back to eventKey's form: found keys are few (retries), sent keys are many.
    const key = Buffer.from(r.key.replaceAll('-', ''), 'hex').toString('latin1');
    const times = counted.get(key);
    if (times) times.push(Number(r.at));
    else counted.set(key, [Number(r.at)]);
  }
  return { counted, snapshot };
}

/** 42P07 duplicate table, 23505 (pg_type's unique index): another member created it first. */
const CREATED_ALREADY = new Set(['42P07', '23505']);

/**
 * The event ids of one read-model version: which tries of client-chosen ids count
 * (ARCHITECTURE.md invariant 7), in the flush's own transaction, and the expiry of old ones.
 * `windowMs`: DEDUPE_WINDOW_S in milliseconds. `now`: the clock, epoch ms.
 */
export function createEventIdStore(options: {
  pool: pg.Pool;
  version: number;
  windowMs: number;
  observer?: EventIdObserver;
  now?: () => number;
}): EventIdStore {
  const { pool, version, windowMs } = options;
  const now = options.now ?? Date.now;
  const created = new Set<number>();
  /** Tries older than this are not checked: their tables may be gone (event_ids_from). */
  let keptFrom = 0;
  let keptFromRead = false;

  async function readKeptFrom(): Promise<{ state: string; clock: number | null }> {
    const { rows } = await queryPool<{
      state: string;
      event_ids_from: number | null;
      clock: number | null;
      indexed: boolean;
    }>(
      pool,
      `SELECT v.state, v.event_ids_from,
              (SELECT min(p.newest_record_at) FROM projection_positions p
               WHERE p.version = v.version) AS clock,
              -- Before migration 1700000000009 the inherited primary key serves instead.
              to_regclass($2) IS NOT NULL OR to_regclass('event_ids_pkey') IS NOT NULL AS indexed
       FROM read_model_versions v WHERE v.version = $1`,
      [version, eventIdIndex(version)],
    );
    const row = rows[0];
    // A version created by a build from before migration 1700000000009 once that migration
    // ran (a rebuild started from it during a rolling upgrade): its ids get the index before
    // any is stored or looked up here. Postgres builds it holding the version's tables
    // against writes, about 0.3 s per million ids.
    if (row && !row.indexed) await createIndex();
    keptFrom = Math.max(keptFrom, row?.event_ids_from ?? 0);
    keptFromRead = true;
    return { state: row?.state ?? 'ready', clock: row?.clock ?? null };
  }

  async function createIndex(): Promise<void> {
    try {
      await queryPool(pool, eventIdIndexSql(version));
    } catch (err) {
      if (!(err instanceof PostgresFailure && CREATED_ALREADY.has(err.sqlState ?? ''))) throw err;
      // 23505 is also what a unique index refuses to be built over: a try stored twice.
      const { rows } = await queryPool<{ present: boolean }>(
        pool,
        'SELECT to_regclass($1) IS NOT NULL AS present',
        [eventIdIndex(version)],
      );
      if (!rows[0]?.present) {
        throw new EventIdIndexMissing(
          `the unique index ${eventIdIndex(version)} cannot be built: read-model version ${version} holds a try of an event stored twice (a build from before migration 1700000000009 stored it without an index); rebuild the version (${err.message})`,
          { cause: err },
        );
      }
    }
  }

  /**
   * A try can be checked when its timestamp is within the range kept: not older than the
   * tables dropped, not further ahead of this clock than the window (a producer's clock set
   * wrong must not create tables without bound).
   */
  function checkable(at: number): boolean {
    return Number.isSafeInteger(at) && at >= keptFrom && at >= 0 && at <= now() + windowMs;
  }

  async function create(bucket: number): Promise<void> {
    const from = bucket * EVENT_ID_BUCKET_MS;
    try {
      await withTransaction(pool, async (client) => {
        // Waits behind flushes holding the parent's lock, and flushes wait behind it: briefly.
        await client.query(`SET LOCAL lock_timeout = '5s'`);
        await client.query(
          `CREATE TABLE IF NOT EXISTS ${bucketTable(version, bucket)}
           PARTITION OF ${eventIdTable(version)}
           FOR VALUES FROM (${from}) TO (${from + EVENT_ID_BUCKET_MS})`,
        );
      });
    } catch (err) {
      if (!(err instanceof PostgresFailure && CREATED_ALREADY.has(err.sqlState ?? ''))) throw err;
    }
    created.add(bucket);
  }

  /** Runs a statement that stores tries, its failures told apart (see decide). */
  async function run(client: pg.PoolClient, text: string, values: unknown[]): Promise<StoredRow[]> {
    try {
      return (await client.query<StoredRow>(text, values)).rows;
    } catch (err) {
      const state = (err as { code?: unknown }).code;
      // 23514 here: no table holds the time range any more (dropped since prepare).
      if (state === '23514') {
        keptFromRead = false;
        created.clear();
        throw new EventIdsExpired(
          'a table of event ids was dropped while a flush wrote to it; the flush is tried again',
          { cause: err },
        );
      }
      if (state === '23505') {
        throw new EventCountedConcurrently(
          'a flush of another partition counted a try of the same event first; the flush is tried again',
          { cause: err },
        );
      }
      throw err;
    }
  }

  return {
    async prepare(tries) {
      if (tries.length === 0) return { checked: [], unchecked: [] };
      if (!keptFromRead) await readKeptFrom();
      const checked: EventTry[] = [];
      const unchecked: EventTry[] = [];
      for (const t of tries) (checkable(t.at) ? checked : unchecked).push(t);
      const missing = new Set<number>();
      for (const t of checked) {
        const bucket = bucketOf(t.at);
        if (!created.has(bucket)) missing.add(bucket);
      }
      for (const bucket of missing) await create(bucket);
      if (unchecked.length > 0) options.observer?.unchecked(unchecked.length);
      return { checked, unchecked };
    },

    async decide(client, checked) {
      if (checked.length === 0) return { counted: [], snapshot: null };
      const keys = checked.map((t) => eventKey(t.domain, t.eventId));
      let low = Infinity;
      let high = -Infinity;
      for (const { at } of checked) {
        low = Math.min(low, at);
        high = Math.max(high, at);
      }
      const range = [low - windowMs, high + windowMs];
      const { order, distinct } = inKeyOrder(keys);
      const sortedKeys = Array.from(order, (i) => keys[i]!);
      let found: LookedUp;
      await client.query(INDEX_SCANS_ONLY);
      if (distinct) {
        // The usual flush, no event tried twice in it: one statement looks the keys up and
        // stores them all when none is there, sending them once.
        found = lookedUp(
          await run(client, FIND_OR_STORE, [
            version,
            uuidArray(sortedKeys),
            int8Array(Array.from(order, (i) => checked[i]!.at)),
            ...range,
          ]),
        );
        if (found.counted.size === 0) return { counted: checked, snapshot: found.snapshot };
      } else {
        found = lookedUp(await run(client, FIND, [version, uuidArray(sortedKeys), ...range]));
      }
      // Decided in offset order, as a rebuild decides them.
      const tries = checked.map((t, i) => ({ at: t.at, key: keys[i]!, t }));
      const verdicts = decideTries(tries, (t) => t.key, found.counted, windowMs);
      const chosen = tries.filter((_, i) => verdicts[i]);
      if (chosen.length < checked.length) {
        options.observer?.duplicates(checked.length - chosen.length);
      }
      if (chosen.length > 0) {
        await run(client, STORE, [
          version,
          uuidArray(chosen.map((t) => t.key)),
          int8Array(chosen.map((t) => t.at)),
        ]);
      }
      return { counted: chosen.map((t) => t.t), snapshot: found.snapshot };
    },

    async expire() {
      const { state, clock } = await readKeptFrom();
      const at = now();
      // The coming range's table exists before the first flush needs it.
      for (const bucket of [bucketOf(at), bucketOf(at + EVENT_ID_BUCKET_MS)]) {
        if (!created.has(bucket)) await create(bucket);
      }
      if (state === 'building') return;
      const horizon = Math.min(clock ?? at, at) - windowMs - EVENT_ID_GRACE_MS;
      const from = bucketOf(horizon) * EVENT_ID_BUCKET_MS;
      if (from > keptFrom) {
        await queryPool(
          pool,
          'UPDATE read_model_versions SET event_ids_from = GREATEST(coalesce(event_ids_from, 0), $2) WHERE version = $1',
          [version, from],
        );
        keptFrom = from;
      }
      // One range of margin: a member that read event_ids_from before this run still writes
      // only to tables at or above the value it read, which is at most one run old.
      const { rows } = await queryPool<{ name: string }>(
        pool,
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = to_regclass($1)`,
        [eventIdTable(version)],
      );
      for (const { name } of rows) {
        const bucket = Number(name.slice(name.lastIndexOf('_b') + 2));
        if (!Number.isInteger(bucket) || (bucket + 2) * EVENT_ID_BUCKET_MS > keptFrom) continue;
        await withTransaction(pool, async (client) => {
          await client.query(`SET LOCAL lock_timeout = '1s'`);
          await client.query(`DROP TABLE IF EXISTS ${bucketTable(version, bucket)}`);
        });
        created.delete(bucket);
      }
    },
  };
}

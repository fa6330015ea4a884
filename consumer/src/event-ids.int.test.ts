import { DEFAULT_CATCH_ALL_THRESHOLD, type EventTry } from '@catchall/core';
import { createTestDatabase, type TestDatabase } from '../../test/support/postgres';
import { waitFor } from '../../test/support/wait';
import { EVENT_ID_BUCKET_MS, EventIdsExpired, createEventIdStore, eventIdIndex } from './event-ids';
import { createProjectionStore } from './projection-store';

const HOUR = 3_600_000;

describe('the event ids of a read model version on a real Postgres', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await db.drop();
  });

  const attempt = (eventId: string, at: number, domain = 'a.com'): EventTry => ({
    domain,
    eventId,
    at,
    event: { type: 'delivered', occurredAt: at },
  });

  function open(observed = { duplicates: 0, unchecked: 0, concurrent: 0 }) {
    return createProjectionStore({
      pool: db.pool,
      version: 1,
      threshold: DEFAULT_CATCH_ALL_THRESHOLD,
      synchronousCommit: false,
      dedupeWindowMs: HOUR,
      eventIds: {
        duplicates: (n) => (observed.duplicates += n),
        unchecked: (n) => (observed.unchecked += n),
        concurrent: () => (observed.concurrent += 1),
      },
    });
  }

  async function tables(): Promise<string[]> {
    const { rows } = await db.pool.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'event_ids_v1'::regclass ORDER BY 1`,
    );
    return rows.map((r) => r.name);
  }

  async function delivered(domain = 'a.com'): Promise<number> {
    const { rows } = await db.pool.query<{ delivered: string }>(
      'SELECT delivered FROM domain_stats WHERE version = 1 AND domain = $1',
      [domain],
    );
    return Number(rows[0]?.delivered ?? 0);
  }

  const tableOf = (at: number) => `event_ids_v1_b${Math.floor(at / EVENT_ID_BUCKET_MS)}`;

  /** The first flush of partition 0 of topic `t`: its position claimed, `tries` decided. */
  const firstFlush = (store: ReturnType<typeof open>, tries: EventTry[] = []) =>
    store.flush({ topic: 't', partition: 0, expected: null, next: 1, deltas: new Map(), tries });

  it('given ids older than the window behind every partition, when expiry runs, then their tables are dropped whole and later tries of that age count unchecked', async () => {
    const observed = { duplicates: 0, unchecked: 0, concurrent: 0 };
    const store = open(observed);
    const now = Date.now();
    const old = now - 4 * HOUR;
    await store.flush({
      topic: 't',
      partition: 0,
      expected: null,
      next: 2,
      deltas: new Map(),
      tries: [attempt('old', old), attempt('new', now - 60_000)],
      newestRecordAt: now,
    });
    expect(await tables()).toEqual(expect.arrayContaining([tableOf(old), tableOf(now - 60_000)]));

    await store.expireEventIds();

    const kept = await tables();
    expect(kept).not.toContain(tableOf(old));
    expect(kept).toEqual(expect.arrayContaining([tableOf(now - 60_000), tableOf(now)]));
    const { rows } = await db.pool.query<{ from: number }>(
      'SELECT event_ids_from::float8 AS from FROM read_model_versions WHERE version = 1',
    );
    expect(rows[0]!.from).toBeGreaterThan(old);
    expect(rows[0]!.from).toBeLessThanOrEqual(now - HOUR);

    // A try as old as the dropped ones cannot be checked: counted, and not stored.
    await store.flush({
      topic: 't',
      partition: 0,
      expected: 2,
      next: 4,
      deltas: new Map(),
      tries: [attempt('old', old), attempt('new', now)],
    });
    expect(observed).toEqual({ duplicates: 1, unchecked: 1, concurrent: 0 });
    expect(await delivered()).toBe(3);
    expect(await tables()).not.toContain(tableOf(old));
  });

  it('keeps the ids the slowest partition may still need, and every id of a version being built', async () => {
    const store = open();
    const now = Date.now();
    const old = now - 4 * HOUR;
    for (const [partition, newest] of [
      [0, now],
      [1, old + 30 * 60_000],
    ] as const) {
      await store.flush({
        topic: 't',
        partition,
        expected: null,
        next: 1,
        deltas: new Map(),
        tries: [attempt(`p${partition}`, old)],
        newestRecordAt: newest,
      });
    }
    await store.expireEventIds();
    expect(await tables()).toContain(tableOf(old));

    // Partition 1 catches up, but the version is being built: nothing is dropped.
    await db.pool.query(`UPDATE projection_positions SET newest_record_at = $1`, [now]);
    await db.pool.query(`UPDATE read_model_versions SET state = 'building' WHERE version = 1`);
    await store.expireEventIds();
    expect(await tables()).toContain(tableOf(old));

    await db.pool.query(`UPDATE read_model_versions SET state = 'ready' WHERE version = 1`);
    await store.expireEventIds();
    expect(await tables()).not.toContain(tableOf(old));
  });

  it('given a table dropped while a flush writes to it, then the flush fails retriable and writes nothing, and the next try counts once', async () => {
    const store = open();
    const at = Date.now();
    await firstFlush(store, [attempt('x', at)]);
    // Another member's expiry (or an operator) dropped it; this store still knows it exists.
    await db.pool.query(`DROP TABLE ${tableOf(at)}`);
    const flush = {
      topic: 't',
      partition: 0,
      expected: 1,
      next: 2,
      deltas: new Map(),
      tries: [attempt('y', at)],
    };
    const failure = await store.flush(flush).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(EventIdsExpired);
    expect(failure).toMatchObject({ code: 'CATCHALL_EVENT_IDS_EXPIRED', retriable: true });
    expect(await store.loadPosition('t', 0)).toBe(1);
    expect(await store.flush(flush)).toBe('committed');
    expect(await store.flush({ ...flush, expected: 2, next: 3 })).toBe('committed');
    expect(await delivered()).toBe(2);
  });

  it('never creates a table for a timestamp far ahead of the clock: such a try is counted unchecked', async () => {
    const observed = { duplicates: 0, unchecked: 0, concurrent: 0 };
    const store = open(observed);
    const ahead = Date.now() + 30 * 24 * HOUR;
    for (const [expected, next] of [
      [null, 1],
      [1, 2],
    ] as const) {
      await store.flush({
        topic: 't',
        partition: 0,
        expected,
        next,
        deltas: new Map(),
        tries: [attempt('z', ahead)],
      });
    }
    expect(await tables()).toEqual([]);
    expect(observed.unchecked).toBe(2);
    expect(await delivered()).toBe(2);
  });

  it('given two partitions counting a try of the same event at once, then the second fails retriable and its next try sees the first', async () => {
    const ids = createEventIdStore({ pool: db.pool, version: 1, windowMs: HOUR });
    const { checked } = await ids.prepare([attempt('shared', Date.now())]);
    const first = await db.pool.connect();
    const second = await db.pool.connect();
    try {
      await first.query('BEGIN');
      await second.query('BEGIN');
      expect((await ids.decide(first, checked)).counted).toHaveLength(1);
      // The second looks before the first commits: it sees nothing, and its insert waits.
      const racing = ids.decide(second, checked).catch((err: unknown) => err);
      await waitFor('the second insert to wait on the first one', async () => {
        const { rows } = await db.pool.query(
          `SELECT 1 FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        return rows.length > 0;
      });
      await first.query('COMMIT');
      expect(await racing).toMatchObject({
        code: 'CATCHALL_EVENT_COUNTED_CONCURRENTLY',
        retriable: true,
      });
      await second.query('ROLLBACK');
      await second.query('BEGIN');
      expect((await ids.decide(second, checked)).counted).toHaveLength(0);
      await second.query('COMMIT');
    } finally {
      first.release();
      second.release();
    }
  });

  it('given tries of the same events on two partitions flushed at the same time, a few ms apart, then each event is counted once', async () => {
    const store = open();
    const at = Date.now();
    const domains = Array.from({ length: 40 }, (_, i) => `split-${i}.example`);
    let next = 0;
    for (let round = 0; round < 10; round += 1) {
      const tries = (skew: number) =>
        domains.map((d, i) => attempt(`r${round}-${i}`, at + skew + i, d));
      const expected = next === 0 ? null : next;
      await Promise.all(
        [0, 1].map((partition) =>
          store.flush({
            topic: 't',
            partition,
            expected,
            next: next + 1,
            deltas: new Map(),
            tries: tries(partition * 7),
          }),
        ),
      );
      next += 1;
    }
    const { rows } = await db.pool.query<{ delivered: string }>(
      `SELECT sum(delivered)::text AS delivered FROM domain_stats
       WHERE version = 1 AND domain LIKE 'split-%'`,
    );
    expect(Number(rows[0]!.delivered)).toBe(10 * domains.length);
  });

  it('given a try counted by another partition between a flush looking and writing, then that flush is done again holding its rows and counts the event once', async () => {
    const observed = { duplicates: 0, unchecked: 0, concurrent: 0 };
    const store = open(observed);
    const at = Date.now();
    await store.flush({
      topic: 't',
      partition: 2,
      expected: null,
      next: 1,
      deltas: new Map([['a.com', { delivered: 1, bounced: 0, firstEventAt: at, lastEventAt: at }]]),
    });
    const lockWaits = async () => {
      const { rows } = await db.pool.query(
        `SELECT 1 FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'`,
      );
      return rows.length;
    };
    // A transaction holding the domain's row keeps both flushes between their look-up and
    // their upsert: neither look-up can see the other's try.
    const blocker = await db.pool.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query(`SELECT 1 FROM domain_stats WHERE domain = 'a.com' FOR UPDATE`);
      const first = store.flush({
        topic: 't',
        partition: 0,
        expected: null,
        next: 1,
        deltas: new Map(),
        tries: [attempt('shared', at)],
      });
      await waitFor('the first flush to wait for the row', async () => (await lockWaits()) === 1);
      const second = store.flush({
        topic: 't',
        partition: 1,
        expected: null,
        next: 1,
        deltas: new Map(),
        tries: [attempt('shared', at + 5)],
      });
      await waitFor('the second flush to wait for the row', async () => (await lockWaits()) === 2);
      await blocker.query('COMMIT');
      expect(await Promise.all([first, second])).toEqual(['committed', 'committed']);
    } finally {
      blocker.release();
    }
    expect(await delivered()).toBe(2);
    expect(observed).toEqual({ duplicates: 1, unchecked: 0, concurrent: 1 });
    // Its flushes now take their rows first, and still count each event once.
    expect(
      await store.flush({
        topic: 't',
        partition: 1,
        expected: 1,
        next: 2,
        deltas: new Map(),
        tries: [attempt('shared', at + 9), attempt('other', at + 9)],
      }),
    ).toBe('committed');
    expect(await delivered()).toBe(3);
    expect(observed).toEqual({ duplicates: 2, unchecked: 0, concurrent: 1 });
  });

  it('given a version whose ids lack their unique index (made by an older build during an upgrade), then the store makes it before storing any', async () => {
    await db.pool.query(`DROP INDEX ${eventIdIndex(1)}`);
    const at = Date.now();
    await firstFlush(open(), [attempt('id-1', at)]);
    const { rows } = await db.pool.query<{ def: string }>(
      'SELECT indexdef AS def FROM pg_indexes WHERE tablename = $1',
      [tableOf(at)],
    );
    expect(rows.map((r) => r.def.replace(/^.* USING /, ''))).toEqual(['btree (key, at)']);
    await expect(
      db.pool.query(`INSERT INTO event_ids SELECT version, key, at FROM event_ids`),
    ).rejects.toMatchObject({ code: '23505' });
  });

  it('given a version without its index whose ids hold a try stored twice, then the store refuses to go on and says why', async () => {
    await db.pool.query(`DROP INDEX ${eventIdIndex(1)}`);
    const at = Date.now();
    await firstFlush(open());
    await db.pool.query(
      `CREATE TABLE ${tableOf(at)} PARTITION OF event_ids_v1
       FOR VALUES FROM (${Math.floor(at / EVENT_ID_BUCKET_MS) * EVENT_ID_BUCKET_MS})
       TO (${(Math.floor(at / EVENT_ID_BUCKET_MS) + 1) * EVENT_ID_BUCKET_MS})`,
    );
    await db.pool.query(
      `INSERT INTO event_ids VALUES (1, md5('k')::uuid, $1), (1, md5('k')::uuid, $1)`,
      [at],
    );
    const flush = open().flush({
      topic: 't',
      partition: 0,
      expected: 1,
      next: 2,
      deltas: new Map(),
      tries: [attempt('id-1', at)],
    });
    await expect(flush).rejects.toThrow(/cannot be built: .* stored twice/);
    await expect(flush).rejects.toMatchObject({
      code: 'CATCHALL_EVENT_ID_INDEX_MISSING',
      retriable: false,
    });
    expect(await delivered()).toBe(0);
  });

  it('stores an id in 16 bytes of key whatever its length, and tells an id apart from another domain', async () => {
    const ids = createEventIdStore({ pool: db.pool, version: 1, windowMs: HOUR });
    const at = Date.now();
    const long = 'k'.repeat(10_000);
    const { checked } = await ids.prepare([attempt(long, at), attempt(long, at, 'b.com')]);
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      expect((await ids.decide(client, checked)).counted).toHaveLength(2);
      expect((await ids.decide(client, checked)).counted).toHaveLength(0);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const { rows } = await db.pool.query<{ bytes: number }>(
      'SELECT max(pg_column_size(key)) AS bytes FROM event_ids WHERE version = 1',
    );
    expect(rows[0]!.bytes).toBe(16);
  });
});

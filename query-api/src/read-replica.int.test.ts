import pg from 'pg';
import { checkPostgresAccess, DEFAULT_CATCH_ALL_THRESHOLD, errorCatalogue } from '@catchall/core';
import {
  createProjectionStore,
  createVersion,
  markReady,
  migrate,
  switchLive,
} from '@catchall/consumer';
import { testLogger } from '../../test/support/logger';
import { startReplicatedPostgres, type ReplicatedPostgres } from '../../test/support/replica';
import { waitFor } from '../../test/support/wait';
import { loadQueryConfig } from './config';
import { startQueryService, type QueryService } from './service';

const TOPIC = 'replica-events';
const DATABASE = 'catchall_replica';
const FIRST = Date.parse('2026-01-01T00:00:00Z');
const LAST = Date.parse('2026-01-02T00:00:00Z');

/**
 * The query API with its DATABASE_URL naming a hot standby, while the read model is written
 * on the primary by the projector's own projection store: what a deployment that reads from
 * replicas runs.
 */
describe('the query API reading from a streaming standby', () => {
  let servers: ReplicatedPostgres;
  /** The read model's database on the primary: migrations and the projector write here. */
  let primary: pg.Pool;
  /** The same database on the standby, for what the test checks there. */
  let standby: pg.Pool;
  let service: QueryService;
  /** Next offset to apply, by `${version}:${partition}` of TOPIC, as stored on the primary. */
  const positions = new Map<string, number>();

  /**
   * One flush of the projector's store on the primary, one record further on the partition
   * (from `startAt` for a partition the version has no position of): counts and position
   * together. Resolves to the offset of the record applied.
   */
  async function flush(
    version: number,
    partition: number,
    deltas: Record<string, { delivered: number; bounced: number }>,
    startAt = 0,
  ): Promise<number> {
    const store = createProjectionStore({
      pool: primary,
      version,
      threshold: DEFAULT_CATCH_ALL_THRESHOLD,
      synchronousCommit: true,
    });
    const key = `${version}:${partition}`;
    const expected = positions.get(key) ?? null;
    const next = (expected ?? startAt) + 1;
    const outcome = await store.flush({
      topic: TOPIC,
      partition,
      expected,
      next,
      deltas: new Map(
        Object.entries(deltas).map(([domain, d]) => [
          domain,
          { ...d, firstEventAt: FIRST, lastEventAt: LAST },
        ]),
      ),
    });
    expect(outcome).toBe('committed');
    positions.set(key, next);
    // A token naming this offset is satisfied once the position is past it.
    return next - 1;
  }

  const get = (domain: string, headers: Record<string, string> = {}) =>
    service.app.inject({ method: 'GET', url: `/domains/${domain}`, headers });

  beforeAll(async () => {
    // Recovery cancels a conflicting query at once (30 s by default): the conflict test then
    // sees recovery's cancellation rather than the deadlock check that runs after a second.
    servers = await startReplicatedPostgres({ standbySettings: ['max_standby_streaming_delay=0'] });
    await servers.primary.createDatabase(DATABASE);
    await migrate({ databaseUrl: servers.primary.urlFor(DATABASE), logger: testLogger() });
    primary = new pg.Pool({ connectionString: servers.primary.urlFor(DATABASE), max: 2 });
    standby = new pg.Pool({ connectionString: servers.standby.urlFor(DATABASE), max: 2 });
    // An idle connection the server ends (a recovery conflict ends idle sessions too) leaves
    // the pool, logged; the next query opens another, as the services' own pools do.
    for (const pool of [primary, standby]) {
      pool.on('error', (err) => testLogger().warn({ err }, 'idle test connection ended'));
    }
    await flush(1, 0, {
      'catchall.example': { delivered: 1001, bounced: 0 },
      'bounced.example': { delivered: 50, bounced: 1 },
    });
    await flush(1, 1, { 'quiet.example': { delivered: 3, bounced: 0 } });
    await servers.standby.caughtUp();
    service = await startQueryService(
      loadQueryConfig({
        DATABASE_URL: servers.standby.urlFor(DATABASE),
        EVENTS_TOPIC: TOPIC,
        CONSISTENCY_WAIT_MS: '20000',
      }),
      testLogger('query-api'),
    );
  });

  afterAll(async () => {
    await service?.lifecycle.shutdown('test done');
    await standby?.end();
    await primary?.end();
    await servers?.stop();
  });

  it('reads from a server in recovery, which refuses writes', async () => {
    const { rows } = await standby.query<{ recovery: boolean }>(
      'SELECT pg_is_in_recovery() AS recovery',
    );
    expect(rows[0]!.recovery).toBe(true);
    await expect(standby.query('DELETE FROM domain_stats')).rejects.toMatchObject({
      code: '25006',
    });
  });

  it('starts on the standby (the access check at start) and is ready there (/readyz)', async () => {
    await expect(
      checkPostgresAccess(servers.standby.urlFor(DATABASE), testLogger()),
    ).resolves.toBeUndefined();
    const response = await service.app.inject('/readyz');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ checks: { postgres: { ok: true } } });
  });

  it('answers a domain written on the primary', async () => {
    const response = await get('catchall.example');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      domain: 'catchall.example',
      status: 'catch-all',
      delivered: 1001,
      bounced: 0,
      firstEventAt: '2026-01-01T00:00:00.000Z',
    });
    expect((await get('never-seen.example')).statusCode).toBe(404);
  });

  it('looks up many domains at once', async () => {
    const response = await service.app.inject({
      method: 'POST',
      url: '/domains/lookup',
      payload: { domains: ['bounced.example', 'never-seen.example', 'quiet.example'] },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json().results).toEqual([
      expect.objectContaining({ domain: 'bounced.example', status: 'not catch-all' }),
      expect.objectContaining({ domain: 'never-seen.example', found: false, status: 'unknown' }),
      expect.objectContaining({ domain: 'quiet.example', status: 'unknown', delivered: 3 }),
    ]);
  });

  it('lists domains by status', async () => {
    const response = await service.app.inject('/domains?status=unknown');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      status: 'unknown',
      items: [expect.objectContaining({ domain: 'quiet.example' })],
      nextCursor: null,
    });
  });

  describe('while the standby has received the WAL but not replayed it', () => {
    beforeEach(async () => {
      await standby.query('SELECT pg_wal_replay_pause()');
    });
    afterEach(async () => {
      await standby.query('SELECT pg_wal_replay_resume()');
      await servers.standby.caughtUp();
    });

    /** Waits until the standby holds (not applies) everything the primary wrote so far. */
    async function received(): Promise<void> {
      const { rows } = await primary.query<{ lsn: string }>('SELECT pg_current_wal_lsn() AS lsn');
      await waitFor('the standby to receive the WAL', async () => {
        const r = await standby.query<{ done: boolean }>(
          'SELECT pg_last_wal_receive_lsn() >= $1::pg_lsn AS done',
          [rows[0]!.lsn],
        );
        return r.rows[0]!.done;
      });
    }

    it('answers stale without a token, and holds a Consistency-Token read until the standby replays its offsets', async () => {
      const offset = await flush(1, 1, { 'quiet.example': { delivered: 10, bounced: 0 } });
      await received();
      // Stale: the primary has 13 deliveries, the standby has not replayed them.
      expect((await get('quiet.example')).json().delivered).toBe(3);

      let answered = false;
      const read = get('quiet.example', { 'consistency-token': `${TOPIC}:1:${offset}` }).then(
        (response) => {
          answered = true;
          return response;
        },
      );
      // The watcher polls projection_positions on the standby: several polls, still waiting.
      await waitFor('the token read to poll the standby', async () => {
        const { rows } = await standby.query<{ calls: string }>(
          `SELECT count(*) AS calls FROM pg_stat_activity
           WHERE application_name = 'catchall-query-api' AND query LIKE '%projection_positions%'`,
        );
        return Number(rows[0]!.calls) > 0;
      });
      expect(answered).toBe(false);

      await standby.query('SELECT pg_wal_replay_resume()');
      const response = await read;
      expect(response.statusCode).toBe(200);
      expect(response.json()).toMatchObject({ domain: 'quiet.example', delivered: 13 });
    });

    it('answers 503 CATCHALL_CONSISTENCY_TIMEOUT when the standby does not replay within CONSISTENCY_WAIT_MS', async () => {
      const offset = await flush(1, 0, { 'bounced.example': { delivered: 1, bounced: 0 } });
      await received();
      const impatient = await startQueryService(
        loadQueryConfig({
          DATABASE_URL: servers.standby.urlFor(DATABASE),
          EVENTS_TOPIC: TOPIC,
          CONSISTENCY_WAIT_MS: '200',
        }),
        testLogger('query-api'),
      );
      try {
        const response = await impatient.app.inject({
          url: '/domains/bounced.example',
          headers: { 'consistency-token': `${TOPIC}:0:${offset}` },
        });
        expect(response.statusCode).toBe(503);
        expect(response.json()).toMatchObject({ code: errorCatalogue.consistencyTimeout.code });
      } finally {
        await impatient.lifecycle.shutdown('test done');
      }
    });
  });

  it('follows a read-model version switch made on the primary', async () => {
    const version = await createVersion(primary, {
      threshold: DEFAULT_CATCH_ALL_THRESHOLD,
      consumerGroup: (v) => `replica-rebuild-v${v}`,
      startedFrom: 'test',
    });
    // A rebuild catches up with the live version's positions before it may switch.
    await flush(
      version,
      0,
      { 'catchall.example': { delivered: 2000, bounced: 0 } },
      positions.get('1:0'),
    );
    const offset = await flush(
      version,
      1,
      { 'rebuilt.example': { delivered: 1, bounced: 0 } },
      positions.get('1:1'),
    );
    await markReady(primary, version);
    expect(await switchLive(primary, version, { notBehindOn: TOPIC })).toEqual({
      from: 1,
      to: version,
    });
    // The token read waits for the switch's replay too: the new version's positions.
    const response = await get('rebuilt.example', {
      'consistency-token': `${TOPIC}:1:${offset}`,
    });
    expect(response.statusCode).toBe(200);
    expect((await get('catchall.example')).json().delivered).toBe(2000);
  });

  it('answers 503 CATCHALL_UNAVAILABLE, retriable, when recovery cancels its query (a recovery conflict)', async () => {
    const before = await conflicts();
    const locker = new pg.Client({ connectionString: servers.primary.urlFor(DATABASE) });
    await locker.connect();
    try {
      // The primary locks the live-version table; the standby replays the lock, so the
      // query API's next query waits for recovery while holding its lock on domain_stats.
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE live_read_model IN ACCESS EXCLUSIVE MODE');
      await waitFor('the standby to replay the lock', async () => {
        // A committed transaction flushes the WAL, the lock's record with it.
        await primary.query('SELECT txid_current()');
        const { rows } = await standby.query(
          `SELECT 1 FROM pg_locks WHERE relation = 'live_read_model'::regclass
           AND mode = 'AccessExclusiveLock' AND granted`,
        );
        return rows.length > 0;
      });
      const read = get('catchall.example');
      await waitFor('the query API to wait for the lock', async () => {
        const { rows } = await standby.query(
          `SELECT 1 FROM pg_stat_activity
           WHERE application_name = 'catchall-query-api' AND wait_event_type = 'Lock'`,
        );
        return rows.length > 0;
      });
      // Replaying this lock conflicts with the lock the query API's query holds: recovery
      // cancels that query ("canceling statement due to conflict with recovery").
      await locker.query('LOCK TABLE domain_stats IN ACCESS EXCLUSIVE MODE');
      await locker.query('COMMIT');
      const response = await read;
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBeDefined();
      expect(response.json()).toMatchObject({
        statusCode: 503,
        code: errorCatalogue.unavailable.code,
      });
      expect(errorCatalogue.unavailable.retriable).toBe(true);
      await waitFor('the standby to count the recovery conflict', async () => {
        const after = await conflicts();
        return after > before;
      });
      // Retried, it passes.
      await servers.standby.caughtUp();
      expect((await get('catchall.example')).statusCode).toBe(200);
    } finally {
      await locker.end();
    }
  });

  /** Queries the standby cancelled for recovery conflicts in the read model's database. */
  async function conflicts(): Promise<number> {
    const { rows } = await standby.query<{ n: string }>(
      `SELECT confl_tablespace + confl_lock + confl_snapshot + confl_bufferpin + confl_deadlock AS n
       FROM pg_stat_database_conflicts WHERE datname = $1`,
      [DATABASE],
    );
    return Number(rows[0]!.n);
  }
});

import { DEFAULT_CATCH_ALL_THRESHOLD } from '@catchall/core';
import { projectionStoreContract } from '../../test/support/projection-store-contract';
import { createTestDatabase, type TestDatabase } from '../../test/support/postgres';
import {
  createProjectionStore,
  type PartitionFlush,
  type RedrivenEvent,
  type RedrivenOutcome,
} from './projection-store';
import { createVersion, dropVersion, markReady, switchLive } from './read-model-version';

describe('the projection store on a real Postgres', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await db.drop();
  });

  it('reports what the redrive ledger made of a committed flush: copies counted and not, and records that are no copies', async () => {
    const reports: RedrivenOutcome[] = [];
    const store = createProjectionStore({
      pool: db.pool,
      version: 1,
      threshold: DEFAULT_CATCH_ALL_THRESHOLD,
      synchronousCommit: false,
      redriven: (outcome) => reports.push(outcome),
    });
    const dead = (coordinates: string) => ({ coordinates, digest: 'v' });
    const event = (origin: string, offset: number): RedrivenEvent => ({
      digest: 'v',
      origin,
      offset,
      domain: 'a.com',
      at: 1_700_000_000_000,
      event: { type: 'delivered', occurredAt: 1_700_000_000_000 },
    });
    const flush = (expected: number | null, next: number, extra: Partial<PartitionFlush>) =>
      store.flush({ topic: 't', partition: 0, expected, next, deltas: new Map(), ...extra });
    await flush(null, 1, { deadLettered: [dead('t:0:0')] });
    expect(reports).toEqual([]);
    await flush(1, 5, {
      redriven: [event('t:0:0', 1), event('t:0:0', 2), event('t:0:9', 3), event('t:1:0', 4)],
    });
    expect(reports).toEqual([{ copies: 1, alreadyCounted: 1, notCopies: 2 }]);
    // A flush that lost its compare-and-set reports nothing.
    expect(await flush(1, 6, { redriven: [event('t:0:0', 5)] })).toBe('conflict');
    expect(reports).toHaveLength(1);
  });

  it('does not count a copy of a record a rebuild counted itself, after the version that dead-lettered it was dropped', async () => {
    const store = (version: number) =>
      createProjectionStore({
        pool: db.pool,
        version,
        threshold: DEFAULT_CATCH_ALL_THRESHOLD,
        synchronousCommit: false,
      });
    const a = { delivered: 1, bounced: 0, firstEventAt: 1_700_000_000_000 };
    const delta = new Map([['a.com', { ...a, lastEventAt: a.firstEventAt }]]);
    const copy = (offset: number): RedrivenEvent => ({
      digest: 'v',
      origin: 't:0:0',
      offset,
      domain: 'a.com',
      at: 1_700_000_000_000,
      event: { type: 'delivered', occurredAt: 1_700_000_000_000 },
    });
    // Version 1 dead-letters the record; version 2, rebuilt after the fix, counts it itself.
    await store(1).flush({
      topic: 't',
      partition: 0,
      expected: null,
      next: 1,
      deltas: new Map(),
      deadLettered: [{ coordinates: 't:0:0', digest: 'v' }],
    });
    const rebuilt = await createVersion(db.pool, {
      threshold: DEFAULT_CATCH_ALL_THRESHOLD,
      consumerGroup: (v) => `group-v${v}`,
      startedFrom: 'earliest',
    });
    await store(rebuilt).flush({
      topic: 't',
      partition: 0,
      expected: null,
      next: 1,
      deltas: delta,
    });
    await markReady(db.pool, rebuilt);
    await switchLive(db.pool, rebuilt);
    await dropVersion(db.pool, 1);
    // A copy redriven from the dead letter version 1 wrote, read by version 2.
    await store(rebuilt).flush({
      topic: 't',
      partition: 0,
      expected: 1,
      next: 3,
      deltas: new Map(),
      redriven: [copy(1), copy(2)],
    });
    const { rows } = await db.pool.query<{ delivered: number }>(
      "SELECT delivered::int FROM domain_stats WHERE version = $1 AND domain = 'a.com'",
      [rebuilt],
    );
    expect(rows).toEqual([{ delivered: 1 }]);
  });

  projectionStoreContract(async () => ({
    store: createProjectionStore({
      pool: db.pool,
      version: 1,
      threshold: DEFAULT_CATCH_ALL_THRESHOLD,
      synchronousCommit: false,
    }),
    async rows() {
      const { rows } = await db.pool.query<{
        domain: string;
        delivered: string;
        bounced: string;
        first: number;
        last: number;
      }>(
        `SELECT domain, delivered, bounced,
                extract(epoch FROM first_event_at) * 1000 AS first,
                extract(epoch FROM last_event_at) * 1000 AS last
         FROM domain_stats WHERE version = 1`,
      );
      return new Map(
        rows.map((r) => [
          r.domain,
          {
            delivered: Number(r.delivered),
            bounced: Number(r.bounced),
            firstEventAt: Number(r.first),
            lastEventAt: Number(r.last),
          },
        ]),
      );
    },
  }));
});

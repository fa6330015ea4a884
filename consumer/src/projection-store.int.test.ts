import { DEFAULT_CATCH_ALL_THRESHOLD } from '@catchall/core';
import {
  createTestDatabase,
  readModelCounts,
  type TestDatabase,
} from '../../test/support/postgres';
import { createProjectionStore } from './projection-store';

const delta = (delivered: number, bounced: number) => ({
  delivered,
  bounced,
  firstEventAt: 1_700_000_000_000,
  lastEventAt: 1_700_000_001_000,
});

describe('the projection store on a real Postgres', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await db.drop();
  });
  /** The live version's store with the default threshold. */
  const openStore = (synchronousCommit = false) =>
    createProjectionStore({
      pool: db.pool,
      version: 1,
      threshold: DEFAULT_CATCH_ALL_THRESHOLD,
      synchronousCommit,
    });

  it('given no stored position, when a flush claims one, then counts and position are written together', async () => {
    const store = openStore();
    expect(await store.loadPosition('t', 0)).toBeNull();
    const outcome = await store.flush({
      topic: 't',
      partition: 0,
      expected: null,
      next: 3,
      deltas: new Map([
        ['a.com', delta(2, 0)],
        ['b.com', delta(0, 1)],
      ]),
    });
    expect(outcome).toBe('committed');
    expect(await store.loadPosition('t', 0)).toBe(3);
    expect(Object.fromEntries(await readModelCounts(db.pool))).toEqual({
      'a.com': { delivered: 2, bounced: 0 },
      'b.com': { delivered: 0, bounced: 1 },
    });
  });

  it('adds to existing counts and widens the event time span', async () => {
    const store = openStore(true);
    await store.flush({
      topic: 't',
      partition: 0,
      expected: null,
      next: 1,
      deltas: new Map([['a.com', delta(1, 0)]]),
    });
    await store.flush({
      topic: 't',
      partition: 0,
      expected: 1,
      next: 2,
      deltas: new Map([
        [
          'a.com',
          {
            delivered: 1,
            bounced: 1,
            firstEventAt: 1_600_000_000_000,
            lastEventAt: 1_800_000_000_000,
          },
        ],
      ]),
    });
    const { rows } = await db.pool.query(
      'SELECT delivered, bounced, first_event_at, last_event_at FROM domain_stats WHERE domain = $1',
      ['a.com'],
    );
    expect(rows[0]).toMatchObject({ delivered: '2', bounced: '1' });
    expect((rows[0].first_event_at as Date).getTime()).toBe(1_600_000_000_000);
    expect((rows[0].last_event_at as Date).getTime()).toBe(1_800_000_000_000);
  });

  it('refuses a flush from a stale position and writes nothing (compare-and-set)', async () => {
    const live = openStore();
    await live.flush({
      topic: 't',
      partition: 1,
      expected: null,
      next: 10,
      deltas: new Map([['a.com', delta(10, 0)]]),
    });
    // A member that lost the partition still believes the position is where it read it.
    const stale = await live.flush({
      topic: 't',
      partition: 1,
      expected: null,
      next: 12,
      deltas: new Map([['a.com', delta(2, 0)]]),
    });
    expect(stale).toBe('conflict');
    const behind = await live.flush({
      topic: 't',
      partition: 1,
      expected: 8,
      next: 12,
      deltas: new Map([['a.com', delta(4, 0)]]),
    });
    expect(behind).toBe('conflict');
    expect(await live.loadPosition('t', 1)).toBe(10);
    expect((await readModelCounts(db.pool)).get('a.com')).toEqual({ delivered: 10, bounced: 0 });
  });

  it('moves the position even when a flush has no counts (dead letters only)', async () => {
    const store = openStore();
    expect(
      await store.flush({ topic: 't', partition: 2, expected: null, next: 5, deltas: new Map() }),
    ).toBe('committed');
    expect(await store.loadPosition('t', 2)).toBe(5);
  });

  it('keeps partitions apart: each has its own position', async () => {
    const store = openStore();
    await store.flush({
      topic: 't',
      partition: 0,
      expected: null,
      next: 4,
      deltas: new Map([['a.com', delta(1, 0)]]),
    });
    await store.flush({
      topic: 't',
      partition: 1,
      expected: null,
      next: 9,
      deltas: new Map([['a.com', delta(1, 0)]]),
    });
    expect(await store.loadPosition('t', 0)).toBe(4);
    expect(await store.loadPosition('t', 1)).toBe(9);
    expect((await readModelCounts(db.pool)).get('a.com')).toEqual({ delivered: 2, bounced: 0 });
  });

  it('accepts positions from the Kafka cluster they were read from and refuses another one', async () => {
    const store = openStore();
    await store.claimSource('t', 'cluster-a');
    await store.claimSource('t', 'cluster-a');
    await expect(store.claimSource('t', 'cluster-b')).rejects.toThrow(/cluster-a.*cluster-b/s);
    await store.claimSource('other-topic', 'cluster-b');
  });
});

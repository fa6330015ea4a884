import { DEFAULT_CATCH_ALL_THRESHOLD } from '@catchall/core';
import { projectionStoreContract } from '../../test/support/projection-store-contract';
import { createTestDatabase, type TestDatabase } from '../../test/support/postgres';
import {
  createProjectionStore,
  type PartitionFlush,
  type RedrivenEvent,
  type RedrivenOutcome,
} from './projection-store';

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

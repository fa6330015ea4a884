import { DEFAULT_CATCH_ALL_THRESHOLD } from '@catchall/core';
import { projectionStoreContract } from '../../test/support/projection-store-contract';
import { createTestDatabase, type TestDatabase } from '../../test/support/postgres';
import { createProjectionStore } from './projection-store';

describe('the projection store on a real Postgres', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await db.drop();
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

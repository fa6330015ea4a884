import { domainStatus, domainStatusSql } from '@catchall/core';
import { createTestDatabase, type TestDatabase } from '../../test/support/postgres';

describe('the status rule in SQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it('agrees with domainStatus on every combination around the thresholds', async () => {
    const cases: { delivered: number; bounced: number; threshold: number }[] = [];
    for (const threshold of [0, 1, 1000])
      for (const delivered of [0, 1, threshold - 1, threshold, threshold + 1, 10 * threshold + 5])
        for (const bounced of [0, 1, 7])
          if (delivered >= 0) cases.push({ delivered, bounced, threshold });
    const { rows } = await db.pool.query<{ status: string }>(
      `SELECT ${domainStatusSql('g.d', 'g.b', 'g.t')}::text AS status
       FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS g(d, b, t, i)
       ORDER BY g.i`,
      [cases.map((c) => c.delivered), cases.map((c) => c.bounced), cases.map((c) => c.threshold)],
    );
    expect(rows.map((r) => r.status)).toEqual(cases.map((c) => domainStatus(c, c.threshold)));
  });
});

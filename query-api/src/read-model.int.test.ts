import { createPostgresCheck } from '@catchall/core';
import { createEmptyDatabase, createTestDatabase } from '../../test/support/postgres';
import { testLogger } from '../../test/support/logger';
import { READ_MODEL_CHECK_STATEMENT } from './read-model';

/** The query API's Postgres check on `url`, stopped by the caller. */
function readModelCheck(url: string) {
  return createPostgresCheck({
    connectionString: url,
    applicationName: 'catchall-query-api-check',
    statement: READ_MODEL_CHECK_STATEMENT,
    intervalMs: 60000,
    timeoutMs: 2000,
    logger: testLogger('query-api'),
  });
}

describe('the query API readiness check of Postgres', () => {
  it('fails on a database setup never migrated, and passes on a migrated one', async () => {
    const database = await createEmptyDatabase('catchall_empty');
    const migrated = await createTestDatabase();
    const empty = readModelCheck(database.url);
    const ready = readModelCheck(migrated.url);
    try {
      await Promise.all([empty.started, ready.started]);
      // Not ready (and so no 500 to every lookup): the read model's table is missing.
      await expect(empty.check()).rejects.toThrow(/^Postgres: .*SQLSTATE 42P01/);
      await expect(ready.check()).resolves.toBeUndefined();
    } finally {
      await Promise.all([empty.stop(), ready.stop()]);
      await migrated.drop();
      await database.drop();
    }
  });
});

import pg from 'pg';
import { createEmptyDatabase, createTestDatabase } from '../../test/support/postgres';
import { createReadModel } from './read-model';

describe('the read model readiness check (ping)', () => {
  it('fails on a database setup never migrated, and passes on a migrated one', async () => {
    const database = await createEmptyDatabase('catchall_empty');
    const empty = new pg.Pool({ connectionString: database.url, max: 1 });
    const migrated = await createTestDatabase();
    try {
      // Not ready (and so no 500 to every lookup): the read model's table is missing.
      await expect(createReadModel({ pool: empty }).ping()).rejects.toMatchObject({
        code: '42P01',
      });
      await expect(createReadModel({ pool: migrated.pool }).ping()).resolves.toBeUndefined();
    } finally {
      await empty.end();
      await migrated.drop();
      await database.drop();
    }
  });
});

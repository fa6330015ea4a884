import pg from 'pg';
import { testInfra, uniqueName } from '../../test/support/env';
import { createTestDatabase } from '../../test/support/postgres';
import { createReadModel } from './read-model';

describe('the read model readiness check (ping)', () => {
  it('fails on a database setup never migrated, and passes on a migrated one', async () => {
    const name = uniqueName('catchall_empty').replace(/-/g, '_');
    const admin = new pg.Client({ connectionString: testInfra().postgresAdminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(testInfra().postgresAdminUrl);
    url.pathname = `/${name}`;
    const empty = new pg.Pool({ connectionString: url.toString(), max: 1 });
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
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });
});

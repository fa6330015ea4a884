import fs from 'node:fs';
import pg from 'pg';
import { testInfra, uniqueName } from '../../test/support/env';
import { testLogger } from '../../test/support/logger';
import { migrate, MIGRATIONS_DIR } from './migrate';

describe('migrate', () => {
  it('lets several processes migrate one new database at once: each waits, none fails', async () => {
    const name = uniqueName('catchall_migrate').replace(/-/g, '_');
    const admin = new pg.Client({ connectionString: testInfra().postgresAdminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(testInfra().postgresAdminUrl);
    url.pathname = `/${name}`;
    const db = new pg.Client({ connectionString: url.toString() });
    try {
      // node-pg-migrate's own try-lock failed the second of two concurrent runs.
      const runs = await Promise.allSettled(
        Array.from({ length: 4 }, () =>
          migrate({ databaseUrl: url.toString(), logger: testLogger() }),
        ),
      );
      expect(runs.map((r) => r.status)).toEqual([
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'fulfilled',
      ]);

      await db.connect();
      const { rows } = await db.query<{ name: string }>(
        'SELECT name FROM pgmigrations ORDER BY id',
      );
      const files = fs
        .readdirSync(MIGRATIONS_DIR)
        .filter((f) => /\.(js|ts|sql)$/.test(f))
        .map((f) => f.replace(/\.(js|ts|sql)$/, ''))
        .sort();
      // Every migration applied exactly once.
      expect(rows.map((r) => r.name)).toEqual(files);
      // And no session is left holding the lock.
      const locks = await db.query(
        "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = $1)",
        [name],
      );
      expect(locks.rowCount).toBe(0);
    } finally {
      await db.end();
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });
});

import fs from 'node:fs';
import pg from 'pg';
import { createEmptyDatabase } from '../../test/support/postgres';
import { testLogger } from '../../test/support/logger';
import { migrate, MIGRATIONS_DIR } from './migrate';

describe('migrate', () => {
  it('lets several processes migrate one new database at once: each waits, none fails', async () => {
    const empty = await createEmptyDatabase('catchall_migrate');
    const db = new pg.Client({ connectionString: empty.url });
    try {
      // node-pg-migrate's own try-lock failed the second of two concurrent runs.
      const runs = await Promise.allSettled(
        Array.from({ length: 4 }, () => migrate({ databaseUrl: empty.url, logger: testLogger() })),
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
        [empty.name],
      );
      expect(locks.rowCount).toBe(0);
    } finally {
      await db.end();
      await empty.drop();
    }
  });
});

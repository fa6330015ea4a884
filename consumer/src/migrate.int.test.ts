import fs from 'node:fs';
import pg from 'pg';
import { createEmptyDatabase } from '../../test/support/postgres';
import { testLogger } from '../../test/support/logger';
import { runner } from 'node-pg-migrate';
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

  it('gives the event ids of each version a unique index without the version, keeping every id, and takes it back down', async () => {
    const empty = await createEmptyDatabase('catchall_migrate_event_ids');
    const db = new pg.Client({ connectionString: empty.url });
    await db.connect();
    const indexesOf = async (table: string) =>
      (
        await db.query<{ def: string }>(
          'SELECT indexdef AS def FROM pg_indexes WHERE tablename = $1 ORDER BY 1',
          [table],
        )
      ).rows.map((r) => r.def.replace(/^.* USING /, ''));
    const store = (key: number, at: number) =>
      db.query('INSERT INTO event_ids (version, key, at) VALUES (1, md5($1)::uuid, $2)', [
        String(key),
        at,
      ]);
    try {
      // The read model as it was before: ids stored under the inherited primary key.
      await runner({
        dbClient: db,
        dir: MIGRATIONS_DIR,
        direction: 'up',
        migrationsTable: 'pgmigrations',
        count: 1700000000008,
        timestamp: true,
        singleTransaction: true,
        noLock: true,
        log: () => undefined,
      });
      await db.query(
        'CREATE TABLE event_ids_v1_b1 PARTITION OF event_ids_v1 FOR VALUES FROM (900000) TO (1800000)',
      );
      await db.query(
        'INSERT INTO event_ids SELECT 1, md5(g::text)::uuid, 900000 + g FROM generate_series(1, 1000) g',
      );
      expect(await indexesOf('event_ids_v1_b1')).toEqual(['btree (version, key, at)']);

      await migrate({ databaseUrl: empty.url, logger: testLogger() });
      expect(await indexesOf('event_ids_v1_b1')).toEqual(['btree (key, at)']);
      const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM event_ids');
      expect(Number(rows[0]!.n)).toBe(1000);
      // A try stored twice is still refused, in a table made before the migration and after.
      await expect(store(7, 900007)).rejects.toMatchObject({ code: '23505' });
      await db.query(
        'CREATE TABLE event_ids_v1_b2 PARTITION OF event_ids_v1 FOR VALUES FROM (1800000) TO (2700000)',
      );
      expect(await indexesOf('event_ids_v1_b2')).toEqual(['btree (key, at)']);
      await store(7, 1800007);
      await expect(store(7, 1800007)).rejects.toMatchObject({ code: '23505' });

      await runner({
        dbClient: db,
        dir: MIGRATIONS_DIR,
        direction: 'down',
        migrationsTable: 'pgmigrations',
        file: '1700000000009_event-ids-version-index',
        singleTransaction: true,
        noLock: true,
        log: () => undefined,
      });
      expect(await indexesOf('event_ids_v1_b1')).toEqual(['btree (version, key, at)']);
      expect(await indexesOf('event_ids_v1_b2')).toEqual(['btree (version, key, at)']);
    } finally {
      await db.end();
      await empty.drop();
    }
  });
});

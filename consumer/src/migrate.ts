import path from 'node:path';
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import type { Logger } from '@catchall/core';

export const MIGRATIONS_DIR = path.join(__dirname, '..', 'migrations');

/**
 * The advisory lock key (a bigint) that serialises migrations of one database. It is the key
 * node-pg-migrate itself uses, so a `node-pg-migrate up` run by hand waits for us and we for it.
 */
const MIGRATION_LOCK_KEY = '7241865325823964';

/**
 * Brings the read model's tables up to date; safe to run concurrently and repeatedly.
 *
 * node-pg-migrate's own lock is `pg_try_advisory_lock`: a second process migrating at the same
 * moment fails with "Another migration is already running" (several consumers starting at
 * once, or two `npm run dlq` runs). Here each caller waits on `pg_advisory_lock` instead, on
 * the session that then runs the migrations, so the later ones find nothing left to apply.
 *
 * @param options.databaseUrl a Postgres connection string
 * @throws the Postgres error of a failed migration (the migration's transaction is rolled back)
 */
export async function migrate(options: { databaseUrl: string; logger: Logger }): Promise<void> {
  const log = options.logger.child({ component: 'migrate' });
  const client = new pg.Client({ connectionString: options.databaseUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    const applied = await runner({
      dbClient: client,
      dir: MIGRATIONS_DIR,
      direction: 'up',
      migrationsTable: 'pgmigrations',
      count: Infinity,
      singleTransaction: true,
      // The lock above is held on this session already.
      noLock: true,
      logger: {
        debug: (msg: string) => log.debug(msg),
        info: (msg: string) => log.debug(msg),
        warn: (msg: string) => log.warn(msg),
        error: (msg: string) => log.error(msg),
      },
    });
    log.info({ applied: applied.map((m) => m.name) }, 'read model migrated');
  } finally {
    // Ending the session releases the advisory lock with it.
    await client.end();
  }
}

import { readdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import { errorCatalogue, queryPool, type Logger } from '@catchall/core';

export const MIGRATIONS_DIR = path.join(__dirname, '..', 'migrations');

/**
 * The advisory lock key (a bigint) that serialises migrations of one database. It is the key
 * node-pg-migrate itself uses, so a `node-pg-migrate up` run by hand waits for us and we for it.
 * The library does not export it (a constant of its runner): migrate.unit.test.ts reads the
 * installed library's builds and fails when their key is another.
 */
export const MIGRATION_LOCK_KEY = '7241865325823964';

/** The table node-pg-migrate records applied migrations in, by name. */
const MIGRATIONS_TABLE = 'pgmigrations';

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
      migrationsTable: MIGRATIONS_TABLE,
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

/** The read model lacks migrations that a program which does not migrate needs. */
export class SchemaBehind extends Error {
  readonly code = errorCatalogue.schemaBehind.code;
  readonly retriable = errorCatalogue.schemaBehind.retriable;
}

/**
 * The migrations this build carries, by name as node-pg-migrate records them: the files of
 * MIGRATIONS_DIR without their extension, dot files left out (its default ignore pattern).
 */
export function knownMigrations(): string[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => !f.startsWith('.'))
    .map((f) => path.basename(f, path.extname(f)))
    .sort();
}

/**
 * The migrations of this build that the database has not applied (all of them on a database
 * never migrated), read without writing anything: no lock, no table created.
 *
 * @throws PostgresFailure (queryPool) when Postgres cannot be read
 */
export async function pendingMigrations(pool: pg.Pool): Promise<string[]> {
  const { rows } = await queryPool<{ present: boolean }>(
    pool,
    'SELECT to_regclass($1) IS NOT NULL AS present',
    [MIGRATIONS_TABLE],
  );
  if (!rows[0]!.present) return knownMigrations();
  const applied = await queryPool<{ name: string }>(pool, `SELECT name FROM ${MIGRATIONS_TABLE}`);
  const names = new Set(applied.rows.map((r) => r.name));
  return knownMigrations().filter((m) => !names.has(m));
}

/**
 * For a program that reads the read model but does not change its schema (`npm run dlq --
 * redrive`): throws SchemaBehind, naming the missing migrations and what applies them, when
 * the database lacks any of this build's migrations. Migrations applied that this build does
 * not know (a newer projector) are left to their own compatibility.
 */
export async function checkSchemaCurrent(pool: pg.Pool, program: string): Promise<void> {
  const pending = await pendingMigrations(pool);
  if (pending.length === 0) return;
  throw new SchemaBehind(
    `the read model lacks ${pending.length} migration(s) that ${program} needs (${pending.join(', ')}); ${program} does not change the schema: run npm run setup, or start the projector (it migrates at start unless MIGRATE_ON_START=false), then run it again`,
  );
}

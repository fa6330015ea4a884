import path from 'node:path';
import { runner } from 'node-pg-migrate';
import type { Logger } from '@catchall/core';

export const MIGRATIONS_DIR = path.join(__dirname, '..', 'migrations');

/** Brings the read model's tables up to date; safe to run concurrently and repeatedly. */
export async function migrate(options: { databaseUrl: string; logger: Logger }): Promise<void> {
  const log = options.logger.child({ component: 'migrate' });
  const applied = await runner({
    databaseUrl: options.databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    count: Infinity,
    singleTransaction: true,
    // Takes an advisory lock so that several processes starting at once do not collide.
    noLock: false,
    logger: {
      debug: (msg: string) => log.debug(msg),
      info: (msg: string) => log.debug(msg),
      warn: (msg: string) => log.warn(msg),
      error: (msg: string) => log.error(msg),
    },
  });
  log.info({ applied: applied.map((m) => m.name) }, 'read model migrated');
}

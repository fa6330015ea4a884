import type pg from 'pg';
import { isRetriable, type Logger } from '@catchall/core';
import type { Projector } from './projector';
import type { ProjectionStore } from './projection-store';
import { liveReadModelVersion } from './read-model-version';

/**
 * After a rebuild switched the live read model version (or a rollback switched back), the
 * projector continues the live one from its stored positions: every `intervalMs` this reads
 * `live_read_model` and hands the projector the store of the version found there. One check
 * runs at a time; a failed check that may pass (isRetriable: Postgres unavailable) is logged
 * and the next one tries again; any other stops the checks and goes to `onFatal` (the
 * service exits non-zero: writing a version queries no longer read is no way to go on).
 * Returns the stop.
 */
export function followLiveVersion(options: {
  pool: pg.Pool;
  projector: Projector;
  openStore: (version: number) => Promise<ProjectionStore>;
  intervalMs: number;
  logger: Logger;
  onFatal?: (err: unknown) => void;
}): () => void {
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    liveReadModelVersion(options.pool)
      .then(async (live) => {
        if (live !== options.projector.version()) {
          await options.projector.useStore(await options.openStore(live));
        }
      })
      .catch((err: unknown) => {
        if (isRetriable(err)) {
          options.logger.warn({ err }, 'checking the live read model version failed; will retry');
          return;
        }
        clearInterval(timer);
        options.logger.fatal({ err }, 'following the live read model version failed for good');
        options.onFatal?.(err);
      })
      .finally(() => {
        checking = false;
      });
  }, options.intervalMs);
  return () => clearInterval(timer);
}

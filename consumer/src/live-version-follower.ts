import type pg from 'pg';
import type { Logger } from '@catchall/core';
import type { Projector } from './projector';
import type { ProjectionStore } from './projection-store';
import { liveReadModelVersion } from './read-model-version';

/**
 * After a rebuild switched the live read model version (or a rollback switched back), the
 * projector continues the live one from its stored positions: every `intervalMs` this reads
 * `live_read_model` and hands the projector the store of the version found there. One check
 * runs at a time; a failed check is logged and the next one tries again. Returns the stop.
 */
export function followLiveVersion(options: {
  pool: pg.Pool;
  projector: Projector;
  openStore: (version: number) => Promise<ProjectionStore>;
  intervalMs: number;
  logger: Logger;
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
      .catch((err: unknown) =>
        options.logger.warn({ err }, 'checking the live read model version failed'),
      )
      .finally(() => {
        checking = false;
      });
  }, options.intervalMs);
  return () => clearInterval(timer);
}

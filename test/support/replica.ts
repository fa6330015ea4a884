import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../scripts/src/infra/ports';
import { startPostgres, type RunningPostgres } from '../../scripts/src/infra/postgres';
import { startStandby, type RunningStandby } from '../../scripts/src/infra/postgres-standby';

export interface ReplicatedPostgres {
  primary: RunningPostgres;
  /** A hot standby streaming from `primary`. */
  standby: RunningStandby;
  /** Stops the standby, then the primary, and removes their data; idempotent. */
  stop(): Promise<void>;
}

/**
 * A primary and a hot standby streaming from it, of their own on free loopback ports: the
 * suite's shared Postgres cannot be copied from here, and a test that pauses replay or makes
 * a recovery conflict must not disturb the other tests. Small buffers: two servers more.
 */
export async function startReplicatedPostgres(
  options: { standbySettings?: string[] } = {},
): Promise<ReplicatedPostgres> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'catchall-replica-'));
  // As root the servers run as `postgres`, which must be able to enter this folder.
  chmodSync(base, 0o755);
  const started: { stop(): Promise<void> }[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      for (const server of started.reverse()) await server.stop();
      rmSync(base, { recursive: true, force: true });
    })();
    return stopping;
  };
  try {
    const primary = await startPostgres({
      dataDir: path.join(base, 'primary', 'data'),
      logFile: path.join(base, 'primary.log'),
      port: await freePort(),
      sharedBuffers: '32MB',
    });
    started.push(primary);
    const standby = await startStandby({
      primary,
      dataDir: path.join(base, 'standby', 'data'),
      logFile: path.join(base, 'standby.log'),
      port: await freePort(),
      sharedBuffers: '32MB',
      settings: options.standbySettings,
    });
    started.push(standby);
    return { primary, standby, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

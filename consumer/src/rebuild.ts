import type { Kafka } from 'kafkajs';
import type pg from 'pg';
import { createMetricsRegistry, type Logger } from '@catchall/core';
import type { EventDecoder } from '@catchall/schemas';
import type { DeadLetters } from './dead-letters';
import { createConsumerMetrics } from './metrics';
import { TRANSIENT_DEAD_LETTER_REASONS } from './record-decoder';
import { checkTruncation, startOffsets } from './rebuild-offsets';
import { followUntilCaughtUp, sleep, topicEnds } from './rebuild-progress';

export { RebuildRefused } from './rebuild-offsets';
import { createProjectionStore, type ProjectionStore } from './projection-store';
import { createProjector } from './projector';
import {
  createVersion,
  getVersion,
  listVersions,
  markReady,
  switchLive,
  type ReadModelVersion,
} from './read-model-version';

export interface RebuildOptions {
  pool: pg.Pool;
  kafka: Kafka;
  codec: EventDecoder;
  topic: string;
  /** The live projector's group; a rebuild's group is `<group>-rebuild-v<N>`. */
  consumerGroup: string;
  /** Threshold of a new version. */
  threshold: number;
  /**
   * DEDUPE_WINDOW_S in milliseconds: the live projector's, for the same numbers (default
   * DEFAULT_DEDUPE_WINDOW_MS).
   */
  dedupeWindowMs?: number;
  /** Start at the first records at or after this time instead of the earliest offsets. */
  fromTime?: Date;
  /** Rebuild although retention already deleted records (the counts then miss them). */
  acceptTruncated: boolean;
  /** Start a new version even when an unfinished one could be resumed. */
  fresh: boolean;
  /** Switch the query API to the new version once it has caught up (else only mark it ready). */
  switchWhenReady: boolean;
  /**
   * Switch even though records were dead-lettered for a reason that may not last (a schema
   * id the registry did not know: a lagging or restored registry), which the live version
   * may have counted.
   */
  acceptTransientDeadLetters?: boolean;
  /** See ProjectorOptions.partitionStallMs (default 90 s). */
  partitionStallMs?: number;
  /** Caught up: at most this many records behind the topic's end, summed over partitions. */
  switchLag: number;
  flushIntervalMs: number;
  maxPendingDomains: number;
  partitionsConsumedConcurrently: number;
  sessionTimeoutMs: number;
  /** See ProjectorOptions.fetchMaxBytes. */
  fetchMaxBytes?: number;
  maxPartitionFetchBytes?: number;
  logger: Logger;
  onProgress?: (progress: RebuildProgress) => void;
  /** How often progress is measured. */
  progressIntervalMs?: number;
  /** Aborting stops the rebuild after flushing: running it again resumes. */
  signal?: AbortSignal;
}

export interface RebuildProgress {
  version: number;
  /** Records applied since the rebuild started (this run and earlier ones). */
  applied: number;
  /** Records from the starting offsets to the topic's current end. */
  total: number;
  /** Records behind the end of the topic. */
  lag: number;
  /** Records applied per second, over the last interval. */
  eventsPerSecond: number;
  /** At the current rates (applying minus arriving), seconds until caught up; null if never. */
  secondsLeft: number | null;
}

export interface RebuildResult {
  version: number;
  outcome: 'switched' | 'ready' | 'interrupted';
  previous?: number;
  /**
   * Records not counted for a reason that may not last, by reason: the switch was withheld
   * (outcome `ready`) unless acceptTransientDeadLetters.
   */
  transientDeadLetters?: Record<string, number>;
}

/** The newest unfinished rebuild of this group, to resume. */
async function unfinishedVersion(
  options: RebuildOptions,
  groupOf: (version: number) => string,
): Promise<ReadModelVersion | undefined> {
  if (options.fresh) return undefined;
  return (await listVersions(options.pool))
    .filter((v) => v.state === 'building' && v.consumerGroup === groupOf(v.version))
    .pop();
}

/**
 * Rebuilds the read model from the topic into a new version beside the live one: its own
 * partition of domain_stats, its own consumer group and positions, filled by the same
 * projector as the live one. Once caught up it is marked ready and (by default) made live
 * in one transaction; the live projector then follows it from its stored positions. The
 * old version stays until dropped, so the switch can be rolled back. Interrupted, it
 * stops after flushing; run again, it resumes where it stopped.
 */
export async function rebuild(options: RebuildOptions): Promise<RebuildResult> {
  const log = options.logger.child({ component: 'rebuild' });
  const groupOf = (version: number) => `${options.consumerGroup}-rebuild-v${version}`;
  const admin = options.kafka.admin();
  await admin.connect();
  try {
    const ends = await topicEnds(admin, options.topic);
    const resumable = await unfinishedVersion(options, groupOf);
    const stored = resumable
      ? await storeFor(options, resumable.version, resumable.threshold).positions(options.topic)
      : new Map<number, number>();
    const continuing = stored.size > 0;
    const from = continuing ? stored : await startOffsets(admin, options, ends);
    // Before anything is created: a refused rebuild leaves nothing behind.
    checkTruncation(options, ends, from, continuing);
    const resumed = resumable !== undefined;
    const version =
      resumable ??
      (await getVersion(
        options.pool,
        await createVersion(options.pool, {
          threshold: options.threshold,
          consumerGroup: groupOf,
          startedFrom: options.fromTime ? options.fromTime.toISOString() : 'earliest',
        }),
      ));
    const store = storeFor(options, version.version, version.threshold);
    await store.initPositions(options.topic, from);
    // Where this version started, for the progress figures.
    const start = continuing
      ? await startOffsets(
          admin,
          {
            ...options,
            fromTime:
              version.startedFrom && version.startedFrom !== 'earliest'
                ? new Date(version.startedFrom)
                : undefined,
          },
          ends,
        )
      : from;
    log.info(
      { version: version.version, resumed, group: groupOf(version.version) },
      resumed ? 'resuming the rebuild' : 'rebuilding into a new read model version',
    );

    const transient = new Map<string, number>();
    // A failure the rebuild's projector cannot mend ends the rebuild with that failure.
    let fatal: unknown;
    const failed = new AbortController();
    const signal = options.signal
      ? AbortSignal.any([options.signal, failed.signal])
      : failed.signal;
    const following = { ...options, signal };
    const projector = createProjector({
      kafka: options.kafka,
      codec: options.codec,
      store,
      deadLetters: loggedDeadLetters(log, transient),
      topic: options.topic,
      groupId: groupOf(version.version),
      flushIntervalMs: options.flushIntervalMs,
      maxPendingDomains: options.maxPendingDomains,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
      sessionTimeoutMs: options.sessionTimeoutMs,
      fetchMaxBytes: options.fetchMaxBytes,
      maxPartitionFetchBytes: options.maxPartitionFetchBytes,
      partitionStallMs: options.partitionStallMs,
      logger: log,
      metrics: createConsumerMetrics(createMetricsRegistry('rebuild')),
      onFatal: (err) => {
        fatal = err;
        failed.abort();
      },
    });
    await projector.start();
    try {
      const target = new Map([...ends].map(([partition, { high }]) => [partition, high]));
      /** The projector's fatal failure, rethrown as it was caught (an Error or not). */
      const throwIfFatal = () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error
        if (fatal !== undefined) throw fatal;
      };
      const caughtUp = await followUntilCaughtUp(
        following,
        admin,
        store,
        start,
        target,
        version.version,
      );
      throwIfFatal();
      if (!caughtUp) return { version: version.version, outcome: 'interrupted' };
      const leftOut = transient.size > 0 ? Object.fromEntries(transient) : undefined;
      await markReady(options.pool, version.version, leftOut);
      if (leftOut !== undefined && !options.acceptTransientDeadLetters) {
        const transientDeadLetters = leftOut;
        log.warn(
          { version: version.version, transientDeadLetters },
          'not switching: records were left out for a reason that may not last; check the registry, then switch or rebuild again',
        );
        return { version: version.version, outcome: 'ready', transientDeadLetters };
      }
      if (!options.switchWhenReady) {
        log.info({ version: version.version }, 'rebuilt version is ready (not switched)');
        return { version: version.version, outcome: 'ready' };
      }
      // The projector keeps running until the switch: the new version must be at or past
      // the live one on every partition when it goes live.
      // Given the signal that a fatal failure aborts too: a projector that stopped would
      // never bring the version ahead.
      const switched = await switchWhenAhead(following, version.version);
      throwIfFatal();
      if (!switched) return { version: version.version, outcome: 'ready' };
      log.info(
        { version: version.version, previous: switched.from },
        'switched the live read model',
      );
      return { version: version.version, outcome: 'switched', previous: switched.from };
    } finally {
      await projector.stop();
      await admin
        .deleteGroups([groupOf(version.version)])
        .catch((err: unknown) =>
          log.warn({ err }, 'deleting the rebuild consumer group failed (it expires by itself)'),
        );
    }
  } finally {
    await admin.disconnect();
  }
}

function storeFor(
  options: RebuildOptions,
  version: number,
  threshold: number | null,
): ProjectionStore {
  return createProjectionStore({
    pool: options.pool,
    version,
    threshold: threshold ?? options.threshold,
    synchronousCommit: false,
    ...(options.dedupeWindowMs === undefined ? {} : { dedupeWindowMs: options.dedupeWindowMs }),
  });
}

/** Tries the guarded switch until the new version is ahead (a few flushes), or aborted. */
async function switchWhenAhead(
  options: RebuildOptions,
  version: number,
): Promise<{ from: number; to: number } | null> {
  for (;;) {
    // Never after an abort: a projector that stopped for good (or a caller that gave up)
    // must not see its version go live.
    if (options.signal?.aborted) return null;
    // Reached only when nothing was left out, or the caller accepted what was.
    const switched = await switchLive(options.pool, version, {
      notBehindOn: options.topic,
      acceptLeftOut: options.acceptTransientDeadLetters,
    });
    if (switched) return switched;
    await sleep(options.flushIntervalMs, options.signal);
  }
}

/**
 * A rebuild reads records the live projector already judged: those it dead-lettered are
 * in the dead-letter topic once. The rebuild logs them rather than appending them again,
 * and tallies those left out for a reason that may not last.
 */
function loggedDeadLetters(log: Logger, transient: Map<string, number>): DeadLetters {
  return {
    send(letters) {
      for (const { partition, message, reason, detail } of letters) {
        if (TRANSIENT_DEAD_LETTER_REASONS.has(reason)) {
          transient.set(reason, (transient.get(reason) ?? 0) + 1);
        }
        log.warn(
          { partition, offset: message.offset, reason, detail },
          'record not counted (the live projector dead-letters it)',
        );
      }
      return Promise.resolve();
    },
  };
}

import type { Admin, Kafka } from 'kafkajs';
import type pg from 'pg';
import { createMetricsRegistry, type Logger } from '@catchall/core';
import type { EventDecoder } from '@catchall/schemas';
import type { DeadLetters } from './dead-letters';
import { createConsumerMetrics } from './metrics';
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
  /** Start at the first records at or after this time instead of the earliest offsets. */
  fromTime?: Date;
  /** Rebuild although retention already deleted records (the counts then miss them). */
  acceptTruncated: boolean;
  /** Start a new version even when an unfinished one could be resumed. */
  fresh: boolean;
  /** Switch the query API to the new version once it has caught up (else only mark it ready). */
  switchWhenReady: boolean;
  /** Caught up: at most this many records behind the topic's end, summed over partitions. */
  switchLag: number;
  flushIntervalMs: number;
  maxPendingDomains: number;
  partitionsConsumedConcurrently: number;
  sessionTimeoutMs: number;
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
}

/** Refused before anything was written: the message says why and what to do. */
export class RebuildRefused extends Error {}

const sum = (values: Iterable<number>) => [...values].reduce((a, b) => a + b, 0);

async function topicEnds(admin: Admin, topic: string) {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(
    offsets.map((o) => [o.partition, { low: Number(o.low), high: Number(o.high) }] as const),
  );
}

/** The starting offset of each partition: the earliest, or the first at `fromTime`. */
async function startOffsets(
  admin: Admin,
  options: RebuildOptions,
  ends: Map<number, { low: number; high: number }>,
): Promise<Map<number, number>> {
  if (options.fromTime) {
    const byTime = await admin.fetchTopicOffsetsByTimestamp(
      options.topic,
      options.fromTime.getTime(),
    );
    // A partition with nothing at or after that time starts at its end.
    return new Map(
      byTime.map((o) => {
        const offset = Number(o.offset);
        return [o.partition, offset < 0 ? ends.get(o.partition)!.high : offset];
      }),
    );
  }
  return new Map([...ends].map(([partition, { low }]) => [partition, low]));
}

/**
 * Records the rebuild needs but retention deleted: a new rebuild from the earliest offsets
 * needs every record from 0; a resumed one those from its stored positions on.
 */
function checkTruncation(
  options: RebuildOptions,
  ends: Map<number, { low: number }>,
  from: Map<number, number>,
  resumed: boolean,
): void {
  if (options.acceptTruncated || (options.fromTime && !resumed)) return;
  const truncated = [...ends]
    .filter(([partition, { low }]) => (resumed ? (from.get(partition) ?? 0) < low : low > 0))
    .map(([partition, { low }]) => `${partition} (earliest offset ${low})`);
  if (truncated.length === 0) return;
  throw new RebuildRefused(
    `Topic ${options.topic} has lost records the rebuild needs on partition ${truncated.join(', ')}: ` +
      'retention deleted them, so the rebuilt counts would be lower than the true ones. ' +
      'Refusing. Pass --accept-truncated to rebuild from what is left anyway.',
  );
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

    const projector = createProjector({
      kafka: options.kafka,
      codec: options.codec,
      store,
      deadLetters: loggedDeadLetters(log),
      topic: options.topic,
      groupId: groupOf(version.version),
      flushIntervalMs: options.flushIntervalMs,
      maxPendingDomains: options.maxPendingDomains,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
      sessionTimeoutMs: options.sessionTimeoutMs,
      logger: log,
      metrics: createConsumerMetrics(createMetricsRegistry('rebuild')),
    });
    await projector.start();
    try {
      const target = new Map([...ends].map(([partition, { high }]) => [partition, high]));
      if (!(await followUntilCaughtUp(options, admin, store, start, target, version.version))) {
        return { version: version.version, outcome: 'interrupted' };
      }
      await markReady(options.pool, version.version);
      if (!options.switchWhenReady) {
        log.info({ version: version.version }, 'rebuilt version is ready (not switched)');
        return { version: version.version, outcome: 'ready' };
      }
      // The projector keeps running until the switch: the new version must be at or past
      // the live one on every partition when it goes live.
      const switched = await switchWhenAhead(options, version.version);
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
  });
}

/** Tries the guarded switch until the new version is ahead (a few flushes), or aborted. */
async function switchWhenAhead(
  options: RebuildOptions,
  version: number,
): Promise<{ from: number; to: number } | null> {
  for (;;) {
    const switched = await switchLive(options.pool, version, { notBehindOn: options.topic });
    if (switched || options.signal?.aborted) return switched;
    await sleep(options.flushIntervalMs, options.signal);
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function followUntilCaughtUp(
  options: RebuildOptions,
  admin: Admin,
  store: ProjectionStore,
  start: Map<number, number>,
  /** Caught up needs at least these positions: the topic's end when the rebuild began. */
  target: Map<number, number>,
  version: number,
): Promise<boolean> {
  const interval = options.progressIntervalMs ?? 1000;
  let previous: { at: number; applied: number; end: number } | undefined;
  for (;;) {
    if (options.signal?.aborted) return false;
    const [positions, ends] = await Promise.all([
      store.positions(options.topic),
      topicEnds(admin, options.topic),
    ]);
    let applied = 0;
    let lag = 0;
    let total = 0;
    for (const [partition, { high }] of ends) {
      const from = start.get(partition) ?? 0;
      const at = positions.get(partition) ?? from;
      applied += Math.max(0, at - from);
      total += Math.max(0, high - from);
      lag += Math.max(0, high - at);
    }
    const end = sum([...ends.values()].map((e) => e.high));
    const now = Date.now();
    let eventsPerSecond = 0;
    let secondsLeft: number | null = null;
    if (previous) {
      const seconds = (now - previous.at) / 1000;
      eventsPerSecond = (applied - previous.applied) / seconds;
      const closing = eventsPerSecond - (end - previous.end) / seconds;
      secondsLeft = lag === 0 ? 0 : closing > 0 ? lag / closing : null;
    }
    previous = { at: now, applied, end };
    options.onProgress?.({ version, applied, total, lag, eventsPerSecond, secondsLeft });
    if (options.signal?.aborted) return false;
    const reached = [...target].every(
      ([partition, high]) => (positions.get(partition) ?? 0) >= high,
    );
    if (reached && lag <= options.switchLag) return true;
    await sleep(interval, options.signal);
  }
}

/**
 * A rebuild reads records the live projector already judged: those it dead-lettered are
 * in the dead-letter topic once. The rebuild logs them rather than appending them again.
 */
function loggedDeadLetters(log: Logger): DeadLetters {
  return {
    send({ partition, message }, reason, detail) {
      log.warn(
        { partition, offset: message.offset, reason, detail },
        'record not counted (already in the dead-letter topic from the live projector)',
      );
      return Promise.resolve();
    },
  };
}

import { errorCatalogue, isRetriable, type Logger } from '@catchall/core';
import { createBackoff, type Backoff } from './backoff';
import type { ConsumerMetrics } from './metrics';
import { createPartitionState, type PartitionState } from './partition-state';
import type { PartitionWork } from './partition-work';

/** An error of the consumer group itself (a heartbeat failed): kafkajs handles it. */
export class GroupError extends Error {
  readonly code = errorCatalogue.consumerGroup.code;
  readonly retriable = errorCatalogue.consumerGroup.retriable;
  constructor(readonly original: unknown) {
    super('consumer group error', { cause: original });
  }
}

/** A partition that has records to apply and has not moved for `stallMs`. */
export interface StalledPartition {
  partition: number;
  /** The offset of the record the partition waits on (its stored position; 0: none yet). */
  offset: number;
  lag: number;
  /** Milliseconds since the position last moved. */
  forMs: number;
}

/** What the supervision may do to the consumer, for one partition or the whole topic. */
export interface ConsumerControl {
  pause(partition?: number): void;
  resume(partition?: number): void;
}

export interface Partitions {
  /**
   * Runs a task on a partition's state after its earlier ones. A failure drops what is
   * uncommitted; a retriable one pauses the partition with backoff and resumes it from its
   * stored position, a GroupError goes to kafkajs, any other stops the projector (onFatal).
   */
  guarded(
    partition: number,
    during: string,
    task: (s: PartitionState) => Promise<void>,
  ): Promise<void>;
  /** Runs a task on every partition's state (see guarded). */
  each(during: string, task: (s: PartitionState) => Promise<void>): Promise<void>;
  /** Domains pending over every partition. */
  pendingDomains(): number;
  /** The group was joined again with these partitions of the topic. */
  assigned(partitions: number[]): void;
  /**
   * The ends (high watermarks) of the topic's partitions as read from the broker, by
   * partition: each assigned partition takes its own at once, paused or busy, with no task
   * on it (lag is measured from the stored position it knew last). One whose stored position
   * was never read and that its backoff does not hold gets one task that reads it (see
   * PartitionWork.observeEnd); the promise resolves when those reads end, and the caller
   * need not wait for it (a partition stuck in a task would hold it). A failed read is
   * logged; the next reading tries again.
   */
  observeEnds(ends: ReadonlyMap<number, number>): Promise<void>;
  /** Lag per assigned partition whose end and stored position are known (PartitionState.lag). */
  lags(): Map<number, number>;
  /**
   * Seconds the oldest record not yet committed has waited, the most over the assigned
   * partitions (PartitionState.waitingMs at `now`, epoch ms); undefined when no assigned
   * partition's end is known yet.
   */
  staleness(now: number): number | undefined;
  /** Marks the assigned partitions that have lag and have not moved; logs each new one. */
  checkStalls(): void;
  stalled(): StalledPartition[];
  /** The failure that stopped the projector, or undefined. */
  failure(): unknown;
  /** Partitions whose backoff holds them paused (to pause again after a topic-wide resume). */
  paused(): number[];
  /** Stops every backoff and waits for every partition's queued tasks. */
  close(): Promise<void>;
}

/**
 * The per-partition supervision of the projector: each partition's state
 * (partition-state.ts) with its own backoff, failures classified once (isRetriable), and
 * stalls detected (a partition with lag whose position has not moved for `stallMs`).
 */
export function createPartitions(options: {
  topic: string;
  work: PartitionWork;
  consumer: ConsumerControl;
  stallMs: number;
  metrics: ConsumerMetrics;
  log: Logger;
  onFatal?: (err: unknown) => void;
}): Partitions {
  const { topic, work, consumer, metrics, log } = options;
  const entries = new Map<number, { state: PartitionState; backoff: Backoff }>();
  let assigned = new Set<number>();
  const stalledNow = new Set<number>();
  /** Partitions with a read of their stored position queued by observeEnds. */
  const loading = new Set<number>();
  let fatal: unknown;

  function pausedPartitions(): number[] {
    return [...entries].filter(([, e]) => e.backoff.paused()).map(([p]) => p);
  }

  function entryOf(partition: number) {
    let entry = entries.get(partition);
    if (!entry) {
      const state = createPartitionState(topic, partition);
      const backoff = createBackoff({
        pause: () => consumer.pause(partition),
        // Before resuming: read the stored position again and seek there, always: the
        // consumer fetched past what was dropped, and a task that ran in between (reading
        // the partition's end, say) may have read the position without seeking.
        // A recovery that fails in a way retrying cannot mend (a missing table, a bug) stops
        // the projector, as any other such failure does, instead of retrying it for good.
        recover: () =>
          state
            .run(() => work.resync(state))
            .catch((err: unknown) => {
              if (isRetriable(err)) throw err;
              stop(err, 'recover', partition, state.position ?? 0);
            }),
        resume: () => {
          if (fatal === undefined) consumer.resume(partition);
        },
        logger: log.child({ partition }),
      });
      entry = { state, backoff };
      entries.set(partition, entry);
    }
    return entry;
  }

  function stop(err: unknown, during: string, partition: number, offset: number): void {
    if (fatal !== undefined) return;
    fatal = err;
    log.fatal(
      { err, during, partition, offset },
      'projector stopped: a failure that retrying cannot mend',
    );
    consumer.pause();
    options.onFatal?.(err);
  }

  function guarded(partition: number, during: string, task: (s: PartitionState) => Promise<void>) {
    const { state, backoff } = entryOf(partition);
    return state.run(async () => {
      if (fatal !== undefined) return;
      try {
        await task(state);
        backoff.succeed(during);
      } catch (err) {
        const offset = state.position ?? 0;
        // Nothing uncommitted survives a failure: a retry starts from the stored position.
        state.forget();
        if (err instanceof GroupError) throw err.original;
        if (isRetriable(err)) backoff.fail(err, during);
        else stop(err, during, state.partition, offset);
      }
    });
  }

  return {
    guarded,
    async each(during, task) {
      await Promise.all([...entries.keys()].map((p) => guarded(p, during, task)));
    },
    pendingDomains() {
      let total = 0;
      for (const { state } of entries.values()) total += state.pendingDomains;
      return total;
    },
    async observeEnds(ends) {
      const reads: Promise<void>[] = [];
      for (const partition of assigned) {
        const end = ends.get(partition);
        if (end === undefined) continue;
        const { state, backoff } = entryOf(partition);
        state.sawEnd(end);
        if (state.lag() !== undefined || backoff.paused() || loading.has(partition)) continue;
        loading.add(partition);
        reads.push(
          state
            .run(async () => {
              if (fatal === undefined) await work.observeEnd(state, end);
            })
            .catch((err: unknown) =>
              log.warn({ err, partition }, 'reading the stored position for the lag failed'),
            )
            .finally(() => loading.delete(partition)),
        );
      }
      await Promise.all(reads);
    },
    lags() {
      const lags = new Map<number, number>();
      for (const partition of assigned) {
        const lag = entries.get(partition)?.state.lag();
        if (lag !== undefined) lags.set(partition, lag);
      }
      return lags;
    },
    staleness(now) {
      let most: number | undefined;
      for (const partition of assigned) {
        const waiting = entries.get(partition)?.state.waitingMs(now);
        if (waiting !== undefined) most = Math.max(most ?? 0, waiting / 1000);
      }
      return most;
    },
    assigned(partitions) {
      const before = assigned;
      assigned = new Set(partitions);
      for (const [partition, { state }] of entries) {
        // Held by another member meanwhile: what this one knew of the position is stale.
        if (assigned.has(partition) && !before.has(partition)) state.reassigned();
        // Revoked: another member reports it now; a series left here would count it twice.
        if (!assigned.has(partition) && before.has(partition)) {
          metrics.partitionStalled.remove({ partition: String(partition) });
          stalledNow.delete(partition);
        }
      }
      // Fetch positions may have moved while the member was away: check them again. So may
      // the stored positions (a partition revoked and assigned again, a session that
      // expired): after its running task, each partition forgets what it knew and reads the
      // stored position before its next batch, instead of seeking back to an old one and
      // dead-lettering again records another member handled.
      for (const { state } of entries.values()) {
        state.rejoined();
        void state.run(() => Promise.resolve(state.forget()));
      }
    },
    checkStalls() {
      const now = Date.now();
      for (const [partition, { state }] of entries) {
        if (!assigned.has(partition)) continue;
        // A stored position never read (Postgres down since the start) leaves every record up
        // to the end waiting.
        const lag = state.lag() ?? state.end;
        const stalled = lag !== undefined && lag > 0 && now - state.progressAt > options.stallMs;
        metrics.partitionStalled.set({ partition: String(partition) }, stalled ? 1 : 0);
        if (stalled && !stalledNow.has(partition)) {
          log.error(
            {
              partition,
              offset: state.lastKnownPosition ?? 0,
              lag,
              forMs: now - state.progressAt,
            },
            'partition stalled: its position has not moved although records wait',
          );
        }
        if (stalled) stalledNow.add(partition);
        else stalledNow.delete(partition);
      }
    },
    stalled: () =>
      [...stalledNow].map((partition) => {
        const { state } = entries.get(partition)!;
        return {
          partition,
          offset: state.lastKnownPosition ?? 0,
          lag: state.lag() ?? state.end ?? 0,
          forMs: Date.now() - state.progressAt,
        };
      }),
    failure: () => fatal,
    paused: pausedPartitions,
    async close() {
      for (const { backoff } of entries.values()) backoff.stop();
      await Promise.all([...entries.values()].map(({ state }) => state.idle()));
    },
  };
}

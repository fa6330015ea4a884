import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from '@catchall/core';
import type { EventDecoder } from '@catchall/schemas';
import { createBackoff } from './backoff';
import type { DeadLetters } from './dead-letters';
import type { ConsumerMetrics } from './metrics';
import type { ProjectionStore } from './projection-store';
import { decodeRecord } from './record-decoder';
import {
  createPartitionState,
  decideStart,
  foldInto,
  resetPartitionState,
  runExclusive,
  type PartitionState,
} from './partition-state';

export interface ProjectorOptions {
  kafka: Kafka;
  codec: EventDecoder;
  store: ProjectionStore;
  deadLetters: DeadLetters;
  topic: string;
  groupId: string;
  /** Pending deltas are flushed at least this often. */
  flushIntervalMs: number;
  /** A flush starts as soon as this many domains are pending. */
  maxPendingDomains: number;
  partitionsConsumedConcurrently: number;
  /** A crashed member's partitions move to the others after this long. */
  sessionTimeoutMs: number;
  logger: Logger;
  metrics: ConsumerMetrics;
}

export interface Projector {
  start(): Promise<void>;
  /** Stops fetching, finishes the batch in hand, flushes what is pending, leaves the group. */
  stop(): Promise<void>;
  /** Flushes every partition's pending deltas now. */
  flush(): Promise<void>;
  /** True while the consumer is a member of the group and not crashed. */
  isMember(): boolean;
  /**
   * Writes to another read model version from now on (the live one changed): every
   * partition forgets what it had not committed and continues from that version's stored
   * position. Safe at any moment: flushes compare-and-set positions per version.
   */
  useStore(next: ProjectionStore): Promise<void>;
  /** The version written to now. */
  version(): number;
}

export function createProjector(options: ProjectorOptions): Projector {
  const { metrics, logger } = options;
  let store = options.store;
  let clusterId: string | undefined;
  const log = logger.child({ component: 'projector', topic: options.topic });
  const states = new Map<number, PartitionState>();
  const consumer: Consumer = options.kafka.consumer({
    groupId: options.groupId,
    // Positions live in Postgres; Kafka's committed offsets are only a resume hint.
    allowAutoTopicCreation: false,
    sessionTimeout: options.sessionTimeoutMs,
    heartbeatInterval: Math.floor(options.sessionTimeoutMs / 5),
    // A fetch waits at most this long for data; seeks and shutdown wait for it too.
    maxWaitTimeInMs: Math.min(options.flushIntervalMs, 1000),
    retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 5000 },
  });
  let member = false;
  let timer: NodeJS.Timeout | undefined;

  function stateOf(partition: number): PartitionState {
    let state = states.get(partition);
    if (!state) {
      state = createPartitionState(options.topic, partition);
      states.set(partition, state);
    }
    return state;
  }

  function pendingDomains(): number {
    let total = 0;
    for (const s of states.values()) total += s.pending.size;
    return total;
  }

  /**
   * After a failure or a conflict a partition's fetch position is ahead of what was
   * committed: read the stored position again and seek there, so that no record is left
   * out. (A partition no longer assigned to this member ignores the seek.)
   */
  async function resyncState(state: PartitionState): Promise<void> {
    state.stored = await store.loadPosition(state.topic, state.partition);
    state.next = state.stored ?? 0;
    state.seekTo = state.next;
    state.verified = false;
    consumer.seek({ topic: state.topic, partition: state.partition, offset: String(state.next) });
  }

  async function flushPartition(state: PartitionState): Promise<void> {
    if (state.next === undefined || state.stored === undefined || state.next === state.stored) {
      return;
    }
    const started = process.hrtime.bigint();
    let outcome;
    try {
      outcome = await store.flush({
        topic: state.topic,
        partition: state.partition,
        expected: state.stored,
        next: state.next,
        deltas: state.pending,
      });
    } catch (err) {
      metrics.flushFailures.inc();
      throw err;
    }
    metrics.flushDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    if (outcome === 'conflict') {
      metrics.flushConflicts.inc();
      log.warn(
        { partition: state.partition, expected: state.stored },
        'position moved by another member; dropping pending deltas',
      );
      resetPartitionState(state);
      // The records behind the dropped deltas were fetched already: read them again.
      await resyncState(state);
      return;
    }
    metrics.flushSize.observe(state.pending.size);
    if (state.newestTimestamp > 0) {
      metrics.freshness.set((Date.now() - state.newestTimestamp) / 1000);
    }
    const next = state.next;
    state.stored = next;
    state.pending = new Map();
    state.pendingRecords = 0;
    metrics.pendingDomains.set(pendingDomains());
    await commitHint(state.partition, next);
  }

  async function commitHint(partition: number, next: number): Promise<void> {
    try {
      await consumer.commitOffsets([{ topic: options.topic, partition, offset: String(next) }]);
    } catch (err) {
      // Kafka's offset is a hint (resume point, lag); Postgres holds the truth.
      log.warn({ err, partition }, 'committing the offset hint to Kafka failed');
    }
  }

  async function verifyStart(state: PartitionState, firstOffset: number): Promise<boolean> {
    if (state.stored === undefined) {
      state.stored = await store.loadPosition(state.topic, state.partition);
      state.next = state.stored ?? 0;
    }
    const decision = decideStart(state.next!, firstOffset, state.seekTo);
    if (decision.action === 'seek') {
      log.info(
        { partition: state.partition, to: decision.to, firstOffset },
        'seeking to stored position',
      );
      state.seekTo = decision.to;
      consumer.seek({
        topic: state.topic,
        partition: state.partition,
        offset: String(decision.to),
      });
      return false;
    }
    if (state.seekTo !== undefined && firstOffset > state.next!) {
      log.warn(
        { partition: state.partition, position: state.next, firstOffset },
        'records between the stored position and the first available offset are gone',
      );
    }
    state.verified = true;
    state.seekTo = undefined;
    return true;
  }

  async function applyBatch(payload: EachBatchPayload, state: PartitionState): Promise<void> {
    const { batch } = payload;
    const first = batch.messages[0];
    if (!first || payload.isStale()) return;
    if (!state.verified && !(await verifyStart(state, Number(first.offset)))) return;
    // Counted per batch, not per record: metrics stay off the hot path.
    const counts = { skipped: 0, delivered: 0, bounced: 0, ignored: 0 };
    for (const message of batch.messages) {
      const offset = Number(message.offset);
      if (offset < state.next!) {
        counts.skipped += 1;
        continue;
      }
      const decoded = decodeRecord(options.codec, message);
      const record = decoded instanceof Promise ? await decoded : decoded;
      if (record.kind === 'event') {
        foldInto(state, record.domain, record.event);
        counts[record.event.type] += 1;
      } else if (record.kind === 'ignored') {
        counts.ignored += 1;
      } else {
        await options.deadLetters.send(
          { topic: state.topic, partition: state.partition, message },
          record.reason,
          record.detail,
        );
        metrics.deadLettered.inc({ reason: record.reason });
      }
      state.next = offset + 1;
      state.pendingRecords += 1;
      state.newestTimestamp = Math.max(state.newestTimestamp, Number(message.timestamp));
    }
    metrics.recordsConsumed.inc(batch.messages.length);
    metrics.recordsSkipped.inc(counts.skipped);
    metrics.eventsApplied.inc({ type: 'delivered' }, counts.delivered);
    metrics.eventsApplied.inc({ type: 'bounced' }, counts.bounced);
    metrics.eventsIgnored.inc(counts.ignored);
    // Transaction markers after the last record are resolved by kafkajs too.
    state.next = Math.max(state.next!, Number(batch.lastOffset()) + 1);
    metrics.lag.set(
      { partition: String(state.partition) },
      Number(batch.highWatermark) - state.next,
    );
    metrics.pendingDomains.set(pendingDomains());
    if (pendingDomains() >= options.maxPendingDomains) await flushPartition(state);
  }

  /** Before resuming after a failure: resync every partition that dropped its deltas. */
  async function resync(): Promise<void> {
    for (const state of states.values()) {
      if (state.stored === undefined) await runExclusive(state, () => resyncState(state));
    }
  }

  const backoff = createBackoff({
    pause: () => consumer.pause([{ topic: options.topic }]),
    recover: resync,
    resume: () => consumer.resume([{ topic: options.topic }]),
    logger: log,
    onPausedChange: (paused) => metrics.paused.set(paused ? 1 : 0),
  });

  /** Runs a partition task; a failure drops what is uncommitted and pauses with backoff. */
  async function guarded(state: PartitionState, during: string, task: () => Promise<void>) {
    await runExclusive(state, async () => {
      try {
        await task();
        backoff.succeed();
      } catch (err) {
        // Nothing uncommitted survives a failure: the retry starts from the stored position.
        resetPartitionState(state);
        backoff.fail(err, during);
      }
    });
  }

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const state = stateOf(payload.batch.partition);
    await guarded(state, 'batch', () => applyBatch(payload, state));
  }

  async function flushAll(): Promise<void> {
    await Promise.all(
      [...states.values()].map((state) => guarded(state, 'flush', () => flushPartition(state))),
    );
  }

  /** Positions are only valid on the Kafka cluster they were read from. */
  async function checkSource(): Promise<void> {
    const admin = options.kafka.admin();
    await admin.connect();
    try {
      clusterId = (await admin.describeCluster()).clusterId;
      await store.claimSource(options.topic, clusterId);
    } finally {
      await admin.disconnect();
    }
  }

  function tick(): void {
    void flushAll();
  }

  return {
    async start() {
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        member = true;
        log.info({ assignment: e.payload.memberAssignment }, 'joined consumer group');
        // Fetch positions may have moved while we were away: check them again.
        for (const state of states.values()) state.verified = false;
      });
      consumer.on(consumer.events.REBALANCING, () => tick());
      consumer.on(consumer.events.CRASH, (e) => {
        member = false;
        log.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
      });
      await checkSource();
      await consumer.connect();
      await consumer.subscribe({ topic: options.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: true,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
        eachBatch,
      });
      timer = setInterval(tick, options.flushIntervalMs);
    },
    async stop() {
      if (timer) clearInterval(timer);
      backoff.stop();
      consumer.pause([{ topic: options.topic }]);
      await Promise.all([...states.values()].map((s) => s.queue));
      await flushAll();
      await consumer.disconnect();
      member = false;
    },
    flush: flushAll,
    isMember: () => member,
    async useStore(next) {
      if (next.version === store.version) return;
      const from = store.version;
      consumer.pause([{ topic: options.topic }]);
      try {
        if (clusterId !== undefined) await next.claimSource(options.topic, clusterId);
        store = next;
        for (const state of states.values()) {
          await runExclusive(state, async () => {
            resetPartitionState(state);
            await resyncState(state);
          });
        }
        log.info({ from, to: next.version }, 'now writing another read model version');
      } finally {
        if (!backoff.paused()) consumer.resume([{ topic: options.topic }]);
      }
    },
    version: () => store.version,
  };
}

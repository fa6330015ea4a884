import type { Admin, Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger, Tracing } from '@catchall/core';
import type { EventDecoder } from '@catchall/schemas';
import type { DeadLetters } from './dead-letters';
import type { ConsumerMetrics } from './metrics';
import { createPartitionWork } from './partition-work';
import { createPartitions, GroupError, type StalledPartition } from './partitions';
import type { ProjectionStore } from './projection-store';

export type { StalledPartition } from './partitions';

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
  /**
   * Bytes one fetch asks for at most, in all and per partition (Kafka's `fetch.max.bytes`
   * and `max.partition.fetch.bytes`). A fetch's records are held decoded until every
   * partition's batch of it is applied, at about ten times their size in the log: these
   * bound most of the projector's memory. Defaults: DEFAULT_FETCH_MAX_BYTES and
   * DEFAULT_MAX_PARTITION_FETCH_BYTES.
   */
  fetchMaxBytes?: number;
  maxPartitionFetchBytes?: number;
  /**
   * A partition with lag whose position has not moved for this long is reported stalled
   * (default 90 s: longer than a transaction a crashed producer left open may last, its
   * default timeout of 60 s plus the broker's check for timed-out transactions, every 10 s
   * by default, and than the retry window of an unknown schema id, 30 s: waits, not stalls).
   */
  partitionStallMs?: number;
  /** How often the event ids no try can need any more are dropped (default a minute). */
  eventIdExpiryIntervalMs?: number;
  logger: Logger;
  metrics: ConsumerMetrics;
  /** A span per flush, linked to the records' trace contexts; absent: none. */
  tracing?: Tracing;
  /**
   * Called once when a failure that retrying cannot mend stopped the projector (a bug, a
   * database that is not what the code expects); the service then exits non-zero.
   */
  onFatal?: (err: unknown) => void;
}

export interface Projector {
  start(): Promise<void>;
  /** Stops fetching, finishes the batch in hand, flushes what is pending, leaves the group. */
  stop(): Promise<void>;
  /** Flushes every partition's pending deltas now. */
  flush(): Promise<void>;
  /** True while the consumer is a member of the group and not crashed. */
  isMember(): boolean;
  /** The stalled partitions this member owns (see ProjectorOptions.partitionStallMs). */
  stalled(): StalledPartition[];
  /** The failure that stopped the projector for good, or undefined while it works. */
  failure(): unknown;
  /**
   * Writes to another read model version from now on (the live one changed): every
   * partition forgets what it had not committed and continues from that version's stored
   * position. Safe at any moment: flushes compare-and-set positions per version.
   */
  useStore(next: ProjectionStore): Promise<void>;
  /** The version written to now. */
  version(): number;
}

const RESTART_MIN_MS = 200;
const RESTART_MAX_MS = 30000;
/** The default of ProjectorOptions.partitionStallMs. */
export const DEFAULT_PARTITION_STALL_MS = 90000;
/**
 * The defaults of ProjectorOptions.fetchMaxBytes and maxPartitionFetchBytes: 1 MiB a fetch
 * (kafkajs's default is 10 MiB, whose records decoded took about 150 MB of heap), 256 KiB a
 * partition, so that the partitions of a fetch share it (kafkajs shuffles their order).
 */
export const DEFAULT_FETCH_MAX_BYTES = 1024 * 1024;
export const DEFAULT_MAX_PARTITION_FETCH_BYTES = 256 * 1024;

const EVENT_ID_EXPIRY_INTERVAL_MS = 60_000;
const METADATA_MAX_AGE_MS = 30_000;

/** How often the partitions' ends are read from the broker: a few times per stall bound. */
function endsCheckInterval(stallMs: number): number {
  return Math.min(10000, Math.max(1000, Math.floor(stallMs / 6)));
}

/**
 * The consumer group wiring: one kafkajs consumer whose batches go to the per-partition
 * work (partition-work.ts), supervised per partition (partitions.ts). A consumer that
 * kafkajs gives up on (a crash it does not restart) is replaced with backoff; calls on a
 * crashed consumer never escape as uncaught errors.
 */
export function createProjector(options: ProjectorOptions): Projector {
  const { metrics, logger, topic } = options;
  let store = options.store;
  let clusterId: string | undefined;
  const log = logger.child({ component: 'projector', topic });
  let consumer: Consumer | undefined;
  let member = false;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let restartTimer: NodeJS.Timeout | undefined;
  let restartDelay = RESTART_MIN_MS;
  const stallMs = options.partitionStallMs ?? DEFAULT_PARTITION_STALL_MS;
  let admin: Admin | undefined;
  let endsTimer: NodeJS.Timeout | undefined;
  let readingEnds = false;
  let expiryTimer: NodeJS.Timeout | undefined;
  let expiring = false;
  let unwatch: (() => void) | undefined;

  /**
   * pause, resume and seek on a crashed consumer throw ("Consumer group was not initialized");
   * its replacement starts from the stored positions anyway: the call has nothing left to do.
   */
  function onConsumer(what: string, call: (c: Consumer) => void): void {
    if (!consumer) return;
    try {
      call(consumer);
    } catch (err) {
      log.warn({ err, what }, 'consumer not running; its replacement starts from stored positions');
    }
  }
  const on = (partition: number | undefined) => [
    partition === undefined ? { topic } : { topic, partitions: [partition] },
  ];

  const work = createPartitionWork({
    codec: options.codec,
    tracing: options.tracing,
    store: () => store,
    deadLetters: options.deadLetters,
    seek: (partition, offset) =>
      onConsumer('seek', (c) => c.seek({ topic, partition, offset: String(offset) })),
    commitHint: async (partition, next) => {
      try {
        await consumer?.commitOffsets([{ topic, partition, offset: String(next) }]);
      } catch (err) {
        // Kafka's offset is a hint (resume point, lag); Postgres holds the truth.
        log.warn({ err, partition }, 'committing the offset hint to Kafka failed');
      }
    },
    metrics,
    log,
  });
  const partitions = createPartitions({
    topic,
    work,
    consumer: {
      pause: (partition) => onConsumer('pause', (c) => c.pause(on(partition))),
      resume: (partition) => onConsumer('resume', (c) => c.resume(on(partition))),
    },
    stallMs,
    metrics,
    log,
    onFatal: options.onFatal,
  });

  async function eachBatch(payload: EachBatchPayload): Promise<void> {
    const control = {
      isStale: () => payload.isStale(),
      heartbeat: () =>
        payload.heartbeat().catch((err: unknown) => {
          throw new GroupError(err);
        }),
    };
    await partitions.guarded(payload.batch.partition, 'batch', async (state) => {
      await work.applyBatch(state, payload.batch, control);
      metrics.pendingDomains.set(partitions.pendingDomains());
      if (partitions.pendingDomains() >= options.maxPendingDomains) await work.flush(state);
    });
  }

  async function flushAll(): Promise<void> {
    await partitions.each('flush', (state) => work.flush(state));
    metrics.pendingDomains.set(partitions.pendingDomains());
  }

  function tick(): void {
    partitions.checkStalls();
    void flushAll();
  }

  /** Positions are only valid on the Kafka cluster they were read from. */
  async function checkSource(client: Admin): Promise<void> {
    clusterId = (await client.describeCluster()).clusterId;
    await store.claimSource(topic, clusterId);
  }

  /**
   * A read-committed fetch stops at the first open transaction, and kafkajs hands over no
   * empty batch, so the lag behind a transaction a producer left open is only seen here:
   * ListOffsets with READ_UNCOMMITTED gives the high watermark (READ_COMMITTED, kafkajs's
   * default, the last stable offset, which stops at the open transaction too).
   */
  async function readEnds(): Promise<void> {
    if (!admin || readingEnds) return;
    readingEnds = true;
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      metrics.topicPartitions.set(offsets.length);
      // Not waited for: a partition stuck in a task would hold every later reading.
      void partitions.observeEnds(new Map(offsets.map((o) => [o.partition, Number(o.high)])));
    } catch (err) {
      log.warn({ err }, 'reading the ends of the partitions failed; lag may be behind');
    } finally {
      readingEnds = false;
    }
  }

  /** Drops expired event ids; a failure is counted and logged, and the next run tries again. */
  async function expireEventIds(): Promise<void> {
    if (expiring) return;
    expiring = true;
    try {
      await store.expireEventIds();
    } catch (err) {
      metrics.eventIdExpiryFailures.inc();
      log.warn({ err }, 'dropping expired event ids failed; trying again at the next run');
    } finally {
      expiring = false;
    }
  }

  function scheduleRestart(reason: unknown): void {
    if (stopping || partitions.failure() !== undefined || restartTimer) return;
    log.error({ err: reason, retryInMs: restartDelay }, 'consumer stopped; starting a new one');
    restartTimer = setTimeout(() => {
      restartTimer = undefined;
      runConsumer().catch((err: unknown) => scheduleRestart(err));
    }, restartDelay);
    restartDelay = Math.min(restartDelay * 2, RESTART_MAX_MS);
  }

  async function runConsumer(): Promise<void> {
    const c = options.kafka.consumer({
      groupId: options.groupId,
      // Positions live in Postgres; Kafka's committed offsets are only a resume hint.
      allowAutoTopicCreation: false,
      sessionTimeout: options.sessionTimeoutMs,
      heartbeatInterval: Math.floor(options.sessionTimeoutMs / 5),
      // A fetch waits at most this long for data; seeks and shutdown wait for it too.
      maxWaitTimeInMs: Math.min(options.flushIntervalMs, 1000),
      maxBytes: options.fetchMaxBytes ?? DEFAULT_FETCH_MAX_BYTES,
      maxBytesPerPartition: options.maxPartitionFetchBytes ?? DEFAULT_MAX_PARTITION_FETCH_BYTES,
      // Partitions added to the topic are seen (and assigned) within this, not kafkajs's
      // default five minutes, during which their records would wait and tokens time out.
      metadataMaxAge: METADATA_MAX_AGE_MS,
      retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 5000 },
    });
    consumer = c;
    c.on(c.events.GROUP_JOIN, (e) => {
      member = true;
      restartDelay = RESTART_MIN_MS;
      log.info({ assignment: e.payload.memberAssignment }, 'joined consumer group');
      partitions.assigned(e.payload.memberAssignment[topic] ?? []);
    });
    c.on(c.events.REBALANCING, () => tick());
    // Batches of only transaction markers or aborted records never reach eachBatch.
    c.on(c.events.END_BATCH_PROCESS, ({ payload: b }) => {
      if (b.topic !== topic || b.batchSize > 0 || b.firstOffset === null) return;
      void partitions.guarded(b.partition, 'batch', async (state) =>
        work.passFiltered(
          state,
          Number(b.firstOffset),
          Number(b.lastOffset),
          Number(b.highWatermark),
        ),
      );
    });
    c.on(c.events.CRASH, (e) => {
      member = false;
      // kafkajs restarts the consumer itself after a retriable crash; the others are ours.
      const level = e.payload.restart ? 'warn' : 'error';
      log[level]({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
      if (!e.payload.restart && c === consumer) scheduleRestart(e.payload.error);
    });
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    await c.run({
      autoCommit: false,
      eachBatchAutoResolve: true,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
      eachBatch,
    });
  }

  return {
    async start() {
      const client = options.kafka.admin({ readUncommitted: true });
      await client.connect();
      try {
        await checkSource(client);
      } catch (err) {
        await client.disconnect();
        throw err;
      }
      admin = client;
      unwatch = metrics.watch(partitions);
      await runConsumer();
      timer = setInterval(tick, options.flushIntervalMs);
      endsTimer = setInterval(() => void readEnds(), endsCheckInterval(stallMs));
      void expireEventIds();
      expiryTimer = setInterval(
        () => void expireEventIds(),
        options.eventIdExpiryIntervalMs ?? EVENT_ID_EXPIRY_INTERVAL_MS,
      );
    },
    async stop() {
      stopping = true;
      if (timer) clearInterval(timer);
      if (endsTimer) clearInterval(endsTimer);
      if (expiryTimer) clearInterval(expiryTimer);
      if (restartTimer) clearTimeout(restartTimer);
      onConsumer('pause', (c) => c.pause(on(undefined)));
      await partitions.close();
      await flushAll();
      await consumer?.disconnect();
      await admin?.disconnect();
      unwatch?.();
      member = false;
    },
    flush: flushAll,
    isMember: () => member,
    stalled: () => partitions.stalled(),
    failure: () => partitions.failure(),
    async useStore(next) {
      if (next.version === store.version) return;
      const from = store.version;
      onConsumer('pause', (c) => c.pause(on(undefined)));
      try {
        if (clusterId !== undefined) await next.claimSource(topic, clusterId);
        store = next;
        await partitions.each('switch', (state) => work.resync(state));
        log.info({ from, to: next.version }, 'now writing another read model version');
      } finally {
        // Not after a stop or a failure for good: those paused the whole topic on purpose.
        if (!stopping && partitions.failure() === undefined) {
          onConsumer('resume', (c) => c.resume(on(undefined)));
          for (const p of partitions.paused()) onConsumer('pause', (c) => c.pause(on(p)));
        }
      }
    },
    version: () => store.version,
  };
}

import { EVENT_TYPES } from '@catchall/core';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { EventIdObserver } from './event-ids';
import type { RedrivenOutcome } from './projection-store';
import { DEAD_LETTER_REASONS } from './record-decoder';

/**
 * What the lag and freshness gauges read at each scrape: the partitions a projector owns
 * (partitions.ts). Computed when scraped, so that they move while nothing commits.
 */
export interface OwnedPartitions {
  /** Offsets after the stored position up to the broker's end, per owned partition known. */
  lags(): ReadonlyMap<number, number>;
  /** Seconds the oldest record not yet committed has waited (see the freshness help). */
  staleness(now: number): number | undefined;
  /** The owned partitions waiting to retry after a failure (their backoff's timer is set). */
  paused(): number[];
}

/**
 * Every metric the projector exposes, defined once. `watch(owned)` makes a projector's
 * partitions the source of `catchall_consumer_lag`, `catchall_freshness_seconds` and
 * `catchall_projector_paused` until the function it returns is called.
 */
export function createConsumerMetrics(registry: Registry) {
  const registers = [registry];
  const watched = new Set<OwnedPartitions>();
  const metrics = {
    recordsConsumed: new Counter({
      name: 'catchall_records_consumed_total',
      help: 'Records read from the events topic, each once: records read again after a failure or a retry are not counted',
      registers,
    }),
    eventsApplied: new Counter({
      name: 'catchall_events_applied_total',
      help: 'Events read and folded for a flush, each once per projector (not again when read again after a failure); the flush leaves out duplicates of a client-chosen id (catchall_event_id_duplicates_total) and redriven copies counted already (catchall_redriven_records_total{outcome="already-counted"})',
      labelNames: ['type'],
      registers,
    }),
    recordsSkipped: new Counter({
      name: 'catchall_records_skipped_total',
      help: 'Records below the stored position, already applied before (duplicates)',
      registers,
    }),
    eventsIgnored: new Counter({
      name: 'catchall_events_ignored_total',
      help: 'Events of a type this reader does not know (read as the enum default)',
      registers,
    }),
    deadLettered: new Counter({
      name: 'catchall_records_dead_lettered_total',
      help: 'Records sent to the dead-letter topic, by reason',
      labelNames: ['reason'],
      registers,
    }),
    redrivenRecords: new Counter({
      name: 'catchall_redriven_records_total',
      help: 'Records carrying a redrive-origin header, by what the redrive ledger made of them in committed flushes: counted (a copy of a dead letter), already-counted (a copy of a record counted already: not counted), not-a-copy (the header names no record before it in its partition: counted as any record)',
      labelNames: ['outcome'],
      registers,
    }),
    eventIdDuplicates: new Counter({
      name: 'catchall_event_id_duplicates_total',
      help: 'Events not counted: a counted try with the same client-chosen id was within DEDUPE_WINDOW_S',
      registers,
    }),
    eventIdUnchecked: new Counter({
      name: 'catchall_event_id_unchecked_total',
      help: 'Events with a client-chosen id counted without a check: their Kafka timestamp is outside the range of ids kept',
      registers,
    }),
    eventIdConcurrentFlushes: new Counter({
      name: 'catchall_event_id_concurrent_flushes_total',
      help: 'Flushes with client-chosen ids done again because a flush of another partition counted tries of the same domains meanwhile (a producer that spreads a domain over partitions)',
      registers,
    }),
    eventIdExpiryFailures: new Counter({
      name: 'catchall_event_id_expiry_failures_total',
      help: 'Runs of the expiry of old event ids that failed (tried again a minute later)',
      registers,
    }),
    flushConflicts: new Counter({
      name: 'catchall_flush_conflicts_total',
      help: 'Flushes refused because another member moved the position first',
      registers,
    }),
    flushFailures: new Counter({
      name: 'catchall_flush_failures_total',
      help: 'Flushes that failed (Postgres unreachable or erroring)',
      registers,
    }),
    flushDuration: new Histogram({
      name: 'catchall_flush_duration_seconds',
      help: 'Time to write one partition flush to Postgres',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    flushSize: new Histogram({
      name: 'catchall_flush_domains',
      help: 'Distinct domains written per partition flush',
      buckets: [1, 10, 100, 1000, 5000, 10000, 50000],
      registers,
    }),
    pendingDomains: new Gauge({
      name: 'catchall_pending_domains',
      help: 'Domains folded in memory and not yet flushed',
      registers,
    }),
    freshness: new Gauge({
      name: 'catchall_freshness_seconds',
      help: "Seconds the oldest record not yet applied has waited, the most over the partitions this member owns, computed at each scrape: 0 when each is caught up (its stored position at the broker's end); otherwise now minus the Kafka timestamp of the oldest fetched record not yet committed or, where none is fetched (held behind an open transaction, or not fetched yet), minus when the partition's position last moved or it was last caught up",
      registers,
      collect() {
        const now = Date.now();
        let most = 0;
        for (const owned of watched) most = Math.max(most, owned.staleness(now) ?? 0);
        this.set(most);
      },
    }),
    paused: new Gauge({
      name: 'catchall_projector_paused',
      help: '1 while a partition of the projector waits to retry after Postgres, the registry or Kafka failed, computed at each scrape',
      registers,
      collect() {
        let paused = false;
        for (const owned of watched) paused ||= owned.paused().length > 0;
        this.set(paused ? 1 : 0);
      },
    }),
    topicPartitions: new Gauge({
      name: 'catchall_topic_partitions',
      help: 'Partitions of the events topic, read from the broker every few seconds with their ends: what the projectors of a group own between them (CatchAllPartitionsUnowned compares it with the partitions reporting catchall_consumer_lag)',
      registers,
    }),
    partitionStalled: new Gauge({
      name: 'catchall_partition_stalled',
      help: '1 while a partition has records to apply and its position has not moved for PARTITION_STALL_MS',
      labelNames: ['partition'],
      registers,
    }),
    lag: new Gauge({
      name: 'catchall_consumer_lag',
      help: "Offsets after the stored position up to the broker's end (high watermark), per partition this member owns: offsets, not records, since each commit or abort marker of a transaction takes an offset too (one per partition the transaction wrote: the ingest API's batches, and its single events when PRODUCE_IDEMPOTENT_PRODUCERS=0 or too large for a plain produce request); computed at each scrape from the last end read (each fetch, and the broker every few seconds, paused or not); a partition whose stored position was not read yet is left out, a revoked one is removed",
      labelNames: ['partition'],
      registers,
      collect() {
        this.reset();
        for (const owned of watched) {
          for (const [partition, lag] of owned.lags())
            this.set({ partition: String(partition) }, lag);
        }
      },
    }),
  };
  // Every reason and event type exported from the start at 0: a counter whose series appears
  // at 1 shows Prometheus's increase() no change, and the first dead letters would raise no
  // alert; a fresh system's dashboard panels would show no data.
  for (const reason of DEAD_LETTER_REASONS) metrics.deadLettered.inc({ reason }, 0);
  for (const type of EVENT_TYPES) metrics.eventsApplied.inc({ type }, 0);
  for (const outcome of REDRIVEN_OUTCOMES) metrics.redrivenRecords.inc({ outcome }, 0);
  return {
    ...metrics,
    watch(owned: OwnedPartitions): () => void {
      watched.add(owned);
      return () => watched.delete(owned);
    },
  };
}

export type ConsumerMetrics = ReturnType<typeof createConsumerMetrics>;

/** What one fetched batch held, counted per batch so that metrics stay off the hot path. */
export interface BatchCounts {
  /** Records in the batch whatever became of them, but those this member read before. */
  consumed: number;
  /** Below the position: applied before. */
  skipped: number;
  delivered: number;
  bounced: number;
  /** Events of a type this reader does not know. */
  ignored: number;
}

/** Adds one batch's counts to the record and event counters. */
export function countBatch(metrics: ConsumerMetrics, counts: BatchCounts): void {
  metrics.recordsConsumed.inc(counts.consumed);
  metrics.recordsSkipped.inc(counts.skipped);
  metrics.eventsApplied.inc({ type: 'delivered' }, counts.delivered);
  metrics.eventsApplied.inc({ type: 'bounced' }, counts.bounced);
  metrics.eventsIgnored.inc(counts.ignored);
}

const REDRIVEN_OUTCOMES = ['counted', 'already-counted', 'not-a-copy'] as const;

/** The projection store's report of redriven records (see admitRedriven), into the metrics. */
export function redrivenMetrics(metrics: ConsumerMetrics): (outcome: RedrivenOutcome) => void {
  return ({ copies, alreadyCounted, notCopies }) => {
    metrics.redrivenRecords.inc({ outcome: 'counted' }, copies);
    metrics.redrivenRecords.inc({ outcome: 'already-counted' }, alreadyCounted);
    metrics.redrivenRecords.inc({ outcome: 'not-a-copy' }, notCopies);
  };
}

/** The projection store's report of deduplication, into the consumer's metrics. */
export function eventIdMetrics(metrics: ConsumerMetrics): EventIdObserver {
  return {
    duplicates: (n) => metrics.eventIdDuplicates.inc(n),
    unchecked: (n) => metrics.eventIdUnchecked.inc(n),
    concurrent: () => metrics.eventIdConcurrentFlushes.inc(),
  };
}

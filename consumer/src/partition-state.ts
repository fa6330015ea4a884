import { evolve, type CountedEvent, type DomainDelta } from '@catchall/core';

/**
 * What the projector knows about one topic partition: the position stored in Postgres, the
 * next offset to apply (after the pending deltas), and the deltas not yet flushed.
 * Invariant: pending holds exactly the records in [stored ?? start, next).
 */
export interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  /** undefined: not read from Postgres yet; null: none stored. */
  stored: number | null | undefined;
  next: number | undefined;
  /** The consumer's fetch position is known to be `next` (checked on the first batch). */
  verified: boolean;
  /** A seek the projector asked for: the next batch starts there. */
  seekTo: number | undefined;
  pending: Map<string, DomainDelta>;
  pendingRecords: number;
  /** Kafka timestamp of the newest record in pending. */
  newestTimestamp: number;
  /** Serializes batches and flushes of this partition. */
  queue: Promise<unknown>;
}

export function createPartitionState(topic: string, partition: number): PartitionState {
  return {
    topic,
    partition,
    stored: undefined,
    next: undefined,
    verified: false,
    seekTo: undefined,
    pending: new Map(),
    pendingRecords: 0,
    newestTimestamp: 0,
    queue: Promise.resolve(),
  };
}

/** Forgets everything not committed: the next batch re-reads the stored position. */
export function resetPartitionState(state: PartitionState): void {
  state.stored = undefined;
  state.next = undefined;
  state.verified = false;
  state.seekTo = undefined;
  state.pending = new Map();
  state.pendingRecords = 0;
  state.newestTimestamp = 0;
}

export function foldInto(state: PartitionState, domain: string, event: CountedEvent): void {
  state.pending.set(domain, evolve(state.pending.get(domain), event));
}

/** Runs `task` after every earlier task of the partition; a failure does not block later ones. */
export function runExclusive<T>(state: PartitionState, task: () => Promise<T>): Promise<T> {
  const run = state.queue.then(task, task);
  state.queue = run.catch(() => undefined);
  return run;
}

export type StartDecision = { action: 'process'; from: number } | { action: 'seek'; to: number };

/**
 * Decides, for the first batch after (re)assignment, whether the consumer's fetch position
 * matches the stored one. Records below the position are skipped later; a batch that
 * starts above it may have skipped records, so the consumer seeks back, unless the batch
 * is the answer to that seek (the gap is then transaction markers or retention).
 */
export function decideStart(
  position: number,
  firstOffset: number,
  seekTo: number | undefined,
): StartDecision {
  if (firstOffset <= position || seekTo !== undefined) return { action: 'process', from: position };
  return { action: 'seek', to: position };
}

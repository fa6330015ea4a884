import type { KafkaMessage } from 'kafkajs';
import {
  evolve,
  foldInto,
  type CountedEvent,
  type DomainDelta,
  type EventTry,
} from '@catchall/core';
import type { DeadLetteredRecord, PartitionFlush, RedrivenEvent } from './projection-store';

/** A record kept while a refused flush is taken apart (see PartitionState.isolate). */
export interface IsolatedRecord {
  offset: number;
  domain: string;
  event: CountedEvent;
  /** The id the client chose (deduplicated), absent when the ingest API made it. */
  eventId?: string;
  /** The record's Kafka timestamp, epoch ms. */
  at: number;
  /** The redrive origin of a redriven dead letter (counted once per origin). */
  origin?: string;
  /** With `origin`: the record's valueDigest. */
  digest?: string;
  message: KafkaMessage;
}

/** A dead-lettered record of a range being taken apart, and its offset. */
export interface IsolatedDeadLetter {
  offset: number;
  record: DeadLetteredRecord;
}

/** A refused flush's range, read again whole (see PartitionState.isolate). */
export interface IsolatedRange {
  /** Its records that count, in offset order. */
  records: IsolatedRecord[];
  /** Its end: the next offset after it. */
  until: number;
  /** Its records that were dead-lettered, in offset order. */
  dead: IsolatedDeadLetter[];
}

/** `gap`: the batch answers our seek but starts above it (records gone to retention). */
export type StartDecision = { action: 'process'; gap: boolean } | { action: 'seek'; to: number };

/**
 * What the projector knows about one topic partition, and the only code that changes it:
 * - `stored`: the position in Postgres (next offset to apply), as last read or written;
 *   undefined until read, null when none is stored yet;
 * - `next`: the next offset to apply after the pending deltas;
 * - pending: the deltas of exactly the records in [stored ?? 0, next), and the tries of the
 *   events among them whose ids the client chose (the store decides which of those count).
 * Every failure forgets what is uncommitted (`forget`) and the partition starts again from
 * the stored position, so nothing is counted twice or left out. Batches and flushes of a
 * partition run one at a time (`run`).
 */
export interface PartitionState {
  readonly topic: string;
  readonly partition: number;
  /** Runs `task` after every earlier task of the partition; a failure does not block later ones. */
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Resolves once every task queued so far has ended. */
  idle(): Promise<void>;

  /** The stored position must be read from Postgres before the next batch. */
  needsPosition(): boolean;
  /** The stored position as read from Postgres (null: none). */
  positionLoaded(stored: number | null): void;
  /** The consumer's fetch position is known to be `next`. */
  isVerified(): boolean;
  /**
   * For the first batch after an assignment or a seek: process it, or seek to the stored
   * position first (a batch that starts above it may have skipped records, unless it is the
   * answer to our own seek: the gap is then transaction markers or retention).
   */
  decideStart(firstOffset: number): StartDecision;
  /** The group was joined again: the fetch position must be checked again. */
  rejoined(): void;
  /**
   * The partition was assigned to this member after another held it: the stored position
   * and the oldest waiting record it knew are stale, and unknown until read again; its
   * progress is counted from now.
   */
  reassigned(): void;

  /** True when the record at `offset` is below `next`: applied already, skip it. */
  isApplied(offset: number): boolean;
  /**
   * Folds an event into the pending deltas and moves past its record; an event with an id the
   * client chose (`eventId`) is kept as a try instead, for the store to deduplicate, and a
   * redriven dead letter (`origin`) is kept for the store to count once per origin.
   */
  fold(
    offset: number,
    domain: string,
    event: CountedEvent,
    timestamp: number,
    eventId?: string,
    origin?: string,
    digest?: string,
  ): void;
  /** Moves past a record that counts nothing (ignored or dead-lettered). */
  pass(offset: number, timestamp: number): void;
  /**
   * The record at `offset` was dead-lettered: it goes to the redrive ledger with the flush
   * that passes it, so that a redriven copy may count once; one of a range being taken apart
   * goes with the isolation's flushes (takeIsolated).
   */
  markDead(offset: number, record: DeadLetteredRecord): void;
  /** A batch arrived: the partition's end (high watermark) is known before it is applied. */
  sawEnd(highWatermark: number): void;
  /** The batch ended at `lastOffset` (transaction markers after the last record included). */
  endOfBatch(lastOffset: number, highWatermark: number): void;

  /** The flush that would commit what is pending, or undefined when there is nothing to move. */
  pendingFlush(): PartitionFlush | undefined;
  /** The flush committed: its position is the stored one now, its deltas are gone. */
  committed(flush: PartitionFlush, at: number): void;
  /** Forgets everything not committed: the next batch reads the stored position again. */
  forget(): void;
  /** The stored position was read again after a failure or a conflict: seek there. */
  resyncedTo(stored: number | null): number;

  /**
   * A flush of [stored, next) was refused for its values: forget it, seek back, and take
   * its records apart (collect, then commit them in smaller flushes) up to `until`.
   */
  isolate(): number;
  /** True when the record at `offset` belongs to the range being taken apart. */
  isIsolating(offset: number): boolean;
  /** Keeps a record of the range being taken apart. */
  collect(record: IsolatedRecord): void;
  /**
   * The range's records once it has been read whole, its end, and the records of it that
   * were dead-lettered (in offset order); clears the isolation.
   */
  takeIsolated(): IsolatedRange | undefined;

  /**
   * Records below this offset were read by this member before (a failure, a conflict or a
   * refused flush reads them again): what `catchall_records_consumed_total` leaves out.
   */
  readonly readBelow: number;
  /** Records below `offset` were read. */
  readUpTo(offset: number): void;
  /** Records below this offset were dead-lettered already (not sent twice after a retry). */
  readonly deadLetteredBelow: number;
  /** Records below `until` were dead-lettered (acknowledged by Kafka). */
  deadLettered(until: number): void;

  /** Domains and tries pending: what the flush's size bound counts. */
  readonly pendingDomains: number;
  /** Kafka timestamp of the newest record in pending (0: none). */
  readonly newestTimestamp: number;
  /**
   * Records after the stored position up to the partition's end (high watermark): the last
   * stored position known, kept across failures (they leave it where it was); undefined
   * while the end or the position was never read.
   */
  lag(): number | undefined;
  /** The partition's end (high watermark) last seen, or undefined. */
  readonly end: number | undefined;
  /**
   * How long, in milliseconds at `now` (epoch ms), the oldest record not yet committed has
   * waited: 0 when nothing waits (no lag); otherwise `now` minus the Kafka timestamp of the
   * oldest record fetched and not committed, or, where none is fetched, minus progressAt.
   * A position never read counts every record up to the end as waiting. Undefined while
   * the end was never seen.
   */
  waitingMs(now: number): number | undefined;
  /** When the stored position last moved, or the partition was last caught up (epoch ms). */
  readonly progressAt: number;
  /** The stored position, or undefined when not read. */
  readonly position: number | null | undefined;
  /**
   * The stored position as last read or written, kept across failures (which forget
   * `position` until it is read again): the offset the partition waits on, for reports.
   * Undefined while it was never read; 0 where none was stored.
   */
  readonly lastKnownPosition: number | undefined;
}

export function createPartitionState(
  topic: string,
  partition: number,
  now: () => number = Date.now,
): PartitionState {
  let stored: number | null | undefined;
  /** The stored position as last read or written, kept by forget(): what lag is measured from. */
  let known: number | undefined;
  /** The first record fetched after the stored position and not committed (its timestamp). */
  let oldest: { offset: number; at: number } | undefined;
  let next: number | undefined;
  let verified = false;
  let seekTo: number | undefined;
  let pending = new Map<string, DomainDelta>();
  let tries: EventTry[] = [];
  let redriven: RedrivenEvent[] = [];
  let deadOrigins: DeadLetteredRecord[] = [];
  let newestTimestamp = 0;
  let highWatermark: number | undefined;
  let progressAt = now();
  let deadLetteredBelow = 0;
  let readBelow = 0;
  let isolation: IsolatedRange | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  function forget(): void {
    stored = undefined;
    next = undefined;
    verified = false;
    seekTo = undefined;
    pending = new Map();
    tries = [];
    redriven = [];
    deadOrigins = [];
    newestTimestamp = 0;
    // A range being taken apart is read again from the stored position, as any other.
    isolation = undefined;
  }

  function lag(): number | undefined {
    if (highWatermark === undefined || known === undefined) return undefined;
    return Math.max(0, highWatermark - known);
  }

  /** A partition caught up (nothing behind its stored position) is making progress too. */
  function noteCaughtUp(): void {
    if (lag() === 0) {
      progressAt = now();
      oldest = undefined;
    }
  }

  /** The stored position is `position` (read or written): records below it wait no more. */
  function storedAt(position: number | null): void {
    stored = position;
    known = position ?? 0;
    if (oldest !== undefined && oldest.offset < known) oldest = undefined;
  }

  function moveTo(offset: number, timestamp: number): void {
    next = offset + 1;
    if (timestamp > newestTimestamp) newestTimestamp = timestamp;
    if (oldest === undefined && timestamp > 0) oldest = { offset, at: timestamp };
  }

  const state: PartitionState = {
    topic,
    partition,
    run(task) {
      const result = queue.then(task, task);
      queue = result.catch(() => undefined);
      return result;
    },
    idle: () => queue.then(() => undefined),

    needsPosition: () => stored === undefined,
    positionLoaded(position) {
      storedAt(position);
      next = position ?? 0;
      noteCaughtUp();
    },
    isVerified: () => verified,
    decideStart(firstOffset) {
      const position = next ?? 0;
      if (firstOffset > position && seekTo === undefined) {
        seekTo = position;
        return { action: 'seek', to: position };
      }
      verified = true;
      seekTo = undefined;
      return { action: 'process', gap: firstOffset > position };
    },
    rejoined() {
      verified = false;
    },
    reassigned() {
      known = undefined;
      oldest = undefined;
      // Waiting counts from the assignment: this member was not the one to move it before.
      progressAt = now();
    },

    isApplied: (offset) => offset < (next ?? 0),
    fold(offset, domain, event, timestamp, eventId, origin, digest) {
      if (origin !== undefined) {
        const r: RedrivenEvent = { origin, offset, domain, event, at: timestamp };
        if (digest !== undefined) r.digest = digest;
        if (eventId !== undefined) r.eventId = eventId;
        redriven.push(r);
      } else if (eventId === undefined) {
        // In place: the pending deltas belong to this state until a flush takes them.
        const delta = pending.get(domain);
        if (delta === undefined) pending.set(domain, evolve(undefined, event));
        else foldInto(delta, event);
      } else tries.push({ domain, eventId, at: timestamp, event });
      moveTo(offset, timestamp);
    },
    pass: moveTo,
    markDead(offset, record) {
      if (isolation !== undefined && offset < isolation.until)
        isolation.dead.push({ offset, record });
      else deadOrigins.push(record);
    },
    sawEnd(watermark) {
      highWatermark = watermark;
      noteCaughtUp();
    },
    endOfBatch(lastOffset, watermark) {
      next = Math.max(next ?? 0, lastOffset + 1);
      highWatermark = watermark;
      noteCaughtUp();
    },

    pendingFlush() {
      if (next === undefined || stored === undefined || next === stored) return undefined;
      // A refused range being read again: its records are collected, not folded, and only
      // commitIsolated may store a position past them.
      if (isolation !== undefined) return undefined;
      return {
        topic,
        partition,
        expected: stored,
        next,
        deltas: pending,
        tries,
        redriven,
        deadLettered: deadOrigins,
        newestRecordAt: newestTimestamp > 0 ? newestTimestamp : undefined,
      };
    },
    committed(flush, at) {
      storedAt(flush.next);
      if (flush.deltas === pending) {
        pending = new Map();
        tries = [];
        redriven = [];
        deadOrigins = [];
        newestTimestamp = 0;
      }
      progressAt = at;
    },
    forget,
    resyncedTo(position) {
      forget();
      storedAt(position);
      next = position ?? 0;
      seekTo = next;
      noteCaughtUp();
      return next;
    },

    isolate() {
      const until = next ?? 0;
      const from = stored ?? 0;
      const position = stored ?? null;
      forget();
      stored = position;
      next = from;
      seekTo = from;
      isolation = { until, records: [], dead: [] };
      return from;
    },
    isIsolating: (offset) => isolation !== undefined && offset < isolation.until,
    collect(record) {
      isolation?.records.push(record);
    },
    takeIsolated() {
      if (isolation === undefined || (next ?? 0) < isolation.until) return undefined;
      const taken = isolation;
      isolation = undefined;
      return taken;
    },

    get readBelow() {
      return readBelow;
    },
    readUpTo(offset) {
      readBelow = Math.max(readBelow, offset);
    },

    get deadLetteredBelow() {
      return deadLetteredBelow;
    },
    deadLettered(until) {
      deadLetteredBelow = Math.max(deadLetteredBelow, until);
    },

    get pendingDomains() {
      return pending.size + tries.length + redriven.length;
    },
    get newestTimestamp() {
      return newestTimestamp;
    },
    lag,
    get end() {
      return highWatermark;
    },
    waitingMs(at) {
      if (highWatermark === undefined) return undefined;
      const behind = lag() ?? highWatermark;
      if (behind === 0) return 0;
      return Math.max(0, at - (oldest?.at ?? progressAt));
    },
    get progressAt() {
      return progressAt;
    },
    get position() {
      return stored;
    },
    get lastKnownPosition() {
      return known;
    },
  };
  return state;
}

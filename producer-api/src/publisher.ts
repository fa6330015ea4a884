import type { Message, Producer, Transaction } from 'kafkajs';
import {
  errors,
  mayPassOnNewProducer,
  type CatchallError,
  type DependencyCheck,
  type Logger,
  type PartitionOffsets,
  type ProducerHandle,
} from '@catchall/core';
import type { ProducerMetrics } from './metrics';
import { lastOffsets, recordOffsets } from './record-offsets';

/**
 * Bytes a record takes in a record batch besides its key, value and headers, at most:
 * attributes, timestamp and offset deltas, the key, value and header-count varints (Kafka's
 * DefaultRecord.MAX_RECORD_OVERHEAD is 21).
 */
const RECORD_OVERHEAD = 32;
/** A header's two length varints, at most, besides its name and value. */
const HEADER_OVERHEAD = 10;

/**
 * Bytes of a record's headers (the trace context when tracing is on): names and values are
 * ASCII here (W3C Trace Context allows nothing else), so their length is their size.
 */
function headersSize(headers: Message['headers']): number {
  if (headers === undefined) return 0;
  let bytes = 0;
  for (const [name, value] of Object.entries(headers)) {
    bytes += HEADER_OVERHEAD + name.length + (value === undefined ? 0 : String(value).length);
  }
  return bytes;
}
/** A record batch's own header (DefaultRecordBatch.RECORD_BATCH_OVERHEAD is 61), with room. */
const BATCH_OVERHEAD = 128;
/** How long a failed transaction's abort may take before the producer is replaced anyway. */
const ABORT_WAIT_MS = 2000;

/**
 * Splits messages, in order, into groups whose records fit in `maxBytes`: a produce request
 * holds one record batch per partition, so a group of at most `maxBytes` has no partition's
 * batch larger than that either (`max.message.bytes`, the broker's per-batch limit).
 * Keys are normalized domains, ASCII: their length is their size in bytes.
 */
export function splitToFit(messages: Message[], maxBytes: number): Message[][] {
  const budget = maxBytes - BATCH_OVERHEAD;
  const groups: Message[][] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < messages.length; i += 1) {
    const m = messages[i]!;
    const size =
      (m.key?.length ?? 0) + (m.value?.length ?? 0) + RECORD_OVERHEAD + headersSize(m.headers);
    if (i > start && bytes + size > budget) {
      groups.push(messages.slice(start, i));
      start = i;
      bytes = 0;
    }
    bytes += size;
  }
  if (start === 0) return messages.length === 0 ? [] : [messages];
  groups.push(messages.slice(start));
  return groups;
}

export interface PublisherOptions {
  /**
   * One transactional producer per transaction in flight: a producer has one transaction
   * open at a time, and its next one waits until the broker has completed the last (the
   * transaction markers written), so transactions overlap across producers.
   */
  producers: ProducerHandle[];
  topic: string;
  /** Records wait at most this long to share a produce request. */
  lingerMs: number;
  /** Records per transaction at most (a request's records are never split over two). */
  maxBatchRecords: number;
  /** Bytes of records per produce request at most: the topic's `max.message.bytes` or less. */
  maxRequestBytes: number;
  /** Records queued or in flight at most; beyond, publish refuses with 503. */
  maxQueuedRecords: number;
  /** A publish not acknowledged within this time is answered 503. */
  ackTimeoutMs: number;
  /**
   * The background Kafka check (startKafkaCheck): while its last probe failed and the last
   * produce request failed too, publish refuses new requests at once (see createPublisher).
   */
  kafkaCheck: Pick<DependencyCheck, 'failing'>;
  metrics: ProducerMetrics;
  logger: Logger;
}

export interface Publisher {
  /**
   * Resolves once Kafka committed every message (acks=all, in one transaction). Rejects
   * with a catalogue error: 503 CATCHALL_UNAVAILABLE at once, nothing queued, while Kafka is
   * known unreachable (the background check fails and so did the last produce request), 503
   * CATCHALL_OVERLOADED when the queue is full, 503 CATCHALL_UNAVAILABLE when a retriable
   * failure happened before the commit was sent (nothing of it is visible to read_committed
   * readers), 503 CATCHALL_COMMIT_UNKNOWN or CATCHALL_TIMEOUT when it may have been
   * committed, 500 CATCHALL_INTERNAL when the failure is not retriable (see toHttpError).
   * With `offsets`, resolves with the highest offset per partition of `messages` (what a
   * consistency token names; undefined in the unexpected case that Kafka's answer did not
   * tell one, which is logged); without, with undefined, and nothing is spent on them.
   */
  publish(messages: Message[], offsets?: boolean): Promise<PartitionOffsets | undefined>;
  /** Sends what is queued and waits for every acknowledgement. */
  drain(): Promise<void>;
  /**
   * True when the last produce request failed (Kafka unreachable or refusing), or a request
   * was not acknowledged within ackTimeoutMs, since the last committed transaction, and that
   * failure is less than twice ackTimeoutMs old. Under traffic each failing request renews
   * it; without traffic it lapses, and the background Kafka check alone decides readiness
   * (else a failure with no request after it would hold readiness down for good, and a
   * service taken out of rotation for it would never get the request that clears it).
   */
  failing(): boolean;
}

interface Pending {
  messages: Message[];
  /** The request wants its records' offsets (a consistency token). */
  offsets: boolean;
  enqueuedAt: bigint;
  resolve: (offsets: PartitionOffsets | undefined) => void;
  reject: (err: CatchallError) => void;
}

/**
 * What a client is told of a failure it may retry: the kind of failure (a Kafka protocol
 * error name, or kafkajs's error class), never its message, which may name brokers, keys
 * or records.
 */
function reason(err: unknown): string {
  const type = (err as { type?: unknown } | null)?.type;
  if (typeof type === 'string') return type;
  return err instanceof Error ? err.name : 'unknown failure';
}

/**
 * The answer to every request of a failed transaction:
 * - when it may pass on the next try (mayPassOnNewProducer: Kafka unreachable, a leader
 *   moving, kafkajs's retries run out on such a failure, a fenced producer): 503 with
 *   Retry-After, `CATCHALL_UNAVAILABLE` when the commit was not sent (nothing is visible to
 *   read_committed readers), `CATCHALL_COMMIT_UNKNOWN` when it was;
 * - anything else (a programmer error, records the broker refuses for good): 500
 *   `CATCHALL_INTERNAL`. Its message does not describe the failure; the failure is its
 *   `cause`, logged with the request by the HTTP shell.
 */
export function toHttpError(err: unknown, commitSent: boolean): CatchallError {
  if (!mayPassOnNewProducer(err)) return Object.assign(errors.internal(), { cause: err });
  return commitSent
    ? errors.commitUnknown(reason(err))
    : errors.unavailable(`Kafka (${reason(err)})`);
}

/**
 * Micro-batching: concurrent requests share Kafka transactions. Records gather while every
 * producer has a transaction in flight, or for at most `lingerMs` when one is idle, and go
 * out together, at most `maxBatchRecords` a transaction, in produce requests of at most
 * `maxRequestBytes`;
 * each caller is answered when the transaction holding its records is committed. A
 * request's records are all in one transaction, so they are stored all together or not at
 * all, whatever their partitions and however many produce requests they take (a partition
 * that refuses its records, a broker lost between two requests: the transaction aborts).
 * Several transactions at a time, one per producer: events are counted, not ordered, so
 * two transactions may commit in either order. While Kafka is known unreachable (both the
 * background check and the last produce request failed) a new request is refused at once
 * rather than left to wait `ackTimeoutMs` for its 503; requests already queued or in flight
 * keep waiting for their own outcome.
 */
export function createPublisher(options: PublisherOptions): Publisher {
  const { metrics } = options;
  let queue: Pending[] = [];
  /** Records in `queue`, waiting for a produce request. */
  let waitingRecords = 0;
  /** Records accepted and not yet answered: waiting plus in flight. */
  let queuedRecords = 0;
  /** Producers without a transaction in flight. */
  const idle = [...options.producers];
  const inFlight = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  /** When the last produce request failed (epoch ms), or undefined since one committed. */
  let failedAt: number | undefined;

  function takeBatch(): Pending[] {
    let records = 0;
    let take = 0;
    while (
      take < queue.length &&
      (take === 0 || records + queue[take]!.messages.length <= options.maxBatchRecords)
    ) {
      records += queue[take]!.messages.length;
      take += 1;
    }
    const batch = queue.slice(0, take);
    queue = queue.slice(take);
    waitingRecords -= records;
    return batch;
  }

  /** Aborts a failed transaction, bounded in time: the producer is replaced after it anyway. */
  async function abort(transaction: Transaction): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ABORT_WAIT_MS);
    });
    try {
      await Promise.race([transaction.abort(), deadline]);
    } catch (err) {
      // The replacement producer's InitProducerId aborts it then (same transactional id).
      options.logger.warn(
        { err },
        'aborting a failed transaction failed; the next producer fences it',
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends `batch` in one transaction (see transact), then counts its records out of the queue. */
  async function send(handle: ProducerHandle, batch: Pending[]): Promise<void> {
    try {
      await transact(handle, batch);
    } finally {
      queuedRecords -= batch.reduce((n, p) => n + p.messages.length, 0);
      metrics.queueDepth.set(queuedRecords);
    }
  }

  /** One transaction holding the records of `batch`, each request answered by its outcome. */
  async function transact(handle: ProducerHandle, batch: Pending[]): Promise<void> {
    const messages = batch.length === 1 ? batch[0]!.messages : batch.flatMap((p) => p.messages);
    // Each record's offset, when a request of the batch asked for them.
    const offsets = batch.some((p) => p.offsets) ? new Array<number>(messages.length) : undefined;
    let producer: Producer | undefined;
    let committing = false;
    try {
      producer = await handle.get();
      const transaction = await producer.transaction();
      try {
        let sent = 0;
        for (const group of splitToFit(messages, options.maxRequestBytes)) {
          metrics.produceBatchSize.observe(group.length);
          const metadata = await transaction.send({
            topic: options.topic,
            acks: -1,
            messages: group,
          });
          if (offsets) recordOffsets(group, metadata, offsets, sent);
          sent += group.length;
        }
        committing = true;
        await transaction.commit();
      } catch (err) {
        if (!committing) await abort(transaction);
        throw err;
      }
      failedAt = undefined;
      const now = process.hrtime.bigint();
      let start = 0;
      for (const p of batch) {
        metrics.produceLatency.observe(Number(now - p.enqueuedAt) / 1e9);
        p.resolve(offsets && p.offsets ? requestOffsets(messages, offsets, start, p) : undefined);
        start += p.messages.length;
      }
    } catch (err) {
      failedAt = Date.now();
      if (producer) handle.replace(producer);
      // Records Kafka refuses for good (too large, say) fail the whole transaction, also for
      // the requests that shared it: nothing was committed, so each request is sent again
      // alone, and only the refused one is refused.
      if (!committing && batch.length > 1 && !mayPassOnNewProducer(err)) {
        for (const p of batch) await transact(handle, [p]);
        return;
      }
      // Before the commit request nothing is visible; once it is sent, it may have landed.
      const httpError = toHttpError(err, committing);
      for (const p of batch) p.reject(httpError);
    }
  }

  /** The offsets of one request's records (see lastOffsets), logged when Kafka did not tell. */
  function requestOffsets(
    messages: Message[],
    offsets: number[],
    start: number,
    p: Pending,
  ): PartitionOffsets | undefined {
    const last = lastOffsets(messages, offsets, start, p.messages.length);
    // The request is stored all the same: it is answered 202, without a token.
    if (!last)
      options.logger.error(
        'a committed record has no known offset: answered without a consistency token',
      );
    return last;
  }

  /** Starts a transaction on each idle producer while records wait. */
  function pump(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
    while (queue.length > 0 && idle.length > 0) {
      // The producer idle longest: a producer's next transaction is refused until the broker
      // has written the markers of its last, so the one just freed is taken last.
      const handle = idle.shift()!;
      const running: Promise<void> = send(handle, takeBatch()).finally(() => {
        inFlight.delete(running);
        idle.push(handle);
        // What gathered meanwhile goes out now, on the producer just freed.
        pump();
      });
      inFlight.add(running);
    }
  }

  function withTimeout<T>(promise: Promise<T>): Promise<T> {
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      t = setTimeout(() => {
        // A request Kafka did not acknowledge in time counts as a failed one for readiness
        // until a transaction is committed again (a broker frozen, not refusing).
        failedAt = Date.now();
        reject(errors.timeout(options.ackTimeoutMs));
      }, options.ackTimeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(t));
  }

  /**
   * Kafka known unreachable: the background check's last probe failed, and so did the last
   * produce request (no transaction committed since). Both, because the check alone may fail
   * while Kafka takes records (its own client and DEPENDENCY_CHECK_TIMEOUT_MS deadline, well
   * under ackTimeoutMs: a broker slow to answer Metadata, one of several brokers down while
   * the partitions' leaders answer); a committed transaction clears the produce failure, so a
   * service whose transactions commit is never refused. The failure does not lapse here as it
   * does for readiness (failing()): the check passing again ends the refusal, within an
   * interval of Kafka answering, and a lapse would let a new wave of requests wait the whole
   * ackTimeoutMs every twice ackTimeoutMs of an outage.
   */
  function knownUnreachable(): boolean {
    return failedAt !== undefined && options.kafkaCheck.failing();
  }

  return {
    publish(messages, offsets = false) {
      if (knownUnreachable()) return Promise.reject(errors.unavailable('Kafka'));
      if (queuedRecords + messages.length > options.maxQueuedRecords) {
        return Promise.reject(errors.overloaded());
      }
      const acked = new Promise<PartitionOffsets | undefined>((resolve, reject) => {
        queue.push({ messages, offsets, enqueuedAt: process.hrtime.bigint(), resolve, reject });
      });
      queuedRecords += messages.length;
      waitingRecords += messages.length;
      metrics.queueDepth.set(queuedRecords);
      // While every producer has a transaction in flight the queue fills and goes out when
      // one returns; an idle producer waits `lingerMs` for more, unless a batch is full.
      if (idle.length > 0) {
        if (waitingRecords >= options.maxBatchRecords) pump();
        else timer ??= setTimeout(pump, options.lingerMs);
      }
      return withTimeout(acked);
    },
    async drain() {
      pump();
      while (inFlight.size > 0) await Promise.all(inFlight);
    },
    failing: () => failedAt !== undefined && Date.now() - failedAt < 2 * options.ackTimeoutMs,
  };
}

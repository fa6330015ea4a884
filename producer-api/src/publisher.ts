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

/** Bytes a message takes in a record batch, at most. Keys are normalized domains, ASCII. */
function recordSize(m: Message): number {
  return (m.key?.length ?? 0) + (m.value?.length ?? 0) + RECORD_OVERHEAD + headersSize(m.headers);
}

/**
 * Splits messages, in order, into groups whose records fit in `maxBytes`: a produce request
 * holds one record batch per partition, so a group of at most `maxBytes` has no partition's
 * batch larger than that either (`max.message.bytes`, the broker's per-batch limit).
 */
export function splitToFit(messages: Message[], maxBytes: number): Message[][] {
  const budget = maxBytes - BATCH_OVERHEAD;
  const groups: Message[][] = [];
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < messages.length; i += 1) {
    const size = recordSize(messages[i]!);
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
   * transaction markers written), so transactions overlap across producers. Requests of
   * more than one record go out in transactions, and single records too when
   * `idempotentProducers` is empty.
   */
  producers: ProducerHandle[];
  /**
   * Idempotent producers without transactions, one produce request in flight each, for
   * requests of one record: a record is stored whole or not at all by itself, so it needs
   * no transaction, and a produce request is answered in one round trip where a transaction
   * takes four (AddPartitionsToTxn, Produce, EndTxn, and the markers the next transaction
   * waits for). Empty: single records go out in transactions too.
   */
  idempotentProducers: ProducerHandle[];
  topic: string;
  /**
   * Records of transactions wait at most this long to share one while a transactional
   * producer is idle. Single records on idempotent producers do not linger (see createPublisher).
   */
  lingerMs: number;
  /** Records per transaction or produce request at most (a request's records are never split over two transactions). */
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
   * Resolves once Kafka stored every message with acks=all: a request of several records in
   * one transaction, a single record in one transaction or by an idempotent producer's
   * produce request (see createPublisher). Rejects with a catalogue error: 503
   * CATCHALL_UNAVAILABLE at once, nothing queued, while Kafka is known unreachable (the
   * background check fails and so did the last produce request), 503 CATCHALL_OVERLOADED
   * when the queue is full, 503 CATCHALL_UNAVAILABLE when a retriable failure happened
   * before anything was sent that could be stored (a transaction's commit, a record's
   * produce request), 503 CATCHALL_COMMIT_UNKNOWN or CATCHALL_TIMEOUT when it may have been
   * stored, 500 CATCHALL_INTERNAL when the failure is not retriable (see toHttpError).
   * With `offsets`, resolves with the highest offset per partition of `messages` (what a
   * consistency token names; undefined in the unexpected case that Kafka's answer did not
   * tell one, which is logged); without, with undefined, and nothing is spent on them.
   */
  publish(messages: Message[], offsets?: boolean): Promise<PartitionOffsets | undefined>;
  /** Sends what is queued and waits for every acknowledgement. */
  drain(): Promise<void>;
  /**
   * True when the last produce request failed (Kafka unreachable or refusing), or a request
   * was not acknowledged within ackTimeoutMs, since the last stored one, and that
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
  /** When it was queued (performance.now() ms). */
  enqueuedAt: number;
  /**
   * When the request is answered 503 CATCHALL_TIMEOUT if it was not answered before
   * (performance.now() ms: a monotonic clock, which a step of the wall clock does not move).
   */
  deadline: number;
  /** Its place in the order requests came (see byDeadline). */
  slot: number;
  /** Answered (stored, failed or timed out): a later outcome changes nothing. */
  answered: boolean;
  resolve: (offsets: PartitionOffsets | undefined) => void;
  reject: (err: CatchallError) => void;
}

/**
 * Requests waiting for one kind of producer, and the producers of that kind with nothing in
 * flight: the transactional producers, or the idempotent ones that take single records.
 */
interface Lane {
  queue: Pending[];
  /** Records in `queue`, waiting for a produce request. */
  waitingRecords: number;
  /** Producers without a transaction or produce request in flight. */
  idle: ProducerHandle[];
  /** How long records wait for more while a producer is idle; 0: until the event loop's I/O is read. */
  lingerMs: number;
  /** Cancels the pump scheduled for the records waiting, if one is. */
  cancel: (() => void) | undefined;
  /** Sends a batch taken from `queue` on `handle`, answering each of its requests. */
  send(handle: ProducerHandle, batch: Pending[]): Promise<void>;
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
 * The answer to every request of a failed transaction or produce request:
 * - when it may pass on the next try (mayPassOnNewProducer: Kafka unreachable, a leader
 *   moving, kafkajs's retries run out on such a failure, a fenced producer): 503 with
 *   Retry-After, `CATCHALL_UNAVAILABLE` when nothing that could store the records was sent
 *   (no commit of the transaction, no produce request of the idempotent producer): nothing
 *   is visible to read_committed readers; `CATCHALL_COMMIT_UNKNOWN` when it was (`mayBeStored`);
 * - anything else (a programmer error, records the broker refuses for good): 500
 *   `CATCHALL_INTERNAL`. Its message does not describe the failure; the failure is its
 *   `cause`, logged with the request by the HTTP shell.
 */
export function toHttpError(err: unknown, mayBeStored: boolean): CatchallError {
  if (!mayPassOnNewProducer(err)) return Object.assign(errors.internal(), { cause: err });
  return mayBeStored
    ? errors.commitUnknown(reason(err))
    : errors.unavailable(`Kafka (${reason(err)})`);
}

/**
 * Micro-batching: concurrent requests share Kafka transactions and produce requests.
 * Records gather while every producer of their kind has something in flight, or when one is
 * idle for at most `lingerMs` (transactions) or until the event loop's pending I/O is read
 * (single records), and go out together, at most `maxBatchRecords` at a time, in
 * produce requests of at most `maxRequestBytes`; each caller is answered when Kafka has
 * stored its records.
 *
 * - A request of several records goes out in a transaction (KIP-98) with the requests it
 *   gathered with, on one of `producers`: its records are all in one transaction, so they
 *   are stored all together or not at all, whatever their partitions and however many
 *   produce requests they take (a partition that refuses its records, a broker lost between
 *   two requests: the transaction aborts).
 * - A request of one record goes out in a plain produce request (acks=all) on one of
 *   `idempotentProducers` when there are any and the record fits a produce request: the
 *   broker appends one record or none, so the request is stored whole or not at all without
 *   a transaction, and the broker discards a retried produce request it already appended
 *   (KIP-98's idempotent producer), in one round trip instead of a transaction's four. A
 *   produce request that failed may have been appended for some of its records: each of
 *   them is answered CATCHALL_COMMIT_UNKNOWN, never "nothing was accepted".
 *
 * Several transactions and produce requests at a time, one per producer: events are
 * counted, not ordered, so they may be stored in either order. A producer whose send failed
 * is replaced (ProducerHandle.replace). While Kafka is known unreachable (both the
 * background check and the last produce request failed) a new request is refused at once
 * rather than left to wait `ackTimeoutMs` for its 503; requests already queued or in flight
 * keep waiting for their own outcome.
 */
export function createPublisher(options: PublisherOptions): Publisher {
  const { metrics } = options;
  const transactional = lane(options.producers, options.lingerMs, (handle, batch) =>
    transact(handle, batch),
  );
  // No linger: a produce request takes one round trip, and records gather anyway while
  // every idempotent producer has one in flight.
  const idempotent = lane(options.idempotentProducers, 0, (handle, batch) =>
    produce(handle, batch),
  );
  /** Bytes a single record may take and still go out on an idempotent producer. */
  const singleRecordBudget = options.maxRequestBytes - BATCH_OVERHEAD;
  /** Records accepted and not yet answered: waiting plus in flight. */
  let queuedRecords = 0;
  metrics.readQueueDepth(() => queuedRecords);
  const inFlight = new Set<Promise<void>>();
  /** When the last produce request failed (epoch ms), or undefined since one was stored. */
  let failedAt: number | undefined;

  function lane(producers: ProducerHandle[], lingerMs: number, send: Lane['send']): Lane {
    return {
      queue: [],
      waitingRecords: 0,
      idle: [...producers],
      lingerMs,
      cancel: undefined,
      send,
    };
  }

  /**
   * Pumps `l` after its linger, unless a pump is scheduled already: with no linger, once the
   * requests whose bytes the event loop has read by now are queued (setImmediate runs after
   * the I/O callbacks of this turn), so that those arriving together share a produce request.
   */
  function schedule(l: Lane): void {
    if (l.cancel) return;
    if (l.lingerMs === 0) {
      const immediate = setImmediate(() => pump(l));
      l.cancel = () => clearImmediate(immediate);
    } else {
      const timer = setTimeout(() => pump(l), l.lingerMs);
      l.cancel = () => clearTimeout(timer);
    }
  }

  /** The lane of a request: the idempotent producers take a single record that fits. */
  function laneOf(messages: Message[]): Lane {
    return messages.length === 1 &&
      options.idempotentProducers.length > 0 &&
      recordSize(messages[0]!) <= singleRecordBudget
      ? idempotent
      : transactional;
  }

  function takeBatch(l: Lane): Pending[] {
    let records = 0;
    let take = 0;
    while (
      take < l.queue.length &&
      (take === 0 || records + l.queue[take]!.messages.length <= options.maxBatchRecords)
    ) {
      records += l.queue[take]!.messages.length;
      take += 1;
    }
    const batch = l.queue.slice(0, take);
    l.queue = l.queue.slice(take);
    l.waitingRecords -= records;
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

  /** Sends `batch` on its lane, then counts its records out of the queue. */
  async function send(l: Lane, handle: ProducerHandle, batch: Pending[]): Promise<void> {
    try {
      await l.send(handle, batch);
    } finally {
      queuedRecords -= batch.reduce((n, p) => n + p.messages.length, 0);
    }
  }

  /**
   * Answers the requests of `batch`, whose records (`messages`, in the batch's order) Kafka
   * stored, each with its offsets when it asked for them.
   */
  function stored(batch: Pending[], messages: Message[], offsets: number[] | undefined): void {
    failedAt = undefined;
    const now = performance.now();
    let start = 0;
    for (const p of batch) {
      metrics.produceLatency.observe((now - p.enqueuedAt) / 1000);
      p.resolve(offsets && p.offsets ? requestOffsets(messages, offsets, start, p) : undefined);
      start += p.messages.length;
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
      stored(batch, messages, offsets);
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

  /**
   * The single records of `batch` in produce requests of the idempotent producer, in groups
   * that fit a request, each group's requests answered by its outcome. A failed group may
   * have been appended for some partitions (the broker answers each partition on its own):
   * its requests are answered 503 CATCHALL_COMMIT_UNKNOWN, even when Kafka refused one of
   * its records for good (only a record alone in its request gets that refusal, 500); the
   * groups after it were not sent: 503 CATCHALL_UNAVAILABLE.
   */
  async function produce(handle: ProducerHandle, batch: Pending[]): Promise<void> {
    let producer: Producer | undefined;
    /** Requests answered, from the batch's start. */
    let done = 0;
    /** Requests, after `done`, whose produce request is in flight. */
    let sending = 0;
    try {
      producer = await handle.get();
      const records = batch.map((p) => p.messages[0]!);
      for (const group of splitToFit(records, options.maxRequestBytes)) {
        const requests = batch.slice(done, done + group.length);
        const offsets = requests.some((p) => p.offsets)
          ? new Array<number>(group.length)
          : undefined;
        metrics.produceBatchSize.observe(group.length);
        sending = group.length;
        const metadata = await producer.send({ topic: options.topic, acks: -1, messages: group });
        sending = 0;
        if (offsets) recordOffsets(group, metadata, offsets, 0);
        stored(requests, group, offsets);
        done += group.length;
      }
    } catch (err) {
      failedAt = Date.now();
      if (producer) handle.replace(producer);
      // The records of the produce request that failed may be stored: the broker answers each
      // partition on its own, so a record refused for good (too large, say) fails the others
      // of the request too, some of them appended. Sending them again would store those twice
      // (a new producer, no deduplication), so each is answered as may-be-stored and retried
      // by its client, alone, where only the refused one is refused (500). A record alone in
      // its request is refused by its own failure.
      const inDoubt =
        sending > 1 && !mayPassOnNewProducer(err)
          ? Object.assign(errors.commitUnknown(reason(err)), { cause: err })
          : toHttpError(err, true);
      // Records after it were never sent: nothing of them is stored. Before any send (no
      // producer), the failure is their own.
      const notSent =
        sending > 0 ? errors.unavailable(`Kafka (${reason(err)})`) : toHttpError(err, false);
      for (let i = done; i < batch.length; i += 1) {
        batch[i]!.reject(i < done + sending ? inDoubt : notSent);
      }
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
        'a stored record has no known offset: answered without a consistency token',
      );
    return last;
  }

  /** Starts a transaction or produce request on each idle producer of `l` while records wait. */
  function pump(l: Lane): void {
    l.cancel?.();
    l.cancel = undefined;
    while (l.queue.length > 0 && l.idle.length > 0) {
      // The producer idle longest: a producer's next transaction is refused until the broker
      // has written the markers of its last, so the one just freed is taken last.
      const handle = l.idle.shift()!;
      const running: Promise<void> = send(l, handle, takeBatch(l)).finally(() => {
        inFlight.delete(running);
        l.idle.push(handle);
        // What gathered meanwhile goes out now, on the producer just freed.
        pump(l);
      });
      inFlight.add(running);
    }
  }

  /**
   * The requests of both lanes waiting for an answer, in the order they came: every request
   * waits the same ackTimeoutMs, so their deadlines come in the same order, and one timer,
   * for the oldest request waiting, times them all out (a timer and a Promise.race per request
   * cost the ingest API a few percent of its CPU at 20,000 PUT/s). A request's slot is emptied
   * when it is answered, whatever its place: only the requests waiting stay referenced here
   * (holding answered ones until an older one is answered would keep them alive past
   * young-generation garbage collection, and unbounded by PRODUCE_QUEUE_MAX while a
   * transaction hangs). Slots are numbered from the first request ever (`Pending.slot`);
   * `byDeadline[i]` holds slot `firstSlot + i`, and `oldest` is the first slot not emptied.
   */
  let byDeadline: (Pending | undefined)[] = [];
  let firstSlot = 0;
  let oldest = 0;
  let deadlineTimer: NodeJS.Timeout | undefined;

  /** Empties the slot of an answered request, and moves `oldest` past the emptied slots. */
  function release(p: Pending): void {
    byDeadline[p.slot - firstSlot] = undefined;
    if (p.slot !== oldest) return;
    const end = firstSlot + byDeadline.length;
    while (oldest < end && byDeadline[oldest - firstSlot] === undefined) oldest += 1;
    if (oldest === end) {
      byDeadline = [];
      firstSlot = oldest;
    } else if (oldest - firstSlot > 4096 && (oldest - firstSlot) * 2 > byDeadline.length) {
      byDeadline = byDeadline.slice(oldest - firstSlot);
      firstSlot = oldest;
    }
  }

  /** Arms the timer for the oldest request waiting, if there is one and none is armed. */
  function armDeadline(): void {
    if (deadlineTimer) return;
    const first = byDeadline[oldest - firstSlot];
    if (first === undefined) return;
    deadlineTimer = setTimeout(expire, Math.max(0, first.deadline - performance.now()));
    // Only a request waiting, its connection open, needs the timer: it keeps the process alive.
    deadlineTimer.unref();
  }

  /** Answers 503 CATCHALL_TIMEOUT to every request past its deadline and not answered. */
  function expire(): void {
    deadlineTimer = undefined;
    const now = performance.now();
    for (
      let first = byDeadline[oldest - firstSlot];
      first !== undefined && first.deadline <= now;
      first = byDeadline[oldest - firstSlot]
    ) {
      // A request Kafka did not acknowledge in time counts as a failed one for readiness
      // until a record is stored again (a broker frozen, not refusing). Its records may
      // still be sent and stored: the answer says so. Answering it moves `oldest` on.
      failedAt = Date.now();
      first.reject(errors.timeout(options.ackTimeoutMs));
    }
    armDeadline();
  }

  /**
   * Kafka known unreachable: the background check's last probe failed, and so did the last
   * produce request (nothing stored since). Both, because the check alone may fail
   * while Kafka takes records (its own client and DEPENDENCY_CHECK_TIMEOUT_MS deadline, well
   * under ackTimeoutMs: a broker slow to answer Metadata, one of several brokers down while
   * the partitions' leaders answer); a stored record clears the produce failure, so a
   * service whose records are stored is never refused. The failure does not lapse here as it
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
      const l = laneOf(messages);
      const now = performance.now();
      const acked = new Promise<PartitionOffsets | undefined>((resolve, reject) => {
        const p: Pending = {
          messages,
          offsets,
          enqueuedAt: now,
          deadline: now + options.ackTimeoutMs,
          slot: firstSlot + byDeadline.length,
          answered: false,
          resolve(answer) {
            if (p.answered) return;
            p.answered = true;
            release(p);
            resolve(answer);
          },
          reject(err) {
            if (p.answered) return;
            p.answered = true;
            release(p);
            reject(err);
          },
        };
        l.queue.push(p);
        byDeadline.push(p);
      });
      armDeadline();
      queuedRecords += messages.length;
      l.waitingRecords += messages.length;
      // While every producer of the lane has something in flight the queue fills and goes
      // out when one returns; an idle producer waits for more (see schedule), unless a batch
      // is full.
      if (l.idle.length > 0) {
        if (l.waitingRecords >= options.maxBatchRecords) pump(l);
        else schedule(l);
      }
      return acked;
    },
    async drain() {
      pump(transactional);
      pump(idempotent);
      while (inFlight.size > 0) await Promise.all(inFlight);
    },
    failing: () => failedAt !== undefined && Date.now() - failedAt < 2 * options.ackTimeoutMs,
  };
}

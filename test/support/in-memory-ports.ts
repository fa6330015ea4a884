import type {
  KafkaMessage,
  Message,
  Producer,
  ProducerRecord,
  RecordMetadata,
  Transaction,
} from 'kafkajs';
import {
  PostgresFailure,
  createMetricsRegistry,
  decideTries,
  evolve,
  mergeDeltas,
  type CountedEvent,
  type DomainDelta,
  type ProducerHandle,
  type Tracing,
} from '@catchall/core';
import type {
  DeadLetter,
  DeadLetters,
  FetchedBatch,
  FlushOutcome,
  PartitionFlush,
  ProjectionStore,
  TopicSource,
} from '@catchall/consumer';
import { ClusterMismatch, createConsumerMetrics, createPartitionWork } from '@catchall/consumer';
import { DecodeError, type DecodedDomainEvent, type EventDecoder } from '@catchall/schemas';
import { testLogger } from './logger';

/**
 * In-memory implementations of the projector's own ports (store, dead letters, decoder) and of
 * the ingest publisher's (a transactional producer), in
 * the manner of emmett's in-memory event store: the same contracts as the Postgres, Kafka
 * and registry implementations, for fast unit tests of the logic between them.
 */
export interface InMemoryStore extends ProjectionStore {
  rows: Map<string, DomainDelta>;
  /** Stored positions by partition. */
  stored: Map<number, number>;
  flushes: PartitionFlush[];
  /** Domains whose rows the store refuses, as a CHECK constraint would (SQLSTATE 23514). */
  refused: Set<string>;
  /** The next calls of flush throw these (a connection lost, say). */
  failures: Error[];
  /** Timestamps of the counted tries, by `domain/eventId`. */
  eventIds: Map<string, number[]>;
  /** The redrive ledger: origins dead-lettered and not counted since, and those counted. */
  /** The redrive ledger: origins dead-lettered, and those counted, with their digests. */
  deadOrigins: Map<string, string | undefined>;
  redrivenOrigins: Map<string, string | undefined>;
}

/**
 * `stored` holds the positions of `topic`; those of any other topic are kept apart, as the
 * Postgres store keys them by version, topic and partition.
 */
export function createInMemoryStore(
  version = 1,
  topic = 'events',
  dedupeWindowMs = 3_600_000,
): InMemoryStore {
  const rows = new Map<string, DomainDelta>();
  const stored = new Map<number, number>();
  const otherTopics = new Map<string, Map<number, number>>();
  const positionsOf = (t: string) => {
    if (t === topic) return stored;
    const positions = otherTopics.get(t) ?? new Map<number, number>();
    otherTopics.set(t, positions);
    return positions;
  };
  /** The Kafka cluster of each topic's positions. */
  const sources = new Map<string, string>();
  const store: InMemoryStore = {
    version,
    rows,
    stored,
    flushes: [],
    refused: new Set(),
    failures: [],
    eventIds: new Map(),
    deadOrigins: new Map(),
    redrivenOrigins: new Map(),
    loadPosition: (t, partition) => Promise.resolve(positionsOf(t).get(partition) ?? null),
    flush(flush): Promise<FlushOutcome> {
      const failure = store.failures.shift();
      if (failure) return Promise.reject(failure);
      const current = positionsOf(flush.topic).get(flush.partition) ?? null;
      if (current !== flush.expected) return Promise.resolve('conflict');
      const origins = new Map(store.redrivenOrigins);
      const dead = new Map(store.deadOrigins);
      const matches = (known: string | undefined, copy: string | undefined) =>
        known === undefined || copy === undefined || known === copy;
      const rowOf = (origin: string) =>
        origins.has(origin)
          ? { digest: origins.get(origin) }
          : dead.has(origin)
            ? { digest: dead.get(origin) }
            : undefined;
      for (const d of flush.deadLettered ?? []) {
        // As markDeadLettered places it: under the origin it names when the ledger knows that
        // origin with its value; otherwise (one version: nothing else to ask) its own place.
        const named = d.copyOf === undefined ? undefined : rowOf(d.copyOf);
        const origin =
          named !== undefined && matches(named.digest, d.digest) ? d.copyOf! : d.coordinates;
        if (rowOf(origin) === undefined) dead.set(origin, d.digest);
      }
      const tries = [...(flush.tries ?? [])];
      const admitted: { domain: string; event: CountedEvent }[] = [];
      for (const r of flush.redriven ?? []) {
        const [t, p, o] = r.origin.split(':');
        const counts = (): void => {
          if (r.eventId === undefined) admitted.push(r);
          else tries.push({ domain: r.domain, eventId: r.eventId, at: r.at, event: r.event });
        };
        // As the redrive ledger decides (consumer/src/redrive-ledger.ts). Not a copy redrive
        // wrote (before it, in its partition): counted as any record, the ledger untouched.
        if (t !== flush.topic || Number(p) !== flush.partition || Number(o) >= r.offset) {
          counts();
          continue;
        }
        // Counted already (the same value): not counted again.
        if (origins.has(r.origin) && matches(origins.get(r.origin), r.digest)) continue;
        // Dead-lettered (the same value): counted, once.
        if (dead.has(r.origin) && matches(dead.get(r.origin), r.digest)) {
          dead.delete(r.origin);
          origins.set(r.origin, r.digest);
        }
        // Otherwise no copy of a dead letter (one version: nothing else to ask): a record.
        counts();
      }
      const seen = new Map([...store.eventIds].map(([k, times]) => [k, [...times]]));
      const verdicts = decideTries(tries, (t) => `${t.domain}/${t.eventId}`, seen, dedupeWindowMs);
      const deltas = new Map(flush.deltas);
      tries.forEach((t, i) => {
        if (verdicts[i]) deltas.set(t.domain, evolve(deltas.get(t.domain), t.event));
      });
      for (const r of admitted) deltas.set(r.domain, evolve(deltas.get(r.domain), r.event));
      for (const domain of deltas.keys()) {
        if (store.refused.has(domain)) {
          const refusal = Object.assign(new Error(`check constraint refused ${domain}`), {
            code: '23514',
          });
          return Promise.reject(new PostgresFailure('refused', '23514', refusal));
        }
      }
      store.eventIds = seen;
      store.redrivenOrigins = origins;
      store.deadOrigins = dead;
      for (const [domain, d] of deltas) rows.set(domain, mergeDeltas(rows.get(domain), d));
      positionsOf(flush.topic).set(flush.partition, flush.next);
      store.flushes.push(flush);
      return Promise.resolve('committed');
    },
    claimSource: (topic, clusterId) => {
      const recorded = sources.get(topic) ?? clusterId;
      sources.set(topic, recorded);
      if (recorded === clusterId) return Promise.resolve();
      return Promise.reject(
        new ClusterMismatch(`topic ${topic} is of cluster ${recorded}, not ${clusterId}`),
      );
    },
    initPositions: (t, offsets) => {
      const positions = positionsOf(t);
      for (const [p, o] of offsets) if (!positions.has(p)) positions.set(p, o);
      return Promise.resolve();
    },
    positions: (t) => Promise.resolve(new Map(positionsOf(t))),
    // Every try is kept: the Postgres store's expiry is proven against Postgres.
    expireEventIds: () => Promise.resolve(),
  };
  return store;
}

export interface InMemoryDeadLetters extends DeadLetters {
  letters: DeadLetter[];
  /** How many times send was called (a produce round trip each, at least). */
  sends: number;
}

export function createInMemoryDeadLetters(): InMemoryDeadLetters {
  const dlq: InMemoryDeadLetters = {
    letters: [],
    sends: 0,
    send(letters) {
      dlq.sends += 1;
      dlq.letters.push(...letters);
      return Promise.resolve();
    },
  };
  return dlq;
}

/**
 * A decoder of JSON values (the event itself) standing in for the registry-backed Avro
 * one; a value that is not JSON is "not in the wire format", as in the real decoder.
 */
export const jsonDecoder: EventDecoder = {
  decodeKnown(value) {
    try {
      return JSON.parse(value?.toString('utf8') ?? '') as DecodedDomainEvent;
    } catch {
      throw new DecodeError('not-wire-format', 'value is not JSON');
    }
  },
  decode(value) {
    return Promise.resolve(this.decodeKnown(value)!);
  },
};

/** A record as kafkajs delivers it, its value the JSON of `event` (or raw bytes). */
export function jsonRecord(
  offset: number,
  event: Partial<DecodedDomainEvent> | Buffer,
  timestamp = 1700000000000,
): KafkaMessage {
  const value = Buffer.isBuffer(event)
    ? event
    : Buffer.from(
        JSON.stringify({
          eventId: `e${offset}`,
          type: 'delivered',
          occurredAt: timestamp,
          source: null,
          ...event,
        }),
      );
  return {
    key: null,
    value,
    offset: String(offset),
    timestamp: String(timestamp),
    attributes: 0,
    headers: {},
  } as KafkaMessage;
}

/** A fetched batch of `messages`, ending at the last one, the partition's end at `highWatermark`. */
export function fetchedBatch(
  partition: number,
  messages: KafkaMessage[],
  highWatermark = Number(messages[messages.length - 1]?.offset ?? -1) + 1,
): FetchedBatch {
  return {
    partition,
    messages,
    highWatermark: String(highWatermark),
    lastOffset: () => messages[messages.length - 1]?.offset ?? String(highWatermark - 1),
  };
}

/** Where a failure of the in-memory producer is thrown: sending records or committing. */
export type ProducerFailurePoint = 'send' | 'commit';

/** A transaction the in-memory producer began: its produce requests and how it ended. */
export interface InMemoryTransaction {
  /** The records of each `send` (one produce request each), in order. */
  requests: Message[][];
  outcome: 'open' | 'committed' | 'aborted';
}

export interface InMemoryProducerHandle extends ProducerHandle {
  /** Records of committed transactions, in commit order. */
  committed: Message[];
  /** Every transaction begun, in order. */
  transactions: InMemoryTransaction[];
  /**
   * The records of each produce request sent without a transaction (an idempotent
   * producer's `send`), in order, whether it failed or not.
   */
  plainRequests: Message[][];
  /**
   * When set, every transaction from now on throws this at that point (and aborts); at
   * 'send', after `afterRequests` produce requests of the transaction succeeded (0 unless
   * given). A produce request without a transaction fails at 'send' (`afterRequests`
   * counts those sent since the failure was set), its records stored or not as
   * `appendedAnyway` says: a broker that appended them and whose answer was lost.
   */
  failure:
    | {
        at: ProducerFailurePoint;
        error: unknown;
        afterRequests?: number;
        /** At 'send': only a produce request whose records this accepts fails. */
        when?: (messages: Message[]) => boolean;
        appendedAnyway?: boolean;
      }
    | undefined;
  /**
   * When set, sends and commits wait for it before answering: a broker slow to acknowledge
   * (see `holdAnswers`).
   */
  answers: Promise<void> | undefined;
  /** Holds every answer from now on until the returned function is called. */
  holdAnswers(): () => void;
  /** Producers replaced after a failed transaction. */
  replaced: number;
  /**
   * The next offset of each of the topic's partitions (3), as a broker numbers records:
   * sends take offsets whether their transaction commits or not. A message's partition is
   * the sum of its key's char codes modulo 3, written into it as recordingPartitioner does.
   */
  logEnds: number[];
}

/**
 * A producer behind a ProducerHandle (the ingest publisher's port), holding committed
 * records in memory: a transaction's sends go into it and become `committed` on commit,
 * nothing on abort; a `send` without a transaction (an idempotent producer's produce
 * request) is `committed` when answered. Only the calls the publisher makes are implemented.
 */
export function createInMemoryProducerHandle(): InMemoryProducerHandle {
  function transaction(): Transaction {
    const begun: InMemoryTransaction = { requests: [], outcome: 'open' };
    handle.transactions.push(begun);
    let records: Message[] = [];
    const failAt = (point: ProducerFailurePoint): Promise<never> | undefined => {
      const failure = handle.failure;
      if (failure?.at !== point) return undefined;
      if (point === 'send' && begun.requests.length <= (failure.afterRequests ?? 0)) {
        return undefined;
      }
      if (point === 'send' && failure.when && !failure.when(begun.requests.at(-1) ?? [])) {
        return undefined;
      }
      return Promise.reject(failure.error);
    };
    const answered = <T>(then: () => Promise<T>): Promise<T> =>
      (handle.answers ?? Promise.resolve()).then(then);
    return {
      send(record: ProducerRecord) {
        records.push(...record.messages);
        begun.requests.push(record.messages);
        return answered(() => failAt('send') ?? Promise.resolve(append(record)));
      },
      commit() {
        return answered(() => {
          const failed = failAt('commit');
          if (failed) return failed;
          handle.committed.push(...records);
          begun.outcome = 'committed';
          return Promise.resolve();
        });
      },
      abort() {
        records = [];
        begun.outcome = 'aborted';
        return Promise.resolve();
      },
    } as Partial<Transaction> as Transaction;
  }
  /** Partitions and numbers the records of a produce request; its answer, per partition. */
  function append(record: ProducerRecord): RecordMetadata[] {
    const base = new Map<number, number>();
    for (const m of record.messages) {
      m.partition ??= [...String(m.key)].reduce((n, c) => n + c.charCodeAt(0), 0) % 3;
      if (!base.has(m.partition)) base.set(m.partition, handle.logEnds[m.partition]!);
      handle.logEnds[m.partition]! += 1;
    }
    return [...base].map(([partition, offset]) => ({
      topicName: record.topic,
      partition,
      errorCode: 0,
      baseOffset: String(offset),
    }));
  }
  /** Plain produce requests sent since `handle.failure` was last set to this one. */
  let plainSince: { failure: unknown; sent: number } = { failure: undefined, sent: 0 };
  function plainSend(record: ProducerRecord): Promise<RecordMetadata[]> {
    handle.plainRequests.push(record.messages);
    const failure = handle.failure;
    if (plainSince.failure !== failure) plainSince = { failure, sent: 0 };
    plainSince.sent += 1;
    const fails =
      failure?.at === 'send' &&
      plainSince.sent > (failure.afterRequests ?? 0) &&
      (failure.when?.(record.messages) ?? true);
    return (handle.answers ?? Promise.resolve()).then(() => {
      if (fails && !failure.appendedAnyway) return Promise.reject(failure.error);
      const metadata = append(record);
      handle.committed.push(...record.messages);
      return fails ? Promise.reject(failure.error) : metadata;
    });
  }
  const producer = {
    transaction: () => Promise.resolve(transaction()),
    send: plainSend,
  } as Partial<Producer>;
  const handle: InMemoryProducerHandle = {
    committed: [],
    transactions: [],
    plainRequests: [],
    failure: undefined,
    answers: undefined,
    holdAnswers() {
      let release!: () => void;
      handle.answers = new Promise((resolve) => {
        release = resolve;
      });
      return () => {
        handle.answers = undefined;
        release();
      };
    },
    replaced: 0,
    logEnds: [0, 0, 0],
    get: () => Promise.resolve(producer as Producer),
    replace() {
      handle.replaced += 1;
    },
    close: () => Promise.resolve(),
  };
  return handle;
}

/**
 * Partition work over an in-memory store and dead letters, decoding jsonRecord values (or
 * with `codec`, on the clock `now`), with the seeks it asks of its consumer, in order.
 */
export function inMemoryPartitionWork(
  store: InMemoryStore,
  deadLetters: InMemoryDeadLetters = createInMemoryDeadLetters(),
  options: { codec?: EventDecoder; now?: () => number; tracing?: Tracing } = {},
) {
  const metrics = createConsumerMetrics(createMetricsRegistry('test'));
  const seeks: number[] = [];
  const work = createPartitionWork({
    codec: options.codec ?? jsonDecoder,
    now: options.now,
    tracing: options.tracing,
    store: () => store,
    deadLetters,
    seek: (_partition, offset) => seeks.push(offset),
    commitHint: () => Promise.resolve(),
    metrics,
    log: testLogger(),
  });
  return { work, seeks, metrics, deadLetters };
}

/** Records of one event each for `domains`, at offsets from `from` on. */
export function eventRecords(from: number, domains: string[]): KafkaMessage[] {
  return domains.map((domain, i) => jsonRecord(from + i, { domain }));
}

/** A topic in memory, with the reads made of it. */
export interface InMemoryTopic extends TopicSource {
  /**
   * How many times the partition ends (`ends()`) and the records (`read()`) were read, and
   * how many records were handed to readers in all (`handed`).
   */
  reads: { ends: number; records: number; handed: number };
}

/**
 * A topic held in memory, as the Kafka TopicSource reads one: `partitions[p]` holds partition
 * p's records (their `offset` fields are their offsets, ascending), `[low, high)` from the
 * first and last of them (`[0, 0)` when empty). `read()` hands each record in a range in
 * offset order per partition, as readTopicRanges does, and no more of a partition once the
 * reader answered `false` for it.
 */
export function createInMemoryTopic(topic: string, partitions: KafkaMessage[][]): InMemoryTopic {
  const reads = { ends: 0, records: 0, handed: 0 };
  return {
    topic,
    reads,
    ends() {
      reads.ends += 1;
      return Promise.resolve(
        new Map(
          partitions.map((messages, p): [number, [number, number]] => {
            if (messages.length === 0) return [p, [0, 0]];
            const low = Number(messages[0]!.offset);
            return [p, [low, Number(messages[messages.length - 1]!.offset) + 1]];
          }),
        ),
      );
    },
    read(ranges, onRecord, onProgress) {
      reads.records += 1;
      let read = 0;
      for (const [p, [from, to]] of ranges) {
        for (const message of partitions[p] ?? []) {
          const offset = Number(message.offset);
          if (offset < from || offset >= to) continue;
          read += 1;
          reads.handed += 1;
          if (onRecord(p, message) === false) break;
        }
        onProgress?.(read);
      }
      return Promise.resolve();
    },
  };
}

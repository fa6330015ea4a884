import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { errorCatalogue } from '@catchall/core';

/**
 * Reading stopped: no record came for `stallMs` while some were still to read, or the
 * consumer crashed for good.
 */
export class TopicReadFailed extends Error {
  readonly code = errorCatalogue.notReady.code;
  readonly retriable = errorCatalogue.notReady.retriable;
}

/**
 * Each partition's `[low, high)`: its first offset kept and its end: the last stable offset
 * (read committed), or with `readUncommitted` the high watermark (ListOffsets isolation level,
 * KIP-98).
 */
export async function partitionEnds(
  kafka: Kafka,
  topic: string,
  readUncommitted = false,
): Promise<Map<number, [number, number]>> {
  const admin = kafka.admin({ readUncommitted });
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return new Map(offsets.map((o) => [o.partition, [Number(o.low), Number(o.high)]]));
  } finally {
    await admin.disconnect();
  }
}

/**
 * The topics of `topics` that the cluster does not have, from one Metadata request of every
 * topic (admin.listTopics). Asked first, because kafkajs's offset and metadata requests for a
 * topic that does not exist retry UNKNOWN_TOPIC_OR_PARTITION for seconds and then fail as if
 * the brokers were at fault.
 */
export async function missingTopics(kafka: Kafka, topics: readonly string[]): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    return topics.filter((topic) => !existing.has(topic));
  } finally {
    await admin.disconnect();
  }
}

/**
 * What a reader of records answers for each record handed: `false` when it wants no more
 * records of that partition (the read stops handing them and counts the partition done, so
 * that `list --limit 1` does not read the whole topic); anything else to go on.
 */
export type OnRecord = (partition: number, message: KafkaMessage) => boolean | void;

/**
 * Reads the records of `topic` in `ranges` (per partition, offsets `[from, to)`), handing
 * each to `onRecord` in offset order per partition (until it answers `false` for the
 * partition, see OnRecord), and resolves once every range was read to its end or given up. A consumer of a throwaway group that commits nothing, so the projector's group and
 * offsets are not touched. `onProgress(read)` after each batch. Rejects with TopicReadFailed
 * when nothing arrives for `stallMs` (default 30 s) while records are still to read, and with
 * what kafkajs throws (the broker unreachable).
 */
export async function readTopicRanges(options: {
  kafka: Kafka;
  topic: string;
  ranges: Map<number, [number, number]>;
  onRecord: OnRecord;
  onProgress?(read: number): void;
  stallMs?: number;
}): Promise<void> {
  const { topic, ranges } = options;
  if (ranges.size === 0) return;
  const stallMs = options.stallMs ?? 30_000;
  /** Per partition, the offset after the last one reached. */
  const reached = new Map<number, number>();
  /**
   * Per partition, the next offset to hand over: a fetch from before the seek may deliver
   * records that the seek delivers again.
   */
  const handed = new Map<number, number>();
  const done = () => [...ranges].every(([p, [, to]]) => (reached.get(p) ?? 0) >= to);
  let read = 0;
  const consumer = options.kafka.consumer({
    groupId: `catchall-dlq-reader-${randomUUID()}`,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 500,
  });
  let finish: (err?: unknown) => void = () => undefined;
  const finished = new Promise<void>((resolve, reject) => {
    finish = (err) => {
      if (err === undefined) resolve();
      else
        reject(
          err instanceof Error
            ? err
            : new TopicReadFailed(`reading the topic failed: the consumer crashed`, { cause: err }),
        );
    };
  });
  let lastProgress = Date.now();
  const watchdog = setInterval(() => {
    if (Date.now() - lastProgress > stallMs) {
      finish(
        new TopicReadFailed(
          `reading ${topic} stalled: nothing arrived for ${stallMs} ms with records still to read`,
        ),
      );
    }
  }, 1000);
  await consumer.connect();
  try {
    consumer.on(consumer.events.CRASH, (e) => {
      if (!e.payload.restart) finish(e.payload.error);
    });
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const range = ranges.get(batch.partition);
        if (!range) return;
        const [from, to] = range;
        let next = Number(batch.lastOffset()) + 1;
        for (const message of batch.messages) {
          const offset = Number(message.offset);
          if (offset >= (handed.get(batch.partition) ?? from) && offset < to) {
            const more = options.onRecord(batch.partition, message);
            handed.set(batch.partition, offset + 1);
            read += 1;
            if (more === false) {
              // The reader has what it needs of this partition: done with it.
              handed.set(batch.partition, to);
              next = to;
              consumer.pause([{ topic, partitions: [batch.partition] }]);
              break;
            }
          }
        }
        reached.set(batch.partition, Math.max(reached.get(batch.partition) ?? 0, next));
        lastProgress = Date.now();
        options.onProgress?.(read);
        if (done()) finish();
      },
    });
    for (const [partition, [from]] of ranges) {
      consumer.seek({ topic, partition, offset: String(from) });
    }
    await finished;
  } finally {
    clearInterval(watchdog);
    await consumer.disconnect();
  }
}

/**
 * One topic as a reader sees it: its partitions' `[low, high)` offsets now, and the records
 * in given ranges. The narrow part of Kafka the dead-letter tools read through, so that the
 * logic around it runs on an in-memory topic in unit tests (test/support/in-memory-ports.ts).
 */
export interface TopicSource {
  readonly topic: string;
  /** Each partition's `[low, high)` (partitionEnds, read committed). */
  ends(): Promise<Map<number, [number, number]>>;
  /**
   * The records in `ranges` (per partition, `[from, to)`), as readTopicRanges hands them: no
   * more of a partition once `onRecord` answered `false` for it.
   */
  read(
    ranges: Map<number, [number, number]>,
    onRecord: OnRecord,
    onProgress?: (read: number) => void,
  ): Promise<void>;
}

/** `topic` read from Kafka: partitionEnds and readTopicRanges, each call a new read. */
export function createTopicSource(kafka: Kafka, topic: string): TopicSource {
  return {
    topic,
    ends: () => partitionEnds(kafka, topic),
    read: (ranges, onRecord, onProgress) =>
      readTopicRanges({ kafka, topic, ranges, onRecord, onProgress }),
  };
}

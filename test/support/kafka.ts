import { Kafka, logLevel, type KafkaMessage, type Producer } from 'kafkajs';
import { deadLetterTopic } from '@catchall/core';
import { partitionEnds } from '@catchall/consumer';
import { testInfra, uniqueName } from './env';
import { waitFor } from './wait';

export function testKafka(brokers = testInfra().brokers): Kafka {
  return new Kafka({
    brokers: [brokers],
    clientId: 'catchall-test',
    logLevel: logLevel.NOTHING,
  });
}

/** A transactional producer of its own (a new transactional id) on the test broker. */
export function testTransactionalProducer(): Producer {
  return testKafka().producer({
    transactionalId: uniqueName('tx'),
    idempotent: true,
    maxInFlightRequests: 1,
  });
}

export interface TestTopic {
  name: string;
  dlq: string;
  delete(): Promise<void>;
}

/**
 * A topic (and its dead-letter topic) of its own for one test, with `partitions` partitions,
 * on `brokers` (the test infrastructure's when absent), and `config` as the events topic's
 * configuration entries (`{ 'max.message.bytes': '16384' }`, say).
 */
export async function createTestTopic(
  partitions = 3,
  brokers?: string,
  config: Record<string, string> = {},
): Promise<TestTopic> {
  const name = uniqueName('events');
  const admin = testKafka(brokers).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      // Waited for below: kafkajs's own wait gives up on a broker that has just started and
      // answers UNKNOWN_TOPIC_OR_PARTITION for a moment after the creation.
      waitForLeaders: false,
      topics: [
        {
          topic: name,
          numPartitions: partitions,
          configEntries: Object.entries(config).map(([key, value]) => ({ name: key, value })),
        },
        { topic: deadLetterTopic(name), numPartitions: 1 },
      ],
    });
    await waitFor(`leaders for ${name}`, async () => {
      const { topics } = await admin.fetchTopicMetadata({ topics: [name, deadLetterTopic(name)] });
      return topics.every(
        (t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0),
      );
    });
  } finally {
    await admin.disconnect();
  }
  return {
    name,
    dlq: deadLetterTopic(name),
    async delete() {
      const a = testKafka(brokers).admin();
      await a.connect();
      try {
        await a.deleteTopics({ topics: [name, deadLetterTopic(name)] });
      } finally {
        await a.disconnect();
      }
    },
  };
}

export interface ReadRecord {
  partition: number;
  offset: string;
  message: KafkaMessage;
}

/**
 * Every committed record of the topic up to its current end, read with a throwaway group
 * (with `readUncommitted`, every record appended, those of open and aborted transactions
 * too; each message then has kafkajs's `batchContext`, with the producer id).
 * Read committed: records of aborted transactions and the transactions' markers are not
 * delivered, so a partition is read up to its end when a batch's last offset (markers
 * included, which only the batch events see) reaches it. A transaction answered as
 * committed becomes visible once the broker has written its markers, a few milliseconds
 * later: the ends are read again after catching up, until they no longer move.
 */
export async function readAll(
  topic: string,
  timeoutMs = 20000,
  brokers?: string,
  options: { readUncommitted?: boolean } = {},
): Promise<ReadRecord[]> {
  const readUncommitted = options.readUncommitted ?? false;
  const kafka = testKafka(brokers);
  const deadline = Date.now() + timeoutMs;
  const records: ReadRecord[] = [];
  /** Per partition: the offset after the last one a batch reached. */
  const reached = new Map<number, number>();
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), readUncommitted });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      // A fetch that returned nothing at or after its offset (behind an open transaction,
      // say) reports the high watermark as its last offset (kafkajs's Batch.lastOffset):
      // it reached nothing.
      if (payload.firstOffset === null) return;
      const next = Number(payload.lastOffset) + 1;
      reached.set(payload.partition, Math.max(reached.get(payload.partition) ?? 0, next));
    });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        records.push({ partition, offset: message.offset, message });
      },
    });
    let previous = '';
    for (;;) {
      const ends = await partitionEnds(kafka, topic, readUncommitted);
      await waitFor(
        `reading ${topic} to its end`,
        () => [...ends].every(([p, [low, high]]) => high === low || (reached.get(p) ?? 0) >= high),
        { timeoutMs: Math.max(1, deadline - Date.now()) },
      );
      const key = JSON.stringify([...ends]);
      if (key === previous) break;
      previous = key;
    }
  } finally {
    await consumer.disconnect();
  }
  return records;
}

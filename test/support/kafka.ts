import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { deadLetterTopic } from '@catchall/core';
import { testInfra, uniqueName } from './env';

export function testKafka(brokers = testInfra().brokers): Kafka {
  return new Kafka({
    brokers: [brokers],
    clientId: 'catchall-test',
    logLevel: logLevel.NOTHING,
  });
}

export interface TestTopic {
  name: string;
  dlq: string;
  delete(): Promise<void>;
}

/** A topic (and its dead-letter topic) of its own for one test. */
export async function createTestTopic(partitions = 3, brokers?: string): Promise<TestTopic> {
  const name = uniqueName('events');
  const admin = testKafka(brokers).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: name, numPartitions: partitions },
        { topic: deadLetterTopic(name), numPartitions: 1 },
      ],
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

/** Every record of the topic up to its current end, read with a throwaway group. */
export async function readAll(
  topic: string,
  timeoutMs = 20000,
  brokers?: string,
): Promise<ReadRecord[]> {
  const kafka = testKafka(brokers);
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const remaining = new Map(
    ends.filter((e) => e.high !== e.low).map((e) => [e.partition, Number(e.high)]),
  );
  const records: ReadRecord[] = [];
  if (remaining.size === 0) return records;
  const consumer = kafka.consumer({ groupId: uniqueName('reader') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`reading ${topic} timed out`)), timeoutMs);
    // Read committed: records of aborted transactions and the transactions' markers are
    // not delivered, so a partition is done when a batch's last offset (markers included,
    // which only the batch events see) reaches its end.
    consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
      if (Number(payload.lastOffset) + 1 >= (remaining.get(payload.partition) ?? Infinity)) {
        remaining.delete(payload.partition);
      }
      if (remaining.size === 0) {
        clearTimeout(timer);
        resolve();
      }
    });
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        records.push({ partition, offset: message.offset, message });
      },
    });
  });
  try {
    await done;
  } finally {
    await consumer.disconnect();
  }
  return records;
}

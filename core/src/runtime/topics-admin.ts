import { ConfigResourceTypes, type Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { deadLetterTopic } from '../domain/topics';

/**
 * Creates the events topic and its dead-letter topic when missing. An existing topic is left
 * as it is (its partition count decides how far consumers scale); a mismatch is logged.
 */
export async function ensureTopics(options: {
  kafka: Kafka;
  topic: string;
  partitions: number;
  replicationFactor: number;
  logger: Logger;
}): Promise<void> {
  const admin = options.kafka.admin();
  await admin.connect();
  try {
    const wanted = [options.topic, deadLetterTopic(options.topic)];
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((t) => !existing.has(t));
    if (missing.length > 0) {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((topic) => ({
          topic,
          numPartitions: options.partitions,
          replicationFactor: options.replicationFactor,
          configEntries: [
            { name: 'min.insync.replicas', value: String(Math.min(2, options.replicationFactor)) },
            // A dead letter is the original record plus headers: room for the largest
            // record the events topic takes (1 MiB by default) and more.
            ...(topic === options.topic ? [] : [{ name: 'max.message.bytes', value: '16777216' }]),
          ],
        })),
      });
      options.logger.info({ topics: missing, partitions: options.partitions }, 'topics created');
    }
    const [metadata] = (await admin.fetchTopicMetadata({ topics: [options.topic] })).topics;
    const actual = metadata?.partitions.length ?? 0;
    if (actual !== options.partitions) {
      options.logger.warn(
        { topic: options.topic, partitions: actual, configured: options.partitions },
        'the events topic exists with another partition count; it is left as it is',
      );
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * The largest record batch the broker takes on a topic (`max.message.bytes`, the topic's or
 * the broker's default), in bytes; undefined when the topic does not exist yet.
 */
export async function topicMaxMessageBytes(
  kafka: Kafka,
  topic: string,
): Promise<number | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return undefined;
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        { type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['max.message.bytes'] },
      ],
    });
    const value = resources[0]?.configEntries.find((e) => e.configName === 'max.message.bytes');
    return value === undefined ? undefined : Number(value.configValue);
  } finally {
    await admin.disconnect();
  }
}

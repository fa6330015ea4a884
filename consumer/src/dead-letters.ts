import type { KafkaMessage } from 'kafkajs';
import type { ProducerHandle } from '@catchall/core';

export interface DeadLetterSource {
  topic: string;
  partition: number;
  message: KafkaMessage;
}

export interface DeadLetters {
  /** Appends the record to the dead-letter topic with why it was refused; resolves on ack. */
  send(source: DeadLetterSource, reason: string, detail: string): Promise<void>;
}

/**
 * Keeps the original key, value and headers, and adds the reason and the record's origin
 * so that an operator can inspect, fix and re-publish it.
 */
export function createDeadLetters(options: {
  producer: ProducerHandle;
  topic: string;
}): DeadLetters {
  return {
    async send({ topic, partition, message }, reason, detail) {
      const producer = await options.producer.get();
      await producer
        .send({
          topic: options.topic,
          acks: -1,
          messages: [
            {
              key: message.key,
              value: message.value,
              headers: {
                ...message.headers,
                'dlq-reason': reason,
                'dlq-detail': detail.slice(0, 1000),
                'dlq-original-topic': topic,
                'dlq-original-partition': String(partition),
                'dlq-original-offset': message.offset,
                'dlq-original-timestamp': message.timestamp,
              },
            },
          ],
        })
        .catch((err: unknown) => {
          // A failed send poisons the idempotent producer (see ProducerHandle.replace).
          options.producer.replace(producer);
          throw err;
        });
    },
  };
}

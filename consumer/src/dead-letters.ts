import type { Producer, KafkaMessage } from 'kafkajs';

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
export function createDeadLetters(options: { producer: Producer; topic: string }): DeadLetters {
  return {
    async send({ topic, partition, message }, reason, detail) {
      await options.producer.send({
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
      });
    },
  };
}

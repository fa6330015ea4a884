import {
  Kafka,
  Partitioners,
  logLevel,
  type KafkaConfig,
  type LogEntry,
  type Producer,
} from 'kafkajs';
import type { Logger } from 'pino';
import { registerCompressionCodecs } from './compression';
import { splitList } from './config';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** A kafkajs client whose own logs go through pino with stable keys. */
export function createKafka(options: {
  brokers: string;
  clientId: string;
  logger: Logger;
  retry?: KafkaConfig['retry'];
}): Kafka {
  registerCompressionCodecs();
  const log = options.logger.child({ component: 'kafkajs' });
  return new Kafka({
    brokers: splitList(options.brokers),
    clientId: options.clientId,
    retry: options.retry ?? { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        log[LEVELS[level] ?? 'info'](rest, message);
      },
  });
}

/**
 * The producer every service uses: idempotent with acks=all (set per send), so broker-side
 * retries cannot duplicate or reorder records, and unlimited retries as kafkajs requires
 * for idempotence; callers bound the wait themselves. The partitioner is the Java
 * client's murmur2, so direct Java producers put a domain on the same partition.
 */
export function createIdempotentProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 2000 },
  });
}

/**
 * A transactional producer (KIP-98): the records of one transaction become visible to
 * read_committed consumers (the projector's default) all together or not at all, across
 * partitions and produce requests. `transactionalId` must be unique per process; a new
 * producer with the same id fences the previous one and aborts its open transaction.
 * `transactionTimeoutMs` bounds how long an abandoned transaction (a crashed process)
 * holds back read_committed consumers of the partitions it wrote.
 */
export function createTransactionalProducer(
  kafka: Kafka,
  options: { transactionalId: string; transactionTimeoutMs: number },
): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    transactionalId: options.transactionalId,
    transactionTimeout: options.transactionTimeoutMs,
    createPartitioner: Partitioners.DefaultPartitioner,
    // A transaction's first produce request is refused (CONCURRENT_TRANSACTIONS) until the
    // broker has written the markers of the producer's previous one, some milliseconds:
    // kafkajs retries the whole send, so a short first wait (the Java client waits 20 ms).
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 5, maxRetryTime: 2000 },
  });
}

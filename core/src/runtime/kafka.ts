import { Kafka, logLevel, type KafkaConfig, type LogEntry } from 'kafkajs';
import type { Logger } from 'pino';
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

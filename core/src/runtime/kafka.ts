import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { ConnectionOptions } from 'node:tls';
import {
  Kafka,
  logLevel,
  type KafkaConfig,
  type LogEntry,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import type { Logger } from 'pino';
import { registerCompressionCodecs } from './compression';
import { recordingPartitioner } from './recording-partitioner';
import { ConfigError, splitList, type KafkaConnectionConfig } from './config';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * kafkajs's text for CONCURRENT_TRANSACTIONS (Kafka error code 51): the transaction
 * coordinator is still writing the markers of the producer's previous transaction. The
 * broker expects the client to retry, and the Java client does so quietly (20 ms later);
 * kafkajs logs every try of it as an error.
 */
export const CONCURRENT_TRANSACTIONS_MESSAGE =
  'The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing';

/**
 * The pino level of a kafkajs log entry: its own level, except a retry the broker asks for
 * (CONCURRENT_TRANSACTIONS, while a transaction starts right after the last one), which is
 * debug: it is expected and retried, and a send that keeps failing still ends in an error
 * the publisher reports.
 */
export function kafkajsLogLevel(
  level: number,
  entry: { message: string; error?: unknown },
): 'error' | 'warn' | 'info' | 'debug' {
  const routine =
    entry.error === CONCURRENT_TRANSACTIONS_MESSAGE ||
    entry.message.endsWith(CONCURRENT_TRANSACTIONS_MESSAGE);
  return routine ? 'debug' : (LEVELS[level] ?? 'info');
}

/** How the clients reach the brokers: TLS and SASL options of kafkajs, both optional. */
export interface KafkaSecurity {
  ssl?: ConnectionOptions;
  sasl?: SASLOptions;
}

const SASL_MECHANISMS = {
  PLAIN: 'plain',
  'SCRAM-SHA-256': 'scram-sha-256',
  'SCRAM-SHA-512': 'scram-sha-512',
} as const;

/**
 * The brokers and the kafkajs `ssl` and `sasl` options of a loaded configuration
 * (kafkaConnectionFields), the one place that turns the settings into client options:
 * `createKafka({ ...kafkaConnection(config), clientId, logger })`. Certificate files are read
 * here, once; the OAUTHBEARER token file at each authentication, so that a refreshed token
 * is used on the next connection. The brokers' certificates are always verified, with
 * their host name (kafkajs passes the broker's host as the TLS server name).
 */
export function kafkaConnection(
  config: KafkaConnectionConfig,
): { brokers: string } & KafkaSecurity {
  const protocol = config.KAFKA_SECURITY_PROTOCOL;
  const file = (path: string) => (path === '' ? undefined : readFileSync(path, 'utf8'));
  const ssl: ConnectionOptions | undefined = protocol.endsWith('SSL')
    ? {
        rejectUnauthorized: true,
        ...(config.KAFKA_SSL_CA_FILE === '' ? {} : { ca: file(config.KAFKA_SSL_CA_FILE) }),
        ...(config.KAFKA_SSL_CERT_FILE === ''
          ? {}
          : { cert: file(config.KAFKA_SSL_CERT_FILE), key: file(config.KAFKA_SSL_KEY_FILE) }),
        ...(config.KAFKA_SSL_KEY_PASSWORD === ''
          ? {}
          : { passphrase: config.KAFKA_SSL_KEY_PASSWORD }),
      }
    : undefined;
  return {
    brokers: config.KAFKA_BROKERS,
    ...(ssl ? { ssl } : {}),
    ...(protocol.startsWith('SASL_') ? { sasl: saslOptions(config) } : {}),
  };
}

function saslOptions(config: KafkaConnectionConfig): SASLOptions {
  const mechanism = config.KAFKA_SASL_MECHANISM;
  if (mechanism === 'OAUTHBEARER') {
    const tokenFile = config.KAFKA_SASL_OAUTHBEARER_TOKEN_FILE;
    return {
      mechanism: 'oauthbearer',
      oauthBearerProvider: async () => ({ value: (await readFile(tokenFile, 'utf8')).trim() }),
    };
  }
  if (mechanism === '') throw new ConfigError('a SASL protocol needs KAFKA_SASL_MECHANISM');
  return {
    mechanism: SASL_MECHANISMS[mechanism as keyof typeof SASL_MECHANISMS],
    username: config.KAFKA_SASL_USERNAME,
    password: config.KAFKA_SASL_PASSWORD,
  };
}

/**
 * A kafkajs client whose own logs go through pino with stable keys. `requestTimeoutMs` and
 * `connectionTimeoutMs` bound one request and one connection attempt (kafkajs's defaults,
 * 30,000 and 1,000 ms, when absent).
 */
export function createKafka(
  options: {
    brokers: string;
    clientId: string;
    logger: Logger;
    retry?: KafkaConfig['retry'];
    requestTimeoutMs?: number;
    connectionTimeoutMs?: number;
  } & KafkaSecurity,
): Kafka {
  registerCompressionCodecs();
  const log = options.logger.child({ component: 'kafkajs' });
  return new Kafka({
    brokers: splitList(options.brokers),
    clientId: options.clientId,
    ...(options.ssl ? { ssl: options.ssl } : {}),
    ...(options.sasl ? { sasl: options.sasl } : {}),
    retry: options.retry ?? { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
    ...(options.requestTimeoutMs === undefined ? {} : { requestTimeout: options.requestTimeoutMs }),
    ...(options.connectionTimeoutMs === undefined
      ? {}
      : { connectionTimeout: options.connectionTimeoutMs }),
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        log[kafkajsLogLevel(level, entry)](rest, message);
      },
  });
}

/**
 * The producer every service uses: idempotent with acks=all (set per send), so broker-side
 * retries cannot duplicate or reorder records, and unlimited retries as kafkajs requires
 * for idempotence; callers bound the wait themselves. The partitioner is the Java
 * client's murmur2, so direct Java producers put a domain on the same partition; it writes
 * the partition into each message (recordingPartitioner), so a sender knows each record's
 * offset.
 */
export function createIdempotentProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: recordingPartitioner,
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
    // The default partitioner, recording each message's partition: the ingest API's
    // consistency tokens name the offset of each record (see recordingPartitioner).
    createPartitioner: recordingPartitioner,
    // A transaction's first produce request is refused (CONCURRENT_TRANSACTIONS) until the
    // broker has written the markers of the producer's previous one, some milliseconds:
    // kafkajs retries the whole send, so a short first wait (the Java client waits 20 ms).
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 5, maxRetryTime: 2000 },
  });
}
